//! `power-loss`, `power-loss-majority` and `power-loss-all`: the power goes
//! off under one node, a majority, or every node at once. Each is killed
//! (`kill -9`), then its disk loses everything that was not fsynced (the
//! `ingressoja-faultfs` under its `/data`), and it is started again when
//! the fault ends.
//!
//! `kill -9` alone keeps the page cache: a node that acknowledged what it
//! never synced would pass. With the whole cluster's power cut, an
//! acknowledged purchase survives only if a majority had it on the platter.

use rand::seq::SliceRandom;

use super::{Applied, Fault, FaultFuture, FaultTarget, NemesisKind};
use crate::docker::DockerError;

/// How many nodes lose power (among those no other fault holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One random member.
    One,
    /// A random majority of the members.
    Majority,
    /// Every member.
    All,
}

/// Cuts the power of some members and restarts them on heal.
#[derive(Debug)]
pub struct PowerLoss {
    scope: Scope,
    /// The nodes whose power is off.
    off: Vec<u64>,
}

impl PowerLoss {
    /// A power cut of `scope`.
    pub fn new(scope: Scope) -> PowerLoss {
        PowerLoss {
            scope,
            off: Vec::new(),
        }
    }
}

impl Fault for PowerLoss {
    fn kind(&self) -> NemesisKind {
        match self.scope {
            Scope::One => NemesisKind::PowerLoss,
            Scope::Majority => NemesisKind::PowerLossMajority,
            Scope::All => NemesisKind::PowerLossAll,
        }
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            // Nodes another fault holds (killed, paused) are left to it.
            let mut members = target.free_members();
            members.shuffle(&mut rand::thread_rng());
            let count = match self.scope {
                Scope::One => 1,
                Scope::Majority => members.len() / 2 + 1,
                Scope::All => members.len(),
            };
            let mut victims: Vec<u64> = members.into_iter().take(count).collect();
            victims.sort_unstable();
            for &victim in &victims {
                target.docker_on(&["kill", "-s", "KILL"], victim).await?;
                target.claim(victim);
                self.off.push(victim);
            }
            let mut lost = Vec::new();
            for &victim in &victims {
                // Dead first: a write landing after the cut would survive it.
                target.wait_stopped(victim).await?;
                let disk = target.disk(victim)?;
                let reply = disk
                    .command("power-loss")
                    .await
                    .map_err(|e| DockerError::Failed {
                        args: format!("(power loss on n{victim})"),
                        stderr: e.to_string(),
                    })?;
                lost.push(format!("n{victim}: {reply}"));
            }
            if lost.is_empty() {
                return Ok(Applied::new(
                    "no power cut: every member is held by another fault",
                ));
            }
            Ok(Applied::new(format!("power cut: {}", lost.join("; "))))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(async move {
            for victim in std::mem::take(&mut self.off) {
                target.docker_on(&["start"], victim).await?;
                target.release(victim);
            }
            Ok(())
        })
    }
}
