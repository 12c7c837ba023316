//! Conversions between the wire types (proto) and the machine's domain types.

use ingressoja_proto::ticketing as pb;

use crate::error::ServiceError;
use crate::machine::{
    CategorySpec, Customer, DomainEvent, Hold, IdempotencyKey, LoginOutcome, QueuePolicy,
    QueuePosition, SalePolicy, Ticket,
};

/// The idempotency key of a mutating request; required.
pub fn key(key: Option<pb::IdempotencyKey>) -> Result<IdempotencyKey, ServiceError> {
    let key =
        key.ok_or_else(|| ServiceError::bad_request("key", "an idempotency key is required"))?;
    ingressoja_codes::validate_client_id(&key.client_id)
        .map_err(|error| ServiceError::bad_request("key.client_id", error.to_string()))?;
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

/// A sale policy as the machine takes it (absent: no limits, no queue).
pub fn sale_policy(p: Option<pb::SalePolicy>) -> SalePolicy {
    let Some(p) = p else {
        return SalePolicy::default();
    };
    SalePolicy {
        per_customer_event_limit: p.per_customer_event_limit,
        max_per_hold: p.max_per_hold,
        one_live_hold: p.one_live_hold,
        sale_opens_at_ms: p.sale_opens_at_ms,
        queue: p.queue_enabled.then_some(QueuePolicy {
            admit_per_minute: p.admit_per_minute,
            max_active: p.max_active_shoppers,
            admission_ttl_ms: p.admission_ttl_ms,
        }),
        release_hold_on_payment_failure: p.release_hold_on_payment_failure,
    }
}

/// A queue position as clients see it.
pub fn queue_status(p: &QueuePosition, log_index: u64) -> pb::QueueStatus {
    let admission = p.admission.as_ref();
    pb::QueueStatus {
        event_id: p.event_id.clone(),
        customer_id: p.customer_id.clone(),
        seq: p.seq,
        in_pre_queue: p.in_pre_queue,
        people_ahead: p.people_ahead,
        admitted_up_to: p.admitted_up_to,
        admitted: admission.is_some(),
        admission_expires_at_ms: admission.map(|a| a.expires_at_ms).unwrap_or(0),
        estimated_wait_ms: p.estimated_wait_ms,
        queue_length: p.queue_length,
        log_index,
        admission_over: admission.is_some_and(|a| a.over),
    }
}

/// A domain event as clients see it.
pub fn domain_event(e: &DomainEvent) -> pb::DomainEvent {
    pb::DomainEvent {
        seq: e.seq,
        log_index: e.log_index,
        ts_ms: e.ts_ms,
        kind: e.kind.map(|k| k.as_str()).unwrap_or("unknown").to_string(),
        event_id: e.event_id.clone(),
        customer_id: e.customer_id.clone(),
        hold_id: e.hold_id.unwrap_or(0),
        category_id: e.category_id.clone(),
        quantity: e.quantity,
        ticket_ids: e.ticket_ids.clone(),
        reason: e.reason.clone(),
    }
}

/// A customer's credentials and login counters, for gateways (carries secrets).
pub fn credentials(c: &Customer, read_index: u64) -> pb::CredentialsReply {
    pb::CredentialsReply {
        customer_id: c.customer_id.clone(),
        email: c.email.clone(),
        display_name: c.display_name.clone(),
        password_hash: c.password_hash.clone(),
        totp_secret: c.totp_secret.clone().unwrap_or_default(),
        failed_logins: c.failed_logins,
        last_failed_login_ms: c.last_failed_login_ms,
        last_totp_step: c.last_totp_step,
        read_index,
    }
}

/// A login attempt's outcome as the machine takes it (`totp_step` counts only with `has_totp_step`).
pub fn login_outcome(r: &pb::RecordLoginRequest) -> LoginOutcome {
    if r.succeeded {
        LoginOutcome::Succeeded {
            totp_step: r.has_totp_step.then_some(r.totp_step),
        }
    } else {
        LoginOutcome::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_with(client_id: String) -> Option<pb::IdempotencyKey> {
        Some(pb::IdempotencyKey {
            client_id,
            request_id: 1,
        })
    }

    #[test]
    fn the_gateway_client_id_of_the_longest_customer_id_is_accepted() {
        let longest = "a".repeat(ingressoja_codes::MAX_ID_LEN);
        let client_id = format!("web:{longest}");
        assert_eq!(
            key(key_with(client_id.clone())).unwrap().client_id,
            client_id
        );
        let widest = "c".repeat(ingressoja_codes::MAX_CLIENT_ID_LEN);
        assert!(key(key_with(widest)).is_ok());
    }

    #[test]
    fn client_ids_out_of_bounds_name_the_field() {
        let too_long = "c".repeat(ingressoja_codes::MAX_CLIENT_ID_LEN + 1);
        let error = key(key_with(too_long)).unwrap_err();
        assert_eq!(
            error.code(),
            ingressoja_codes::RejectionCode::InvalidField.into()
        );
        assert_eq!(
            error.to_string(),
            "key.client_id: longer than 80 bytes (81 bytes)"
        );
        assert!(key(key_with(String::new())).is_err());
        assert!(key(None).is_err());
    }
}
