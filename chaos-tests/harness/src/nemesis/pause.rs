//! `pause` and `pause-leader`: SIGSTOP a node (`docker pause`), a random
//! member or the leader, and resume it when the fault ends: a process that
//! stops answering without crashing (a long GC pause, a stalled VM). A
//! paused leader wakes up still believing it leads, with writes in flight
//! and a newer term elsewhere.

use super::{Applied, Fault, FaultFuture, FaultTarget, NemesisKind};

/// Pauses one node and resumes it on heal.
#[derive(Debug)]
pub struct Pause {
    /// Aim at the leader (falling back to a random member when none answers).
    leader: bool,
    /// The node paused and not resumed yet.
    paused: Option<u64>,
}

impl Pause {
    /// `pause`: a random member.
    pub fn random() -> Pause {
        Pause {
            leader: false,
            paused: None,
        }
    }

    /// `pause-leader`: the leader.
    pub fn leader() -> Pause {
        Pause {
            leader: true,
            paused: None,
        }
    }
}

impl Fault for Pause {
    fn kind(&self) -> NemesisKind {
        if self.leader {
            NemesisKind::PauseLeader
        } else {
            NemesisKind::Pause
        }
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let victim = if self.leader {
                target.leader_or_random().await
            } else {
                target.random_member()
            };
            target.docker_on(&["pause"], victim).await?;
            target.claim(victim);
            self.paused = Some(victim);
            Ok(Applied::new(format!("paused n{victim}")))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(async move {
            if let Some(victim) = self.paused {
                target.docker_on(&["unpause"], victim).await?;
                target.release(victim);
                self.paused = None;
            }
            Ok(())
        })
    }
}
