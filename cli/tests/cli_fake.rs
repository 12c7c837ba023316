//! The `ingressoja` binary against fake nodes: what it sends and prints for
//! the sale commands, event watching and the audit commands.

use std::process::Output;
use std::sync::{Arc, Mutex};

use ingressoja_cli::audit::chain::{record_hash, ZERO_HASH};
use ingressoja_client::password::check_password_hash;
use ingressoja_client::proto::admin::AuditRecord;
use ingressoja_test_support::fake_node::{domain_events, serve, Fake, StreamEnd};
use serde_json::Value;

async fn ingressoja(nodes: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_ingressoja"))
        .arg("--nodes")
        .arg(nodes)
        .arg("--timeout-secs")
        .arg("5")
        .args(args)
        .env_remove("INGRESSOJA_CLIENT_ID")
        // The fakes speak plaintext.
        .env("INGRESSOJA_INSECURE_DEV", "true")
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run ingressoja")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn chain(len: u64) -> Vec<AuditRecord> {
    let mut prev = ZERO_HASH;
    (0..len)
        .map(|seq| {
            let mut record = AuditRecord {
                seq,
                actor: "client".into(),
                action: "purchase".into(),
                outcome: "ok".into(),
                prev_hash: hex::encode(prev),
                ..AuditRecord::default()
            };
            prev = record_hash(&prev, &record);
            record.hash = hex::encode(prev);
            record
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn register_with_a_password_sends_only_an_argon2id_hash() {
    let node = Fake::leader(1);
    let running = serve(node.clone(), None).await;
    let output = ingressoja(
        &running.addr,
        &[
            "register",
            "--customer",
            "alice",
            "--email",
            "alice@example.com",
            "--cpf",
            "529.982.247-25",
            "--name",
            "Alice",
            "--password",
            "s3cret",
            "--totp-secret",
            "JBSWY3DPEHPK3PXP",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).starts_with("customer alice registered"));
    let sent = node.registered.lock().unwrap()[0].clone();
    assert!(!sent.password_hash.contains("s3cret"));
    check_password_hash(&sent.password_hash).unwrap();
    assert_eq!(sent.totp_secret, "JBSWY3DPEHPK3PXP");
    assert_eq!(sent.cpf, "529.982.247-25");
}

#[tokio::test(flavor = "multi_thread")]
async fn purchase_prints_the_charge_and_a_decline_exits_2() {
    let node = Fake::leader(1);
    let running = serve(node.clone(), None).await;
    let output = ingressoja(
        &running.addr,
        &["purchase", "--hold", "3", "--customer", "a"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).contains("charge ch_1"),
        "{}",
        stdout(&output)
    );

    let output = ingressoja(
        &running.addr,
        &[
            "purchase",
            "--hold",
            "3",
            "--customer",
            "a",
            "--payment-token",
            "decline",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("payment_declined"), "{err}");
    assert_eq!(*node.tokens.lock().unwrap(), vec!["", "decline"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_status_wait_stops_once_admitted() {
    let running = serve(Fake::leader(1), None).await;
    let output = ingressoja(
        &running.addr,
        &[
            "queue",
            "status",
            "--event",
            "rock",
            "--customer",
            "alice",
            "--wait",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).contains("ADMITTED"), "{}", stdout(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn events_watch_prints_count_events_across_a_dropped_stream() {
    let first = Fake {
        events: Arc::new(Mutex::new(domain_events(6))),
        stream_end: StreamEnd::FailAfter(2),
        ..Fake::leader(1)
    };
    let second = Fake {
        events: Arc::new(Mutex::new(domain_events(6))),
        overlap: 1,
        ..Fake::leader(2)
    };
    let (a, b) = (serve(first, None).await, serve(second, None).await);
    let nodes = format!("{},{}", a.addr, b.addr);
    let output = ingressoja(&nodes, &["--json", "events", "watch", "--count", "5"]).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let seqs: Vec<u64> = stdout(&output)
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("a JSON line");
            value["seq"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 4]);

    let output = ingressoja(
        &b.addr,
        &["events", "watch", "--from-seq", "4", "--count", "1"],
    )
    .await;
    assert_eq!(
        stdout(&output),
        "     4  log 104     hold_created        event=rock  customer=alice  hold=5\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_export_writes_json_lines_and_verify_exits_by_verdict() {
    let whole = Fake {
        audit: Arc::new(Mutex::new(chain(1500))),
        ..Fake::leader(1)
    };
    let mut tampered = chain(1500);
    tampered[1200].actor = "mallory".into();
    let broken = Fake {
        audit: Arc::new(Mutex::new(tampered)),
        ..Fake::leader(2)
    };
    let (a, b) = (serve(whole, None).await, serve(broken, None).await);

    let dir = std::env::temp_dir().join(format!("ingressoja-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("audit.jsonl");
    let path = file.to_str().unwrap();
    let output = ingressoja(
        &a.addr,
        &["audit", "export", "--node", &a.addr, "--out", path],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1500);
    assert_eq!(lines[1499]["seq"], 1499);
    assert_eq!(lines[0]["prev_hash"], "0".repeat(64));
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);

    let output = ingressoja(&a.addr, &["audit", "verify"]).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).contains("audit chains verify and agree"));

    let nodes = format!("{},{}", a.addr, b.addr);
    let output = ingressoja(&nodes, &["--json", "audit", "verify"]).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["consistent"], false);
    assert_eq!(report["nodes"][1]["verdict"], "broken");
    assert_eq!(report["nodes"][1]["broken_at"], 1200);
}
