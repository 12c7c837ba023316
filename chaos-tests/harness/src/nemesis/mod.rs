//! Faults, injected on a schedule and always healed.
//!
//! Network faults are iptables rules and a `tbf` qdisc inside the node
//! containers' network namespaces (entered from the host with `nsenter`; the
//! images have no tools of their own). This kernel has no `netem`, so "slow"
//! is a bandwidth limit (queueing delay) and "flaky" is random drops. Clock
//! skew is libfaketime, preloaded in every node, reading an offset file the
//! harness rewrites.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;

use super::cluster::ChaosCluster;
use super::docker::{in_netns, DockerError};

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NemesisKind {
    /// kill -9 a random node, restart it at the end of the fault.
    Kill,
    /// kill -9 the leader.
    KillLeader,
    /// SIGSTOP a random node (`docker pause`), resume it at the end.
    Pause,
    /// Cut the leader off from every other node (clients still reach it).
    PartitionLeader,
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
}

impl NemesisKind {
    /// Every kind, in the order the CLI lists them.
    pub const ALL: [NemesisKind; 11] = [
        NemesisKind::Kill,
        NemesisKind::KillLeader,
        NemesisKind::Pause,
        NemesisKind::PartitionLeader,
        NemesisKind::PartitionHalves,
        NemesisKind::PartitionRing,
        NemesisKind::PartitionBridge,
        NemesisKind::Flaky,
        NemesisKind::Slow,
        NemesisKind::Clock,
        NemesisKind::Membership,
    ];

    /// The name used on the command line and in the history.
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Kill => "kill",
            NemesisKind::KillLeader => "kill-leader",
            NemesisKind::Pause => "pause",
            NemesisKind::PartitionLeader => "partition-leader",
            NemesisKind::PartitionHalves => "partition-halves",
            NemesisKind::PartitionRing => "partition-ring",
            NemesisKind::PartitionBridge => "partition-bridge",
            NemesisKind::Flaky => "flaky",
            NemesisKind::Slow => "slow",
            NemesisKind::Clock => "clock",
            NemesisKind::Membership => "membership",
        }
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

/// A fault in force: what to undo.
#[derive(Debug, Clone)]
pub struct ActiveFault {
    /// Which fault it is.
    pub kind: NemesisKind,
    /// What was done, for the history ("killed n2", "n1 | n2 n3", ...).
    pub description: String,
    killed: Vec<u64>,
    paused: Vec<u64>,
    added: Option<u64>,
}

/// Injects and heals faults on one cluster.
pub struct Nemesis<'a> {
    cluster: &'a ChaosCluster,
    /// The spare node currently a member, if any (membership churn).
    spare_in: Option<u64>,
}

impl<'a> Nemesis<'a> {
    /// A nemesis for `cluster`, with no spare node in.
    pub fn new(cluster: &'a ChaosCluster) -> Self {
        Nemesis {
            cluster,
            spare_in: None,
        }
    }

    fn members(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = (1..=self.cluster.spec.nodes).collect();
        ids.extend(self.spare_in);
        ids
    }

    async fn leader(&self) -> Option<u64> {
        let client = self.cluster.client("nemesis", Duration::from_secs(1));
        for report in client.cluster_status().await {
            if let Ok(s) = report.status {
                if s.role == "leader" {
                    return Some(s.id);
                }
            }
        }
        None
    }

