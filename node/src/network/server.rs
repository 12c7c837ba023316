//! The receiving side of Raft RPCs: decodes openraft messages and hands them to the local Raft.

use ingressoja_proto::raft::raft_transport_server::RaftTransport;
use ingressoja_proto::raft::{RaftPayload, SnapshotChunk};
use std::sync::Arc;

use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, VoteRequest,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Response, Status};

use crate::member::{MemberGuard, Refusal};
use crate::proposer::wall_clock_ms;
use crate::raft_types::{NodeId, Raft, TypeConfig};
use crate::service::access::Caller;

/// A refused Raft message, as the gRPC status its sender sees (and logs).
fn refused(rpc: &str, refusal: Refusal) -> Status {
    match refusal {
        Refusal::Storage(_) => Status::unavailable(format!("{rpc}: {refusal}")),
        _ => Status::failed_precondition(format!("{rpc}: {refusal}")),
    }
}

/// Refuses a Raft message whose claimed sender (the node id in its vote) is
/// not the node named by the caller's certificate: a node may speak for
/// itself only, so a stolen follower's key cannot pose as the leader.
fn check_sender(caller: &Caller, claimed: NodeId, rpc: &str) -> Result<(), Status> {
    match caller {
        Caller::Verified(identity) if identity.node_id() != Some(claimed) => {
            Err(Status::permission_denied(format!(
                "{rpc} claims to come from node {claimed}, but the caller's certificate is {identity}"
            )))
        }
        Caller::Unknown => Err(Status::permission_denied(format!(
            "{rpc}: the caller was never checked (served without the access layer)"
        ))),
        _ => Ok(()),
    }
}

/// Serves Raft RPCs from peers to this node's Raft instance, after the
/// membership checks of [`crate::member`].
pub struct RaftTransportService {
    raft: Raft,
    member: Arc<MemberGuard>,
}

impl RaftTransportService {
    /// Wraps the local Raft instance.
    pub fn new(raft: Raft, member: Arc<MemberGuard>) -> Self {
        RaftTransportService { raft, member }
    }
}

fn decode<T: DeserializeOwned>(field: &str, bytes: &[u8]) -> Result<T, Status> {
    serde_json::from_slice(bytes)
        .map_err(|e| Status::invalid_argument(format!("{field}: undecodable Raft message: {e}")))
}

fn reply<T: Serialize>(result: &T) -> Result<Response<RaftPayload>, Status> {
    let data = serde_json::to_vec(result)
        .map_err(|e| Status::internal(format!("cannot encode Raft reply: {e}")))?;
    Ok(Response::new(RaftPayload {
        data,
        sender_clock_ms: wall_clock_ms(),
        ..RaftPayload::default()
    }))
}

#[tonic::async_trait]
impl RaftTransport for RaftTransportService {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let caller = Caller::of(&request);
        let payload = request.into_inner();
        let rpc: AppendEntriesRequest<TypeConfig> = decode("data", &payload.data)?;
        check_sender(
            &caller,
            rpc.vote.leader_id().voted_for().unwrap_or_default(),
            "AppendEntries",
        )?;
        self.member
            .admit_entries(&payload.cluster_id, !payload.to_learner)
            .map_err(|r| refused("AppendEntries", r))?;
        let result = self.raft.append_entries(rpc).await;
        // Anything but a higher vote means Raft saved the leader's vote.
        if matches!(&result, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_))) {
            self.member.holds_state();
        }
        reply(&result)
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let caller = Caller::of(&request);
        let payload = request.into_inner();
        let rpc: VoteRequest<NodeId> = decode("data", &payload.data)?;
        check_sender(
            &caller,
            rpc.vote.leader_id().voted_for().unwrap_or_default(),
            "Vote",
        )?;
        self.member
            .admit_vote(&payload.cluster_id)
            .map_err(|r| refused("Vote", r))?;
        reply(&self.raft.vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        request: Request<SnapshotChunk>,
    ) -> Result<Response<RaftPayload>, Status> {
        let caller = Caller::of(&request);
        let chunk = request.into_inner();
        let vote: openraft::Vote<NodeId> = decode("vote", &chunk.vote)?;
        check_sender(
            &caller,
            vote.leader_id().voted_for().unwrap_or_default(),
            "InstallSnapshot",
        )?;
        self.member
            .admit_entries(&chunk.cluster_id, !chunk.to_learner)
            .map_err(|r| refused("InstallSnapshot", r))?;
        let rpc = InstallSnapshotRequest::<TypeConfig> {
            vote,
            meta: decode("meta", &chunk.meta)?,
            offset: chunk.offset,
            data: chunk.data,
            done: chunk.done,
        };
        let done = rpc.done;
        let result = self.raft.install_snapshot(rpc).await;
        // openraft saves nothing (not even the vote) before the last chunk.
        if done && result.is_ok() {
            self.member.holds_state();
        }
        reply(&result)
    }
}
