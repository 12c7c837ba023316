//! Throughput and p99 latency over time: one bucket per `--bucket-ms` of the
//! run, filled as operations complete, turned into points for the plot.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Counts and hold/purchase latencies of one interval.
#[derive(Debug, Clone)]
struct Bucket {
    /// Committed holds and purchases that completed in the interval.
    committed: u64,
    /// Queue joins that completed in the interval.
    joins: u64,
    /// Latency of the holds and purchases (successful or not) that completed in it.
    latency: Histogram<u64>,
}

/// One point of the plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// End of the interval, seconds since the run (burst) started.
    pub t_secs: f64,
    /// Committed holds + purchases per second in the interval.
    pub holds_purchases_per_sec: f64,
    /// Queue joins per second in the interval.
    pub joins_per_sec: f64,
    /// p99 latency of the holds and purchases in the interval (0 when there were none).
    pub p99_ms: f64,
}

/// The per-interval buckets of a run.
#[derive(Debug, Clone)]
pub struct Timeline {
    width: Duration,
    buckets: Vec<Bucket>,
}

/// Longest latency the timeline's coarser histograms track: 10 minutes.
const MAX_MICROS: u64 = 600_000_000;

/// Most buckets kept (a day at one per second); later completions land in the last.
const MAX_BUCKETS: usize = 86_400;

impl Timeline {
    /// An empty timeline with intervals of `width`.
    pub fn new(width: Duration) -> Timeline {
        Timeline {
            width: width.max(Duration::from_millis(1)),
            buckets: Vec::new(),
        }
    }

    fn bucket(&mut self, at: Duration) -> &mut Bucket {
        let index = ((at.as_nanos() / self.width.as_nanos()) as usize).min(MAX_BUCKETS - 1);
        while self.buckets.len() <= index {
            // Two significant digits are plenty for a plotted p99.
            let latency = Histogram::new_with_bounds(1, MAX_MICROS, 2)
                .unwrap_or_else(|_| Histogram::new(2).expect("2 significant digits"));
            self.buckets.push(Bucket {
                committed: 0,
                joins: 0,
                latency,
            });
        }
        &mut self.buckets[index]
    }

    /// A hold or purchase completed `at` after the start, taking `latency`.
    pub fn record_sale_op(&mut self, at: Duration, latency: Duration, committed: bool) {
        let bucket = self.bucket(at);
        if committed {
            bucket.committed += 1;
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS);
        bucket
            .latency
            .saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// A queue join completed `at` after the start.
    pub fn record_join(&mut self, at: Duration) {
        self.bucket(at).joins += 1;
    }

    /// The points of the plot, one per interval, up to `end` (a partial last
    /// interval is scaled by its real length).
    pub fn points(&self, end: Duration) -> Vec<TimelinePoint> {
        let width = self.width.as_secs_f64();
        let end = end.as_secs_f64();
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let start = i as f64 * width;
                let stop = ((i + 1) as f64 * width).min(end.max(start + width / 100.0));
                let secs = (stop - start).max(width / 100.0);
                TimelinePoint {
                    t_secs: stop,
                    holds_purchases_per_sec: b.committed as f64 / secs,
                    joins_per_sec: b.joins as f64 / secs,
                    p99_ms: if b.latency.is_empty() {
                        0.0
                    } else {
                        b.latency.value_at_quantile(0.99) as f64 / 1_000.0
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_per_interval_and_p99() {
        let mut t = Timeline::new(Duration::from_millis(500));
        for i in 0..100u64 {
            t.record_sale_op(
                Duration::from_millis(10 + i),
                Duration::from_millis(i + 1),
                i % 2 == 0,
            );
        }
        t.record_join(Duration::from_millis(700));
        let points = t.points(Duration::from_millis(1_000));
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].holds_purchases_per_sec, 100.0); // 50 committed in 0.5 s
        assert!(
            (points[0].p99_ms - 99.0).abs() < 1.0,
            "{}",
            points[0].p99_ms
        );
        assert_eq!(points[1].joins_per_sec, 2.0);
        assert_eq!(points[1].p99_ms, 0.0);
        assert_eq!(points[1].t_secs, 1.0);
    }

    #[test]
    fn a_partial_last_interval_is_scaled_by_its_length() {
        let mut t = Timeline::new(Duration::from_secs(1));
        for _ in 0..10 {
            t.record_join(Duration::from_millis(1_100));
        }
        let points = t.points(Duration::from_millis(1_500));
        assert_eq!(points.len(), 2);
        assert!((points[1].joins_per_sec - 20.0).abs() < 1e-9);
        assert!((points[1].t_secs - 1.5).abs() < 1e-9);
    }
}
