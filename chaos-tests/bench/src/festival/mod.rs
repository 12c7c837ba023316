//! The festival run (`--scale festival`): a million fans register and join,
//! 100 000 tickets sell out, and meanwhile the run watches every node from
//! outside (resident memory, apply progress through its metrics) and makes
//! the faults a real sale meets — a snapshot forced on the leader, then a
//! follower killed and restarted — measuring what they cost.
//!
//! Modules: [`probe`] (reading one node), [`stall`] (the apply-stall meter),
//! [`faults`] (the snapshot and the restart), [`report`] (what it adds to the
//! report). The run owns the local cluster while it lasts: the faults need
//! to kill and restart its processes.

pub mod faults;
pub mod probe;
pub mod report;
pub mod stall;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use self::faults::FaultLog;
use self::probe::{MetricsScraper, NodeProgress};
use self::report::{FestivalReport, NodeResources};
use self::stall::StallMeter;
use crate::launch::LocalCluster;

/// How often each node is sampled.
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(20);
/// A restarted follower has caught up when its applied index is within this
/// many entries of the leader's (a few group commits in flight).
pub const CAUGHT_UP_WITHIN: u64 = 64;

/// What the samplers saw of one node.
#[derive(Debug, Default)]
struct NodeSeen {
    progress: Option<NodeProgress>,
    answered_at: Option<Instant>,
    rss: u64,
    peak_rss: u64,
    stall: StallMeter,
}

/// What the samplers share with the faults and the report.
pub struct Shared {
    nodes: Vec<StdMutex<NodeSeen>>,
    over: AtomicBool,
}

impl Shared {
    fn node(&self, id: u64) -> Option<std::sync::MutexGuard<'_, NodeSeen>> {
        let slot = self.nodes.get(usize::try_from(id).ok()?.checked_sub(1)?)?;
        Some(slot.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn ids(&self) -> impl Iterator<Item = u64> {
        1..=self.nodes.len() as u64
    }

    /// The latest progress of node `id`, if it ever answered.
    pub fn progress(&self, id: u64) -> Option<NodeProgress> {
        self.node(id)?.progress
    }

    /// Whether node `id` answered a scrape after `since`.
    pub fn answered_since(&self, id: u64, since: Instant) -> bool {
        self.node(id)
            .and_then(|n| n.answered_at)
            .is_some_and(|at| at > since)
    }

    /// The node that last said it leads, and its progress.
    pub fn leader(&self) -> Option<(u64, NodeProgress)> {
        self.ids()
            .filter_map(|id| self.progress(id).map(|p| (id, p)))
            .filter(|(_, p)| p.leader)
            .max_by_key(|(_, p)| p.applied)
    }

    /// The nodes answering as followers.
    pub fn followers(&self) -> Vec<u64> {
        self.ids()
            .filter(|id| self.progress(*id).is_some_and(|p| !p.leader))
            .collect()
    }

    /// Whether the run has ended.
    pub fn over(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }

    fn rss(&self) -> Vec<u64> {
        self.ids()
            .map(|id| self.node(id).map(|n| n.rss).unwrap_or(0))
            .collect()
    }
}

/// A festival run in progress around the measured workload.
pub struct FestivalRun {
    cluster: Arc<Mutex<LocalCluster>>,
    shared: Arc<Shared>,
    samplers: Vec<JoinHandle<()>>,
    faults: JoinHandle<FaultLog>,
    registration: StdMutex<Option<(Duration, Vec<u64>)>>,
    customers: u64,
}

impl FestivalRun {
    /// Starts sampling every node of `cluster` and waiting for the faults'
    /// moments (shares of `capacity` sold).
    pub fn start(cluster: LocalCluster, capacity: u64, customers: u64) -> FestivalRun {
        let ids: Vec<u64> = cluster.ids().collect();
        let ports = cluster.ports();
        let addrs = cluster.addrs.clone();
        let cluster = Arc::new(Mutex::new(cluster));
        let shared = Arc::new(Shared {
            nodes: ids.iter().map(|_| StdMutex::default()).collect(),
            over: AtomicBool::new(false),
        });
        let scraper = MetricsScraper::default();
        let samplers = ids
            .iter()
            .map(|&id| {
                tokio::spawn(sample(
                    id,
                    ports.metrics_addr(id).unwrap_or_default(),
                    Arc::clone(&cluster),
                    Arc::clone(&shared),
                    scraper.clone(),
                ))
            })
            .collect();
        let faults = tokio::spawn(faults::run(
            Arc::clone(&cluster),
            Arc::clone(&shared),
            addrs,
            capacity,
        ));
        FestivalRun {
            cluster,
            shared,
            samplers,
            faults,
            registration: StdMutex::new(None),
            customers,
        }
    }

