//! `snapshot-crash`: a follower crashes inside the snapshot-install window
//! (issue 16's finding 2: a purge must never run past the snapshot durable
//! beside it, or a crash there leaves a node with neither).
//!
//! The follower is killed; the leader is made to snapshot until its log no
//! longer holds the follower's last entry, so the follower can only catch
//! up by installing a snapshot; the follower is started again and killed a
//! random 100–1 200 ms later, while it catches up: before, during or just
//! after the snapshot install (a node takes about 0.2–0.7 s from start to
//! installed here; the window is not observable from outside); it
//! is started for good on heal and must catch up and agree with the rest.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;

use super::{Applied, Fault, FaultFuture, FaultTarget, NemesisKind};
use crate::docker::DockerError;

/// How long the leader is given to purge past the follower's log.
const PURGE_DEADLINE: Duration = Duration::from_secs(4);

/// Crashes a follower while it catches up by snapshot.
#[derive(Default)]
pub struct SnapshotCrash {
    /// The follower killed and not restarted yet.
    victim: Option<u64>,
}

impl Fault for SnapshotCrash {
    fn kind(&self) -> NemesisKind {
        NemesisKind::SnapshotCrash
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let failed = |why: &str| DockerError::Failed {
                args: "(snapshot-crash)".into(),
                stderr: why.to_string(),
            };
            let leader = target
                .leader()
                .await
                .ok_or_else(|| failed("no leader answers"))?;
            let followers: Vec<u64> = target
                .free_members()
                .into_iter()
                .filter(|&id| id != leader)
                .collect();
            let victim = *followers
                .choose(&mut rand::thread_rng())
                .ok_or_else(|| failed("no free follower"))?;
            let client = target
                .cluster
                .client("nemesis-snapshot", Duration::from_secs(2));
            let (leader_addr, victim_addr) =
                (target.cluster.addr(leader), target.cluster.addr(victim));
            let behind = client
                .node_progress(&victim_addr)
                .await
                .map(|s| s.last_log_index)
                .unwrap_or(0);
            target.docker_on(&["kill", "-s", "KILL"], victim).await?;
            target.claim(victim);
            self.victim = Some(victim);
            let deadline = tokio::time::Instant::now() + PURGE_DEADLINE;
            let mut purged = 0;
            while tokio::time::Instant::now() < deadline {
                if let Ok(status) = client.node_progress(&leader_addr).await {
                    purged = status.purged_index;
                    if purged > behind {
                        break;
                    }
                }
                let _ = client.trigger_snapshot(&leader_addr).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            target.docker_on(&["start"], victim).await?;
            let delay = rand::thread_rng().gen_range(100..1200);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            target.docker_on(&["kill", "-s", "KILL"], victim).await?;
            let purge = if purged > behind {
                format!("n{leader} purged its log to {purged}")
            } else {
                format!("n{leader} purged only to {purged} in time (no snapshot needed)")
            };
            Ok(Applied::new(format!(
                "n{victim} killed at log index {behind}; {purge}; n{victim} restarted and \
                 killed again {delay} ms later"
            )))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(async move {
            if let Some(victim) = self.victim {
                target.docker_on(&["start"], victim).await?;
                target.release(victim);
                self.victim = None;
            }
            Ok(())
        })
    }
}
