//! Customer sessions and login brute-force protection of the gateway.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check::{at_least, in_range};
use crate::key::{deserialize_some_hex, key_fields, resolve_key, serialize_some_hex, KeySource};
use crate::secret::REDACTED;
use crate::ConfigError;

/// Shortest accepted session HMAC key: 256 bits, the HMAC-SHA256 block
/// security level.
pub(crate) const MIN_SESSION_KEY_BYTES: usize = 32;
/// Shortest session: a minute.
const MIN_SESSION_TTL_SECS: u64 = 60;
/// Longest session: 30 days.
const MAX_SESSION_TTL_SECS: u64 = 30 * 24 * 3600;

/// How the gateway signs and expires customer sessions (`[session]`).
///
/// Sessions are stateless signed cookies, so every gateway of a deployment
/// must share the same key for a customer to stay logged in whichever
/// gateway answers. The key is read from a file (`key_file`) or an
/// environment variable (`key_env`) when the config is loaded, or given
/// inline (`key_hex`, for tests). `Debug` never shows the key, and writing
/// the config back out writes where the key came from, not the key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSession", into = "RawSession")]
pub struct SessionConfig {
    /// HMAC-SHA256 key signing session cookies, at least 32 bytes.
    pub key: Vec<u8>,
    /// Where it was read from.
    pub key_source: KeySource,
    /// Session lifetime in seconds (60 s to 30 days, default 3600); see
    /// [`SessionConfig::ttl`].
    pub ttl_secs: u64,
    /// Whether session cookies carry the `Secure` attribute (default true).
    /// Browsers accept Secure cookies from `http://localhost`, so only turn
    /// it off for plain-HTTP hosts other than localhost.
    pub cookie_secure: bool,
}

/// `[session]` as written in the file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_some_hex",
        serialize_with = "serialize_some_hex"
    )]
    key_hex: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_env: Option<String>,
    #[serde(default = "default_session_ttl_secs")]
    ttl_secs: u64,
    #[serde(default = "default_true")]
    cookie_secure: bool,
}

impl TryFrom<RawSession> for SessionConfig {
    type Error = String;

    fn try_from(raw: RawSession) -> Result<SessionConfig, String> {
        let (key, key_source) = resolve_key(raw.key_hex, raw.key_file, raw.key_env, "session.key")?;
        Ok(SessionConfig {
            key,
            key_source,
            ttl_secs: raw.ttl_secs,
            cookie_secure: raw.cookie_secure,
        })
    }
}

impl From<SessionConfig> for RawSession {
    fn from(config: SessionConfig) -> RawSession {
        let (key_hex, key_file, key_env) = key_fields(config.key, config.key_source);
        RawSession {
            key_hex,
            key_file,
            key_env,
            ttl_secs: config.ttl_secs,
            cookie_secure: config.cookie_secure,
        }
    }
}

fn default_session_ttl_secs() -> u64 {
    3600
}

fn default_true() -> bool {
    true
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("key", &format_args!("{REDACTED}"))
            .field("key_source", &self.key_source)
            .field("ttl_secs", &self.ttl_secs)
            .field("cookie_secure", &self.cookie_secure)
            .finish()
    }
}

impl SessionConfig {
    /// How long a session stays valid after login.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_secs)
    }

    /// Rejects weak keys and absurd lifetimes; never quotes the key.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let len = self.key.len();
        if len < MIN_SESSION_KEY_BYTES {
            return Err(ConfigError::invalid(
                self.key_source.field("session"),
                format!(
                    "must be at least {MIN_SESSION_KEY_BYTES} bytes ({} hex digits), got {len} bytes; \
                     generate one with: openssl rand -hex 32",
                    MIN_SESSION_KEY_BYTES * 2
                ),
            ));
        }
        in_range(
            "session.ttl_secs",
            self.ttl_secs,
            MIN_SESSION_TTL_SECS..=MAX_SESSION_TTL_SECS,
            "seconds",
        )
    }
}

/// Login lockout after repeated failures (`[login]`), the gateway's defence
/// against password guessing.
///
/// After `lockout_after` consecutive failures for an account, further
/// attempts are refused for `lockout_base_secs`, doubling on each new
/// failure up to `lockout_max_secs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// Consecutive failures tolerated before locking (1..=100, default 5).
    pub lockout_after: u32,
    /// First lockout, in seconds (>= 1, default 30); see
    /// [`LoginConfig::lockout_base`].
    pub lockout_base_secs: u64,
    /// Longest lockout, in seconds (>= `lockout_base_secs`, default 900);
    /// see [`LoginConfig::lockout_max`].
    pub lockout_max_secs: u64,
}

