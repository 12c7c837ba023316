//! What the gateway tells browsers about their holds and queue position.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check::in_range;
use crate::ConfigError;

/// Customer-facing notification timings (`[notifications]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationConfig {
    /// Warn the customer this many seconds before their seat hold expires
    /// (1..=3600, the longest hold; default 60); see
    /// [`NotificationConfig::hold_warning`].
    pub hold_warning_secs: u64,
    /// How often a gateway publishes each queue's progress to the pages
    /// waiting in it (from its shared event tail, not a cluster read per
    /// page), in milliseconds (100..=60000, default 1000); see
    /// [`NotificationConfig::queue_poll`].
    pub queue_poll_ms: u64,
    /// Notification streams one customer may hold open on a gateway at
    /// once (1..=1000, default 8: a few tabs and a phone). More is a bot.
    pub max_streams_per_customer: usize,
    /// Notification streams one address (an IPv4 address, an IPv6 /64) may
    /// hold open on a gateway at once (1..=1000000, default 2000: a mobile
    /// carrier's NAT puts many fans behind one address).
    pub max_streams_per_ip: usize,
}

impl Default for NotificationConfig {
    /// Warn one minute before expiry, poll the queue every second, 8
    /// streams per customer and 2000 per address.
    fn default() -> Self {
        NotificationConfig {
            hold_warning_secs: 60,
            queue_poll_ms: 1000,
            max_streams_per_customer: 8,
            max_streams_per_ip: 2_000,
        }
    }
}

impl NotificationConfig {
    /// How long before a hold expires the customer is warned.
    pub fn hold_warning(&self) -> Duration {
        Duration::from_secs(self.hold_warning_secs)
    }

    /// Interval between publications of a queue's progress to waiting pages.
    pub fn queue_poll(&self) -> Duration {
        Duration::from_millis(self.queue_poll_ms)
    }

    /// Rejects warnings that can never fire and polling that hammers or
    /// starves the cluster.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        in_range(
            "notifications.hold_warning_secs",
            self.hold_warning_secs,
            1..=crate::sale::MAX_HOLD_TTL_SECS,
            "seconds",
        )?;
        in_range(
            "notifications.queue_poll_ms",
            self.queue_poll_ms,
            100..=60_000,
            "ms",
        )?;
        in_range(
            "notifications.max_streams_per_customer",
            self.max_streams_per_customer,
            1..=1_000,
            "",
        )?;
        in_range(
            "notifications.max_streams_per_ip",
            self.max_streams_per_ip,
            1..=1_000_000,
            "",
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{gateway_error_of, gateway_full_with};

    #[test]
    fn hold_warning_bounds() {
        for bad in ["0", "3601"] {
            let text = gateway_full_with(
                "hold_warning_secs = 30",
                &format!("hold_warning_secs = {bad}"),
            );
            assert_eq!(
                gateway_error_of(&text),
                format!(
                    "notifications.hold_warning_secs: must be between 1 and 3600 seconds, got {bad}"
                )
            );
        }
    }

    #[test]
    fn queue_poll_bounds() {
        for bad in ["99", "60001"] {
            let text = gateway_full_with("queue_poll_ms = 500", &format!("queue_poll_ms = {bad}"));
            assert_eq!(
                gateway_error_of(&text),
                format!("notifications.queue_poll_ms: must be between 100 and 60000 ms, got {bad}")
            );
        }
    }
}
