//! The sending side of Raft RPCs: one lazily connected tonic channel per peer.
//!
//! Channels reconnect by themselves; every call carries openraft's deadline,
//! so a dead or partitioned peer costs a timeout, never a hang. openraft asks
//! for a new client for every leadership check (each linearizable read) and
//! every vote, so the factory keeps one channel per peer address and hands
//! out clones (HTTP/2 multiplexes them); a connection per read would cost a
//! TCP and HTTP/2 handshake on every read barrier.
//!
//! A call whose deadline expired is reported to openraft as a timeout, not
//! as an unreachable peer: openraft answers "unreachable" by sending that
//! peer nothing for 500 ms, so one reply a few milliseconds past the 100 ms
//! append deadline (a follower busy for a moment on a 2-core machine) froze
//! replication to it for half a second, and two such followers froze the
//! commit — the apply stalls of the festival run. A timeout is retried at
//! openraft's next step instead. A peer that keeps timing out
//! ([`TIMEOUTS_BEFORE_UNREACHABLE`] in a row: partitioned, its packets
//! dropped) is reported unreachable again, so openraft backs off rather
//! than re-encoding and re-sending to it every 100 ms.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use ingressoja_proto::raft::raft_transport_client::RaftTransportClient;
use ingressoja_proto::raft::{RaftPayload, SnapshotChunk};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RaftMetrics};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::cluster_clock::ClusterClock;
use crate::member::MemberGuard;
use crate::raft_types::{NodeId, TypeConfig};

/// Deadlines missed in a row after which a peer counts as unreachable.
pub const TIMEOUTS_BEFORE_UNREACHABLE: u32 = 3;

/// Builds a [`PeerClient`] for each peer openraft replicates to.
#[derive(Clone)]
pub struct NetworkFactory {
    /// This node's id (named in the timeouts it reports).
    id: NodeId,
    connect_timeout: Duration,
    /// Mutual TLS to peers (this node's certificate); `None` in
    /// `insecure_dev`. Replaced on a certificate reload.
    tls: Arc<RwLock<Option<ClientTlsConfig>>>,
    /// One channel per peer address, shared by every client for that peer.
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    /// Bumped by each [`NetworkFactory::set_tls`]: a [`PeerClient`] made
    /// before re-dials at its next call (openraft keeps one per replication
    /// stream for as long as the leadership lasts).
    generation: Arc<AtomicU64>,
    /// This node's cluster id, stamped on every message (`None` in tests of
    /// the transport alone: messages then carry none).
    member: Option<Arc<MemberGuard>>,
    /// Raft's metrics, for whether a target is a learner (stamped on every
    /// message, see [`crate::member`]); set once Raft exists. Until then a
    /// target counts as a voter, the answer that never lets a blank node
    /// act as one.
    metrics: Arc<OnceLock<watch::Receiver<RaftMetrics<NodeId, BasicNode>>>>,
    /// Where each peer's clock, read from its replies, goes (see
    /// [`crate::cluster_clock`]); `None` in tests of the transport alone.
    clock: Option<Arc<ClusterClock>>,
}

impl NetworkFactory {
    /// Clients of node `id`; `connect_timeout` bounds a TCP connect to a
    /// peer; `tls` is this node's client side of mutual TLS (`None`: plaintext).
    pub fn new(id: NodeId, connect_timeout: Duration, tls: Option<ClientTlsConfig>) -> Self {
        NetworkFactory {
            id,
            connect_timeout,
            tls: Arc::new(RwLock::new(tls)),
            generation: Arc::default(),
            channels: Arc::default(),
            member: None,
            metrics: Arc::default(),
            clock: None,
        }
    }

    /// Records each peer's clock from its replies in `clock`.
    pub fn with_clock(mut self, clock: Arc<ClusterClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Notes `target`'s clock from a reply to a call sent at `sent`.
    fn heard_clock(&self, target: NodeId, reply: &RaftPayload, sent: std::time::Instant) {
        if let Some(clock) = &self.clock {
            clock.observe(
                target,
                reply.sender_clock_ms,
                sent,
                std::time::Instant::now(),
            );
        }
    }

    /// Stamps every message with `member`'s cluster id.
    pub fn with_member(mut self, member: Arc<MemberGuard>) -> Self {
        self.member = Some(member);
        self
    }

    /// Reads who the learners are from Raft's `metrics` from now on.
    pub fn watch_membership(&self, metrics: watch::Receiver<RaftMetrics<NodeId, BasicNode>>) {
        let _ = self.metrics.set(metrics);
    }

    /// This node's cluster id (empty while it has none).
    fn cluster_id(&self) -> String {
        self.member
            .as_ref()
            .and_then(|m| m.cluster_id())
            .unwrap_or_default()
    }

    /// Whether this node's Raft knows `target` as a learner (a node in its
    /// membership that is a voter in neither half of a joint one). Anything
    /// not known — no metrics yet, or metrics published before Raft loaded
    /// its membership, which are empty — counts as a voter, the answer that
    /// never lets a blank node act as one.
    fn is_learner(&self, target: NodeId) -> bool {
        self.metrics.get().is_some_and(|m| {
            m.borrow()
                .membership_config
                .membership()
                .learner_ids()
                .any(|id| id == target)
        })
    }

    /// Calls peers with `tls` from now on: channels made before are
    /// forgotten, so the next client openraft asks for dials afresh (the
    /// ones in use finish with the certificate they were made with).
    pub fn set_tls(&self, tls: Option<ClientTlsConfig>) {
        *self.tls.write().unwrap_or_else(|p| p.into_inner()) = tls;
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The channel to `addr`, made (lazily connected) on first use (also
    /// for [`crate::formation`]'s status calls to peers).
    pub(crate) fn channel(&self, addr: &str) -> Result<Channel, String> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(channel) = channels.get(addr) {
            return Ok(channel.clone());
        }
        let tls = self.tls.read().unwrap_or_else(|p| p.into_inner()).clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|e| e.to_string())?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5));
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls).map_err(|e| e.to_string())?;
        }
        let channel = endpoint.connect_lazy();
        channels.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        let generation = self.generation.load(Ordering::SeqCst);
        let client = self.channel(&node.addr).map(RaftTransportClient::new);
        PeerClient {
            id: self.id,
            target,
            timeouts_in_a_row: 0,
            addr: node.addr.clone(),
            client,
            factory: self.clone(),
            generation,
        }
    }
}

