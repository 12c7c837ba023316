//! What the clients do during a run, every call recorded in the history.
//!
//! - **Flash sale** (most processes): each process joins the queued event
//!   once, then, as one of its eight customers, holds 1–2 tickets of a small
//!   hot category and pays (15% of payments decline), releases, or walks away
//!   and lets the hold expire; now and then it reads availability.
//! - **Linearizable register** (every fourth process): reads and holds on
//!   the `lin` category, each hold released (or, one in forty, bought) at
//!   once, so the category's counters only change by recorded operations —
//!   what the linearizability checker needs. A call whose outcome is unknown
//!   is retried with the same idempotency key, so it usually becomes known.
//! - **Replays** (every process): one acknowledged join, hold, purchase or
//!   release in [`REPLAY_ONE_IN`] is sent again with its key, as a phone
//!   does whose reply was lost, and recorded as a `replay`: the
//!   `idempotency` checker holds its answer to the first.

use std::time::{Duration, Instant};

use ingressoja_client::proto::ticketing::{
    CategorySpec, HoldReply, PurchaseReply, QueueStatus, SalePolicy,
};
use ingressoja_client::{Client, ClientError};
use ingressoja_codes::Cpf;
use rand::Rng;
use serde_json::{json, Value};

use super::recorder::{Actor, Completion, Recorder};

/// The event with the hot categories.
pub const EVENT: &str = "fest";
/// The event whose virtual queue the processes join.
pub const QUEUE_EVENT: &str = "fila";
/// The category the linearizability processes use.
pub const LIN: &str = "lin";
const FLASH: [&str; 2] = ["pista", "camarote"];

/// How big the sale is, sized from the run's length so that it is still
/// selling when the last fault strikes: `camarote` sells out within
/// seconds (the sold-out path under contention), `pista` and `lin` last
/// about the whole run at this workload's pace (measured: 15 to 21 `pista`
/// tickets and 5 `lin` tickets a second with 12 clients on 2 cores, under faults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleShape {
    /// Categories of [`EVENT`]: id, capacity, per-customer limit.
    pub categories: Vec<(&'static str, u32, u32)>,
    /// Customers each flash-sale process buys as.
    pub customers_per_process: u64,
}

impl SaleShape {
    /// The sale for a run of `time_limit`.
    pub fn for_run(time_limit: Duration) -> SaleShape {
        let secs = u32::try_from(time_limit.as_secs())
            .unwrap_or(u32::MAX)
            .max(10);
        SaleShape {
            categories: vec![
                ("pista", secs.saturating_mul(20), 4),
                ("camarote", 24, 2),
                ("lin", secs.saturating_mul(10).saturating_add(40), 100_000),
            ],
            // Enough customers that per-customer limits do not end the sale first.
            customers_per_process: u64::from(secs / 2).max(8),
        }
    }
}
/// Any well-formed argon2id string: the workload never logs in.
const PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
/// How long a call whose outcome is unknown is retried with the same key:
/// under the hold lifetime, so a hold acknowledged late is still live when
/// its process releases or buys it.
const RETRY_FOR: Duration = Duration::from_secs(5);
/// The queued event's admission rate (no cap on active shoppers, so its
/// burst at the opening is one).
pub const QUEUE_ADMIT_PER_MINUTE: u32 = 120;
/// One acknowledged keyed request in this many is sent again with its key.
pub const REPLAY_ONE_IN: u32 = 5;

/// Creates the events and registers every process's customers (before faults start).
pub async fn set_up(client: &Client, processes: u64, shape: &SaleShape) -> Result<(), ClientError> {
    let categories = shape
        .categories
        .iter()
        .map(|(id, capacity, limit)| CategorySpec {
            category_id: id.to_string(),
            name: id.to_uppercase(),
            capacity: *capacity,
            price_cents: 10_000,
            per_customer_limit: *limit,
        })
        .collect();
    let policy = SalePolicy {
        max_per_hold: 4,
        release_hold_on_payment_failure: true,
        ..Default::default()
    };
    client
        .create_event_with_policy(EVENT, "Chaos Fest", categories, policy)
        .await?;
    for p in 0..processes {
        for k in 0..shape.customers_per_process {
            let customer = customer(p, k);
            let cpf = Cpf::from_base(1_000 + p * shape.customers_per_process + k);
            client
                .register(
                    &customer,
                    &format!("{customer}@chaos.invalid"),
                    cpf.as_str(),
                    &customer,
                    PASSWORD_HASH,
                    None,
                )
                .await?;
        }
    }
    // Admits steadily while the run lasts, so admissions interleave with
    // joins; opened last, right before the processes join, so that a queue
    // admitting faster than its rate shows (`queue-admission`).
    let queued = SalePolicy {
        queue_enabled: true,
        admit_per_minute: QUEUE_ADMIT_PER_MINUTE,
        ..Default::default()
    };
    let geral = vec![CategorySpec {
        category_id: "geral".into(),
        name: "Geral".into(),
        capacity: 1,
        price_cents: 10_000,
        per_customer_limit: 1,
    }];
    client
        .create_event_with_policy(QUEUE_EVENT, "Chaos Queue", geral, queued)
        .await?;
    Ok(())
}

