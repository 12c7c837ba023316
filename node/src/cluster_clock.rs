//! The time a leader stamps on entries: its own wall clock corrected by the
//! median of its peers' clocks, so one wrong clock cannot move the sale's time.
//!
//! The state machine's time is `max(entry stamp, last)` (it never goes
//! back), so before this one entry stamped by a leader whose clock ran a
//! day ahead expired every hold and admission and forgot every remembered
//! reply, for good (issue 16, finding 4). Now every Raft reply carries the
//! replying node's wall clock. The leader keeps each peer's offset from its
//! own clock, measured against the middle of the call (the error is at most
//! half the round trip: well under a millisecond on a LAN), and stamps
//! entries with its own clock plus the median of the offsets it heard in
//! the last [`FRESH_FOR`], its own (zero) included. In a cluster of three
//! or more, one clock that is wrong by any amount — the leader's own, or a
//! follower's — cannot move the median outside the range of the correct
//! ones. With a single peer heard (an even count, no majority), the middle
//! value closer to its own clock wins: the leader keeps its own time rather
//! than trusting one other node.
//!
//! Only the leader's stamping changes; entries carry their stamp, so apply
//! stays deterministic and the log's meaning does not change. The offset is
//! exported as `ingressoja_clock_offset_seconds` (and alerted on), so an
//! operator sees a drifting node before it ever leads.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::proposer::wall_clock_ms;
use crate::raft_types::NodeId;

/// How long a peer's clock reading counts (a partitioned peer's last word
/// stops counting; heartbeats refresh the others many times a second).
pub const FRESH_FOR: Duration = Duration::from_secs(5);

/// A peer's clock relative to ours, and when it was read.
#[derive(Debug, Clone, Copy)]
struct Reading {
    offset_ms: i64,
    at: Instant,
}

/// This node's view of the cluster's time (shared by the Raft client, the
/// proposer and the expiry ticker).
pub struct ClusterClock {
    /// Our own wall clock (a test passes a skewed one).
    local: Box<dyn Fn() -> u64 + Send + Sync>,
    readings: Mutex<HashMap<NodeId, Reading>>,
}

impl Default for ClusterClock {
    fn default() -> Self {
        ClusterClock::with_local(wall_clock_ms)
    }
}

impl std::fmt::Debug for ClusterClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterClock")
            .field("offset_ms", &self.offset_ms())
            .finish()
    }
}

impl ClusterClock {
    /// A clock whose own wall clock is `local` (milliseconds since the epoch).
    pub fn with_local(local: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        ClusterClock {
            local: Box::new(local),
            readings: Mutex::default(),
        }
    }

    /// Our own wall clock, milliseconds since the epoch.
    pub fn local_ms(&self) -> u64 {
        (self.local)()
    }

