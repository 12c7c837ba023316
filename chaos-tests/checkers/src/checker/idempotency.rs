//! Idempotency: a request sent again with its key gets its first answer,
//! and no answer betrays a retry that ran a second time.
//!
//! The workload sends some acknowledged joins, holds, purchases and
//! releases again with the same key (a `replay`), as a phone does whose
//! reply was lost on the way. An acknowledged replay must name what the
//! first answer named: the same queue number, the same hold, the same
//! tickets. A definite refusal of a replay is an anomaly too: the first
//! send was acknowledged, so the second must be answered the same way.
//!
//! Outside replays, some refusals can only come from a retry that ran again
//! instead of getting its first answer: `already_purchased` (the workload
//! buys each hold at most once, its retries reusing the key),
//! `idempotency_key_reused` (it never sends a key with another request),
//! and `hold_not_found` for a hold this history acknowledged.
//!
//! A replay whose outcome is unknown (the cluster did not answer) says
//! nothing and is only counted.

use std::collections::HashSet;

use serde_json::Value;

use super::{AnomalyKind, CheckResult, Run};
use crate::history::{codes, OpBody, OpKind, Outcome, Reply};

/// What an acknowledged answer names: what its replay must name again.
#[derive(Debug, PartialEq, Eq)]
enum Named {
    Seq(u64),
    Hold(u64),
    Tickets(Vec<String>),
    Released,
}

/// What the `of`-kind answer `value` names, or why it cannot be read.
fn named(of: OpKind, value: &Value) -> Result<Named, String> {
    match Reply::from_value(of, value.clone()) {
        Ok(Reply::Join(r)) => Ok(Named::Seq(r.seq)),
        Ok(Reply::Hold(r)) => Ok(Named::Hold(r.hold_id)),
        Ok(Reply::Purchase(r)) => Ok(Named::Tickets(r.tickets)),
        Ok(Reply::Release(_)) => Ok(Named::Released),
        Ok(other) => Err(format!("a {} is not replayed", other.kind())),
        Err(e) => Err(format!("not a {of} answer: {e}")),
    }
}

