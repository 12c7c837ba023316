//! Why the machine refused a command.
//!
//! A rejection is a committed, deterministic outcome: every replica reaches
//! the same one for the same entry. Each has a stable machine-readable
//! [`Rejection::code`] (a [`RejectionCode`] of the shared codes crate) that
//! travels to clients in gRPC metadata.

use ingressoja_codes::RejectionCode;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{CategoryId, EventId, HoldId};

/// The typed reasons a sale command can fail.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum Rejection {
    /// A field is malformed or out of range.
    #[error("{field}: {reason}")]
    InvalidField { field: String, reason: String },
    /// No event with that id.
    #[error("unknown event {0:?}")]
    UnknownEvent(EventId),
    /// The event exists but has no such category.
    #[error("event {event:?} has no category {category:?}")]
    UnknownCategory {
        event: EventId,
        category: CategoryId,
    },
    /// An event with that id was already created.
    #[error("event {0:?} already exists")]
    EventExists(EventId),
    /// Not enough tickets left in the category.
    #[error("sold out: {requested} requested, {available} available")]
    SoldOut { requested: u32, available: u32 },
    /// The customer would exceed the per-customer limit of the category.
    #[error("limit exceeded: limit {limit} per customer, already {held} held and {bought} bought, {requested} requested")]
    LimitExceeded {
        limit: u32,
        held: u32,
        bought: u32,
        requested: u32,
    },
    /// No hold with that id.
    #[error("unknown hold {0}")]
    HoldNotFound(HoldId),
    /// The hold belongs to another customer.
    #[error("hold {0} belongs to another customer")]
    HoldNotYours(HoldId),
    /// The hold's time ran out before the request.
    #[error("hold {0} expired")]
    HoldExpired(HoldId),
    /// The hold was released before the request.
    #[error("hold {0} was released")]
    HoldReleased(HoldId),
    /// The hold was already turned into tickets.
    #[error("hold {0} was already purchased")]
    AlreadyPurchased(HoldId),
    /// No registered customer with that id.
    #[error("unknown customer {0:?}")]
    UnknownCustomer(String),
    /// That customer id is taken.
    #[error("customer {0:?} already exists")]
    CustomerExists(String),
    /// Another account already uses this CPF: one account per person.
    #[error("an account with this CPF already exists")]
    DuplicateDocument,
    /// Another account already uses this e-mail.
    #[error("an account with this e-mail already exists")]
    DuplicateEmail,
    /// The event's queue does not take joins.
    #[error("queue of event {event:?} is closed: {reason}")]
    QueueClosed { event: String, reason: String },
    /// The customer is not in the event's queue.
    #[error("customer {0:?} is not in this queue")]
    NotInQueue(String),
    /// Holding requires a live admission from the queue.
    #[error("customer {0:?} has not been admitted from the queue (or the admission lapsed): join the queue and wait for your turn")]
    NotAdmitted(String),
    /// The sale has not opened yet.
    #[error("the sale opens at {opens_at_ms} (cluster time now {now_ms})")]
    SaleNotOpen { opens_at_ms: u64, now_ms: u64 },
    /// The customer already has a live hold for this event.
    #[error("customer already has live hold {0} for this event: buy or release it first")]
    LiveHoldExists(HoldId),
    /// A purchase arrived without a charge record.
    #[error("purchase of hold {0} carries no payment")]
    PaymentMissing(HoldId),
    /// The charge does not match the hold's price.
    #[error("charge of {charged} cents does not match the price {expected} cents")]
    PaymentMismatch { charged: u64, expected: u64 },
    /// The idempotency key was used before for a different command.
    #[error(
        "request id {request_id} of client {client_id:?} was already used for a different request"
    )]
    KeyReused { client_id: String, request_id: u64 },
    /// The customer already has a TOTP secret; enrolling again would silently replace it.
    #[error("customer {0:?} already has a TOTP secret enrolled")]
    TotpAlreadyEnrolled(String),
    /// The TOTP code's time step is not newer than the last one used: a replayed code.
    #[error("TOTP code of step {step} was already used (last accepted step {last_step})")]
    TotpReplayed { step: u64, last_step: u64 },
}

