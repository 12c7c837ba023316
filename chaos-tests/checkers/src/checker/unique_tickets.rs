//! No ticket sold twice: a ticket id appears once per node, is bound to the
//! same customer (and hold) on every node, and no two acknowledged
//! purchases of different holds returned the same id.

use std::collections::HashMap;

use super::{AnomalyKind, CheckResult, Run};
use crate::final_state::Ticket;
use crate::history::{OpBody, Operation, Outcome};

/// Checks ticket ids across the end states and the acknowledged purchases.
pub fn check(run: &Run) -> CheckResult {
    let mut result = CheckResult::new("unique-tickets");
    let mut bound: HashMap<&str, (&Ticket, &str)> = HashMap::new();
    for node in &run.final_state.nodes {
        let mut seen: HashMap<&str, &Ticket> = HashMap::new();
        for t in &node.tickets {
            result.count("node_tickets_checked", 1);
            if let Some(first) = seen.insert(&t.ticket_id, t) {
                result.anomaly(
                    AnomalyKind::TicketSoldTwice,
                    format!(
                        "node {}: ticket {} listed twice ({} hold {}, {} hold {})",
                        node.node,
                        t.ticket_id,
                        first.customer,
                        first.hold_id,
                        t.customer,
                        t.hold_id
                    ),
                );
                continue;
            }
            match bound.get(t.ticket_id.as_str()) {
                None => {
                    bound.insert(&t.ticket_id, (t, &node.node));
                }
                Some((other, other_node)) if *other != t => result.anomaly(
                    AnomalyKind::TicketOwnerConflict,
                    format!(
                        "ticket {}: node {other_node} binds it to {} ({}/{} hold {}), node {} to {} ({}/{} hold {})",
                        t.ticket_id,
                        other.customer,
                        other.event,
                        other.category,
                        other.hold_id,
                        node.node,
                        t.customer,
                        t.event,
                        t.category,
                        t.hold_id
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    let mut returned: HashMap<&str, &Operation> = HashMap::new();
    for op in run.operations {
        let OpBody::Purchase {
            call,
            outcome: Outcome::Ok(reply),
        } = &op.body
        else {
            continue;
        };
        for id in &reply.tickets {
            result.count("purchased_tickets_checked", 1);
            match returned.insert(id, op) {
                None => {}
                Some(other) if std::ptr::eq(other, op) => result.anomaly(
                    AnomalyKind::TicketSoldTwice,
                    format!("{op}: ticket {id} returned twice by one purchase"),
                ),
                Some(other) => {
                    let OpBody::Purchase { call: first, .. } = &other.body else {
                        unreachable!("only purchases are recorded");
                    };
                    if first.hold_id != call.hold_id {
                        result.anomaly(
                            AnomalyKind::TicketSoldTwice,
                            format!("ticket {id} returned by two purchases: {other} and {op}"),
                        );
                    }
                }
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

    fn two_purchases(second_ticket: &str, second_hold: u64) -> Vec<Operation> {
        let mut s = Script::new();
        s.call(1, purchase("c1", 1, 1));
        s.call(2, purchase("c2", second_hold, 1));
        s.ok(1, bought(&["t1"]));
        s.ok(2, bought(&[second_ticket]));
        s.ops()
    }

    #[test]
    fn distinct_tickets_bound_alike_everywhere_pass() {
        let ops = two_purchases("t2", 2);
        let fin = everywhere(node_state(
            "n1",
            (2, 0),
            vec![ticket("t1", "c1", 1), ticket("t2", "c2", 2)],
            &[],
        ));
        let result = check(&run(&ops, &fin, &spec()));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
        assert_eq!(result.counts["node_tickets_checked"], 6);
    }

    #[test]
    fn a_retried_purchase_of_one_hold_may_return_the_same_tickets() {
        let ops = two_purchases("t1", 1);
        let result = check(&run(&ops, &FinalState::default(), &spec()));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
    }

    #[test]
    fn one_ticket_from_two_holds_is_sold_twice() {
        let ops = two_purchases("t1", 2);
        let result = check(&run(&ops, &FinalState::default(), &spec()));
        assert!(
            result.has(AnomalyKind::TicketSoldTwice),
            "{:?}",
            result.anomalies
        );
    }

    #[test]
    fn a_ticket_listed_twice_on_a_node_is_sold_twice() {
        let node = node_state(
            "n1",
            (2, 0),
            vec![ticket("t1", "c1", 1), ticket("t1", "c2", 2)],
            &[],
        );
        let fin = FinalState { nodes: vec![node] };
        let result = check(&run(&[], &fin, &spec()));
        assert!(result.has(AnomalyKind::TicketSoldTwice));
    }

    #[test]
    fn a_ticket_bound_to_two_customers_across_nodes_is_caught() {
        let a = node_state("n1", (1, 0), vec![ticket("t1", "c1", 1)], &[]);
        let b = node_state("n2", (1, 0), vec![ticket("t1", "c2", 1)], &[]);
        let fin = FinalState { nodes: vec![a, b] };
        let result = check(&run(&[], &fin, &spec()));
        assert!(result.has(AnomalyKind::TicketOwnerConflict));
        assert!(result.anomalies[0]
            .detail
            .contains("node n1 binds it to c1"));
    }
}
