//! Replies as JSON values for `--json`, built by hand so the proto types need
//! no serde derives. Field names follow the proto.

use ingressoja_client::proto::admin::{Member, MembershipReply, NodeStatus};
use ingressoja_client::proto::ticketing::{
    AvailabilityReply, CategoryAvailability, Hold, ListTicketsReply, PurchaseReply, Ticket,
};
use ingressoja_client::NodeReport;
use serde_json::{json, Value};

use crate::health;

/// A hold (or `null` when the reply had none).
pub fn hold(hold: Option<&Hold>) -> Value {
    let Some(h) = hold else {
        return Value::Null;
    };
    json!({
        "hold_id": h.hold_id,
        "event_id": h.event_id,
        "category_id": h.category_id,
        "customer_id": h.customer_id,
        "quantity": h.quantity,
        "expires_at_ms": h.expires_at_ms,
        "status": h.status,
        "created_at_ms": h.created_at_ms,
    })
}

/// One ticket.
pub fn ticket(t: &Ticket) -> Value {
    json!({
        "ticket_id": t.ticket_id,
        "event_id": t.event_id,
        "category_id": t.category_id,
        "customer_id": t.customer_id,
        "hold_id": t.hold_id,
        "price_cents": t.price_cents,
        "sold_at_ms": t.sold_at_ms,
    })
}

/// A purchase's tickets and charge.
pub fn purchase(reply: &PurchaseReply) -> Value {
    json!({
        "tickets": reply.tickets.iter().map(ticket).collect::<Vec<_>>(),
        "log_index": reply.log_index,
        "charge_id": reply.charge_id,
    })
}

/// A customer's tickets.
pub fn tickets(reply: &ListTicketsReply) -> Value {
    json!({
        "tickets": reply.tickets.iter().map(ticket).collect::<Vec<_>>(),
        "read_index": reply.read_index,
    })
}

/// One category's counts.
fn category(c: &CategoryAvailability) -> Value {
    json!({
        "category_id": c.category_id,
        "name": c.name,
        "capacity": c.capacity,
        "sold": c.sold,
        "held": c.held,
        "available": c.available,
        "price_cents": c.price_cents,
        "per_customer_limit": c.per_customer_limit,
    })
}

/// An event's availability.
pub fn availability(reply: &AvailabilityReply) -> Value {
    json!({
        "event_id": reply.event_id,
        "name": reply.name,
        "categories": reply.categories.iter().map(category).collect::<Vec<_>>(),
        "read_index": reply.read_index,
    })
}

/// One cluster member.
fn member(m: &Member) -> Value {
    json!({ "id": m.id, "addr": m.addr, "voter": m.voter })
}

/// A membership after a change.
pub fn membership(reply: &MembershipReply) -> Value {
    json!({
        "members": reply.members.iter().map(member).collect::<Vec<_>>(),
        "log_index": reply.log_index,
    })
}

/// One node's status.
pub fn node_status(s: &NodeStatus) -> Value {
    json!({
        "id": s.id,
        "addr": s.addr,
        "role": s.role,
        "term": s.term,
        "leader_id": s.leader_id,
        "leader_addr": s.leader_addr,
        "last_log_index": s.last_log_index,
        "applied_index": s.applied_index,
        "snapshot_index": s.snapshot_index,
        "purged_index": s.purged_index,
        "members": s.members.iter().map(member).collect::<Vec<_>>(),
        "state_hash": s.state_hash,
        "audit_head": s.audit_head,
        "audit_len": s.audit_len,
    })
}

/// Every node's status, the leader if one is known, and the applied indexes
/// at which replicas disagree on the state hash (should be empty).
pub fn cluster_status(reports: &[NodeReport]) -> Value {
    let nodes: Vec<Value> = reports
        .iter()
        .map(|report| match &report.status {
            Ok(status) => json!({
                "addr": report.addr,
                "reachable": true,
                "status": node_status(status),
                "lag": health::lag(reports, status),
                "health": health::health(reports, status),
            }),
            Err(error) => json!({
                "addr": report.addr,
                "reachable": false,
                "error": error.to_string(),
            }),
        })
        .collect();
    let leader = match health::leader(reports) {
        Some((id, addr)) => json!({ "id": id, "addr": addr }),
        None => Value::Null,
    };
    json!({
        "leader": leader,
        "nodes": nodes,
        "diverged_at": health::divergences(reports),
        "audit_diverged_at": health::audit_divergences(reports),
    })
}