impl Rejection {
    /// Builds an [`Rejection::InvalidField`].
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Rejection::InvalidField {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// The stable, machine-readable code of this rejection; its wire string
    /// is [`RejectionCode::as_str`].
    pub fn code(&self) -> RejectionCode {
        match self {
            Rejection::InvalidField { .. } => RejectionCode::InvalidField,
            Rejection::UnknownEvent(_) => RejectionCode::UnknownEvent,
            Rejection::UnknownCategory { .. } => RejectionCode::UnknownCategory,
            Rejection::EventExists(_) => RejectionCode::EventExists,
            Rejection::SoldOut { .. } => RejectionCode::SoldOut,
            Rejection::LimitExceeded { .. } => RejectionCode::LimitExceeded,
            Rejection::HoldNotFound(_) => RejectionCode::HoldNotFound,
            Rejection::HoldNotYours(_) => RejectionCode::HoldNotYours,
            Rejection::HoldExpired(_) => RejectionCode::HoldExpired,
            Rejection::HoldReleased(_) => RejectionCode::HoldReleased,
            Rejection::AlreadyPurchased(_) => RejectionCode::AlreadyPurchased,
            Rejection::KeyReused { .. } => RejectionCode::IdempotencyKeyReused,
            Rejection::UnknownCustomer(_) => RejectionCode::UnknownCustomer,
            Rejection::CustomerExists(_) => RejectionCode::CustomerExists,
            Rejection::DuplicateDocument => RejectionCode::DuplicateDocument,
            Rejection::DuplicateEmail => RejectionCode::DuplicateEmail,
            Rejection::QueueClosed { .. } => RejectionCode::QueueClosed,
            Rejection::NotInQueue(_) => RejectionCode::NotInQueue,
            Rejection::NotAdmitted(_) => RejectionCode::NotAdmitted,
            Rejection::SaleNotOpen { .. } => RejectionCode::SaleNotOpen,
            Rejection::LiveHoldExists(_) => RejectionCode::LiveHoldExists,
            Rejection::PaymentMissing(_) => RejectionCode::PaymentMissing,
            Rejection::PaymentMismatch { .. } => RejectionCode::PaymentMismatch,
            Rejection::TotpAlreadyEnrolled(_) => RejectionCode::TotpAlreadyEnrolled,
            Rejection::TotpReplayed { .. } => RejectionCode::TotpReplayed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// One rejection of each kind.
    fn one_of_each() -> Vec<Rejection> {
        vec![
            Rejection::invalid("quantity", "must be positive"),
            Rejection::UnknownEvent("e".into()),
            Rejection::UnknownCategory {
                event: "e".into(),
                category: "c".into(),
            },
            Rejection::EventExists("e".into()),
            Rejection::SoldOut {
                requested: 2,
                available: 1,
            },
            Rejection::LimitExceeded {
                limit: 4,
                held: 1,
                bought: 2,
                requested: 2,
            },
            Rejection::HoldNotFound(1),
            Rejection::HoldNotYours(1),
            Rejection::HoldExpired(1),
            Rejection::HoldReleased(1),
            Rejection::AlreadyPurchased(1),
            Rejection::UnknownCustomer("ana".into()),
            Rejection::CustomerExists("ana".into()),
            Rejection::DuplicateDocument,
            Rejection::DuplicateEmail,
            Rejection::QueueClosed {
                event: "e".into(),
                reason: "over".into(),
            },
            Rejection::NotInQueue("ana".into()),
            Rejection::NotAdmitted("ana".into()),
            Rejection::SaleNotOpen {
                opens_at_ms: 2,
                now_ms: 1,
            },
            Rejection::LiveHoldExists(1),
            Rejection::PaymentMissing(1),
            Rejection::PaymentMismatch {
                charged: 1,
                expected: 2,
            },
            Rejection::KeyReused {
                client_id: "c".into(),
                request_id: 1,
            },
            Rejection::TotpAlreadyEnrolled("ana".into()),
            Rejection::TotpReplayed {
                step: 1,
                last_step: 1,
            },
        ]
    }

    #[test]
    fn every_code_is_reachable_and_no_two_kinds_share_one() {
        let rejections = one_of_each();
        let codes: BTreeSet<RejectionCode> = rejections.iter().map(Rejection::code).collect();
        assert_eq!(codes.len(), rejections.len());
        assert_eq!(
            codes,
            RejectionCode::ALL.iter().copied().collect::<BTreeSet<_>>()
        );
    }

    #[test]
    fn codes_keep_their_wire_strings() {
        let sold_out = Rejection::SoldOut {
            requested: 2,
            available: 1,
        };
        assert_eq!(sold_out.code(), "sold_out");
        assert_eq!(Rejection::HoldExpired(3).code().as_str(), "hold_expired");
        assert_eq!(
            Rejection::KeyReused {
                client_id: "c".into(),
                request_id: 1
            }
            .code()
            .to_string(),
            "idempotency_key_reused"
        );
    }
}
