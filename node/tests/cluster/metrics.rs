//! Every node serves Raft and sale metrics at `[listen] metrics`, read from
//! openraft and the applied state at scrape time.

use std::time::Duration;

use ingressoja_test_support::{register, ClusterOptions, TestCluster};

use crate::{create_event, ELECTION};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_export_raft_and_sale_metrics() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(Some("metrics"));
    create_event(&client, 10, 4).await;
    register(&client, "mia", 7_001).await;
    let hold = client
        .place_hold("rock", "pista", "mia", 2)
        .await
        .unwrap()
        .hold
        .unwrap();
    client.purchase(hold.hold_id, "mia").await.unwrap();
    // 2 bought + 3 more is over the limit of 4: one rejection, counted by reason.
    let refused = client.place_hold("rock", "pista", "mia", 3).await;
    assert!(refused.is_err(), "{refused:?}");
    cluster.wait_converged(Duration::from_secs(10)).await;

    let text = cluster.scrape_metrics(leader).await;
    for line in [
        "ingressoja_raft_is_leader 1",
        r#"ingressoja_sale_tickets{event="rock",category="pista",state="sold"} 2"#,
        r#"ingressoja_sale_tickets{event="rock",category="pista",state="available"} 8"#,
        r#"ingressoja_payments_total{outcome="approved"} 1"#,
        "ingressoja_raft_apply_lag 0",
        r#"ingressoja_rejections_total{reason="limit_exceeded"} 1"#,
        r#"ingressoja_rejections_total{reason="sold_out"} 0"#,
        "ingressoja_holds_expired_total 0",
        "ingressoja_raft_snapshots_total 0",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    for name in [
        "ingressoja_raft_term ",
        "ingressoja_raft_leader_changes_total ",
        "ingressoja_raft_last_log_index ",
        "ingressoja_raft_applied_index ",
        "ingressoja_raft_snapshot_index ",
        "ingressoja_raft_replication_lag{follower=",
        "ingressoja_raft_commit_duration_seconds_count ",
        "ingressoja_raft_snapshot_duration_seconds_count ",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    // The followers' replies carry their clocks (one machine here: all
    // within a second of the leader's), and the leader stamps entries with
    // its clock corrected by their median.
    for peer in cluster.nodes.keys().filter(|&&id| id != leader) {
        let prefix = format!(r#"ingressoja_clock_peer_offset_milliseconds{{peer="{peer}"}} "#);
        let offset: i64 = text
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("{prefix} missing:\n{text}"))
            .trim()
            .parse()
            .expect("an integer offset");
        assert!(
            offset.abs() < 1_000,
            "peer {peer}'s clock offset {offset} ms"
        );
    }
    assert!(
        text.contains("ingressoja_clock_offset_milliseconds "),
        "{text}"
    );
    let follower = *cluster.nodes.keys().find(|&&id| id != leader).unwrap();
    let text = cluster.scrape_metrics(follower).await;
    assert!(text.contains("ingressoja_raft_is_leader 0"), "{text}");
    assert!(
        text.contains(r#"ingressoja_sale_tickets{event="rock",category="pista",state="sold"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"ingressoja_rejections_total{reason="limit_exceeded"} 1"#),
        "every replica counts what it applies:\n{text}"
    );
    cluster.shutdown().await;
}
