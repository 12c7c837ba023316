//! Bugs planted on purpose, to prove that the chaos checkers find what they
//! claim to find (a checker that never fails proves nothing).
//!
//! The state machine's bugs (oversell, duplicate tickets, limit bypass,
//! shared queue numbers, a local clock in apply) are hooks in `machine/`
//! under `#[cfg(feature = "planted-bugs")]`, asking `planted::machine`.
//!
//! The bugs themselves ([`bugs`]) are compiled only with the cargo feature
//! `planted-bugs`, which no manifest turns on: only the chaos script's
//! separately tagged node image is built with it. In such a binary a bug is
//! still off unless the environment variable [`PLANTED_BUG_ENV`] names one.
//! A binary without the feature has no planted code path at all; if the
//! variable is set anyway it says so at start-up and runs normally (see
//! [`warn_if_requested`]).

/// The test flag that turns a planted bug on (in a binary built with `planted-bugs`).
pub const PLANTED_BUG_ENV: &str = "INGRESSOJA_TEST_PLANTED_BUG";

#[cfg(feature = "planted-bugs")]
mod bugs;

#[cfg(feature = "planted-bugs")]
pub use bugs::{machine, storage, PlantedBug, PlantedBugs};

/// In a binary without planted bugs: warns when [`PLANTED_BUG_ENV`] asks for one.
///
/// Running normally (rather than refusing to start) keeps a stray test
/// variable from ever taking a production node down, and this binary cannot
/// misbehave whatever the variable says. A planted-bug chaos run started on
/// this binary by mistake still fails loudly: its checker finds no anomaly
/// and the run reports that, while this warning in the node's log says why.
#[cfg(not(feature = "planted-bugs"))]
pub fn warn_if_requested() {
    if let Ok(name) = std::env::var(PLANTED_BUG_ENV) {
        if !name.is_empty() {
            tracing::warn!(
                requested = %name,
                "{PLANTED_BUG_ENV} is set, but this binary was built without the \
                 planted-bugs feature: it has no planted bugs and runs normally \
                 (build the chaos image with --features planted-bugs to test the checkers)"
            );
        }
    }
}
