//! Outgoing webhooks: domain events POSTed to third-party HTTP endpoints.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check::{at_least, in_range};
use crate::secret::{deserialize_secret, REDACTED};
use crate::url::parse_http_url;
use crate::ConfigError;

/// Shortest accepted signing secret.
const MIN_SECRET_CHARS: usize = 16;

/// One webhook subscription (`[[webhooks]]`).
///
/// The gateway POSTs each matching domain event to `url`, signed with
/// HMAC-SHA256 over the body using `secret` so the receiver can check it
/// came from us, and retries failures with exponential backoff. `Debug`
/// never shows the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Target, `http://host:port/path` (port required). `https://` is
    /// refused for now: the gateway has no TLS client yet.
    pub url: String,
    /// HMAC-SHA256 signing secret shared with the receiver, at least 16
    /// characters.
    #[serde(deserialize_with = "deserialize_secret")]
    pub secret: String,
    /// Delivery attempts per event before giving up (1..=50, default 8).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry, in ms (>= 10, default 500), doubling on
    /// each retry; see [`WebhookConfig::initial_backoff`].
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Cap of the doubling wait, in ms (>= `initial_backoff_ms`, default
    /// 60000); see [`WebhookConfig::max_backoff`].
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Event kinds delivered, from [`WebhookConfig::EVENT_KINDS`]; empty
    /// (the default) means all of them.
    #[serde(default)]
    pub kinds: Vec<String>,
}

fn default_max_attempts() -> u32 {
    8
}

fn default_initial_backoff_ms() -> u64 {
    500
}

fn default_max_backoff_ms() -> u64 {
    60_000
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &format_args!("{REDACTED}"))
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff_ms", &self.initial_backoff_ms)
            .field("max_backoff_ms", &self.max_backoff_ms)
            .field("kinds", &self.kinds)
            .finish()
    }
}

