//! A voter that lost its disk must not vote (or acknowledge entries as a
//! voter) until it has rejoined as a learner: issue 16's first failure path.
//!
//! The scenario: the leader commits purchases with one follower while the
//! other follower is down. The first follower's disk is wiped and it
//! restarts with the same id; the lagging follower comes back; the leader
//! dies. Before the member checks, the lagging follower asked the wiped
//! node for its vote, got it (an empty log is never more up to date), won
//! without the purchases, and overwrote them everywhere. Now the wiped node
//! refuses, no leader is elected until the old leader is back, and nothing
//! acknowledged is lost; the runbook (remove, add back) then restores the
//! third voter.

use std::time::{Duration, Instant};

use ingressoja_test_support::{ClusterOptions, TestCluster};
use openraft::ServerState;

use crate::{assert_all_present, buy_concurrently, create_event, ELECTION};

/// Several election timeouts of the test cluster (600-1 200 ms).
const ELECTIONS: Duration = Duration::from_secs(5);

/// Asserts that none of `ids` becomes leader for `period`.
async fn no_leader_among(cluster: &TestCluster, ids: &[u64], period: Duration) {
    let until = Instant::now() + period;
    while Instant::now() < until {
        for id in ids {
            let m = cluster.nodes[id].raft.metrics().borrow().clone();
            assert!(
                m.state != ServerState::Leader,
                "node {id} became leader (term {}) with a wiped voter's vote: \
                 acknowledged entries are lost",
                m.current_term
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wiped_voter_cannot_elect_a_leader_that_lacks_acknowledged_sales() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    create_event(&client, 5_000, 500).await;
    let followers: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    let (wiped, lagging) = (followers[0], followers[1]);

    // Committed with the leader and `wiped` only.
    cluster.kill(lagging).await;
    let (sold, _) = buy_concurrently(&client, 1, 4, 5).await;
    assert!(!sold.is_empty());

    // The leader goes before `lagging` is back, so nothing can catch it up:
    // its only way to a majority is the wiped node's vote.
    cluster.kill(wiped).await;
    cluster.wipe(wiped);
    cluster.kill(leader).await;
    cluster.restart(lagging).await;
    cluster.restart(wiped).await;
    assert!(
        cluster.nodes[&wiped].raft.metrics().borrow().current_term == 0,
        "the wiped node starts with nothing"
    );

    // `lagging` lacks the sales; the only vote it could get is the wiped node's.
    no_leader_among(&cluster, &[wiped, lagging], ELECTIONS).await;

    // The old leader returns: it holds the sales, so it (not `lagging`) wins.
    cluster.restart(leader).await;
    let now = cluster.wait_for_leader(ELECTION).await;
    assert_ne!(now, wiped);
    assert_all_present(&client, &sold).await;

    // The wiped node still refuses to act as a voter (it would acknowledge
    // entries it never had before them): the runbook brings it back.
    let status = client
        .node_status(&cluster.addr(wiped))
        .await
        .expect("the wiped node answers status");
    assert!(status.blank, "{status:?}");
    let leader_status = client.leader_status().await.expect("a leader");
    assert!(!leader_status.cluster_id.is_empty());
    client
        .remove_node(wiped, true)
        .await
        .expect("the wiped node leaves the voters");
    client
        .add_node(wiped, &cluster.addr(wiped), ELECTION, |_| {})
        .await
        .expect("the wiped node rejoins as a learner, then a voter");
    let status = client
        .node_status(&cluster.addr(wiped))
        .await
        .expect("status");
    assert!(!status.blank);
    assert_eq!(status.cluster_id, leader_status.cluster_id);
    cluster.assert_same_state().await;
    assert_all_present(&client, &sold).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wiped_bootstrap_node_joins_the_cluster_instead_of_forming_its_own() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    create_event(&client, 5_000, 500).await;
    let (sold, _) = buy_concurrently(&client, 1, 2, 3).await;

    // Node 1 bootstraps on a missing directory (see TestCluster::restart):
    // its peers already form a cluster, so it forms none of its own.
    cluster.kill(1).await;
    cluster.wipe(1);
    cluster.restart(1).await;
    let others = cluster.wait_for_leader(ELECTION).await;
    assert_ne!(others, 1);
    no_leader_among(&cluster, &[1], ELECTIONS).await;
    let status = client
        .node_status(&cluster.addr(1))
        .await
        .expect("node 1 answers status");
    assert!(
        status.blank && status.cluster_id.is_empty(),
        "node 1 formed or joined something: {status:?}"
    );
    // The sale goes on meanwhile, on the real cluster.
    let (more, _) = buy_concurrently(&client, 2, 2, 3).await;

    // The runbook, from an operator's fresh client: it asks node 1 (blank,
    // first in its list) first, which must point it on, not refuse the
    // change as invalid against its own empty membership.
    let operator = cluster.client(Some("operator"));
    operator
        .remove_node(1, true)
        .await
        .expect("node 1 leaves the voters");
    operator
        .add_node(1, &cluster.addr(1), ELECTION, |_| {})
        .await
        .expect("node 1 rejoins as a learner, then a voter");
    cluster.assert_same_state().await;
    let mut all = sold;
    all.extend(more);
    assert_all_present(&client, &all).await;
    cluster.shutdown().await;
}
