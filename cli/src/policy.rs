//! `event create`'s sale-rule flags, turned into a [`SalePolicy`].

use ingressoja_client::proto::ticketing::SalePolicy;

use crate::format::now_ms;
use crate::rfc3339::parse_rfc3339;

/// Help heading of the sale-rule flags.
const POLICY: &str = "Sale rules";

/// Longest admission (in seconds) that still fits in milliseconds.
const MAX_TTL_SECS: u64 = u64::MAX / 1000;

/// The sale rules of a new event; none given means no rules beyond the
/// categories' limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct PolicyArgs {
    /// Most tickets one customer may hold plus own across all categories.
    #[arg(long, value_name = "N", help_heading = POLICY, value_parser = clap::value_parser!(u32).range(1..))]
    pub event_limit: Option<u32>,

    /// Most tickets in a single hold.
    #[arg(long, value_name = "N", help_heading = POLICY, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_per_hold: Option<u32>,

    /// At most one live hold per customer.
    #[arg(long, help_heading = POLICY)]
    pub one_live_hold: bool,

    /// When the sale opens: RFC 3339 (2025-06-01T10:00:00-03:00), ms since
    /// the Unix epoch, or +SECONDS from now.
    #[arg(long, value_name = "WHEN", help_heading = POLICY, value_parser = parse_opens_at)]
    pub opens_at: Option<u64>,

    /// Holds need an admission from the virtual queue.
    #[arg(long, help_heading = POLICY)]
    pub queue: bool,

    /// Queue admissions per minute.
    #[arg(long, value_name = "N", help_heading = POLICY, requires = "queue", value_parser = clap::value_parser!(u32).range(1..))]
    pub admit_per_minute: Option<u32>,

    /// Most admitted shoppers at once.
    #[arg(long, value_name = "N", help_heading = POLICY, requires = "queue", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_active: Option<u32>,

    /// How long an unused admission lasts (default 600).
    #[arg(long, value_name = "N", help_heading = POLICY, requires = "queue", value_parser = clap::value_parser!(u64).range(1..=MAX_TTL_SECS))]
    pub admission_ttl_secs: Option<u64>,

    /// Release the hold when a payment is declined or fails (default: keep
    /// it until it expires, so the buyer can pay another way).
    #[arg(long, help_heading = POLICY)]
    pub release_on_payment_failure: bool,
}

impl PolicyArgs {
    /// The policy to send, `None` when no flag was given.
    pub fn policy(&self) -> Option<SalePolicy> {
        let policy = SalePolicy {
            per_customer_event_limit: self.event_limit.unwrap_or(0),
            max_per_hold: self.max_per_hold.unwrap_or(0),
            one_live_hold: self.one_live_hold,
            sale_opens_at_ms: self.opens_at.unwrap_or(0),
            queue_enabled: self.queue,
            admit_per_minute: self.admit_per_minute.unwrap_or(0),
            max_active_shoppers: self.max_active.unwrap_or(0),
            admission_ttl_ms: self.admission_ttl_secs.unwrap_or(0).saturating_mul(1000),
            release_hold_on_payment_failure: self.release_on_payment_failure,
        };
        (policy != SalePolicy::default()).then_some(policy)
    }
}

/// `--opens-at`: RFC 3339, milliseconds, or `+SECONDS` from now.
pub fn parse_opens_at(text: &str) -> Result<u64, String> {
    opens_at(text.trim(), now_ms())
}

/// [`parse_opens_at`] with the current time given.
fn opens_at(text: &str, now_ms: u64) -> Result<u64, String> {
    if let Some(secs) = text.strip_prefix('+') {
        let secs: u64 =
            digits(secs).ok_or_else(|| format!("expected +SECONDS (e.g. +300), found {text:?}"))?;
        return secs
            .checked_mul(1000)
            .and_then(|ms| ms.checked_add(now_ms))
            .ok_or_else(|| format!("{text:?} is too far in the future"));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
        return digits(text).ok_or_else(|| format!("{text:?} is too large"));
    }
    parse_rfc3339(text)
}

/// A plain unsigned number (no sign, no spaces).
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flag_means_no_policy() {
        assert_eq!(PolicyArgs::default().policy(), None);
    }

    #[test]
    fn flags_fill_the_policy() {
        let args = PolicyArgs {
            event_limit: Some(4),
            max_per_hold: Some(2),
            one_live_hold: true,
            opens_at: Some(1_000),
            queue: true,
            admit_per_minute: Some(600),
            max_active: Some(50),
            admission_ttl_secs: Some(300),
            release_on_payment_failure: true,
        };
        assert_eq!(
            args.policy(),
            Some(SalePolicy {
                per_customer_event_limit: 4,
                max_per_hold: 2,
                one_live_hold: true,
                sale_opens_at_ms: 1_000,
                queue_enabled: true,
                admit_per_minute: 600,
                max_active_shoppers: 50,
                admission_ttl_ms: 300_000,
                release_hold_on_payment_failure: true,
            })
        );
    }

    #[test]
    fn opens_at_takes_three_forms() {
        assert_eq!(opens_at("+300", 1_000), Ok(301_000));
        assert_eq!(opens_at("+0", 1_000), Ok(1_000));
        assert_eq!(opens_at("1748781296789", 0), Ok(1_748_781_296_789));
        assert_eq!(
            opens_at("2025-06-01T12:34:56.789Z", 0),
            Ok(1_748_781_296_789)
        );
    }

    #[test]
    fn bad_opens_at_says_why() {
        assert!(opens_at("+", 0).unwrap_err().contains("+SECONDS"));
        assert!(opens_at("+-5", 0).unwrap_err().contains("+SECONDS"));
        assert!(opens_at("+5m", 0).unwrap_err().contains("+SECONDS"));
        assert!(opens_at("+18446744073709551615", 0)
            .unwrap_err()
            .contains("too far"));
        assert!(opens_at("99999999999999999999", 0)
            .unwrap_err()
            .contains("too large"));
        assert!(opens_at("-5", 0).unwrap_err().contains("RFC 3339"));
        assert!(opens_at("tomorrow", 0).unwrap_err().contains("RFC 3339"));
    }
}