/// The connection to one peer.
pub struct PeerClient {
    id: NodeId,
    target: NodeId,
    /// Calls that missed their deadline since the last answer.
    timeouts_in_a_row: u32,
    addr: String,
    client: Result<RaftTransportClient<Channel>, String>,
    /// Where a new channel comes from after a certificate reload.
    factory: NetworkFactory,
    /// The factory's generation `client` was made in.
    generation: u64,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, E>>;

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, NetworkError> {
    serde_json::to_vec(value).map_err(|e| NetworkError::new(&e))
}

impl PeerClient {
    fn client<E: std::error::Error>(&mut self) -> RpcResult<RaftTransportClient<Channel>, E> {
        let now = self.factory.generation.load(Ordering::SeqCst);
        if now != self.generation {
            self.client = self
                .factory
                .channel(&self.addr)
                .map(RaftTransportClient::new);
            self.generation = now;
        }
        self.client.clone().map_err(|reason| {
            let e = std::io::Error::other(format!("bad peer address {:?}: {reason}", self.addr));
            RPCError::Unreachable(Unreachable::new(&e))
        })
    }

    /// Decodes a `Result<T, RaftError<..>>` sent back by the peer.
    fn decode<T, E>(&self, payload: RaftPayload) -> RpcResult<T, E>
    where
        T: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let result: Result<T, E> = serde_json::from_slice(&payload.data)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl PeerClient {
    /// A failed call as openraft's error: an expired deadline is a
    /// [`Timeout`] (retried at openraft's next step) unless the peer missed
    /// [`TIMEOUTS_BEFORE_UNREACHABLE`] in a row, a peer that cannot be
    /// reached is [`Unreachable`] (openraft backs off), the rest is a
    /// network error.
    fn status_to_rpc<E: std::error::Error>(
        &mut self,
        status: tonic::Status,
        action: RPCTypes,
        option: &RPCOption,
    ) -> RPCError<NodeId, BasicNode, E> {
        // tonic's own deadline answers `Cancelled` with this message (other
        // cancellations, a connection dropped, are not deadlines); a
        // peer's deadline answers `DeadlineExceeded`.
        let deadline = status.code() == tonic::Code::DeadlineExceeded
            || (status.code() == tonic::Code::Cancelled && status.message() == "Timeout expired");
        if !deadline {
            self.timeouts_in_a_row = 0;
            return match status.code() {
                tonic::Code::Unavailable | tonic::Code::Cancelled => {
                    RPCError::Unreachable(Unreachable::new(&status))
                }
                _ => RPCError::Network(NetworkError::new(&status)),
            };
        }
        self.timeouts_in_a_row = self.timeouts_in_a_row.saturating_add(1);
        if self.timeouts_in_a_row >= TIMEOUTS_BEFORE_UNREACHABLE {
            return RPCError::Unreachable(Unreachable::new(&status));
        }
        RPCError::Timeout(Timeout {
            action,
            id: self.id,
            target: self.target,
            timeout: option.hard_ttl(),
        })
    }

    /// Notes an answer: the peer is reachable again.
    fn answered(&mut self) {
        self.timeouts_in_a_row = 0;
    }
}

fn with_deadline<T>(message: T, option: &RPCOption) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(option.hard_ttl());
    request
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
        let payload = RaftPayload {
            data: encode(&rpc).map_err(RPCError::Network)?,
            cluster_id: self.factory.cluster_id(),
            to_learner: self.factory.is_learner(self.target),
            ..RaftPayload::default()
        };
        let sent = std::time::Instant::now();
        let reply = self
            .client()?
            .append_entries(with_deadline(payload, &option))
            .await
            .map_err(|s| self.status_to_rpc(s, RPCTypes::AppendEntries, &option))?
            .into_inner();
        self.answered();
        self.factory.heard_clock(self.target, &reply, sent);
        self.decode(reply)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        let chunk = SnapshotChunk {
            vote: encode(&rpc.vote).map_err(RPCError::Network)?,
            meta: encode(&rpc.meta).map_err(RPCError::Network)?,
            offset: rpc.offset,
            data: rpc.data,
            done: rpc.done,
            cluster_id: self.factory.cluster_id(),
            to_learner: self.factory.is_learner(self.target),
        };
        let reply = self
            .client()?
            .install_snapshot(with_deadline(chunk, &option))
            .await
            .map_err(|s| self.status_to_rpc(s, RPCTypes::InstallSnapshot, &option))?
            .into_inner();
        self.answered();
        // A snapshot chunk's reply is slow by nature: no clock reading.
        self.decode(reply)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, RaftError<NodeId>> {
        let payload = RaftPayload {
            data: encode(&rpc).map_err(RPCError::Network)?,
            cluster_id: self.factory.cluster_id(),
            ..RaftPayload::default()
        };
        let sent = std::time::Instant::now();
        let reply = self
            .client()?
            .vote(with_deadline(payload, &option))
            .await
            .map_err(|s| self.status_to_rpc(s, RPCTypes::Vote, &option))?
            .into_inner();
        self.answered();
        self.factory.heard_clock(self.target, &reply, sent);
        self.decode(reply)
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, LogId, Vote};

