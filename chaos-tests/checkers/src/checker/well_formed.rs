//! Is the history itself sound? A malformed history (a completion with no
//! invocation, two operations in flight on one process) is a harness bug,
//! and any verdict drawn from it would be suspect, so it is an anomaly.

use super::{AnomalyKind, CheckResult};
use crate::history::PairingError;

/// Turns pairing problems into anomalies.
pub fn check(problems: &[PairingError]) -> CheckResult {
    let mut result = CheckResult::new("well-formed-history");
    result.count("problems", problems.len() as u64);
    for p in problems {
        result.anomaly(AnomalyKind::MalformedHistory, p.to_string());
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::fixtures::*;
    use crate::checker::Validity;

    #[test]
    fn a_paired_history_is_well_formed() {
        let mut s = Script::new();
        s.call(1, read());
        s.ok(1, counters(0, 0));
        assert_eq!(check(&s.history.pairs().problems).valid, Validity::Valid);
    }

    #[test]
    fn an_orphan_completion_is_malformed() {
        let mut s = Script::new();
        s.ok(1, counters(0, 0));
        let result = check(&s.history.pairs().problems);
        assert!(result.has(AnomalyKind::MalformedHistory));
        assert!(result.anomalies[0].detail.contains("invoked nothing"));
    }
}
