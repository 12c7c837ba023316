//! Where this node's servers bind.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Local bind addresses of the node's servers.
///
/// These are *bind* addresses (`0.0.0.0:7101` is fine here); the address
/// other nodes dial is the node's own entry in `peers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// Bind address of the gRPC server carrying Raft traffic, the ticketing
    /// API and the admin API.
    pub grpc: SocketAddr,
    /// Bind address of the Prometheus metrics HTTP endpoint; `None` disables
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<SocketAddr>,
}

impl ListenConfig {
    /// The metrics endpoint must not try to bind the gRPC socket.
    ///
    /// Two binds collide when the ports are equal and the IPs are equal or
    /// either is a wildcard; port 0 ("any free port") never collides.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let Some(metrics) = self.metrics else {
            return Ok(());
        };
        let grpc = self.grpc;
        let same_port = metrics.port() == grpc.port() && grpc.port() != 0;
        let overlapping_ip = metrics.ip() == grpc.ip()
            || metrics.ip().is_unspecified()
            || grpc.ip().is_unspecified();
        if same_port && overlapping_ip {
            return Err(ConfigError::invalid(
                "listen.metrics",
                format!("{metrics} clashes with listen.grpc {grpc}; use another port"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{error_of, full_with};
    use crate::NodeConfig;

    #[test]
    fn metrics_must_differ_from_grpc() {
        let text = full_with(
            r#"metrics = "127.0.0.1:9102""#,
            r#"metrics = "127.0.0.1:7102""#,
        );
        assert_eq!(
            error_of(&text),
            "listen.metrics: 127.0.0.1:7102 clashes with listen.grpc 127.0.0.1:7102; use another port"
        );
    }

    #[test]
    fn wildcard_metrics_on_grpc_port_clashes() {
        let text = full_with(
            r#"metrics = "127.0.0.1:9102""#,
            r#"metrics = "0.0.0.0:7102""#,
        );
        assert!(error_of(&text).starts_with("listen.metrics: "));
    }

    #[test]
    fn metrics_may_be_absent_or_on_another_port() {
        let without = full_with("metrics = \"127.0.0.1:9102\"\n", "");
        assert_eq!(
            NodeConfig::from_toml_str(&without).unwrap().listen.metrics,
            None
        );
        let other_ip = full_with(
            r#"metrics = "127.0.0.1:9102""#,
            r#"metrics = "127.0.0.2:7102""#,
        );
        assert!(NodeConfig::from_toml_str(&other_ip).is_ok());
    }

    #[test]
    fn ephemeral_ports_do_not_clash() {
        let text = full_with(r#"grpc = "127.0.0.1:7102""#, r#"grpc = "127.0.0.1:0""#);
        let text = text.replacen(
            r#"metrics = "127.0.0.1:9102""#,
            r#"metrics = "127.0.0.1:0""#,
            1,
        );
        assert!(NodeConfig::from_toml_str(&text).is_ok());
    }

    #[test]
    fn bad_socket_address_names_the_field() {
        let text = full_with(r#"grpc = "127.0.0.1:7102""#, r#"grpc = "nope""#);
        assert_eq!(
            error_of(&text),
            "listen.grpc: invalid socket address syntax"
        );
    }
}
