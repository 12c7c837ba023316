//! Fail-stop: a node whose Raft stops on a storage error says so, so its
//! binary exits and a supervisor restarts it, instead of lingering as a
//! zombie that answers `unavailable` for ever (issue 16, point 5).

use std::io::Cursor;
use std::time::Duration;

use ingressoja_test_support::{ClusterOptions, TestCluster};
use openraft::{LogId, Snapshot, SnapshotMeta};

use crate::{create_event, ELECTION};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_whose_raft_stops_on_a_storage_error_reports_it_and_the_others_sell_on() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    create_event(&client, 10, 4).await;
    let follower = *cluster
        .nodes
        .keys()
        .find(|id| **id != leader)
        .expect("a follower");
    let node = &cluster.nodes[&follower];

    // A damaged snapshot offered under the leader's own vote: the store
    // refuses it, which openraft 0.9 treats as a storage error and stops Raft.
    let leader_metrics = cluster.nodes[&leader].raft.metrics().borrow().clone();
    let applied = leader_metrics
        .last_applied
        .expect("the leader applied its entries");
    let meta = SnapshotMeta {
        last_log_id: Some(LogId::new(applied.leader_id, applied.index + 1_000)),
        last_membership: leader_metrics.membership_config.as_ref().clone(),
        snapshot_id: "damaged".into(),
    };
    let damaged = Snapshot {
        meta,
        snapshot: Box::new(Cursor::new(b"not a snapshot".to_vec())),
    };
    let _ = node
        .raft
        .install_full_snapshot(leader_metrics.vote, damaged)
        .await;

    let reason = tokio::time::timeout(Duration::from_secs(10), node.stopped())
        .await
        .expect("the node reports that its Raft stopped");
    assert!(
        reason.to_lowercase().contains("snapshot"),
        "the reason names what failed: {reason}"
    );
    // The other two still make a majority and sell.
    let sale = cluster.client(None);
    ingressoja_test_support::register(&sale, "ana", 1).await;
    let hold = sale
        .place_hold("rock", "pista", "ana", 1)
        .await
        .expect("the majority still takes holds");
    assert!(hold.hold.is_some());
    cluster.shutdown().await;
}