fn customer(process: u64, k: u64) -> String {
    format!("p{process}c{k}")
}

/// One client process of the run.
pub struct Process {
    /// The process number in the history.
    pub id: u64,
    /// Its own client (its own idempotency-key space).
    pub client: Client,
    /// Where its operations are recorded.
    pub recorder: Recorder,
    /// When it stops starting operations.
    pub until: Instant,
    /// Customers this process buys as (see [`SaleShape`]).
    pub customers: u64,
}

impl Process {
    /// Runs this process's workload until its deadline.
    pub async fn run(self) {
        if self.id % 4 == 3 {
            self.run_register().await
        } else {
            self.run_flash_sale().await
        }
    }

    async fn run_flash_sale(&self) {
        let me = customer(self.id, 0);
        self.join(&me).await;
        while Instant::now() < self.until {
            let (customer, category, quantity, roll, pay, read) = {
                let mut rng = rand::thread_rng();
                (
                    customer(self.id, rng.gen_range(0..self.customers)),
                    FLASH[rng.gen_range(0..FLASH.len())],
                    rng.gen_range(1..=2u32),
                    rng.gen_range(0..100u32),
                    if rng.gen_range(0..100) < 15 {
                        "decline"
                    } else {
                        "approve"
                    },
                    rng.gen_range(0..100u32) < 15,
                )
            };
            if read {
                self.read(category).await;
                continue;
            }
            let Some(hold_id) = self.hold(category, &customer, quantity).await else {
                self.think().await;
                continue;
            };
            match roll {
                0..=64 => {
                    self.purchase(category, &customer, hold_id, quantity, pay)
                        .await
                }
                65..=84 => self.release(category, &customer, hold_id, quantity).await,
                _ => {} // walks away: the hold expires
            }
            self.think().await;
        }
    }

    async fn run_register(&self) {
        let customer = customer(self.id, 0);
        while Instant::now() < self.until {
            self.read(LIN).await;
            let (quantity, buy) = {
                let mut rng = rand::thread_rng();
                (rng.gen_range(1..=2u32), rng.gen_range(0..40) == 0)
            };
            if let Some(hold_id) = self.hold(LIN, &customer, quantity).await {
                if buy {
                    self.purchase(LIN, &customer, hold_id, quantity, "approve")
                        .await;
                } else {
                    self.release(LIN, &customer, hold_id, quantity).await;
                }
            }
        }
    }

