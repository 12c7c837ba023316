//! Convergence: after healing, every node reports the same state hash and
//! audit-chain head, and the same tickets, counters and queue (compared
//! directly too, so a divergence is named even if the hashes were computed
//! over something else).

use std::collections::BTreeSet;

use super::{AnomalyKind, CheckResult, Run};
use crate::final_state::NodeState;

/// Compares every node with the first one read.
pub fn check(run: &Run) -> CheckResult {
    let mut result = CheckResult::new("convergence");
    let nodes = &run.final_state.nodes;
    result.count("nodes", nodes.len() as u64);
    let Some((reference, others)) = nodes.split_first() else {
        result.anomaly(AnomalyKind::NoFinalState, "no node's final state was read");
        return result;
    };
    for node in others {
        compare(&mut result, reference, node);
    }
    result
}

fn compare(result: &mut CheckResult, a: &NodeState, b: &NodeState) {
    let pair = format!("nodes {} and {}", a.node, b.node);
    if a.state_hash != b.state_hash {
        result.anomaly(
            AnomalyKind::Diverged,
            format!("{pair}: state hash {} ≠ {}", a.state_hash, b.state_hash),
        );
    }
    if a.audit_head != b.audit_head {
        result.anomaly(
            AnomalyKind::Diverged,
            format!("{pair}: audit head {} ≠ {}", a.audit_head, b.audit_head),
        );
    }
    let ta: BTreeSet<_> = a.tickets.iter().collect();
    let tb: BTreeSet<_> = b.tickets.iter().collect();
    if ta != tb {
        let only_a: Vec<&str> = ta.difference(&tb).map(|t| t.ticket_id.as_str()).collect();
        let only_b: Vec<&str> = tb.difference(&ta).map(|t| t.ticket_id.as_str()).collect();
        result.anomaly(
            AnomalyKind::Diverged,
            format!(
                "{pair}: tickets differ (only on {}: {only_a:?}; only on {}: {only_b:?})",
                a.node, b.node
            ),
        );
    }
    if counters(a) != counters(b) {
        result.anomaly(
            AnomalyKind::Diverged,
            format!("{pair}: category counters differ"),
        );
    }
    let queue = |n: &NodeState| n.queue.iter().cloned().collect::<BTreeSet<_>>();
    if queue(a) != queue(b) {
        result.anomaly(AnomalyKind::Diverged, format!("{pair}: queues differ"));
    }
    if a.admitted_up_to != b.admitted_up_to {
        result.anomaly(
            AnomalyKind::Diverged,
            format!(
                "{pair}: admitted up to {:?} ≠ {:?}",
                a.admitted_up_to, b.admitted_up_to
            ),
        );
    }
}

/// A node's category counters in a comparable order.
fn counters(n: &NodeState) -> Vec<(&str, &str, u64, u64, u64)> {
    let mut c: Vec<_> = n
        .categories
        .iter()
        .map(|c| {
            (
                c.event.as_str(),
                c.category.as_str(),
                c.capacity,
                c.sold,
                c.held,
            )
        })
        .collect();
    c.sort();
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;
    use crate::checker::Validity;

    fn agreed() -> FinalState {
        everywhere(node_state(
            "n1",
            (1, 0),
            vec![ticket("t1", "c1", 1)],
            &[("c1", 1)],
        ))
    }

    #[test]
    fn identical_nodes_converge() {
        let fin = agreed();
        let result = check(&run(&[], &fin, &spec()));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
        assert_eq!(result.counts["nodes"], 3);
    }

    #[test]
    fn a_different_hash_or_audit_head_diverges() {
        let mut fin = agreed();
        fin.nodes[1].state_hash = "beef".into();
        fin.nodes[2].audit_head = "f00d".into();
        let result = check(&run(&[], &fin, &spec()));
        assert_eq!(result.anomalies.len(), 2);
        assert!(result.anomalies[0]
            .detail
            .contains("nodes n1 and n2: state hash 5eed ≠ beef"));
        assert!(result.anomalies[1].detail.contains("audit head"));
    }

    #[test]
    fn different_tickets_diverge_even_with_equal_hashes() {
        let mut fin = agreed();
        fin.nodes[2].tickets[0].customer = "c2".into();
        fin.nodes[2].admitted_up_to.insert("rir".into(), 7);
        let result = check(&run(&[], &fin, &spec()));
        assert!(result.has(AnomalyKind::Diverged));
        assert!(result.anomalies[0].detail.contains("tickets differ"));
        assert!(result.anomalies[1].detail.contains("admitted up to"));
    }

    #[test]
    fn no_final_state_is_an_anomaly() {
        let result = check(&run(&[], &FinalState::default(), &spec()));
        assert!(result.has(AnomalyKind::NoFinalState));
    }
}
