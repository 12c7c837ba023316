//! The operator calls: node status, membership changes, snapshots, backups, audit export.
//!
//! Status and snapshots are about one specific node, so they go to that node
//! only (no failover: asking another node would answer a different
//! question). Membership changes go to the leader like any write.

use ingressoja_codes::NodeCode;
use ingressoja_proto::admin::admin_client::AdminClient;
use ingressoja_proto::admin::{
    AddLearnerRequest, AuditPage, AuditRequest, BackupHeader, BackupRequest,
    ChangeMembershipRequest, MembershipReply, NodeStatus, SaleExport, SaleExportRequest,
    SnapshotReply, SnapshotRequest, StatusRequest,
};
use tokio::time::timeout;
use tonic::{Response, Status};

use crate::classify::{classify, Verdict};
use crate::client::Client;
use crate::cluster::Target;
use crate::error::ClientError;

/// Largest sale export accepted (gRPC's default of 4 MiB is about 60 000 tickets).
const EXPORT_MESSAGE_LIMIT: usize = 256 * 1024 * 1024;

/// A backup as the leader streamed it: the header, and the encoded state.
/// `ingressoja backup` checks it and writes it as a backup file.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupCopy {
    pub header: BackupHeader,
    pub data: Vec<u8>,
}

/// What one node said when asked for its status, or why it could not be asked.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReport {
    /// The `host:port` the client asked.
    pub addr: String,
    /// The node's own view of itself and the cluster.
    pub status: Result<NodeStatus, ClientError>,
}

impl Client {
    /// The status of the node at `addr` (which need not be one the client
    /// knows; it is not added to the failover rotation). Fails with [`ClientError::Transport`] if it cannot be reached
    /// within the request timeout.
    pub async fn node_status(&self, addr: &str) -> Result<NodeStatus, ClientError> {
        self.status_of(addr, false).await
    }

    /// [`Client::node_status`] without the state hash (`state_hash` empty):
    /// for callers that poll roles and progress. The hash encodes the whole
    /// state under the node's lock, which at a million fans stops it
    /// applying for a second or more per call.
    pub async fn node_progress(&self, addr: &str) -> Result<NodeStatus, ClientError> {
        self.status_of(addr, true).await
    }

    async fn status_of(
        &self,
        addr: &str,
        skip_state_hash: bool,
    ) -> Result<NodeStatus, ClientError> {
        let target = self.cluster().target_for(addr)?;
        self.on_node(target, |mut admin| async move {
            admin.status(StatusRequest { skip_state_hash }).await
        })
        .await
    }

    /// Asks every known node for its status at once, then the members those
    /// nodes report that the client did not know yet (and learns them, so
    /// nodes added since start-up are listed and used for failover). One
    /// report per node, known nodes first; a down node costs one request
    /// timeout, not the sum.
    pub async fn cluster_status(&self) -> Vec<NodeReport> {
        self.reports(false).await
    }

    /// [`Client::cluster_status`] without the state hashes (see
    /// [`Client::node_progress`]): for finding the leader and following
    /// catch-up.
    pub async fn cluster_progress(&self) -> Vec<NodeReport> {
        self.reports(true).await
    }

    async fn reports(&self, skip_state_hash: bool) -> Vec<NodeReport> {
        let known = self.known_nodes();
        let mut reports = self.statuses_of(known.clone(), skip_state_hash).await;
        let mut members: Vec<String> = reports
            .iter()
            .filter_map(|r| r.status.as_ref().ok())
            .flat_map(|s| s.members.iter().map(|m| m.addr.clone()))
            .filter(|addr| !known.contains(addr))
            .collect();
        members.sort();
        members.dedup();
        if !members.is_empty() {
            self.learn_nodes(&members);
            reports.extend(self.statuses_of(members, skip_state_hash).await);
        }
        reports
    }

    /// The status of each of `addrs`, asked concurrently.
    async fn statuses_of(&self, addrs: Vec<String>, skip_state_hash: bool) -> Vec<NodeReport> {
        let asks: Vec<_> = addrs
            .into_iter()
            .map(|addr| {
                let client = self.clone();
                tokio::spawn(async move {
                    let status = client.status_of(&addr, skip_state_hash).await;
                    NodeReport { addr, status }
                })
            })
            .collect();
        let mut reports = Vec::with_capacity(asks.len());
        for ask in asks {
            match ask.await {
                Ok(report) => reports.push(report),
                Err(join_error) => tracing::warn!(%join_error, "status query task failed"),
            }
        }
        reports
    }

