//! The report's data, serialised as the JSON file (`--json-out`). Every
//! field is always present, so tools can rely on the shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::festival::report::FestivalReport;
use crate::options::{BenchOptions, Scale};
use crate::stats::{LatencySummary, OpKind, TimelinePoint};
use crate::target::CategoryCount;
use crate::workload::Measurements;

/// Version of the JSON layout; bumped when a field changes meaning.
pub const REPORT_VERSION: u32 = 1;

/// The machine the run was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs available to the benchmark.
    pub cpus: usize,
    /// The CPU model (from /proc/cpuinfo; empty if unknown).
    pub cpu_model: String,
    /// The kernel release (from /proc/sys/kernel/osrelease).
    pub kernel: String,
}

impl Machine {
    /// Describes this machine.
    pub fn this() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }
}

/// The workload every system ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSummary {
    /// `--scale`: `demo` or `festival`.
    #[serde(default)]
    pub scale: String,
    /// `--customers`.
    pub customers: u64,
    /// `--concurrency`.
    pub concurrency: usize,
    /// Joins in flight in the burst (`--burst-concurrency`, default `--concurrency`).
    pub burst_concurrency: usize,
    /// `--categories`.
    pub categories: u32,
    /// `--capacity`.
    pub capacity_per_category: u32,
    /// `--think-ms`.
    pub think_ms: u64,
    /// `--setup-concurrency`: registrations in flight.
    #[serde(default)]
    pub setup_concurrency: usize,
    /// `--max-active`: admitted shoppers at once (0: everyone).
    #[serde(default)]
    pub max_active: u32,
    /// `--status-poll-ms`: a waiting customer's pause between status reads.
    #[serde(default)]
    pub status_poll_ms: u64,
    /// `--decline-pct`.
    pub decline_pct: u32,
    /// `--release-pct`.
    pub release_pct: u32,
    /// `--abandon-pct`.
    pub abandon_pct: u32,
    /// `--hold-ttl-secs`.
    pub hold_ttl_secs: u64,
    /// `--duration-secs`.
    pub duration_secs: f64,
    /// `--total-ops`.
    pub total_ops: u64,
    /// The dice's seed (`--seed`, or the clock).
    pub seed: u64,
    /// The command line, to run it again.
    pub command: String,
}

impl WorkloadSummary {
    /// Tickets in the sale, from the plan (not from what a system reports).
    pub fn capacity_total(&self) -> u64 {
        u64::from(self.categories) * u64::from(self.capacity_per_category)
    }

    /// The summary of `options`, run with `seed`.
    pub fn of(options: &BenchOptions, seed: u64, command: String) -> WorkloadSummary {
        WorkloadSummary {
            scale: match options.scale {
                Scale::Demo => "demo",
                Scale::Festival => "festival",
            }
            .to_string(),
            customers: options.customers,
            concurrency: options.concurrency,
            burst_concurrency: options.burst_concurrency(),
            categories: options.categories,
            capacity_per_category: options.capacity,
            think_ms: options.think_ms,
            setup_concurrency: options.setup_concurrency,
            max_active: options.max_active,
            status_poll_ms: options.status_poll_ms,
            decline_pct: options.decline_pct,
            release_pct: options.release_pct,
            abandon_pct: options.abandon_pct,
            hold_ttl_secs: options.hold_ttl_secs,
            duration_secs: options.duration_secs,
            total_ops: options.total_ops,
            seed,
            command,
        }
    }
}

/// Rates of one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Committed holds + purchases per second of the sale phase: the headline figure.
    pub holds_purchases_per_sec: f64,
    /// The best interval of the timeline (the sale's steady state, without
    /// its tail of abandoned holds expiring).
    pub peak_holds_purchases_per_sec: f64,
    /// Committed holds per second of the sale phase.
    pub holds_per_sec: f64,
    /// Committed purchases per second of the sale phase.
    pub purchases_per_sec: f64,
    /// Queue joins per second during the burst.
    pub queue_joins_per_sec: f64,
}

/// The sale's end state read back from the system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Tickets on sale.
    pub capacity: u64,
    /// Tickets the system says it sold.
    pub sold: u64,
    /// Tickets the system says are still held.
    pub held: u64,
    /// Tickets in purchases the system acknowledged to the customers.
    pub acknowledged_sold: u64,
    /// Tickets sold or held beyond capacity (must be 0).
    pub oversold: u64,
    /// Every ticket sold.
    pub sold_out: bool,
    /// The system's sold count equals what it acknowledged.
    pub consistent: bool,
    /// Per category.
    pub categories: Vec<CategoryCount>,
}

