//! A short run of `ingressoja-bench` against a local 3-node cluster it
//! starts itself (seconds, small numbers): the sale must end sold out with
//! no oversell, the JSON report must have every field, the plot must draw;
//! and the same through two gateways' HTTP API (the HTTP target).

mod common;

use common::{port_free, run_bench, u, SmallSale};
use serde_json::Value;

/// Every field of the report, by path (`systems.0` stands for each system).
const TOP: [&str; 7] = [
    "tool",
    "report_version",
    "started_at_unix_ms",
    "machine",
    "workload",
    "systems",
    "comparison",
];
const MACHINE: [&str; 3] = ["cpus", "cpu_model", "kernel"];
const WORKLOAD: [&str; 14] = [
    "customers",
    "concurrency",
    "burst_concurrency",
    "categories",
    "capacity_per_category",
    "think_ms",
    "decline_pct",
    "release_pct",
    "abandon_pct",
    "hold_ttl_secs",
    "duration_secs",
    "total_ops",
    "seed",
    "command",
];
const SYSTEM: [&str; 13] = [
    "system",
    "durability",
    "burst_secs",
    "sale_secs",
    "stopped_by",
    "throughput",
    "ops",
    "errors",
    "retries",
    "abandoned_holds",
    "expired_by_bench",
    "outcome",
    "timeline",
];
const THROUGHPUT: [&str; 5] = [
    "holds_purchases_per_sec",
    "peak_holds_purchases_per_sec",
    "holds_per_sec",
    "purchases_per_sec",
    "queue_joins_per_sec",
];
const OPS: [&str; 5] = ["join", "queue_status", "hold", "purchase", "release"];
const LATENCY: [&str; 9] = [
    "count", "ok", "failed", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
];
const OUTCOME: [&str; 8] = [
    "capacity",
    "sold",
    "held",
    "acknowledged_sold",
    "oversold",
    "sold_out",
    "consistent",
    "categories",
];
const CATEGORY: [&str; 4] = ["category", "capacity", "sold", "held"];
const POINT: [&str; 4] = [
    "t_secs",
    "holds_purchases_per_sec",
    "joins_per_sec",
    "p99_ms",
];

fn has_all(value: &Value, fields: &[&str], at: &str) {
    for f in fields {
        assert!(value.get(f).is_some(), "report lacks {at}.{f}: {value}");
    }
}

#[test]
fn a_small_sale_sells_out_without_oversell_and_reports_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let svg = dir.path().join("plot.svg");
    let sale = SmallSale {
        customers: 150,
        concurrency: 12,
        capacity: 40,
        seed: 7,
    };
    let (stdout, report) = run_bench(
        &sale,
        &[
            "--grpc-port-base",
            "27101",
            "--burst-concurrency",
            "30",
            "--plot-out",
            svg.to_str().unwrap(),
        ],
        &json,
    );
    assert!(stdout.contains("sold out, no oversell"), "{stdout}");

    has_all(&report, &TOP, "");
    has_all(&report["machine"], &MACHINE, "machine");
    has_all(&report["workload"], &WORKLOAD, "workload");
    assert_eq!(report["tool"], "ingressoja-bench");
    assert_eq!(u(&report["workload"]["concurrency"]), 12);
    assert_eq!(u(&report["workload"]["burst_concurrency"]), 30);
    let systems = report["systems"].as_array().unwrap();
    assert_eq!(systems.len(), 1);
    assert_eq!(report["comparison"].as_array().unwrap().len(), 0);
    let s = &systems[0];
    has_all(s, &SYSTEM, "systems.0");
    has_all(&s["throughput"], &THROUGHPUT, "throughput");
    has_all(&s["outcome"], &OUTCOME, "outcome");
    for op in OPS {
        has_all(&s["ops"][op], &LATENCY, &format!("ops.{op}"));
    }
    for c in s["outcome"]["categories"].as_array().unwrap() {
        has_all(c, &CATEGORY, "outcome.categories");
    }
    let timeline = s["timeline"].as_array().unwrap();
    assert!(!timeline.is_empty());
    for p in timeline {
        has_all(p, &POINT, "timeline");
    }

    // The sale: every ticket sold, none twice, as the cluster itself says.
    let o = &s["outcome"];
    assert_eq!(s["system"], "ingressoja");
    assert_eq!(s["stopped_by"], "sold_out");
    assert_eq!(u(&o["capacity"]), 80);
    assert_eq!(u(&o["sold"]), 80, "{o}");
    assert_eq!(u(&o["held"]), 0, "{o}");
    assert_eq!(u(&o["oversold"]), 0);
    assert_eq!(u(&o["acknowledged_sold"]), 80);
    assert_eq!(o["sold_out"], true);
    assert_eq!(o["consistent"], true);
    for c in o["categories"].as_array().unwrap() {
        assert_eq!(u(&c["sold"]), 40, "{c}");
    }
    // Every customer joined in the burst; holds and purchases were made and measured.
    assert_eq!(u(&s["ops"]["join"]["ok"]), 150);
    assert!(u(&s["ops"]["hold"]["ok"]) >= 20);
    assert!(u(&s["ops"]["purchase"]["ok"]) >= 20);
    assert!(s["ops"]["hold"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(s["throughput"]["holds_purchases_per_sec"].as_f64().unwrap() > 0.0);
    assert!(s["throughput"]["queue_joins_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(u(&s["retries"]), 0);

    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("polyline") && plot.contains("ingressoja"));
    assert_ports_free(&[27101, 27102, 27103]);
}

#[test]
fn a_small_sale_through_the_gateways_sells_out_without_oversell() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let sale = SmallSale {
        customers: 120,
        concurrency: 10,
        capacity: 30,
        seed: 9,
    };
    let (stdout, report) = run_bench(
        &sale,
        &[
            "--target",
            "http",
            "--grpc-port-base",
            "27201",
            "--gateway-port-base",
            "28181",
        ],
        &json,
    );
    assert!(stdout.contains("ingressoja-http"), "{stdout}");
    let s = &report["systems"][0];
    has_all(s, &SYSTEM, "systems.0");
    assert_eq!(s["system"], "ingressoja-http");
    assert_eq!(s["stopped_by"], "sold_out");
    let o = &s["outcome"];
    assert_eq!(u(&o["sold"]), 60, "{o}");
    assert_eq!(u(&o["acknowledged_sold"]), 60, "{o}");
    assert_eq!(u(&o["oversold"]), 0);
    assert_eq!(o["consistent"], true);
    // Every customer joined through a gateway; the requests were the API's,
    // not refusals of malformed or unauthenticated calls.
    assert_eq!(u(&s["ops"]["join"]["ok"]), 120, "{}", s["errors"]);
    assert!(u(&s["ops"]["hold"]["ok"]) >= 15);
    assert!(u(&s["ops"]["purchase"]["ok"]) >= 15);
    assert!(s["errors"].get("other_error").is_none(), "{}", s["errors"]);
    assert_ports_free(&[27201, 27202, 27203, 28181, 28182]);
}

/// The cluster was stopped: its ports can be bound again.
fn assert_ports_free(ports: &[u16]) {
    for port in ports {
        assert!(port_free(*port), "port {port} still in use after the run");
    }
}
