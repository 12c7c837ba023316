//! The one place every completed operation is written to: its histogram,
//! its outcome, the error tally by kind and the timeline. Shared by all
//! customers of a run behind a mutex held for a few hundred nanoseconds.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::latency::{record, OpKind, OpLatency};
use super::timeline::Timeline;

/// Everything recorded during one system's run.
#[derive(Debug, Clone)]
pub struct RecorderSnapshot {
    /// Per operation kind, indexed by [`OpKind::index`].
    pub ops: Vec<OpLatency>,
    /// Refusals and failures by kind (`sold_out`, `payment_declined`, `unavailable`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Holds the customers walked away from.
    pub abandoned: u64,
    /// Holds the benchmark expired itself (systems without a clock).
    pub expired_by_bench: u64,
    /// Throughput and p99 over time.
    pub timeline: Timeline,
}

/// Collects the measurements of one system's run.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    inner: Mutex<RecorderSnapshot>,
}

impl Recorder {
    /// A recorder whose timeline starts now, with intervals of `bucket`.
    pub fn new(bucket: Duration) -> Recorder {
        Recorder {
            start: Instant::now(),
            inner: Mutex::new(RecorderSnapshot {
                ops: OpKind::ALL.iter().map(|_| OpLatency::default()).collect(),
                errors: BTreeMap::new(),
                abandoned: 0,
                expired_by_bench: 0,
                timeline: Timeline::new(bucket),
            }),
        }
    }

    /// When the run started (time zero of the timeline).
    pub fn start(&self) -> Instant {
        self.start
    }

    fn with<R>(&self, f: impl FnOnce(&mut RecorderSnapshot) -> R) -> R {
        // Every update is a few counter bumps: a panic elsewhere cannot leave
        // the data half-written, so a poisoned lock is still usable.
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    /// One operation of `kind` that began at `began` finished now; `error`
    /// is the kind of its failure, if it failed.
    pub fn op(&self, kind: OpKind, began: Instant, error: Option<&str>) {
        let now = Instant::now();
        let latency = now.saturating_duration_since(began);
        let at = now.saturating_duration_since(self.start);
        self.with(|s| {
            let op = &mut s.ops[kind.index()];
            record(&mut op.histogram, latency);
            match error {
                None => op.ok += 1,
                Some(e) => {
                    op.failed += 1;
                    *s.errors.entry(e.to_string()).or_default() += 1;
                }
            }
            match kind {
                OpKind::Hold | OpKind::Purchase => {
                    s.timeline.record_sale_op(at, latency, error.is_none())
                }
                OpKind::Join if error.is_none() => s.timeline.record_join(at),
                _ => {}
            }
        });
    }

    /// A failure outside any measured operation (e.g. waiting too long for admission).
    pub fn error(&self, kind: &str) {
        self.with(|s| *s.errors.entry(kind.to_string()).or_default() += 1);
    }

    /// A customer walked away from a hold.
    pub fn abandoned(&self) {
        self.with(|s| s.abandoned += 1);
    }

    /// The benchmark expired a hold.
    pub fn expired(&self) {
        self.with(|s| s.expired_by_bench += 1);
    }

    /// A copy of everything recorded so far.
    pub fn snapshot(&self) -> RecorderSnapshot {
        self.with(|s| s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_errors_and_timeline_are_recorded() {
        let recorder = Recorder::new(Duration::from_secs(1));
        let began = Instant::now();
        recorder.op(OpKind::Hold, began, None);
        recorder.op(OpKind::Hold, began, Some("sold_out"));
        recorder.op(OpKind::Purchase, began, None);
        recorder.op(OpKind::Join, began, None);
        recorder.error("admission_timeout");
        recorder.abandoned();
        let s = recorder.snapshot();
        assert_eq!(
            (
                s.ops[OpKind::Hold.index()].ok,
                s.ops[OpKind::Hold.index()].failed
            ),
            (1, 1)
        );
        assert_eq!(s.ops[OpKind::Purchase.index()].ok, 1);
        assert_eq!(s.errors["sold_out"], 1);
        assert_eq!(s.errors["admission_timeout"], 1);
        assert_eq!(s.abandoned, 1);
        let points = s.timeline.points(Duration::from_secs(1));
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].holds_purchases_per_sec, 2.0);
        assert_eq!(points[0].joins_per_sec, 1.0);
    }
}
