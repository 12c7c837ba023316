//! The sale rules as a pure, deterministic state machine.
//!
//! Input: a command, its log index and the leader's timestamp. Output: the new
//! state and a [`Outcome`]. No clock, no randomness, no I/O: replicas that apply
//! the same entries reach the same bytes (see [`SaleMachine::state_hash`]).
//! One file per command holds its rules and its unit tests.

mod audit;
mod command;
mod cpf;
mod customer;
mod domain_event;
mod expiry;
mod hold;
mod idempotency;
mod ids;
mod login;
mod policy;
mod purchase;
mod queue;
mod rejection;
mod release;
mod sale_event;

#[cfg(test)]
mod props;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use audit::{record_hash, verify_chain, AuditLog, AuditRecord, ChainError};
pub use command::{Charge, Command, IdempotencyKey, PaymentFailure, Proposal, Request};
pub use cpf::Cpf;
pub use customer::{Customer, Customers, Registration};
pub use domain_event::{DomainEvent, DomainEventFeed, DomainEventKind};
pub use hold::{Hold, HoldStatus};
pub use idempotency::{OutcomeCache, Remembered};
pub use ids::{validate_id, CategoryId, CustomerId, EventId, HoldId, TicketId};
pub use login::{validate_totp_secret, LoginOutcome, TOTP_SECRET_MAX, TOTP_SECRET_MIN};
pub use policy::{QueuePolicy, SalePolicy};
pub use purchase::Ticket;
pub use queue::{shuffle, Admission, QueuePosition, QueueState};
pub use rejection::Rejection;
pub use sale_event::{Category, CategorySpec, CustomerCount, EventCustomer, SaleEvent};

/// What an accepted command produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    EventCreated {
        event_id: EventId,
    },
    HoldPlaced(Hold),
    HoldReleased(Hold),
    Purchased(Vec<Ticket>),
    Registered {
        customer_id: CustomerId,
    },
    Queued(QueuePosition),
    /// Paying failed: nothing sold; the hold was kept or released per the event's policy.
    PaymentRejected {
        hold: Hold,
        released: bool,
        failure: PaymentFailure,
    },
    Ticked,
    /// A TOTP secret was enrolled (the outcome never carries the secret).
    TotpEnrolled {
        customer_id: CustomerId,
    },
    /// A login attempt was recorded; the account's counters after it.
    LoginRecorded {
        customer_id: CustomerId,
        succeeded: bool,
        failed_logins: u32,
        last_failed_login_ms: u64,
    },
}

/// The answer to one request: committed whether accepted or rejected.
pub type Outcome = Result<Effect, Rejection>;

/// An outcome with the log index of the entry that first produced it.
///
/// A retried request gets the original answer, index included, so a client
/// cannot tell a retry from the first attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub log_index: u64,
    pub outcome: Outcome,
}

/// Error decoding a snapshot of the machine.
#[derive(Debug, thiserror::Error)]
#[error("corrupt sale state snapshot: {0}")]
pub struct DecodeError(String);

/// The whole replicated sale state: events, holds, tickets and remembered outcomes.
///
/// Every collection is ordered (`BTreeMap`), so serialisation — and thus the
/// state hash — is identical on every replica.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleMachine {
    /// Logical time: the largest entry timestamp seen.
    now_ms: u64,
    /// Log index of the last applied request.
    last_index: u64,
    sale_events: BTreeMap<EventId, SaleEvent>,
    holds: BTreeMap<HoldId, Hold>,
    /// Live holds ordered by expiry.
    expiry_index: BTreeSet<(u64, HoldId)>,
    tickets: BTreeMap<TicketId, Ticket>,
    tickets_by_customer: BTreeMap<CustomerId, Vec<TicketId>>,
    next_hold_id: HoldId,
    next_ticket_id: u64,
    outcomes: OutcomeCache,
    customers: Customers,
    feed: DomainEventFeed,
    audit: AuditLog,
}

impl SaleMachine {
    /// Applies one Raft entry's batch; one outcome per request, in order.
    pub fn apply_entry(&mut self, log_index: u64, batch: &Proposal) -> Vec<Answer> {
        self.observe_time(batch.ts_ms);
        batch
            .requests
            .iter()
            .map(|r| self.apply_request(log_index, r))
            .collect()
    }

