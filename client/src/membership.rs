//! Growing and shrinking the cluster safely: a new node joins as a learner,
//! is promoted to voter only once it has caught up, and removals refuse to
//! leave fewer voters than it takes to survive one more failure.
//!
//! openraft applies every change through joint consensus, so a change
//! commits only with a majority of both the old and the new voter sets, and
//! the sale keeps running meanwhile. Removing the leader is allowed: it
//! commits the configuration without itself, then steps down and the
//! remaining voters elect a new leader (openraft 0.9 has no explicit
//! leadership transfer).

use std::time::Duration;

use ingressoja_proto::admin::{Member, MembershipReply, NodeStatus};
use thiserror::Error;
use tokio::time::{sleep, Instant};

use crate::client::Client;
use crate::error::ClientError;

/// Fewest voters that still keep a majority after one more failure.
pub const SAFE_VOTERS: usize = 3;

/// A learner closer than this many entries to the leader's log counts as caught up.
pub const CAUGHT_UP_LAG: u64 = 100;

/// Why a membership change was refused or did not finish. Every refusal
/// happens before anything is changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MembershipError {
    /// The id is already taken by a member.
    #[error("node id {id} is already in use by {addr}")]
    IdInUse {
        /// The id asked for.
        id: u64,
        /// The member that has it.
        addr: String,
    },
    /// The id is not a member.
    #[error("node {0} is not a member of the cluster")]
    UnknownNode(u64),
    /// Nothing answers at the new node's address.
    #[error("no node answers at {addr}: {reason} (start it first with its config)")]
    Unreachable {
        /// The address given.
        addr: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The address answers, but as another node.
    #[error("{addr} answers as node {found}, not node {id}: check the id or the address")]
    WrongId {
        /// The address given.
        addr: String,
        /// The id asked for.
        id: u64,
        /// The id the node reports.
        found: u64,
    },
    /// The address answers as a node of another cluster.
    #[error("{addr} belongs to cluster {found}, not to this cluster ({expected}): it is another cluster's node, or its directory was restored from a backup; give it a blank data directory first")]
    OtherCluster {
        /// The address given.
        addr: String,
        /// The cluster the node reports.
        found: String,
        /// The leader's cluster.
        expected: String,
    },
    /// The removal would leave too few voters.
    #[error("removing node {id} would leave {left} voter(s); {SAFE_VOTERS} or more keep the sale running through one more failure (use --force to do it anyway)")]
    TooFewVoters {
        /// The node to remove.
        id: u64,
        /// Voters that would remain.
        left: usize,
    },
    /// No node knows a leader.
    #[error("no leader is known: wait for the election to finish")]
    NoLeader,
    /// The learner did not catch up in time; it stays a learner.
    #[error("node {id} did not catch up within {} s (applied {applied} of {target}); it stays a learner", .waited.as_secs())]
    CatchUpTimeout {
        /// The new node.
        id: u64,
        /// How long we waited.
        waited: Duration,
        /// Its applied index.
        applied: u64,
        /// The leader's last log index.
        target: u64,
    },
    /// The operator's restart action for a node failed; the procedure stopped there.
    #[error("restarting node {id} failed: {reason}; the nodes after it were not touched")]
    RestartFailed {
        /// The node being restarted.
        id: u64,
        /// What the restart action said.
        reason: String,
    },
    /// The cluster refused or could not be reached.
    #[error(transparent)]
    Cluster(#[from] ClientError),
}

/// How far a joining node has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// The learner's applied index.
    pub applied: u64,
    /// The leader's last log index.
    pub target: u64,
}

impl Client {
    /// The leader's status (members, last log), asked of every known node.
    pub async fn leader_status(&self) -> Result<NodeStatus, MembershipError> {
        let reports = self.cluster_progress().await;
        let statuses = || reports.iter().filter_map(|r| r.status.as_ref().ok());
        if let Some(leader) = statuses()
            .filter(|s| s.role == "leader")
            .max_by_key(|s| s.term)
        {
            return Ok(leader.clone());
        }
        let pointed = statuses()
            .filter(|s| s.leader_id != 0 && !s.leader_addr.is_empty())
            .max_by_key(|s| s.term)
            .map(|s| s.leader_addr.clone())
            .ok_or(MembershipError::NoLeader)?;
        let status = self.node_progress(&pointed).await?;
        if status.role == "leader" {
            Ok(status)
        } else {
            Err(MembershipError::NoLeader)
        }
    }

