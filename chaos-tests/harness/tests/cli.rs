//! The `ingressoja-chaos` binary's answers that need no Docker: bad input is
//! refused up front with exit code 2 and a message naming what is wrong, and
//! `--check` judges a kept run from its files with the documented exit codes.
//!
//! (This file also makes `cargo test --workspace --no-run` build the binary,
//! which `scripts/chaos-test.sh` runs.)

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the harness binary with `args`.
fn chaos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ingressoja-chaos"))
        .args(args)
        .output()
        .expect("the ingressoja-chaos binary runs")
}

/// A kept run shipped with the checkers' tests: valid as recorded.
fn kept_run() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../checkers/tests/data")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_unknown_nemesis_is_refused_by_name_before_anything_starts() {
    let out = chaos(&["--nemesis", "kill,meteor", "--time-limit", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("meteor"), "{}", stderr(&out));
}

#[test]
fn a_cluster_size_out_of_range_is_refused() {
    let out = chaos(&["--nodes", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--nodes"), "{}", stderr(&out));
}

#[test]
fn checking_a_missing_run_names_the_file_it_could_not_read() {
    let out = chaos(&["--check", "/nonexistent/chaos-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/chaos-run/history.jsonl"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_valid_kept_run_checks_valid_and_an_expected_anomaly_it_lacks_fails() {
    let run = kept_run();
    let run = run.to_str().expect("a UTF-8 path");
    let valid = chaos(&["--check", run]);
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));

    let expecting = chaos(&[
        "--check",
        run,
        "--expect-anomaly",
        "linearizable-categories",
    ]);
    assert_eq!(expecting.status.code(), Some(1), "{}", stderr(&expecting));
    assert!(
        stderr(&expecting).contains("found no anomaly"),
        "{}",
        stderr(&expecting)
    );

    let unknown = chaos(&["--check", run, "--expect-anomaly", "no-such-checker"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("no-such-checker"),
        "{}",
        stderr(&unknown)
    );
}