impl Default for LoginConfig {
    /// Lock after 5 failures, for 30 s doubling up to 15 minutes.
    fn default() -> Self {
        LoginConfig {
            lockout_after: 5,
            lockout_base_secs: 30,
            lockout_max_secs: 900,
        }
    }
}

impl LoginConfig {
    /// Duration of the first lockout.
    pub fn lockout_base(&self) -> Duration {
        Duration::from_secs(self.lockout_base_secs)
    }

    /// Upper bound of the doubling lockout.
    pub fn lockout_max(&self) -> Duration {
        Duration::from_secs(self.lockout_max_secs)
    }

    /// Rejects lockouts that never trigger, never end or shrink.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        in_range("login.lockout_after", self.lockout_after, 1..=100, "")?;
        at_least("login.lockout_base_secs", self.lockout_base_secs, 1)?;
        if self.lockout_max_secs < self.lockout_base_secs {
            return Err(ConfigError::invalid(
                "login.lockout_max_secs",
                format!(
                    "must be >= login.lockout_base_secs ({}), got {}",
                    self.lockout_base_secs, self.lockout_max_secs
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{gateway_error_of, gateway_full_with, GATEWAY_KEY_HEX};

    fn with_key(key_hex: &str) -> String {
        gateway_full_with(GATEWAY_KEY_HEX, key_hex)
    }

    #[test]
    fn short_key_is_rejected_without_echoing_it() {
        let short = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567";
        let err = gateway_error_of(&with_key(short));
        assert_eq!(
            err,
            "session.key_hex: must be at least 32 bytes (64 hex digits), got 31 bytes; \
             generate one with: openssl rand -hex 32"
        );
        assert!(!err.contains(short));
        assert!(gateway_error_of(&with_key("")).contains("got 0 bytes"));
    }

    #[test]
    fn bad_hex_is_rejected_without_echoing_it() {
        let bad = format!("{}zz", &GATEWAY_KEY_HEX[..62]);
        assert_eq!(
            gateway_error_of(&with_key(&bad)),
            "session.key_hex: is not valid hex: non-hex character at position 62"
        );
        let odd = format!("{GATEWAY_KEY_HEX}a");
        assert_eq!(
            gateway_error_of(&with_key(&odd)),
            "session.key_hex: is not valid hex: odd number of digits (65)"
        );
    }

    #[test]
    fn key_of_the_wrong_type_is_not_echoed() {
        let text = gateway_full_with(
            &format!("key_hex = \"{GATEWAY_KEY_HEX}\""),
            "key_hex = 123456789012345678",
        );
        let err = gateway_error_of(&text);
        assert_eq!(
            err,
            "session.key_hex: invalid type: integer, expected a string"
        );
    }

    #[test]
    fn longer_keys_are_fine() {
        let long = format!("{GATEWAY_KEY_HEX}{GATEWAY_KEY_HEX}");
        let cfg = crate::GatewayConfig::from_toml_str(&with_key(&long)).unwrap();
        assert_eq!(cfg.session.key.len(), 64);
    }

    #[test]
    fn session_section_and_key_are_required() {
        let text = gateway_full_with(&format!("key_hex = \"{GATEWAY_KEY_HEX}\"\n"), "");
        let err = gateway_error_of(&text);
        assert!(err.starts_with("session: no key: give key_file"), "{err}");
    }

    #[test]
    fn a_key_is_read_from_its_file_and_never_written_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.key");
        std::fs::write(&path, format!("{GATEWAY_KEY_HEX}\n")).unwrap();
        let text = gateway_full_with(
            &format!("key_hex = \"{GATEWAY_KEY_HEX}\""),
            &format!("key_file = {:?}", path.display().to_string()),
        );
        let cfg = crate::GatewayConfig::from_toml_str(&text).unwrap();
        assert_eq!(cfg.session.key, hex::decode(GATEWAY_KEY_HEX).unwrap());
        assert_eq!(cfg.session.key_source, super::KeySource::File(path.clone()));
        let written = toml::to_string(&cfg).unwrap();
        assert!(!written.contains(GATEWAY_KEY_HEX), "{written}");
        assert!(written.contains("key_file"), "{written}");
        assert_eq!(crate::GatewayConfig::from_toml_str(&written).unwrap(), cfg);
    }

    #[test]
    fn a_missing_or_bad_key_file_names_the_file_not_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.key");
        let text = gateway_full_with(
            &format!("key_hex = \"{GATEWAY_KEY_HEX}\""),
            &format!("key_file = {:?}", missing.display().to_string()),
        );
        let err = gateway_error_of(&text);
        assert!(err.contains("cannot read it"), "{err}");
        assert!(err.contains("nope.key"), "{err}");
        let short = dir.path().join("short.key");
        std::fs::write(&short, "abcd").unwrap();
        let text = gateway_full_with(
            &format!("key_hex = \"{GATEWAY_KEY_HEX}\""),
            &format!("key_file = {:?}", short.display().to_string()),
        );
        assert!(gateway_error_of(&text).starts_with("session.key_file: must be at least 32 bytes"));
    }

    #[test]
    fn a_key_is_read_from_the_environment() {
        let var = "INGRESSOJA_TEST_SESSION_KEY_ENV";
        std::env::set_var(var, GATEWAY_KEY_HEX);
        let text = gateway_full_with(
            &format!("key_hex = \"{GATEWAY_KEY_HEX}\""),
            &format!("key_env = \"{var}\""),
        );
        let cfg = crate::GatewayConfig::from_toml_str(&text).unwrap();
        assert_eq!(cfg.session.key, hex::decode(GATEWAY_KEY_HEX).unwrap());
        let unset = gateway_full_with(
            &format!("key_hex = \"{GATEWAY_KEY_HEX}\""),
            "key_env = \"INGRESSOJA_TEST_NO_SUCH_VARIABLE\"",
        );
        assert!(gateway_error_of(&unset).contains("cannot read the environment variable"));
    }

    #[test]
    fn the_published_demo_key_is_refused_outside_dev_mode() {
        let demo = "496e67726573736f4a612064656d6f206b65793a206e6f742073656372657421";
        let err = gateway_error_of(&with_key(demo));
        assert!(
            err.starts_with("session.key_hex: is the demo key published"),
            "{err}"
        );
        let full = with_key(demo);
        let dev = format!(
            "insecure_dev = true\n{}",
            &full[..full.find("[tls]").unwrap()]
        );
        assert!(crate::GatewayConfig::from_toml_str(&dev).is_ok());
    }

    #[test]
    fn two_key_sources_are_refused() {
        let text = gateway_full_with(
            &format!("key_hex = \"{GATEWAY_KEY_HEX}\""),
            &format!("key_hex = \"{GATEWAY_KEY_HEX}\"\nkey_env = \"X\""),
        );
        assert!(gateway_error_of(&text).contains("only one of key_hex, key_file and key_env"));
    }

    #[test]
    fn ttl_bounds() {
        for bad in ["59", "2592001"] {
            let text = gateway_full_with("ttl_secs = 7200", &format!("ttl_secs = {bad}"));
            assert_eq!(
                gateway_error_of(&text),
                format!("session.ttl_secs: must be between 60 and 2592000 seconds, got {bad}")
            );
        }
        for good in ["60", "2592000"] {
            let text = gateway_full_with("ttl_secs = 7200", &format!("ttl_secs = {good}"));
            assert!(crate::GatewayConfig::from_toml_str(&text).is_ok());
        }
    }

    #[test]
    fn lockout_rules() {
        for bad in ["0", "101"] {
            let text = gateway_full_with("lockout_after = 3", &format!("lockout_after = {bad}"));
            assert_eq!(
                gateway_error_of(&text),
                format!("login.lockout_after: must be between 1 and 100, got {bad}")
            );
        }
        let text = gateway_full_with("lockout_base_secs = 10", "lockout_base_secs = 0");
        assert_eq!(
            gateway_error_of(&text),
            "login.lockout_base_secs: must be >= 1, got 0"
        );
        let text = gateway_full_with("lockout_max_secs = 600", "lockout_max_secs = 9");
        assert_eq!(
            gateway_error_of(&text),
            "login.lockout_max_secs: must be >= login.lockout_base_secs (10), got 9"
        );
    }
}
