//! `[tickets]`: the key that signs the tickets' QR codes.
//!
//! Its own key, not the session key: a gate scanner that checks tickets
//! offline must hold it, and whoever holds the session key can sign in as
//! anyone. Without the section the gateway derives one from the session
//! key (one-way), so a scanner given it still cannot sign sessions.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::key::{key_fields, resolve_key, KeyFields, KeySource};
use crate::secret::REDACTED;
use crate::ConfigError;

/// Shortest accepted ticket key.
const MIN_TICKET_KEY_BYTES: usize = 32;

/// The ticket-signing key (`[tickets]`). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "KeyFields", into = "KeyFields")]
pub struct TicketsConfig {
    /// HMAC-SHA256 key of the QR codes, at least 32 bytes.
    pub key: Vec<u8>,
    /// Where it was read from.
    pub key_source: KeySource,
}

impl TryFrom<KeyFields> for TicketsConfig {
    type Error = String;

    fn try_from(raw: KeyFields) -> Result<TicketsConfig, String> {
        let (key, key_source) = resolve_key(raw.key_hex, raw.key_file, raw.key_env, "ticket.key")?;
        Ok(TicketsConfig { key, key_source })
    }
}

impl From<TicketsConfig> for KeyFields {
    fn from(config: TicketsConfig) -> KeyFields {
        let (key_hex, key_file, key_env) = key_fields(config.key, config.key_source);
        KeyFields {
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
