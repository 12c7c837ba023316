//! The whole configuration of one HTTP gateway, and how to obtain a valid
//! one.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::addr::check_host_port;
use crate::check::in_range;
use crate::url::{parse_http_url, strip_trailing_slashes};
use crate::{
    AntiBotConfig, ConfigError, LoginConfig, NotificationConfig, RateLimits, SessionConfig,
    WebhookConfig,
};

/// Everything a stateless HTTP gateway (`ingressoja-gateway`) needs at
/// start-up, as read from its TOML file.
///
/// A gateway serves the web UI and JSON API, authenticates customers and
/// forwards requests to the cluster over gRPC; it keeps no state of its own,
/// so any number of them can run side by side with the same `session` key.
///
/// Obtain it with [`GatewayConfig::load`] or [`GatewayConfig::from_toml_str`],
/// which both validate; a value built by hand should go through
/// [`GatewayConfig::validate`] before use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Local bind address of the HTTP server.
    pub listen: SocketAddr,
    /// URL browsers use to reach this gateway (`http://` or `https://`,
    /// behind a proxy possibly), used to build absolute links and check
    /// the `Origin` of requests. A trailing `/` is stripped on load.
    #[serde(deserialize_with = "deserialize_public_url")]
    pub public_url: String,
    /// gRPC addresses (`host:port`) of the cluster nodes to forward to; at
    /// least one, no duplicates. Any node will do: followers redirect to
    /// the leader.
    pub nodes: Vec<String>,
    /// Session signing key and lifetime.
    pub session: SessionConfig,
    /// Login lockout; defaults when the section is absent.
    #[serde(default)]
    pub login: LoginConfig,
    /// Request rate limits; each defaults individually.
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Requests processed concurrently before the gateway sheds load with
    /// `503 Service Unavailable` (1..=100000, default 512).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Proof-of-work challenge; defaults when the section is absent.
    #[serde(default)]
    pub anti_bot: AntiBotConfig,
    /// Customer notification timings; defaults when the section is absent.
    #[serde(default)]
    pub notifications: NotificationConfig,
    /// Outgoing webhooks (`[[webhooks]]`); none by default.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// Addresses of the load balancers in front of this gateway. A request
    /// from one of them is attributed to the last address it appended to
    /// `X-Forwarded-For` (for rate limits); from anyone else, that header
    /// is ignored, so a client cannot pick its own IP. Empty by default.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The key signing the tickets' QR codes (`[tickets]`); without it,
    /// one derived from the session key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickets: Option<crate::TicketsConfig>,
    /// Seconds a client may take to send a request's headers (1..=120,
    /// default 10); a slower one is cut off, so a slowloris holding many
    /// half-sent requests open costs the gateway little.
    #[serde(default = "default_header_read_timeout_secs")]
    pub header_read_timeout_secs: u64,
    /// The gateway's certificate (role `gateway`), key and the cluster's CA,
    /// for its calls to the nodes. Required unless `insecure_dev`.
    #[serde(default)]
    pub tls: Option<crate::TlsConfig>,
    /// Call the nodes over plaintext gRPC: for a trusted dev machine only.
    /// Exclusive with `tls`.
    #[serde(default)]
    pub insecure_dev: bool,
}

/// Session keys that were published in this repository's configs: refused
/// outside dev mode, since anyone can read them.
const PUBLISHED_SESSION_KEYS: &[&str] =
    &["496e67726573736f4a612064656d6f206b65793a206e6f742073656372657421"];

/// Upper bound of `max_in_flight`: far beyond what one gateway process can
/// usefully serve at once.
const MAX_IN_FLIGHT_LIMIT: usize = 100_000;

fn default_header_read_timeout_secs() -> u64 {
    10
}

fn default_max_in_flight() -> usize {
    512
}

fn deserialize_public_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let url = String::deserialize(d)?;
    Ok(strip_trailing_slashes(&url))
}

