//! Shared helpers for the machine's unit and property tests.

use std::ops::{Deref, DerefMut};

use super::*;

/// A machine with the journal its entries wrote, kept side by side as the
/// storage layer keeps them. Derefs to the machine, so tests read it directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sale {
    pub machine: SaleMachine,
    pub journal: Journal,
}

impl Sale {
    /// Applies one entry and records its journal; the answers, one per request.
    pub fn apply(&mut self, log_index: u64, proposal: &Proposal) -> Vec<Answer> {
        let applied = self.machine.apply_entry(log_index, proposal);
        self.journal.record(applied.journal);
        applied.answers
    }

    /// The state hash of machine and journal, as a node reports it.
    pub fn state_hash(&self) -> [u8; 32] {
        state_hash(&self.machine, &self.journal)
    }
}

impl Deref for Sale {
    type Target = SaleMachine;

    fn deref(&self) -> &SaleMachine {
        &self.machine
    }
}

impl DerefMut for Sale {
    fn deref_mut(&mut self) -> &mut SaleMachine {
        &mut self.machine
    }
}

/// Hold TTL used by the tests.
pub const TTL: u64 = 60_000;
/// Admission TTL used by the queue tests.
pub const ADMISSION_TTL: u64 = 120_000;
/// Customers registered by [`machine_with_event`], with valid distinct CPFs.
pub const CUSTOMERS: [(&str, &str); 7] = [
    ("ana", "12345678909"),
    ("bia", "98765432100"),
    ("caio", "11144477735"),
    ("davi", "52998224725"),
    ("eva", "20030040094"),
    ("fabio", "31415926590"),
    ("gil", "27182818205"),
];

pub fn registration(customer: &str, cpf: &str) -> Registration {
    Registration {
        customer_id: customer.into(),
        email: format!("{customer}@example.com"),
        cpf: cpf.into(),
        display_name: customer.to_uppercase(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: None,
    }
}

pub fn register_cmd(customer: &str, cpf: &str) -> Command {
    Command::RegisterCustomer(registration(customer, cpf))
}

/// Registers `customer` with the `n`-th test CPF.
pub fn register(m: &mut Sale, customer: &str, n: usize) {
    let index = m.last_index() + 1;
    let ts = m.now_ms();
    apply(m, index, ts, register_cmd(customer, CUSTOMERS[n].1)).expect("registered");
}

pub fn key(client: &str, request_id: u64) -> IdempotencyKey {
    IdempotencyKey {
        client_id: client.into(),
        request_id,
    }
}

/// Applies one un-keyed command at `(index, ts)`.
pub fn apply(m: &mut Sale, index: u64, ts: u64, command: Command) -> Outcome {
    send(m, index, ts, Request { key: None, command }).outcome
}

/// Applies `request` alone in the entry `(index, ts)`; its answer.
pub fn send(m: &mut Sale, index: u64, ts: u64, request: Request) -> Answer {
    let proposal = Proposal {
        ts_ms: ts,
        requests: vec![request],
    };
    m.apply(index, &proposal).remove(0)
}

pub fn create_event_cmd(event: &str, capacity: u32, limit: u32) -> Command {
    create_event_with_policy(event, capacity, limit, SalePolicy::default())
}

pub fn create_event_with_policy(
    event: &str,
    capacity: u32,
    limit: u32,
    policy: SalePolicy,
) -> Command {
    Command::CreateEvent {
        policy,
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

/// A machine at time 1000 with event "rock" (categories pista and cadeira)
/// and every customer of [`CUSTOMERS`] registered.
pub fn machine_with_event(capacity: u32, limit: u32) -> Sale {
    let mut m = Sale::default();
    apply(&mut m, 1, 1_000, create_event_cmd("rock", capacity, limit)).unwrap();
    for (n, (c, _)) in CUSTOMERS.iter().enumerate() {
        register(&mut m, c, n);
    }
    m
}

/// Like [`machine_with_event`] (capacity 5, limit 4) with `policy`.
pub fn machine_with_policy(policy: SalePolicy) -> Sale {
    machine_with(5, 4, policy)
}

/// Like [`machine_with_event`] with `policy`.
pub fn machine_with(capacity: u32, limit: u32, policy: SalePolicy) -> Sale {
    let mut m = Sale::default();
    apply(
        &mut m,
        1,
        1_000,
        create_event_with_policy("rock", capacity, limit, policy),
    )
    .unwrap();
    for (n, (c, _)) in CUSTOMERS.iter().enumerate() {
        register(&mut m, c, n);
    }
    m
}

/// An event "rock" with a queue opening at `opens_at`; no customers registered.
pub fn queued_machine(opens_at: u64, admit_per_minute: u32, max_active: u32) -> Sale {
    let mut m = Sale::default();
    let policy = SalePolicy {
        sale_opens_at_ms: opens_at,
        queue: Some(QueuePolicy {
            admit_per_minute,
            max_active,
            admission_ttl_ms: ADMISSION_TTL,
        }),
        ..SalePolicy::default()
    };
    apply(
        &mut m,
        1,
        500,
        create_event_with_policy("rock", 100, 4, policy),
    )
    .unwrap();
    m
}

pub fn join_cmd(customer: &str) -> Command {
    Command::JoinQueue {
        event_id: "rock".into(),
        customer_id: customer.into(),
    }
}

/// A purchase paid with the right amount for the hold (0 if the hold is unknown).
pub fn purchase_cmd_for(m: &SaleMachine, hold_id: HoldId, customer: &str) -> Command {
    let amount = m
        .hold(hold_id)
        .and_then(|h| {
            let price = m
                .sale_event(&h.event_id)
                .ok()?
                .categories
                .get(&h.category_id)?
                .spec
                .price_cents;
            Some(price * u64::from(h.quantity))
        })
        .unwrap_or(0);
    Command::Purchase {
        hold_id,
        customer_id: customer.into(),
        charge: Some(Charge {
            charge_id: format!("ch_{hold_id}"),
            amount_cents: amount,
        }),
    }
}

/// Pays for and buys `hold_id` at `(index, ts)`.
pub fn buy(m: &mut Sale, index: u64, ts: u64, hold_id: HoldId, customer: &str) -> Outcome {
    let command = purchase_cmd_for(m, hold_id, customer);
    apply(m, index, ts, command)
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

pub fn hold_ok(m: &mut Sale, index: u64, customer: &str, quantity: u32) -> Hold {
    match apply(m, index, 1_000, hold_cmd(customer, quantity)) {
        Ok(Effect::HoldPlaced(h)) => h,
        other => panic!("hold failed: {other:?}"),
    }
}

pub fn category(m: &SaleMachine) -> &Category {
    &m.sale_event("rock").unwrap().categories["pista"]
}
