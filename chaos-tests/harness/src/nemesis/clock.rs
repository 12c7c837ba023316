//! `clock`: skew each member's wall clock by up to ±30 s, through the
//! libfaketime offset file the harness bind-mounts into every node. The
//! nodes must not care: the machine's time comes from the log.

use rand::Rng;

use super::{Applied, Fault, FaultFuture, FaultTarget, NemesisKind};
use crate::cluster::ChaosCluster;
use crate::docker::DockerError;

/// The largest skew, seconds either way.
const MAX_SKEW_SECS: i64 = 30;

/// Skews the members' clocks; heal sets every clock true again.
pub struct Clock;

impl Fault for Clock {
    fn kind(&self) -> NemesisKind {
        NemesisKind::Clock
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let mut rng = rand::thread_rng();
            let mut offsets = Vec::new();
            for node in target.members() {
                let offset: i64 = rng.gen_range(-MAX_SKEW_SECS..=MAX_SKEW_SECS);
                let file = target.cluster.clock_file(node);
                std::fs::write(&file, format!("{offset:+}\n")).map_err(|e| {
                    DockerError::Failed {
                        args: format!("write {}", file.display()),
                        stderr: e.to_string(),
                    }
                })?;
                offsets.push(format!("n{node} {offset:+}s"));
            }
            Ok(Applied::new(format!(
                "clocks skewed: {}",
                offsets.join(", ")
            )))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(async move {
            reset_all(target.cluster);
            Ok(())
        })
    }
}

/// Sets every node's clock (members and spares) true again. A node whose
/// file cannot be written keeps its skew; the run's end heals again.
pub fn reset_all(cluster: &ChaosCluster) {
    for id in cluster.containers.keys() {
        let _ = std::fs::write(cluster.clock_file(*id), "+0\n");
    }
}
