//! Linearizability of each category's availability and hold operations.
//!
//! The history is split by `(event, category)` (linearizability is local:
//! a history is linearizable iff each object's sub-history is), and each
//! part is searched for a linearization against [`model`]: counters
//! `(sold, held)` under a constant capacity, starting at zero.
//!
//! * hold ok q: needs `capacity − sold − held ≥ q`; held += q.
//! * hold fail `sold_out`: needs fewer than q available (an observation).
//! * purchase ok q: held −= q, sold += q (needs held ≥ q).
//! * purchase fail `payment_declined`: held −= q (the hold is released).
//! * release ok q: held −= q.
//! * read ok: must equal (sold, held).
//! * expiry of a hold: held −= q, certain between the hold's invocation
//!   and a later `hold_expired` answer about it, possible after the hold's
//!   invocation when nothing definite followed it, or, when the hold's
//!   purchase timed out, as that purchase's exclusive alternative (bought
//!   or expired, not both; see [`model::expiries`]).
//! * other failures changed nothing and are left out; `info` operations may
//!   take effect at any point after their invocation, or never.
//!
//! Assumptions of the workload this checks:
//! * every hold of a checked category is followed by a purchase or release
//!   of it by the same client, so an expiry shows up as `hold_expired`; a
//!   category whose holds are left to expire unrecorded is marked
//!   `holds_expire` in the spec and is not searched;
//! * a declined payment releases the hold (`release_hold_on_payment_failure`);
//! * every category starts empty (fresh event);
//! * the model tracks totals, not individual holds: that a purchase names a
//!   live hold of its own is checked by the end-state checkers, not here.

mod counterexample;
pub mod model;
mod search;

use std::collections::BTreeMap;

pub use search::{search, DeadEnd, SearchBudget, Verdict};

use super::{AnomalyKind, CheckResult, Run};
use model::{expiries, model_op, CategoryModel, ModelOp};

/// Searches every category's history; see the module documentation.
pub fn check(run: &Run, budget: SearchBudget) -> CheckResult {
    let mut result = CheckResult::new("linearizable-categories");
    let mut parts: BTreeMap<(&str, &str), Vec<ModelOp>> = BTreeMap::new();
    for op in run.operations {
        if let Some((key, m)) = model_op(op) {
            parts.entry(key).or_default().push(m);
        }
    }
    for (key, m) in expiries(run.operations) {
        parts.entry(key).or_default().push(m);
    }
    for ((event, category), ops) in parts {
        let name = format!("{event}/{category}");
        let Some(spec) = run.spec.category(event, category) else {
            result.anomaly(
                AnomalyKind::UnknownCategory,
                format!(
                    "{} operations on {name}, which is not in the sale spec",
                    ops.len()
                ),
            );
            continue;
        };
        if spec.holds_expire {
            result.notes.push(format!(
                "{name}: not checked ({} operations): its holds may expire unrecorded",
                ops.len()
            ));
            continue;
        }
        let model = CategoryModel {
            capacity: spec.capacity,
        };
        result.count("categories", 1);
        result.count("operations_modelled", ops.len() as u64);
        match search(model, &ops, budget) {
            Verdict::Linearizable { explored } => result.count("states_explored", explored),
            Verdict::Unknown { explored } => {
                result.count("states_explored", explored);
                result.unknown(format!(
                    "{name}: unknown (search budget exhausted after {explored} states)"
                ));
            }
            Verdict::NotLinearizable(dead_end) => {
                result.count("states_explored", dead_end.explored);
                let text = counterexample::describe(&name, model, &ops, &dead_end);
                result.anomaly(AnomalyKind::NotLinearizable, text);
            }
        }
    }
    result
}

#[cfg(test)]
mod tests;
