//! Every metric name the dashboards and alert rules in `grafana/` use is one
//! that a running node or gateway actually exports.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::harness::{Buyer, Shop, ShopOptions};

/// Series names a scrape can contain: sample names, plus for families
/// without samples yet, the names their `# TYPE` line implies.
fn exported(scrape: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            match kind {
                "counter" => names.insert(format!("{name}_total")),
                "histogram" => {
                    for suffix in ["_bucket", "_count", "_sum"] {
                        names.insert(format!("{name}{suffix}"));
                    }
                    true
                }
                _ => names.insert(name.to_string()),
            };
        } else if !line.starts_with('#') {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    names
}

/// `ingressoja_*` names used in a text.
fn used(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("ingressoja_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboards_and_alerts_use_only_exported_metrics() {
    let shop = Shop::start(ShopOptions::default()).await;
    let leader = shop.cluster.wait_for_leader(Duration::from_secs(15)).await;
    let buyer = Buyer::new(shop.url());
    assert_eq!(buyer.get("/api/v1/events").await.status, 200);
    let mut exported_names = exported(&shop.cluster.scrape_metrics(leader).await);
    exported_names.extend(exported(&buyer.get("/metrics").await.text));

    let grafana = Path::new(env!("CARGO_MANIFEST_DIR")).join("../grafana");
    let mut files = vec![grafana.join("prometheus/alerts.yml")];
    for entry in std::fs::read_dir(grafana.join("dashboards")).unwrap() {
        files.push(entry.unwrap().path());
    }
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        if file.extension().is_some_and(|e| e == "json") {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display()));
        }
        let names = used(&text);
        assert!(!names.is_empty(), "{} uses no metric", file.display());
        for name in names {
            assert!(
                exported_names.contains(&name),
                "{} uses {name}, which no node or gateway exports; exported: {exported_names:?}",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} uses checked");
    shop.shutdown().await;
}

#[test]
fn the_checker_notices_an_unknown_name() {
    let scrape = "# TYPE ingressoja_a counter\n# TYPE ingressoja_b gauge\ningressoja_b 1\n";
    let names = exported(scrape);
    assert!(names.contains("ingressoja_a_total") && names.contains("ingressoja_b"));
    let dashboard = r#"{"expr": "rate(ingressoja_a_total[1m]) + ingressoja_typo"}"#;
    let missing: Vec<_> = used(dashboard)
        .into_iter()
        .filter(|n| !names.contains(n))
        .collect();
    assert_eq!(missing, ["ingressoja_typo"]);
}
