//! The sale rules as a pure, deterministic state machine.
//!
//! Input: a command, its log index and the leader's timestamp. Output: the new
//! state and a [`Reply`]. No clock, no randomness, no I/O: replicas that apply
//! the same entries reach the same bytes (see [`SaleMachine::state_hash`]).
//! One file per command holds its rules and its unit tests.

mod command;
mod event;
mod expiry;
mod hold;
mod idempotency;
mod ids;
mod purchase;
mod rejection;
mod release;

#[cfg(test)]
mod props;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use command::{Batch, Command, IdempotencyKey, Request};
pub use event::{Category, CategorySpec, CustomerCount, Event};
pub use hold::{Hold, HoldStatus};
pub use idempotency::{Remembered, ReplyCache};
pub use ids::{validate_id, CategoryId, CustomerId, EventId, HoldId, TicketId};
pub use purchase::Ticket;
pub use rejection::Rejection;

/// What an accepted command produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    EventCreated { event_id: EventId },
    HoldPlaced(Hold),
    HoldReleased(Hold),
    Purchased(Vec<Ticket>),
    Ticked,
}

/// The answer to one request: committed whether accepted or rejected.
pub type Reply = Result<Outcome, Rejection>;

/// A reply with the log index of the entry that first produced it.
///
/// A retried request gets the original answer, index included, so a client
/// cannot tell a retry from the first attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub log_index: u64,
    pub reply: Reply,
}

/// Error decoding a snapshot of the machine.
#[derive(Debug, thiserror::Error)]
#[error("corrupt sale state snapshot: {0}")]
pub struct DecodeError(String);

/// The whole replicated sale state: events, holds, tickets and remembered replies.
///
/// Every collection is ordered (`BTreeMap`), so serialisation — and thus the
/// state hash — is identical on every replica.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleMachine {
    /// Logical time: the largest entry timestamp seen.
    now_ms: u64,
    /// Log index of the last applied request.
    last_index: u64,
    events: BTreeMap<EventId, Event>,
    holds: BTreeMap<HoldId, Hold>,
    /// Live holds ordered by expiry.
    expiry_index: BTreeSet<(u64, HoldId)>,
    tickets: BTreeMap<TicketId, Ticket>,
    tickets_by_customer: BTreeMap<CustomerId, Vec<TicketId>>,
    next_hold_id: HoldId,
    next_ticket_id: u64,
    replies: ReplyCache,
}

impl SaleMachine {
    /// Applies one Raft entry's batch; one reply per request, in order.
    pub fn apply_batch(&mut self, log_index: u64, batch: &Batch) -> Vec<Answer> {
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

    /// Applies one request at the current logical time. Total: never panics, always replies.
    pub fn apply_request(&mut self, log_index: u64, request: &Request) -> Answer {
        self.last_index = self.last_index.max(log_index);
        self.expire_due_holds();
        self.replies.forget_idle(self.now_ms);
        let fingerprint = request.key.as_ref().map(|_| fingerprint(&request.command));
        if let (Some(key), Some(fp)) = (&request.key, fingerprint) {
            if let Some(seen) = self.replies.get(key) {
                if seen.fingerprint == fp {
                    return Answer {
                        log_index: seen.log_index,
                        reply: seen.reply.clone(),
                    };
                }
                return Answer {
                    log_index,
                    reply: Err(Rejection::KeyReused {
                        client_id: key.client_id.clone(),
                        request_id: key.request_id,
                    }),
                };
            }
        }
        let reply = self.execute(&request.command);
        if let (Some(key), Some(fingerprint)) = (&request.key, fingerprint) {
            let remembered = Remembered {
                fingerprint,
                log_index,
                reply: reply.clone(),
            };
            self.replies.remember(key, remembered, self.now_ms);
        }
        Answer { log_index, reply }
    }

    fn execute(&mut self, command: &Command) -> Reply {
        command.validate()?;
        match command {
            Command::CreateEvent {
                event_id,
                name,
                categories,
            } => self.create_event(event_id, name, categories),
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
            } => self.purchase(*hold_id, customer_id),
            Command::Tick => Ok(Outcome::Ticked),
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
    pub fn event(&self, event_id: &str) -> Result<&Event, Rejection> {
        self.events
            .get(event_id)
            .ok_or_else(|| Rejection::UnknownEvent(event_id.to_string()))
    }

    /// All events, ordered by id.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.values()
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
