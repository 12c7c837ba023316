//! The one place every completed operation is written to: its histogram,
//! its outcome, the error tally by kind, the timeline and the live
//! counters. Every target's operations are measured by [`Recorder::timed`],
//! so no adapter times or classifies a call itself. Shared by all customers
//! of a run behind a mutex held for a few hundred nanoseconds.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::latency::{record, OpKind, OpLatency};
use super::live::LiveCounters;
use super::timeline::Timeline;
use crate::target::OpError;

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
    /// The running totals the progress line and the stop condition read.
    pub live: LiveCounters,
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
            live: LiveCounters::default(),
        }
    }

    /// Runs one measured operation of `kind`: times it, classifies its
    /// outcome by [`OpError::kind`], and records latency, outcome and the
    /// live counters. Joins are not counted as sale-phase operations.
    pub async fn timed<R>(
        &self,
        kind: OpKind,
        op: impl Future<Output = Result<R, OpError>>,
    ) -> Result<R, OpError> {
        if kind != OpKind::Join {
            LiveCounters::add(&self.live.ops, 1);
        }
        let began = Instant::now();
        let result = op.await;
        self.op(kind, began, result.as_ref().err().map(OpError::kind));
        match (&result, kind) {
            (Err(_), _) => LiveCounters::add(&self.live.failed, 1),
            (Ok(_), OpKind::Hold | OpKind::Purchase) => LiveCounters::add(&self.live.committed, 1),
            (Ok(_), OpKind::Join) => LiveCounters::add(&self.live.joins, 1),
            _ => {}
        }
        result
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

    #[tokio::test]
    async fn timed_operations_are_recorded_and_counted_live() {
        let recorder = Recorder::new(Duration::from_secs(1));
        let held = recorder.timed(OpKind::Hold, async { Ok(7) }).await;
        assert_eq!(held, Ok(7));
        let refused = recorder
            .timed(OpKind::Hold, async {
                Err::<u64, _>(OpError::Rejected("sold_out".into()))
            })
            .await;
        assert!(refused.is_err_and(|e| e.is_sold_out()));
        recorder
            .timed(OpKind::Join, async { Ok(()) })
            .await
            .unwrap();
        let s = recorder.snapshot();
        let hold = &s.ops[OpKind::Hold.index()];
        assert_eq!((hold.ok, hold.failed), (1, 1));
        assert_eq!(s.errors["sold_out"], 1);
        let live = &recorder.live;
        assert_eq!(LiveCounters::get(&live.ops), 2, "joins are not sale ops");
        assert_eq!(LiveCounters::get(&live.committed), 1);
        assert_eq!(LiveCounters::get(&live.failed), 1);
        assert_eq!(LiveCounters::get(&live.joins), 1);
    }

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