    /// Moves logical time forward (never back): `now = max(now, ts)`.
    pub fn observe_time(&mut self, ts_ms: u64) {
        self.now_ms = self.now_ms.max(ts_ms);
    }

    /// Applies one request at the current logical time. Total: never panics, always answers.
    pub fn apply_request(&mut self, log_index: u64, request: &Request) -> Answer {
        self.last_index = self.last_index.max(log_index);
        self.expire_due_holds(log_index);
        self.advance_queues(log_index);
        self.outcomes.forget_idle(self.now_ms);
        let actor = request
            .key
            .as_ref()
            .map(|k| k.client_id.clone())
            .unwrap_or_else(|| "system".to_string());
        let fingerprint = request.key.as_ref().map(|_| fingerprint(&request.command));
        if let (Some(key), Some(fp)) = (&request.key, fingerprint) {
            if let Some(seen) = self.outcomes.get(key) {
                let answer = if seen.fingerprint == fp {
                    Answer {
                        log_index: seen.log_index,
                        outcome: seen.outcome.clone(),
                    }
                } else {
                    Answer {
                        log_index,
                        outcome: Err(Rejection::KeyReused {
                            client_id: key.client_id.clone(),
                            request_id: key.request_id,
                        }),
                    }
                };
                let action = format!("retry:{}", request.command.kind());
                let subject = self.subject(&request.command);
                self.audit_record(log_index, actor, action, &subject, &answer.outcome);
                return answer;
            }
        }
        let outcome = self.execute(&request.command);
        let action = request.command.kind().to_string();
        let subject = self.subject(&request.command);
        self.audit_record(log_index, actor, action, &subject, &outcome);
        self.emit_for(log_index, subject, &outcome);
        if let (Some(key), Some(fingerprint)) = (&request.key, fingerprint) {
            let remembered = Remembered {
                fingerprint,
                log_index,
                outcome: outcome.clone(),
            };
            self.outcomes.remember(key, remembered, self.now_ms);
        }
        Answer { log_index, outcome }
    }

    fn execute(&mut self, command: &Command) -> Outcome {
        command.validate()?;
        match command {
            Command::CreateEvent {
                event_id,
                name,
                categories,
                policy,
            } => self.create_event(event_id, name, categories, policy),
            Command::RegisterCustomer(r) => self.register(r),
            Command::JoinQueue {
                event_id,
                customer_id,
            } => self.join_queue(event_id, customer_id),
            Command::PaymentFailed {
                hold_id,
                customer_id,
                failure,
            } => self.payment_failed(*hold_id, customer_id, *failure),
            Command::PlaceHold {
                event_id,
                category_id,
                customer_id,
                quantity,
                ttl_ms,
            } => self.place_hold(event_id, category_id, customer_id, *quantity, *ttl_ms),
            Command::ReleaseHold {
                hold_id,
                customer_id,
            } => self.release_hold(*hold_id, customer_id),
            Command::Purchase {
                hold_id,
                customer_id,
                charge,
            } => self.purchase(*hold_id, customer_id, charge.as_ref()),
            Command::Tick => Ok(Effect::Ticked),
            Command::EnrolTotp {
                customer_id,
                secret,
                totp_step,
            } => self.enrol_totp(customer_id, secret, *totp_step),
            Command::RecordLogin {
                customer_id,
                outcome,
            } => self.record_login(customer_id, *outcome),
        }
    }

    /// The event, category, customer and hold a command concerns (looked up through its
    /// hold if needed), as the ids of a domain event. Computed once per applied request
    /// and shared by its audit record and its domain events.
    fn subject(&self, command: &Command) -> DomainEvent {
        let (event_id, category_id, customer_id, hold_id) = self.subject_ids(command);
        DomainEvent {
            event_id,
            category_id,
            customer_id,
            hold_id,
            ..DomainEvent::default()
        }
    }

