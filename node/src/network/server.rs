//! The receiving side of Raft RPCs: decodes openraft messages and hands them to the local Raft.

use ingressoja_proto::raft::raft_transport_server::RaftTransport;
use ingressoja_proto::raft::{RaftPayload, SnapshotChunk};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Response, Status};

use crate::raft_types::{NodeId, Raft, TypeConfig};

/// Serves Raft RPCs from peers to this node's Raft instance.
pub struct RaftTransportService {
    raft: Raft,
}

impl RaftTransportService {
    /// Wraps the local Raft instance.
    pub fn new(raft: Raft) -> Self {
        RaftTransportService { raft }
    }
}

fn decode<T: DeserializeOwned>(field: &str, bytes: &[u8]) -> Result<T, Status> {
    serde_json::from_slice(bytes)
        .map_err(|e| Status::invalid_argument(format!("{field}: undecodable Raft message: {e}")))
}

fn reply<T: Serialize>(result: &T) -> Result<Response<RaftPayload>, Status> {
    let data = serde_json::to_vec(result)
        .map_err(|e| Status::internal(format!("cannot encode Raft reply: {e}")))?;
    Ok(Response::new(RaftPayload { data }))
}

#[tonic::async_trait]
impl RaftTransport for RaftTransportService {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = decode("data", &request.into_inner().data)?;
        reply(&self.raft.append_entries(rpc).await)
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc: VoteRequest<NodeId> = decode("data", &request.into_inner().data)?;
        reply(&self.raft.vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        request: Request<SnapshotChunk>,
    ) -> Result<Response<RaftPayload>, Status> {
        let chunk = request.into_inner();
        let rpc = InstallSnapshotRequest::<TypeConfig> {
            vote: decode("vote", &chunk.vote)?,
            meta: decode("meta", &chunk.meta)?,
            offset: chunk.offset,
            data: chunk.data,
            done: chunk.done,
        };
        reply(&self.raft.install_snapshot(rpc).await)
    }
}
