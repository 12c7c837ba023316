//! `disk-full`, `fsync-error` and `slow-fsync`: a member's disk (its
//! `ingressoja-faultfs`) fills up, fails every fsync with `EIO`, or takes
//! 300 ms per fsync, until the fault ends.
//!
//! A full disk or a failing fsync must stop the node (it exits non-zero,
//! issue 16 finding 5) without acknowledging anything it did not persist;
//! after healing it is started again and must come back cleanly. A slow
//! fsync on the leader slows every commit, and nothing else.

use super::{Applied, Fault, FaultFuture, FaultTarget, NemesisKind};
use crate::docker::DockerError;

/// How long each fsync takes under `slow-fsync`.
const SLOW_FSYNC_MS: u64 = 300;

/// What goes wrong with the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskTrouble {
    /// No space left: writes fail with `ENOSPC`.
    Full,
    /// Every fsync fails with `EIO`.
    FsyncError,
    /// Every fsync is slow (on the leader).
    SlowFsync,
}

/// Gives one member's disk trouble, and clears it on heal.
#[derive(Debug)]
pub struct DiskFault {
    trouble: DiskTrouble,
    /// The member whose disk is in trouble.
    victim: Option<u64>,
}

impl DiskFault {
    /// A disk fault of kind `trouble`.
    pub fn new(trouble: DiskTrouble) -> DiskFault {
        DiskFault {
            trouble,
            victim: None,
        }
    }
}

fn failed(node: u64, e: impl std::fmt::Display) -> DockerError {
    DockerError::Failed {
        args: format!("(disk of n{node})"),
        stderr: e.to_string(),
    }
}

impl Fault for DiskFault {
    fn kind(&self) -> NemesisKind {
        match self.trouble {
            DiskTrouble::Full => NemesisKind::DiskFull,
            DiskTrouble::FsyncError => NemesisKind::FsyncError,
            DiskTrouble::SlowFsync => NemesisKind::SlowFsync,
        }
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let (victim, command) = match self.trouble {
                DiskTrouble::Full => (target.random_member(), "full on".to_string()),
                DiskTrouble::FsyncError => (target.random_member(), "fsync-error on".to_string()),
                DiskTrouble::SlowFsync => (
                    target.leader_or_random().await,
                    format!("fsync-delay {SLOW_FSYNC_MS}"),
                ),
            };
            let disk = target.disk(victim)?;
            disk.command(&command)
                .await
                .map_err(|e| failed(victim, e))?;
            target.claim(victim);
            self.victim = Some(victim);
            Ok(Applied::new(format!("n{victim}: disk {command}")))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(async move {
            let Some(victim) = self.victim.take() else {
                return Ok(());
            };
            // Only this fault's switch: another fault may be on the same disk.
            let off = match self.trouble {
                DiskTrouble::Full => "full off",
                DiskTrouble::FsyncError => "fsync-error off",
                DiskTrouble::SlowFsync => "fsync-delay 0",
            };
            let disk = target.disk(victim)?;
            disk.command(off).await.map_err(|e| failed(victim, e))?;
            // A node that stopped on the fault (as it must) is started again.
            target.start_if_stopped(victim).await?;
            target.release(victim);
            Ok(())
        })
    }
}
