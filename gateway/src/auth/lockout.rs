//! Backoff after repeated failed logins, computed from the counters the
//! cluster records, so every gateway enforces the same lock.

use std::time::Duration;

/// The lock policy (from `[login]` in the gateway config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures in a row before the account is locked.
    pub after: u32,
    /// The first lock's length; each further failure doubles it.
    pub base: Duration,
    /// The longest lock.
    pub max: Duration,
}

impl LockoutPolicy {
    /// How much longer the account stays locked at `now_ms`, given
    /// `failures` in a row, the last at `last_failure_ms`.
    pub fn remaining(&self, failures: u32, last_failure_ms: u64, now_ms: u64) -> Option<Duration> {
        if failures < self.after {
            return None;
        }
        let doublings = (failures - self.after).min(30);
        let lock = self.base.saturating_mul(1u32 << doublings).min(self.max);
        let until = last_failure_ms.saturating_add(lock.as_millis() as u64);
        (now_ms < until).then(|| Duration::from_millis(until - now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: LockoutPolicy = LockoutPolicy {
        after: 3,
        base: Duration::from_secs(30),
        max: Duration::from_secs(100),
    };

    #[test]
    fn locks_after_the_threshold_and_doubles_up_to_the_cap() {
        assert_eq!(POLICY.remaining(2, 1_000, 1_000), None);
        assert_eq!(
            POLICY.remaining(3, 1_000, 1_000),
            Some(Duration::from_secs(30))
        );
        assert_eq!(POLICY.remaining(3, 1_000, 31_000), None);
        assert_eq!(POLICY.remaining(4, 0, 0), Some(Duration::from_secs(60)));
        assert_eq!(POLICY.remaining(5, 0, 0), Some(Duration::from_secs(100)));
        assert_eq!(
            POLICY.remaining(u32::MAX, 0, 99_999),
            Some(Duration::from_millis(1))
        );
    }
}
