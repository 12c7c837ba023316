//! `wipe`: a node loses its disk. It is killed and comes back with the same
//! id on an empty data directory (its container replaced), so for the
//! length of the fault the cluster runs with a member that remembers no
//! vote and no entry. That node must not vote or acknowledge entries as a
//! voter (issue 16, finding 1): before the member checks it could elect a
//! leader lacking acknowledged purchases. Healing is the runbook: remove it
//! from the voters, then add it back (learner, catch-up, voter).

use std::time::Duration;

use super::{Applied, Fault, FaultFuture, FaultTarget, NemesisKind};
use crate::docker::DockerError;

/// How long the runbook's steps may take in all.
const RUNBOOK_DEADLINE: Duration = Duration::from_secs(60);
/// How long one membership call may take.
const CHANGE_DEADLINE: Duration = Duration::from_secs(10);

/// Wipes one member's disk and brings it back by the runbook on heal.
#[derive(Default)]
pub struct Wipe {
    /// The node wiped and not yet added back.
    wiped: Option<u64>,
}

impl Fault for Wipe {
    fn kind(&self) -> NemesisKind {
        NemesisKind::Wipe
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            // A runbook that did not finish last time comes first: wiping a
            // second node while the first is a learner or blank leaves two
            // of three voters gone, and the cluster wedged for good (seen
            // in a one-hour run).
            if let Some(pending) = self.wiped {
                rejoin(target, pending).await?;
                target.release(pending);
                self.wiped = None;
                return Ok(Applied::new(format!(
                    "finished n{pending}'s runbook, left unfinished last time; no new wipe"
                )));
            }
            whole(target).await?;
            let victim = target.random_member();
            target.docker_on(&["kill", "-s", "KILL"], victim).await?;
            target
                .cluster
                .recreate_node(victim)
                .await
                .map_err(|e| DockerError::Failed {
                    args: format!("(recreate n{victim})"),
                    stderr: e.to_string(),
                })?;
            self.wiped = Some(victim);
            target.claim(victim);
            target.docker_on(&["start"], victim).await?;
            Ok(Applied::new(format!(
                "wiped n{victim}: restarted on an empty data directory"
            )))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(async move {
            let Some(victim) = self.wiped else {
                return Ok(());
            };
            rejoin(target, victim).await?;
            target.release(victim);
            self.wiped = None;
            Ok(())
        })
    }
}

/// Fails unless every member is a voter of the leader's configuration: a
/// disk is lost from a whole cluster, never from one already short.
async fn whole(target: &FaultTarget<'_>) -> Result<(), DockerError> {
    let client = target.cluster.client("nemesis-wipe", CHANGE_DEADLINE);
    let short = |why: String| DockerError::Failed {
        args: "(wipe: is every member a voter?)".into(),
        stderr: why,
    };
    let leader = client
        .leader_status()
        .await
        .map_err(|e| short(format!("no leader status: {e}")))?;
    for id in target.members() {
        if !leader.members.iter().any(|m| m.id == id && m.voter) {
            return Err(short(format!("n{id} is not a voter now: no disk is wiped")));
        }
    }
    Ok(())
}

/// The runbook: `remove-node`, then `add-node`, retried until
/// [`RUNBOOK_DEADLINE`] (a leader may be changing meanwhile).
async fn rejoin(target: &FaultTarget<'_>, victim: u64) -> Result<(), DockerError> {
    let client = target.cluster.client("nemesis-wipe", CHANGE_DEADLINE);
    let addr = target.cluster.addr(victim);
    let until = tokio::time::Instant::now() + RUNBOOK_DEADLINE;
    let mut last = String::new();
    while tokio::time::Instant::now() < until {
        let member = match client.leader_status().await {
            Ok(leader) => leader.members.iter().any(|m| m.id == victim),
            Err(e) => {
                last = e.to_string();
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if member {
            if let Err(e) = client.remove_node(victim, true).await {
                last = format!("remove-node: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        }
        match client
            .add_node(victim, &addr, CHANGE_DEADLINE, |_| {})
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("add-node: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(DockerError::Failed {
        args: format!("(rejoin wiped n{victim})"),
        stderr: format!("the runbook did not finish within {RUNBOOK_DEADLINE:?}: {last}"),
    })
}