    /// Records that `peer` answered a call sent at our `sent_ms` and
    /// answered at our `received_ms` with its clock at `peer_ms` (0: a node
    /// that does not send its clock, ignored).
    pub fn observe(&self, peer: NodeId, peer_ms: u64, sent_ms: u64, received_ms: u64) {
        if peer_ms == 0 {
            return;
        }
        let middle = sent_ms / 2 + received_ms / 2 + (sent_ms % 2 + received_ms % 2) / 2;
        let offset_ms = peer_ms as i64 - middle as i64;
        self.lock().insert(
            peer,
            Reading {
                offset_ms,
                at: Instant::now(),
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Reading>> {
        self.readings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How far the cluster's time is from our own clock (positive: ours is
    /// behind): the median of the fresh offsets and our own zero.
    pub fn offset_ms(&self) -> i64 {
        let mut offsets: Vec<i64> = {
            let mut readings = self.lock();
            readings.retain(|_, r| r.at.elapsed() < FRESH_FOR);
            readings.values().map(|r| r.offset_ms).collect()
        };
        offsets.push(0);
        offsets.sort_unstable();
        let n = offsets.len();
        if n % 2 == 1 {
            return offsets[n / 2];
        }
        // No single middle: the one closer to our own clock.
        let (low, high) = (offsets[n / 2 - 1], offsets[n / 2]);
        if low.unsigned_abs() <= high.unsigned_abs() {
            low
        } else {
            high
        }
    }

    /// Each peer's fresh offset from our clock, by peer id (for metrics).
    pub fn peer_offsets(&self) -> Vec<(NodeId, i64)> {
        let mut readings = self.lock();
        readings.retain(|_, r| r.at.elapsed() < FRESH_FOR);
        let mut offsets: Vec<(NodeId, i64)> =
            readings.iter().map(|(id, r)| (*id, r.offset_ms)).collect();
        offsets.sort_unstable();
        offsets
    }

    /// The stamp for an entry proposed now: our clock plus [`Self::offset_ms`].
    pub fn now_ms(&self) -> u64 {
        let local = self.local_ms() as i64;
        local.saturating_add(self.offset_ms()).max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: u64 = 24 * 60 * 60 * 1000;
    const NOW: u64 = 1_800_000_000_000;

    /// A clock whose own wall clock reads `local`, having heard `peers` (id, clock).
    fn heard(local: u64, peers: &[(NodeId, u64)]) -> ClusterClock {
        let clock = ClusterClock::with_local(move || local);
        for &(id, peer_ms) in peers {
            clock.observe(id, peer_ms, local - 1, local + 1);
        }
        clock
    }

    #[test]
    fn a_leader_a_day_ahead_stamps_the_time_its_followers_agree_on() {
        let clock = heard(NOW + DAY_MS, &[(2, NOW), (3, NOW + 3)]);
        assert_eq!(clock.now_ms(), NOW + 3);
        let clock = heard(NOW - DAY_MS, &[(2, NOW), (3, NOW + 3)]);
        assert_eq!(clock.now_ms(), NOW);
    }

    #[test]
    fn a_follower_a_day_off_moves_nothing() {
        assert_eq!(
            heard(NOW, &[(2, NOW + DAY_MS), (3, NOW + 2)]).now_ms(),
            NOW + 2
        );
        assert_eq!(heard(NOW, &[(2, NOW - DAY_MS), (3, NOW)]).now_ms(), NOW);
        // Five nodes, two of them wrong in either direction.
        let clock = heard(
            NOW,
            &[
                (2, NOW + DAY_MS),
                (3, NOW - DAY_MS),
                (4, NOW + 1),
                (5, NOW - 1),
            ],
        );
        assert_eq!(clock.now_ms(), NOW);
    }

    #[test]
    fn with_one_peer_heard_the_leader_keeps_its_own_time() {
        assert_eq!(heard(NOW, &[(2, NOW + DAY_MS)]).now_ms(), NOW);
        assert_eq!(heard(NOW, &[(2, NOW - DAY_MS)]).now_ms(), NOW);
        assert_eq!(heard(NOW, &[]).now_ms(), NOW);
    }

    #[test]
    fn the_offset_is_measured_against_the_middle_of_the_call_and_zero_is_ignored() {
        let clock = ClusterClock::with_local(|| NOW);
        // Sent at NOW-10, answered at NOW+10: the peer read NOW+100 at about NOW.
        clock.observe(2, NOW + 100, NOW - 10, NOW + 10);
        clock.observe(3, NOW + 100, NOW - 10, NOW + 10);
        clock.observe(4, 0, NOW - 10, NOW + 10);
        assert_eq!(clock.offset_ms(), 100);
    }

    #[test]
    fn stale_readings_stop_counting() {
        let clock = heard(NOW + DAY_MS, &[(2, NOW), (3, NOW)]);
        for reading in clock.lock().values_mut() {
            reading.at -= FRESH_FOR;
        }
        assert_eq!(clock.now_ms(), NOW + DAY_MS);
    }
}
