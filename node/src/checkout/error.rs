//! The checkout's errors, and their one conversion into the node's [`ServiceError`].

use crate::error::ServiceError;
use crate::machine::{Effect, Hold, PaymentFailure, Rejection};
use crate::proposer::wall_clock_ms;
use crate::raft_types::NodeId;

/// Why the ledger did not commit (or could not read) for the checkout.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    /// The machine committed a refusal: the command's fate is known.
    #[error(transparent)]
    Rejected(Rejection),
    /// This node does not lead; the command was not committed through it.
    #[error("not the leader; leader is node {leader_id:?} at {leader_addr:?}")]
    NotLeader {
        /// The leader this node knows of, if any.
        leader_id: Option<NodeId>,
        /// Where clients reach it.
        leader_addr: Option<String>,
    },
    /// No quorum, shutting down, or the answer was lost: the fate is unknown.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// Anything else the node's plumbing failed with, kept as it was so it
    /// reaches the service boundary unchanged.
    #[error(transparent)]
    Service(ServiceError),
}

impl From<ServiceError> for LedgerError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Rejected(r) => LedgerError::Rejected(r),
            ServiceError::NotLeader {
                leader_id,
                leader_addr,
            } => LedgerError::NotLeader {
                leader_id,
                leader_addr,
            },
            ServiceError::Unavailable(reason) => LedgerError::Unavailable(reason),
            other => LedgerError::Service(other),
        }
    }
}

/// Why a purchase did not sell.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckoutError {
    /// The sale rules refused the purchase; a charge made for it was refunded.
    #[error(transparent)]
    Rejected(Rejection),
    /// Paying failed and that was committed; nothing was charged (a timed-out
    /// charge was voided). The hold was kept or released per the event's policy.
    #[error("{} for hold {}", failure.code(), hold.hold_id)]
    PaymentRefused {
        /// The hold as the refusal left it.
        hold: Hold,
        /// Whether the event's policy released the hold at once.
        released: bool,
        /// Declined by the provider, or failed (errors and time-outs).
        failure: PaymentFailure,
    },
    /// The ledger failed before the purchase's fate was known: see
    /// [`super`] for what that leaves charged.
    #[error(transparent)]
    Ledger(LedgerError),
    /// The log answered the purchase with something a purchase cannot produce.
    #[error("unexpected outcome {0:?}")]
    Unexpected(Box<Effect>),
    /// The saga's task panicked or was cancelled before answering; what it
    /// left charged is for reconciliation.
    #[error("checkout task failed: {0}")]
    Aborted(String),
}

impl From<LedgerError> for CheckoutError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Rejected(r) => CheckoutError::Rejected(r),
            other => CheckoutError::Ledger(other),
        }
    }
}

impl From<CheckoutError> for ServiceError {
    fn from(e: CheckoutError) -> Self {
        match e {
            CheckoutError::Rejected(r) => ServiceError::Rejected(r),
            CheckoutError::PaymentRefused {
                hold,
                released,
                failure,
            } => ServiceError::Payment {
                code: failure.code(),
                message: refusal_message(&hold, released, failure),
            },
            CheckoutError::Ledger(LedgerError::Rejected(r)) => ServiceError::Rejected(r),
            CheckoutError::Ledger(LedgerError::NotLeader {
                leader_id,
                leader_addr,
            }) => ServiceError::NotLeader {
                leader_id,
                leader_addr,
            },
            CheckoutError::Ledger(LedgerError::Unavailable(reason)) => {
                ServiceError::Unavailable(reason)
            }
            CheckoutError::Ledger(LedgerError::Service(e)) => e,
            CheckoutError::Unexpected(outcome) => {
                ServiceError::Internal(format!("unexpected outcome {outcome:?}"))
            }
            CheckoutError::Aborted(reason) => {
                ServiceError::Internal(format!("checkout task failed: {reason}"))
            }
        }
    }
}

/// What the buyer is told after a failed payment: what happened to the hold, and for how long.
fn refusal_message(hold: &Hold, released: bool, failure: PaymentFailure) -> String {
    let what = match failure {
        PaymentFailure::Declined => "payment declined",
        PaymentFailure::Failed => "payment failed (nothing was charged)",
    };
    if released {
        format!("{what}; hold {} was released", hold.hold_id)
    } else {
        let left_s = hold.expires_at_ms.saturating_sub(wall_clock_ms()) / 1_000;
        format!(
            "{what}; hold {} is kept until it expires (in about {}m {:02}s) — try another payment",
            hold.hold_id,
            left_s / 60,
            left_s % 60
        )
    }
}
