//! Turning a dead end of the search into a counterexample a person can
//! read: the longest linearizable prefix with the state after each step,
//! the state it leaves, and why nothing could come next.

use std::fmt::Write;

use super::model::{CategoryModel, Counters, Effect, ModelOp};
use super::search::{exclusive_partners, DeadEnd};

/// The prefix shows at most this many operations (the latest ones).
const SHOWN_PREFIX: usize = 20;

/// Describes why `ops` (the history of category `name`) has no
/// linearization, from the search's deepest dead end.
pub fn describe(name: &str, model: CategoryModel, ops: &[ModelOp], dead_end: &DeadEnd) -> String {
    let mut out = String::new();
    let total = ops.iter().filter(|m| !m.optional).count();
    let _ = writeln!(
        out,
        "{name} (capacity {}) is not linearizable ({} states explored).",
        model.capacity, dead_end.explored
    );
    let _ = writeln!(
        out,
        "Longest linearizable prefix: {} operations (of {total} definite, {} unknown):",
        dead_end.prefix.len(),
        ops.len() - total
    );
    let mut state = Counters::default();
    let skipped = dead_end.prefix.len().saturating_sub(SHOWN_PREFIX);
    if skipped > 0 {
        let _ = writeln!(out, "  … {skipped} earlier operations");
    }
    for (n, &i) in dead_end.prefix.iter().enumerate() {
        state = model
            .step(state, ops[i].effect)
            .expect("the search only linearizes legal steps");
        if n >= skipped {
            let _ = writeln!(out, "  {:>4}. {}  ⇒ {state}", n + 1, label(&ops[i]));
        }
    }
    let _ = writeln!(
        out,
        "Model state after it: {state} (available {}).",
        model.available(state)
    );
    // Linearized, or retired by its exclusive alternative's linearization.
    let linearized: Vec<bool> = {
        let partner = exclusive_partners(ops);
        let mut v = vec![false; ops.len()];
        for &i in &dead_end.prefix {
            v[i] = true;
            if let Some(p) = partner[i] {
                v[p] = true;
            }
        }
        v
    };
    // The earliest definite completion not yet linearized bounds what may
    // come next: only operations invoked before it.
    let deadline = (0..ops.len())
        .filter(|&i| !linearized[i] && !ops[i].optional)
        .min_by_key(|&i| ops[i].span.complete_index);
    let horizon = deadline
        .and_then(|i| ops[i].span.complete_index)
        .unwrap_or(u64::MAX);
    let _ = writeln!(out, "No operation can be linearized next:");
    for i in (0..ops.len()).filter(|&i| !linearized[i] && ops[i].span.invoke_index < horizon) {
        let why = match model.step(state, ops[i].effect) {
            Err(refusal) => format!("refused: {refusal}"),
            Ok(after) => format!(
                "allowed (⇒ {after}), but no order of the remaining operations works from there"
            ),
        };
        let maybe = if ops[i].optional {
            " (outcome unknown; it may also never have happened)"
        } else {
            ""
        };
        let _ = writeln!(out, "  - {}{maybe}: {why}", label(&ops[i]));
    }
    if let Some(i) = deadline {
        let _ = write!(
            out,
            "{} had to take effect before its completion at #{}.",
            label(&ops[i]),
            ops[i].span.complete_index.unwrap_or_default()
        );
    }
    out
}

/// How a model operation reads in a counterexample: the recorded operation,
/// or for an expiry, the hold it ends.
fn label(m: &ModelOp) -> String {
    match m.effect {
        Effect::Expire(q) => format!("expiry of ×{q} from [{}]", m.op),
        _ => m.op.to_string(),
    }
}
