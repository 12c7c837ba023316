//! The Jepsen-style chaos tests of IngressoJá (issue 6): a recorded history
//! of client operations and faults, the end state read from every node, and
//! the checkers that hold both to the rules of DESIGN.md — no oversell, no
//! ticket sold twice, no acknowledged purchase lost, per-customer limits,
//! linearizable per-category counters, FIFO queue admission, and replicas
//! converging to the same state hash and audit chain.
//!
//! The checkers are a separate model of the rules, written without the
//! node's code: they depend on nothing of the node, client or proto crates,
//! so a bug in the state machine cannot vouch for itself.
//!
//! Modules:
//! * [`history`]: the history as JSON lines, typed per operation, and the
//!   pairing of invocations with completions;
//! * [`final_state`]: what the harness read from each node after healing;
//! * [`spec`]: the sale's capacities and limits the checkers compare with;
//! * [`checker`]: one checker per rule, and [`checker::check_all`] for a run.
//!
//! * [`harness`]: the cluster in containers, the workload, the nemeses and
//!   the report (the `ingressoja-chaos` binary).
//!
//! * [`bench`]: the flash-sale load generator (issue 7), side by side with
//!   etcd and PostgreSQL (the `ingressoja-bench` binary).

pub mod bench;
pub mod checker;
pub mod final_state;
pub mod harness;
pub mod history;
pub mod spec;

pub use checker::{check_all, CheckResult, Report, Validity};
pub use final_state::FinalState;
pub use history::History;
pub use spec::SaleSpec;
