//! The operator-facing `Admin` gRPC service: status, membership changes, snapshots.

use std::collections::BTreeSet;
use std::time::Duration;

use ingressoja_proto::admin as pb;
use ingressoja_proto::admin::admin_server::Admin;
use openraft::{BasicNode, ServerState};
use tonic::{Request, Response, Status};

use crate::error::ServiceError;
use crate::raft_types::{NodeId, Raft};
use crate::storage::SharedMachine;

/// Serves operators: every node answers `Status`; membership changes go to the leader.
pub struct AdminService {
    raft: Raft,
    state: SharedMachine,
    addr: String,
}

impl AdminService {
    /// A service for the node advertised at `addr`.
    pub fn new(raft: Raft, state: SharedMachine, addr: String) -> Self {
        AdminService { raft, state, addr }
    }

    fn members(&self) -> Vec<pb::Member> {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, node)| pb::Member {
                id: *id,
                addr: node.addr.clone(),
                voter: voters.contains(id),
            })
            .collect()
    }
}

fn role(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn status(
        &self,
        _request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::NodeStatus>, Status> {
        let metrics = self.raft.metrics().borrow().clone();
        let leader_addr = metrics
            .current_leader
            .and_then(|id| {
                metrics
                    .membership_config
                    .membership()
                    .get_node(&id)
                    .cloned()
            })
            .map(|n| n.addr)
            .unwrap_or_default();
        let (state_hash, audit_head, audit_len) = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            let audit = state.machine.audit();
            (
                hex::encode(state.machine.state_hash()),
                hex::encode(audit.head()),
                audit.len() as u64,
            )
        };
        Ok(Response::new(pb::NodeStatus {
            id: metrics.id,
            addr: self.addr.clone(),
            role: role(metrics.state).to_string(),
            term: metrics.current_term,
            leader_id: metrics.current_leader.unwrap_or(0),
            leader_addr,
            last_log_index: metrics.last_log_index.unwrap_or(0),
            applied_index: metrics.last_applied.map(|l| l.index).unwrap_or(0),
            snapshot_index: metrics.snapshot.map(|l| l.index).unwrap_or(0),
            purged_index: metrics.purged.map(|l| l.index).unwrap_or(0),
            members: self.members(),
            state_hash,
            audit_head,
            audit_len,
        }))
    }

    async fn add_learner(
        &self,
        request: Request<pb::AddLearnerRequest>,
    ) -> Result<Response<pb::MembershipReply>, Status> {
        let r = request.into_inner();
        if r.id == 0 {
            return Err(ServiceError::bad_request("id", "must be positive").into());
        }
        if r.addr.is_empty() {
            return Err(ServiceError::bad_request("addr", "must not be empty").into());
        }
        let response = self
            .raft
            .add_learner(r.id, BasicNode { addr: r.addr }, true)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::MembershipReply {
            members: self.members(),
            log_index: response.log_id.index,
        }))
    }

    async fn change_membership(
        &self,
        request: Request<pb::ChangeMembershipRequest>,
    ) -> Result<Response<pb::MembershipReply>, Status> {
        let voters: BTreeSet<NodeId> = request.into_inner().voters.into_iter().collect();
        if voters.is_empty() {
            return Err(
                ServiceError::bad_request("voters", "at least one voter is required").into(),
            );
        }
        let response = self
            .raft
            .change_membership(voters, false)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::MembershipReply {
            members: self.members(),
            log_index: response.log_id.index,
        }))
    }

    async fn export_audit(
        &self,
        request: Request<pb::AuditRequest>,
    ) -> Result<Response<pb::AuditPage>, Status> {
        let r = request.into_inner();
        let limit = match r.limit {
            0 => 1_000,
            n => n.min(10_000) as usize,
        };
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let audit = state.machine.audit();
        let records = audit
            .page(r.from_seq, limit)
            .iter()
            .map(|a| pb::AuditRecord {
                seq: a.seq,
                log_index: a.log_index,
                ts_ms: a.ts_ms,
                actor: a.actor.clone(),
                action: a.action.clone(),
                outcome: a.outcome.clone(),
                ids: a.ids.clone(),
                prev_hash: hex::encode(a.prev_hash),
                hash: hex::encode(a.hash),
            })
            .collect();
        Ok(Response::new(pb::AuditPage {
            records,
            audit_len: audit.len() as u64,
            audit_head: hex::encode(audit.head()),
            applied_index: state.last_applied.map(|l| l.index).unwrap_or(0),
        }))
    }

    async fn trigger_snapshot(
        &self,
        _request: Request<pb::SnapshotRequest>,
    ) -> Result<Response<pb::SnapshotReply>, Status> {
        let target = self
            .raft
            .metrics()
            .borrow()
            .last_applied
            .map(|l| l.index)
            .unwrap_or(0);
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        let mut metrics = self.raft.metrics();
        let wait = async {
            loop {
                let index = metrics.borrow().snapshot.map(|l| l.index).unwrap_or(0);
                if index >= target {
                    return index;
                }
                if metrics.changed().await.is_err() {
                    return index;
                }
            }
        };
        let snapshot_index = tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .map_err(|_| ServiceError::Unavailable("snapshot did not finish within 30 s".into()))?;
        Ok(Response::new(pb::SnapshotReply { snapshot_index }))
    }
}
