//! The checkers: each one holds a chaos run (history + final state + sale
//! spec) to one rule of DESIGN.md and returns a [`CheckResult`].
//!
//! They are a model of the rules written apart from the node's state
//! machine, so a bug there cannot hide itself here.

mod acknowledged;
mod admission;
mod convergence;
mod customer_limit;
mod fifo;
mod idempotency;
pub mod linearizable;
mod oversell;
mod report;
mod result;
mod sale_clock;
mod unique_tickets;
mod watch_stream;
mod well_formed;

#[cfg(test)]
pub(crate) mod fixtures;

pub use acknowledged::check as check_acknowledged_purchases;
pub use admission::check as check_queue_admission;
pub use convergence::check as check_convergence;
pub use customer_limit::check as check_customer_limits;
pub use fifo::check as check_fifo_admission;
pub use idempotency::check as check_idempotency;
pub use linearizable::{check as check_linearizable, SearchBudget};
pub use oversell::check as check_no_oversell;
pub use report::{check_all, check_all_with, OutcomeCounts, Report};
pub use result::{Anomaly, AnomalyKind, CheckResult, Validity, MAX_ANOMALIES};
pub use sale_clock::check as check_sale_clock;
pub use unique_tickets::check as check_unique_tickets;
pub use watch_stream::check as check_watch_stream;
pub use well_formed::check as check_well_formed;

use crate::final_state::FinalState;
use crate::history::Operation;
use crate::spec::SaleSpec;
use crate::watched::Watched;

/// Everything a checker looks at: the paired client operations of the
/// history, what every node holds at the end, what the event consumers
/// received, and the sale's rules.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// Client operations in invocation order.
    pub operations: &'a [Operation],
    /// The nodes' end states.
    pub final_state: &'a FinalState,
    /// The event feed as each consumer received it.
    pub watched: &'a Watched,
    /// The sale's capacities and limits.
    pub spec: &'a SaleSpec,
}
