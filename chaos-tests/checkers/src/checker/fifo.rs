//! FIFO admission for acknowledged queue joins: if join A completed before
//! join B was invoked, A's number is smaller; two customers never share a
//! number; and every node's queue lists every acknowledged join with the
//! number it was given.
//!
//! Assumption: the checked joins happen after the sale opened. Joins before
//! the opening are shuffled once at opening (on purpose), so their numbers
//! are not FIFO and this checker does not apply to them.

use std::collections::{BTreeMap, HashMap};

use super::{AnomalyKind, CheckResult, Run};
use crate::final_state::NodeState;
use crate::history::{JoinCall, OpBody, Operation, Outcome};

/// An acknowledged join.
struct Joined<'a> {
    op: &'a Operation,
    call: &'a JoinCall,
    seq: u64,
}

/// Checks the ok joins of every event, then every node's queue.
pub fn check(run: &Run) -> CheckResult {
    let mut result = CheckResult::new("fifo-admission");
    let mut by_event: BTreeMap<&str, Vec<Joined>> = BTreeMap::new();
    for op in run.operations {
        if let OpBody::Join {
            call,
            outcome: Outcome::Ok(reply),
        } = &op.body
        {
            result.count("ok_joins", 1);
            by_event.entry(&call.event).or_default().push(Joined {
                op,
                call,
                seq: reply.seq,
            });
        }
    }
    for joins in by_event.values() {
        distinct_numbers(&mut result, joins);
        real_time_order(&mut result, joins);
    }
    for node in &run.final_state.nodes {
        node_queue(&mut result, node, &by_event);
    }
    result
}

/// Two customers never share a number.
fn distinct_numbers(result: &mut CheckResult, joins: &[Joined]) {
    let mut owner: HashMap<u64, &Joined> = HashMap::new();
    for j in joins {
        if let Some(first) = owner.insert(j.seq, j) {
            if first.call.customer != j.call.customer {
                result.anomaly(
                    AnomalyKind::DuplicateSeq,
                    format!("seq {} given twice: {} and {}", j.seq, first.op, j.op),
                );
            }
        }
    }
}

/// A join that finished before another started has the smaller number
/// (a customer's own repeated joins are exempt: a re-join may return the
/// place already held).
fn real_time_order(result: &mut CheckResult, joins: &[Joined]) {
    let mut by_completion: Vec<&Joined> = joins.iter().collect();
    by_completion.sort_by_key(|j| j.op.span.complete_index);
    let mut by_invocation: Vec<&Joined> = joins.iter().collect();
    by_invocation.sort_by_key(|j| j.op.span.invoke_index);
    // The highest number among completed joins, and the highest among those
    // of another customer than that one's.
    let mut best: Option<&Joined> = None;
    let mut runner_up: Option<&Joined> = None;
    let mut done = by_completion.into_iter().peekable();
    for b in by_invocation {
        while let Some(a) = done.next_if(|a| a.op.span.precedes(&b.op.span)) {
            match best {
                Some(top) if a.seq <= top.seq => {
                    if a.call.customer != top.call.customer
                        && runner_up.is_none_or(|r| a.seq > r.seq)
                    {
                        runner_up = Some(a);
                    }
                }
                Some(top) => {
                    if top.call.customer != a.call.customer {
                        runner_up = Some(top);
                    }
                    best = Some(a);
                }
                None => best = Some(a),
            }
        }
        let earlier = match best {
            Some(top) if top.call.customer != b.call.customer => Some(top),
            _ => runner_up,
        };
        if let Some(a) = earlier.filter(|a| a.seq >= b.seq) {
            result.anomaly(
                AnomalyKind::FifoViolated,
                format!(
                    "{} finished before {} started, yet got a later number",
                    a.op, b.op
                ),
            );
        }
    }
}

