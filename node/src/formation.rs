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

use ingressoja_cluster_config::{NodeConfig, PeerConfig};
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
        let attempt = tokio::select! {
            attempt = step(&raft, &config, &member, &network) => attempt,
            _ = shutdown.changed() => return,
        };
        match attempt {
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

/// Adds the configured peers missing from the membership as learners, then
/// makes voters of those that hold the log: all of them, or, when some are
/// slow, the ones that do once they and the voters are a majority of the
/// configured peers (so the sale does not run on one disk while a slow
/// peer catches up); the rest at a later attempt. A learner is promoted
/// only once it holds the log up to the membership that added it: a voter
/// whose storage is still blank refuses every entry.
async fn complete(raft: &Raft, config: &NodeConfig) -> Step {
    let metrics = raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership().clone();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    if voters.is_empty() {
        return Step::Waiting("Raft has not loaded the membership yet".into());
    }
    let all: BTreeSet<NodeId> = config.peers.iter().map(|p| p.id).collect();
    let others: Vec<&PeerConfig> = config
        .peers
        .iter()
        .filter(|p| !voters.contains(&p.id))
        .collect();
    // Formation is under way while this node is the only voter, or while
    // every configured peer that is not a voter is a learner it added; a
    // membership changed since (a peer removed by an operator) is left alone.
    let under_way = voters == BTreeSet::from([config.id])
        || (voters.is_subset(&all) && others.iter().all(|p| membership.get_node(&p.id).is_some()));
    if voters == all || others.is_empty() || !under_way {
        return Step::Formed;
    }
    if metrics.current_leader != Some(config.id) {
        return Step::Waiting("this node is not leading yet".into());
    }
    for peer in &others {
        if membership.get_node(&peer.id).is_some() {
            continue;
        }
        let node = BasicNode {
            addr: peer.addr.clone(),
        };
        match tokio::time::timeout(STEP_TIMEOUT, raft.add_learner(peer.id, node, false)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Step::Waiting(format!("adding node {} as a learner: {e}", peer.id))
            }
            Err(_) => {
                return Step::Waiting(format!(
                    "adding node {} as a learner took longer than {STEP_TIMEOUT:?}",
                    peer.id
                ))
            }
        }
    }
    // Up to the membership that added the last of them.
    let target = raft
        .metrics()
        .borrow()
        .membership_config
        .log_id()
        .map_or(0, |l| l.index);
    let learners: BTreeSet<NodeId> = others.iter().map(|p| p.id).collect();
    let holding = |m: &openraft::RaftMetrics<NodeId, BasicNode>| -> BTreeSet<NodeId> {
        learners
            .iter()
            .copied()
            .filter(|id| {
                m.replication.as_ref().is_some_and(|r| {
                    r.get(id)
                        .copied()
                        .flatten()
                        .is_some_and(|matched| matched.index >= target)
                })
            })
            .collect()
    };
    let _ = raft
        .wait(Some(STEP_TIMEOUT))
        .metrics(|m| holding(m) == learners, "every learner holds the log")
        .await;
    let ready = holding(&raft.metrics().borrow());
    let promoted: BTreeSet<NodeId> = voters.union(&ready).copied().collect();
    let majority = promoted.len() * 2 > all.len();
    if ready.is_empty() || !(promoted == all || majority) {
        return Step::Waiting(format!(
            "learners {:?} of {:?} do not hold the log yet",
            learners.difference(&ready).collect::<Vec<_>>(),
            learners
        ));
    }
    match tokio::time::timeout(STEP_TIMEOUT, raft.change_membership(promoted.clone(), true)).await {
        Ok(Ok(_)) if promoted == all => {
            tracing::info!(node = config.id, voters = ?all, "cluster formed");
            Step::Formed
        }
        Ok(Ok(_)) => Step::Waiting(format!(
            "voters {promoted:?}; learners {:?} do not hold the log yet",
            learners.difference(&ready).collect::<Vec<_>>()
        )),
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
