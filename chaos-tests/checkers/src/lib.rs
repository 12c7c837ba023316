//! The checkers of IngressoJá's Jepsen-style chaos tests: a recorded history
//! of client operations and faults, the end state read from every node, and
//! the checkers that hold both to the rules of DESIGN.md — no oversell, no
//! ticket sold twice, no acknowledged purchase lost, per-customer limits,
//! linearizable per-category counters, FIFO queue admission, replicas
//! converging to the same state hash and audit chain, and an event feed
//! with no gap, repeat or lost purchase.
//!
//! The checkers are a separate model of the rules, written without the
//! node's code: this crate depends on nothing of the node, client, proto or
//! gateway crates (the compiler enforces it), so a bug in the state machine
//! cannot vouch for itself.
//!
//! Modules:
//! * [`history`]: the history as JSON lines, typed per operation, and the
//!   pairing of invocations with completions;
//! * [`final_state`]: what the harness read from each node after healing;
//! * [`spec`]: the sale's capacities and limits the checkers compare with;
//! * [`watched`]: what the event-feed consumers received;
//! * [`checker`]: one checker per rule, and [`checker::check_all`] for a run.
//!
//! May depend on: serde, serde_json and thiserror; no workspace crate.
//! The harness (`ingressoja-chaos`) records the history and reads the final
//! state; this crate only judges them, from files or from memory.

pub mod checker;
pub mod final_state;
pub mod history;
pub mod spec;
pub mod watched;

pub use checker::{check_all, CheckResult, Report, Validity};
pub use final_state::FinalState;
pub use history::History;
pub use spec::SaleSpec;
pub use watched::{Watched, WatchedEvent};
