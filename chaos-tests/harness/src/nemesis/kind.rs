//! The faults the harness knows, by the names the command line and the
//! history use.

use std::collections::BTreeSet;
use std::fmt;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NemesisKind {
    /// kill -9 a random node, restart it at the end of the fault.
    Kill,
    /// kill -9 the leader.
    KillLeader,
    /// SIGSTOP a random node (`docker pause`), resume it at the end.
    Pause,
    /// SIGSTOP the leader, resume it at the end.
    PauseLeader,
    /// Cut the leader off from every other node (clients still reach it).
    PartitionLeader,
    /// The leader hears nothing from the other members; they still hear it.
    LeaderDeaf,
    /// The other members hear nothing from the leader; it still hears them.
    LeaderMute,
    /// Split the nodes into two random halves.
    PartitionHalves,
    /// Every node talks only to its two ring neighbours: overlapping majorities
    /// (on 3 nodes, where that is everyone, one link is cut: a line).
    PartitionRing,
    /// Two halves joined by one bridge node that sees both.
    PartitionBridge,
    /// Drop a share of packets between nodes at random.
    Flaky,
    /// Limit every node's bandwidth so packets queue (delay, jitter).
    Slow,
    /// Skew each node's wall clock by up to ±30 s.
    Clock,
    /// Add a spare node as a voter, or remove it again.
    Membership,
    /// The leader's wall clock jumps a day (or an hour) ahead.
    ClockJump,
    /// A node loses its disk: back on an empty data directory with the same
    /// id; healed by the runbook (remove-node, add-node).
    Wipe,
    /// One node's power is cut: killed, and its disk loses what was not fsynced.
    PowerLoss,
    /// A majority's power is cut at once.
    PowerLossMajority,
    /// Every node's power is cut at once.
    PowerLossAll,
    /// A node's disk is full (`ENOSPC`).
    DiskFull,
    /// A node's fsyncs fail (`EIO`).
    FsyncError,
    /// The leader's fsyncs take 300 ms each.
    SlowFsync,
    /// A follower crashes while it catches up by snapshot install.
    SnapshotCrash,
}

impl NemesisKind {
    /// Every kind, in the order the CLI lists them.
    pub const ALL: [NemesisKind; 23] = [
        NemesisKind::Kill,
        NemesisKind::KillLeader,
        NemesisKind::Pause,
        NemesisKind::PauseLeader,
        NemesisKind::PartitionLeader,
        NemesisKind::LeaderDeaf,
        NemesisKind::LeaderMute,
        NemesisKind::PartitionHalves,
        NemesisKind::PartitionRing,
        NemesisKind::PartitionBridge,
        NemesisKind::Flaky,
        NemesisKind::Slow,
        NemesisKind::Clock,
        NemesisKind::Membership,
        NemesisKind::ClockJump,
        NemesisKind::Wipe,
        NemesisKind::PowerLoss,
        NemesisKind::PowerLossMajority,
        NemesisKind::PowerLossAll,
        NemesisKind::DiskFull,
        NemesisKind::FsyncError,
        NemesisKind::SlowFsync,
        NemesisKind::SnapshotCrash,
    ];

    /// The name used on the command line and in the history.
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Kill => "kill",
            NemesisKind::KillLeader => "kill-leader",
            NemesisKind::Pause => "pause",
            NemesisKind::PauseLeader => "pause-leader",
            NemesisKind::PartitionLeader => "partition-leader",
            NemesisKind::LeaderDeaf => "leader-deaf",
            NemesisKind::LeaderMute => "leader-mute",
            NemesisKind::PartitionHalves => "partition-halves",
            NemesisKind::PartitionRing => "partition-ring",
            NemesisKind::PartitionBridge => "partition-bridge",
            NemesisKind::Flaky => "flaky",
            NemesisKind::Slow => "slow",
            NemesisKind::Clock => "clock",
            NemesisKind::Membership => "membership",
            NemesisKind::Wipe => "wipe",
            NemesisKind::ClockJump => "clock-jump",
            NemesisKind::PowerLoss => "power-loss",
            NemesisKind::PowerLossMajority => "power-loss-majority",
            NemesisKind::PowerLossAll => "power-loss-all",
            NemesisKind::DiskFull => "disk-full",
            NemesisKind::FsyncError => "fsync-error",
            NemesisKind::SlowFsync => "slow-fsync",
            NemesisKind::SnapshotCrash => "snapshot-crash",
        }
    }

    /// Whether a fault of this kind may run while another is on (the
    /// overlapping schedule). Losing a disk and changing the membership are
    /// operations whose healing needs a working majority: with a second
    /// fault on, the runbook could not finish and the run would end with a
    /// member that never came back, which is the schedule's fault, not the
    /// cluster's.
    pub fn overlaps(self) -> bool {
        !matches!(self, NemesisKind::Wipe | NemesisKind::Membership)
    }

    /// Whether this fault needs the nodes' data on `ingressoja-faultfs`
    /// disks (see [`crate::disk`]).
    pub fn needs_faulty_disk(self) -> bool {
        matches!(
            self,
            NemesisKind::PowerLoss
                | NemesisKind::PowerLossMajority
                | NemesisKind::PowerLossAll
                | NemesisKind::DiskFull
                | NemesisKind::FsyncError
                | NemesisKind::SlowFsync
        )
    }

    /// Parses a comma-separated list; `all` means every kind.
    pub fn parse_list(text: &str) -> Result<Vec<NemesisKind>, String> {
        let mut kinds = BTreeSet::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                kinds.extend(NemesisKind::ALL);
                continue;
            }
            if name == "none" {
                continue;
            }
            let kind = NemesisKind::ALL
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = NemesisKind::ALL.iter().map(|k| k.name()).collect();
                    format!(
                        "--nemesis: unknown fault {name:?} (known: {}, all, none)",
                        known.join(", ")
                    )
                })?;
            kinds.insert(kind);
        }
        Ok(kinds.into_iter().collect())
    }
}

impl fmt::Display for NemesisKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_by_name_with_all_and_none() {
        assert_eq!(
            NemesisKind::parse_list("kill, pause").unwrap(),
            vec![NemesisKind::Kill, NemesisKind::Pause]
        );
        assert_eq!(NemesisKind::parse_list("all").unwrap(), NemesisKind::ALL);
        assert!(NemesisKind::parse_list("none").unwrap().is_empty());
        let err = NemesisKind::parse_list("kill,meteor").unwrap_err();
        assert!(
            err.contains("\"meteor\"") && err.contains("kill-leader"),
            "{err}"
        );
    }

    #[test]
    fn every_kind_is_named_once() {
        let names: BTreeSet<&str> = NemesisKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), NemesisKind::ALL.len());
        for kind in NemesisKind::ALL {
            assert_eq!(NemesisKind::parse_list(kind.name()).unwrap(), vec![kind]);
        }
    }
}
