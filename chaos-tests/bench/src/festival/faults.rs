//! The festival's faults, each once, at a share of the tickets sold: a
//! snapshot forced on the leader, then a follower killed and restarted; and
//! the measurements around them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ingressoja_client::{Client, ClientOptions};
use tokio::sync::Mutex;

use super::report::{FollowerRestart, ForcedSnapshot};
use super::{Shared, CAUGHT_UP_WITHIN};
use crate::launch::{operator_tls, LocalCluster};

/// Share of the tickets sold when the snapshot is forced.
pub const SNAPSHOT_AT: f64 = 0.25;
/// Share of the tickets sold when a follower is killed.
pub const KILL_AT: f64 = 0.50;
/// How long the killed follower stays down.
pub const DOWN: Duration = Duration::from_secs(3);
/// Longest wait for the snapshot's answer or for the follower to catch up.
const PATIENCE: Duration = Duration::from_secs(300);
/// How often the faults look at the cluster.
const POLL: Duration = Duration::from_millis(50);

/// What the faults did.
#[derive(Debug, Default)]
pub struct FaultLog {
    pub snapshot: Option<ForcedSnapshot>,
    pub restart: Option<FollowerRestart>,
    pub problems: Vec<String>,
}

/// Waits for each fault's moment and makes it; returns when both are done
/// or `shared` says the run is over.
pub async fn run(
    cluster: Arc<Mutex<LocalCluster>>,
    shared: Arc<Shared>,
    addrs: Vec<String>,
    capacity: u64,
) -> FaultLog {
    let mut log = FaultLog::default();
    let tls = operator_tls(cluster.lock().await.pki());
    let tls = match tls {
        Ok(tls) => tls,
        Err(e) => {
            log.problems.push(format!("no admin certificate: {e}"));
            return log;
        }
    };
    let admin = match Client::connect(
        addrs.clone(),
        ClientOptions {
            request_timeout: PATIENCE,
            overall_deadline: PATIENCE,
            client_id: None,
            tls,
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            log.problems.push(format!("no admin client: {e}"));
            return log;
        }
    };
    let sold_pct = |shared: &Shared| {
        shared
            .leader()
            .map(|(_, p)| p.sold as f64 / capacity.max(1) as f64)
    };
    // The snapshot (made even if the sale ended first: a small sale on a
    // busy machine can sell out between two looks).
    loop {
        let ended = shared.over();
        if let Some(pct) = sold_pct(&shared).filter(|p| *p >= SNAPSHOT_AT || ended) {
            match force_snapshot(&admin, &shared, &addrs, pct).await {
                Ok(s) => log.snapshot = Some(s),
                Err(problem) => log.problems.push(problem),
            }
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    // The follower (killed after the sale if it ended first).
    loop {
        let ended = shared.over();
        if let Some(pct) = sold_pct(&shared).filter(|p| *p >= KILL_AT || ended) {
            match restart_follower(&cluster, &shared, pct).await {
                Ok(r) => log.restart = Some(r),
                Err(problem) => log.problems.push(problem),
            }
            return log;
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn force_snapshot(
    admin: &Client,
    shared: &Shared,
    addrs: &[String],
    at_sold_pct: f64,
) -> Result<ForcedSnapshot, String> {
    let (node, before) = shared.leader().ok_or("no leader to snapshot")?;
    let addr = addrs
        .get((node - 1) as usize)
        .ok_or_else(|| format!("no address for node {node}"))?;
    let asked = Instant::now();
    let reply = admin
        .trigger_snapshot(addr)
        .await
        .map_err(|e| format!("snapshot on node {node} refused: {e}"))?;
    let answered_ms = asked.elapsed().as_millis() as u64;
    // The node's counters move once it has stored the snapshot: wait for a
    // sample that counts a build covering the index it answered with.
    let until = Instant::now() + PATIENCE;
    let after = loop {
        let now = shared.progress(node).filter(|p| {
            p.snapshots_built > before.snapshots_built && p.snapshot_index >= reply.snapshot_index
        });
        if let Some(p) = now {
            break p;
        }
        if Instant::now() >= until {
            return Err(format!("node {node} never counted its snapshot"));
        }
        tokio::time::sleep(POLL).await;
    };
    let builds = after.snapshots_built - before.snapshots_built;
    Ok(ForcedSnapshot {
        node,
        at_sold_pct: at_sold_pct * 100.0,
        index: reply.snapshot_index,
        build_ms: after
            .snapshot_build_ms_sum
            .saturating_sub(before.snapshot_build_ms_sum)
            / builds.max(1),
        builds,
        bytes: after.snapshot_bytes,
        answered_ms,
    })
}

async fn restart_follower(
    cluster: &Mutex<LocalCluster>,
    shared: &Shared,
    killed_at_sold_pct: f64,
) -> Result<FollowerRestart, String> {
    let node = shared
        .followers()
        .first()
        .copied()
        .ok_or("no follower answering to kill")?;
    if !cluster.lock().await.kill(node) {
        return Err(format!(
            "node {node} was not running when it was to be killed"
        ));
    }
    let killed = Instant::now();
    tokio::time::sleep(DOWN).await;
    cluster
        .lock()
        .await
        .restart(node)
        .map_err(|e| format!("node {node} did not restart: {e}"))?;
    let restarted = Instant::now();
    let down_ms = restarted.duration_since(killed).as_millis() as u64;
    let mut behind_at_restart = None;
    let until = restarted + PATIENCE;
    loop {
        let back = shared.answered_since(node, restarted);
        if let (true, Some((_, leader)), Some(own)) = (back, shared.leader(), shared.progress(node))
        {
            let behind = leader.applied.saturating_sub(own.applied);
            behind_at_restart.get_or_insert(behind);
            if behind <= CAUGHT_UP_WITHIN {
                return Ok(FollowerRestart {
                    node,
                    killed_at_sold_pct: killed_at_sold_pct * 100.0,
                    down_ms,
                    behind_at_restart: behind_at_restart.unwrap_or(behind),
                    caught_up_ms: Some(restarted.elapsed().as_millis() as u64),
                });
            }
        }
        // Not cut short by the sale's end: catching up after it counts too.
        if Instant::now() >= until {
            return Ok(FollowerRestart {
                node,
                killed_at_sold_pct: killed_at_sold_pct * 100.0,
                down_ms,
                behind_at_restart: behind_at_restart.unwrap_or(0),
                caught_up_ms: None,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}
