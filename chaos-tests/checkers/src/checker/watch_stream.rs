//! The event feed as its consumers see it. Each consumer followed
//! `WatchEvents` from one node, failing over to the others; every one must
//! have received:
//!
//! * every event once, in order, with no gap (seq strictly consecutive from
//!   where the consumers started);
//! * the same event under the same seq as every other consumer (the feed is
//!   replicated state, not a node's own story);
//! * exactly one `purchase_confirmed` per acknowledged purchase, naming its
//!   tickets; none for a purchase that failed; at most one for a purchase
//!   whose outcome is unknown; none for a hold no recorded purchase named;
//! * everything: at the end every consumer reached the same last seq (the
//!   harness waits for them to go quiet after the cluster settled, and
//!   says whether they did: if not, the verdict is at best unknown).
//!
//! A consumer is the client's `EventWatch`, which drops what it already
//! delivered after a reconnect: a repeat seen here got past that too.

use std::collections::{BTreeMap, HashMap};

use super::{AnomalyKind, CheckResult, Run};
use crate::history::{OpBody, Operation, Outcome, PurchaseReply};
use crate::watched::WatchedEvent;

/// The event kind of a confirmed purchase in the feed.
const PURCHASE_CONFIRMED: &str = "purchase_confirmed";

/// What the history says about the purchases of one hold.
#[derive(Default)]
struct HoldFate<'a> {
    ok: Option<(&'a Operation, &'a PurchaseReply)>,
    failed: Option<&'a Operation>,
    unknown: bool,
}

/// Checks every consumer's stream; see the module documentation.
pub fn check(run: &Run) -> CheckResult {
    let mut result = CheckResult::new("watch-stream");
    let consumers = &run.watched.consumers;
    if consumers.is_empty() {
        result
            .notes
            .push("no event stream was recorded (a run kept from before watch.jsonl)".into());
        return result;
    }
    if !run.watched.caught_up {
        result.unknown(
            "the consumers did not go quiet at one seq after the cluster settled: \
             the feed is judged as far as it went",
        );
    }
    let fates = hold_fates(run.operations);
    let start = consumers
        .values()
        .filter_map(|events| events.first().map(|e| e.seq))
        .min();
    let end = consumers
        .values()
        .filter_map(|events| events.iter().map(|e| e.seq).max())
        .max();
    let mut first_seen: HashMap<u64, &WatchedEvent> = HashMap::new();
    for (name, events) in consumers {
        result.count("consumers", 1);
        result.count("events", events.len() as u64);
        let delivered = in_order(&mut result, name, events, start);
        for &e in &delivered {
            let earlier = *first_seen.entry(e.seq).or_insert(e);
            if !same_event(earlier, e) {
                result.anomaly(
                    AnomalyKind::EventsDiverged,
                    format!(
                        "seq {}: {} got {} from {}, {} got {} from {}",
                        e.seq,
                        earlier.consumer,
                        describe(earlier),
                        earlier.node,
                        name,
                        describe(e),
                        e.node
                    ),
                );
            }
        }
        purchases(&mut result, name, &delivered, &fates);
        let last = delivered.last().map(|e| e.seq);
        let caught_up = run.watched.caught_up;
        if let Some(end) = end.filter(|&end| caught_up && last < Some(end)) {
            result.anomaly(
                AnomalyKind::WatchStalled,
                format!(
                    "{name} stopped at {} while the feed reached seq {end}",
                    last.map_or("no event".to_string(), |s| format!("seq {s}"))
                ),
            );
        }
    }
    result
}

/// The purchases of every hold, by `(event, hold id)`.
fn hold_fates(operations: &[Operation]) -> BTreeMap<(&str, u64), HoldFate<'_>> {
    let mut fates: BTreeMap<(&str, u64), HoldFate> = BTreeMap::new();
    for op in operations {
        let OpBody::Purchase { call, outcome } = &op.body else {
            continue;
        };
        let fate = fates.entry((&call.event, call.hold_id)).or_default();
        match outcome {
            Outcome::Ok(reply) => {
                fate.ok.get_or_insert((op, reply));
            }
            Outcome::Fail(_) => {
                fate.failed.get_or_insert(op);
            }
            Outcome::Info(_) => fate.unknown = true,
        }
    }
    fates
}

