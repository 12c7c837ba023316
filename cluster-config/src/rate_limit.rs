//! Per-IP and per-customer request rate limits of the gateway.

use serde::{Deserialize, Serialize};

use crate::check::at_least;
use crate::ConfigError;

/// One token-bucket limit: a sustained rate plus a burst allowance.
///
/// Written as an inline table: `{ per_minute = 20, burst = 5 }`. Both must
/// be >= 1 (a zero limit would lock everyone out; to relax a limit, raise
/// it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per minute (bucket refill rate).
    pub per_minute: u32,
    /// Requests accepted at once above the sustained rate (bucket size).
    pub burst: u32,
}

impl RateLimit {
    /// Shorthand for the defaults below.
    const fn new(per_minute: u32, burst: u32) -> Self {
        RateLimit { per_minute, burst }
    }

    /// `field` is the path of this limit, e.g. `rate_limits.login_per_ip`.
    fn validate(&self, field: &str) -> Result<(), ConfigError> {
        at_least(&format!("{field}.per_minute"), self.per_minute, 1)?;
        at_least(&format!("{field}.burst"), self.burst, 1)?;
        Ok(())
    }
}

/// Every rate limit the gateway enforces (`[rate_limits]`), so that bots
/// and scripted clients cannot starve real customers during a sale.
///
/// Sensitive routes are limited both per client IP and per logged-in
/// customer; every limit defaults individually when omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Login attempts per client IP (default 30/min, burst 10).
    pub login_per_ip: RateLimit,
    /// Login attempts per customer account (default 10/min, burst 5).
    pub login_per_customer: RateLimit,
    /// Sale-queue joins per client IP (default 60/min, burst 20).
    pub queue_join_per_ip: RateLimit,
    /// Sale-queue joins per customer (default 6/min, burst 3).
    pub queue_join_per_customer: RateLimit,
    /// Hold/purchase requests per client IP (default 120/min, burst 30).
    pub purchase_per_ip: RateLimit,
    /// Hold/purchase requests per customer (default 20/min, burst 5).
    pub purchase_per_customer: RateLimit,
    /// Every other request, per client IP (default 600/min, burst 200).
    pub api_per_ip: RateLimit,
}

impl Default for RateLimits {
    /// Generous for humans, tight for scripts; see each field.
    fn default() -> Self {
        RateLimits {
            login_per_ip: RateLimit::new(30, 10),
            login_per_customer: RateLimit::new(10, 5),
            queue_join_per_ip: RateLimit::new(60, 20),
            queue_join_per_customer: RateLimit::new(6, 3),
            purchase_per_ip: RateLimit::new(120, 30),
            purchase_per_customer: RateLimit::new(20, 5),
            api_per_ip: RateLimit::new(600, 200),
        }
    }
}

impl RateLimits {
    /// Every limit with its TOML key, in declaration order.
    fn named(&self) -> [(&'static str, &RateLimit); 7] {
        [
            ("login_per_ip", &self.login_per_ip),
            ("login_per_customer", &self.login_per_customer),
            ("queue_join_per_ip", &self.queue_join_per_ip),
            ("queue_join_per_customer", &self.queue_join_per_customer),
            ("purchase_per_ip", &self.purchase_per_ip),
            ("purchase_per_customer", &self.purchase_per_customer),
            ("api_per_ip", &self.api_per_ip),
        ]
    }

    /// Rejects zero rates or bursts, naming the limit.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (name, limit) in self.named() {
            limit.validate(&format!("rate_limits.{name}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimits;
    use crate::test_support::{gateway_error_of, gateway_full_with};

    #[test]
    fn defaults_are_valid() {
        assert!(RateLimits::default().validate().is_ok());
    }

    #[test]
    fn zero_rate_or_burst_names_the_limit() {
        let text = gateway_full_with(
            "login_per_ip = { per_minute = 20, burst = 5 }",
            "login_per_ip = { per_minute = 20, burst = 0 }",
        );
        assert_eq!(
            gateway_error_of(&text),
            "rate_limits.login_per_ip.burst: must be >= 1, got 0"
        );
        let text = gateway_full_with(
            "api_per_ip = { per_minute = 500, burst = 100 }",
            "api_per_ip = { per_minute = 0, burst = 100 }",
        );
        assert_eq!(
            gateway_error_of(&text),
            "rate_limits.api_per_ip.per_minute: must be >= 1, got 0"
        );
    }

    #[test]
    fn a_limit_needs_both_numbers() {
        let text = gateway_full_with(
            "purchase_per_customer = { per_minute = 15, burst = 4 }",
            "purchase_per_customer = { per_minute = 15 }",
        );
        assert_eq!(
            gateway_error_of(&text),
            "rate_limits.purchase_per_customer.burst: missing field `burst`"
        );
    }

    #[test]
    fn negative_rate_names_the_field() {
        let text = gateway_full_with("per_minute = 8,", "per_minute = -8,");
        assert_eq!(
            gateway_error_of(&text),
            "rate_limits.login_per_customer.per_minute: invalid value: integer `-8`, expected u32"
        );
    }
}
