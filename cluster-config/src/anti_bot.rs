//! Proof-of-work challenge the gateway puts in front of sensitive actions.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check::in_range;
use crate::ConfigError;

/// Hardest accepted challenge: 2^28 hashes is already tens of seconds in a
/// browser; beyond that real customers give up.
const MAX_POW_DIFFICULTY_BITS: u8 = 28;

/// Anti-bot proof-of-work settings (`[anti_bot]`).
///
/// Before logging in or joining a sale queue, the browser must find a nonce
/// whose hash has `pow_difficulty_bits` leading zero bits. It costs a human
/// a moment and a bot farm real CPU per attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AntiBotConfig {
    /// Leading zero bits required (0..=28, default 16); 0 disables the
    /// challenge.
    pub pow_difficulty_bits: u8,
    /// How long an issued challenge may be answered, in seconds (10..=3600,
    /// default 120); see [`AntiBotConfig::challenge_ttl`].
    pub challenge_ttl_secs: u64,
}

impl Default for AntiBotConfig {
    /// 16 bits (well under a second in a browser), 2-minute challenges.
    fn default() -> Self {
        AntiBotConfig {
            pow_difficulty_bits: 16,
            challenge_ttl_secs: 120,
        }
    }
}

impl AntiBotConfig {
    /// How long an issued challenge stays answerable.
    pub fn challenge_ttl(&self) -> Duration {
        Duration::from_secs(self.challenge_ttl_secs)
    }

    /// Whether challenges are required at all (`pow_difficulty_bits > 0`).
    pub fn enabled(&self) -> bool {
        self.pow_difficulty_bits > 0
    }

    /// Rejects challenges too hard to solve or too short-lived to answer.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        in_range(
            "anti_bot.pow_difficulty_bits",
            self.pow_difficulty_bits,
            0..=MAX_POW_DIFFICULTY_BITS,
            "",
        )?;
        in_range(
            "anti_bot.challenge_ttl_secs",
            self.challenge_ttl_secs,
            10..=3600,
            "seconds",
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{gateway_error_of, gateway_full_with};
    use crate::GatewayConfig;

    #[test]
    fn difficulty_bounds() {
        let text = gateway_full_with("pow_difficulty_bits = 20", "pow_difficulty_bits = 29");
        assert_eq!(
            gateway_error_of(&text),
            "anti_bot.pow_difficulty_bits: must be between 0 and 28, got 29"
        );
        let text = gateway_full_with("pow_difficulty_bits = 20", "pow_difficulty_bits = 300");
        assert_eq!(
            gateway_error_of(&text),
            "anti_bot.pow_difficulty_bits: invalid value: integer `300`, expected u8"
        );
        for good in ["0", "28"] {
            let text = gateway_full_with(
                "pow_difficulty_bits = 20",
                &format!("pow_difficulty_bits = {good}"),
            );
            assert!(GatewayConfig::from_toml_str(&text).is_ok());
        }
    }

    #[test]
    fn challenge_ttl_bounds() {
        for bad in ["9", "3601"] {
            let text = gateway_full_with(
                "challenge_ttl_secs = 300",
                &format!("challenge_ttl_secs = {bad}"),
            );
            assert_eq!(
                gateway_error_of(&text),
                format!(
                    "anti_bot.challenge_ttl_secs: must be between 10 and 3600 seconds, got {bad}"
                )
            );
        }
    }
}
