//! Running the flash sale against one system: first the burst (every
//! customer joins the virtual queue at once, `--burst-concurrency` in flight),
//! then the sale (customers wait for admission and shop, see [`customer`])
//! until every ticket is acknowledged sold, the time or operation budget
//! runs out, or no customer is left.

mod customer;
pub mod mix;
mod progress;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::mpsc;

use self::mix::Mix;
use self::progress::Progress;
use super::options::BenchOptions;
use super::plan::SalePlan;
use super::stats::{LiveCounters, Recorder, RecorderSnapshot};
use super::target::{HoldTicket, OpError, Target};

/// How long the benchmark keeps retrying the expiry of one abandoned hold.
const EXPIRY_PERSISTENCE: Duration = Duration::from_secs(120);

/// Why the sale phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Every ticket was acknowledged sold.
    SoldOut,
    /// `--duration-secs` passed.
    Duration,
    /// `--total-ops` operations were made.
    TotalOps,
    /// Every customer had their turn.
    CustomersExhausted,
}

impl StopReason {
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::SoldOut => "sold_out",
            StopReason::Duration => "duration",
            StopReason::TotalOps => "total_ops",
            StopReason::CustomersExhausted => "customers_exhausted",
        }
    }
}

/// What one system's run measured.
#[derive(Debug, Clone)]
pub struct Measurements {
    /// Histograms, errors, timeline.
    pub recorder: RecorderSnapshot,
    /// Length of the queue-join burst.
    pub burst: Duration,
    /// Length of the sale phase.
    pub sale: Duration,
    /// From the first join to the end of the sale (the timeline's span).
    pub total: Duration,
    /// Tickets in purchases the system acknowledged.
    pub tickets_acknowledged: u64,
    /// Why the sale ended.
    pub stopped_by: StopReason,
}

/// Everything the customers of one run share.
pub(crate) struct Sale<T> {
    pub target: Arc<T>,
    pub plan: Arc<SalePlan>,
    pub mix: Mix,
    pub think_ms: u64,
    /// Pause between two queue-status reads of a waiting customer.
    pub status_poll: Duration,
    pub recorder: Recorder,
    pub stop: AtomicBool,
    next_customer: AtomicU64,
    expiries: Option<mpsc::UnboundedSender<(Instant, HoldTicket)>>,
}

impl<T: Target> Sale<T> {
    /// A customer walked away from `hold`: expire it when its time is up
    /// (for systems that do not do it themselves).
    pub fn abandon(&self, hold: HoldTicket) {
        self.recorder.abandoned();
        self.expire_later(hold);
    }

    /// A purchase or release of `hold` failed without an answer from the
    /// rules (lost races, outages): the hold may still be live, so it is
    /// expired when its time is up, as the system itself would.
    pub fn expire_later(&self, hold: HoldTicket) {
        if let Some(tx) = &self.expiries {
            let due = Instant::now() + Duration::from_secs(self.plan.hold_ttl_secs);
            let _ = tx.send((due, hold));
        }
    }

    fn next_customer(&self) -> Option<u64> {
        let n = self.next_customer.fetch_add(1, Ordering::Relaxed);
        (n < self.plan.customers).then_some(n)
    }
}

