//! What applying a command comes to: its [`Outcome`], and the [`Answer`] a request gets.

use serde::{Deserialize, Serialize};

use super::command::PaymentFailure;
use super::hold::Hold;
use super::ids::{CustomerId, EventId};
use super::purchase::Ticket;
use super::queue::QueuePosition;
use super::rejection::Rejection;

/// What an accepted command did to the sale.
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

/// The outcome of one command: committed whether accepted or rejected.
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
