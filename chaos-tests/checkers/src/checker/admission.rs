//! The virtual queue's admissions as the event feed tells them. For every
//! event with a queue in the spec:
//!
//! * order: the k-th `admitted` event admits the customer whose queue
//!   number is k (the line from the first node's final state);
//! * rate: the k-th admission comes no earlier, in the sale's time, than
//!   `(k − burst) · 60 000 / admit_per_minute` ms after the `sale_opened`
//!   event (what the organiser set is what the fans get, faults or not).
//!
//! The feed is every seq once, in seq order, from whichever consumer
//! received it; the watch-stream checker holds the consumers to each other.

use std::collections::HashMap;

use super::{AnomalyKind, CheckResult, Run};
use crate::spec::QueueSpec;
use crate::watched::WatchedEvent;

/// Checks every queued event's admissions; see the module documentation.
pub fn check(run: &Run) -> CheckResult {
    let mut result = CheckResult::new("queue-admission");
    let feed = run.watched.in_feed_order();
    if feed.is_empty() {
        result
            .notes
            .push("no event stream was recorded: admissions not checked".into());
        return result;
    }
    let Some(node) = run.final_state.nodes.first() else {
        result
            .notes
            .push("no final state: the line is unknown, admissions not checked".into());
        return result;
    };
    for event in &run.spec.events {
        let Some(queue) = event.queue else {
            continue;
        };
        let line: HashMap<&str, u64> = node
            .queue
            .iter()
            .filter(|q| q.event == event.event)
            .map(|q| (q.customer.as_str(), q.seq))
            .collect();
        let of_event = |kind: &'static str| {
            feed.iter()
                .copied()
                .filter(move |e| e.kind == kind && e.event == event.event)
        };
        let opened = of_event("sale_opened").next().map(|e| e.ts_ms);
        let admitted: Vec<&WatchedEvent> = of_event("admitted").collect();
        result.count("admissions", admitted.len() as u64);
        if opened.is_none() && !admitted.is_empty() {
            result.anomaly(
                AnomalyKind::AdmittedTooSoon,
                format!(
                    "{}: {} admissions but no sale_opened event in the feed",
                    event.event,
                    admitted.len()
                ),
            );
        }
        for (k, a) in (1u64..).zip(&admitted) {
            in_order(&mut result, &event.event, k, a, &line);
            // A rate of 0 is no rate (only a cap on active shoppers).
            if let Some(opened) = opened.filter(|_| queue.admit_per_minute > 0) {
                in_time(&mut result, &event.event, queue, k, a, opened);
            }
        }
    }
    result
}

/// The k-th admission went to number k.
fn in_order(
    result: &mut CheckResult,
    event: &str,
    k: u64,
    a: &WatchedEvent,
    line: &HashMap<&str, u64>,
) {
    match line.get(a.customer.as_str()) {
        Some(&number) if number == k => {}
        Some(&number) => result.anomaly(
            AnomalyKind::AdmittedOutOfOrder,
            format!(
                "{event}: admission {k} (seq {} of the feed) went to {}, number {number} in line",
                a.seq, a.customer
            ),
        ),
        None => result.anomaly(
            AnomalyKind::AdmittedOutOfOrder,
            format!(
                "{event}: admission {k} (seq {} of the feed) went to {}, who is not in the line",
                a.seq, a.customer
            ),
        ),
    }
}

/// The k-th admission came no sooner than the rate allows.
fn in_time(
    result: &mut CheckResult,
    event: &str,
    queue: QueueSpec,
    k: u64,
    a: &WatchedEvent,
    opened: u64,
) {
    let earliest = (k.saturating_sub(queue.burst) * 60_000).div_ceil(queue.admit_per_minute);
    let at = a.ts_ms.saturating_sub(opened);
    if at < earliest {
        result.anomaly(
            AnomalyKind::AdmittedTooSoon,
            format!(
                "{event}: admission {k} ({}) {at} ms after the opening; {} a minute with a \
                 burst of {} allows it from {earliest} ms",
                a.customer, queue.admit_per_minute, queue.burst
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;
    use crate::checker::Validity;
    use crate::watched::Watched;

    /// The fixture spec with a queue on `rir`: 60 a minute (one a second),
    /// a burst of 2.
    fn queued_spec() -> SaleSpec {
        let mut spec = spec();
        spec.events[0].queue = Some(QueueSpec {
            admit_per_minute: 60,
            burst: 2,
        });
        spec
    }

    fn event(seq: u64, kind: &str, ts_ms: u64, customer: &str) -> WatchedEvent {
        WatchedEvent {
            consumer: "w1".into(),
            node: "n1".into(),
            seq,
            kind: kind.into(),
            ts_ms,
            customer: customer.into(),
            category: String::new(),
            quantity: 0,
            event: "rir".into(),
            hold_id: 0,
            ticket_ids: Vec::new(),
            received_ns: seq * 1_000,
        }
    }

    /// Four in line: a, b, c, d (numbers 1–4).
    fn line() -> FinalState {
        let mut node = NodeState {
            node: "n1".into(),
            ..NodeState::default()
        };
        for (i, c) in ["a", "b", "c", "d"].iter().enumerate() {
            node.queue.push(QueueEntry {
                event: "rir".into(),
                customer: c.to_string(),
                seq: i as u64 + 1,
            });
        }
        FinalState { nodes: vec![node] }
    }

    /// Admissions `(customer, ms after an opening at 10 000)`.
    fn admit(admissions: &[(&str, u64)]) -> CheckResult {
        let mut watched = Watched::default();
        watched.push(event(1, "sale_opened", 10_000, ""));
        for (i, (c, at)) in admissions.iter().enumerate() {
            watched.push(event(i as u64 + 2, "admitted", 10_000 + at, c));
        }
        let fin = line();
        let spec = queued_spec();
        let ops = Vec::new();
        check(&run_watched(&ops, &fin, &watched, &spec))
    }

    #[test]
    fn admissions_in_line_order_at_the_rate_are_valid() {
        let result = admit(&[("a", 0), ("b", 0), ("c", 1_000), ("d", 2_500)]);
        assert_eq!(result.valid, Validity::Valid, "{:#?}", result.anomalies);
        assert_eq!(result.counts["admissions"], 4);
    }

    #[test]
    fn an_admission_past_someone_earlier_in_line_is_out_of_order() {
        let result = admit(&[("a", 0), ("c", 0)]);
        assert_eq!(
            anomaly_kinds(&result),
            vec![AnomalyKind::AdmittedOutOfOrder]
        );
        let text = &result.anomalies[0].detail;
        assert!(text.contains("admission 2"), "{text}");
        assert!(text.contains("number 3"), "{text}");
    }

    #[test]
    fn admissions_faster_than_the_rate_are_reported() {
        // The third may come 1 s after the opening, the fourth 2 s.
        let result = admit(&[("a", 0), ("b", 0), ("c", 999), ("d", 2_000)]);
        assert_eq!(anomaly_kinds(&result), vec![AnomalyKind::AdmittedTooSoon]);
        assert!(result.anomalies[0].detail.contains("from 1000 ms"));
    }

    #[test]
    fn an_event_without_a_queue_is_not_checked() {
        let mut watched = Watched::default();
        watched.push(event(1, "admitted", 10, "z"));
        let fin = line();
        let spec = spec();
        let ops = Vec::new();
        let result = check(&run_watched(&ops, &fin, &watched, &spec));
        assert_eq!(result.valid, Validity::Valid);
        assert_eq!(result.counts.get("admissions"), None);
    }
}
