//! Wiring a node together: storage, Raft, gRPC server, ticker — and taking it apart again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ingressoja_cluster_config::NodeConfig;
use ingressoja_proto::admin::admin_server::AdminServer;
use ingressoja_proto::raft::raft_transport_server::RaftTransportServer;
use ingressoja_proto::ticketing::ticketing_server::TicketingServer;
use openraft::{BasicNode, RaftMetrics, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

use crate::cluster_clock::ClusterClock;
use crate::listener::ServerTls;
use crate::member::MemberGuard;
use crate::metrics::NodeMetrics;
use crate::network::{NetworkFactory, RaftTransportService};
use crate::payment::FakeProvider;
use crate::proposer::Proposer;
use crate::raft_types::{NodeId, Raft};
use crate::service::access::{AccessLayer, AccessPolicy};
use crate::service::{AdminService, TicketingService};
use crate::storage::{self, AuditStore, SharedMachine};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Storage(#[from] storage::OpenError),
    #[error("invalid Raft configuration: {0}")]
    RaftConfig(String),
    #[error("cannot start Raft: {0}")]
    Raft(String),
    /// `INGRESSOJA_TEST_PLANTED_BUG` names no known bug (planted-bug builds only).
    #[cfg(feature = "planted-bugs")]
    #[error("{0}")]
    PlantedBug(String),
    /// The `[tls]` files are missing, unreadable, or not this node's.
    #[error("TLS: {0}")]
    Tls(#[from] ingressoja_pki::PkiError),
    /// The data directory belongs to another node, or its marker is unreadable.
    #[error(transparent)]
    Member(#[from] crate::member::MemberError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running node. Dropping it does not stop it: call [`NodeHandle::shutdown`].
pub struct NodeHandle {
    /// This node's id.
    pub id: NodeId,
    /// The Raft instance, for tests and the admin paths.
    pub raft: Raft,
    /// The applied sale state.
    pub state: SharedMachine,
    /// The audit chain's records on disk (the state holds its length and head).
    pub audit: AuditStore,
    /// The address the gRPC server actually listens on.
    pub grpc_addr: SocketAddr,
    /// The (fake) payment provider this node charges through.
    pub payments: Arc<FakeProvider>,
    /// The listener's TLS (`None` in `insecure_dev`).
    tls: Option<Arc<ServerTls>>,
    /// The Raft network, whose client certificate a reload replaces.
    network: NetworkFactory,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Most log entries in one AppendEntries. openraft 0.9 gives an append one
/// heartbeat interval (100 ms) to complete, and its default (300 entries,
/// each a group commit of up to 1 024 requests) let a follower that fell a
/// little behind under a flash sale's load get catch-up requests of tens of
/// megabytes that could never finish in time: retried forever, the follower
/// never caught up, and with both followers so the sale stopped. A few
/// entries per request always fit, and a follower catches up in steps.
pub const MAX_ENTRIES_PER_APPEND: u64 = 8;

/// Least applied entries behind each purge. openraft computes a purge only
/// right after it builds a snapshot (every `snapshot.logs_since_last`
/// entries), and our purge is one atomic batch (marker plus one range
/// deletion) written once that snapshot is durable: there is nothing to gain
/// from batching purges further, so every purge the policy allows is done.
pub const PURGE_BATCH_SIZE: u64 = 1;

/// The openraft configuration derived from ours.
///
/// How much log a node keeps, and so what a restart and a lagging follower
/// cost (ARCHITECTURE.md, "Storage and snapshots"):
///
/// - `snapshot_policy` = `LogsSinceLast(snapshot.logs_since_last)` (10 000
///   by default): a restarted node loads its snapshot and re-applies the
///   committed entries after it, so the tail it replays is bounded by this
///   (plus what was committed while that snapshot was written). Smaller
///   means shorter restarts but more snapshots; a snapshot no longer pauses
///   apply, but at a million fans each one still takes seconds of a core.
/// - `max_in_snapshot_log_to_keep` = `snapshot.max_logs_kept_after_snapshot`
///   (10 000 by default, as many as a snapshot interval): entries kept
///   behind the snapshot, so a follower that fell up to that many entries
///   behind the snapshot point (a restart, a short partition) is sent log
///   entries, not the snapshot. At a million fans a snapshot is about 400 MB
///   (800 MB with the audit records a follower gets inline): preparing it
///   pauses the leader's apply for seconds, and a restarted follower that
///   by every sign was sent one (one festival run of three) took 49 s and
///   7.2 GiB to catch up, where the others caught up from the log in about
///   15 s. The cost is disk: up to two snapshot intervals of log.
///   Tests set it to 0 to force snapshot installs.
/// - `purge_batch_size` = [`PURGE_BATCH_SIZE`].
pub fn raft_config(config: &NodeConfig) -> Result<Arc<openraft::Config>, StartError> {
    let raft = openraft::Config {
        cluster_name: "ingressoja".into(),
        heartbeat_interval: config.raft.heartbeat_interval_ms,
        election_timeout_min: config.raft.election_timeout_min_ms,
        election_timeout_max: config.raft.election_timeout_max_ms,
        install_snapshot_timeout: config.raft.rpc_timeout_ms.max(1_000),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot.logs_since_last),
        max_in_snapshot_log_to_keep: config.snapshot.max_logs_kept_after_snapshot,
        purge_batch_size: PURGE_BATCH_SIZE,
        snapshot_max_chunk_size: config.snapshot.chunk_size_bytes,
        max_payload_entries: MAX_ENTRIES_PER_APPEND,
        ..Default::default()
    };
    let raft = raft
        .validate()
        .map_err(|e| StartError::RaftConfig(e.to_string()))?;
    Ok(Arc::new(raft))
}

impl NodeHandle {
    /// Opens storage, starts Raft and the gRPC server, and bootstraps the cluster if told to.
    pub async fn start(config: &NodeConfig) -> Result<NodeHandle, StartError> {
        let started = std::time::Instant::now();
        let tls = load_tls(config)?;
        let metrics = Arc::new(NodeMetrics::default());
        let clock = Arc::new(ClusterClock::default());
        metrics.watch_clock(clock.clone());
        let (log_store, sm_store) = storage::open(&config.data_dir)?;
        let member = MemberGuard::open(config.id, log_store.marker_store())?;
        if member.is_blank() && !config.bootstrap {
            tracing::info!(
                node = config.id,
                "blank data directory: this node votes for nobody and waits to be added as a learner"
            );
        }
        let sm_store = sm_store.observed_by(metrics.clone());
        let state = sm_store.shared();
        let audit = sm_store.audit();
        let whole_state = sm_store.whole_state();
        // openraft's start-up reads only the current snapshot's metadata.
        let starting = sm_store.starting();
        let network = NetworkFactory::new(
            config.id,
            Duration::from_millis(config.raft.rpc_timeout_ms),
            tls.as_ref().map(|tls| tls.material().client_config()),
        )
        .with_member(member.clone())
        .with_clock(clock.clone());
        let raft = Raft::new(
            config.id,
            raft_config(config)?,
            network.clone(),
            log_store,
            sm_store,
        )
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;
        drop(starting);
        network.watch_membership(raft.metrics());

        let listener = TcpListener::bind(config.listen.grpc)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.listen.grpc,
                source,
            })?;
        let grpc_addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen.grpc,
            source,
        })?;
        let (shutdown, shutdown_rx) = watch::channel(false);

        let hold_ttl = Duration::from_secs(config.sale.hold_ttl_secs);
        #[cfg(feature = "planted-bugs")]
        let planted = crate::planted::PlantedBugs::from_env().map_err(StartError::PlantedBug)?;
        #[cfg(not(feature = "planted-bugs"))]
        crate::planted::warn_if_requested();
        // A clock that never hears the peers: stamps are this node's clock alone.
        #[cfg(feature = "planted-bugs")]
        let clock = if planted.stamps_own_clock() {
            Arc::new(ClusterClock::default())
        } else {
            clock
        };
        let payments = Arc::new(FakeProvider::default());
        let metrics_listener = match config.listen.metrics {
            Some(addr) => Some(
                crate::metrics::bind(addr)
                    .await
                    .map_err(|source| StartError::Listen { addr, source })?,
            ),
            None => None,
        };
        let proposer = Proposer::new(raft.clone(), metrics.commit_seconds.clone(), clock.clone());
        let ticketing = TicketingService::new(
            raft.clone(),
            proposer.clone(),
            state.clone(),
            hold_ttl,
            payments.clone(),
            metrics.clone(),
        );
        #[cfg(feature = "planted-bugs")]
        let ticketing = ticketing.with_planted_bugs(planted);
        let policy = match &tls {
            Some(tls) => AccessPolicy::Certificates {
                cluster: tls.material().identity().cluster().to_string(),
            },
            None => AccessPolicy::Open,
        };
        let router = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .layer(AccessLayer::new(policy))
            .add_service(RaftTransportServer::new(RaftTransportService::new(
                raft.clone(),
                member.clone(),
            )))
            .add_service(TicketingServer::new(ticketing))
            .add_service(AdminServer::new(AdminService::new(
                raft.clone(),
                state.clone(),
                audit.clone(),
                whole_state,
                config.advertise_addr().to_string(),
                member.clone(),
            )));
        let mut stop = shutdown_rx.clone();
        let signal = async move {
            let _ = stop.changed().await;
        };
        let mut tasks = Vec::new();
        let server = match &tls {
            // Our own handshakes, so the certificate can be reloaded.
            Some(tls) => {
                let (incoming, acceptor) = crate::listener::accept(listener, tls.clone());
                tasks.push(acceptor);
                tokio::spawn(async move {
                    if let Err(e) = router.serve_with_incoming_shutdown(incoming, signal).await {
                        tracing::error!(error = %e, "gRPC server failed");
                    }
                })
            }
            None => tokio::spawn(async move {
                // The builder's tcp_nodelay only reaches sockets tonic accepts
                // itself: set it on ours, or Nagle holds a reply's second frame
                // until the peer's delayed ACK (about 40 ms on Linux).
                let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
                if let Err(e) = router.serve_with_incoming_shutdown(incoming, signal).await {
                    tracing::error!(error = %e, "gRPC server failed");
                }
            }),
        };
        tasks.extend([
            server,
            crate::metrics::spawn_leader_watch(raft.clone(), metrics.clone(), shutdown_rx.clone()),
        ]);
        if let Some(listener) = metrics_listener {
            tasks.push(crate::metrics::spawn_server(
                listener,
                metrics.clone(),
                raft.clone(),
                state.clone(),
                shutdown_rx.clone(),
            ));
        }
        if config.bootstrap {
            tasks.push(tokio::spawn(crate::formation::run(
                raft.clone(),
                config.clone(),
                member.clone(),
                network.clone(),
                shutdown_rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(crate::ticker::run(
            proposer,
            raft.clone(),
            state.clone(),
            clock,
            shutdown_rx,
        )));
        tracing::info!(
            node = config.id,
            addr = %grpc_addr,
            start_ms = started.elapsed().as_millis() as u64,
            "node started"
        );
        Ok(NodeHandle {
            id: config.id,
            raft,
            state,
            audit,
            grpc_addr,
            payments,
            tls,
            network,
            shutdown,
            tasks,
        })
    }

    /// Reads the node's certificate, key and CA files again (what SIGHUP
    /// does): new connections, served and dialled, use them from now on;
    /// open ones finish with the old. A failed reload changes nothing.
    /// `None` when the node runs without TLS.
    pub fn reload_tls(&self) -> Result<Option<ingressoja_pki::Identity>, ingressoja_pki::PkiError> {
        let Some(tls) = &self.tls else {
            return Ok(None);
        };
        let identity = tls.reload()?;
        self.network.set_tls(Some(tls.material().client_config()));
        tracing::info!(node = self.id, %identity, "TLS certificate reloaded");
        Ok(Some(identity))
    }

    /// Resolves when Raft stops without being asked to (a storage error such
    /// as a failed fsync or a refused snapshot, or a panic in its core),
    /// with the reason. Such a node can only answer `unavailable` for ever,
    /// so the binary exits non-zero on it and its supervisor restarts it
    /// on its data directory (fail-stop, not a zombie).
    pub async fn stopped(&self) -> String {
        raft_stopped(self.raft.metrics()).await
    }

    /// Stops serving, stops Raft and releases the database, so the directory can be reopened.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        for task in self.tasks {
            let _ = task.await;
        }
        tracing::info!(node = self.id, "node stopped");
    }
}

/// Waits on Raft's metrics until they report that Raft is no longer
/// running; returns why (see [`NodeHandle::stopped`]).
async fn raft_stopped(mut metrics: watch::Receiver<RaftMetrics<NodeId, BasicNode>>) -> String {
    loop {
        if let Err(fatal) = &metrics.borrow_and_update().running_state {
            return fatal.to_string();
        }
        if metrics.changed().await.is_err() {
            return "Raft's metrics channel closed".into();
        }
    }
}

/// This node's TLS material, checked to name this node; `None` (with a
/// warning) in `insecure_dev`.
fn load_tls(config: &NodeConfig) -> Result<Option<Arc<ServerTls>>, StartError> {
    let Some(files) = &config.tls else {
        tracing::warn!(
            node = config.id,
            "insecure_dev: serving plaintext gRPC and letting any caller make any call \
             (Raft, credentials, admin); never run a real sale like this"
        );
        return Ok(None);
    };
    let tls = ServerTls::load(files, config.id)?;
    tracing::info!(node = config.id, identity = %tls.material().identity(), "mutual TLS on");
    Ok(Some(Arc::new(tls)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn raft_stopped_waits_for_a_fatal_error_and_names_it() {
        let (tx, rx) = watch::channel(RaftMetrics::new_initial(1));
        let waiting = tokio::spawn(raft_stopped(rx));
        // Running metrics (a new term, say) do not end the wait.
        tx.send_modify(|m| m.current_term = 2);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        tx.send_modify(|m| m.running_state = Err(openraft::error::Fatal::Panicked));
        assert_eq!(waiting.await.unwrap(), "panicked");
    }
}
