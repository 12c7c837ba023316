//! The JSON a notification carries, shared by SSE and webhooks.

use ingressoja_client::proto::ticketing::DomainEvent;
use serde_json::{json, Value};

/// A domain event as JSON (`replay` marks events from before the connection).
pub fn event_json(event: &DomainEvent, replay: bool) -> Value {
    json!({
        "seq": event.seq,
        "kind": event.kind,
        "event_id": event.event_id,
        "customer_id": event.customer_id,
        "hold_id": event.hold_id,
        "category_id": event.category_id,
        "quantity": event.quantity,
        "ticket_ids": event.ticket_ids,
        "reason": event.reason,
        "ts_ms": event.ts_ms,
        "replay": replay,
    })
}
