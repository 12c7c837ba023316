//! No acknowledged purchase lost, no failed purchase applied, no hold bought
//! twice. Per hold: every purchase that returned ok has its tickets, bound
//! to its customer and hold, on every node at the end; a hold whose
//! purchases all failed has no tickets; a hold with only unknown (info)
//! purchases has either none or exactly one set of tickets.
//!
//! Assumption: every purchase of the run is in the history, so a ticket
//! whose hold no recorded purchase named is an anomaly.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{AnomalyKind, CheckResult, Run};
use crate::final_state::{NodeState, Ticket};
use crate::history::{OpBody, Operation, Outcome, PurchaseCall, PurchaseReply};

/// The recorded purchases of one hold, by outcome.
#[derive(Default)]
struct HoldPurchases<'a> {
    ok: Vec<(&'a Operation, &'a PurchaseCall, &'a PurchaseReply)>,
    failed: Vec<&'a Operation>,
    unknown: Vec<(&'a Operation, &'a PurchaseCall)>,
}

/// Checks every recorded purchase against every node's tickets.
pub fn check(run: &Run) -> CheckResult {
    let mut result = CheckResult::new("acknowledged-purchases");
    let mut holds: BTreeMap<(&str, u64), HoldPurchases> = BTreeMap::new();
    for op in run.operations {
        let OpBody::Purchase { call, outcome } = &op.body else {
            continue;
        };
        let entry = holds.entry((&call.event, call.hold_id)).or_default();
        match outcome {
            Outcome::Ok(reply) => {
                result.count("ok_purchases", 1);
                entry.ok.push((op, call, reply));
            }
            Outcome::Fail(_) => {
                result.count("failed_purchases", 1);
                entry.failed.push(op);
            }
            Outcome::Info(_) => {
                result.count("info_purchases", 1);
                entry.unknown.push((op, call));
            }
        }
    }
    for purchases in holds.values() {
        history_rules(&mut result, purchases);
    }
    for (i, node) in run.final_state.nodes.iter().enumerate() {
        node_rules(&mut result, node, &holds, i == 0);
    }
    result
}

/// What the history alone says: acknowledged purchases of one hold agree,
/// and each returned as many tickets as the hold had.
fn history_rules(result: &mut CheckResult, purchases: &HoldPurchases) {
    let Some((first, _, first_reply)) = purchases.ok.first() else {
        return;
    };
    let first_set: BTreeSet<&String> = first_reply.tickets.iter().collect();
    for (op, call, reply) in &purchases.ok {
        if reply.tickets.len() as u64 != call.quantity {
            result.anomaly(
                AnomalyKind::HoldBoughtTwice,
                format!(
                    "{op}: {} tickets for a hold of {}",
                    reply.tickets.len(),
                    call.quantity
                ),
            );
        }
        if reply.tickets.iter().collect::<BTreeSet<_>>() != first_set {
            result.anomaly(
                AnomalyKind::HoldBoughtTwice,
                format!("one hold, two sets of tickets: {first} and {op}"),
            );
        }
    }
}

/// What one node must hold for the recorded purchases.
fn node_rules(
    result: &mut CheckResult,
    node: &NodeState,
    holds: &BTreeMap<(&str, u64), HoldPurchases>,
    count_unknowns: bool,
) {
    let by_id: HashMap<&str, &Ticket> = node
        .tickets
        .iter()
        .map(|t| (t.ticket_id.as_str(), t))
        .collect();
    let mut by_hold: BTreeMap<(&str, u64), Vec<&Ticket>> = BTreeMap::new();
    for t in &node.tickets {
        by_hold.entry((&t.event, t.hold_id)).or_default().push(t);
    }
    let n = &node.node;
    for (key, purchases) in holds {
        let tickets = by_hold.remove(key).unwrap_or_default();
        if let Some((op, call, reply)) = purchases.ok.first() {
            for id in &reply.tickets {
                match by_id.get(id.as_str()) {
                    None => result.anomaly(
                        AnomalyKind::PurchaseLost,
                        format!("{op}: ticket {id} missing on node {n}"),
                    ),
                    Some(t) if !belongs(t, call) => result.anomaly(
                        AnomalyKind::PurchaseLost,
                        format!(
                            "{op}: ticket {id} is bound on node {n} to {} ({}/{} hold {})",
                            t.customer, t.event, t.category, t.hold_id
                        ),
                    ),
                    Some(_) => {}
                }
            }
            if tickets.len() != reply.tickets.len() {
                result.anomaly(
                    AnomalyKind::HoldBoughtTwice,
                    format!(
                        "{op}: node {n} has {} tickets for hold {}",
                        tickets.len(),
                        call.hold_id
                    ),
                );
            }
        } else if let Some((op, call)) = purchases.unknown.first() {
            let applied = !tickets.is_empty();
            if count_unknowns {
                let name = if applied {
                    "info_applied"
                } else {
                    "info_not_applied"
                };
                result.count(name, 1);
            }
            if applied && tickets.len() as u64 != call.quantity {
                result.anomaly(
                    AnomalyKind::HoldBoughtTwice,
                    format!(
                        "{op}: node {n} has {} tickets for a hold of {}",
                        tickets.len(),
                        call.quantity
                    ),
                );
            }
            for t in tickets.iter().filter(|t| !belongs(t, call)) {
                result.anomaly(
                    AnomalyKind::TicketOwnerConflict,
                    format!(
                        "{op}: ticket {} is bound on node {n} to {} ({}/{})",
                        t.ticket_id, t.customer, t.event, t.category
                    ),
                );
            }
        } else if !tickets.is_empty() {
            let ids: Vec<&str> = tickets.iter().map(|t| t.ticket_id.as_str()).collect();
            let ops: Vec<String> = purchases.failed.iter().map(|o| o.to_string()).collect();
            result.anomaly(
                AnomalyKind::FailedPurchasePresent,
                format!("{}: node {n} has tickets {ids:?}", ops.join("; ")),
            );
        }
    }
    for ((event, hold), tickets) in by_hold {
        let ids: Vec<&str> = tickets.iter().map(|t| t.ticket_id.as_str()).collect();
        result.anomaly(
            AnomalyKind::TicketWithoutPurchase,
            format!("node {n}: tickets {ids:?} of {event} hold {hold}, which no recorded purchase named"),
        );
    }
}

