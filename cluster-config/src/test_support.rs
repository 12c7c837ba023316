//! Shared fixtures for the unit tests of every module.

use crate::NodeConfig;

/// The smallest valid file: only the mandatory keys.
pub(crate) const MINIMAL: &str = r#"
id = 1
data_dir = "/var/lib/ingressoja"

[listen]
grpc = "127.0.0.1:7101"

[[peers]]
id = 1
addr = "127.0.0.1:7101"
"#;

/// A valid three-voter file that sets every optional section explicitly,
/// used as the base for "break one thing" tests.
pub(crate) const FULL: &str = r#"
id = 2
bootstrap = true
data_dir = ".data/node2"

[listen]
grpc = "127.0.0.1:7102"
metrics = "127.0.0.1:9102"

[[peers]]
id = 1
addr = "node1:7101"

[[peers]]
id = 2
addr = "node2:7102"

[[peers]]
id = 3
addr = "node3:7103"

[raft]
heartbeat_interval_ms = 100
election_timeout_min_ms = 400
election_timeout_max_ms = 800
rpc_timeout_ms = 300

[snapshot]
logs_since_last = 10000
max_logs_kept_after_snapshot = 1000
chunk_size_bytes = 1048576

[sale]
hold_ttl_secs = 300
"#;

/// `FULL` with the first occurrence of `from` replaced by `to`; panics if
/// `from` is absent so that a typo in a test cannot make it vacuous.
pub(crate) fn full_with(from: &str, to: &str) -> String {
    assert!(FULL.contains(from), "fixture does not contain {from:?}");
    FULL.replacen(from, to, 1)
}

/// The Display text of the error `text` produces; fails the test if it
/// loads successfully.
pub(crate) fn error_of(text: &str) -> String {
    match NodeConfig::from_toml_str(text) {
        Ok(cfg) => panic!("expected an error, got {cfg:?}"),
        Err(e) => e.to_string(),
    }
}
