//! The sending side of Raft RPCs: one lazily connected tonic channel per peer.
//!
//! Channels reconnect by themselves; every call carries openraft's deadline,
//! so a dead or partitioned peer costs a timeout, never a hang. openraft asks
//! for a new client for every leadership check (each linearizable read) and
//! every vote, so the factory keeps one channel per peer address and hands
//! out clones (HTTP/2 multiplexes them); a connection per read would cost a
//! TCP and HTTP/2 handshake on every read barrier.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ingressoja_proto::raft::raft_transport_client::RaftTransportClient;
use ingressoja_proto::raft::{RaftPayload, SnapshotChunk};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};

use crate::raft_types::{NodeId, TypeConfig};

/// Builds a [`PeerClient`] for each peer openraft replicates to.
#[derive(Clone)]
pub struct NetworkFactory {
    connect_timeout: Duration,
    /// One channel per peer address, shared by every client for that peer.
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

impl NetworkFactory {
    /// `connect_timeout` bounds a TCP connect to a peer.
    pub fn new(connect_timeout: Duration) -> Self {
        NetworkFactory {
            connect_timeout,
            channels: Arc::default(),
        }
    }

    /// The channel to `addr`, made (lazily connected) on first use.
    fn channel(&self, addr: &str) -> Result<Channel, String> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(channel) = channels.get(addr) {
            return Ok(channel.clone());
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .map(|e| {
                e.connect_timeout(self.connect_timeout)
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(5))
                    .keep_alive_timeout(Duration::from_secs(5))
                    .connect_lazy()
            })
            .map_err(|e| e.to_string())?;
        channels.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        let client = self.channel(&node.addr).map(RaftTransportClient::new);
        PeerClient {
            target,
            addr: node.addr.clone(),
            client,
        }
    }
}

/// The connection to one peer.
pub struct PeerClient {
    target: NodeId,
    addr: String,
    client: Result<RaftTransportClient<Channel>, String>,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, E>>;

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, NetworkError> {
    serde_json::to_vec(value).map_err(|e| NetworkError::new(&e))
}

impl PeerClient {
    fn client<E: std::error::Error>(&self) -> RpcResult<RaftTransportClient<Channel>, E> {
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

fn status_to_rpc<E: std::error::Error>(status: tonic::Status) -> RPCError<NodeId, BasicNode, E> {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            RPCError::Unreachable(Unreachable::new(&status))
        }
        _ => RPCError::Network(NetworkError::new(&status)),
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
        let data = encode(&rpc).map_err(RPCError::Network)?;
        let reply = self
            .client()?
            .append_entries(with_deadline(RaftPayload { data }, &option))
            .await
            .map_err(status_to_rpc)?;
        self.decode(reply.into_inner())
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
        };
        let reply = self
            .client()?
            .install_snapshot(with_deadline(chunk, &option))
            .await
            .map_err(status_to_rpc)?;
        self.decode(reply.into_inner())
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, RaftError<NodeId>> {
        let data = encode(&rpc).map_err(RPCError::Network)?;
        let reply = self
            .client()?
            .vote(with_deadline(RaftPayload { data }, &option))
            .await
            .map_err(status_to_rpc)?;
        self.decode(reply.into_inner())
    }
}
