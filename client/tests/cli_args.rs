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
