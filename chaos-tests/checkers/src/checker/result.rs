//! What one checker found: a verdict, the anomalies that justify it, and a
//! few counts, all serialisable for the run's JSON report.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// At most this many anomalies are kept per checker; the rest are counted.
pub const MAX_ANOMALIES: usize = 100;

/// A checker's verdict. Serialised as Jepsen does: `true`, `false` or
/// `"unknown"` (e.g. a search that ran out of budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// No anomaly.
    Valid,
    /// At least one anomaly.
    Invalid,
    /// No anomaly found, but the check could not finish.
    Unknown,
}

impl Validity {
    /// Combines verdicts: any invalid wins, then any unknown.
    pub fn and(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            (Valid, Valid) => Valid,
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(true) => Ok(Validity::Valid),
            serde_json::Value::Bool(false) => Ok(Validity::Invalid),
            serde_json::Value::String(s) if s == "unknown" => Ok(Validity::Unknown),
            other => Err(de::Error::custom(format!(
                "expected true, false or \"unknown\", got {other}"
            ))),
        }
    }
}

/// The kinds of anomaly, one name per broken rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// The history is not a well-formed sequence of invocations/completions.
    MalformedHistory,
    /// An operation or node names a category the sale spec does not have.
    UnknownCategory,
    /// A node lacks a category of the sale spec.
    MissingCategory,
    /// A read or node reports another capacity than the spec's.
    CapacityMismatch,
    /// More tickets sold than the capacity.
    Oversold,
    /// Sold plus held exceeds the capacity.
    Overcommitted,
    /// available ≠ capacity − sold − held in a read.
    InconsistentCounters,
    /// A node's `sold` counter disagrees with its tickets.
    SoldCountMismatch,
    /// One ticket id sold twice.
    TicketSoldTwice,
    /// One ticket id bound to two customers (or holds).
    TicketOwnerConflict,
    /// An acknowledged purchase is missing (or rebound) at the end.
    PurchaseLost,
    /// A purchase that failed left tickets behind.
    FailedPurchasePresent,
    /// A hold yielded tickets more than once, or a wrong number of them.
    HoldBoughtTwice,
    /// Tickets exist for a hold no recorded purchase asked to buy.
    TicketWithoutPurchase,
    /// A customer owns more tickets of a category than its limit.
    CustomerLimitExceeded,
    /// A customer owns more tickets of an event than its event-wide limit.
    EventLimitExceeded,
    /// A category's history has no linearization.
    NotLinearizable,
    /// A join that finished before another started got the later number.
    FifoViolated,
    /// Two customers got the same queue number.
    DuplicateSeq,
    /// An acknowledged join is missing from a node's queue, or has another number.
    QueueEntryLost,
    /// A node's queue is not in sequence order.
    QueueOutOfOrder,
    /// No node's final state was read.
    NoFinalState,
    /// Nodes disagree on state hash, audit head or contents.
    Diverged,
    /// A hold was acknowledged with an expiry far from real time: the
    /// cluster's clock left the harness's.
    ClockJumped,
    /// A request sent again with its key was answered with something other
    /// than its first answer (another hold, other tickets, another number).
    ReplayDiffers,
    /// A request acknowledged once was refused when sent again with its key.
    ReplayRefused,
    /// A refusal only a retry that ran a second time can give
    /// (`already_purchased`, `idempotency_key_reused`, `hold_not_found` for
    /// an acknowledged hold).
    RetryRanTwice,
    /// A consumer of the event feed never received some seqs.
    EventMissing,
    /// A consumer received a seq again, or out of order.
    EventRepeated,
    /// Two consumers received different events under one seq.
    EventsDiverged,
    /// An acknowledged purchase has no `purchase_confirmed` in a feed.
    PurchaseEventMissing,
    /// A hold's purchase was confirmed twice in a feed.
    PurchaseEventRepeated,
    /// A `purchase_confirmed` with other tickets than the purchase's, for a
    /// purchase that failed, or for a hold nobody bought.
    PurchaseEventWrong,
    /// A consumer stopped short of the end of the feed.
    WatchStalled,
    /// A queue admitted someone other than the next in line.
    AdmittedOutOfOrder,
    /// A queue admitted faster than its rate.
    AdmittedTooSoon,
}

/// One broken rule, with a human-readable account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Which rule.
    pub kind: AnomalyKind,
    /// What exactly, naming operations, nodes, tickets.
    pub detail: String,
}

/// One checker's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The checker's name.
    pub name: String,
    /// The verdict.
    pub valid: Validity,
    /// The anomalies found (at most [`MAX_ANOMALIES`]).
    pub anomalies: Vec<Anomaly>,
    /// Anomalies found beyond the kept ones.
    pub anomalies_dropped: u64,
    /// What was checked, e.g. `reads_checked`.
    pub counts: BTreeMap<String, u64>,
    /// Remarks that are not anomalies (e.g. why the verdict is unknown).
    pub notes: Vec<String>,
}

impl CheckResult {
    /// An empty, valid result for the checker `name`.
    pub fn new(name: &str) -> CheckResult {
        CheckResult {
            name: name.to_string(),
            valid: Validity::Valid,
            anomalies: Vec::new(),
            anomalies_dropped: 0,
            counts: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    /// Records an anomaly; the result becomes invalid.
    pub fn anomaly(&mut self, kind: AnomalyKind, detail: impl Into<String>) {
        self.valid = Validity::Invalid;
        if self.anomalies.len() < MAX_ANOMALIES {
            self.anomalies.push(Anomaly {
                kind,
                detail: detail.into(),
            });
        } else {
            self.anomalies_dropped += 1;
        }
    }

    /// Marks the check as unfinished, saying why (an invalid verdict stays).
    pub fn unknown(&mut self, why: impl Into<String>) {
        self.valid = self.valid.and(Validity::Unknown);
        self.notes.push(why.into());
    }

    /// Adds `n` to the count `name`.
    pub fn count(&mut self, name: &str, n: u64) {
        *self.counts.entry(name.to_string()).or_default() += n;
    }

    /// Whether any anomaly of `kind` was found (kept ones only).
    pub fn has(&self, kind: AnomalyKind) -> bool {
        self.anomalies.iter().any(|a| a.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_serialises_like_jepsen() {
        assert_eq!(serde_json::to_string(&Validity::Valid).unwrap(), "true");
        assert_eq!(serde_json::to_string(&Validity::Invalid).unwrap(), "false");
        assert_eq!(
            serde_json::to_string(&Validity::Unknown).unwrap(),
            "\"unknown\""
        );
        let v: Validity = serde_json::from_str("\"unknown\"").unwrap();
        assert_eq!(v, Validity::Unknown);
        assert!(serde_json::from_str::<Validity>("\"maybe\"").is_err());
    }

    #[test]
    fn validity_combines_invalid_first_then_unknown() {
        assert_eq!(Validity::Valid.and(Validity::Unknown), Validity::Unknown);
        assert_eq!(Validity::Unknown.and(Validity::Invalid), Validity::Invalid);
        assert_eq!(Validity::Valid.and(Validity::Valid), Validity::Valid);
    }

    #[test]
    fn anomalies_beyond_the_cap_are_counted_not_kept() {
        let mut r = CheckResult::new("x");
        for i in 0..MAX_ANOMALIES + 3 {
            r.anomaly(AnomalyKind::Oversold, format!("{i}"));
        }
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies.len(), MAX_ANOMALIES);
        assert_eq!(r.anomalies_dropped, 3);
        r.unknown("budget");
        assert_eq!(r.valid, Validity::Invalid, "unknown never hides an anomaly");
    }
}