    use super::*;

    /// A peer that accepts connections and never answers (a follower
    /// frozen for a moment): the call's deadline expires.
    async fn silent_peer() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("bound").to_string();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        (addr, held)
    }

    #[tokio::test]
    async fn an_append_past_its_deadline_is_a_timeout_until_the_peer_keeps_missing_them() {
        let (addr, _held) = silent_peer().await;
        let mut factory = NetworkFactory::new(1, Duration::from_millis(300), None);
        let mut peer = factory.new_client(2, &BasicNode { addr }).await;
        let append = || AppendEntriesRequest::<TypeConfig> {
            vote: Vote::new_committed(1, 1),
            prev_log_id: Some(LogId::new(CommittedLeaderId::new(1, 1), 1)),
            leader_commit: None,
            entries: Vec::new(),
        };
        let option = || RPCOption::new(Duration::from_millis(100));
        for missed in 1..TIMEOUTS_BEFORE_UNREACHABLE {
            let error = peer
                .append_entries(append(), option())
                .await
                .expect_err("nobody answers");
            match error {
                RPCError::Timeout(t) => {
                    assert_eq!((t.action, t.id, t.target), (RPCTypes::AppendEntries, 1, 2));
                    assert_eq!(t.timeout, Duration::from_millis(100));
                }
                other => panic!(
                    "deadline {missed} missed must be a timeout (no 500 ms backoff): {other:?}"
                ),
            }
        }
        // Still silent: now it counts as unreachable, and openraft backs off.
        let error = peer
            .append_entries(append(), option())
            .await
            .expect_err("nobody answers");
        assert!(
            matches!(error, RPCError::Unreachable(_)),
            "a peer that keeps missing deadlines is unreachable: {error:?}"
        );
    }

    #[test]
    fn only_a_node_known_as_a_learner_is_told_so() {
        use std::collections::{BTreeMap, BTreeSet};
        let factory = NetworkFactory::new(1, Duration::from_millis(300), None);
        // No metrics yet: everyone counts as a voter.
        assert!(!factory.is_learner(2));
        // Metrics published before Raft loaded its membership (a leader
        // restored at start-up replicates before its first report): empty.
        let (tx, rx) = tokio::sync::watch::channel(RaftMetrics::new_initial(1));
        factory.watch_membership(rx);
        assert!(
            !factory.is_learner(2),
            "an empty membership names no learner"
        );
        let node = || BasicNode {
            addr: "127.0.0.1:1".into(),
        };
        let membership = openraft::Membership::new(
            vec![BTreeSet::from([1])],
            BTreeMap::from([(1, node()), (2, node())]),
        );
        tx.send_modify(|m| {
            m.membership_config = Arc::new(openraft::StoredMembership::new(None, membership));
        });
        assert!(factory.is_learner(2));
        assert!(!factory.is_learner(1), "a voter");
        assert!(!factory.is_learner(3), "unknown");
    }

    #[tokio::test]
    async fn a_peer_that_refuses_connections_is_unreachable() {
        // Bound then dropped: nothing listens there any more.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .to_string();
        let mut factory = NetworkFactory::new(1, Duration::from_millis(300), None);
        let mut peer = factory.new_client(3, &BasicNode { addr }).await;
        let error = peer
            .vote(
                VoteRequest::new(Vote::new(2, 1), None),
                RPCOption::new(Duration::from_millis(500)),
            )
            .await
            .expect_err("nobody listens");
        assert!(
            matches!(error, RPCError::Unreachable(_)),
            "a refused connection is unreachable: {error:?}"
        );
    }
}