/// The consumer's events that came in order; every gap and repeat reported.
fn in_order<'e>(
    result: &mut CheckResult,
    name: &str,
    events: &'e [WatchedEvent],
    start: Option<u64>,
) -> Vec<&'e WatchedEvent> {
    let mut delivered: Vec<&WatchedEvent> = Vec::with_capacity(events.len());
    for e in events {
        let expected = delivered
            .last()
            .map_or(start.unwrap_or(e.seq), |p| p.seq + 1);
        let after = delivered.last().map_or("at the start".to_string(), |p| {
            format!("after seq {} from {}", p.seq, p.node)
        });
        if e.seq < expected {
            result.anomaly(
                AnomalyKind::EventRepeated,
                format!(
                    "{name} got seq {} ({}) from {} {after}",
                    e.seq,
                    describe(e),
                    e.node
                ),
            );
            continue;
        }
        if e.seq > expected {
            result.anomaly(
                AnomalyKind::EventMissing,
                format!(
                    "{name} never got seq {expected}..={}: seq {} came from {} {after}",
                    e.seq - 1,
                    e.seq,
                    e.node
                ),
            );
        }
        delivered.push(e);
    }
    delivered
}

/// One consumer's `purchase_confirmed` events against the history.
fn purchases(
    result: &mut CheckResult,
    name: &str,
    delivered: &[&WatchedEvent],
    fates: &BTreeMap<(&str, u64), HoldFate>,
) {
    let mut confirmed: BTreeMap<(&str, u64), Vec<&WatchedEvent>> = BTreeMap::new();
    for e in delivered.iter().filter(|e| e.kind == PURCHASE_CONFIRMED) {
        confirmed
            .entry((e.event.as_str(), e.hold_id))
            .or_default()
            .push(e);
    }
    for (&(event, hold), fate) in fates {
        let events = confirmed.get(&(event, hold)).map_or(&[][..], |v| &v[..]);
        if let Some(repeat) = events.get(1) {
            result.anomaly(
                AnomalyKind::PurchaseEventRepeated,
                format!(
                    "{name}: hold {hold} of {event} confirmed at seq {} and again at seq {}",
                    events[0].seq, repeat.seq
                ),
            );
        }
        match (fate.ok, events.first()) {
            (Some((op, _)), None) => result.anomaly(
                AnomalyKind::PurchaseEventMissing,
                format!("{name}: no purchase_confirmed for the acknowledged {op}"),
            ),
            (Some((op, reply)), Some(e)) => {
                let mut told = e.ticket_ids.clone();
                let mut bought = reply.tickets.clone();
                told.sort();
                bought.sort();
                if told != bought {
                    result.anomaly(
                        AnomalyKind::PurchaseEventWrong,
                        format!(
                            "{name}: seq {} confirms tickets {:?} for {op}",
                            e.seq, e.ticket_ids
                        ),
                    );
                }
            }
            (None, Some(e)) if !fate.unknown => result.anomaly(
                AnomalyKind::PurchaseEventWrong,
                format!(
                    "{name}: seq {} confirms hold {hold} of {event}, whose purchase failed: {}",
                    e.seq,
                    fate.failed.map_or("?".to_string(), |op| op.to_string())
                ),
            ),
            (None, _) => {}
        }
    }
    for ((event, hold), events) in &confirmed {
        if !fates.contains_key(&(*event, *hold)) {
            result.anomaly(
                AnomalyKind::PurchaseEventWrong,
                format!(
                    "{name}: seq {} confirms hold {hold} of {event}, which no recorded purchase named",
                    events[0].seq
                ),
            );
        }
    }
}