/// Runs the burst and the sale against `target` (already prepared).
pub async fn run<T: Target>(
    target: Arc<T>,
    plan: Arc<SalePlan>,
    options: &BenchOptions,
    seed: u64,
) -> Measurements {
    let (tx, rx) = mpsc::unbounded_channel();
    let expires_itself = target.expires_holds_itself();
    let sale = Arc::new(Sale {
        target,
        plan,
        mix: Mix::from_options(options),
        think_ms: options.think_ms,
        status_poll: Duration::from_millis(options.status_poll_ms),
        recorder: Recorder::new(Duration::from_millis(options.bucket_ms)),
        stop: AtomicBool::new(false),
        next_customer: AtomicU64::new(0),
        expiries: (!expires_itself).then_some(tx),
    });
    let expirer = tokio::spawn(expire_abandoned(Arc::clone(&sale), rx));
    let progress = Progress::new(
        sale.target.system(),
        options.quiet,
        sale.plan.total_capacity(),
    );

    // The burst: everyone joins the queue at once.
    let burst_start = Instant::now();
    let watcher = tokio::spawn(watch(Arc::clone(&sale), progress.clone(), None, 0, "burst"));
    let joiners: Vec<_> = (0..options.burst_concurrency())
        .map(|w| {
            let sale = Arc::clone(&sale);
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed ^ 0x4A01_4E00 ^ w as u64);
                while let Some(n) = sale.next_customer() {
                    customer::join(&sale, n, &mut rng).await;
                }
            })
        })
        .collect();
    for j in joiners {
        let _ = j.await;
    }
    let burst = burst_start.elapsed();
    sale.stop.store(true, Ordering::Relaxed);
    let _ = watcher.await;

    // The sale: customers take their turn in queue order.
    sale.stop.store(false, Ordering::Relaxed);
    sale.next_customer.store(0, Ordering::Relaxed);
    let sale_start = Instant::now();
    let watcher = tokio::spawn(watch(
        Arc::clone(&sale),
        progress.clone(),
        Some(sale_start + options.duration()),
        options.total_ops,
        "sale",
    ));
    let shoppers: Vec<_> = (0..options.concurrency)
        .map(|w| {
            let sale = Arc::clone(&sale);
            let mut rng =
                StdRng::seed_from_u64(seed ^ (w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            tokio::spawn(async move {
                while !sale.stop.load(Ordering::Relaxed) {
                    let Some(n) = sale.next_customer() else { break };
                    customer::shop(&sale, n, &mut rng).await;
                }
            })
        })
        .collect();
    for s in shoppers {
        let _ = s.await;
    }
    let sale_elapsed = sale_start.elapsed();
    let total = sale.recorder.start().elapsed();
    let exhausted = !sale.stop.swap(true, Ordering::Relaxed);
    let stopped_by = watcher.await.ok().flatten().unwrap_or(if exhausted {
        StopReason::CustomersExhausted
    } else {
        StopReason::Duration
    });
    expirer.abort();
    progress.finish();
    Measurements {
        recorder: sale.recorder.snapshot(),
        burst,
        sale: sale_elapsed,
        total,
        tickets_acknowledged: LiveCounters::get(&sale.recorder.live.tickets_sold),
        stopped_by,
    }
}

/// Shows progress and ends the phase when the sale sells out, the deadline
/// passes or the operation budget is spent; returns why it ended it (None
/// if the phase ended by itself).
async fn watch<T: Target>(
    sale: Arc<Sale<T>>,
    progress: Progress,
    deadline: Option<Instant>,
    total_ops: u64,
    phase: &'static str,
) -> Option<StopReason> {
    let capacity = sale.plan.total_capacity();
    loop {
        if sale.stop.load(Ordering::Relaxed) {
            return None;
        }
        progress.tick(phase, &sale.recorder.live);
        let reason =
            if LiveCounters::get(&sale.recorder.live.tickets_sold) >= capacity && phase == "sale" {
                Some(StopReason::SoldOut)
            } else if deadline.is_some_and(|d| Instant::now() >= d) {
                Some(StopReason::Duration)
            } else if total_ops > 0 && LiveCounters::get(&sale.recorder.live.ops) >= total_ops {
                Some(StopReason::TotalOps)
            } else {
                None
            };
        if reason.is_some() {
            sale.stop.store(true, Ordering::Relaxed);
            return reason;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Expires abandoned holds when their time is up, for systems with no clock
/// of their own. Holds arrive in due order (every hold lives as long).
async fn expire_abandoned<T: Target>(
    sale: Arc<Sale<T>>,
    mut rx: mpsc::UnboundedReceiver<(Instant, HoldTicket)>,
) {
    // The jobs belong to this task: aborting it at the end of the system's
    // run cancels them, so none keeps hitting a stopped system while the
    // next one is measured.
    let mut jobs = tokio::task::JoinSet::new();
    while let Some((due, hold)) = rx.recv().await {
        tokio::time::sleep_until(due.into()).await;
        while jobs.try_join_next().is_some() {}
        let sale = Arc::clone(&sale);
        jobs.spawn(async move {
            // An expiry job must not give up while the hold is live, or its
            // tickets would stay held for good: retry lost races and outages.
            let until = Instant::now() + EXPIRY_PERSISTENCE;
            loop {
                match sale.target.expire(&hold).await {
                    Ok(()) => return sale.recorder.expired(),
                    Err(OpError::Contention(_) | OpError::Unavailable(_))
                        if Instant::now() < until =>
                    {
                        sale.recorder.error("expire_retried");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => return sale.recorder.error(&format!("expire_{}", e.kind())),
                }
            }
        });
    }
    while jobs.join_next().await.is_some() {}
}