impl Outcome {
    /// The outcome from the counters read back and the acknowledged tickets.
    pub fn of(categories: Vec<CategoryCount>, acknowledged_sold: u64) -> Outcome {
        let capacity = categories.iter().map(|c| c.capacity).sum();
        let sold = categories.iter().map(|c| c.sold).sum();
        let held = categories.iter().map(|c| c.held).sum();
        let oversold = categories
            .iter()
            .map(|c| (c.sold + c.held).saturating_sub(c.capacity))
            .sum();
        Outcome {
            capacity,
            sold,
            held,
            acknowledged_sold,
            oversold,
            sold_out: sold == capacity,
            consistent: sold == acknowledged_sold,
            categories,
        }
    }
}

/// Everything measured on one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemReport {
    /// `ingressoja`, `etcd` or `postgres`.
    pub system: String,
    /// What an acknowledged write survives.
    pub durability: String,
    /// Seconds of the queue-join burst.
    pub burst_secs: f64,
    /// Seconds of the sale phase.
    pub sale_secs: f64,
    /// Why the sale phase ended (`sold_out`, `duration`, `total_ops`, `customers_exhausted`).
    pub stopped_by: String,
    /// Rates of the burst and the sale.
    pub throughput: Throughput,
    /// Latency per operation (`join`, `queue_status`, `hold`, `purchase`, `release`).
    pub ops: BTreeMap<String, LatencySummary>,
    /// Refusals and failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// Compare-and-swap conflicts retried (etcd; 0 elsewhere).
    pub retries: u64,
    /// Holds the customers walked away from.
    pub abandoned_holds: u64,
    /// Holds the benchmark expired (systems without a clock): the abandoned
    /// ones, and those whose purchase or release failed without an answer.
    pub expired_by_bench: u64,
    /// The end state read back from the system.
    pub outcome: Outcome,
    /// Throughput and p99 over time.
    pub timeline: Vec<TimelinePoint>,
    /// The festival run's figures (`--scale festival` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub festival: Option<FestivalReport>,
}

impl SystemReport {
    /// The report of one system from its measurements and end state.
    pub fn build(
        system: &str,
        durability: &str,
        retries: u64,
        m: &Measurements,
        outcome: Outcome,
    ) -> SystemReport {
        let r = &m.recorder;
        let ok = |k: OpKind| r.ops[k.index()].ok;
        let per_sec = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let sale = m.sale.as_secs_f64();
        let burst = m.burst.as_secs_f64();
        let timeline = r.timeline.points(m.total);
        // Only whole intervals count: the last one may be a sliver whose
        // few operations, scaled to a second, would inflate the peak.
        let whole = match timeline.len() {
            0 | 1 => &timeline[..],
            n => &timeline[..n - 1],
        };
        let peak = whole
            .iter()
            .map(|p| p.holds_purchases_per_sec)
            .fold(0.0, f64::max);
        SystemReport {
            system: system.to_string(),
            durability: durability.to_string(),
            burst_secs: burst,
            sale_secs: sale,
            stopped_by: m.stopped_by.name().to_string(),
            throughput: Throughput {
                holds_purchases_per_sec: per_sec(ok(OpKind::Hold) + ok(OpKind::Purchase), sale),
                peak_holds_purchases_per_sec: peak,
                holds_per_sec: per_sec(ok(OpKind::Hold), sale),
                purchases_per_sec: per_sec(ok(OpKind::Purchase), sale),
                queue_joins_per_sec: per_sec(ok(OpKind::Join), burst),
            },
            ops: OpKind::ALL
                .iter()
                .map(|k| (k.name().to_string(), r.ops[k.index()].summary()))
                .collect(),
            errors: r.errors.clone(),
            retries,
            abandoned_holds: r.abandoned,
            expired_by_bench: r.expired_by_bench,
            outcome,
            timeline,
            festival: None,
        }
    }

    /// p99 of one operation in milliseconds (0 if it never ran).
    pub fn p99(&self, op: OpKind) -> f64 {
        self.ops.get(op.name()).map_or(0.0, |s| s.p99_ms)
    }
}

/// How ours compares with one other system: each ratio is above 1 when ours is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The other system.
    pub system: String,
    /// Our committed holds + purchases per second ÷ theirs.
    pub holds_purchases_per_sec_ratio: f64,
    /// Our best interval's holds + purchases per second ÷ theirs.
    pub peak_holds_purchases_per_sec_ratio: f64,
    /// Our committed holds per second ÷ theirs.
    pub holds_per_sec_ratio: f64,
    /// Our queue joins per second ÷ theirs.
    pub queue_joins_per_sec_ratio: f64,
    /// Their hold p99 ÷ ours.
    pub hold_p99_ratio: f64,
    /// Their purchase p99 ÷ ours.
    pub purchase_p99_ratio: f64,
}

/// `a / b`, or 0 when `b` is 0 (nothing to compare with).
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

