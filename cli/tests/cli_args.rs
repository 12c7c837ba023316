//! The `ingressoja` binary's answers to bad arguments and to a cluster that
//! is not there: exit codes and stderr an operator can act on. No server is
//! needed.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn ingressoja(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ingressoja"))
        .args(args)
        .env_remove("INGRESSOJA_NODES")
        .env_remove("INGRESSOJA_CLIENT_ID")
        // The fakes speak plaintext.
        .env("INGRESSOJA_INSECURE_DEV", "true")
        .env_remove("RUST_LOG")
        .output()
        .expect("run ingressoja")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// An address where nothing listens.
fn closed_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[test]
fn a_bad_category_names_the_flag_and_the_bad_part() {
    let output = ingressoja(&[
        "event",
        "create",
        "--event",
        "rock",
        "--name",
        "Rock",
        "--category",
        "pista:Pista:x:100:4",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--category"), "{err}");
    assert!(err.contains("pista:Pista:x:100:4"), "{err}");
    assert!(err.contains(r#"capacity "x" is not a number"#), "{err}");
}

#[test]
fn a_category_with_too_few_parts_is_refused() {
    let output = ingressoja(&[
        "event",
        "create",
        "--event",
        "rock",
        "--name",
        "Rock",
        "--category",
        "pista:Pista:10",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("expected ID:NAME:CAPACITY:PRICE_CENTS:LIMIT"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn event_create_needs_a_category() {
    let output = ingressoja(&["event", "create", "--event", "rock", "--name", "Rock"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--category"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_non_numeric_quantity_is_a_usage_error() {
    let output = ingressoja(&[
        "hold",
        "--event",
        "rock",
        "--category",
        "pista",
        "--customer",
        "alice",
        "--quantity",
        "two",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--quantity"), "{err}");
    assert!(err.contains("two"), "{err}");
}

#[test]
fn a_negative_hold_id_is_a_usage_error() {
    let output = ingressoja(&["purchase", "--hold", "-3", "--customer", "alice"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn bad_voters_are_a_usage_error() {
    let output = ingressoja(&["cluster", "change-membership", "--voters", "1,two,3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("two"), "{}", stderr(&output));
}

#[test]
fn a_malformed_node_address_is_reported() {
    let output = ingressoja(&["--nodes", "localhost", "tickets", "--customer", "alice"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.starts_with("error: invalid endpoint \"localhost\""),
        "{err}"
    );
    assert!(err.contains("port is missing"), "{err}");
}

#[test]
fn an_unreachable_cluster_fails_fast_and_says_so() {
    let started = Instant::now();
    let output = ingressoja(&[
        "--nodes",
        "127.0.0.1:1",
        "--timeout-secs",
        "1",
        "tickets",
        "--customer",
        "alice",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.starts_with("error: cluster unavailable after "),
        "{err}"
    );
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(output.stdout.is_empty());
}

#[test]
fn an_unreachable_purchase_says_how_to_retry_safely() {
    let output = ingressoja(&[
        "--nodes",
        &closed_addr(),
        "--timeout-secs",
        "1",
        "--client-id",
        "box-office-7",
        "purchase",
        "--hold",
        "3",
        "--customer",
        "alice",
        "--request-id",
        "42",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("--client-id box-office-7 --request-id 42"),
        "{err}"
    );
}

#[test]
fn cluster_status_without_any_node_lists_them_unreachable_and_exits_1() {
    let (a, b) = (closed_addr(), closed_addr());
    let nodes = format!("{a},{b}");
    let output = ingressoja(&[
        "--nodes",
        &nodes,
        "--timeout-secs",
        "1",
        "cluster",
        "status",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains(&format!("{a}  unreachable: ")), "{out}");
    assert!(out.contains(&format!("{b}  unreachable: ")), "{out}");
    assert!(out.contains("leader: none known"), "{out}");
}

#[test]
fn cluster_status_as_json_is_parseable() {
    let addr = closed_addr();
    let output = ingressoja(&["--nodes", &addr, "--json", "cluster", "status"]);
    assert_eq!(output.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(value["leader"], serde_json::Value::Null);
    assert_eq!(value["nodes"][0]["addr"], addr.as_str());
    assert_eq!(value["nodes"][0]["reachable"], false);
}

#[test]
fn a_bad_opens_at_names_the_flag_and_the_expected_forms() {
    for bad in ["tomorrow", "+5m", "2025-13-01T00:00:00Z"] {
        let output = ingressoja(&[
            "event",
            "create",
            "--event",
            "rock",
            "--name",
            "Rock",
            "--category",
            "pista:Pista:10:100:4",
            "--opens-at",
            bad,
        ]);
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let err = stderr(&output);
        assert!(err.contains("--opens-at"), "{err}");
        assert!(err.contains(bad), "{err}");
    }
}

#[test]
fn queue_tuning_needs_the_queue() {
    let output = ingressoja(&[
        "event",
        "create",
        "--event",
        "rock",
        "--name",
        "Rock",
        "--category",
        "pista:Pista:10:100:4",
        "--admit-per-minute",
        "60",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--queue"), "{err}");
}

#[test]
fn zero_limits_are_refused() {
    for flag in ["--event-limit", "--max-per-hold"] {
        let output = ingressoja(&[
            "event",
            "create",
            "--event",
            "rock",
            "--name",
            "Rock",
            "--category",
            "pista:Pista:10:100:4",
            flag,
            "0",
        ]);
        assert_eq!(output.status.code(), Some(2), "{flag}");
        assert!(stderr(&output).contains(flag), "{}", stderr(&output));
    }
}

const REGISTER: [&str; 9] = [
    "register",
    "--customer",
    "alice",
    "--email",
    "alice@example.com",
    "--name",
    "Alice",
    "--cpf",
    "529.982.247-25",
];

#[test]
fn register_needs_a_cpf() {
    let mut args = REGISTER[..7].to_vec();
    args.extend(["--password", "s3cret"]);
    let output = ingressoja(&args);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--cpf"), "{}", stderr(&output));
}

#[test]
fn register_needs_exactly_one_of_password_and_hash() {
    let output = ingressoja(&REGISTER);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--password"), "{err}");

    let mut both = REGISTER.to_vec();
    both.extend([
        "--password",
        "s3cret",
        "--password-hash",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
    ]);
    let output = ingressoja(&both);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot be used with"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_password_hash_must_be_argon2id() {
    let mut args = REGISTER.to_vec();
    args.extend(["--password-hash", "hunter2"]);
    let output = ingressoja(&args);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--password-hash"), "{err}");
    assert!(err.contains("not a PHC password hash"), "{err}");
}

#[test]
fn queue_status_needs_an_event() {
    let output = ingressoja(&["queue", "status", "--customer", "alice"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--event"), "{}", stderr(&output));
}

#[test]
fn events_watch_count_must_be_positive() {
    let output = ingressoja(&["events", "watch", "--count", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--count"), "{}", stderr(&output));
}

#[test]
fn audit_export_needs_a_node() {
    let output = ingressoja(&["audit", "export"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--node"), "{}", stderr(&output));
}

#[test]
fn audit_verify_with_no_node_reachable_exits_1_and_lists_them() {
    let addr = closed_addr();
    let output = ingressoja(&["--nodes", &addr, "--timeout-secs", "1", "audit", "verify"]);
    assert_eq!(output.status.code(), Some(1));
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains(&addr), "{out}");
    assert!(out.contains("unreachable: "), "{out}");
    assert!(out.contains("AUDIT CHECK FAILED"), "{out}");
}

#[test]
fn pki_init_makes_a_cluster_once_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let args = [
        "pki",
        "init",
        "--dir",
        pki.to_str().unwrap(),
        "--cluster",
        "local",
        "--node-ids",
        "1,2,3",
    ];
    let output = ingressoja(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    for file in [
        "ca.pem",
        "ca.key",
        "node-1.pem",
        "node-3.key",
        "gateway-web.pem",
        "operator-admin.key",
        "session.key",
        "ticket.key",
    ] {
        assert!(pki.join(file).is_file(), "{file} missing");
    }
    let ca = std::fs::read(pki.join("ca.pem")).unwrap();
    let export = dir.path().join("export");
    let mut with_export = args.to_vec();
    with_export.extend(["--export", export.to_str().unwrap()]);
    let exported = ingressoja(&with_export);
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert!(export.join("node-2/node-2.key").is_file());
    assert!(export.join("gateway-web/session.key").is_file());
    assert!(!export.join("node-2/ca.key").exists());
    assert!(!export.join("node-2/operator-admin.key").exists());
    let again = ingressoja(&args);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        std::fs::read(pki.join("ca.pem")).unwrap(),
        ca,
        "the CA was replaced"
    );
    let bad = ingressoja(&[
        "pki",
        "init",
        "--dir",
        pki.to_str().unwrap(),
        "--cluster",
        "Bad_Name",
        "--node-ids",
        "1",
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("invalid cluster"), "{}", stderr(&bad));
}
