//! The longest apply stall of one node, seen from outside: the longest
//! stretch during which the node had log entries it had not applied and
//! applied none of them. A snapshot built under the state lock, a slow
//! fsync or a blocked apply loop all show up here.

use std::time::{Duration, Instant};

use super::probe::NodeProgress;

/// Follows one node's applied index sample by sample.
#[derive(Debug, Default)]
pub struct StallMeter {
    /// The applied index of the last sample.
    applied: Option<u64>,
    /// Whether the last sample had entries waiting.
    waiting: bool,
    /// When the applied index was last seen to move (or nothing was waiting).
    progress_at: Option<Instant>,
    longest: Duration,
}

impl StallMeter {
    /// Takes the sample `progress`, answered at `at`.
    ///
    /// While the previous sample had entries waiting, the stretch from the
    /// last sample that saw progress to this answer counts, whether or not
    /// this one shows progress: a node stalled under its state lock answers
    /// its metrics late too (the scrape reads the lock), with the index
    /// already moved, and that wait is the stall. So the figure is an upper
    /// bound, long by at most one sampling period plus a scrape.
    pub fn observe(&mut self, at: Instant, progress: NodeProgress) {
        let moved = self.applied != Some(progress.applied);
        if self.waiting {
            if let Some(since) = self.progress_at {
                self.longest = self.longest.max(at.saturating_duration_since(since));
            }
        }
        self.waiting = progress.last_log > progress.applied;
        self.applied = Some(progress.applied);
        if moved || !self.waiting {
            self.progress_at = Some(at);
        }
    }

    /// The node did not answer (killed, restarting): its next answer starts afresh.
    pub fn lost(&mut self) {
        self.applied = None;
        self.waiting = false;
        self.progress_at = None;
    }

    /// The longest stall seen so far.
    pub fn longest(&self) -> Duration {
        self.longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(progress: (u64, u64)) -> NodeProgress {
        NodeProgress {
            last_log: progress.0,
            applied: progress.1,
            ..NodeProgress::default()
        }
    }

    #[test]
    fn a_stretch_with_entries_waiting_and_none_applied_is_a_stall() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut m = StallMeter::default();
        m.observe(ms(0), at((10, 10)));
        m.observe(ms(20), at((12, 11)));
        // 11 stays applied while 12 waits, from 20 ms until the answer at 100 ms.
        m.observe(ms(40), at((12, 11)));
        m.observe(ms(60), at((13, 11)));
        m.observe(ms(80), at((13, 11)));
        m.observe(ms(100), at((13, 13)));
        assert_eq!(m.longest(), Duration::from_millis(80));
        // Idle (nothing waiting) is no stall, however long.
        m.observe(ms(5_000), at((13, 13)));
        m.observe(ms(9_000), at((13, 13)));
        assert_eq!(m.longest(), Duration::from_millis(80));
    }

    #[test]
    fn an_answer_delayed_by_the_stall_counts_it_even_with_progress() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut m = StallMeter::default();
        m.observe(ms(0), at((20, 19)));
        // The node sat on its lock for 1.5 s; the scrape waited with it and
        // came back with the index already moved on.
        m.observe(ms(1_520), at((40, 39)));
        assert_eq!(m.longest(), Duration::from_millis(1_520));
    }

    #[test]
    fn a_node_that_was_down_starts_afresh() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut m = StallMeter::default();
        m.observe(ms(0), at((20, 10)));
        m.lost();
        // Back after 3 s with entries waiting: the downtime is not a stall,
        // only the one sample period it then waited.
        m.observe(ms(3_000), at((40, 10)));
        m.observe(ms(3_020), at((40, 12)));
        assert_eq!(m.longest(), Duration::from_millis(20));
    }
}
