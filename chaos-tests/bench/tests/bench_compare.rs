//! Tiny runs of the comparison adapters — etcd (3 members, CAS on counters)
//! and PostgreSQL (conditional UPDATE, one server) — each started by the
//! benchmark, and the side-by-side table. They need Debian's `etcd-server`
//! and `postgresql`: without them a test says so and passes, unless
//! `INGRESSOJA_BENCH_REQUIRE_COMPARE=1` (set by scripts/bench-smoke.sh,
//! which installs them) makes a missing system a failure.

mod common;

use common::{port_free, run_bench, u, SmallSale};
use serde_json::Value;

fn installed(system: &str) -> bool {
    let present = match system {
        "etcd" => std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join("etcd").is_file()))
            .unwrap_or(false),
        _ => std::fs::read_dir("/usr/lib/postgresql")
            .map(|mut d| d.any(|e| e.is_ok_and(|e| e.path().join("bin/postgres").is_file())))
            .unwrap_or(false),
    };
    if !present {
        assert!(
            std::env::var("INGRESSOJA_BENCH_REQUIRE_COMPARE").as_deref() != Ok("1"),
            "{system} is not installed but INGRESSOJA_BENCH_REQUIRE_COMPARE=1"
        );
        eprintln!("skipped: {system} is not installed (apt-get install -y etcd-server postgresql)");
    }
    present
}

/// The comparison adapters' sale: 80 customers for 40 tickets.
const SALE: SmallSale = SmallSale {
    customers: 80,
    concurrency: 8,
    capacity: 20,
    seed: 11,
};

/// The sale sold out exactly, by the system's own counters, and every
/// abandoned hold was expired by the benchmark (nothing is left held).
fn assert_sold_out(s: &Value, system: &str) {
    assert_eq!(s["system"], system);
    let o = &s["outcome"];
    assert_eq!(s["stopped_by"], "sold_out", "{s}");
    assert_eq!(
        (u(&o["capacity"]), u(&o["sold"]), u(&o["held"])),
        (40, 40, 0),
        "{o}"
    );
    assert_eq!(u(&o["oversold"]), 0);
    assert_eq!(u(&o["acknowledged_sold"]), 40);
    assert_eq!(o["consistent"], true);
    assert_eq!(u(&s["ops"]["join"]["ok"]), 80);
    assert!(u(&s["ops"]["hold"]["ok"]) >= 10);
    assert!(u(&s["ops"]["purchase"]["ok"]) >= 10);
    // Every abandoned hold was expired (and any whose purchase or release
    // lost too many races), or its tickets would still be held.
    assert!(u(&s["expired_by_bench"]) >= u(&s["abandoned_holds"]), "{s}");
}

#[test]
fn etcd_adapter_sells_out_with_compare_and_swap() {
    if !installed("etcd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = run_bench(
        &SALE,
        &["--target", "etcd", "--etcd-port-base", "27379"],
        &dir.path().join("r.json"),
    );
    let s = &report["systems"][0];
    assert_sold_out(s, "etcd");
    assert!(s["retries"].is_u64());
    assert!(
        (27379..27385).all(port_free),
        "etcd still listening after the run"
    );
}

#[test]
fn postgres_adapter_sells_out_with_conditional_updates() {
    if !installed("postgres") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = run_bench(
        &SALE,
        &[
            "--target",
            "postgres",
            "--postgres-port",
            "27432",
            "--postgres-pool",
            "4",
        ],
        &dir.path().join("r.json"),
    );
    let s = &report["systems"][0];
    assert_sold_out(s, "postgres");
    assert_eq!(u(&s["retries"]), 0);
    assert!(port_free(27432), "PostgreSQL still listening after the run");
}

#[test]
fn compare_prints_the_side_by_side_table_with_ratios() {
    if !installed("etcd") || !installed("postgres") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (stdout, report) = run_bench(
        &SALE,
        &[
            "--compare",
            // grpc-plain: the same cluster without TLS, so the report says
            // what mutual TLS costs.
            "etcd,postgres,grpc-plain",
            "--grpc-port-base",
            "27111",
            "--etcd-port-base",
            "27389",
            "--postgres-port",
            "27442",
            "--postgres-pool",
            "4",
        ],
        &dir.path().join("r.json"),
    );
    let systems = report["systems"].as_array().unwrap();
    let names: Vec<&str> = systems
        .iter()
        .map(|s| s["system"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ingressoja", "etcd", "postgres", "ingressoja-plaintext"]
    );
    let comparison = report["comparison"].as_array().unwrap();
    assert_eq!(comparison.len(), 3);
    for (c, other) in comparison.iter().zip(&systems[1..]) {
        assert_eq!(c["system"], other["system"]);
        let ours = systems[0]["throughput"]["holds_purchases_per_sec"]
            .as_f64()
            .unwrap();
        let theirs = other["throughput"]["holds_purchases_per_sec"]
            .as_f64()
            .unwrap();
        let ratio = c["holds_purchases_per_sec_ratio"].as_f64().unwrap();
        assert!((ratio - ours / theirs).abs() < 1e-9 * ratio.max(1.0), "{c}");
        for key in [
            "peak_holds_purchases_per_sec_ratio",
            "holds_per_sec_ratio",
            "queue_joins_per_sec_ratio",
            "hold_p99_ratio",
            "purchase_p99_ratio",
        ] {
            assert!(c[key].as_f64().unwrap() > 0.0, "{key}: {c}");
        }
    }
    for s in systems {
        assert_eq!(u(&s["outcome"]["oversold"]), 0);
        assert_eq!(s["outcome"]["sold_out"], true, "{s}");
    }
    assert!(stdout.contains("side by side"), "{stdout}");
    for name in ["ingressoja", "etcd", "postgres", "ingressoja-plaintext"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "no row for {name}:\n{stdout}"
        );
    }
}