    async fn think(&self) {
        let ms = rand::thread_rng().gen_range(0..20);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    fn actor(&self) -> Actor {
        Actor::Client(self.id)
    }

    async fn join(&self, customer: &str) {
        let value = json!({"event": QUEUE_EVENT, "customer": customer});
        self.recorder.invoke(self.actor(), "join", value);
        let rid = self.client.next_request_id();
        let send = || {
            self.client
                .join_queue_with_request_id(QUEUE_EVENT, customer, rid)
        };
        let answer = |status: QueueStatus| json!({"seq": status.seq});
        let done = match retry(send).await {
            Ok(status) => Completion::Ok(answer(status)),
            Err(e) => completion_of(e),
        };
        self.recorder.complete(self.actor(), "join", done.clone());
        self.maybe_replay("join", rid, &done, send, answer).await;
    }

    async fn read(&self, category: &str) {
        let value = json!({"event": EVENT, "category": category});
        self.recorder.invoke(self.actor(), "read", value);
        let done = match self.client.availability(EVENT).await {
            Ok(reply) => match reply.categories.iter().find(|c| c.category_id == category) {
                Some(c) => Completion::Ok(json!({
                    "capacity": c.capacity, "sold": c.sold, "held": c.held, "available": c.available,
                })),
                None => Completion::Fail("unknown_category".into()),
            },
            // A read that did not answer observed nothing and changed nothing.
            Err(e) => Completion::Fail(e.to_string()),
        };
        self.recorder.complete(self.actor(), "read", done);
    }

    async fn hold(&self, category: &str, customer: &str, quantity: u32) -> Option<u64> {
        let value = json!({"event": EVENT, "category": category, "customer": customer, "quantity": quantity});
        self.recorder.invoke(self.actor(), "hold", value);
        let rid = self.client.next_request_id();
        let send = || {
            self.client
                .place_hold_with_request_id(EVENT, category, customer, quantity, rid)
        };
        // The expiry against this host's clock (which no nemesis skews):
        // the `sale-clock` checker's evidence.
        let answer = |reply: HoldReply| match reply.hold {
            Some(h) => json!({
                "hold_id": h.hold_id,
                "expires_in_ms": h.expires_at_ms as i64 - host_clock_ms(),
            }),
            None => json!({}),
        };
        let (done, id) = match retry(send).await {
            Ok(reply) => match reply.hold.as_ref().map(|h| h.hold_id) {
                Some(id) => (Completion::Ok(answer(reply)), Some(id)),
                // Acknowledged but naming no hold: which hold it is, is unknown.
                None => (Completion::Info("hold reply without a hold".into()), None),
            },
            Err(e) => (completion_of(e), None),
        };
        self.recorder.complete(self.actor(), "hold", done.clone());
        self.maybe_replay("hold", rid, &done, send, answer).await;
        id
    }

    async fn purchase(
        &self,
        category: &str,
        customer: &str,
        hold_id: u64,
        quantity: u32,
        payment: &str,
    ) {
        let value = json!({
            "event": EVENT, "category": category, "customer": customer,
            "hold_id": hold_id, "quantity": quantity, "payment": payment,
        });
        self.recorder.invoke(self.actor(), "purchase", value);
        let rid = self.client.next_request_id();
        let send = || {
            self.client
                .purchase_with_payment_and_request_id(hold_id, customer, payment, rid)
        };
        let answer = |reply: PurchaseReply| {
            let tickets: Vec<String> = reply.tickets.into_iter().map(|t| t.ticket_id).collect();
            json!({"tickets": tickets})
        };
        let done = match retry(send).await {
            Ok(reply) => Completion::Ok(answer(reply)),
            Err(e) => completion_of(e),
        };
        self.recorder
            .complete(self.actor(), "purchase", done.clone());
        self.maybe_replay("purchase", rid, &done, send, answer)
            .await;
    }

    async fn release(&self, category: &str, customer: &str, hold_id: u64, quantity: u32) {
        let value = json!({
            "event": EVENT, "category": category, "customer": customer,
            "hold_id": hold_id, "quantity": quantity,
        });
        self.recorder.invoke(self.actor(), "release", value);
        let rid = self.client.next_request_id();
        let send = || {
            self.client
                .release_hold_with_request_id(hold_id, customer, rid)
        };
        let answer = |_| json!({});
        let done = match retry(send).await {
            Ok(reply) => Completion::Ok(answer(reply)),
            Err(e) => completion_of(e),
        };
        self.recorder
            .complete(self.actor(), "release", done.clone());
        self.maybe_replay("release", rid, &done, send, answer).await;
    }

    /// Sends an acknowledged request (`first`, answered to request `rid`)
    /// again with its key, one time in [`REPLAY_ONE_IN`], and records what
    /// came back as a `replay` of `of`: the `idempotency` checker holds it
    /// to the first answer. `answer` turns a reply into the value an ok
    /// record of `of` carries.
    async fn maybe_replay<T, F, Fut>(
        &self,
        of: &str,
        rid: u64,
        first: &Completion,
        send: F,
        answer: impl FnOnce(T) -> Value,
    ) where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let Completion::Ok(first) = first else {
            return;
        };
        if rand::thread_rng().gen_range(0..REPLAY_ONE_IN) != 0 {
            return;
        }
        let key = format!("{}/{rid}", self.client.client_id());
        let value = json!({"of": of, "key": key, "first": first});
        self.recorder.invoke(self.actor(), "replay", value);
        let done = match retry(send).await {
            Ok(reply) => Completion::Ok(json!({"answer": answer(reply)})),
            Err(e) => completion_of(e),
        };
        self.recorder.complete(self.actor(), "replay", done);
    }
}

/// Retries a keyed call whose outcome is unknown for up to [`RETRY_FOR`]:
/// the same key makes a replay return the first answer, so an unknown
/// usually becomes known once the fault is healed.
async fn retry<T, F, Fut>(mut call: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let give_up = Instant::now() + RETRY_FOR;
    let mut pause = Duration::from_millis(50);
    let mut result = call().await;
    while matches!(&result, Err(e) if e.is_unavailable()) && Instant::now() + pause < give_up {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
        result = call().await;
    }
    result
}

/// A refusal by the rules is a `fail` (with its code); anything else is unknown.
fn completion_of(error: ClientError) -> Completion {
    match error {
        ClientError::Rejected { code, .. } => Completion::Fail(code),
        other => Completion::Info(other.to_string()),
    }
}

/// The JSON value of one node's final state, as the checkers read it.
pub fn final_state_json(node: &str, export: &ingressoja_client::proto::admin::SaleExport) -> Value {
    json!({
        "node": node,
        "applied_index": export.applied_index,
        "state_hash": export.state_hash,
        "audit_head": export.audit_head,
        "categories": export.categories.iter().map(|c| json!({
            "event": c.event_id, "category": c.category_id, "capacity": c.capacity,
            "sold": c.sold, "held": c.held, "per_customer_limit": c.per_customer_limit,
        })).collect::<Vec<_>>(),
        "tickets": export.tickets.iter().map(|t| json!({
            "ticket_id": t.ticket_id, "event": t.event_id, "category": t.category_id,
            "customer": t.customer_id, "hold_id": t.hold_id,
        })).collect::<Vec<_>>(),
        "queue": export.queue.iter().map(|q| json!({
            "event": q.event_id, "customer": q.customer_id, "seq": q.seq,
        })).collect::<Vec<_>>(),
    })
}

/// This host's wall clock, ms since the epoch.
fn host_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