impl GatewayConfig {
    /// Parses and validates the TOML text of a gateway config.
    pub fn from_toml_str(text: &str) -> Result<GatewayConfig, ConfigError> {
        let config: GatewayConfig = crate::parse::decode(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates the gateway config file at `path`.
    pub fn load(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text = crate::parse::read(path)?;
        GatewayConfig::from_toml_str(&text)
    }

    /// Loads like [`load`](Self::load), calling the nodes without TLS as if
    /// the file said `insecure_dev = true` (the binary's `--insecure-dev`).
    pub fn load_insecure_dev(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text = crate::parse::read(path)?;
        let mut config: GatewayConfig = crate::parse::decode(&text)?;
        config.insecure_dev = true;
        config.validate()?;
        Ok(config)
    }

    /// Checks every rule of the configuration and reports the first broken
    /// one, naming the field at fault. Secrets are never quoted.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_public_url()?;
        self.validate_nodes()?;
        self.session.validate()?;
        if let Some(tickets) = &self.tickets {
            tickets.validate()?;
        }
        self.login.validate()?;
        self.rate_limits.validate()?;
        in_range(
            "max_in_flight",
            self.max_in_flight,
            1..=MAX_IN_FLIGHT_LIMIT,
            "",
        )?;
        in_range(
            "header_read_timeout_secs",
            self.header_read_timeout_secs,
            1..=120,
            "seconds",
        )?;
        self.anti_bot.validate()?;
        self.notifications.validate()?;
        for (i, webhook) in self.webhooks.iter().enumerate() {
            webhook.validate(&format!("webhooks[{i}]"))?;
        }
        crate::tls::validate_transport(self.tls.as_ref(), self.insecure_dev)?;
        if !self.insecure_dev
            && PUBLISHED_SESSION_KEYS.contains(&hex::encode(&self.session.key).as_str())
        {
            return Err(ConfigError::invalid(
                self.session.key_source.field("session"),
                "is the demo key published in IngressoJá's repository: anyone could sign a \
                 session as any customer with it; use a key of your own (`ingressoja pki init` \
                 writes one as session.key), or run with --insecure-dev",
            ));
        }
        Ok(())
    }

    fn validate_public_url(&self) -> Result<(), ConfigError> {
        let url = &self.public_url;
        let invalid = |why: &str| ConfigError::invalid("public_url", format!("{url:?}: {why}"));
        let parsed = parse_http_url(url).map_err(invalid)?;
        if parsed.path.contains('?') {
            return Err(invalid("must not contain a query (?...)"));
        }
        if parsed.path.ends_with('/') {
            return Err(invalid("must not end with /"));
        }
        Ok(())
    }

    fn validate_nodes(&self) -> Result<(), ConfigError> {
        if self.nodes.is_empty() {
            return Err(ConfigError::invalid(
                "nodes",
                "must list at least one node gRPC address (host:port)",
            ));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if let Err(why) = check_host_port(node) {
                return Err(ConfigError::invalid(
                    format!("nodes[{i}]"),
                    format!("invalid node address {node:?}: {why}"),
                ));
            }
            if let Some(first) = self.nodes[..i]
                .iter()
                .position(|n| n.eq_ignore_ascii_case(node))
            {
                return Err(ConfigError::invalid(
                    format!("nodes[{i}]"),
                    format!("duplicate node {node:?} (also nodes[{first}])"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::GatewayConfig;
    use crate::test_support::{
        gateway_error_of, gateway_full_with, GATEWAY_FULL, GATEWAY_KEY_HEX, GATEWAY_MINIMAL,
        WEBHOOK_SECRET,
    };
    use crate::{
        AntiBotConfig, ConfigError, LoginConfig, NotificationConfig, RateLimit, RateLimits,
    };

    #[test]
    fn minimal_file_gets_defaults() {
        let cfg = GatewayConfig::from_toml_str(GATEWAY_MINIMAL).unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(cfg.public_url, "http://localhost:8080");
        assert_eq!(cfg.nodes, vec!["127.0.0.1:7101".to_string()]);
        assert_eq!(cfg.session.key, hex::decode(GATEWAY_KEY_HEX).unwrap());
        assert_eq!(cfg.session.ttl_secs, 3600);
        assert_eq!(cfg.session.ttl(), Duration::from_secs(3600));
        assert!(cfg.session.cookie_secure);

        assert_eq!(cfg.login, LoginConfig::default());
        assert_eq!(cfg.login.lockout_after, 5);
        assert_eq!(cfg.login.lockout_base(), Duration::from_secs(30));
        assert_eq!(cfg.login.lockout_max(), Duration::from_secs(900));

        let rl = &cfg.rate_limits;
        assert_eq!(*rl, RateLimits::default());
        let limit = |per_minute, burst| RateLimit { per_minute, burst };
        assert_eq!(rl.login_per_ip, limit(30, 10));
        assert_eq!(rl.login_per_customer, limit(10, 5));
        assert_eq!(rl.queue_join_per_ip, limit(60, 20));
        assert_eq!(rl.queue_join_per_customer, limit(6, 3));
        assert_eq!(rl.purchase_per_ip, limit(120, 30));
        assert_eq!(rl.purchase_per_customer, limit(20, 5));
        assert_eq!(rl.api_per_ip, limit(600, 200));

        assert_eq!(cfg.max_in_flight, 512);
        assert_eq!(cfg.anti_bot, AntiBotConfig::default());
        assert_eq!(cfg.anti_bot.pow_difficulty_bits, 16);
        assert!(cfg.anti_bot.enabled());
        assert_eq!(cfg.anti_bot.challenge_ttl(), Duration::from_secs(120));
        assert_eq!(cfg.notifications, NotificationConfig::default());
        assert_eq!(cfg.notifications.hold_warning(), Duration::from_secs(60));
        assert_eq!(cfg.notifications.queue_poll(), Duration::from_millis(1000));
        assert!(cfg.webhooks.is_empty());
    }

    #[test]
    fn full_file_parses_every_section() {
        let cfg = GatewayConfig::from_toml_str(GATEWAY_FULL).unwrap();
        assert_eq!(
            cfg.public_url, "https://tickets.example.com",
            "slash stripped"
        );
        assert_eq!(cfg.nodes.len(), 3);
        assert_eq!(cfg.max_in_flight, 2048);
        assert_eq!(cfg.session.ttl(), Duration::from_secs(7200));
        assert!(!cfg.session.cookie_secure);
        assert_eq!(cfg.login.lockout_after, 3);
        assert_eq!(cfg.login.lockout_base(), Duration::from_secs(10));
        assert_eq!(cfg.login.lockout_max(), Duration::from_secs(600));
        assert_eq!(cfg.rate_limits.api_per_ip.per_minute, 500);
        assert_eq!(cfg.rate_limits.queue_join_per_customer.burst, 2);
        assert_eq!(cfg.anti_bot.pow_difficulty_bits, 20);
        assert_eq!(cfg.anti_bot.challenge_ttl(), Duration::from_secs(300));
        assert_eq!(cfg.notifications.hold_warning(), Duration::from_secs(30));
        assert_eq!(cfg.notifications.queue_poll(), Duration::from_millis(500));
        assert_eq!(cfg.webhooks.len(), 2);
        assert_eq!(cfg.webhooks[0].secret, WEBHOOK_SECRET);
    }

    #[test]
    fn partial_rate_limits_keep_other_defaults() {
        let text = format!(
            "{GATEWAY_MINIMAL}\n[rate_limits]\napi_per_ip = {{ per_minute = 1, burst = 1 }}\n"
        );
        let cfg = GatewayConfig::from_toml_str(&text).unwrap();
        assert_eq!(
            cfg.rate_limits,
            RateLimits {
                api_per_ip: RateLimit {
                    per_minute: 1,
                    burst: 1
                },
                ..RateLimits::default()
            }
        );
    }

    #[test]
    fn partial_sections_keep_other_defaults() {
        let text = format!(
            "{GATEWAY_MINIMAL}\n[login]\nlockout_after = 9\n[anti_bot]\npow_difficulty_bits = 0\n"
        );
        let cfg = GatewayConfig::from_toml_str(&text).unwrap();
        assert_eq!(cfg.login.lockout_after, 9);
        assert_eq!(cfg.login.lockout_max_secs, 900);
        assert!(!cfg.anti_bot.enabled(), "0 disables the challenge");
        assert_eq!(cfg.anti_bot.challenge_ttl_secs, 120);
    }

    #[test]
    fn public_url_needs_an_http_scheme() {
        let text = gateway_full_with(
            r#"public_url = "https://tickets.example.com/""#,
            r#"public_url = "tickets.example.com""#,
        );
        assert_eq!(
            gateway_error_of(&text),
            r#"public_url: "tickets.example.com": must start with http:// or https://"#
        );
        let text = gateway_full_with(
            r#"public_url = "https://tickets.example.com/""#,
            r#"public_url = "http://x:1/a?b=c""#,
        );
        assert_eq!(
            gateway_error_of(&text),
            r#"public_url: "http://x:1/a?b=c": must not contain a query (?...)"#
        );
    }

    #[test]
    fn public_url_may_carry_a_path_prefix() {
        let text = gateway_full_with(
            r#"public_url = "https://tickets.example.com/""#,
            r#"public_url = "http://localhost:8080/ingresso//""#,
        );
        let cfg = GatewayConfig::from_toml_str(&text).unwrap();
        assert_eq!(cfg.public_url, "http://localhost:8080/ingresso");
    }

    #[test]
    fn hand_built_public_url_with_trailing_slash_is_rejected() {
        let mut cfg = GatewayConfig::from_toml_str(GATEWAY_MINIMAL).unwrap();
        cfg.public_url.push('/');
        assert_eq!(
            cfg.validate().unwrap_err().to_string(),
            r#"public_url: "http://localhost:8080/": must not end with /"#
        );
    }

    #[test]
    fn nodes_must_not_be_empty() {
        let text = gateway_full_with(
            r#"nodes = ["node1:7101", "node2:7102", "[::1]:7103"]"#,
            "nodes = []",
        );
        assert_eq!(
            gateway_error_of(&text),
            "nodes: must list at least one node gRPC address (host:port)"
        );
        let text = GATEWAY_MINIMAL.replace("nodes = [\"127.0.0.1:7101\"]\n", "");
        assert_eq!(gateway_error_of(&text), "nodes: missing field `nodes`");
    }

    #[test]
    fn bad_node_address_names_the_entry() {
        let text = gateway_full_with(r#""node2:7102""#, r#""node2""#);
        assert_eq!(
            gateway_error_of(&text),
            r#"nodes[1]: invalid node address "node2": expected host:port"#
        );
        let text = gateway_full_with(r#""[::1]:7103""#, r#""http://node3:7103""#);
        assert_eq!(
            gateway_error_of(&text),
            r#"nodes[2]: invalid node address "http://node3:7103": expected host:port without a scheme such as http://"#
        );
    }

    #[test]
    fn duplicate_node_is_rejected() {
        let text = gateway_full_with(r#""[::1]:7103""#, r#""NODE1:7101""#);
        assert_eq!(
            gateway_error_of(&text),
            r#"nodes[2]: duplicate node "NODE1:7101" (also nodes[0])"#
        );
    }

    #[test]
    fn max_in_flight_bounds() {
        for bad in ["0", "100001"] {
            let text = gateway_full_with("max_in_flight = 2048", &format!("max_in_flight = {bad}"));
            assert_eq!(
                gateway_error_of(&text),
                format!("max_in_flight: must be between 1 and 100000, got {bad}")
            );
        }
    }

    #[test]
    fn bad_listen_address_names_the_field() {
        let text = gateway_full_with(r#"listen = "0.0.0.0:8443""#, r#"listen = "localhost""#);
        assert_eq!(
            gateway_error_of(&text),
            "listen: invalid socket address syntax"
        );
    }

    #[test]
    fn unknown_fields_are_rejected_and_named() {
        let text = format!("colour = \"blue\"\n{GATEWAY_MINIMAL}");
        let err = gateway_error_of(&text);
        assert!(err.starts_with("colour: unknown field `colour`"), "{err}");

        let text = gateway_full_with("queue_poll_ms = 500", "queue_poll_ms = 500\npoll = 1");
        let err = gateway_error_of(&text);
        assert!(
            err.starts_with("notifications.poll: unknown field `poll`"),
            "{err}"
        );

        let text = gateway_full_with("burst = 5 }", "burst = 5, rate = 1 }");
        let err = gateway_error_of(&text);
        assert!(
            err.starts_with("rate_limits.login_per_ip.rate: unknown field `rate`"),
            "{err}"
        );

        let text = gateway_full_with("max_attempts = 3", "max_attempts = 3\nretries = 3");
        let err = gateway_error_of(&text);
        assert!(
            err.starts_with("webhooks[1].retries: unknown field `retries`"),
            "{err}"
        );
    }

    #[test]
    fn debug_output_redacts_every_secret() {
        let cfg = GatewayConfig::from_toml_str(GATEWAY_FULL).unwrap();
        for shown in [format!("{cfg:?}"), format!("{cfg:#?}")] {
            assert!(!shown.contains(GATEWAY_KEY_HEX), "{shown}");
            assert!(!shown.contains(WEBHOOK_SECRET), "{shown}");
            assert!(!shown.contains("another-long-secret"), "{shown}");
            // Nor the key as a byte list.
            assert!(!shown.contains("94, 85, 16, 76"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains("hooks.local"), "{shown}");
        }
    }

    #[test]
    fn serializes_back_to_an_equal_config() {
        for text in [GATEWAY_MINIMAL, GATEWAY_FULL] {
            let cfg = GatewayConfig::from_toml_str(text).unwrap();
            let again = toml::to_string(&cfg).unwrap();
            assert!(again.contains(&format!("key_hex = \"{GATEWAY_KEY_HEX}\"")));
            assert_eq!(
                GatewayConfig::from_toml_str(&again).unwrap(),
                cfg,
                "{again}"
            );
        }
    }

    #[test]
    fn load_reads_and_validates_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, GATEWAY_FULL).unwrap();
        assert_eq!(GatewayConfig::load(&path).unwrap().max_in_flight, 2048);

        std::fs::write(
            &path,
            gateway_full_with("max_in_flight = 2048", "max_in_flight = 0"),
        )
        .unwrap();
        assert_eq!(
            GatewayConfig::load(&path).unwrap_err().to_string(),
            "max_in_flight: must be between 1 and 100000, got 0"
        );

        let absent = dir.path().join("absent.toml");
        assert!(matches!(
            GatewayConfig::load(&absent),
            Err(ConfigError::Io { path, .. }) if path == absent
        ));
    }

    #[test]
    fn a_node_config_is_not_a_gateway_config() {
        let err = gateway_error_of(crate::test_support::MINIMAL);
        assert!(err.contains(": unknown field `"), "{err}");
        assert!(
            err.contains("expected one of `listen`, `public_url`"),
            "{err}"
        );
    }

    #[test]
    fn no_prefix_of_a_valid_file_panics() {
        for (end, _) in GATEWAY_FULL.char_indices() {
            if let Err(e) = GatewayConfig::from_toml_str(&GATEWAY_FULL[..end]) {
                let shown = format!("{e} / {e:?}");
                assert!(!shown.contains("5e55104c0ffee"), "key leaked: {shown}");
                assert!(!shown.contains("wh-s3cret"), "secret leaked: {shown}");
            }
        }
    }
}