impl WebhookConfig {
    /// Every domain event kind a webhook can subscribe to, as named in
    /// `kinds`.
    pub const EVENT_KINDS: &'static [&'static str] = &[
        "event_created",
        "customer_registered",
        "sale_opened",
        "admitted",
        "hold_created",
        "hold_released",
        "hold_expired",
        "purchase_confirmed",
        "payment_declined",
        "rejected",
    ];

    /// Wait before the first retry.
    pub fn initial_backoff(&self) -> Duration {
        Duration::from_millis(self.initial_backoff_ms)
    }

    /// Longest wait between two retries.
    pub fn max_backoff(&self) -> Duration {
        Duration::from_millis(self.max_backoff_ms)
    }

    /// Whether events of `kind` go to this webhook (always, when `kinds`
    /// is empty).
    pub fn wants(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind)
    }

    /// The `host:port` to connect to. Empty if the URL is invalid, which
    /// [`crate::GatewayConfig::validate`] rules out.
    pub fn authority(&self) -> &str {
        parse_http_url(&self.url).map_or("", |u| u.authority)
    }

    /// The request target (path and query) to POST to; `/` when the URL
    /// has no path or is invalid.
    pub fn path(&self) -> &str {
        match parse_http_url(&self.url) {
            Ok(u) if !u.path.is_empty() => u.path,
            _ => "/",
        }
    }

    /// Checks this entry; `field` is its path, e.g. `webhooks[1]`. Neither
    /// the secret nor the URL (which may carry a token) is quoted.
    pub(crate) fn validate(&self, field: &str) -> Result<(), ConfigError> {
        let url_field = format!("{field}.url");
        if self.url.starts_with("https://") {
            return Err(ConfigError::invalid(
                url_field,
                "https:// is not supported yet (the gateway has no TLS client); use http://",
            ));
        }
        let url = parse_http_url(&self.url)
            .map_err(|why| ConfigError::invalid(&url_field, format!("invalid URL: {why}")))?;
        if !url.has_port() {
            return Err(ConfigError::invalid(
                url_field,
                "invalid URL: the port is required (http://host:port/path)",
            ));
        }
        if self.secret.chars().count() < MIN_SECRET_CHARS {
            return Err(ConfigError::invalid(
                format!("{field}.secret"),
                format!("must be at least {MIN_SECRET_CHARS} characters long"),
            ));
        }
        in_range(
            &format!("{field}.max_attempts"),
            self.max_attempts,
            1..=50,
            "",
        )?;
        at_least(
            &format!("{field}.initial_backoff_ms"),
            self.initial_backoff_ms,
            10,
        )?;
        if self.max_backoff_ms < self.initial_backoff_ms {
            return Err(ConfigError::invalid(
                format!("{field}.max_backoff_ms"),
                format!(
                    "must be >= {field}.initial_backoff_ms ({}), got {}",
                    self.initial_backoff_ms, self.max_backoff_ms
                ),
            ));
        }
        for (j, kind) in self.kinds.iter().enumerate() {
            let kind_field = format!("{field}.kinds[{j}]");
            if !Self::EVENT_KINDS.contains(&kind.as_str()) {
                return Err(ConfigError::invalid(
                    kind_field,
                    format!(
                        "unknown event kind {kind:?}; expected one of: {}",
                        Self::EVENT_KINDS.join(", ")
                    ),
                ));
            }
            if let Some(first) = self.kinds[..j].iter().position(|k| k == kind) {
                return Err(ConfigError::invalid(
                    kind_field,
                    format!("duplicate kind {kind:?} (also {field}.kinds[{first}])"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::WebhookConfig;
    use crate::test_support::{gateway_error_of, gateway_full_with, GATEWAY_FULL, WEBHOOK_SECRET};
    use crate::GatewayConfig;

    const SECOND_URL: &str = r#"url = "http://10.0.0.5:8088/events?src=ij""#;

    #[test]
    fn defaults_and_accessors() {
        let cfg = GatewayConfig::from_toml_str(GATEWAY_FULL).unwrap();
        let first = &cfg.webhooks[0];
        assert_eq!(first.max_attempts, 8);
        assert_eq!(first.initial_backoff(), Duration::from_millis(500));
        assert_eq!(first.max_backoff(), Duration::from_millis(60_000));
        assert!(first.kinds.is_empty());
        assert!(first.wants("hold_expired"), "empty kinds = every kind");
        assert_eq!(first.authority(), "hooks.local:9000");
        assert_eq!(first.path(), "/ingressoja");

        let second = &cfg.webhooks[1];
        assert_eq!(second.max_attempts, 3);
        assert_eq!(second.initial_backoff(), Duration::from_millis(100));
        assert_eq!(second.max_backoff(), Duration::from_secs(1));
        assert!(second.wants("payment_declined"));
        assert!(!second.wants("hold_expired"));
        assert_eq!(second.authority(), "10.0.0.5:8088");
        assert_eq!(second.path(), "/events?src=ij");
    }

    #[test]
    fn url_without_path_posts_to_root() {
        let text = gateway_full_with(SECOND_URL, r#"url = "http://[::1]:9""#);
        let cfg = GatewayConfig::from_toml_str(&text).unwrap();
        assert_eq!(cfg.webhooks[1].authority(), "[::1]:9");
        assert_eq!(cfg.webhooks[1].path(), "/");
    }

    #[test]
    fn https_is_not_supported_yet() {
        let text = gateway_full_with(SECOND_URL, r#"url = "https://10.0.0.5:8088/events""#);
        assert_eq!(
            gateway_error_of(&text),
            "webhooks[1].url: https:// is not supported yet (the gateway has no TLS client); use http://"
        );
    }

    #[test]
    fn url_must_be_host_port_and_path() {
        let cases = [
            (
                "http://10.0.0.5/events",
                "invalid URL: the port is required (http://host:port/path)",
            ),
            (
                "10.0.0.5:8088/events",
                "invalid URL: must start with http:// or https://",
            ),
            (
                "http://10.0.0.5:x/events",
                "invalid URL: port is not a number",
            ),
            ("http://:8088/events", "invalid URL: host is empty"),
        ];
        for (url, why) in cases {
            let text = gateway_full_with(SECOND_URL, &format!("url = \"{url}\""));
            assert_eq!(gateway_error_of(&text), format!("webhooks[1].url: {why}"));
        }
    }

    #[test]
    fn url_errors_do_not_quote_the_url() {
        let text = gateway_full_with(SECOND_URL, r#"url = "http://hooks/t0ken-in-path""#);
        let err = gateway_error_of(&text);
        assert!(!err.contains("t0ken"), "{err}");
    }

    #[test]
    fn short_secret_is_rejected_without_echoing_it() {
        let text = gateway_full_with(WEBHOOK_SECRET, "short-s3cret");
        let err = gateway_error_of(&text);
        assert_eq!(
            err,
            "webhooks[0].secret: must be at least 16 characters long"
        );
        assert!(!err.contains("short-s3cret"));
    }

    #[test]
    fn secret_of_the_wrong_type_is_not_echoed() {
        let text = gateway_full_with(
            &format!("secret = \"{WEBHOOK_SECRET}\""),
            "secret = 987654321987654321",
        );
        let err = gateway_error_of(&text);
        assert_eq!(
            err,
            "webhooks[0].secret: invalid type: integer, expected a string"
        );
    }

    #[test]
    fn secret_is_required() {
        let text = gateway_full_with(&format!("secret = \"{WEBHOOK_SECRET}\"\n"), "");
        assert_eq!(
            gateway_error_of(&text),
            "webhooks[0].secret: missing field `secret`"
        );
    }

    #[test]
    fn unknown_kind_is_rejected() {
        let text = gateway_full_with(r#""payment_declined""#, r#""payment_failed""#);
        let err = gateway_error_of(&text);
        assert!(
            err.starts_with(
                r#"webhooks[1].kinds[1]: unknown event kind "payment_failed"; expected one of: event_created, "#
            ),
            "{err}"
        );
    }

    #[test]
    fn duplicate_kind_is_rejected() {
        let text = gateway_full_with(r#""payment_declined""#, r#""purchase_confirmed""#);
        assert_eq!(
            gateway_error_of(&text),
            r#"webhooks[1].kinds[1]: duplicate kind "purchase_confirmed" (also webhooks[1].kinds[0])"#
        );
    }

    #[test]
    fn every_listed_kind_is_accepted() {
        let all = WebhookConfig::EVENT_KINDS
            .iter()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = gateway_full_with(
            r#"kinds = ["purchase_confirmed", "payment_declined"]"#,
            &format!("kinds = [{all}]"),
        );
        let cfg = GatewayConfig::from_toml_str(&text).unwrap();
        assert_eq!(cfg.webhooks[1].kinds.len(), 10);
    }

    #[test]
    fn retry_rules() {
        for bad in ["0", "51"] {
            let text = gateway_full_with("max_attempts = 3", &format!("max_attempts = {bad}"));
            assert_eq!(
                gateway_error_of(&text),
                format!("webhooks[1].max_attempts: must be between 1 and 50, got {bad}")
            );
        }
        let text = gateway_full_with("initial_backoff_ms = 100", "initial_backoff_ms = 9");
        assert_eq!(
            gateway_error_of(&text),
            "webhooks[1].initial_backoff_ms: must be >= 10, got 9"
        );
        let text = gateway_full_with("max_backoff_ms = 1000", "max_backoff_ms = 99");
        assert_eq!(
            gateway_error_of(&text),
            "webhooks[1].max_backoff_ms: must be >= webhooks[1].initial_backoff_ms (100), got 99"
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        let cfg = GatewayConfig::from_toml_str(GATEWAY_FULL).unwrap();
        let shown = format!("{:?}", cfg.webhooks[0]);
        assert!(!shown.contains(WEBHOOK_SECRET), "{shown}");
        assert!(shown.contains(r#"secret: <redacted>"#), "{shown}");
    }
}
