//! Lock-free counters every customer bumps, read by the progress line and by
//! the stop condition (the sale ends when every ticket is acknowledged sold).

use std::sync::atomic::{AtomicU64, Ordering};

/// Running totals of one system's run.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Committed holds and purchases.
    pub committed: AtomicU64,
    /// Queue joins that succeeded.
    pub joins: AtomicU64,
    /// Tickets in purchases the system acknowledged.
    pub tickets_sold: AtomicU64,
    /// Sale-phase operations started (for `--total-ops`).
    pub ops: AtomicU64,
    /// Operations refused or failed.
    pub failed: AtomicU64,
}

impl LiveCounters {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value of `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
