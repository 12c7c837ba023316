//! Ticket-sale business knobs.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Longest hold we accept: one hour.
pub(crate) const MAX_HOLD_TTL_SECS: u64 = 3600;

/// Parameters of the sale flow.
///
/// The node taking a hold stamps it with its own TTL, so every node of a
/// cluster should use the same values for holds to behave uniformly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaleConfig {
    /// How long a seat hold lasts before the seat returns to sale. The
    /// product rule is 5 minutes; tests use a few seconds.
    pub hold_ttl_secs: u64,
}

impl Default for SaleConfig {
    /// 5-minute holds, the product default.
    fn default() -> Self {
        SaleConfig { hold_ttl_secs: 300 }
    }
}

impl SaleConfig {
    /// Rejects holds that expire immediately or linger for hours.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let ttl = self.hold_ttl_secs;
        if !(1..=MAX_HOLD_TTL_SECS).contains(&ttl) {
            return Err(ConfigError::invalid(
                "sale.hold_ttl_secs",
                format!("must be between 1 and {MAX_HOLD_TTL_SECS} seconds, got {ttl}"),
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
    fn hold_ttl_bounds() {
        for bad in ["0", "3601"] {
            let text = full_with("hold_ttl_secs = 300", &format!("hold_ttl_secs = {bad}"));
            assert_eq!(
                error_of(&text),
                format!("sale.hold_ttl_secs: must be between 1 and 3600 seconds, got {bad}")
            );
        }
        for good in ["1", "3600"] {
            let text = full_with("hold_ttl_secs = 300", &format!("hold_ttl_secs = {good}"));
            assert!(NodeConfig::from_toml_str(&text).is_ok());
        }
    }
}