    fn subject_ids(&self, command: &Command) -> (String, String, String, Option<HoldId>) {
        let via_hold = |hold_id: &HoldId, customer: &str| {
            let (event, category) = self
                .holds
                .get(hold_id)
                .map(|h| (h.event_id.clone(), h.category_id.clone()))
                .unwrap_or_default();
            (event, category, customer.to_string(), Some(*hold_id))
        };
        match command {
            Command::CreateEvent { event_id, .. } => {
                (event_id.clone(), String::new(), String::new(), None)
            }
            Command::RegisterCustomer(r) => {
                (String::new(), String::new(), r.customer_id.clone(), None)
            }
            Command::EnrolTotp { customer_id, .. } | Command::RecordLogin { customer_id, .. } => {
                (String::new(), String::new(), customer_id.clone(), None)
            }
            Command::JoinQueue {
                event_id,
                customer_id,
            } => (event_id.clone(), String::new(), customer_id.clone(), None),
            Command::PlaceHold {
                event_id,
                category_id,
                customer_id,
                ..
            } => (
                event_id.clone(),
                category_id.clone(),
                customer_id.clone(),
                None,
            ),
            Command::ReleaseHold {
                hold_id,
                customer_id,
            }
            | Command::Purchase {
                hold_id,
                customer_id,
                ..
            }
            | Command::PaymentFailed {
                hold_id,
                customer_id,
                ..
            } => via_hold(hold_id, customer_id),
            Command::Tick => Default::default(),
        }
    }

    /// Appends the audit record of one applied request.
    fn audit_record(
        &mut self,
        log_index: u64,
        actor: String,
        action: String,
        subject: &DomainEvent,
        outcome: &Outcome,
    ) {
        let mut ids = Vec::new();
        for (kind, id) in [
            ("event", &subject.event_id),
            ("category", &subject.category_id),
            ("customer", &subject.customer_id),
        ] {
            if !id.is_empty() {
                ids.push(format!("{kind}:{id}"));
            }
        }
        let hold = subject.hold_id.or(match outcome {
            Ok(Effect::HoldPlaced(h)) => Some(h.hold_id),
            _ => None,
        });
        if let Some(h) = hold {
            ids.push(format!("hold:{h}"));
        }
        if let Ok(Effect::Purchased(tickets)) = outcome {
            ids.extend(tickets.iter().map(|t| format!("ticket:{}", t.ticket_id)));
            if let Some(t) = tickets.first() {
                ids.push(format!("charge:{}", t.charge_id));
            }
        }
        let outcome = match outcome {
            Ok(_) => "ok".to_string(),
            Err(r) => r.code().to_string(),
        };
        self.audit
            .append(log_index, self.now_ms, actor, action, outcome, ids);
    }

    /// Appends a domain event stamped with the current entry.
    pub(crate) fn emit(&mut self, log_index: u64, mut event: DomainEvent) {
        event.log_index = log_index;
        event.ts_ms = self.now_ms;
        self.feed.push(event);
    }

    /// Emits the domain events that one applied command's outcome stands for.
    fn emit_for(&mut self, log_index: u64, base: DomainEvent, outcome: &Outcome) {
        let hold_event = |kind, h: &Hold| DomainEvent {
            kind: Some(kind),
            event_id: h.event_id.clone(),
            category_id: h.category_id.clone(),
            customer_id: h.customer_id.clone(),
            hold_id: Some(h.hold_id),
            quantity: h.quantity,
            ..DomainEvent::default()
        };
        let events = match outcome {
            Ok(Effect::EventCreated { .. }) => vec![DomainEvent {
                kind: Some(DomainEventKind::EventCreated),
                ..base
            }],
            Ok(Effect::Registered { .. }) => vec![DomainEvent {
                kind: Some(DomainEventKind::CustomerRegistered),
                ..base
            }],
            Ok(Effect::HoldPlaced(h)) => vec![hold_event(DomainEventKind::HoldCreated, h)],
            Ok(Effect::HoldReleased(h)) => vec![hold_event(DomainEventKind::HoldReleased, h)],
            Ok(Effect::Purchased(tickets)) => vec![DomainEvent {
                kind: Some(DomainEventKind::PurchaseConfirmed),
                quantity: tickets.len() as u32,
                ticket_ids: tickets.iter().map(|t| t.ticket_id.to_string()).collect(),
                ..base
            }],
            Ok(Effect::PaymentRejected {
                hold,
                released,
                failure,
            }) => {
                let mut v = vec![DomainEvent {
                    reason: failure.code().to_string(),
                    ..hold_event(DomainEventKind::PaymentDeclined, hold)
                }];
                if *released {
                    v.push(hold_event(DomainEventKind::HoldReleased, hold));
                }
                v
            }
            Ok(Effect::TotpEnrolled { .. }) => vec![DomainEvent {
                kind: Some(DomainEventKind::TotpEnrolled),
                ..base
            }],
            Ok(Effect::LoginRecorded { succeeded, .. }) => vec![DomainEvent {
                kind: Some(if *succeeded {
                    DomainEventKind::LoginSucceeded
                } else {
                    DomainEventKind::LoginFailed
                }),
                ..base
            }],
            Ok(Effect::Queued(_)) | Ok(Effect::Ticked) => Vec::new(),
            Err(r) if !base.customer_id.is_empty() => vec![DomainEvent {
                kind: Some(DomainEventKind::Rejected),
                reason: r.code().to_string(),
                ..base
            }],
            Err(_) => Vec::new(),
        };
        for e in events {
            self.emit(log_index, e);
        }
    }

