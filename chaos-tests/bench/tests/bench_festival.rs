//! The festival run at a size CI can afford (`--scale festival` with a few
//! thousand fans instead of a million): the fans register through the
//! cluster, join and buy; a snapshot is forced on the leader and a follower
//! is killed and restarted mid-sale; the report carries every node's memory
//! and apply stalls, the snapshot's cost and the follower's catch-up — and
//! the sale still sells out without oversell. The full million-fan run is
//! the same command without the size options (see the README).

mod common;

use common::{port_free, run_bench, u, SmallSale};

#[test]
fn a_small_festival_survives_its_faults_and_reports_what_they_cost() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("festival.json");
    let sale = SmallSale {
        customers: 6_000,
        concurrency: 48,
        capacity: 1_500,
        seed: 14,
    };
    let (stdout, report) = run_bench(
        &sale,
        &[
            "--scale",
            "festival",
            "--grpc-port-base",
            "27401",
            "--metrics-port-base",
            "27501",
            "--burst-concurrency",
            "256",
            "--setup-concurrency",
            "256",
            "--status-poll-ms",
            "200",
        ],
        &json,
    );
    assert!(stdout.contains("sold out, no oversell"), "{stdout}");
    assert!(stdout.contains("festival: registration"), "{stdout}");
    assert_eq!(report["workload"]["scale"], "festival");
    // Given on the command line, so not the preset's million.
    assert_eq!(u(&report["workload"]["customers"]), 6_000);
    let s = &report["systems"][0];
    assert_eq!(u(&s["outcome"]["oversold"]), 0);
    assert_eq!(u(&s["outcome"]["sold"]), 3_000);

    let f = &s["festival"];
    assert_eq!(f["problems"].as_array().unwrap().len(), 0, "{f}");
    assert!(f["registrations_per_sec"].as_f64().unwrap() > 0.0, "{f}");
    let nodes = f["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    for n in nodes {
        let peak = u(&n["peak_rss_bytes"]);
        // A node is a few tens of MiB at least, and no sample exceeds the peak.
        assert!(peak > 10 << 20, "{n}");
        assert!(u(&n["rss_after_registration_bytes"]) <= peak, "{n}");
        assert!(u(&n["rss_after_sale_bytes"]) <= peak, "{n}");
        assert!(u(&n["data_dir_bytes"]) > 0, "{n}");
        assert!(n["longest_apply_stall_ms"].is_u64(), "{n}");
    }

    // The snapshot was built on the leader, covers the sale so far, has a size.
    let snap = &f["snapshot"];
    assert!(snap.is_object(), "no snapshot was forced: {f}");
    assert!(u(&snap["index"]) > 0, "{snap}");
    assert!(u(&snap["bytes"]) > 0, "{snap}");
    assert!(snap["at_sold_pct"].as_f64().unwrap() >= 25.0, "{snap}");

    // The follower came back from a SIGKILL and caught up with the leader.
    let restart = &f["restart"];
    assert!(restart.is_object(), "no follower was restarted: {f}");
    assert!(u(&restart["down_ms"]) >= 3_000, "{restart}");
    assert!(restart["killed_at_sold_pct"].as_f64().unwrap() >= 50.0);
    assert!(
        restart["caught_up_ms"].is_u64(),
        "never caught up: {restart}"
    );

    // Everything it started is gone.
    for port in [27401, 27402, 27403, 27501, 27502, 27503] {
        assert!(port_free(port), "port {port} still in use");
    }
}
