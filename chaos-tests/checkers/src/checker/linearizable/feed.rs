//! What the recorded event feed settles before the search. Feed order is
//! log order, every applied hold, purchase, release and expiry is in it,
//! and each consumer stamped each delivery on the history's clock, so:
//!
//! * an operation whose outcome is unknown is settled: it happened iff its
//!   event is in the feed (a hold: an otherwise unclaimed `hold_created` of
//!   the same customer and category; a purchase: `purchase_confirmed` or
//!   `payment_declined` of its hold; a release: `hold_released`), and then
//!   it completed, at the latest, when a consumer received that event;
//! * an expiry gets a window (see [`FeedWindow`]).
//!
//! Without this, every unknown outcome stays pending to the end of the
//! history and multiplies the states the search must keep (a few timed-out
//! holds under a power cut exhausted 2 000 000 states). That the feed is
//! whole is the `watch-stream` checker's to say.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::model::FeedWindow;
use crate::history::{
    codes, HoldReply, OpBody, Operation, Outcome, PurchaseReply, ReleaseReply, Span,
};
use crate::watched::{Watched, WatchedEvent};

/// The earliest invocation and latest completion of an event's operations.
type EventSpan = ((u64, u64), Option<(u64, u64)>);

/// An event and when a consumer first received it (history clock).
type Delivery<'w> = (u64, &'w WatchedEvent);

/// The highest history index stamped at or before a time.
struct Clock {
    /// (time, highest index stamped at or before it), sorted by time.
    points: Vec<(u64, u64)>,
}

impl Clock {
    fn of(operations: &[Operation]) -> Clock {
        let mut points: Vec<(u64, u64)> = operations
            .iter()
            .flat_map(|op| {
                let s = op.span;
                [
                    Some((s.invoke_time_ns, s.invoke_index)),
                    s.complete_time_ns.zip(s.complete_index),
                ]
            })
            .flatten()
            .collect();
        points.sort_unstable();
        // Records are stamped just before they are numbered, so two may
        // cross by a hair: a running maximum.
        let mut latest = 0;
        for point in &mut points {
            latest = latest.max(point.1);
            point.1 = latest;
        }
        Clock { points }
    }

    /// (index, time) of the last record it may precede, for a delivery at `at`.
    fn before(&self, at: u64) -> Option<(u64, u64)> {
        let n = self.points.partition_point(|&(time, _)| time <= at);
        let (time, index) = *self.points.get(n.checked_sub(1)?)?;
        Some((index, time))
    }
}

/// The first delivery to any consumer of each event, by (kind, sale
/// event, hold id), with the event itself.
fn first_deliveries(watched: &Watched) -> HashMap<(&str, &str, u64), Delivery<'_>> {
    let mut first: HashMap<(&str, &str, u64), Delivery> = HashMap::new();
    for e in watched.consumers.values().flatten() {
        if e.hold_id == 0 {
            continue;
        }
        let at = first
            .entry((e.kind.as_str(), e.event.as_str(), e.hold_id))
            .or_insert((e.received_ns, e));
        if e.received_ns < at.0 {
            *at = (e.received_ns, e);
        }
    }
    first
}

/// Which unclaimed `hold_created` (delivery time, hold id) each unknown
/// hold produced, by the hold's invocation index. Each candidate, in feed
/// order, goes to the earliest unknown hold of its customer, category and
/// size invoked before it was delivered and not yet given one. Unknown
/// holds of one size with no follow-up are alike, so the earliest gives a
/// window (its invocation to the delivery) that contains the true one's.
/// In a feed recorded before events named their size, a candidate settles
/// a hold only when it is the one eligible; otherwise those holds stay
/// unknown. Unknown holds given none never happened.
fn assign_unknown_holds(
    operations: &[Operation],
    created: &[(u64, u64, &WatchedEvent)],
) -> HashMap<u64, Option<(u64, u64)>> {
    let mut unknown: BTreeMap<(&str, &str), Vec<&Operation>> = BTreeMap::new();
    for op in operations {
        if let OpBody::Hold {
            call,
            outcome: Outcome::Info(_),
        } = &op.body
        {
            unknown
                .entry((call.event.as_str(), call.customer.as_str()))
                .or_default()
                .push(op);
        }
    }
    // Some(..): settled by that delivery; None: left unknown (ambiguous).
    let mut assigned: HashMap<u64, Option<(u64, u64)>> = HashMap::new();
    for &(_, at, e) in created {
        let Some(ops) = unknown.get(&(e.event.as_str(), e.customer.as_str())) else {
            continue;
        };
        let eligible: Vec<&&Operation> = ops
            .iter()
            .filter(|op| {
                let OpBody::Hold { call, .. } = &op.body else {
                    return false;
                };
                op.span.invoke_time_ns <= at
                    && !assigned.contains_key(&op.span.invoke_index)
                    && (e.category.is_empty() || e.category == call.category)
                    && (e.quantity == 0 || e.quantity == call.quantity)
            })
            .collect();
        match eligible.first() {
            Some(op) if e.quantity != 0 || eligible.len() == 1 => {
                assigned.insert(op.span.invoke_index, Some((at, e.hold_id)));
            }
            Some(_) => {
                for op in eligible {
                    assigned.insert(op.span.invoke_index, None);
                }
            }
            None => {}
        }
    }
    assigned
}