    /// Starts a fault of `kind`.
    pub async fn start(&mut self, kind: NemesisKind) -> Result<ActiveFault, DockerError> {
        let mut rng = rand::thread_rng();
        let members = self.members();
        let mut fault = ActiveFault {
            kind,
            description: String::new(),
            killed: Vec::new(),
            paused: Vec::new(),
            added: None,
        };
        match kind {
            NemesisKind::Kill | NemesisKind::KillLeader => {
                let victim = match kind {
                    NemesisKind::KillLeader => self.leader().await,
                    _ => None,
                }
                .unwrap_or_else(|| *members.choose(&mut rng).unwrap_or(&1));
                let name = &self.cluster.containers[&victim];
                self.cluster
                    .docker
                    .run(&["kill", "-s", "KILL", name])
                    .await?;
                fault.killed.push(victim);
                fault.description = format!("killed n{victim}");
            }
            NemesisKind::Pause => {
                let victim = *members.choose(&mut rng).unwrap_or(&1);
                self.cluster
                    .docker
                    .run(&["pause", &self.cluster.containers[&victim]])
                    .await?;
                fault.paused.push(victim);
                fault.description = format!("paused n{victim}");
            }
            NemesisKind::PartitionLeader => {
                let leader = self.leader().await.unwrap_or(members[0]);
                let rest: Vec<u64> = members.iter().copied().filter(|&m| m != leader).collect();
                self.partition(&[vec![leader], rest.clone()]).await?;
                fault.description = format!("isolated leader n{leader} from {rest:?}");
            }
            NemesisKind::PartitionHalves => {
                let mut shuffled = members.clone();
                shuffled.shuffle(&mut rng);
                let half = shuffled.len() / 2;
                let (a, b) = shuffled.split_at(half);
                self.partition(&[a.to_vec(), b.to_vec()]).await?;
                fault.description = format!("halves {a:?} | {b:?}");
            }
            NemesisKind::PartitionRing if members.len() <= 3 => {
                // Three in a ring all see each other: cut one link instead,
                // a line where the middle node sees both ends.
                let mut line = members.clone();
                line.shuffle(&mut rng);
                let (a, b) = (line[0], line[line.len() - 1]);
                self.drop_between(a, &[b]).await?;
                self.drop_between(b, &[a]).await?;
                fault.description = format!("line {line:?} (n{a} and n{b} cut apart)");
            }
            NemesisKind::PartitionRing => {
                let mut ring = members.clone();
                ring.shuffle(&mut rng);
                let n = ring.len();
                for (i, &node) in ring.iter().enumerate() {
                    let neighbours = [ring[(i + 1) % n], ring[(i + n - 1) % n]];
                    let cut: Vec<u64> = ring
                        .iter()
                        .copied()
                        .filter(|&o| o != node && !neighbours.contains(&o))
                        .collect();
                    self.drop_between(node, &cut).await?;
                }
                fault.description = format!("ring {ring:?}");
            }
            NemesisKind::PartitionBridge => {
                let mut shuffled = members.clone();
                shuffled.shuffle(&mut rng);
                let bridge = shuffled[0];
                let rest = &shuffled[1..];
                let (a, b) = rest.split_at(rest.len() / 2);
                for &x in a {
                    self.drop_between(x, b).await?;
                }
                for &y in b {
                    self.drop_between(y, a).await?;
                }
                fault.description = format!("{a:?} | {b:?} bridged by n{bridge}");
            }
            NemesisKind::Flaky => {
                for &node in &members {
                    let pid = self.pid_of(node).await?;
                    for &other in members.iter().filter(|&&o| o != node) {
                        let ip = self.cluster.ip(other);
                        in_netns(
                            pid,
                            "iptables",
                            &[
                                "-A",
                                "INPUT",
                                "-s",
                                &ip,
                                "-m",
                                "statistic",
                                "--mode",
                                "random",
                                "--probability",
                                "0.3",
                                "-j",
                                "DROP",
                            ],
                        )
                        .await?;
                    }
                }
                fault.description = "30% of packets between nodes dropped".into();
            }
            NemesisKind::Slow => {
                for &node in &members {
                    let pid = self.pid_of(node).await?;
                    in_netns(
                        pid,
                        "tc",
                        &[
                            "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", "1mbit",
                            "burst", "4kb", "latency", "200ms",
                        ],
                    )
                    .await?;
                }
                fault.description = "1 Mbit/s per node (queueing delay up to 200 ms)".into();
            }
            NemesisKind::Clock => {
                let mut offsets = Vec::new();
                for &node in &members {
                    let offset: i64 = rng.gen_range(-30..=30);
                    let file = self.cluster.clock_file(node);
                    std::fs::write(&file, format!("{offset:+}\n")).map_err(|e| {
                        DockerError::Failed {
                            args: format!("write {}", file.display()),
                            stderr: e.to_string(),
                        }
                    })?;
                    offsets.push(format!("n{node} {offset:+}s"));
                }
                fault.description = format!("clocks skewed: {}", offsets.join(", "));
            }
            NemesisKind::Membership => {
                fault.description = self.churn(&mut fault).await;
            }
        }
        Ok(fault)
    }

    /// Undoes `fault`: restarts, resumes, removes rules and qdiscs, resets clocks.
    pub async fn stop(&mut self, fault: &ActiveFault) -> Result<(), DockerError> {
        for &id in &fault.killed {
            self.cluster
                .docker
                .run(&["start", &self.cluster.containers[&id]])
                .await?;
        }
        for &id in &fault.paused {
            self.cluster
                .docker
                .run(&["unpause", &self.cluster.containers[&id]])
                .await?;
        }
        match fault.kind {
            NemesisKind::Clock => {
                for id in self.cluster.containers.keys() {
                    let _ = std::fs::write(self.cluster.clock_file(*id), "+0\n");
                }
            }
            NemesisKind::Membership => {}
            _ => self.heal_network().await?,
        }
        Ok(())
    }

