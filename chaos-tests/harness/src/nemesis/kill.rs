//! `kill` and `kill-leader`: `kill -9` a node (a random member, or the
//! leader), and start its container again when the fault ends: a crash and
//! a restart with the disk intact.

use super::{Applied, Fault, FaultFuture, FaultTarget, NemesisKind};

/// Kills one node and restarts it on heal.
pub struct Kill {
    /// Aim at the leader (falling back to a random member when none answers).
    leader: bool,
    /// The node killed and not restarted yet.
    killed: Option<u64>,
}

impl Kill {
    /// `kill`: a random member.
    pub fn random() -> Kill {
        Kill {
            leader: false,
            killed: None,
        }
    }

    /// `kill-leader`: the leader.
    pub fn leader() -> Kill {
        Kill {
            leader: true,
            killed: None,
        }
    }
}

impl Fault for Kill {
    fn kind(&self) -> NemesisKind {
        if self.leader {
            NemesisKind::KillLeader
        } else {
            NemesisKind::Kill
        }
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let victim = if self.leader {
                target.leader_or_random().await
            } else {
                target.random_member()
            };
            target.docker_on(&["kill", "-s", "KILL"], victim).await?;
            target.claim(victim);
            self.killed = Some(victim);
            Ok(Applied::new(format!("killed n{victim}")))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(async move {
            if let Some(victim) = self.killed {
                target.docker_on(&["start"], victim).await?;
                target.release(victim);
                self.killed = None;
            }
            Ok(())
        })
    }
}