/// The operations with every unknown hold, purchase and release settled by
/// the feed; `None` when the run recorded no feed or the consumers did not
/// catch up (an event missing from a feed cut short proves nothing).
pub(super) fn settle(operations: &[Operation], watched: &Watched) -> Option<Vec<Operation>> {
    if watched.consumers.is_empty() || !watched.caught_up {
        return None;
    }
    let clock = Clock::of(operations);
    let delivered = first_deliveries(watched);
    let found = |kind: &str, event: &str, hold: u64| delivered.get(&(kind, event, hold)).copied();
    // Holds created that no acknowledged hold claims, in feed order: the
    // unknown holds' candidates.
    let claimed: HashSet<(&str, u64)> = operations
        .iter()
        .filter_map(|op| match &op.body {
            OpBody::Hold {
                call,
                outcome: Outcome::Ok(reply),
            } => Some((call.event.as_str(), reply.hold_id)),
            _ => None,
        })
        .collect();
    let mut created: Vec<_> = delivered
        .iter()
        .filter(|((kind, event, hold), _)| {
            *kind == "hold_created" && !claimed.contains(&(*event, *hold))
        })
        .map(|(_, &(at, e))| (e.seq, at, e))
        .collect();
    created.sort_unstable_by_key(|&(seq, _, _)| seq);
    let holds_of = assign_unknown_holds(operations, &created);
    let completed = |op: &Operation, at: u64| -> Span {
        let (index, time) = clock
            .before(at)
            .unwrap_or((op.span.invoke_index, op.span.invoke_time_ns));
        Span {
            complete_index: Some(index.max(op.span.invoke_index)),
            complete_time_ns: Some(time.max(op.span.invoke_time_ns)),
            ..op.span
        }
    };
    let mut settled = Vec::with_capacity(operations.len());
    for op in operations {
        let body = match &op.body {
            OpBody::Hold {
                call,
                outcome: Outcome::Info(_),
            } => {
                let (at, hold_id) = match holds_of.get(&op.span.invoke_index) {
                    Some(Some(delivered)) => *delivered,
                    // Ambiguous in an old feed: stays unknown.
                    Some(None) => {
                        settled.push(op.clone());
                        continue;
                    }
                    None => continue,
                };
                (
                    at,
                    OpBody::Hold {
                        call: call.clone(),
                        outcome: Outcome::Ok(HoldReply {
                            hold_id,
                            expires_in_ms: None,
                        }),
                    },
                )
            }
            OpBody::Purchase {
                call,
                outcome: Outcome::Info(_),
            } => {
                let confirmed = found("purchase_confirmed", &call.event, call.hold_id);
                let declined = found("payment_declined", &call.event, call.hold_id);
                match (confirmed, declined) {
                    (Some((at, e)), _) => (
                        at,
                        OpBody::Purchase {
                            call: call.clone(),
                            outcome: Outcome::Ok(PurchaseReply {
                                tickets: e.ticket_ids.clone(),
                            }),
                        },
                    ),
                    (None, Some((at, _))) => (
                        at,
                        OpBody::Purchase {
                            call: call.clone(),
                            outcome: Outcome::Fail(codes::PAYMENT_DECLINED.into()),
                        },
                    ),
                    (None, None) => continue,
                }
            }
            OpBody::Release {
                call,
                outcome: Outcome::Info(_),
            } => match found("hold_released", &call.event, call.hold_id) {
                Some((at, _)) => (
                    at,
                    OpBody::Release {
                        call: call.clone(),
                        outcome: Outcome::Ok(ReleaseReply {}),
                    },
                ),
                None => continue,
            },
            _ => {
                settled.push(op.clone());
                continue;
            }
        };
        let (at, body) = body;
        settled.push(Operation {
            span: completed(op, at),
            body,
            ..op.clone()
        });
    }
    Some(settled)
}

