//! Per-event sale policies: limits, one live hold, sale opening, queue and payment-failure rules.

use serde::{Deserialize, Serialize};

use super::rejection::Rejection;

/// Default admission lifetime when the organiser sets none: 10 minutes.
pub const DEFAULT_ADMISSION_TTL_MS: u64 = 10 * 60 * 1000;

/// How the virtual queue admits people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePolicy {
    /// Admissions per minute (0: bounded only by `max_active`).
    pub admit_per_minute: u32,
    /// Most live admissions at once (0: bounded only by the rate).
    pub max_active: u32,
    /// How long an admission lasts.
    pub admission_ttl_ms: u64,
}

/// The rules of one event's sale. Zero means "no limit".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalePolicy {
    /// Tickets one customer may hold plus own across the event's categories.
    pub per_customer_event_limit: u32,
    /// Most tickets in one hold.
    pub max_per_hold: u32,
    /// At most one live hold per customer for the event.
    pub one_live_hold: bool,
    /// Cluster time when holds and admissions start.
    pub sale_opens_at_ms: u64,
    /// The virtual queue, when enabled.
    pub queue: Option<QueuePolicy>,
    /// After a failed payment, release the hold instead of keeping it until expiry.
    pub release_hold_on_payment_failure: bool,
}

impl SalePolicy {
    /// Field checks; fills the admission TTL default.
    pub fn validated(mut self) -> Result<SalePolicy, Rejection> {
        if let Some(q) = &mut self.queue {
            if q.admit_per_minute == 0 && q.max_active == 0 {
                return Err(Rejection::invalid(
                    "policy.admit_per_minute",
                    "a queue needs an admission rate or a maximum of active shoppers",
                ));
            }
            if q.admission_ttl_ms == 0 {
                q.admission_ttl_ms = DEFAULT_ADMISSION_TTL_MS;
            }
            if q.admission_ttl_ms > 24 * 60 * 60 * 1000 {
                return Err(Rejection::invalid(
                    "policy.admission_ttl_ms",
                    "at most 24 hours",
                ));
            }
        }
        Ok(self)
    }
}
