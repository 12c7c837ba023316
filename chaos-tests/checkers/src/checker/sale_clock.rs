//! The sale's clock stays near real time: every acknowledged hold's expiry,
//! measured against the harness's own clock when the reply arrived, lies
//! between [`EARLIEST_MS`] and [`LATEST_MS`] from then.
//!
//! The cluster's time is the entries' stamps and never runs back, so one
//! leader whose clock jumped ahead and stamped entries with it moved the
//! sale's time ahead for good: every hold and admission expired at once and
//! every remembered reply was forgotten (issue 16, finding 4). Holds show it
//! first: their expiry is the stamp plus the hold's lifetime. The bounds
//! leave room for the clock nemesis's ±30 s skews and for lifetimes of
//! minutes, and catch jumps of an hour or a day.

use super::{AnomalyKind, CheckResult, Run};
use crate::history::{OpBody, Outcome};

/// An expiry this far in the past when the hold was acknowledged is a clock
/// gone back (or a hold born expired).
pub const EARLIEST_MS: i64 = -5 * 60 * 1000;
/// An expiry this far ahead is a clock gone forward (hold lifetimes here
/// are seconds to minutes).
pub const LATEST_MS: i64 = 20 * 60 * 1000;

/// Checks every acknowledged hold that recorded its expiry.
pub fn check(run: &Run) -> CheckResult {
    let mut result = CheckResult::new("sale-clock");
    for op in run.operations {
        let OpBody::Hold {
            outcome: Outcome::Ok(reply),
            ..
        } = &op.body
        else {
            continue;
        };
        let Some(expires_in_ms) = reply.expires_in_ms else {
            continue;
        };
        result.count("holds_checked", 1);
        if !(EARLIEST_MS..=LATEST_MS).contains(&expires_in_ms) {
            result.anomaly(
                AnomalyKind::ClockJumped,
                format!(
                    "{op}: hold {} expires {:+.1} s from the harness's clock when acknowledged \
                     (allowed {:+} s to {:+} s): the cluster's time left real time",
                    reply.hold_id,
                    expires_in_ms as f64 / 1000.0,
                    EARLIEST_MS / 1000,
                    LATEST_MS / 1000
                ),
            );
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;
    use crate::checker::Validity;
    use crate::final_state::FinalState;
    use crate::history::{HoldReply, Reply};

    fn held_expiring_in(hold_id: u64, expires_in_ms: i64) -> Reply {
        Reply::Hold(HoldReply {
            hold_id,
            expires_in_ms: Some(expires_in_ms),
        })
    }

    #[test]
    fn holds_expiring_within_their_lifetime_pass_and_unrecorded_ones_are_skipped() {
        let mut s = Script::new();
        for (p, expires_in_ms) in [(1, 5_000), (2, 0), (3, -30_000), (4, 600_000)] {
            s.call(p, hold("ana", 1));
            s.ok(p, held_expiring_in(p, expires_in_ms));
        }
        s.call(5, hold("bia", 1));
        s.ok(5, held(5));
        let result = check(&run(&s.ops(), &FinalState::default(), &spec()));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
        assert_eq!(result.counts["holds_checked"], 4);
    }

    #[test]
    fn a_hold_stamped_a_day_ahead_or_an_hour_behind_is_caught() {
        let mut s = Script::new();
        s.call(1, hold("ana", 1));
        s.ok(1, held_expiring_in(7, 24 * 3_600_000 + 5_000));
        s.call(2, hold("bia", 1));
        s.ok(2, held_expiring_in(8, -3_600_000));
        let result = check(&run(&s.ops(), &FinalState::default(), &spec()));
        assert!(
            result.has(AnomalyKind::ClockJumped),
            "{:?}",
            result.anomalies
        );
        assert_eq!(result.anomalies.len(), 2);
        assert!(
            result.anomalies[0]
                .detail
                .contains("hold 7 expires +86405.0 s"),
            "{}",
            result.anomalies[0].detail
        );
    }
}
