//! Conversions between the wire types (proto) and the machine's domain types.

use ingressoja_proto::ticketing as pb;

use crate::error::ServiceError;
use crate::machine::{CategorySpec, Hold, IdempotencyKey, Ticket};

/// The idempotency key of a mutating request; required.
pub fn key(key: Option<pb::IdempotencyKey>) -> Result<IdempotencyKey, ServiceError> {
    let key =
        key.ok_or_else(|| ServiceError::bad_request("key", "an idempotency key is required"))?;
    if key.client_id.is_empty() || key.client_id.len() > 64 {
        return Err(ServiceError::bad_request(
            "key.client_id",
            "must be 1 to 64 characters",
        ));
    }
    Ok(IdempotencyKey {
        client_id: key.client_id,
        request_id: key.request_id,
    })
}

/// A category as the machine takes it.
pub fn category_spec(c: pb::CategorySpec) -> CategorySpec {
    CategorySpec {
        category_id: c.category_id,
        name: c.name,
        capacity: c.capacity,
        price_cents: c.price_cents,
        per_customer_limit: c.per_customer_limit,
    }
}

/// A hold as clients see it.
pub fn hold(h: &Hold) -> pb::Hold {
    pb::Hold {
        hold_id: h.hold_id,
        event_id: h.event_id.clone(),
        category_id: h.category_id.clone(),
        customer_id: h.customer_id.clone(),
        quantity: h.quantity,
        expires_at_ms: h.expires_at_ms,
        status: h.status.as_str().to_string(),
        created_at_ms: h.created_at_ms,
    }
}

/// A ticket as clients see it.
pub fn ticket(t: &Ticket) -> pb::Ticket {
    pb::Ticket {
        ticket_id: t.ticket_id.to_string(),
        event_id: t.event_id.clone(),
        category_id: t.category_id.clone(),
        customer_id: t.customer_id.clone(),
        hold_id: t.hold_id,
        price_cents: t.price_cents,
        sold_at_ms: t.sold_at_ms,
    }
}