    /// Adds node `id`, serving Raft and gRPC at `addr`, as a learner (a
    /// non-voting member that catches up on the log).
    pub async fn add_learner(&self, id: u64, addr: &str) -> Result<MembershipReply, ClientError> {
        self.with_failover(|target| {
            let request = AddLearnerRequest {
                id,
                addr: addr.to_string(),
            };
            async move {
                AdminClient::new(target.channel)
                    .add_learner(request)
                    .await
                    .map(Response::into_inner)
            }
        })
        .await
    }

    /// Makes `voters` the voting members (other members become learners or
    /// leave, as the node decides).
    pub async fn change_membership(
        &self,
        voters: Vec<u64>,
    ) -> Result<MembershipReply, ClientError> {
        self.with_failover(|target| {
            let request = ChangeMembershipRequest {
                voters: voters.clone(),
            };
            async move {
                AdminClient::new(target.channel)
                    .change_membership(request)
                    .await
                    .map(Response::into_inner)
            }
        })
        .await
    }

    /// A consistent copy of the whole sale state, from the leader after a
    /// read barrier (so it holds every write acknowledged before the call).
    /// The sale goes on while it is taken.
    pub async fn backup(&self) -> Result<BackupCopy, ClientError> {
        self.with_failover(|target| async move {
            let mut stream = AdminClient::new(target.channel)
                .backup(BackupRequest {})
                .await?
                .into_inner();
            let header = match stream.message().await? {
                Some(chunk) => chunk.header.ok_or_else(|| {
                    Status::data_loss("backup stream did not start with its header")
                })?,
                None => return Err(Status::data_loss("backup stream was empty")),
            };
            let mut data = Vec::with_capacity(usize::try_from(header.data_len).unwrap_or(0));
            while let Some(chunk) = stream.message().await? {
                data.extend_from_slice(&chunk.data);
            }
            Ok(BackupCopy { header, data })
        })
        .await
    }

    /// The applied counters, tickets and queue of the node at `addr`, as that
    /// node has them (no leader check): for checkers comparing replicas.
    pub async fn export_sale(&self, addr: &str) -> Result<SaleExport, ClientError> {
        let target = self.cluster().target_for(addr)?;
        self.on_node(target, |admin| async move {
            admin
                .max_decoding_message_size(EXPORT_MESSAGE_LIMIT)
                .export_sale(SaleExportRequest {})
                .await
        })
        .await
    }

    /// Makes the node at `addr` snapshot its state now (and so let it purge
    /// its log up to there).
    pub async fn trigger_snapshot(&self, addr: &str) -> Result<SnapshotReply, ClientError> {
        let target = self.cluster().target_for(addr)?;
        self.on_node(target, |mut admin| async move {
            admin.trigger_snapshot(SnapshotRequest {}).await
        })
        .await
    }

    /// Up to `limit` audit records of the node at `addr` from seq `from_seq`
    /// on (`limit` 0 lets the node pick, 1000). Each node answers from its
    /// own chain, leader or not, so nodes can be compared.
    pub async fn export_audit(
        &self,
        addr: &str,
        from_seq: u64,
        limit: u32,
    ) -> Result<AuditPage, ClientError> {
        let target = self.cluster().target_for(addr)?;
        self.on_node(target, |mut admin| async move {
            admin.export_audit(AuditRequest { from_seq, limit }).await
        })
        .await
    }

    /// One admin call on one node, bounded by the request timeout.
    async fn on_node<T, F, Fut>(&self, target: Target, op: F) -> Result<T, ClientError>
    where
        F: FnOnce(AdminClient<tonic::transport::Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<Response<T>, Status>>,
    {
        let request_timeout = self.inner.options.request_timeout;
        let reply = timeout(request_timeout, op(AdminClient::new(target.channel))).await;
        match reply {
            Ok(Ok(reply)) => Ok(reply.into_inner()),
            Ok(Err(status)) => Err(match classify(&status) {
                Verdict::Fail(error) => error,
                Verdict::NotLeader { .. } => {
                    ClientError::refused(NodeCode::NotLeader, status.message())
                }
                Verdict::Retry { reason, timed_out } => {
                    if timed_out {
                        self.cluster().reset_channel(&target.addr);
                    }
                    ClientError::Transport(format!("{}: {reason}", target.addr))
                }
            }),
            Err(_elapsed) => {
                self.cluster().reset_channel(&target.addr);
                Err(ClientError::Transport(format!(
                    "{}: no answer within {}",
                    target.addr,
                    crate::failover::pretty(request_timeout)
                )))
            }
        }
    }
}
