//! A chaos run as the harness will leave it on disk — a JSON-lines history,
//! the nodes' final state and the sale spec — read back and checked.

use std::path::Path;

use ingressoja_checkers::checker::AnomalyKind;
use ingressoja_checkers::{check_all, FinalState, History, SaleSpec, Validity, Watched};

fn data(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn inputs() -> (String, FinalState, SaleSpec) {
    let final_state = serde_json::from_str(&data("final.json")).unwrap();
    let spec = serde_json::from_str(&data("spec.json")).unwrap();
    (data("history.jsonl"), final_state, spec)
}

#[test]
fn the_recorded_run_passes_every_checker() {
    let (history, final_state, spec) = inputs();
    let history = History::read_jsonl(history.as_bytes()).unwrap();
    let report = check_all(&history, &final_state, &Watched::default(), &spec);
    assert_eq!(report.valid, Validity::Valid, "{report}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["operations"]["hold"]["info"], 1);
    assert_eq!(json["operations"]["hold"]["fail"], 1);
    // The history writes back exactly as read.
    assert_eq!(history.to_jsonl(), inputs().0);
}

#[test]
fn a_stale_final_read_is_reported_with_a_counterexample() {
    let (history, final_state, spec) = inputs();
    let stale = history.replace(
        r#""value":{"capacity":3,"sold":2,"held":0,"available":1}"#,
        r#""value":{"capacity":3,"sold":0,"held":2,"available":1}"#,
    );
    assert_ne!(stale, history);
    let history = History::read_jsonl(stale.as_bytes()).unwrap();
    let report = check_all(&history, &final_state, &Watched::default(), &spec);
    assert_eq!(report.valid, Validity::Invalid);
    let lin = report.check("linearizable-categories").unwrap();
    assert!(lin.has(AnomalyKind::NotLinearizable));
    let text = report.to_string();
    assert!(
        text.contains("rir/pista (capacity 3) is not linearizable"),
        "{text}"
    );
    assert!(
        text.contains("p2 read rir/pista → ok capacity 3 sold 0 held 2"),
        "{text}"
    );
}

#[test]
fn a_truncated_line_is_named_by_its_number() {
    let (history, _, _) = inputs();
    let cut: String = history.lines().take(5).collect::<Vec<_>>().join("\n") + "\n{\"index\":5,";
    let err = History::read_jsonl(cut.as_bytes()).unwrap_err();
    assert!(err.to_string().starts_with("history line 6:"), "{err}");
}
