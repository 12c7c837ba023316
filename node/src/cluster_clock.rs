//! The time a leader stamps on entries: the median of its own wall clock and
//! its peers', so one wrong clock cannot move the sale's time.
//!
//! The state machine's time is `max(entry stamp, last)` (it never goes
//! back), so before this one entry stamped by a leader whose clock ran a
//! day ahead expired every hold and admission and forgot every remembered
//! reply, for good (issue 16, finding 4). Now every Raft reply carries the
//! replying node's wall clock. The leader keeps each peer's last reading
//! together with the moment of its *monotonic* clock it belongs to (the
//! middle of the call; the error is at most half the round trip), and
//! projects it to now along the monotonic clock, which no wall-clock jump
//! touches. An entry is stamped with the median of the leader's own wall
//! clock and the projections of the peers heard in the last [`FRESH_FOR`]:
//! with three or more clocks, one wrong clock — the leader's own, even one
//! that jumped a moment ago, or a follower's — cannot move the median out
//! of the range of the right ones. With one peer heard (no majority), the
//! middle value closer to the leader's own clock wins: it keeps its own
//! time rather than trusting one other node.
//!
//! (A first version kept offsets from the leader's wall clock; the
//! `clock-jump` nemesis and the `sale-clock` checker showed that a jump of
//! the leader's own clock then went unnoticed until every reading was
//! refreshed, and one entry stamped in between moved the sale a day ahead.)
//!
//! Only the leader's stamping changes; entries carry their stamp, so apply
//! stays deterministic and the log's meaning does not change. The offsets
//! are exported as `ingressoja_clock_offset_milliseconds` and, per peer,
//! `ingressoja_clock_peer_offset_milliseconds` (and alerted on), so an
//! operator sees a drifting node before it ever leads.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::proposer::wall_clock_ms;
use crate::raft_types::NodeId;

/// How long a peer's reading counts (a partitioned peer's last word stops
/// counting; heartbeats refresh the others many times a second).
pub const FRESH_FOR: Duration = Duration::from_secs(10);

/// Readings from calls whose round trip took longer are dropped: the
/// reply's clock is read after the peer's fsync, so a long call would make
/// a peer look ahead by up to the whole round trip.
pub const MAX_ROUND_TRIP: Duration = Duration::from_millis(250);

/// A peer's clock, and the moment of our monotonic clock it was read at.
#[derive(Debug, Clone, Copy)]
struct Reading {
    peer_ms: u64,
    at: Instant,
}

impl Reading {
    /// The peer's clock now, projected along our monotonic clock.
    fn now_ms(&self) -> i128 {
        i128::from(self.peer_ms) + self.at.elapsed().as_millis() as i128
    }
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

