//! The operator-facing `Admin` gRPC service: status, membership changes, snapshots.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use sha2::{Digest, Sha256};

use ingressoja_proto::admin as pb;
use ingressoja_proto::admin::admin_server::Admin;
use openraft::{BasicNode, ServerState};
use tonic::{Request, Response, Status};

use crate::backup::{BackupHeader, MACHINE_FORMAT};
use crate::error::ServiceError;
use crate::member::MemberGuard;
use crate::proposer::wall_clock_ms;
use crate::raft_types::{NodeId, Raft};
use crate::storage::state_machine::AppliedState;
use crate::storage::{read_copy, AuditStore, SharedMachine, WholeStateGate};

/// Serves operators: every node answers `Status`; membership changes go to the leader.
pub struct AdminService {
    raft: Raft,
    state: SharedMachine,
    audit: AuditStore,
    addr: String,
    /// Hashes, backups and exports run in the node's lane for whole-state
    /// work, shared with snapshot builds.
    whole_state: WholeStateGate,
    /// The cluster this node belongs to, reported by `Status`.
    member: Arc<MemberGuard>,
}

impl AdminService {
    /// A service for the node advertised at `addr`, reading the audit
    /// chain's records from `audit` and doing whole-state work in
    /// `whole_state` (the state machine store's lane).
    pub fn new(
        raft: Raft,
        state: SharedMachine,
        audit: AuditStore,
        whole_state: WholeStateGate,
        addr: String,
        member: Arc<MemberGuard>,
    ) -> Self {
        AdminService {
            raft,
            state,
            audit,
            addr,
            whole_state,
            member,
        }
    }

