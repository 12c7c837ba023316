//! `[tickets]`: the key that signs the tickets' QR codes.
//!
//! Its own key, not the session key: a gate scanner that checks tickets
//! offline must hold it, and whoever holds the session key can sign in as
//! anyone. Without the section the gateway derives one from the session
//! key (one-way), so a scanner given it still cannot sign sessions.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::key::{key_fields, resolve_key, KeySource};
use crate::secret::{deserialize_hex, serialize_hex, REDACTED};
use crate::ConfigError;

/// Shortest accepted ticket key.
const MIN_TICKET_KEY_BYTES: usize = 32;

/// The ticket-signing key (`[tickets]`). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTickets", into = "RawTickets")]
pub struct TicketsConfig {
    /// HMAC-SHA256 key of the QR codes, at least 32 bytes.
    pub key: Vec<u8>,
    /// Where it was read from.
    pub key_source: KeySource,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTickets {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "some_hex",
        serialize_with = "some_hex_out"
    )]
    key_hex: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_env: Option<String>,
}

fn some_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    deserialize_hex(d).map(Some)
}

fn some_hex_out<S: serde::Serializer>(key: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    serialize_hex(key.as_deref().unwrap_or_default(), s)
}

impl TryFrom<RawTickets> for TicketsConfig {
    type Error = String;

    fn try_from(raw: RawTickets) -> Result<TicketsConfig, String> {
        let (key, key_source) = resolve_key(raw.key_hex, raw.key_file, raw.key_env, "ticket.key")?;
        Ok(TicketsConfig { key, key_source })
    }
}

impl From<TicketsConfig> for RawTickets {
    fn from(config: TicketsConfig) -> RawTickets {
        let (key_hex, key_file, key_env) = key_fields(config.key, config.key_source);
        RawTickets {
            key_hex,
            key_file,
            key_env,
        }
    }
}

impl fmt::Debug for TicketsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketsConfig")
            .field("key", &format_args!("{REDACTED}"))
            .field("key_source", &self.key_source)
            .finish()
    }
}

impl TicketsConfig {
    /// Rejects a weak key; never quotes it.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.key.len() < MIN_TICKET_KEY_BYTES {
            return Err(ConfigError::invalid(
                self.key_source.field("tickets"),
                format!(
                    "must be at least {MIN_TICKET_KEY_BYTES} bytes, got {}",
                    self.key.len()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{gateway_error_of, GATEWAY_FULL};
    use crate::GatewayConfig;

    #[test]
    fn the_ticket_key_is_read_from_its_file_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ticket.key");
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        let text = format!(
            "{GATEWAY_FULL}\n[tickets]\nkey_file = {:?}\n",
            path.display().to_string()
        );
        let config = GatewayConfig::from_toml_str(&text).unwrap();
        let tickets = config.tickets.expect("a [tickets] section");
        assert_eq!(tickets.key, vec![0xab; 32]);
        assert!(!format!("{tickets:?}").contains("abab"));
        std::fs::write(&path, "abcd").unwrap();
        let short = gateway_error_of(&text);
        assert!(
            short.starts_with("tickets.key_file: must be at least 32 bytes"),
            "{short}"
        );
    }
}