/// A node's queue is in order and holds every acknowledged join.
fn node_queue(result: &mut CheckResult, node: &NodeState, joins: &BTreeMap<&str, Vec<Joined>>) {
    let n = &node.node;
    let mut places: HashMap<(&str, &str), u64> = HashMap::new();
    let mut last: HashMap<&str, u64> = HashMap::new();
    for e in &node.queue {
        if let Some(prev) = last.insert(&e.event, e.seq) {
            if e.seq == prev {
                result.anomaly(
                    AnomalyKind::DuplicateSeq,
                    format!("node {n}: {} seq {} listed twice", e.event, e.seq),
                );
            } else if e.seq < prev {
                result.anomaly(
                    AnomalyKind::QueueOutOfOrder,
                    format!("node {n}: {} seq {} listed after {prev}", e.event, e.seq),
                );
            }
        }
        places.insert((&e.event, &e.customer), e.seq);
    }
    for j in joins.values().flatten() {
        match places.get(&(j.call.event.as_str(), j.call.customer.as_str())) {
            Some(seq) if *seq == j.seq => {}
            Some(seq) => result.anomaly(
                AnomalyKind::QueueEntryLost,
                format!("{}: node {n} lists the customer with seq {seq}", j.op),
            ),
            None => result.anomaly(
                AnomalyKind::QueueEntryLost,
                format!("{}: the customer is not in node {n}'s queue", j.op),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;
    use crate::checker::Validity;

    /// a joins alone; then b and c overlap (so either order is fine).
    fn overlapping(seq_a: u64, seq_b: u64, seq_c: u64) -> Vec<Operation> {
        let mut s = Script::new();
        s.call(1, join("a"));
        s.ok(1, joined(seq_a));
        s.call(2, join("b"));
        s.call(3, join("c"));
        s.ok(3, joined(seq_c));
        s.ok(2, joined(seq_b));
        s.ops()
    }

    #[test]
    fn real_time_order_and_a_matching_queue_pass() {
        let ops = overlapping(1, 3, 2);
        let fin = everywhere(node_state(
            "n1",
            (0, 0),
            vec![],
            &[("a", 1), ("c", 2), ("b", 3)],
        ));
        let result = check(&run(&ops, &fin, &spec()));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
        assert_eq!(result.counts["ok_joins"], 3);
    }

    #[test]
    fn a_later_join_served_first_violates_fifo() {
        let ops = overlapping(3, 2, 1);
        let result = check(&run(&ops, &FinalState::default(), &spec()));
        assert!(
            result.has(AnomalyKind::FifoViolated),
            "{:?}",
            result.anomalies
        );
        assert_eq!(result.anomalies.len(), 2, "both b and c came after a");
        assert!(result.anomalies[0]
            .detail
            .starts_with("p1 join rir a → ok seq 3"));
    }

    #[test]
    fn a_customer_rejoining_may_keep_their_place() {
        let mut s = Script::new();
        s.call(1, join("a"));
        s.ok(1, joined(1));
        s.call(1, join("a"));
        s.ok(1, joined(1));
        let fin = everywhere(node_state("n1", (0, 0), vec![], &[("a", 1)]));
        let result = check(&run(&s.ops(), &fin, &spec()));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
    }

    #[test]
    fn a_rejoin_is_still_ordered_after_other_customers() {
        // a (seq 4) and b (seq 5) finish; b joins again and gets seq 3: b's
        // own earlier join is exempt, but a finished first with seq 4.
        let mut s = Script::new();
        s.call(1, join("a"));
        s.ok(1, joined(4));
        s.call(2, join("b"));
        s.ok(2, joined(5));
        s.call(2, join("b"));
        s.ok(2, joined(3));
        let result = check(&run(&s.ops(), &FinalState::default(), &spec()));
        assert!(
            result.has(AnomalyKind::FifoViolated),
            "{:?}",
            result.anomalies
        );
        assert_eq!(result.anomalies.len(), 1);
        assert!(result.anomalies[0]
            .detail
            .starts_with("p1 join rir a → ok seq 4"));
    }

    #[test]
    fn a_number_shared_by_two_customers_is_caught() {
        let ops = overlapping(1, 2, 2);
        let result = check(&run(&ops, &FinalState::default(), &spec()));
        assert!(result.has(AnomalyKind::DuplicateSeq));
    }

    #[test]
    fn a_join_missing_or_renumbered_on_a_node_is_caught() {
        let ops = overlapping(1, 3, 2);
        let mut fin = everywhere(node_state(
            "n1",
            (0, 0),
            vec![],
            &[("a", 1), ("c", 2), ("b", 3)],
        ));
        fin.nodes[1].queue.pop();
        fin.nodes[2].queue[1].seq = 4;
        let result = check(&run(&ops, &fin, &spec()));
        assert!(
            result.has(AnomalyKind::QueueEntryLost),
            "{:?}",
            result.anomalies
        );
        assert!(
            result.has(AnomalyKind::QueueOutOfOrder),
            "{:?}",
            result.anomalies
        );
        let details: Vec<&str> = result.anomalies.iter().map(|a| a.detail.as_str()).collect();
        assert!(
            details.iter().any(|d| d.contains("not in node n2's queue")),
            "{details:?}"
        );
        assert!(details
            .iter()
            .any(|d| d.contains("node n3 lists the customer with seq 4")));
    }
}