    /// Records that `peer` answered a call sent at our monotonic `sent` and
    /// answered at `received` with its wall clock at `peer_ms` (0: a node
    /// that does not send its clock, ignored; so is a call that took longer
    /// than [`MAX_ROUND_TRIP`]).
    pub fn observe(&self, peer: NodeId, peer_ms: u64, sent: Instant, received: Instant) {
        let round_trip = received.saturating_duration_since(sent);
        if peer_ms == 0 || round_trip > MAX_ROUND_TRIP {
            return;
        }
        let at = sent + round_trip / 2;
        self.lock().insert(peer, Reading { peer_ms, at });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Reading>> {
        self.readings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fresh readings projected to now, by peer.
    fn projections(&self) -> Vec<(NodeId, i128)> {
        let mut readings = self.lock();
        readings.retain(|_, r| r.at.elapsed() < FRESH_FOR);
        let mut now: Vec<(NodeId, i128)> =
            readings.iter().map(|(id, r)| (*id, r.now_ms())).collect();
        now.sort_unstable();
        now
    }

    /// The stamp for an entry proposed now: the median of our wall clock
    /// and the fresh peers' projected clocks (see the module doc).
    pub fn now_ms(&self) -> u64 {
        let local = i128::from(self.local_ms());
        let mut clocks: Vec<i128> = self.projections().into_iter().map(|(_, c)| c).collect();
        clocks.push(local);
        clocks.sort_unstable();
        let n = clocks.len();
        let median = if n % 2 == 1 {
            clocks[n / 2]
        } else {
            // No single middle: the one closer to our own clock.
            let (low, high) = (clocks[n / 2 - 1], clocks[n / 2]);
            if (local - low).abs() <= (high - local).abs() {
                low
            } else {
                high
            }
        };
        median.clamp(0, i128::from(u64::MAX)) as u64
    }

    /// How far the cluster's time is from our own clock (positive: ours is behind).
    pub fn offset_ms(&self) -> i64 {
        clamp_i64(i128::from(self.now_ms()) - i128::from(self.local_ms()))
    }

    /// Each fresh peer's clock minus ours, by peer id (for metrics).
    pub fn peer_offsets(&self) -> Vec<(NodeId, i64)> {
        let local = i128::from(self.local_ms());
        self.projections()
            .into_iter()
            .map(|(id, c)| (id, clamp_i64(c - local)))
            .collect()
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: u64 = 24 * 60 * 60 * 1000;
    const NOW: u64 = 1_800_000_000_000;
    /// Projections move with real time while a test runs.
    const SLACK_MS: u64 = 200;

    /// A clock whose own wall clock reads `local`, having just heard `peers` (id, clock).
    fn heard(local: u64, peers: &[(NodeId, u64)]) -> ClusterClock {
        let clock = ClusterClock::with_local(move || local);
        for &(id, peer_ms) in peers {
            let now = Instant::now();
            clock.observe(id, peer_ms, now, now);
        }
        clock
    }

    fn assert_near(actual: u64, expected: u64) {
        assert!(
            actual >= expected && actual <= expected + SLACK_MS,
            "{actual} is not {expected} (+{SLACK_MS} ms)"
        );
    }

    #[test]
    fn a_leader_a_day_ahead_stamps_the_time_its_followers_agree_on() {
        assert_near(
            heard(NOW + DAY_MS, &[(2, NOW), (3, NOW + 3)]).now_ms(),
            NOW + 3,
        );
        assert_near(heard(NOW - DAY_MS, &[(2, NOW), (3, NOW + 3)]).now_ms(), NOW);
    }

    #[test]
    fn a_jump_of_the_leaders_own_clock_after_the_readings_is_outvoted_at_once() {
        let local = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(NOW));
        let read = local.clone();
        let clock =
            ClusterClock::with_local(move || read.load(std::sync::atomic::Ordering::SeqCst));
        let now = Instant::now();
        clock.observe(2, NOW, now, now);
        clock.observe(3, NOW, now, now);
        local.store(NOW + DAY_MS, std::sync::atomic::Ordering::SeqCst);
        assert_near(clock.now_ms(), NOW);
        assert!(clock.offset_ms() < -(DAY_MS as i64) + SLACK_MS as i64 + 1);
    }

    #[test]
    fn a_follower_a_day_off_moves_nothing() {
        assert_near(
            heard(NOW, &[(2, NOW + DAY_MS), (3, NOW + 2)]).now_ms(),
            NOW + 2,
        );
        assert_near(heard(NOW, &[(2, NOW - DAY_MS), (3, NOW)]).now_ms(), NOW);
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
        assert_near(clock.now_ms(), NOW);
    }

    #[test]
    fn with_one_peer_heard_the_leader_keeps_its_own_time() {
        assert_eq!(heard(NOW, &[(2, NOW + DAY_MS)]).now_ms(), NOW);
        assert_eq!(heard(NOW, &[(2, NOW - DAY_MS)]).now_ms(), NOW);
        assert_eq!(heard(NOW, &[]).now_ms(), NOW);
    }

    #[test]
    fn a_reading_is_placed_at_the_middle_of_the_call_and_zero_is_ignored() {
        let clock = ClusterClock::with_local(|| NOW);
        let received = Instant::now();
        let sent = received - Duration::from_millis(40);
        // The peer read NOW+100 at the call's middle, 20 ms ago: NOW+120 now.
        clock.observe(2, NOW + 100, sent, received);
        clock.observe(3, 0, sent, received);
        let offsets = clock.peer_offsets();
        assert_eq!(offsets.len(), 1, "{offsets:?}");
        assert!(
            (120..=120 + SLACK_MS as i64).contains(&offsets[0].1),
            "{offsets:?}"
        );
    }

    #[test]
    fn slow_calls_stale_readings_and_absurd_clocks_neither_count_nor_panic() {
        let clock = ClusterClock::with_local(|| NOW);
        let sent = Instant::now();
        clock.observe(2, NOW + 1_000, sent, sent + Duration::from_secs(2));
        assert!(clock.peer_offsets().is_empty(), "a 2 s call is dropped");
        let now = Instant::now();
        clock.observe(2, u64::MAX, now, now);
        assert_eq!(clock.peer_offsets(), vec![(2, i64::MAX)]);
        assert_eq!(clock.now_ms(), NOW);
        let clock = heard(NOW + DAY_MS, &[(2, NOW), (3, NOW)]);
        for reading in clock.lock().values_mut() {
            reading.at -= FRESH_FOR;
        }
        assert_eq!(clock.now_ms(), NOW + DAY_MS, "stale readings stop counting");
    }
}
