//! Shared helpers for the machine's unit and property tests.

use super::*;

/// Hold TTL used by the tests.
pub const TTL: u64 = 60_000;

pub fn key(client: &str, request_id: u64) -> IdempotencyKey {
    IdempotencyKey {
        client_id: client.into(),
        request_id,
    }
}

/// Applies one un-keyed command at `(index, ts)`.
pub fn apply(m: &mut SaleMachine, index: u64, ts: u64, command: Command) -> Reply {
    let batch = Batch {
        ts_ms: ts,
        requests: vec![Request { key: None, command }],
    };
    m.apply_batch(index, &batch).remove(0).reply
}

pub fn create_event_cmd(event: &str, capacity: u32, limit: u32) -> Command {
    Command::CreateEvent {
        event_id: event.into(),
        name: "Rock Festival".into(),
        categories: vec![
            CategorySpec {
                category_id: "pista".into(),
                name: "Pista".into(),
                capacity,
                price_cents: 50_000,
                per_customer_limit: limit,
            },
            CategorySpec {
                category_id: "cadeira".into(),
                name: "Cadeira".into(),
                capacity,
                price_cents: 80_000,
                per_customer_limit: limit,
            },
        ],
    }
}

/// A machine at time 1000 with event "rock" (categories pista and cadeira).
pub fn machine_with_event(capacity: u32, limit: u32) -> SaleMachine {
    let mut m = SaleMachine::default();
    apply(&mut m, 1, 1_000, create_event_cmd("rock", capacity, limit)).unwrap();
    m
}

pub fn hold_cmd_for(event: &str, category: &str, customer: &str, quantity: u32) -> Command {
    Command::PlaceHold {
        event_id: event.into(),
        category_id: category.into(),
        customer_id: customer.into(),
        quantity,
        ttl_ms: TTL,
    }
}

pub fn hold_cmd(customer: &str, quantity: u32) -> Command {
    hold_cmd_for("rock", "pista", customer, quantity)
}

pub fn hold_ok(m: &mut SaleMachine, index: u64, customer: &str, quantity: u32) -> Hold {
    match apply(m, index, 1_000, hold_cmd(customer, quantity)) {
        Ok(Outcome::HoldPlaced(h)) => h,
        other => panic!("hold failed: {other:?}"),
    }
}

pub fn category(m: &SaleMachine) -> &Category {
    &m.event("rock").unwrap().categories["pista"]
}