    /// Runs `work` on a copy of the whole state in the node's lane (see
    /// [`WholeStateGate`]).
    async fn off_the_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        self.whole_state
            .run(work)
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Refuses a membership change on a node that does not lead, naming the
    /// leader it knows. openraft answers "forward to leader" itself only
    /// once it knows a membership: a blank node (waiting to be added) would
    /// otherwise try the change on its own empty membership and refuse it
    /// as invalid, and the client would not look further.
    fn ensure_leader(&self) -> Result<(), ServiceError> {
        let metrics = self.raft.metrics().borrow().clone();
        if metrics.state == ServerState::Leader {
            return Ok(());
        }
        let leader_addr = metrics.current_leader.and_then(|id| {
            metrics
                .membership_config
                .membership()
                .get_node(&id)
                .map(|n| n.addr.clone())
        });
        Err(ServiceError::NotLeader {
            leader_id: metrics.current_leader,
            leader_addr,
        })
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

/// The pieces a backup is streamed in: small enough for gRPC's default limits.
const BACKUP_CHUNK_BYTES: usize = 1024 * 1024;

/// A backup as streamed to the operator: the header, then the state in chunks.
pub type BackupStream = Pin<Box<dyn Stream<Item = Result<pb::BackupChunk, Status>> + Send>>;

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
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::NodeStatus>, Status> {
        let with_hash = !request.into_inner().skip_state_hash;
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
        // The applied index is read under the same lock as the hash it is
        // paired with (Raft's metrics may already count a later entry), so
        // `cluster status` never reports replicas at one index with two hashes.
        // The hash is computed from a copy taken under the lock (O(1)), not
        // under the lock itself: applying goes on while it is encoded.
        let (applied_index, audit_head, audit_len, copy) = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            let audit = state.journal.audit();
            (
                state.last_applied.map(|l| l.index).unwrap_or(0),
                hex::encode(audit.head()),
                audit.len(),
                with_hash.then(|| state.clone()),
            )
        };
        // Empty when skipped (see `StatusRequest.skip_state_hash`).
        let state_hash = match copy {
            Some(state) => hex::encode(self.off_the_runtime(move || state.state_hash()).await?),
            None => String::new(),
        };
        Ok(Response::new(pb::NodeStatus {
            id: metrics.id,
            addr: self.addr.clone(),
            role: role(metrics.state).to_string(),
            term: metrics.current_term,
            leader_id: metrics.current_leader.unwrap_or(0),
            leader_addr,
            last_log_index: metrics.last_log_index.unwrap_or(0),
            applied_index,
            snapshot_index: metrics.snapshot.map(|l| l.index).unwrap_or(0),
            purged_index: metrics.purged.map(|l| l.index).unwrap_or(0),
            members: self.members(),
            state_hash,
            audit_head,
            audit_len,
            cluster_id: self.member.cluster_id().unwrap_or_default(),
            blank: self.member.is_blank(),
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
        self.ensure_leader()?;
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
        self.ensure_leader()?;
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
        // The length, head and index are read together; the records below
        // that length are on disk before the length counts them.
        let (audit_len, audit_head, applied_index) = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            let audit = state.journal.audit();
            (
                audit.len(),
                hex::encode(audit.head()),
                state.last_applied.map(|l| l.index).unwrap_or(0),
            )
        };
        let records = self
            .audit
            .page(r.from_seq, limit, audit_len)
            .map_err(|e| ServiceError::Internal(format!("reading the audit chain: {e}")))?
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
            audit_len,
            audit_head,
            applied_index,
        }))
    }

    async fn export_sale(
        &self,
        _request: Request<pb::SaleExportRequest>,
    ) -> Result<Response<pb::SaleExport>, Status> {
        // A copy (O(1) under the lock): the export is built without holding it.
        let state = read_copy(&self.state);
        let export = self.off_the_runtime(move || sale_export(&state)).await?;
        Ok(Response::new(export))
    }

    type BackupStream = BackupStream;

    async fn backup(
        &self,
        _request: Request<pb::BackupRequest>,
    ) -> Result<Response<BackupStream>, Status> {
        // The read barrier makes the copy include every write acknowledged
        // before the request; writes go on while a copy of the state (taken
        // under the read lock in O(1)) is encoded.
        self.raft
            .ensure_linearizable()
            .await
            .map_err(ServiceError::from)?;
        let state = read_copy(&self.state);
        let (log_id, audit_head, audit_len) = (
            state.last_applied,
            hex::encode(state.journal.audit().head()),
            state.journal.audit().len(),
        );
        let (drained, state_hash) = self
            .off_the_runtime(move || {
                let drained = state.encode();
                let state_hash = hex::encode(Sha256::digest(&drained));
                (drained, state_hash)
            })
            .await?;
        // A backup carries the whole chain: its records, read from disk
        // (those below the length never change), go back inline.
        let records = self
            .audit
            .encoded_up_to(audit_len)
            .map_err(|e| ServiceError::Internal(format!("reading the audit chain: {e}")))?;
        let data = crate::machine::with_audit_records(&drained, audit_len, &records)
            .map_err(|e| ServiceError::Internal(format!("assembling the backup: {e}")))?;
        let log_id = log_id.ok_or_else(|| {
            ServiceError::Unavailable("nothing applied yet: there is no state to back up".into())
        })?;
        let header = BackupHeader {
            node_id: self.raft.metrics().borrow().id,
            log_index: log_id.index,
            log_term: log_id.leader_id.term,
            log_leader: log_id.leader_id.node_id,
            // The hash `cluster status` shows for this state.
            state_hash,
            audit_head,
            audit_len,
            data_len: data.len() as u64,
            machine_format: MACHINE_FORMAT,
            created_ms: wall_clock_ms(),
        };
        tracing::info!(log_index = log_id.index, bytes = data.len(), "backup taken");
        let mut chunks = vec![Ok(pb::BackupChunk {
            header: Some(header.into()),
            data: Vec::new(),
        })];
        chunks.extend(data.chunks(BACKUP_CHUNK_BYTES).map(|c| {
            Ok(pb::BackupChunk {
                header: None,
                data: c.to_vec(),
            })
        }));
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
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
        let mut metrics = self.raft.metrics();
        // openraft drops a trigger that arrives while a snapshot (an
        // automatic one, say) is being built; that one may end below
        // `target`, so trigger again until a snapshot covers it.
        let wait = async {
            loop {
                self.raft
                    .trigger()
                    .snapshot()
                    .await
                    .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
                let until = tokio::time::Instant::now() + Duration::from_millis(250);
                loop {
                    let index = metrics.borrow().snapshot.map(|l| l.index).unwrap_or(0);
                    if index >= target {
                        return Ok::<u64, ServiceError>(index);
                    }
                    match tokio::time::timeout_at(until, metrics.changed()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return Ok(index),
                        Err(_) => break,
                    }
                }
            }
        };
        let snapshot_index: u64 = tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .map_err(|_| ServiceError::Unavailable("snapshot did not finish within 30 s".into()))?
            .map_err(Status::from)?;
        Ok(Response::new(pb::SnapshotReply { snapshot_index }))
    }
}

/// Every category, queue place and ticket of `state`, for `ExportSale`.
fn sale_export(state: &AppliedState) -> pb::SaleExport {
    let machine = &state.machine;
    let mut export = pb::SaleExport {
        applied_index: state.last_applied.map(|l| l.index).unwrap_or(0),
        state_hash: hex::encode(state.state_hash()),
        audit_head: hex::encode(state.journal.audit().head()),
        ..Default::default()
    };
    for event in machine.sale_events() {
        for category in event.categories.values() {
            export.categories.push(pb::ExportedCategory {
                event_id: event.event_id.clone(),
                category_id: category.spec.category_id.clone(),
                capacity: category.spec.capacity,
                sold: category.sold,
                held: category.held,
                per_customer_limit: category.spec.per_customer_limit,
            });
        }
        if let Some(queue) = &event.queue {
            let line = queue.line.iter().zip(1..);
            let pre = queue.pre_queue.iter().map(|c| (c, 0));
            for (customer, seq) in line.chain(pre) {
                export.queue.push(pb::ExportedQueueEntry {
                    event_id: event.event_id.clone(),
                    customer_id: customer.clone(),
                    seq,
                });
            }
        }
    }
    export.tickets = machine
        .tickets()
        .map(|t| pb::ExportedTicket {
            ticket_id: t.ticket_id.to_string(),
            event_id: t.event_id.clone(),
            category_id: t.category_id.clone(),
            customer_id: t.customer_id.clone(),
            hold_id: t.hold_id,
        })
        .collect();
    export
}
