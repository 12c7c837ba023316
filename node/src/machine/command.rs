//! What goes into the Raft log: commands, their idempotency keys, and the proposal one entry carries.

use ingressoja_codes::PaymentCode;
use serde::{Deserialize, Serialize};

use super::customer::{validate_registration, Registration};
use super::ids::{validate_id, CategoryId, CustomerId, EventId, HoldId};
use super::login::{validate_totp_secret, validate_totp_step, LoginOutcome};
use super::policy::SalePolicy;
use super::rejection::Rejection;
use super::sale_event::CategorySpec;

/// Identifies one client request so a retry is answered, not re-executed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// Stable per client process.
    pub client_id: String,
    /// Increasing per request; a retry reuses it.
    pub request_id: u64,
}

/// A change to the sale state. One file per command holds its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Put an event with its categories on sale.
    CreateEvent {
        event_id: EventId,
        name: String,
        categories: Vec<CategorySpec>,
        policy: SalePolicy,
    },
    /// Open an account.
    RegisterCustomer(Registration),
    /// Take a place in an event's virtual queue.
    JoinQueue {
        event_id: EventId,
        customer_id: CustomerId,
    },
    /// Reserve `quantity` tickets of a category for `ttl_ms`.
    PlaceHold {
        event_id: EventId,
        category_id: CategoryId,
        customer_id: CustomerId,
        quantity: u32,
        /// Set by the leader from its configuration, so every replica uses the same TTL.
        ttl_ms: u64,
    },
    /// Give a live hold's tickets back.
    ReleaseHold {
        hold_id: HoldId,
        customer_id: CustomerId,
    },
    /// Turn a live hold into tickets, with the charge that paid for them.
    Purchase {
        hold_id: HoldId,
        customer_id: CustomerId,
        charge: Option<Charge>,
    },
    /// Record that paying for a hold failed (declined, error or timeout).
    PaymentFailed {
        hold_id: HoldId,
        customer_id: CustomerId,
        failure: PaymentFailure,
    },
    /// Advance logical time so due holds expire even when nobody else writes.
    Tick,
    /// Turn on second-factor codes for an account, with the secret the customer
    /// confirmed by entering the code of `totp_step` (which then cannot log in).
    EnrolTotp {
        customer_id: CustomerId,
        /// Base32 TOTP secret; never echoed in outcomes, audit records or events.
        secret: String,
        /// The time step of the code the gateway verified to confirm enrolment.
        totp_step: u64,
    },
    /// Record a login attempt checked by a gateway (the lockout policy stays there).
    RecordLogin {
        customer_id: CustomerId,
        outcome: LoginOutcome,
    },
}

impl Command {
    /// Field checks that need no state: run before proposing and again at apply.
    pub fn validate(&self) -> Result<(), Rejection> {
        match self {
            Command::CreateEvent {
                event_id,
                name,
                categories,
                policy,
            } => {
                super::sale_event::validate_create(event_id, name, categories)?;
                policy.clone().validated().map(|_| ())
            }
            Command::RegisterCustomer(r) => validate_registration(r).map(|_| ()),
            Command::JoinQueue {
                event_id,
                customer_id,
            } => {
                validate_id("event_id", event_id)?;
                validate_id("customer_id", customer_id)
            }
            Command::PlaceHold {
                event_id,
                category_id,
                customer_id,
                quantity,
                ttl_ms,
            } => {
                validate_id("event_id", event_id)?;
                validate_id("category_id", category_id)?;
                validate_id("customer_id", customer_id)?;
                if *quantity == 0 {
                    return Err(Rejection::invalid("quantity", "must be at least 1"));
                }
                if *ttl_ms == 0 {
                    return Err(Rejection::invalid("ttl_ms", "must be positive"));
                }
                Ok(())
            }
            Command::ReleaseHold { customer_id, .. }
            | Command::PaymentFailed { customer_id, .. } => validate_id("customer_id", customer_id),
            Command::Purchase {
                customer_id,
                charge,
                ..
            } => {
                validate_id("customer_id", customer_id)?;
                if let Some(c) = charge {
                    if c.charge_id.is_empty() || c.charge_id.len() > 128 {
                        return Err(Rejection::invalid(
                            "charge.charge_id",
                            "must be 1 to 128 characters",
                        ));
                    }
                }
                Ok(())
            }
            Command::Tick => Ok(()),
            Command::EnrolTotp {
                customer_id,
                secret,
                totp_step,
            } => {
                validate_id("customer_id", customer_id)?;
                validate_totp_secret(secret)?;
                validate_totp_step(*totp_step)
            }
            Command::RecordLogin {
                customer_id,
                outcome,
            } => {
                validate_id("customer_id", customer_id)?;
                match outcome {
                    LoginOutcome::Succeeded {
                        totp_step: Some(step),
                    } => validate_totp_step(*step),
                    LoginOutcome::Succeeded { totp_step: None } | LoginOutcome::Failed => Ok(()),
                }
            }
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::CreateEvent { .. } => "create_event",
            Command::RegisterCustomer(_) => "register_customer",
            Command::JoinQueue { .. } => "join_queue",
            Command::PaymentFailed { .. } => "payment_failed",
            Command::PlaceHold { .. } => "place_hold",
            Command::ReleaseHold { .. } => "release_hold",
            Command::Purchase { .. } => "purchase",
            Command::Tick => "tick",
            Command::EnrolTotp { .. } => "enrol_totp",
            Command::RecordLogin {
                outcome: LoginOutcome::Failed,
                ..
            } => "record_login_failed",
            Command::RecordLogin {
                outcome: LoginOutcome::Succeeded { .. },
                ..
            } => "record_login_succeeded",
        }
    }
}

/// A successful charge by the payment provider, recorded with the sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub charge_id: String,
    pub amount_cents: u64,
}

/// Why paying failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentFailure {
    /// The provider refused the payment (card declined).
    Declined,
    /// The provider failed or did not answer in time; nothing was charged (voided).
    Failed,
}

impl PaymentFailure {
    /// The code customers and the event stream see.
    pub fn code(self) -> PaymentCode {
        match self {
            PaymentFailure::Declined => PaymentCode::Declined,
            PaymentFailure::Failed => PaymentCode::Failed,
        }
    }
}

/// A command with the key that makes it idempotent (`None` for system commands like [`Command::Tick`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub key: Option<IdempotencyKey>,
    pub command: Command,
}

/// What the leader proposes as one Raft entry: its timestamp and one or more requests.
///
/// Requests that arrive together share one entry (the proposer's group
/// commit: one Raft round trip, one fsync); they are applied in order as if
/// they were separate entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Leader wall-clock time in ms since the Unix epoch when proposing.
    pub ts_ms: u64,
    pub requests: Vec<Request>,
}
