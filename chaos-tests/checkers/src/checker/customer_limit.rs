//! Per-customer limits: at the end, on every node, no customer owns more
//! tickets of a category than its limit, nor more of an event than the
//! event-wide limit when there is one.

use std::collections::BTreeMap;

use super::{AnomalyKind, CheckResult, Run};

/// Counts every node's tickets per customer and compares with the spec.
pub fn check(run: &Run) -> CheckResult {
    let mut result = CheckResult::new("customer-limits");
    for node in &run.final_state.nodes {
        let mut per_category: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
        let mut per_event: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for t in &node.tickets {
            *per_category
                .entry((&t.event, &t.category, &t.customer))
                .or_default() += 1;
            *per_event.entry((&t.event, &t.customer)).or_default() += 1;
        }
        result.count("customers_checked", per_event.len() as u64);
        for ((event, category, customer), owned) in per_category {
            // An unknown category is the no-oversell checker's anomaly.
            let Some(spec) = run.spec.category(event, category) else {
                continue;
            };
            if owned > spec.customer_limit {
                result.anomaly(
                    AnomalyKind::CustomerLimitExceeded,
                    format!(
                        "node {}: {customer} owns {owned} tickets of {event}/{category}, limit {}",
                        node.node, spec.customer_limit
                    ),
                );
            }
        }
        for ((event, customer), owned) in per_event {
            let limit = run.spec.event(event).and_then(|e| e.customer_limit);
            if let Some(limit) = limit.filter(|limit| owned > *limit) {
                result.anomaly(
                    AnomalyKind::EventLimitExceeded,
                    format!(
                        "node {}: {customer} owns {owned} tickets of {event}, limit {limit}",
                        node.node
                    ),
                );
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;
    use crate::checker::Validity;

    fn tickets_of(customer: &str, category: &str, n: usize, from: usize) -> Vec<Ticket> {
        (from..from + n)
            .map(|i| Ticket {
                category: category.into(),
                ..ticket(&format!("t{i}"), customer, i as u64)
            })
            .collect()
    }

    #[test]
    fn customers_at_their_limits_pass() {
        let mut tickets = tickets_of("c1", "pista", 2, 0);
        tickets.extend(tickets_of("c1", "cadeira", 2, 10));
        tickets.extend(tickets_of("c2", "pista", 4, 20));
        let fin = everywhere(node_state("n1", (6, 0), tickets, &[]));
        let result = check(&run(&[], &fin, &spec()));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
        assert_eq!(result.counts["customers_checked"], 6);
    }

    #[test]
    fn over_the_category_limit_is_caught() {
        let fin = everywhere(node_state(
            "n1",
            (0, 0),
            tickets_of("c1", "cadeira", 3, 0),
            &[],
        ));
        let result = check(&run(&[], &fin, &spec()));
        assert!(result.has(AnomalyKind::CustomerLimitExceeded));
        assert!(!result.has(AnomalyKind::EventLimitExceeded));
    }

    #[test]
    fn over_the_event_limit_is_caught() {
        let mut tickets = tickets_of("c1", "pista", 3, 0);
        tickets.extend(tickets_of("c1", "cadeira", 2, 10));
        let fin = everywhere(node_state("n1", (3, 0), tickets, &[]));
        let result = check(&run(&[], &fin, &spec()));
        assert!(result.has(AnomalyKind::EventLimitExceeded));
        assert!(!result.has(AnomalyKind::CustomerLimitExceeded));
    }
}
