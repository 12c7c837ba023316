//! The sequential specification of one ticket category: counters
//! `(sold, held)` under a constant capacity, and how each observed
//! operation moves or observes them.

use serde::Serialize;

use std::collections::HashMap;

use crate::history::{codes, OpBody, Operation, Outcome, Payment, Span};

/// The model state of one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Counters {
    /// Tickets bought.
    pub sold: u64,
    /// Tickets in live holds.
    pub held: u64,
}

impl std::fmt::Display for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sold {}, held {}", self.sold, self.held)
    }
}

/// What one operation does to, or observes of, the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// A hold of `q` was granted: needs `q` available; held += q.
    Hold(u64),
    /// A hold of `q` was refused as sold out: fewer than `q` available.
    SoldOut(u64),
    /// A hold of `q` was bought: held −= q, sold += q.
    Purchase(u64),
    /// A purchase of a hold of `q` was declined: the hold is released.
    Decline(u64),
    /// A hold of `q` was released: held −= q.
    Release(u64),
    /// A hold of `q` expired (the machine's clock passed its end): held −= q.
    /// Not an operation of its own: derived from the hold and from the
    /// `hold_expired` answer of a later purchase or release (see [`expiries`]).
    Expire(u64),
    /// A read returned these counters.
    Read(Counters),
}

/// Why an effect cannot happen in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A granted hold asked for more than was available.
    NotEnoughAvailable {
        /// Tickets asked.
        asked: u64,
        /// Tickets available.
        available: u64,
    },
    /// A sold-out answer while enough tickets were available.
    RoomLeft {
        /// Tickets asked.
        asked: u64,
        /// Tickets available.
        available: u64,
    },
    /// A purchase, decline or release of more than was held.
    NotEnoughHeld {
        /// Tickets the hold had.
        asked: u64,
        /// Tickets held in all.
        held: u64,
    },
    /// A read that does not show the state.
    ReadMismatch {
        /// What the read returned.
        read: Counters,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotEnoughAvailable { asked, available } => {
                write!(f, "granted {asked} but only {available} available")
            }
            Refusal::RoomLeft { asked, available } => {
                write!(f, "sold out for {asked} but {available} available")
            }
            Refusal::NotEnoughHeld { asked, held } => {
                write!(f, "takes {asked} from holds but only {held} held")
            }
            Refusal::ReadMismatch { read } => write!(f, "read {read}, which is not the state"),
        }
    }
}

/// One category's constant part: its capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryModel {
    /// The category's capacity.
    pub capacity: u64,
}

impl CategoryModel {
    /// Tickets available in state `c`.
    pub fn available(&self, c: Counters) -> u64 {
        self.capacity.saturating_sub(c.sold + c.held)
    }

    /// The state after `effect`, or why it cannot happen in `c`.
    pub fn step(&self, c: Counters, effect: Effect) -> Result<Counters, Refusal> {
        let available = self.available(c);
        let take_held = |q: u64| {
            c.held.checked_sub(q).ok_or(Refusal::NotEnoughHeld {
                asked: q,
                held: c.held,
            })
        };
        match effect {
            Effect::Hold(q) if q <= available => Ok(Counters {
                held: c.held + q,
                ..c
            }),
            Effect::Hold(q) => Err(Refusal::NotEnoughAvailable {
                asked: q,
                available,
            }),
            Effect::SoldOut(q) if q > available => Ok(c),
            Effect::SoldOut(q) => Err(Refusal::RoomLeft {
                asked: q,
                available,
            }),
            Effect::Purchase(q) => Ok(Counters {
                sold: c.sold + q,
                held: take_held(q)?,
            }),
            Effect::Decline(q) | Effect::Release(q) | Effect::Expire(q) => Ok(Counters {
                held: take_held(q)?,
                ..c
            }),
            Effect::Read(read) if read == c => Ok(c),
            Effect::Read(read) => Err(Refusal::ReadMismatch { read }),
        }
    }
}

