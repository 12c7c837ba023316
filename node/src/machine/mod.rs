//! The sale rules as a pure, deterministic state machine.
//!
//! Input: a command, its log index and the leader's timestamp. Output: the new
//! state, an [`Outcome`] per request, and the entry's [`EntryJournal`] (audit
//! records and domain events) for the caller to keep. No clock, no randomness,
//! no I/O: replicas that apply the same entries reach the same bytes (see
//! [`state_hash`]).
//!
//! One file per job: [`apply`] (the pipeline every request goes through),
//! one file per command holding its rules and its unit tests (`hold.rs`,
//! `purchase.rs`, `queue.rs`, ...), [`journal`] (what an applied request
//! leaves in the audit chain and the domain-event feed), [`queries`] (what
//! reads ask) and [`snapshot`] (the encoding replicas compare and restore).

mod apply;
mod audit;
mod command;
mod cpf;
mod customer;
mod domain_event;
mod expiry;
mod hold;
mod idempotency;
mod ids;
mod journal;
mod login;
mod outcome;
mod persistent;
mod policy;
mod purchase;
mod queries;
mod queue;
mod rejection;
mod release;
mod sale_event;
mod snapshot;

#[cfg(test)]
mod props;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use apply::AppliedEntry;
pub use audit::{record_hash, verify_chain, AuditEntry, AuditLog, AuditRecord, ChainError};
pub use command::{Charge, Command, IdempotencyKey, PaymentFailure, Proposal, Request};
pub use cpf::Cpf;
pub use customer::{Customer, Customers, Registration};
pub use domain_event::{DomainEvent, DomainEventFeed, DomainEventKind};
pub use hold::{Hold, HoldStatus};
pub use idempotency::{OutcomeCache, Remembered};
pub use ids::{validate_id, CategoryId, CustomerId, EventId, HoldId, TicketId};
pub use journal::{EntryJournal, Journal, Subject};
pub use login::{validate_totp_secret, LoginOutcome, TOTP_SECRET_MAX, TOTP_SECRET_MIN};
pub use outcome::{Answer, Effect, Outcome};
pub use persistent::{List, Map, Set};
pub use policy::{QueuePolicy, SalePolicy};
pub use purchase::Ticket;
pub use queue::{shuffle, Admission, QueuePosition, QueueState};
pub use rejection::Rejection;
pub use sale_event::{Category, CategorySpec, CustomerCount, EventCustomer, SaleEvent};
pub use snapshot::encode_legacy_snapshot;
pub use snapshot::{
    decode_legacy_snapshot, decode_snapshot, drained_audit_len, drained_state_hash,
    encode_snapshot, start_with_audit_records, state_hash, with_audit_records, DecodeError,
};

/// The replicated sale state: events, holds, tickets, customers and remembered outcomes.
///
/// The journal (audit chain and domain events) is not in here: applying an
/// entry returns it, and the caller keeps it (see [`Journal`]).
///
/// Every collection is ordered, so serialisation — and thus the state hash —
/// is identical on every replica; the large ones are persistent
/// ([`persistent`]), so a clone of the whole state is cheap and a snapshot
/// is encoded from one without holding the state lock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleMachine {
    /// Logical time: the largest entry timestamp seen.
    now_ms: u64,
    /// Log index of the last applied request.
    last_index: u64,
    sale_events: BTreeMap<EventId, SaleEvent>,
    holds: Map<HoldId, Hold>,
    /// Live holds ordered by expiry.
    expiry_index: Set<(u64, HoldId)>,
    tickets: Map<TicketId, Ticket>,
    tickets_by_customer: Map<CustomerId, Vec<TicketId>>,
    next_hold_id: HoldId,
    next_ticket_id: u64,
    outcomes: OutcomeCache,
    customers: Customers,
}
