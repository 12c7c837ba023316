//! What the festival run adds to a system's report: each node's memory and
//! apply stalls, the snapshot forced mid-sale, the follower killed and
//! restarted mid-sale, and how fast the fans registered.

use serde::{Deserialize, Serialize};

/// One node over the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeResources {
    /// The node's id.
    pub node: u64,
    /// Highest resident memory seen.
    pub peak_rss_bytes: u64,
    /// Resident memory when every fan had registered (before the joins).
    pub rss_after_registration_bytes: u64,
    /// Resident memory when the sale ended.
    pub rss_after_sale_bytes: u64,
    /// Longest stretch with log entries waiting and none applied (an upper
    /// bound, long by at most `sample_period_ms` and one scrape).
    pub longest_apply_stall_ms: u64,
    /// Size of its data directory when the sale ended.
    pub data_dir_bytes: u64,
}

/// The snapshot the run forced on the leader mid-sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForcedSnapshot {
    /// The node that built it (the leader then).
    pub node: u64,
    /// Share of the tickets sold when it was asked for.
    pub at_sold_pct: f64,
    /// Last log index it covers.
    pub index: u64,
    /// Time the node spent building and storing it (its own histogram;
    /// the mean when `builds` > 1).
    pub build_ms: u64,
    /// Snapshots the node built between asking and its answer (1 unless an
    /// automatic one finished in the same window).
    pub builds: u64,
    /// Its size (the node's `ingressoja_raft_snapshot_bytes`).
    pub bytes: u64,
    /// From the request to the node's answer.
    pub answered_ms: u64,
}

/// The follower the run killed (SIGKILL) and restarted mid-sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowerRestart {
    /// The node's id.
    pub node: u64,
    /// Share of the tickets sold when it was killed.
    pub killed_at_sold_pct: f64,
    /// How long it stayed down.
    pub down_ms: u64,
    /// Entries the leader had applied beyond the follower when it came back.
    pub behind_at_restart: u64,
    /// From its restart to its applied index within
    /// [`super::CAUGHT_UP_WITHIN`] entries of the leader's; `None` if it
    /// never got there before the run ended.
    pub caught_up_ms: Option<u64>,
}

/// The festival's extra figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FestivalReport {
    /// How often each node was sampled.
    pub sample_period_ms: u64,
    /// Time for every fan to register through the cluster.
    pub registration_secs: f64,
    /// Registrations per second.
    pub registrations_per_sec: f64,
    /// Each node.
    pub nodes: Vec<NodeResources>,
    /// The forced snapshot, if the sale got far enough to force it.
    pub snapshot: Option<ForcedSnapshot>,
    /// The restarted follower, if the sale got far enough to kill one.
    pub restart: Option<FollowerRestart>,
    /// What went wrong with the faults themselves (a refused snapshot, a
    /// node that would not restart); empty when all went to plan.
    pub problems: Vec<String>,
}

impl FestivalReport {
    /// The highest peak resident memory of any node.
    pub fn peak_rss_bytes(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| n.peak_rss_bytes)
            .max()
            .unwrap_or(0)
    }

    /// The longest apply stall of any node.
    pub fn longest_apply_stall_ms(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| n.longest_apply_stall_ms)
            .max()
            .unwrap_or(0)
    }
}