/// An operation as the model sees it.
#[derive(Debug, Clone, Copy)]
pub struct ModelOp<'a> {
    /// The recorded operation it comes from (for counterexamples).
    pub op: &'a Operation,
    /// When it may take effect: the operation's own span, or for an
    /// expiry, from its hold's invocation to the answer that revealed it.
    pub span: Span,
    /// What it does to the counters.
    pub effect: Effect,
    /// Whether it may also never have happened (outcome unknown).
    pub optional: bool,
    /// For an expiry that is the other possible fate of a hold whose
    /// purchase has an unknown outcome: that purchase. At most one of the
    /// two takes effect (a hold is either bought or expires), which the
    /// search enforces; when the expiry is certain (the feed showed it),
    /// the purchase is not modelled at all.
    pub excludes: Option<&'a Operation>,
}

/// The `(event, category)` an operation touches and its model form, or
/// `None` when it does not bear on the counters: joins, reads without an
/// answer, and failures whose code says nothing about the state.
pub fn model_op(op: &Operation) -> Option<((&str, &str), ModelOp<'_>)> {
    let modelled = |effect, optional| ModelOp {
        op,
        span: op.span,
        effect,
        optional,
        excludes: None,
    };
    let (key, m) = match &op.body {
        OpBody::Join { .. } | OpBody::Replay { .. } => return None,
        OpBody::Hold { call, outcome } => {
            let q = call.quantity;
            let m = match outcome {
                Outcome::Ok(_) => modelled(Effect::Hold(q), false),
                Outcome::Fail(e) if e == codes::SOLD_OUT => modelled(Effect::SoldOut(q), false),
                Outcome::Fail(_) => return None,
                Outcome::Info(_) => modelled(Effect::Hold(q), true),
            };
            ((call.event.as_str(), call.category.as_str()), m)
        }
        OpBody::Purchase { call, outcome } => {
            let q = call.quantity;
            let m = match outcome {
                Outcome::Ok(_) => modelled(Effect::Purchase(q), false),
                Outcome::Fail(e) if e == codes::PAYMENT_DECLINED => {
                    modelled(Effect::Decline(q), false)
                }
                Outcome::Fail(_) => return None,
                Outcome::Info(_) => match call.payment {
                    Payment::Approve => modelled(Effect::Purchase(q), true),
                    Payment::Decline => modelled(Effect::Decline(q), true),
                },
            };
            ((call.event.as_str(), call.category.as_str()), m)
        }
        OpBody::Release { call, outcome } => {
            let m = match outcome {
                Outcome::Ok(_) => modelled(Effect::Release(call.quantity), false),
                Outcome::Fail(_) => return None,
                Outcome::Info(_) => modelled(Effect::Release(call.quantity), true),
            };
            ((call.event.as_str(), call.category.as_str()), m)
        }
        OpBody::Read { call, outcome } => {
            let Outcome::Ok(r) = outcome else {
                return None;
            };
            let read = Counters {
                sold: r.sold,
                held: r.held,
            };
            (
                (call.event.as_str(), call.category.as_str()),
                modelled(Effect::Read(read), false),
            )
        }
    };
    Some((key, m))
}

/// Where the event feed puts one hold's expiry in the history. Feed order
/// is log order, and the search's order is log order too, so:
/// * it follows the invocation of every operation whose own event (hold
///   created, purchase confirmed or declined, hold released) came before it
///   in the feed: `after`, the latest such invocation, as (index, time);
/// * it precedes every operation invoked after a consumer received it, and
///   the completion of every operation whose own event came after it in
///   the feed: `before`, the earlier of the highest history index stamped
///   at or before that delivery and the earliest such completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedWindow {
    /// The invocation it certainly follows, if the feed showed one.
    pub after: Option<(u64, u64)>,
    /// The last record it may follow.
    pub before: (u64, u64),
}

impl FeedWindow {
    /// The span of the expiry of the hold invoked at `hold`.
    fn span(&self, hold: Span) -> Span {
        let (index, time) = self
            .after
            .filter(|&(index, _)| index > hold.invoke_index)
            .unwrap_or((hold.invoke_index, hold.invoke_time_ns));
        Span {
            invoke_index: index,
            invoke_time_ns: time,
            complete_index: Some(self.before.0),
            complete_time_ns: Some(self.before.1),
        }
    }
}