impl Comparison {
    /// Ours against `other`.
    pub fn of(ours: &SystemReport, other: &SystemReport) -> Comparison {
        Comparison {
            system: other.system.clone(),
            holds_purchases_per_sec_ratio: ratio(
                ours.throughput.holds_purchases_per_sec,
                other.throughput.holds_purchases_per_sec,
            ),
            peak_holds_purchases_per_sec_ratio: ratio(
                ours.throughput.peak_holds_purchases_per_sec,
                other.throughput.peak_holds_purchases_per_sec,
            ),
            holds_per_sec_ratio: ratio(
                ours.throughput.holds_per_sec,
                other.throughput.holds_per_sec,
            ),
            queue_joins_per_sec_ratio: ratio(
                ours.throughput.queue_joins_per_sec,
                other.throughput.queue_joins_per_sec,
            ),
            hold_p99_ratio: ratio(other.p99(OpKind::Hold), ours.p99(OpKind::Hold)),
            purchase_p99_ratio: ratio(other.p99(OpKind::Purchase), ours.p99(OpKind::Purchase)),
        }
    }
}

/// The whole run: the JSON file's top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// Always `ingressoja-bench`.
    pub tool: String,
    /// [`REPORT_VERSION`].
    pub report_version: u32,
    /// When the run started (ms since the Unix epoch).
    pub started_at_unix_ms: u64,
    /// Where it ran.
    pub machine: Machine,
    /// What every system ran.
    pub workload: WorkloadSummary,
    /// Ours first, then the compared systems.
    pub systems: Vec<SystemReport>,
    /// Ours against each other system (empty without `--compare`).
    pub comparison: Vec<Comparison>,
}

impl BenchReport {
    /// Assembles the report; the first system is ours.
    pub fn new(
        started_at_unix_ms: u64,
        workload: WorkloadSummary,
        systems: Vec<SystemReport>,
    ) -> BenchReport {
        let comparison = match systems.split_first() {
            Some((ours, others)) => others.iter().map(|o| Comparison::of(ours, o)).collect(),
            None => Vec::new(),
        };
        BenchReport {
            tool: "ingressoja-bench".into(),
            report_version: REPORT_VERSION,
            started_at_unix_ms,
            machine: Machine::this(),
            workload,
            systems,
            comparison,
        }
    }

    /// True when no system oversold (the benchmark's exit status).
    pub fn no_oversell(&self) -> bool {
        self.systems.iter().all(|s| {
            s.outcome.oversold == 0
                // More acknowledged than the system kept sold is a lost sale;
                // more than it had is an oversell the counters do not show.
                && s.outcome.acknowledged_sold <= s.outcome.sold
                && s.outcome.acknowledged_sold <= self.workload.capacity_total()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(sold: u64, held: u64) -> CategoryCount {
        CategoryCount {
            category: "hot0".into(),
            capacity: 10,
            sold,
            held,
        }
    }

    #[test]
    fn outcome_flags() {
        let o = Outcome::of(vec![counts(10, 0)], 10);
        assert!(o.sold_out && o.consistent && o.oversold == 0);
        let o = Outcome::of(vec![counts(9, 3)], 8);
        assert_eq!(o.oversold, 2);
        assert!(!o.sold_out && !o.consistent);
    }

    #[test]
    fn ratios_favour_ours_above_one() {
        let mut ours = SystemReport {
            system: "ingressoja".into(),
            durability: String::new(),
            burst_secs: 1.0,
            sale_secs: 1.0,
            stopped_by: "sold_out".into(),
            throughput: Throughput {
                holds_purchases_per_sec: 3_000.0,
                peak_holds_purchases_per_sec: 3_500.0,
                holds_per_sec: 1_600.0,
                purchases_per_sec: 1_400.0,
                queue_joins_per_sec: 10_000.0,
            },
            ops: BTreeMap::new(),
            errors: BTreeMap::new(),
            retries: 0,
            abandoned_holds: 0,
            expired_by_bench: 0,
            outcome: Outcome::of(vec![counts(10, 0)], 10),
            timeline: Vec::new(),
            festival: None,
        };
        let summary = |p99: f64| LatencySummary {
            count: 1,
            ok: 1,
            failed: 0,
            mean_ms: p99,
            p50_ms: p99,
            p90_ms: p99,
            p99_ms: p99,
            p999_ms: p99,
            max_ms: p99,
        };
        ours.ops.insert("hold".into(), summary(10.0));
        let mut theirs = ours.clone();
        theirs.system = "etcd".into();
        theirs.throughput.holds_purchases_per_sec = 1_000.0;
        theirs.throughput.holds_per_sec = 400.0;
        theirs.ops.insert("hold".into(), summary(40.0));
        let c = Comparison::of(&ours, &theirs);
        assert_eq!(c.holds_purchases_per_sec_ratio, 3.0);
        assert_eq!(c.holds_per_sec_ratio, 4.0);
        assert_eq!(c.hold_p99_ratio, 4.0);
        assert_eq!(c.purchase_p99_ratio, 0.0);
        let report = BenchReport::new(
            0,
            WorkloadSummary::of(&clap::Parser::parse_from(["b"]), 1, "b".into()),
            vec![ours, theirs],
        );
        assert_eq!(report.comparison.len(), 1);
        assert!(report.no_oversell());
    }
}
