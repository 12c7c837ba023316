//! The network rules the partition, flaky and slow nemeses share: iptables
//! and `tc` run from the host inside a node's network namespace, and the one
//! heal that removes them all.

use super::FaultTarget;
use crate::cluster::ChaosCluster;
use crate::docker::{in_netns, DockerError};

/// The host PID of node `node`'s process: the way into its namespaces.
pub async fn pid_of(target: &FaultTarget<'_>, node: u64) -> Result<u32, DockerError> {
    target.cluster.docker.pid(target.container(node)?).await
}

/// The pid of `node`'s process, or `None` when its container is stopped
/// (killed or powered off by another fault of the round): a stopped node
/// already hears no one, and when it starts again it gets a fresh network
/// namespace, so a network fault leaves it out rather than failing.
pub async fn running_pid(target: &FaultTarget<'_>, node: u64) -> Result<Option<u32>, DockerError> {
    if !target.running(node).await? {
        return Ok(None);
    }
    pid_of(target, node).await.map(Some)
}

/// Makes `node` drop every packet from and to `others`.
pub async fn drop_between(
    target: &FaultTarget<'_>,
    node: u64,
    others: &[u64],
) -> Result<(), DockerError> {
    drop_one_way(target, node, others, "INPUT", "-s").await?;
    drop_one_way(target, node, others, "OUTPUT", "-d").await
}

/// Makes `node` drop, in iptables chain `chain` (`INPUT` or `OUTPUT`),
/// every packet whose address `flag` (`-s` source, `-d` destination) is one
/// of `others`: a link that fails one way only.
pub async fn drop_one_way(
    target: &FaultTarget<'_>,
    node: u64,
    others: &[u64],
    chain: &str,
    flag: &str,
) -> Result<(), DockerError> {
    let Some(pid) = running_pid(target, node).await? else {
        return Ok(());
    };
    for &other in others {
        let ip = target.cluster.ip(other);
        in_netns(pid, "iptables", &["-A", chain, flag, &ip, "-j", "DROP"]).await?;
    }
    Ok(())
}

/// Cuts every pair of nodes in different `groups`.
pub async fn partition(target: &FaultTarget<'_>, groups: &[Vec<u64>]) -> Result<(), DockerError> {
    for (i, group) in groups.iter().enumerate() {
        let others: Vec<u64> = groups
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, g)| g.iter().copied())
            .collect();
        for &node in group {
            drop_between(target, node, &others).await?;
        }
    }
    Ok(())
}

/// Removes every network fault from every running node.
pub async fn heal(cluster: &ChaosCluster) -> Result<(), DockerError> {
    for name in cluster.containers.values() {
        let Ok(pid) = cluster.docker.pid(name).await else {
            continue; // stopped: it has no namespace, and no rules
        };
        in_netns(pid, "iptables", &["-F", "INPUT"]).await?;
        in_netns(pid, "iptables", &["-F", "OUTPUT"]).await?;
        // No qdisc is not an error worth reporting.
        let _ = in_netns(pid, "tc", &["qdisc", "del", "dev", "eth0", "root"]).await;
    }
    Ok(())
}
