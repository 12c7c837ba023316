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
//! * expiry of a hold: held −= q. Certain, between the hold's invocation
//!   and a later `hold_expired` answer about it or the delivery of its
//!   `hold_expired` event to a consumer of the feed; possible, at any point
//!   after the hold, when the hold's own outcome is unknown, or when its
//!   purchase timed out (then as that purchase's exclusive alternative:
//!   bought or expired, not both; see [`model::expiries`]).
//! * other failures changed nothing and are left out; `info` operations may
//!   take effect at any point after their invocation, or never.
//!
//! Assumptions of the workload this checks:
//! * a hold's expiry shows up: as a `hold_expired` answer to its purchase
//!   or release, or in the event feed the run recorded. A category whose
//!   holds are left to expire (`holds_expire` in the spec) is searched only
//!   when the run recorded the feed;
//! * a declined payment releases the hold (`release_hold_on_payment_failure`);
//! * every category starts empty (fresh event);
//! * the model tracks totals, not individual holds: that a purchase names a
//!   live hold of its own is checked by the end-state checkers, not here.

mod counterexample;
pub mod model;
mod search;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use search::{search, DeadEnd, SearchBudget, Verdict};

use super::{AnomalyKind, CheckResult, Run};
use crate::history::{OpBody, Operation, Outcome};
use model::{expiries, model_op, CategoryModel, FeedWindow, ModelOp};

/// Searches every category's history; see the module documentation.
pub fn check(run: &Run, budget: SearchBudget) -> CheckResult {
    let mut result = CheckResult::new("linearizable-categories");
    let mut parts: BTreeMap<(&str, &str), Vec<ModelOp>> = BTreeMap::new();
    for op in run.operations {
        if let Some((key, m)) = model_op(op) {
            parts.entry(key).or_default().push(m);
        }
    }
    let feed = feed_expiries(run);
    let expired = expiries(run.operations, &feed);
    // A purchase whose hold the feed saw expire never took effect.
    let never: HashSet<*const crate::history::Operation> = expired
        .iter()
        .filter(|(_, m)| !m.optional)
        .filter_map(|(_, m)| m.excludes.map(|p| p as *const _))
        .collect();
    for (key, mut m) in expired {
        if !m.optional {
            m.excludes = None;
        }
        parts.entry(key).or_default().push(m);
    }
    for ops in parts.values_mut() {
        ops.retain(|m| {
            !never.contains(&(m.op as *const _)) || matches!(m.effect, model::Effect::Expire(_))
        });
    }
    let fed = !run.watched.consumers.is_empty();
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
        if spec.holds_expire && !fed {
            result.notes.push(format!(
                "{name}: not checked ({} operations): its holds may expire unrecorded \
                 (no event feed in this run)",
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

/// The feed's window for every hold it saw expire (see [`FeedWindow`]).
fn feed_expiries<'r>(run: &Run<'r>) -> HashMap<(&'r str, u64), FeedWindow> {
    let received = run.watched.expiries_received();
    if received.is_empty() {
        return HashMap::new();
    }
    // Upper bounds: the highest index stamped at or before each delivery
    // (records are stamped just before they are numbered, so two may cross
    // by a hair: a running maximum).
    let mut points: Vec<(u64, u64)> = run
        .operations
        .iter()
        .flat_map(|op| {
            let s = op.span;
            [
                Some((s.invoke_time_ns, s.invoke_index)),
                s.complete_time_ns.zip(s.complete_index),
            ]
        })
        .flatten()
        .collect();
    points.sort_unstable();
    let mut latest = 0;
    for point in &mut points {
        latest = latest.max(point.1);
        point.1 = latest;
    }
    let before = |at: u64| {
        let n = points.partition_point(|&(time, _)| time <= at);
        points
            .get(n.checked_sub(1)?)
            .map(|&(time, index)| (index, time))
    };
    // Lower bounds: walk the longest stream (log order), keeping the latest
    // invocation among operations whose event has gone by.
    let invoked = invocations_by_event(run.operations);
    let longest = run.watched.consumers.values().max_by_key(|f| f.len());
    let mut after: HashMap<(&str, u64), (u64, u64)> = HashMap::new();
    let mut gone_by: Option<(u64, u64)> = None;
    for e in longest.into_iter().flatten() {
        if e.kind == "hold_expired" {
            if let Some(point) = gone_by {
                after.insert((e.event.as_str(), e.hold_id), point);
            }
        } else if let Some(&point) = invoked.get(&(e.kind.as_str(), e.event.as_str(), e.hold_id)) {
            gone_by = gone_by.max(Some(point));
        }
    }
    received
        .into_iter()
        .filter_map(|(key, at)| {
            let window = FeedWindow {
                after: after.get(&key).copied(),
                before: before(at)?,
            };
            Some((key, window))
        })
        .collect()
}

/// The earliest invocation, as (index, time), of the operations an event
/// of the feed stands for, by (event kind, sale event, hold id).
fn invocations_by_event(operations: &[Operation]) -> HashMap<(&str, &str, u64), (u64, u64)> {
    let mut first: HashMap<(&str, &str, u64), (u64, u64)> = HashMap::new();
    for op in operations {
        let keys: &[&str] = match &op.body {
            OpBody::Hold { .. } => &["hold_created"],
            OpBody::Purchase { .. } => &["purchase_confirmed", "payment_declined"],
            OpBody::Release { .. } => &["hold_released"],
            _ => continue,
        };
        let (event, hold) = match &op.body {
            OpBody::Hold {
                call,
                outcome: Outcome::Ok(reply),
            } => (call.event.as_str(), reply.hold_id),
            OpBody::Purchase { call, .. } => (call.event.as_str(), call.hold_id),
            OpBody::Release { call, .. } => (call.event.as_str(), call.hold_id),
            _ => continue,
        };
        let point = (op.span.invoke_index, op.span.invoke_time_ns);
        for kind in keys {
            let at = first.entry((kind, event, hold)).or_insert(point);
            *at = (*at).min(point);
        }
    }
    first
}

#[cfg(test)]
mod tests;
