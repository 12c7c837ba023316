//! Forming a new cluster so that no blank node is ever counted as a voter
//! (see [`crate::member`]).
//!
//! The bootstrap node (`bootstrap = true`), on blank storage:
//!
//! 1. asks every other configured peer for its `Status` until all have
//!    answered. If one already belongs to a cluster, this node is not
//!    forming anything: it lost its data (or was pointed at a live cluster),
//!    so it stays blank and waits to be added back as a learner (the
//!    runbook) instead of starting a second cluster of its own beside the
//!    first;
//! 2. mints the cluster id and initializes Raft with itself as the only
//!    voter;
//! 3. adds every other peer as a learner (each records the cluster id with
//!    the first entries it accepts) and, once they all hold the log, makes
//!    them voters.
//!
//! A new cluster therefore starts when all its nodes are up. Steps 2-3 are
//! retried until done; a bootstrap node restarted while it is still the
//! only voter finishes them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ingressoja_cluster_config::NodeConfig;
use ingressoja_proto::admin::admin_client::AdminClient;
use ingressoja_proto::admin::StatusRequest;
use openraft::BasicNode;
use tokio::sync::watch;

use crate::member::MemberGuard;
use crate::network::NetworkFactory;
use crate::raft_types::{NodeId, Raft};

/// How long one step (a peer's status, a learner catching up) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between attempts.
const RETRY: Duration = Duration::from_millis(300);
/// How often a formation still waiting says why.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Where a formation attempt stands.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Every configured peer is a voter (or the membership was changed since).
    Formed,
    /// Peers already form a cluster: this node joins it the normal way.
    Joins { peer: NodeId, cluster: String },
    /// Not yet; why.
    Waiting(String),
}

/// Forms the cluster of `config.peers` (see the module doc); returns when it
/// is formed, when the peers turn out to form one already, or on shutdown.
pub async fn run(
    raft: Raft,
    config: NodeConfig,
    member: Arc<MemberGuard>,
    network: NetworkFactory,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_report = Instant::now();
    loop {
        match step(&raft, &config, &member, &network).await {
            Step::Formed => return,
            Step::Joins { peer, cluster } => {
                tracing::warn!(
                    node = config.id,
                    peer,
                    cluster,
                    "not forming a cluster: node {peer} already belongs to cluster {cluster}; \
                     this node's storage is blank, so it waits to be added as a learner \
                     (`ingressoja cluster add-node --id {} --addr ...`)",
                    config.id
                );
                return;
            }
            Step::Waiting(why) => {
                if last_report.elapsed() >= REPORT_EVERY {
                    tracing::info!(node = config.id, "cluster formation waits: {why}");
                    last_report = Instant::now();
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn step(
    raft: &Raft,
    config: &NodeConfig,
    member: &MemberGuard,
    network: &NetworkFactory,
) -> Step {
    let initialized = match raft.is_initialized().await {
        Ok(initialized) => initialized,
        Err(e) => return Step::Waiting(format!("Raft: {e}")),
    };
    if !initialized {
        if !member.is_blank() {
            // Raft state from a leader (a vote) but no membership yet: this
            // node is being added to a cluster, not forming one.
            return Step::Formed;
        }
        for peer in config.peers.iter().filter(|p| p.id != config.id) {
            match peer_status(network, &peer.addr).await {
                Err(why) => {
                    return Step::Waiting(format!(
                        "node {} at {} does not answer: {why}",
                        peer.id, peer.addr
                    ))
                }
                Ok((cluster, _)) if !cluster.is_empty() => {
                    return Step::Joins {
                        peer: peer.id,
                        cluster,
                    }
                }
                Ok((_, false)) => {
                    return Step::Joins {
                        peer: peer.id,
                        cluster: "(one with no id yet)".into(),
                    }
                }
                Ok(_) => {}
            }
        }
        let cluster = match member.form() {
            Ok(cluster) => cluster,
            Err(e) => return Step::Waiting(e.to_string()),
        };
        let me = BTreeMap::from([(
            config.id,
            BasicNode {
                addr: config.advertise_addr().to_string(),
            },
        )]);
        match raft.initialize(me).await {
            Ok(()) | Err(openraft::error::RaftError::APIError(_)) => {}
            Err(e) => return Step::Waiting(format!("initialize: {e}")),
        }
        member.holds_state();
        tracing::info!(
            node = config.id,
            cluster,
            "cluster formed with this node as its only voter; adding the other peers as learners"
        );
    }
    complete(raft, config).await
}

/// Adds the configured peers missing from a one-voter membership as
/// learners, then makes every peer a voter.
async fn complete(raft: &Raft, config: &NodeConfig) -> Step {
    let metrics = raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    if voters.is_empty() {
        return Step::Waiting("Raft has not loaded the membership yet".into());
    }
    if voters != BTreeSet::from([config.id]) || config.peers.len() <= 1 {
        return Step::Formed;
    }
    if metrics.current_leader != Some(config.id) {
        return Step::Waiting("this node is not leading yet".into());
    }
    for peer in config.peers.iter().filter(|p| p.id != config.id) {
        if membership.get_node(&peer.id).is_some() {
            continue;
        }
        let node = BasicNode {
            addr: peer.addr.clone(),
        };
        match tokio::time::timeout(STEP_TIMEOUT, raft.add_learner(peer.id, node, true)).await {
            Ok(Ok(added)) => {
                // Promote only a learner that holds the log: a voter's
                // entries are refused while its storage is still blank.
                let holds = |m: &openraft::RaftMetrics<NodeId, BasicNode>| {
                    m.replication.as_ref().is_some_and(|r| {
                        r.get(&peer.id)
                            .copied()
                            .flatten()
                            .is_some_and(|matched| matched.index >= added.log_id.index)
                    })
                };
                if raft
                    .wait(Some(STEP_TIMEOUT))
                    .metrics(holds, "the learner holds the log")
                    .await
                    .is_err()
                {
                    return Step::Waiting(format!(
                        "node {} did not take the log as a learner within {STEP_TIMEOUT:?}",
                        peer.id
                    ));
                }
            }
            Ok(Err(e)) => {
                return Step::Waiting(format!("adding node {} as a learner: {e}", peer.id))
            }
            Err(_) => {
                return Step::Waiting(format!(
                    "node {} did not catch up as a learner within {STEP_TIMEOUT:?}",
                    peer.id
                ))
            }
        }
    }
    let all: BTreeSet<NodeId> = config.peers.iter().map(|p| p.id).collect();
    match tokio::time::timeout(STEP_TIMEOUT, raft.change_membership(all.clone(), false)).await {
        Ok(Ok(_)) => {
            tracing::info!(node = config.id, voters = ?all, "cluster formed");
            Step::Formed
        }
        Ok(Err(e)) => Step::Waiting(format!("making the peers voters: {e}")),
        Err(_) => Step::Waiting(format!(
            "making the peers voters took longer than {STEP_TIMEOUT:?}"
        )),
    }
}

/// A peer's cluster id and whether its storage is blank.
async fn peer_status(network: &NetworkFactory, addr: &str) -> Result<(String, bool), String> {
    let channel = network.channel(addr)?;
    let mut request = tonic::Request::new(StatusRequest {
        skip_state_hash: true,
    });
    request.set_timeout(STEP_TIMEOUT);
    let status = AdminClient::new(channel)
        .status(request)
        .await
        .map_err(|s| s.message().to_string())?
        .into_inner();
    Ok((status.cluster_id, status.blank))
}
