//! Checkout: the purchase saga that turns a live hold into tickets, paying for it on the way.
//!
//! The steps, in order ([`saga`]):
//!
//! 1. a linearizable read, so the next step sees every committed answer;
//! 2. replay: a request already answered under its idempotency key gets that
//!    answer again, and the payment provider is not asked twice;
//! 3. the price of the hold, read only if it is live and the buyer's (else no
//!    charge, and the machine commits the precise refusal);
//! 4. the charge, with the request's key as the provider's idempotency key
//!    (the proposal carries the amount the provider actually charged, which
//!    the machine checks against the hold's price),
//!    within [`crate::payment::PAYMENT_TIMEOUT`]; a timed-out charge is voided
//!    (unless a committed ticket carries the key's charge), and the void's
//!    tombstone makes a charge under that key arriving later, or a retry's,
//!    fail; any failure is committed as [`crate::machine::Command::PaymentFailed`];
//! 5. the purchase proposal carrying the charge. Every purchase refusal —
//!    fresh or replayed in step 2, whether this attempt charged or not —
//!    refunds what the provider charged under the key, unless a committed
//!    ticket carries that charge (a sale by an overlapping attempt).
//!
//! [`Checkout::purchase_detached`] runs these steps in a task of their own, so
//! a caller that goes away (a gRPC deadline) does not abandon them halfway.
//!
//! What a lost proposal after a successful charge leaves behind: the charge
//! stays recorded at the provider under the request's key, unrefunded,
//! because the proposal may still commit (its outcome is unknown). A retry
//! with the same key — what every client does after `unavailable` or `not
//! leader` — either finds the committed purchase or gets the same charge back
//! from the provider and commits it: never a second charge.
//!
//! The saga reaches Raft and the applied state only through the small
//! [`Ledger`] trait: [`NodeLedger`] for a real node, an in-memory machine in
//! the unit tests.

mod error;
#[cfg(test)]
mod fake_ledger;
mod ledger;
mod saga;
#[cfg(test)]
mod tests;

pub use error::{CheckoutError, LedgerError};
pub use ledger::{Ledger, NodeLedger};
pub use saga::{charge_key, Checkout, Purchase, PurchaseOrder};