/// The feed's window for every hold it saw expire (see [`FeedWindow`]).
pub(super) fn expiry_windows<'o>(
    operations: &'o [Operation],
    watched: &'o Watched,
) -> HashMap<(&'o str, u64), FeedWindow> {
    let received = watched.expiries_received();
    if received.is_empty() {
        return HashMap::new();
    }
    let clock = Clock::of(operations);
    let by_event = spans_by_event(operations);
    let longest: Vec<&'o WatchedEvent> = watched.in_feed_order();
    let is_expiry = |e: &WatchedEvent| e.kind == "hold_expired";
    let spans = |e: &'o WatchedEvent| by_event.get(&(e.kind.as_str(), e.event.as_str(), e.hold_id));
    // Lower bounds, forwards (feed order is log order): the latest
    // invocation among operations whose
    // event has gone by.
    let mut after: HashMap<(&str, u64), (u64, u64)> = HashMap::new();
    let mut gone_by: Option<(u64, u64)> = None;
    for &e in &longest {
        if is_expiry(e) {
            if let Some(point) = gone_by {
                after.insert((e.event.as_str(), e.hold_id), point);
            }
        } else if let Some(&(invoked, _)) = spans(e) {
            gone_by = gone_by.max(Some(invoked));
        }
    }
    // Upper bounds, backwards: the earliest completion among operations
    // whose event comes later (the expiry took effect before theirs did).
    let mut before: HashMap<(&str, u64), (u64, u64)> = HashMap::new();
    let mut to_come: Option<(u64, u64)> = None;
    for &e in longest.iter().rev() {
        if is_expiry(e) {
            if let Some(point) = to_come {
                before.insert((e.event.as_str(), e.hold_id), point);
            }
        } else if let Some(&(_, Some(ended))) = spans(e) {
            to_come = Some(to_come.map_or(ended, |c| c.min(ended)));
        }
    }
    received
        .into_iter()
        .filter_map(|(key, at)| {
            let delivered = clock.before(at)?;
            let window = FeedWindow {
                after: after.get(&key).copied(),
                before: before.get(&key).map_or(delivered, |&b| b.min(delivered)),
            };
            Some((key, window))
        })
        .collect()
}

/// For the operations an event of the feed stands for, by (event kind,
/// sale event, hold id): the earliest invocation and the latest completion
/// (none if one of them has none), each as (index, time). Which of them
/// produced the event is not known, so these are the safe bounds.
fn spans_by_event(operations: &[Operation]) -> HashMap<(&str, &str, u64), EventSpan> {
    let mut spans: HashMap<(&str, &str, u64), EventSpan> = HashMap::new();
    for op in operations {
        let keys: &[&str] = match &op.body {
            OpBody::Hold { .. } => &["hold_created"],
            OpBody::Purchase { .. } => &["purchase_confirmed", "payment_declined"],
            OpBody::Release { .. } => &["hold_released"],
            _ => continue,
        };
        let (event, hold) = match &op.body {
            OpBody::Hold {
                call,
                outcome: Outcome::Ok(reply),
            } => (call.event.as_str(), reply.hold_id),
            OpBody::Purchase { call, .. } => (call.event.as_str(), call.hold_id),
            OpBody::Release { call, .. } => (call.event.as_str(), call.hold_id),
            _ => continue,
        };
        let s = op.span;
        let invoked = (s.invoke_index, s.invoke_time_ns);
        let ended = s.complete_index.zip(s.complete_time_ns);
        for kind in keys {
            let span = spans.entry((kind, event, hold)).or_insert((invoked, ended));
            span.0 = span.0.min(invoked);
            span.1 = span.1.zip(ended).map(|(a, b)| a.max(b));
        }
    }
    spans
}