    /// Every fan has registered, which took `took`: notes each node's memory now.
    pub fn registered(&self, took: Duration) {
        let rss = self.shared.rss();
        *self.registration.lock().unwrap_or_else(|p| p.into_inner()) = Some((took, rss));
    }

    /// The sale is over: notes each node's memory, waits for the faults to
    /// finish (a follower still catching up is given its time), stops the
    /// cluster and returns the figures.
    pub async fn finish(self) -> FestivalReport {
        let rss_after_sale = self.shared.rss();
        self.shared.over.store(true, Ordering::Relaxed);
        let log = self.faults.await.unwrap_or_else(|e| FaultLog {
            problems: vec![format!("the faults' task failed: {e}")],
            ..FaultLog::default()
        });
        for s in &self.samplers {
            s.abort();
        }
        let (took, rss_registered) = self
            .registration
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default();
        let cluster = self.cluster.lock().await;
        let nodes = self
            .shared
            .ids()
            .map(|id| {
                let seen = self.shared.node(id);
                let at = |v: &[u64]| v.get((id - 1) as usize).copied().unwrap_or(0);
                NodeResources {
                    node: id,
                    peak_rss_bytes: seen.as_ref().map(|n| n.peak_rss).unwrap_or(0),
                    rss_after_registration_bytes: at(&rss_registered),
                    rss_after_sale_bytes: at(&rss_after_sale),
                    longest_apply_stall_ms: seen
                        .as_ref()
                        .map(|n| n.stall.longest().as_millis() as u64)
                        .unwrap_or(0),
                    data_dir_bytes: probe::dir_bytes(&cluster.data_dir(id)),
                }
            })
            .collect();
        let secs = took.as_secs_f64();
        FestivalReport {
            sample_period_ms: SAMPLE_PERIOD.as_millis() as u64,
            registration_secs: secs,
            registrations_per_sec: if secs > 0.0 {
                self.customers as f64 / secs
            } else {
                0.0
            },
            nodes,
            snapshot: log.snapshot,
            restart: log.restart,
            problems: log.problems,
        }
    }
}

/// Samples node `id` every [`SAMPLE_PERIOD`] until aborted: its memory by
/// pid, its progress from its metrics at `metrics_addr`.
async fn sample(
    id: u64,
    metrics_addr: String,
    cluster: Arc<Mutex<LocalCluster>>,
    shared: Arc<Shared>,
    scraper: MetricsScraper,
) {
    loop {
        let pid = cluster.lock().await.pid(id);
        let rss = pid.and_then(probe::rss_bytes);
        let progress = scraper.progress(&metrics_addr).await;
        let at = Instant::now();
        if let Some(mut seen) = shared.node(id) {
            let (rss, peak) = rss.unwrap_or((0, 0));
            seen.rss = rss;
            seen.peak_rss = seen.peak_rss.max(peak).max(rss);
            match progress {
                Some(p) => {
                    seen.stall.observe(at, p);
                    seen.progress = Some(p);
                    seen.answered_at = Some(at);
                }
                None => seen.stall.lost(),
            }
        }
        tokio::time::sleep(SAMPLE_PERIOD).await;
    }
}