/// Whether `t` is bound to the customer, hold and category `call` named.
fn belongs(t: &Ticket, call: &PurchaseCall) -> bool {
    t.customer == call.customer
        && t.hold_id == call.hold_id
        && t.event == call.event
        && t.category == call.category
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;
    use crate::checker::Validity;

    /// c1 buys hold 1 (ok, t1 t2); c2's purchase of hold 2 is declined;
    /// c3's purchase of hold 3 times out.
    fn script() -> Vec<Operation> {
        let mut s = Script::new();
        s.call(1, purchase("c1", 1, 2));
        s.call(2, purchase_paying("c2", 2, 1, Payment::Decline));
        s.call(3, purchase("c3", 3, 1));
        s.ok(1, bought(&["t1", "t2"]));
        s.fail(2, OpKind::Purchase, codes::PAYMENT_DECLINED);
        s.info(3, OpKind::Purchase);
        s.ops()
    }

    fn c1_tickets() -> Vec<Ticket> {
        vec![ticket("t1", "c1", 1), ticket("t2", "c1", 1)]
    }

    #[test]
    fn acknowledged_present_failed_absent_and_info_either_way_pass() {
        let ops = script();
        let without = everywhere(node_state("n1", (2, 0), c1_tickets(), &[]));
        let result = check(&run(&ops, &without, &spec()));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
        assert_eq!(result.counts["info_not_applied"], 1);

        let mut tickets = c1_tickets();
        tickets.push(ticket("t3", "c3", 3));
        let with = everywhere(node_state("n1", (3, 0), tickets, &[]));
        let result = check(&run(&ops, &with, &spec()));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
        assert_eq!(result.counts["info_applied"], 1);
    }

    #[test]
    fn an_acknowledged_purchase_missing_on_one_node_is_lost() {
        let ops = script();
        let mut fin = everywhere(node_state("n1", (2, 0), c1_tickets(), &[]));
        fin.nodes[2].tickets.pop();
        let result = check(&run(&ops, &fin, &spec()));
        assert!(
            result.has(AnomalyKind::PurchaseLost),
            "{:?}",
            result.anomalies
        );
        assert!(result.anomalies[0]
            .detail
            .contains("ticket t2 missing on node n3"));
    }

    #[test]
    fn an_acknowledged_ticket_bound_to_someone_else_is_lost() {
        let ops = script();
        let tickets = vec![ticket("t1", "c1", 1), ticket("t2", "c9", 1)];
        let fin = everywhere(node_state("n1", (2, 0), tickets, &[]));
        let result = check(&run(&ops, &fin, &spec()));
        assert!(result.has(AnomalyKind::PurchaseLost));
    }

    #[test]
    fn a_declined_purchase_with_tickets_is_caught() {
        let ops = script();
        let mut tickets = c1_tickets();
        tickets.push(ticket("t9", "c2", 2));
        let fin = everywhere(node_state("n1", (3, 0), tickets, &[]));
        let result = check(&run(&ops, &fin, &spec()));
        assert!(result.has(AnomalyKind::FailedPurchasePresent));
    }

    #[test]
    fn an_info_purchase_applied_twice_is_caught() {
        let ops = script();
        let mut tickets = c1_tickets();
        tickets.push(ticket("t3", "c3", 3));
        tickets.push(ticket("t4", "c3", 3));
        let fin = everywhere(node_state("n1", (4, 0), tickets, &[]));
        let result = check(&run(&ops, &fin, &spec()));
        assert!(
            result.has(AnomalyKind::HoldBoughtTwice),
            "{:?}",
            result.anomalies
        );
    }

    #[test]
    fn tickets_no_purchase_asked_for_are_caught() {
        let ops = script();
        let mut tickets = c1_tickets();
        tickets.push(ticket("t7", "c7", 77));
        let fin = everywhere(node_state("n1", (3, 0), tickets, &[]));
        let result = check(&run(&ops, &fin, &spec()));
        assert!(result.has(AnomalyKind::TicketWithoutPurchase));
    }

    #[test]
    fn one_hold_acknowledged_with_two_ticket_sets_is_caught() {
        let mut s = Script::new();
        s.call(1, purchase("c1", 1, 1));
        s.ok(1, bought(&["t1"]));
        s.call(2, purchase("c1", 1, 1));
        s.ok(2, bought(&["t2"]));
        let result = check(&run(&s.ops(), &FinalState::default(), &spec()));
        assert!(result.has(AnomalyKind::HoldBoughtTwice));
    }
}
