//! Shared fixtures for the unit tests of every module.

use crate::{GatewayConfig, NodeConfig};

/// The smallest valid file: only the mandatory keys.
pub(crate) const MINIMAL: &str = r#"
id = 1
data_dir = "/var/lib/ingressoja"

[listen]
grpc = "127.0.0.1:7101"

[[peers]]
id = 1
addr = "127.0.0.1:7101"

[tls]
ca_file = "/etc/ingressoja/pki/ca.pem"
cert_file = "/etc/ingressoja/pki/node-1.pem"
key_file = "/etc/ingressoja/pki/node-1.key"
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

[tls]
ca_file = "/etc/ingressoja/pki/ca.pem"
cert_file = "/etc/ingressoja/pki/node-2.pem"
key_file = "/etc/ingressoja/pki/node-2.key"
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

/// A 32-byte session key, hex-encoded, used by the gateway fixtures. Tests
/// check it never leaks into `Debug` output or errors.
pub(crate) const GATEWAY_KEY_HEX: &str =
    "5e55104c0ffee5e55104c0ffee5e55104c0ffee5e55104c0ffee5e55104c0ffe";

/// The webhook secret of [`GATEWAY_FULL`]; must never leak either.
pub(crate) const WEBHOOK_SECRET: &str = "wh-s3cret-do-not-leak";

/// The smallest valid gateway file: only the mandatory keys.
pub(crate) const GATEWAY_MINIMAL: &str = r#"
listen = "127.0.0.1:8080"
public_url = "http://localhost:8080"
nodes = ["127.0.0.1:7101"]

[session]
key_hex = "5e55104c0ffee5e55104c0ffee5e55104c0ffee5e55104c0ffee5e55104c0ffe"

[tls]
ca_file = "/etc/ingressoja/pki/ca.pem"
cert_file = "/etc/ingressoja/pki/gateway-1.pem"
key_file = "/etc/ingressoja/pki/gateway-1.key"
"#;

/// A valid gateway file setting every section explicitly (two webhooks),
/// used as the base for "break one thing" tests.
pub(crate) const GATEWAY_FULL: &str = r#"
listen = "0.0.0.0:8443"
public_url = "https://tickets.example.com/"
nodes = ["node1:7101", "node2:7102", "[::1]:7103"]
max_in_flight = 2048

[session]
key_hex = "5e55104c0ffee5e55104c0ffee5e55104c0ffee5e55104c0ffee5e55104c0ffe"
ttl_secs = 7200
cookie_secure = false

[login]
lockout_after = 3
lockout_base_secs = 10
lockout_max_secs = 600

[rate_limits]
login_per_ip = { per_minute = 20, burst = 5 }
login_per_customer = { per_minute = 8, burst = 4 }
queue_join_per_ip = { per_minute = 50, burst = 10 }
queue_join_per_customer = { per_minute = 5, burst = 2 }
purchase_per_ip = { per_minute = 100, burst = 25 }
purchase_per_customer = { per_minute = 15, burst = 4 }
api_per_ip = { per_minute = 500, burst = 100 }

[anti_bot]
pow_difficulty_bits = 20
challenge_ttl_secs = 300

[notifications]
hold_warning_secs = 30
queue_poll_ms = 500

[[webhooks]]
url = "http://hooks.local:9000/ingressoja"
secret = "wh-s3cret-do-not-leak"

[[webhooks]]
url = "http://10.0.0.5:8088/events?src=ij"
secret = "another-long-secret"
max_attempts = 3
initial_backoff_ms = 100
max_backoff_ms = 1000
kinds = ["purchase_confirmed", "payment_declined"]

[tls]
ca_file = "/etc/ingressoja/pki/ca.pem"
cert_file = "/etc/ingressoja/pki/gateway-1.pem"
key_file = "/etc/ingressoja/pki/gateway-1.key"
"#;

/// `GATEWAY_FULL` with the first occurrence of `from` replaced by `to`;
/// panics if `from` is absent.
pub(crate) fn gateway_full_with(from: &str, to: &str) -> String {
    assert!(
        GATEWAY_FULL.contains(from),
        "fixture does not contain {from:?}"
    );
    GATEWAY_FULL.replacen(from, to, 1)
}

/// The Display text of the error a gateway file produces; fails the test
/// if it loads. Also checks that no secret of the fixtures leaks into the
/// error, whatever the test is about.
pub(crate) fn gateway_error_of(text: &str) -> String {
    match GatewayConfig::from_toml_str(text) {
        Ok(cfg) => panic!("expected an error, got {cfg:?}"),
        Err(e) => {
            let shown = format!("{e} / {e:?}");
            assert!(!shown.contains(WEBHOOK_SECRET), "secret leaked: {shown}");
            assert!(!shown.contains("5e55104c0ffee"), "key leaked: {shown}");
            e.to_string()
        }
    }
}
