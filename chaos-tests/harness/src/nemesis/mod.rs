//! Faults, injected on a schedule and always healed.
//!
//! Each nemesis is one [`Fault`] in its own file: it knows how to inject
//! its fault ([`Fault::start`]) and how to undo it ([`Fault::heal`]); the
//! scheduler in the crate root only calls the trait. A fault that fails
//! halfway is taken back by [`heal_all`](crate::nemesis::heal_all), which
//! restores everything a fault of any kind could have changed.
//!
//! Network faults are iptables rules and a `tbf` qdisc inside the node
//! containers' network namespaces (entered from the host with `nsenter`; the
//! images have no tools of their own; see the `net` module). This kernel
//! has no `netem`, so "slow" is a bandwidth limit (queueing delay) and
//! "flaky" is random drops. Clock skew is libfaketime, preloaded in every node, reading
//! an offset file the harness rewrites.

mod clock;
mod clock_jump;
mod disk_fault;
mod flaky;
mod kill;
mod kind;
mod membership;
mod net;
mod partition_bridge;
mod partition_halves;
mod partition_leader;
mod partition_one_way;
mod partition_ring;
mod pause;
mod power_loss;
pub mod schedule;
mod slow;
mod snapshot_crash;
mod wipe;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rand::seq::SliceRandom;

pub use kind::NemesisKind;

use super::cluster::ChaosCluster;
use super::disk::NodeDisk;
use super::docker::DockerError;

/// What [`Fault::start`] and [`Fault::heal`] return: a boxed future, so the
/// scheduler can hold every nemesis of a run as a `Box<dyn Fault>`.
pub type FaultFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DockerError>> + 'a>>;

/// A fault that was injected, as the history records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// What was done ("killed n2", "halves \[1\] | \[2, 3\]", ...).
    pub description: String,
}

impl Applied {
    /// A fault described by `description`.
    pub fn new(description: impl Into<String>) -> Applied {
        Applied {
            description: description.into(),
        }
    }
}

/// One nemesis: injects one kind of fault and heals it again. It keeps what
/// it needs to undo its own fault (the node it killed, the one it paused).
pub trait Fault {
    /// Which kind of fault this is (its name in the CLI and the history).
    fn kind(&self) -> NemesisKind;

    /// Injects the fault on `target`'s current members.
    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied>;

    /// Undoes the fault [`Fault::start`] injected.
    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()>;
}

/// The nemesis for faults of `kind`, holding nothing yet.
pub fn fault_for(kind: NemesisKind) -> Box<dyn Fault> {
    match kind {
        NemesisKind::Kill => Box::new(kill::Kill::random()),
        NemesisKind::KillLeader => Box::new(kill::Kill::leader()),
        NemesisKind::Pause => Box::new(pause::Pause::random()),
        NemesisKind::PauseLeader => Box::new(pause::Pause::leader()),
        NemesisKind::PartitionLeader => Box::new(partition_leader::PartitionLeader),
        NemesisKind::LeaderDeaf => Box::new(partition_one_way::OneWay::deaf()),
        NemesisKind::LeaderMute => Box::new(partition_one_way::OneWay::mute()),
        NemesisKind::PartitionHalves => Box::new(partition_halves::PartitionHalves),
        NemesisKind::PartitionRing => Box::new(partition_ring::PartitionRing),
        NemesisKind::PartitionBridge => Box::new(partition_bridge::PartitionBridge),
        NemesisKind::Flaky => Box::new(flaky::Flaky),
        NemesisKind::Slow => Box::new(slow::Slow),
        NemesisKind::Clock => Box::new(clock::Clock),
        NemesisKind::Membership => Box::new(membership::Membership),
        NemesisKind::Wipe => Box::new(wipe::Wipe::default()),
        NemesisKind::ClockJump => Box::new(clock_jump::ClockJump::default()),
        NemesisKind::PowerLoss => Box::new(power_loss::PowerLoss::new(power_loss::Scope::One)),
        NemesisKind::PowerLossMajority => {
            Box::new(power_loss::PowerLoss::new(power_loss::Scope::Majority))
        }
        NemesisKind::PowerLossAll => Box::new(power_loss::PowerLoss::new(power_loss::Scope::All)),
        NemesisKind::DiskFull => {
            Box::new(disk_fault::DiskFault::new(disk_fault::DiskTrouble::Full))
        }
        NemesisKind::FsyncError => Box::new(disk_fault::DiskFault::new(
            disk_fault::DiskTrouble::FsyncError,
        )),
        NemesisKind::SlowFsync => Box::new(disk_fault::DiskFault::new(
            disk_fault::DiskTrouble::SlowFsync,
        )),
        NemesisKind::SnapshotCrash => Box::new(snapshot_crash::SnapshotCrash::default()),
    }
}

/// What faults act on: the cluster, and which nodes are members now (the
/// initial voters, plus the spare while membership churn has it in).
pub struct FaultTarget<'a> {
    /// The cluster under test.
    pub cluster: &'a ChaosCluster,
    /// The spare node currently a member, if any (membership churn).
    spare_in: Option<u64>,
    /// Nodes a fault is acting on now (killed, paused, powered off, their
    /// disk in trouble): with faults overlapping, another fault picks
    /// elsewhere rather than pausing a dead node or killing it twice.
    busy: BTreeSet<u64>,
}

