//! `clock-jump`: the leader's wall clock jumps a day ahead (every other
//! time, an hour), through the same libfaketime offset file as `clock`;
//! heal sets it true again. Entries are stamped with the median of the
//! voters' clocks, so the sale's time must not move: the `sale-clock`
//! checker holds every acknowledged hold's expiry to real time (issue 16,
//! finding 4; the planted bug `leader-clock` shows it caught).

use super::clock::reset_all;
use super::{Applied, Fault, FaultFuture, FaultTarget, NemesisKind};
use crate::docker::DockerError;

/// The jumps taken in turn, seconds ahead.
const JUMPS_SECS: [i64; 2] = [24 * 3600, 3600];

/// Jumps the leader's clock ahead; heal sets every clock true.
#[derive(Default)]
pub struct ClockJump {
    /// Jumps made so far (picks the next size).
    made: usize,
}

impl Fault for ClockJump {
    fn kind(&self) -> NemesisKind {
        NemesisKind::ClockJump
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let node = match target.leader().await {
                Some(leader) => leader,
                None => target.members().first().copied().unwrap_or(1),
            };
            let jump = JUMPS_SECS[self.made % JUMPS_SECS.len()];
            self.made += 1;
            let file = target.cluster.clock_file(node);
            std::fs::write(&file, format!("{jump:+}\n")).map_err(|e| DockerError::Failed {
                args: format!("write {}", file.display()),
                stderr: e.to_string(),
            })?;
            Ok(Applied::new(format!("n{node}'s clock jumped {jump:+}s")))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(async move {
            reset_all(target.cluster);
            Ok(())
        })
    }
}
