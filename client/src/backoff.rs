//! How long to wait before the next attempt while the cluster has no
//! reachable leader (an election, a restarting node).
//!
//! Short at first, so a quick election costs little; capped, so a long outage
//! is still probed a couple of times a second.

use std::time::Duration;

/// The first pause.
pub(crate) const INITIAL: Duration = Duration::from_millis(50);
/// The longest pause.
pub(crate) const MAX: Duration = Duration::from_millis(500);

/// A doubling pause, from [`INITIAL`] up to [`MAX`].
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    /// A fresh backoff, starting at [`INITIAL`].
    pub(crate) fn new() -> Self {
        Backoff { next: INITIAL }
    }

    /// The pause to take now; the following one will be twice as long (capped).
    pub(crate) fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(MAX);
        pause
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_50ms_and_caps_at_500ms() {
        let mut backoff = Backoff::new();
        let pauses: Vec<u128> = (0..7).map(|_| backoff.next_pause().as_millis()).collect();
        assert_eq!(pauses, vec![50, 100, 200, 400, 500, 500, 500]);
    }

    #[test]
    fn never_exceeds_the_cap() {
        let mut backoff = Backoff::new();
        for _ in 0..100 {
            assert!(backoff.next_pause() <= MAX);
        }
    }
}
