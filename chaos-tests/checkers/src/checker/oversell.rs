//! No oversell: at every acknowledged read and at the end on every node,
//! sold ≤ capacity and sold + held ≤ capacity, with the spec's capacity and
//! counters that agree with themselves (and with the tickets at the end).

use std::collections::BTreeMap;

use super::{AnomalyKind, CheckResult, Run};
use crate::history::{OpBody, Outcome};

/// Checks every ok read and every node's category counters.
pub fn check(run: &Run) -> CheckResult {
    let mut result = CheckResult::new("no-oversell");
    for op in run.operations {
        let OpBody::Read {
            call,
            outcome: Outcome::Ok(r),
        } = &op.body
        else {
            continue;
        };
        result.count("reads_checked", 1);
        let Some(spec) = run.spec.category(&call.event, &call.category) else {
            result.anomaly(
                AnomalyKind::UnknownCategory,
                format!(
                    "{op}: {}/{} is not in the sale spec",
                    call.event, call.category
                ),
            );
            continue;
        };
        let what = op.to_string();
        capacity_rules(
            &mut result,
            &what,
            spec.capacity,
            r.capacity,
            r.sold,
            r.held,
        );
        if r.sold + r.held + r.available != r.capacity {
            result.anomaly(
                AnomalyKind::InconsistentCounters,
                format!("{what}: available {} ≠ capacity − sold − held", r.available),
            );
        }
    }
    for node in &run.final_state.nodes {
        let mut tickets: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for t in &node.tickets {
            *tickets.entry((&t.event, &t.category)).or_default() += 1;
        }
        for c in &node.categories {
            result.count("node_categories_checked", 1);
            let what = format!("node {} {}/{}", node.node, c.event, c.category);
            let Some(spec) = run.spec.category(&c.event, &c.category) else {
                result.anomaly(
                    AnomalyKind::UnknownCategory,
                    format!("{what} is not in the sale spec"),
                );
                continue;
            };
            capacity_rules(
                &mut result,
                &what,
                spec.capacity,
                c.capacity,
                c.sold,
                c.held,
            );
            let listed = tickets.remove(&(&c.event, &c.category)).unwrap_or(0);
            if listed != c.sold {
                result.anomaly(
                    AnomalyKind::SoldCountMismatch,
                    format!("{what}: sold {} but {listed} tickets listed", c.sold),
                );
            }
        }
        for ((event, category), n) in tickets {
            result.anomaly(
                AnomalyKind::SoldCountMismatch,
                format!(
                    "node {}: {n} tickets of {event}/{category}, a category it has no counters for",
                    node.node
                ),
            );
        }
        for event in &run.spec.events {
            for c in &event.categories {
                if node.category(&event.event, &c.category).is_none() {
                    result.anomaly(
                        AnomalyKind::MissingCategory,
                        format!("node {} lacks {}/{}", node.node, event.event, c.category),
                    );
                }
            }
        }
    }
    result
}

/// The capacity rules for one set of counters.
fn capacity_rules(
    result: &mut CheckResult,
    what: &str,
    spec: u64,
    capacity: u64,
    sold: u64,
    held: u64,
) {
    if capacity != spec {
        result.anomaly(
            AnomalyKind::CapacityMismatch,
            format!("{what}: capacity {capacity}, the spec says {spec}"),
        );
    }
    if sold > spec {
        result.anomaly(
            AnomalyKind::Oversold,
            format!("{what}: sold {sold} > capacity {spec}"),
        );
    } else if sold + held > spec {
        result.anomaly(
            AnomalyKind::Overcommitted,
            format!("{what}: sold {sold} + held {held} > capacity {spec}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;
    use crate::checker::Validity;

    #[test]
    fn reads_and_end_states_within_capacity_pass() {
        let mut s = Script::new();
        s.call(1, read());
        s.ok(1, counters(4, 6));
        let tickets = (0..4).map(|i| ticket(&format!("t{i}"), "c1", 1)).collect();
        let fin = everywhere(node_state("n1", (4, 6), tickets, &[]));
        let result = check(&run(&s.ops(), &fin, &spec()));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
        assert_eq!(result.counts["reads_checked"], 1);
        assert_eq!(result.counts["node_categories_checked"], 6);
    }

    #[test]
    fn an_oversold_read_is_caught() {
        let mut s = Script::new();
        s.call(1, read());
        s.ok(1, counters(11, 0));
        let result = check(&run(&s.ops(), &FinalState::default(), &spec()));
        assert!(result.has(AnomalyKind::Oversold), "{:?}", result.anomalies);
        assert!(result.has(AnomalyKind::InconsistentCounters));
    }

    #[test]
    fn held_beyond_capacity_at_the_end_is_caught() {
        let tickets = (0..8).map(|i| ticket(&format!("t{i}"), "c1", 1)).collect();
        let fin = everywhere(node_state("n1", (8, 3), tickets, &[]));
        let result = check(&run(&[], &fin, &spec()));
        assert!(result.has(AnomalyKind::Overcommitted));
        assert!(result.anomalies[0]
            .detail
            .contains("sold 8 + held 3 > capacity 10"));
    }

    #[test]
    fn a_sold_counter_that_disagrees_with_the_tickets_is_caught() {
        let fin = everywhere(node_state("n1", (2, 0), vec![ticket("t1", "c1", 1)], &[]));
        let result = check(&run(&[], &fin, &spec()));
        assert!(result.has(AnomalyKind::SoldCountMismatch));
    }

    #[test]
    fn a_wrong_capacity_or_missing_category_is_caught() {
        let mut node = node_state("n1", (0, 0), vec![], &[]);
        node.categories[0].capacity = 12;
        node.categories.pop();
        let result = check(&run(&[], &everywhere(node), &spec()));
        assert!(result.has(AnomalyKind::CapacityMismatch));
        assert!(result.has(AnomalyKind::MissingCategory));
    }
}