/// The expiries a history implies, as model operations: holds are given a
/// lifetime, and one that ends unbought takes its tickets back without any
/// client operation. For each hold in `ops` (all of one category or not):
///
/// * a later purchase or release of it answered `hold_expired`: it expired
///   for certain, somewhere between the hold's invocation and that answer;
/// * a purchase, release or decline of it succeeded: it did not expire;
/// * the hold's outcome is unknown: it may expire at any point after it took
///   effect, or never (the search lets an expiry follow only its own hold);
/// * its only unknown follow-up is a paying purchase: it may have been
///   bought, or have expired (before the purchase was applied, which then
///   answered `hold_expired` to nobody), or neither — never both: the
///   expiry is added as that purchase's exclusive alternative;
/// * another follow-up's outcome is unknown: no expiry is added (an unknown
///   release or declined payment already gives the tickets back at any
///   later point or never);
/// * nothing followed it: it lives on, unless the event feed says it
///   expired: then it did, for certain, within the feed's window for it
///   (see [`FeedWindow`]). The feed settles a timed-out purchase's hold the
///   same way, and narrows the window a `hold_expired` answer gives.
pub fn expiries<'o>(
    ops: &'o [Operation],
    feed: &HashMap<(&str, u64), FeedWindow>,
) -> Vec<((&'o str, &'o str), ModelOp<'o>)> {
    // What the definite follow-ups of each hold id tell.
    enum Fate<'o> {
        Ended,
        Expired(&'o Operation),
        /// Only unknown follow-ups; the paying purchase when it is the one.
        Unknown(Option<&'o Operation>),
    }
    let mut fates: HashMap<u64, Fate<'_>> = HashMap::new();
    for op in ops {
        let (hold_id, outcome_code, ended, unknown) = match &op.body {
            OpBody::Purchase { call, outcome } => (
                call.hold_id,
                fail_code(outcome),
                matches!(outcome, Outcome::Ok(_))
                    || fail_code(outcome) == Some(codes::PAYMENT_DECLINED),
                matches!(outcome, Outcome::Info(_)),
            ),
            OpBody::Release { call, outcome } => (
                call.hold_id,
                fail_code(outcome),
                matches!(outcome, Outcome::Ok(_)),
                matches!(outcome, Outcome::Info(_)),
            ),
            _ => continue,
        };
        // A `hold_expired` answer wins: were the hold also bought or
        // released, the model takes its tickets twice and reports it.
        let expired = matches!(fates.get(&hold_id), Some(Fate::Expired(_)));
        if outcome_code == Some(codes::HOLD_EXPIRED) {
            fates.insert(hold_id, Fate::Expired(op));
        } else if ended && !expired {
            fates.insert(hold_id, Fate::Ended);
        } else if unknown {
            let paying = match &op.body {
                OpBody::Purchase { call, .. } if call.payment == Payment::Approve => Some(op),
                _ => None,
            };
            fates
                .entry(hold_id)
                .and_modify(|fate| {
                    // A second unknown follow-up: no single exclusive one.
                    if let Fate::Unknown(only) = fate {
                        *only = None;
                    }
                })
                .or_insert(Fate::Unknown(paying));
        }
    }
    let mut out = Vec::new();
    for op in ops {
        let OpBody::Hold { call, outcome } = &op.body else {
            continue;
        };
        let key = (call.event.as_str(), call.category.as_str());
        let expire = |span, optional, excludes| ModelOp {
            op,
            span,
            effect: Effect::Expire(call.quantity),
            optional,
            excludes,
        };
        let open_ended = Span {
            complete_index: None,
            complete_time_ns: None,
            ..op.span
        };
        match outcome {
            Outcome::Ok(reply) => {
                let fed = feed
                    .get(&(call.event.as_str(), reply.hold_id))
                    .map(|window| window.span(op.span));
                match fates.get(&reply.hold_id) {
                    Some(Fate::Ended) => {}
                    Some(Fate::Expired(revealed)) => {
                        let answer = Span {
                            complete_index: revealed.span.complete_index,
                            complete_time_ns: revealed.span.complete_time_ns,
                            ..op.span
                        };
                        // The narrower of the answer's window and the feed's.
                        let span = match fed {
                            Some(f) if f.complete_index <= answer.complete_index => f,
                            Some(f) => Span {
                                invoke_index: f.invoke_index,
                                invoke_time_ns: f.invoke_time_ns,
                                ..answer
                            },
                            None => answer,
                        };
                        out.push((key, expire(span, false, None)));
                    }
                    // A timed-out purchase during an outage long enough for the
                    // hold to run out: it was bought, or it expired, or (while
                    // the purchase is still unapplied) neither. When the feed
                    // says it expired, the purchase never happened.
                    Some(Fate::Unknown(Some(purchase))) => match fed {
                        Some(span) => out.push((key, expire(span, false, Some(*purchase)))),
                        None => out.push((key, expire(open_ended, true, Some(*purchase)))),
                    },
                    // An unknown release already covers "given back later, or
                    // never"; an expiry beside it could give the tickets back
                    // twice.
                    Some(Fate::Unknown(None)) => {}
                    None => {
                        if let Some(span) = fed {
                            out.push((key, expire(span, false, None)));
                        }
                    }
                }
            }
            Outcome::Info(_) => out.push((key, expire(open_ended, true, None))),
            Outcome::Fail(_) => {}
        }
    }
    out
}

fn fail_code<R>(outcome: &Outcome<R>) -> Option<&str> {
    match outcome {
        Outcome::Fail(code) => Some(code.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;

    const TEN: CategoryModel = CategoryModel { capacity: 10 };

    fn at(sold: u64, held: u64) -> Counters {
        Counters { sold, held }
    }

    #[test]
    fn holds_need_availability_and_sold_out_needs_its_absence() {
        assert_eq!(TEN.step(at(5, 3), Effect::Hold(2)), Ok(at(5, 5)));
        assert_eq!(
            TEN.step(at(5, 3), Effect::Hold(3)),
            Err(Refusal::NotEnoughAvailable {
                asked: 3,
                available: 2
            })
        );
        assert_eq!(TEN.step(at(5, 3), Effect::SoldOut(3)), Ok(at(5, 3)));
        assert_eq!(
            TEN.step(at(5, 3), Effect::SoldOut(2)),
            Err(Refusal::RoomLeft {
                asked: 2,
                available: 2
            })
        );
    }

    #[test]
    fn purchases_declines_and_releases_take_from_holds() {
        assert_eq!(TEN.step(at(1, 3), Effect::Purchase(2)), Ok(at(3, 1)));
        assert_eq!(TEN.step(at(1, 3), Effect::Decline(2)), Ok(at(1, 1)));
        assert_eq!(TEN.step(at(1, 3), Effect::Release(3)), Ok(at(1, 0)));
        assert_eq!(
            TEN.step(at(1, 1), Effect::Purchase(2)),
            Err(Refusal::NotEnoughHeld { asked: 2, held: 1 })
        );
    }

    #[test]
    fn reads_must_show_the_state() {
        assert_eq!(TEN.step(at(2, 1), Effect::Read(at(2, 1))), Ok(at(2, 1)));
        assert!(TEN.step(at(2, 1), Effect::Read(at(2, 0))).is_err());
    }

    #[test]
    fn only_state_bearing_outcomes_are_modelled() {
        let mut s = Script::new();
        s.call(1, hold("c1", 2));
        s.fail(1, OpKind::Hold, codes::LIMIT_EXCEEDED);
        s.call(1, hold("c1", 2));
        s.fail(1, OpKind::Hold, codes::SOLD_OUT);
        s.call(1, purchase_paying("c1", 4, 2, Payment::Decline));
        s.info(1, OpKind::Purchase);
        s.call(1, join("c1"));
        s.ok(1, joined(1));
        let ops = s.ops();
        let modelled: Vec<(Effect, bool)> = ops
            .iter()
            .filter_map(model_op)
            .map(|(key, m)| {
                assert_eq!(key, ("rir", "pista"));
                (m.effect, m.optional)
            })
            .collect();
        assert_eq!(
            modelled,
            vec![(Effect::SoldOut(2), false), (Effect::Decline(2), true)]
        );
    }
}