/// Checks every replay, and every refusal only a re-run retry can give.
pub fn check(run: &Run) -> CheckResult {
    let mut result = CheckResult::new("idempotency");
    let acknowledged_holds: HashSet<u64> = run
        .operations
        .iter()
        .filter_map(|op| match &op.body {
            OpBody::Hold {
                outcome: Outcome::Ok(r),
                ..
            } => Some(r.hold_id),
            _ => None,
        })
        .collect();
    for op in run.operations {
        let refusal = match &op.body {
            OpBody::Replay { call, outcome } => {
                result.count("replays", 1);
                match outcome {
                    Outcome::Ok(reply) => {
                        let first = named(call.of, &call.first);
                        let again = named(call.of, &reply.answer);
                        match (first, again) {
                            (Ok(first), Ok(again)) if first == again => {
                                result.count("replays_answered_the_same", 1);
                            }
                            (Ok(first), Ok(again)) => result.anomaly(
                                AnomalyKind::ReplayDiffers,
                                format!(
                                    "{op}: key {} first answered {first:?}, then {again:?}: \
                                     the retry ran again instead of getting its first answer",
                                    call.key
                                ),
                            ),
                            (Err(e), _) | (_, Err(e)) => {
                                result.anomaly(AnomalyKind::MalformedHistory, format!("{op}: {e}"))
                            }
                        }
                    }
                    Outcome::Fail(code) => result.anomaly(
                        AnomalyKind::ReplayRefused,
                        format!(
                            "{op}: key {} was acknowledged, then refused with {code} when sent again",
                            call.key
                        ),
                    ),
                    Outcome::Info(_) => result.count("replays_unknown", 1),
                }
                continue;
            }
            OpBody::Purchase {
                call,
                outcome: Outcome::Fail(code),
            } => match code.as_str() {
                codes::ALREADY_PURCHASED | codes::KEY_REUSED => Some(code),
                codes::HOLD_NOT_FOUND if acknowledged_holds.contains(&call.hold_id) => Some(code),
                _ => None,
            },
            OpBody::Release {
                call,
                outcome: Outcome::Fail(code),
            } => match code.as_str() {
                codes::KEY_REUSED => Some(code),
                codes::HOLD_NOT_FOUND if acknowledged_holds.contains(&call.hold_id) => Some(code),
                _ => None,
            },
            OpBody::Hold {
                outcome: Outcome::Fail(code),
                ..
            }
            | OpBody::Join {
                outcome: Outcome::Fail(code),
                ..
            } if code == codes::KEY_REUSED => Some(code),
            _ => None,
        };
        if let Some(code) = refusal {
            result.anomaly(
                AnomalyKind::RetryRanTwice,
                format!("{op}: refused with {code}, which only a retry that ran again can give"),
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

    fn check_script(s: &Script) -> CheckResult {
        let ops = s.ops();
        let fin = FinalState::default();
        let spec = spec();
        check(&run(&ops, &fin, &spec))
    }

    #[test]
    fn replays_answered_as_the_first_time_are_valid() {
        let mut s = Script::new();
        s.call(1, join("ana"));
        s.ok(1, joined(3));
        s.call(1, replay("c1/1", joined(3)));
        s.ok(1, replayed(joined(3)));
        s.call(1, hold("ana", 2));
        s.ok(1, held(7));
        s.call(1, replay("c1/2", held(7)));
        s.ok(1, replayed(held(7)));
        s.call(1, purchase("ana", 7, 2));
        s.ok(1, bought(&["T1", "T2"]));
        s.call(1, replay("c1/3", bought(&["T1", "T2"])));
        s.ok(1, replayed(bought(&["T1", "T2"])));
        s.call(2, replay("c2/1", released()));
        s.info(2, OpKind::Replay);
        let result = check_script(&s);
        assert_eq!(result.valid, Validity::Valid, "{result:?}");
        assert_eq!(result.counts["replays"], 4);
        assert_eq!(result.counts["replays_answered_the_same"], 3);
        assert_eq!(result.counts["replays_unknown"], 1);
    }

    #[test]
    fn a_replay_that_placed_another_hold_is_caught() {
        let mut s = Script::new();
        s.call(1, hold("ana", 1));
        s.ok(1, held(7));
        s.call(1, replay("c1/2", held(7)));
        s.ok(1, replayed(held(8)));
        let result = check_script(&s);
        assert!(result.has(AnomalyKind::ReplayDiffers), "{result:?}");
        assert!(result.anomalies[0].detail.contains("Hold(8)"));
    }

    #[test]
    fn a_replay_that_sold_other_tickets_or_another_number_is_caught() {
        let mut s = Script::new();
        s.call(1, replay("c1/3", bought(&["T1"])));
        s.ok(1, replayed(bought(&["T9"])));
        s.call(2, replay("c2/1", joined(1)));
        s.ok(2, replayed(joined(2)));
        let result = check_script(&s);
        assert_eq!(result.anomalies.len(), 2, "{result:?}");
    }

    #[test]
    fn a_refused_replay_is_caught() {
        let mut s = Script::new();
        s.call(1, replay("c1/3", bought(&["T1"])));
        s.fail(1, OpKind::Replay, codes::ALREADY_PURCHASED);
        let result = check_script(&s);
        assert!(result.has(AnomalyKind::ReplayRefused), "{result:?}");
    }

    #[test]
    fn refusals_only_a_rerun_retry_gives_are_caught() {
        let mut s = Script::new();
        s.call(1, hold("ana", 1));
        s.ok(1, held(7));
        s.call(1, purchase("ana", 7, 1));
        s.fail(1, OpKind::Purchase, codes::ALREADY_PURCHASED);
        s.call(1, release("ana", 7, 1));
        s.fail(1, OpKind::Release, codes::HOLD_NOT_FOUND);
        s.call(1, hold("ana", 1));
        s.fail(1, OpKind::Hold, codes::KEY_REUSED);
        let result = check_script(&s);
        assert_eq!(result.anomalies.len(), 3, "{result:?}");
        assert!(result
            .anomalies
            .iter()
            .all(|a| a.kind == AnomalyKind::RetryRanTwice));
    }

    #[test]
    fn ordinary_refusals_are_not_anomalies() {
        let mut s = Script::new();
        // A hold this history never acknowledged (its hold call's outcome
        // was unknown) may well be unknown to the node.
        s.call(1, release("ana", 99, 1));
        s.fail(1, OpKind::Release, codes::HOLD_NOT_FOUND);
        s.call(1, purchase("ana", 7, 1));
        s.fail(1, OpKind::Purchase, codes::HOLD_EXPIRED);
        s.call(1, hold("ana", 1));
        s.fail(1, OpKind::Hold, codes::SOLD_OUT);
        let result = check_script(&s);
        assert_eq!(result.valid, Validity::Valid, "{result:?}");
    }

    #[test]
    fn an_unreadable_replay_is_a_malformed_history() {
        let mut s = Script::new();
        s.call(1, replay("c1/2", held(7)));
        s.ok(
            1,
            Reply::Replay(crate::history::ReplayReply {
                answer: serde_json::json!({"x": 1}),
            }),
        );
        let result = check_script(&s);
        assert!(result.has(AnomalyKind::MalformedHistory), "{result:?}");
    }
}