/// Whether two consumers' events under one seq are the same event.
fn same_event(a: &WatchedEvent, b: &WatchedEvent) -> bool {
    a.kind == b.kind
        && a.ts_ms == b.ts_ms
        && a.customer == b.customer
        && a.event == b.event
        && a.hold_id == b.hold_id
        && a.ticket_ids == b.ticket_ids
}

fn describe(e: &WatchedEvent) -> String {
    match e.hold_id {
        0 => e.kind.clone(),
        hold => format!("{} hold {hold}", e.kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;
    use crate::checker::Validity;
    use crate::final_state::FinalState;
    use crate::watched::Watched;

    /// A feed: (seq, kind, hold) — purchases confirm tickets `t<hold>`.
    fn feed(consumer: &str, node: &str, events: &[(u64, &str, u64)]) -> Vec<WatchedEvent> {
        events
            .iter()
            .map(|&(seq, kind, hold_id)| WatchedEvent {
                consumer: consumer.into(),
                node: node.into(),
                seq,
                kind: kind.into(),
                ts_ms: seq * 10,
                customer: String::new(),
                category: String::new(),
                quantity: 0,
                event: "rir".into(),
                hold_id,
                ticket_ids: if kind == PURCHASE_CONFIRMED {
                    vec![format!("t{hold_id}")]
                } else {
                    Vec::new()
                },
                received_ns: seq * 1_000,
            })
            .collect()
    }

    const CLEAN: [(u64, &str, u64); 4] = [
        (1, "hold_created", 1),
        (2, PURCHASE_CONFIRMED, 1),
        (3, "hold_created", 2),
        (4, "hold_released", 2),
    ];

    /// Hold 1 bought (t1), hold 2 held and released.
    fn sale() -> Script {
        let mut s = Script::new();
        s.call(1, hold("c1", 1));
        s.ok(1, held(1));
        s.call(1, purchase("c1", 1, 1));
        s.ok(1, bought(&["t1"]));
        s.call(2, hold("c2", 1));
        s.ok(2, held(2));
        s.call(2, release("c2", 2, 1));
        s.ok(2, released());
        s
    }

    fn check_feeds(s: &Script, feeds: Vec<Vec<WatchedEvent>>) -> CheckResult {
        let ops = s.ops();
        let fin = FinalState::default();
        let spec = spec();
        let mut watched = Watched {
            caught_up: true,
            ..Watched::default()
        };
        for f in feeds {
            for e in f {
                watched.push(e);
            }
        }
        check(&run_watched(&ops, &fin, &watched, &spec))
    }

    #[test]
    fn consumers_that_saw_every_event_once_are_valid() {
        let result = check_feeds(
            &sale(),
            vec![feed("w1", "n1", &CLEAN), feed("w2", "n2", &CLEAN)],
        );
        assert_eq!(result.valid, Validity::Valid, "{:#?}", result.anomalies);
        assert_eq!(result.counts["events"], 8);
    }

    #[test]
    fn a_lost_purchase_event_is_a_gap_and_a_missing_confirmation() {
        let mut lossy = feed("w2", "n2", &CLEAN);
        lossy.remove(1);
        let result = check_feeds(&sale(), vec![feed("w1", "n1", &CLEAN), lossy]);
        assert_eq!(
            anomaly_kinds(&result),
            vec![AnomalyKind::EventMissing, AnomalyKind::PurchaseEventMissing]
        );
        let text = &result.anomalies[0].detail;
        assert!(text.contains("w2 never got seq 2..=2"), "{text}");
    }

    #[test]
    fn a_repeat_and_a_reordering_are_reported() {
        let mut repeated = feed("w1", "n1", &CLEAN);
        repeated.insert(2, repeated[1].clone());
        let result = check_feeds(&sale(), vec![repeated]);
        assert_eq!(anomaly_kinds(&result), vec![AnomalyKind::EventRepeated]);
    }

    #[test]
    fn replicas_that_tell_different_events_under_one_seq_diverged() {
        let mut other = CLEAN;
        other[3] = (4, "hold_expired", 2);
        let result = check_feeds(
            &sale(),
            vec![feed("w1", "n1", &CLEAN), feed("w2", "n3", &other)],
        );
        assert_eq!(anomaly_kinds(&result), vec![AnomalyKind::EventsDiverged]);
    }

    #[test]
    fn a_confirmation_for_a_failed_purchase_is_wrong() {
        let mut s = sale();
        s.call(3, hold("c3", 1));
        s.ok(3, held(3));
        s.call(3, purchase("c3", 3, 1));
        s.fail(3, OpKind::Purchase, codes::HOLD_EXPIRED);
        let mut events = CLEAN.to_vec();
        events.push((5, PURCHASE_CONFIRMED, 3));
        let result = check_feeds(&s, vec![feed("w1", "n1", &events)]);
        assert_eq!(
            anomaly_kinds(&result),
            vec![AnomalyKind::PurchaseEventWrong]
        );
    }

    #[test]
    fn an_unknown_purchase_may_be_confirmed_once_or_not_at_all() {
        let mut s = sale();
        s.call(3, hold("c3", 1));
        s.ok(3, held(3));
        s.call(3, purchase("c3", 3, 1));
        s.info(3, OpKind::Purchase);
        let mut once = CLEAN.to_vec();
        once.push((5, PURCHASE_CONFIRMED, 3));
        let mut twice = once.clone();
        twice.push((6, PURCHASE_CONFIRMED, 3));
        let ok = check_feeds(&s, vec![feed("w1", "n1", &CLEAN), feed("w2", "n2", &once)]);
        assert_eq!(
            anomaly_kinds(&ok),
            vec![AnomalyKind::WatchStalled],
            "w1 stopped at 4"
        );
        let result = check_feeds(&s, vec![feed("w1", "n1", &twice)]);
        assert_eq!(
            anomaly_kinds(&result),
            vec![AnomalyKind::PurchaseEventRepeated]
        );
        let result = check_feeds(&s, vec![feed("w1", "n1", &once)]);
        assert_eq!(result.valid, Validity::Valid, "{:#?}", result.anomalies);
    }

    #[test]
    fn wrong_tickets_in_a_confirmation_are_reported() {
        let mut events = feed("w1", "n1", &CLEAN);
        events[1].ticket_ids = vec!["t9".into()];
        let result = check_feeds(&sale(), vec![events]);
        assert_eq!(
            anomaly_kinds(&result),
            vec![AnomalyKind::PurchaseEventWrong]
        );
    }

    #[test]
    fn a_consumer_that_started_late_missed_events() {
        let result = check_feeds(
            &sale(),
            vec![feed("w1", "n1", &CLEAN), feed("w2", "n2", &CLEAN[2..])],
        );
        assert_eq!(
            anomaly_kinds(&result),
            vec![AnomalyKind::EventMissing, AnomalyKind::PurchaseEventMissing]
        );
    }

    #[test]
    fn consumers_that_never_caught_up_make_the_verdict_unknown_not_stalled() {
        let ops = sale().ops();
        let fin = FinalState::default();
        let spec = spec();
        let mut watched = Watched::default();
        for e in feed("w1", "n1", &CLEAN)
            .into_iter()
            .chain(feed("w2", "n2", &CLEAN[..3]))
        {
            watched.push(e);
        }
        let result = check(&run_watched(&ops, &fin, &watched, &spec));
        assert_eq!(result.valid, Validity::Unknown, "{:#?}", result.anomalies);
        assert!(result.anomalies.is_empty());
    }

    #[test]
    fn no_recorded_stream_is_a_note_not_a_verdict_on_the_feed() {
        let result = check_feeds(&sale(), vec![]);
        assert_eq!(result.valid, Validity::Valid);
        assert!(result.notes[0].contains("no event stream"));
    }
}
