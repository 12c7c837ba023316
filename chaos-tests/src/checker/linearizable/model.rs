//! The sequential specification of one ticket category: counters
//! `(sold, held)` under a constant capacity, and how each observed
//! operation moves or observes them.

use serde::Serialize;

use crate::history::{codes, OpBody, Operation, Outcome, Payment};

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
            Effect::Decline(q) | Effect::Release(q) => Ok(Counters {
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
    /// The recorded operation (its span orders it in real time).
    pub op: &'a Operation,
    /// What it does to the counters.
    pub effect: Effect,
    /// Whether it may also never have happened (outcome unknown).
    pub optional: bool,
}

/// The `(event, category)` an operation touches and its model form, or
/// `None` when it does not bear on the counters: joins, reads without an
/// answer, and failures whose code says nothing about the state.
pub fn model_op(op: &Operation) -> Option<((&str, &str), ModelOp<'_>)> {
    let modelled = |effect, optional| ModelOp {
        op,
        effect,
        optional,
    };
    let (key, m) = match &op.body {
        OpBody::Join { .. } => return None,
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
