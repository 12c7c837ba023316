//! Latency of one kind of operation in an HDR histogram (microseconds, three
//! significant digits), and the percentiles the report prints.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The operations a simulated customer performs, each with its own histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpKind {
    /// Joining the event's virtual queue (the burst at the start).
    Join,
    /// Asking whether the queue admitted the customer yet.
    QueueStatus,
    /// Reserving 1–4 tickets of a category.
    Hold,
    /// Paying for a hold (approved or declined).
    Purchase,
    /// Giving a hold back.
    Release,
}

impl OpKind {
    /// Every kind, in the order the report lists them.
    pub const ALL: [OpKind; 5] = [
        OpKind::Join,
        OpKind::QueueStatus,
        OpKind::Hold,
        OpKind::Purchase,
        OpKind::Release,
    ];

    /// The name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Join => "join",
            OpKind::QueueStatus => "queue_status",
            OpKind::Hold => "hold",
            OpKind::Purchase => "purchase",
            OpKind::Release => "release",
        }
    }

    /// Position in [`OpKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Longest latency a histogram tracks exactly (larger values are clamped): 10 minutes.
const MAX_MICROS: u64 = 600_000_000;

/// A new histogram in microseconds from 1 µs to [`MAX_MICROS`], 3 significant digits.
pub(crate) fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; fall back to an
    // auto-resizing histogram rather than panic should that ever change.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|_| {
        let mut h = Histogram::new(3).unwrap_or_else(|_| Histogram::new(2).expect("2 sigfig"));
        h.auto(true);
        h
    })
}

/// Records `latency` in `histogram`, clamped to its range.
pub(crate) fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS);
    histogram.saturating_record(micros.clamp(1, MAX_MICROS));
}

/// The latencies and outcome counts of one kind of operation.
#[derive(Debug, Clone)]
pub struct OpLatency {
    /// Every call's latency, successful or not.
    pub histogram: Histogram<u64>,
    /// Calls that succeeded.
    pub ok: u64,
    /// Calls refused or failed.
    pub failed: u64,
}

impl Default for OpLatency {
    fn default() -> Self {
        OpLatency {
            histogram: new_histogram(),
            ok: 0,
            failed: 0,
        }
    }
}

impl OpLatency {
    /// The figures the report prints.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary::of(&self.histogram, self.ok, self.failed)
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Calls made.
    pub count: u64,
    /// Calls that succeeded.
    pub ok: u64,
    /// Calls refused or failed.
    pub failed: u64,
    /// Mean latency.
    pub mean_ms: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest call.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarises `histogram` (empty: all zeros).
    pub fn of(histogram: &Histogram<u64>, ok: u64, failed: u64) -> LatencySummary {
        let ms = |micros: u64| micros as f64 / 1_000.0;
        let empty = histogram.is_empty();
        let at = |q: f64| {
            if empty {
                0.0
            } else {
                ms(histogram.value_at_quantile(q))
            }
        };
        LatencySummary {
            count: ok + failed,
            ok,
            failed,
            mean_ms: if empty {
                0.0
            } else {
                histogram.mean() / 1_000.0
            },
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: if empty { 0.0 } else { ms(histogram.max()) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut op = OpLatency::default();
        for ms in 1..=1_000u64 {
            record(&mut op.histogram, Duration::from_millis(ms));
        }
        op.ok = 990;
        op.failed = 10;
        let s = op.summary();
        assert_eq!(s.count, 1_000);
        // Three significant digits: within 0.1% of the exact value.
        for (got, want) in [
            (s.p50_ms, 500.0),
            (s.p90_ms, 900.0),
            (s.p99_ms, 990.0),
            (s.p999_ms, 999.0),
            (s.max_ms, 1_000.0),
        ] {
            assert!(
                (got - want).abs() <= want * 0.001 + 0.001,
                "got {got}, want {want}"
            );
        }
        assert!((s.mean_ms - 500.5).abs() < 1.0);
    }

    #[test]
    fn an_empty_histogram_is_all_zero_and_huge_values_are_clamped() {
        let s = OpLatency::default().summary();
        assert_eq!((s.count, s.p99_ms, s.max_ms), (0, 0.0, 0.0));
        let mut op = OpLatency::default();
        record(&mut op.histogram, Duration::from_secs(100_000));
        assert!(op.summary().max_ms <= 600_000.0 * 1.001);
    }

    #[test]
    fn kinds_are_indexed_in_report_order() {
        for (i, kind) in OpKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
        assert_eq!(OpKind::QueueStatus.name(), "queue_status");
    }
}
