//! Running every checker over one chaos run, and the report that results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    acknowledged, admission, convergence, customer_limit, fifo, idempotency, linearizable,
    oversell, sale_clock, unique_tickets, watch_stream, well_formed, CheckResult, Run,
    SearchBudget, Validity,
};
use crate::final_state::FinalState;
use crate::history::{History, OpKind};
use crate::spec::SaleSpec;
use crate::watched::Watched;

/// How many operations of one kind ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    /// Acknowledged.
    pub ok: u64,
    /// Definitely failed.
    pub fail: u64,
    /// Unknown outcome (including never completed).
    pub info: u64,
}

/// The verdict of a whole chaos run, as written to its JSON report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Every checker combined: false if any found an anomaly, "unknown" if
    /// none did but one could not finish.
    pub valid: Validity,
    /// Per-checker results, in a fixed order.
    pub checks: Vec<CheckResult>,
    /// Outcomes per operation kind (`f`).
    pub operations: BTreeMap<OpKind, OutcomeCounts>,
}

impl Report {
    /// The result of the checker `name`.
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }
}

impl std::fmt::Display for Report {
    /// A short human summary: one line per checker, then every anomaly.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = |v: Validity| match v {
            Validity::Valid => "valid",
            Validity::Invalid => "INVALID",
            Validity::Unknown => "unknown",
        };
        writeln!(f, "chaos run: {}", verdict(self.valid))?;
        for (kind, c) in &self.operations {
            writeln!(f, "  {kind}: {} ok, {} fail, {} info", c.ok, c.fail, c.info)?;
        }
        for check in &self.checks {
            writeln!(f, "{}: {}", check.name, verdict(check.valid))?;
            for a in &check.anomalies {
                let detail = a.detail.replace('\n', "\n      ");
                writeln!(f, "  - {:?}: {detail}", a.kind)?;
            }
            if check.anomalies_dropped > 0 {
                writeln!(f, "  … and {} more anomalies", check.anomalies_dropped)?;
            }
            for note in &check.notes {
                writeln!(f, "  note: {note}")?;
            }
        }
        Ok(())
    }
}

/// Runs every checker with the default search budget.
pub fn check_all(
    history: &History,
    final_state: &FinalState,
    watched: &Watched,
    spec: &SaleSpec,
) -> Report {
    check_all_with(history, final_state, watched, spec, SearchBudget::default())
}

/// Runs every checker, bounding the linearizability search by `budget`.
pub fn check_all_with(
    history: &History,
    final_state: &FinalState,
    watched: &Watched,
    spec: &SaleSpec,
    budget: SearchBudget,
) -> Report {
    let pairs = history.pairs();
    let run = Run {
        operations: &pairs.operations,
        final_state,
        watched,
        spec,
    };
    let checks = vec![
        well_formed::check(&pairs.problems),
        oversell::check(&run),
        unique_tickets::check(&run),
        acknowledged::check(&run),
        customer_limit::check(&run),
        linearizable::check(&run, budget),
        fifo::check(&run),
        convergence::check(&run),
        sale_clock::check(&run),
        idempotency::check(&run),
        watch_stream::check(&run),
        admission::check(&run),
    ];
    let valid = checks
        .iter()
        .fold(Validity::Valid, |acc, c| acc.and(c.valid));
    let mut operations: BTreeMap<OpKind, OutcomeCounts> = BTreeMap::new();
    for op in run.operations {
        let counts = operations.entry(op.body.kind()).or_default();
        match op.body.outcome_name() {
            "ok" => counts.ok += 1,
            "fail" => counts.fail += 1,
            _ => counts.info += 1,
        }
    }
    Report {
        valid,
        checks,
        operations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;
    use crate::checker::AnomalyKind;

    #[test]
    fn a_clean_run_is_valid_and_counts_outcomes() {
        let mut s = Script::new();
        s.call(1, join("c1"));
        s.ok(1, joined(1));
        s.call(1, hold("c1", 2));
        s.ok(1, held(10));
        s.call(2, hold("c2", 20));
        s.fail(2, OpKind::Hold, "sold_out");
        s.call(1, purchase("c1", 10, 2));
        s.ok(1, bought(&["t1", "t2"]));
        s.call(3, read());
        s.info(3, OpKind::Read);
        let tickets = vec![ticket("t1", "c1", 10), ticket("t2", "c1", 10)];
        let node = node_state("n1", (2, 0), tickets, &[("c1", 1)]);
        let fin = FinalState {
            nodes: vec![
                node.clone(),
                NodeState {
                    node: "n2".into(),
                    ..node
                },
            ],
        };
        let report = check_all(&s.history, &fin, &Watched::default(), &spec());
        assert_eq!(report.valid, Validity::Valid, "{report}");
        assert_eq!(report.checks.len(), 12);
        assert_eq!(
            report.operations[&OpKind::Hold],
            OutcomeCounts {
                ok: 1,
                fail: 1,
                info: 0
            }
        );
        assert_eq!(report.operations[&OpKind::Read].info, 1);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["valid"], true);
        assert_eq!(json["operations"]["purchase"]["ok"], 1);
    }

    #[test]
    fn a_lost_purchase_makes_the_whole_run_invalid() {
        let mut s = Script::new();
        s.call(1, hold("c1", 2));
        s.ok(1, held(10));
        s.call(1, purchase("c1", 10, 2));
        s.ok(1, bought(&["t1", "t2"]));
        let fin = FinalState {
            nodes: vec![node_state("n1", (0, 0), vec![], &[])],
        };
        let report = check_all(&s.history, &fin, &Watched::default(), &spec());
        assert_eq!(report.valid, Validity::Invalid);
        let acked = report.check("acknowledged-purchases").unwrap();
        assert!(acked.has(AnomalyKind::PurchaseLost), "{report}");
        assert!(report.to_string().contains("PurchaseLost"));
    }
}