    /// Adds node `id` serving at `addr`: checks that it answers as `id`,
    /// adds it as a learner, waits (reporting progress) until it is within
    /// [`CAUGHT_UP_LAG`] entries of the leader, then makes it a voter.
    pub async fn add_node(
        &self,
        id: u64,
        addr: &str,
        catch_up_timeout: Duration,
        mut progress: impl FnMut(CatchUp),
    ) -> Result<MembershipReply, MembershipError> {
        let leader = self.leader_status().await?;
        if let Some(member) = leader.members.iter().find(|m| m.id == id) {
            return Err(MembershipError::IdInUse {
                id,
                addr: member.addr.clone(),
            });
        }
        let joining =
            self.node_status(addr)
                .await
                .map_err(|error| MembershipError::Unreachable {
                    addr: addr.to_string(),
                    reason: error.to_string(),
                })?;
        if joining.id != id {
            return Err(MembershipError::WrongId {
                addr: addr.to_string(),
                id,
                found: joining.id,
            });
        }
        if !joining.cluster_id.is_empty()
            && !leader.cluster_id.is_empty()
            && joining.cluster_id != leader.cluster_id
        {
            return Err(MembershipError::OtherCluster {
                addr: addr.to_string(),
                found: joining.cluster_id,
                expected: leader.cluster_id,
            });
        }
        self.add_learner(id, addr).await?;
        self.wait_caught_up(id, addr, catch_up_timeout, &mut progress)
            .await?;
        let mut voters = voters_of(&self.leader_status().await?.members);
        voters.push(id);
        Ok(self.change_membership(voters).await?)
    }

    /// Removes node `id` from the voters (and the cluster). Refuses to go
    /// below [`SAFE_VOTERS`] voters unless `force`.
    pub async fn remove_node(
        &self,
        id: u64,
        force: bool,
    ) -> Result<MembershipReply, MembershipError> {
        let leader = self.leader_status().await?;
        if !leader.members.iter().any(|m| m.id == id) {
            return Err(MembershipError::UnknownNode(id));
        }
        let voters: Vec<u64> = voters_of(&leader.members)
            .into_iter()
            .filter(|&v| v != id)
            .collect();
        if voters.is_empty() || (voters.len() < SAFE_VOTERS && !force) {
            return Err(MembershipError::TooFewVoters {
                id,
                left: voters.len(),
            });
        }
        Ok(self.change_membership(voters).await?)
    }
}

impl Client {
    /// Restarts every member one at a time with `restart` (which stops the
    /// node and starts it again, e.g. with a new binary), followers first and
    /// the leader last. After each restart it waits until a leader is known
    /// and the restarted node is within [`CAUGHT_UP_LAG`] entries of it, so
    /// at most one node is ever down or behind. Returns the order used.
    pub async fn rolling_restart<F, Fut>(
        &self,
        catch_up_timeout: Duration,
        mut restart: F,
        mut progress: impl FnMut(&str),
    ) -> Result<Vec<u64>, MembershipError>
    where
        F: FnMut(Member) -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let leader = self.leader_status().await?;
        let mut order: Vec<Member> = leader
            .members
            .iter()
            .filter(|m| m.id != leader.id)
            .cloned()
            .collect();
        order.extend(leader.members.iter().filter(|m| m.id == leader.id).cloned());
        let mut done = Vec::new();
        for member in order {
            let id = member.id;
            let addr = member.addr.clone();
            progress(&format!("restarting node {id} at {addr}"));
            restart(member)
                .await
                .map_err(|reason| MembershipError::RestartFailed { id, reason })?;
            let mut report = |step: CatchUp| {
                if step.applied + CAUGHT_UP_LAG < step.target {
                    progress(&format!(
                        "node {id} catching up: applied {} of {}",
                        step.applied, step.target
                    ));
                }
            };
            self.wait_caught_up(id, &addr, catch_up_timeout, &mut report)
                .await?;
            progress(&format!("node {id} is back and caught up"));
            done.push(id);
        }
        Ok(done)
    }

    /// Waits until a leader is known and node `id` at `addr` answers within
    /// [`CAUGHT_UP_LAG`] entries of it, reporting every reading; a leader
    /// election or the node restarting meanwhile only costs time.
    async fn wait_caught_up(
        &self,
        id: u64,
        addr: &str,
        timeout: Duration,
        progress: &mut impl FnMut(CatchUp),
    ) -> Result<(), MembershipError> {
        let started = Instant::now();
        let (mut applied, mut target) = (0, 0);
        loop {
            if let Ok(leader) = self.leader_status().await {
                target = leader.last_log_index;
                if let Ok(status) = self.node_progress(addr).await {
                    applied = status.applied_index;
                    progress(CatchUp { applied, target });
                    if applied + CAUGHT_UP_LAG >= target {
                        return Ok(());
                    }
                }
            }
            if started.elapsed() > timeout {
                return Err(MembershipError::CatchUpTimeout {
                    id,
                    waited: started.elapsed(),
                    applied,
                    target,
                });
            }
            sleep(Duration::from_millis(200)).await;
        }
    }
}

fn voters_of(members: &[Member]) -> Vec<u64> {
    members.iter().filter(|m| m.voter).map(|m| m.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_to_do() {
        let text = MembershipError::TooFewVoters { id: 3, left: 2 }.to_string();
        assert!(
            text.contains("leave 2 voter(s)") && text.contains("--force"),
            "{text}"
        );
        let text = MembershipError::WrongId {
            addr: "10.0.0.4:7104".into(),
            id: 4,
            found: 5,
        }
        .to_string();
        assert!(text.contains("answers as node 5"), "{text}");
        let members = vec![
            Member {
                id: 1,
                addr: "a".into(),
                voter: true,
            },
            Member {
                id: 4,
                addr: "d".into(),
                voter: false,
            },
        ];
        assert_eq!(voters_of(&members), vec![1]);
    }
}