    /// Removes every network fault from every running node.
    pub async fn heal_network(&self) -> Result<(), DockerError> {
        for name in self.cluster.containers.values() {
            let Ok(pid) = self.cluster.docker.pid(name).await else {
                continue; // stopped: it has no namespace, and no rules
            };
            in_netns(pid, "iptables", &["-F", "INPUT"]).await?;
            in_netns(pid, "iptables", &["-F", "OUTPUT"]).await?;
            // No qdisc is not an error worth reporting.
            let _ = in_netns(pid, "tc", &["qdisc", "del", "dev", "eth0", "root"]).await;
        }
        Ok(())
    }

    /// Heals everything: every node running and resumed, no rules, true clocks.
    pub async fn heal_all(&mut self) -> Result<(), DockerError> {
        for name in self.cluster.containers.values() {
            let state = self
                .cluster
                .docker
                .run(&["inspect", "-f", "{{.State.Status}}", name])
                .await?;
            if state == "paused" {
                self.cluster.docker.run(&["unpause", name]).await?;
            }
        }
        for id in 1..=self.cluster.spec.nodes {
            let name = &self.cluster.containers[&id];
            let running = self
                .cluster
                .docker
                .run(&["inspect", "-f", "{{.State.Running}}", name])
                .await?;
            if running != "true" {
                self.cluster.docker.run(&["start", name]).await?;
            }
        }
        for id in self.cluster.containers.keys() {
            let _ = std::fs::write(self.cluster.clock_file(*id), "+0\n");
        }
        self.heal_network().await
    }

    /// Cuts every pair of nodes in different `groups`.
    async fn partition(&self, groups: &[Vec<u64>]) -> Result<(), DockerError> {
        for (i, group) in groups.iter().enumerate() {
            let others: Vec<u64> = groups
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, g)| g.iter().copied())
                .collect();
            for &node in group {
                self.drop_between(node, &others).await?;
            }
        }
        Ok(())
    }

    /// The host PID of node `node`'s process: the way into its namespaces.
    async fn pid_of(&self, node: u64) -> Result<u32, DockerError> {
        self.cluster
            .docker
            .pid(&self.cluster.containers[&node])
            .await
    }

    /// Makes `node` drop every packet from and to `others`.
    async fn drop_between(&self, node: u64, others: &[u64]) -> Result<(), DockerError> {
        let pid = self.pid_of(node).await?;
        for &other in others {
            let ip = self.cluster.ip(other);
            in_netns(pid, "iptables", &["-A", "INPUT", "-s", &ip, "-j", "DROP"]).await?;
            in_netns(pid, "iptables", &["-A", "OUTPUT", "-d", &ip, "-j", "DROP"]).await?;
        }
        Ok(())
    }

    /// Adds the first spare as a voter, or removes it if it is in.
    async fn churn(&mut self, fault: &mut ActiveFault) -> String {
        let Some(spare) = (self.cluster.spec.nodes + 1
            ..=self.cluster.spec.nodes + self.cluster.spec.spares)
            .next()
        else {
            return "no spare node configured".into();
        };
        let client = self
            .cluster
            .client("nemesis-membership", Duration::from_secs(20));
        if self.spare_in.is_some() {
            match client.remove_node(spare, false).await {
                Ok(_) => {
                    // Stopped only once it is out: a stopped voter would
                    // quietly shrink every later fault's margin.
                    let _ = self
                        .cluster
                        .docker
                        .run(&["stop", "-t", "1", &self.cluster.containers[&spare]])
                        .await;
                    self.spare_in = None;
                    format!("removed n{spare}")
                }
                Err(e) => format!("removing n{spare} failed (it stays a running voter): {e}"),
            }
        } else {
            let name = &self.cluster.containers[&spare];
            if let Err(e) = self.cluster.docker.run(&["start", name]).await {
                return format!("starting n{spare} failed: {e}");
            }
            // The process needs a moment before it listens.
            let addr = self.cluster.addr(spare);
            let answering = tokio::time::Instant::now() + Duration::from_secs(10);
            while client.node_status(&addr).await.is_err()
                && tokio::time::Instant::now() < answering
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let added = client
                .add_node(
                    spare,
                    &self.cluster.addr(spare),
                    Duration::from_secs(20),
                    |_| {},
                )
                .await;
            match added {
                Ok(_) => {
                    self.spare_in = Some(spare);
                    fault.added = Some(spare);
                    format!("added n{spare} as a voter")
                }
                Err(e) => {
                    // A timed-out add may still have committed: keep it
                    // running, and let the next churn take it out again.
                    self.spare_in = Some(spare);
                    format!("adding n{spare} failed (kept running; removed next time): {e}")
                }
            }
        }
    }
}
