//! `pause`: SIGSTOP a random node (`docker pause`), resume it when the fault
//! ends: a process that stops answering without crashing (a long GC pause,
//! a stalled VM).

use rand::seq::SliceRandom;

use super::{Applied, Fault, FaultFuture, FaultTarget, NemesisKind};

/// Pauses one node and resumes it on heal.
#[derive(Debug, Default)]
pub struct Pause {
    /// The node paused and not resumed yet.
    paused: Option<u64>,
}

impl Fault for Pause {
    fn kind(&self) -> NemesisKind {
        NemesisKind::Pause
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let victim = *target
                .members()
                .choose(&mut rand::thread_rng())
                .unwrap_or(&1);
            target.docker_on(&["pause"], victim).await?;
            self.paused = Some(victim);
            Ok(Applied::new(format!("paused n{victim}")))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(async move {
            if let Some(victim) = self.paused {
                target.docker_on(&["unpause"], victim).await?;
                self.paused = None;
            }
            Ok(())
        })
    }
}