impl<'a> FaultTarget<'a> {
    /// The faults' view of `cluster`, with no spare node in.
    pub fn new(cluster: &'a ChaosCluster) -> Self {
        FaultTarget {
            cluster,
            spare_in: None,
            busy: BTreeSet::new(),
        }
    }

    /// Marks `id` as taken by a fault until [`Self::release`].
    pub fn claim(&mut self, id: u64) {
        self.busy.insert(id);
    }

    /// Gives `id` back after its fault healed.
    pub fn release(&mut self, id: u64) {
        self.busy.remove(&id);
    }

    /// The members no fault is acting on.
    pub fn free_members(&self) -> Vec<u64> {
        self.members()
            .into_iter()
            .filter(|id| !self.busy.contains(id))
            .collect()
    }

    /// The nodes that are members now.
    pub fn members(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = (1..=self.cluster.spec.nodes).collect();
        ids.extend(self.spare_in);
        ids
    }

    /// A member no fault is acting on, picked at random (any member when
    /// every one is taken): the victim of a fault aimed at no one in particular.
    pub fn random_member(&self) -> u64 {
        let free = self.free_members();
        let pool = if free.is_empty() {
            self.members()
        } else {
            free
        };
        *pool.choose(&mut rand::thread_rng()).unwrap_or(&1)
    }

    /// The leader, or a random free member when no node answers as leader
    /// or the leader is taken by another fault.
    pub async fn leader_or_random(&self) -> u64 {
        match self.leader().await {
            Some(leader) if !self.busy.contains(&leader) => leader,
            _ => self.random_member(),
        }
    }

    /// The node that reports itself leader, if one answers.
    pub async fn leader(&self) -> Option<u64> {
        let client = self.cluster.client("nemesis", Duration::from_secs(1));
        for report in client.cluster_progress().await {
            if let Ok(s) = report.status {
                if s.role == "leader" {
                    return Some(s.id);
                }
            }
        }
        None
    }

    /// The container of node `id`.
    pub fn container(&self, id: u64) -> Result<&'a str, DockerError> {
        self.cluster
            .containers
            .get(&id)
            .map(String::as_str)
            .ok_or_else(|| DockerError::Failed {
                args: format!("(no container for n{id})"),
                stderr: "the cluster has no such node".into(),
            })
    }

    /// Node `id`'s faulty disk (runs with a disk nemesis have one per node).
    pub fn disk(&self, id: u64) -> Result<&'a NodeDisk, DockerError> {
        self.cluster
            .disks
            .get(&id)
            .ok_or_else(|| DockerError::Failed {
                args: format!("(no faulty disk for n{id})"),
                stderr: "the cluster was started without faulty disks".into(),
            })
    }

    /// Whether node `id`'s container is running.
    pub async fn running(&self, id: u64) -> Result<bool, DockerError> {
        let name = self.container(id)?;
        let state = self
            .cluster
            .docker
            .run(&["inspect", "-f", "{{.State.Running}}", name])
            .await?;
        Ok(state == "true")
    }

    /// Waits (up to 10 s) until node `id`'s container has stopped.
    pub async fn wait_stopped(&self, id: u64) -> Result<(), DockerError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.running(id).await? {
            if std::time::Instant::now() > deadline {
                return Err(DockerError::Failed {
                    args: format!("(wait for n{id} to stop)"),
                    stderr: "still running 10 s after kill -9".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Starts node `id`'s container unless it is running.
    pub async fn start_if_stopped(&self, id: u64) -> Result<(), DockerError> {
        if !self.running(id).await? {
            self.docker_on(&["start"], id).await?;
        }
        Ok(())
    }

    /// Runs `docker <command> <node id's container>`.
    pub async fn docker_on(&self, command: &[&str], id: u64) -> Result<(), DockerError> {
        let mut args = command.to_vec();
        args.push(self.container(id)?);
        self.cluster.docker.run(&args).await.map(|_| ())
    }
}

/// Heals everything: disks cleared, every node running and resumed, no
/// rules, true clocks. Used after a fault failed halfway and when the run's
/// time is up.
pub async fn heal_all(target: &FaultTarget<'_>) -> Result<(), DockerError> {
    let cluster = target.cluster;
    // Disks first: a node restarted on a disk still full would stop again.
    for (id, disk) in &cluster.disks {
        disk.command("clear")
            .await
            .map_err(|e| DockerError::Failed {
                args: format!("(clear the disk of n{id})"),
                stderr: e.to_string(),
            })?;
    }
    for name in cluster.containers.values() {
        let state = cluster
            .docker
            .run(&["inspect", "-f", "{{.State.Status}}", name])
            .await?;
        if state == "paused" {
            cluster.docker.run(&["unpause", name]).await?;
        }
    }
    // Every member, the spare too while membership churn has it in: a
    // stopped member left down keeps the cluster a vote short for good.
    for id in target.members() {
        let name = target.container(id)?;
        let running = cluster
            .docker
            .run(&["inspect", "-f", "{{.State.Running}}", name])
            .await?;
        if running != "true" {
            cluster.docker.run(&["start", name]).await?;
        }
    }
    clock::reset_all(cluster);
    net::heal(cluster).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_gets_the_nemesis_of_that_kind() {
        for kind in NemesisKind::ALL {
            assert_eq!(fault_for(kind).kind(), kind);
        }
    }
}