    /// Domain events with `seq >= from`, at most `limit`.
    pub fn domain_events_since(&self, from: u64, limit: usize) -> Vec<DomainEvent> {
        self.feed.since(from, limit)
    }

    /// Domain events with `seq >= from`, borrowed (no copies on the apply path).
    pub fn iter_domain_events_since(&self, from: u64) -> impl Iterator<Item = &DomainEvent> {
        self.feed.iter_since(from)
    }

    /// The seq the next domain event will get.
    pub fn next_event_seq(&self) -> u64 {
        self.feed.next_seq()
    }

    /// The oldest domain event still kept.
    pub fn oldest_event_seq(&self) -> u64 {
        self.feed.oldest_seq()
    }

    /// The audit chain.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Registered customers.
    pub fn customers(&self) -> &Customers {
        &self.customers
    }

    /// The first answer remembered for `key`, so a retry is answered without re-running side effects.
    pub fn remembered(&self, key: &IdempotencyKey) -> Option<Answer> {
        self.outcomes.get(key).map(|r| Answer {
            log_index: r.log_index,
            outcome: r.outcome.clone(),
        })
    }

    /// When the leader should next propose a tick: the earliest hold expiry or queue step.
    pub fn next_due_ms(&self) -> Option<u64> {
        let holds = self.next_expiry_ms();
        let queues = self
            .sale_events
            .values()
            .filter_map(|e| {
                let policy = e.policy.queue.as_ref()?;
                let empty = QueueState::default();
                e.queue
                    .as_ref()
                    .unwrap_or(&empty)
                    .next_due_ms(policy, e.policy.sale_opens_at_ms)
            })
            .min();
        match (holds, queues) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Logical time in ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Log index of the last applied request.
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// An event with its categories and counters.
    pub fn sale_event(&self, event_id: &str) -> Result<&SaleEvent, Rejection> {
        self.sale_events
            .get(event_id)
            .ok_or_else(|| Rejection::UnknownEvent(event_id.to_string()))
    }

    /// All events, ordered by id.
    pub fn sale_events(&self) -> impl Iterator<Item = &SaleEvent> {
        self.sale_events.values()
    }

    /// A hold in any status.
    pub fn hold(&self, hold_id: HoldId) -> Option<&Hold> {
        self.holds.get(&hold_id)
    }

    /// The tickets a customer owns, in sale order.
    pub fn tickets_of(&self, customer_id: &str) -> Vec<&Ticket> {
        self.tickets_by_customer
            .get(customer_id)
            .map(|ids| ids.iter().filter_map(|id| self.tickets.get(id)).collect())
            .unwrap_or_default()
    }

    /// Every sold ticket, ordered by id.
    pub fn tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values()
    }

    /// SHA-256 of the canonical encoding: equal on replicas that applied the same entries.
    pub fn state_hash(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }

    /// Canonical binary encoding, used for snapshots and the state hash.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain structs and BTreeMaps into a Vec cannot fail.
        bincode::serialize(self).unwrap_or_default()
    }

    /// Decodes [`SaleMachine::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Result<SaleMachine, DecodeError> {
        bincode::deserialize(bytes).map_err(|e| DecodeError(e.to_string()))
    }
}

fn fingerprint(command: &Command) -> [u8; 32] {
    Sha256::digest(bincode::serialize(command).unwrap_or_default()).into()
}
