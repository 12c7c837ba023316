//! The systems the flash sale runs against, behind one trait so every one
//! gets the identical operation mix: IngressoJá over gRPC ([`grpc`]) and
//! through its gateways' HTTP API ([`http`]), etcd ([`etcd`]) and
//! PostgreSQL ([`postgres`]).

pub mod etcd;
pub mod grpc;
pub mod http;
pub mod postgres;

use std::future::Future;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::error::BenchError;

/// A hold a system granted, as the customer remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldTicket {
    /// The customer who holds it (whose calls pay for or release it).
    pub customer: u64,
    /// The system's id of the hold.
    pub id: u64,
    /// Index of the category in the plan.
    pub category: usize,
    /// Tickets held.
    pub quantity: u32,
}

/// What the customer's payment does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    /// The card is charged.
    Approve,
    /// The card is declined: nothing is sold and the hold is released.
    Decline,
}

impl Payment {
    /// The payment token IngressoJá's fake provider understands for this outcome.
    pub fn token(self) -> &'static str {
        match self {
            Payment::Approve => "approve",
            Payment::Decline => "decline",
        }
    }
}

/// Who returns an abandoned hold's tickets when its time is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldExpiry {
    /// The system, from its own clock.
    BySystem,
    /// The benchmark, through [`Target::expire`] (systems with no clock for it).
    ByBench,
}

/// What the report says about a system, fixed per adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemProfile {
    /// The name in tables, JSON and the plot.
    pub system: &'static str,
    /// What an acknowledged write survives on this system.
    pub durability: &'static str,
    /// Who expires abandoned holds.
    pub hold_expiry: HoldExpiry,
}

impl SystemProfile {
    /// The profile of `system`.
    pub const fn new(
        system: &'static str,
        durability: &'static str,
        hold_expiry: HoldExpiry,
    ) -> SystemProfile {
        SystemProfile {
            system,
            durability,
            hold_expiry,
        }
    }
}

/// Why one operation did not succeed. Counted in the report by [`OpError::kind`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpError {
    /// The system refused by the sale's rules (`sold_out`, `payment_declined`, `hold_expired`, ...).
    #[error("rejected: {0}")]
    Rejected(String),
    /// A compare-and-swap lost the race too many times in a row.
    #[error("gave up after {0} compare-and-swap conflicts")]
    Contention(u32),
    /// The system did not answer in time.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The system answered with an error that is not a sale rule.
    #[error("error: {0}")]
    Other(String),
}

impl OpError {
    /// The key of the error tally: the rejection code, or the failure class.
    pub fn kind(&self) -> &str {
        match self {
            OpError::Rejected(code) => code,
            OpError::Contention(_) => "cas_retries_exhausted",
            OpError::Unavailable(_) => "unavailable",
            OpError::Other(_) => "other_error",
        }
    }

    /// True for the refusal that means "no ticket left right now".
    pub fn is_sold_out(&self) -> bool {
        matches!(self, OpError::Rejected(code) if code == "sold_out")
    }
}

/// One category's counters read back from the system at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    /// The category's id.
    pub category: String,
    /// Tickets on sale.
    pub capacity: u64,
    /// Tickets sold.
    pub sold: u64,
    /// Tickets in live holds.
    pub held: u64,
}

/// A system under test. Customers are numbered `0..plan.customers`;
/// categories are indexes into the plan. Futures are `Send` so customers run
/// on every core.
pub trait Target: Send + Sync + 'static {
    /// The system's name, durability and hold expiry, for the report.
    const PROFILE: SystemProfile;

    /// The name in tables, JSON and the plot.
    fn system(&self) -> &'static str {
        Self::PROFILE.system
    }

    /// What an acknowledged write survives on this system, for the report.
    fn durability(&self) -> &'static str {
        Self::PROFILE.durability
    }

    /// Whether the system expires abandoned holds by itself; if not, the
    /// benchmark calls [`Target::expire`] when their time is up.
    fn expires_holds_itself(&self) -> bool {
        Self::PROFILE.hold_expiry == HoldExpiry::BySystem
    }

    /// Compare-and-swap attempts that lost a race and were retried.
    fn retries(&self) -> u64 {
        0
    }

    /// Creates the event, categories, queue and customers (not measured).
    fn prepare(&self) -> impl Future<Output = Result<(), BenchError>> + Send;

    /// Puts `customer` in the event's virtual queue.
    fn join_queue(&self, customer: u64) -> impl Future<Output = Result<(), OpError>> + Send;

    /// Whether the queue admitted `customer` to shop.
    fn admitted(&self, customer: u64) -> impl Future<Output = Result<bool, OpError>> + Send;

    /// Holds `quantity` tickets of `category` for `customer`; returns the
    /// system's id of the hold (the customer keeps it as a [`HoldTicket`]).
    fn hold(
        &self,
        customer: u64,
        category: usize,
        quantity: u32,
    ) -> impl Future<Output = Result<u64, OpError>> + Send;

    /// Pays for a hold; returns the tickets sold. A declined payment sells
    /// nothing, releases the hold and fails with `payment_declined`.
    fn purchase(
        &self,
        hold: &HoldTicket,
        payment: Payment,
    ) -> impl Future<Output = Result<u64, OpError>> + Send;

    /// Gives a hold back.
    fn release(&self, hold: &HoldTicket) -> impl Future<Output = Result<(), OpError>> + Send;

    /// Returns an abandoned hold's tickets once its time is up (only called
    /// when [`Target::expires_holds_itself`] is false). A hold already gone
    /// is fine. Systems with a clock of their own keep this default.
    fn expire(&self, hold: &HoldTicket) -> impl Future<Output = Result<(), OpError>> + Send {
        let _ = hold;
        std::future::ready(Ok(()))
    }

    /// Every category's capacity, sold and held, read from the system.
    fn outcome(&self) -> impl Future<Output = Result<Vec<CategoryCount>, BenchError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_are_the_codes_or_the_class() {
        assert_eq!(OpError::Rejected("sold_out".into()).kind(), "sold_out");
        assert!(OpError::Rejected("sold_out".into()).is_sold_out());
        assert!(!OpError::Rejected("hold_expired".into()).is_sold_out());
        assert_eq!(OpError::Contention(50).kind(), "cas_retries_exhausted");
        assert_eq!(OpError::Unavailable("x".into()).kind(), "unavailable");
    }

    #[test]
    fn payments_have_the_fake_providers_tokens() {
        assert_eq!(Payment::Approve.token(), "approve");
        assert_eq!(Payment::Decline.token(), "decline");
    }
}
