//! The node's service errors, converted once into gRPC statuses at the boundary.

use ingressoja_codes::{ErrorCode, NodeCode, PaymentCode, RejectionCode};
use ingressoja_proto::{ERROR_CODE_KEY, LEADER_ADDR_KEY, LEADER_ID_KEY};
use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};
use openraft::BasicNode;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::machine::Rejection;
use crate::raft_types::NodeId;

/// Everything a ticketing or admin call can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// The sale rules refused the command (a committed, deterministic outcome).
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// This node is not the leader; retry on `leader_addr` (empty if unknown).
    #[error("not the leader; leader is node {leader_id:?} at {leader_addr:?}")]
    NotLeader {
        leader_id: Option<NodeId>,
        leader_addr: Option<String>,
    },
    /// The leader cannot reach a quorum or Raft is shutting down: retry later.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// A request field is missing or malformed before reaching the machine.
    #[error("{field}: {reason}")]
    BadRequest { field: String, reason: String },
    /// Paying failed; nothing was sold. `message` says whether the hold was kept or released.
    #[error("{message}")]
    Payment { code: PaymentCode, message: String },
    /// An unknown hold or other missing item in a read.
    #[error("{0}")]
    NotFound(String),
    /// A storage or internal failure; logged with details.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// A [`ServiceError::BadRequest`] for `field`.
    pub fn bad_request(field: &str, reason: impl Into<String>) -> Self {
        ServiceError::BadRequest {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// The machine-readable code sent in the `ingressoja-error` metadata.
    ///
    /// A field refused here, before the machine, has the machine's own
    /// [`RejectionCode::InvalidField`]: to a client both are the same mistake.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::Rejected(r) => r.code().into(),
            ServiceError::NotLeader { .. } => NodeCode::NotLeader.into(),
            ServiceError::Unavailable(_) => NodeCode::Unavailable.into(),
            ServiceError::BadRequest { .. } => RejectionCode::InvalidField.into(),
            ServiceError::NotFound(_) => NodeCode::NotFound.into(),
            ServiceError::Internal(_) => NodeCode::Internal.into(),
            ServiceError::Payment { code, .. } => (*code).into(),
        }
    }

    fn grpc_code(&self) -> Code {
        match self {
            ServiceError::Rejected(r) => match r {
                Rejection::InvalidField { .. } => Code::InvalidArgument,
                Rejection::UnknownEvent(_)
                | Rejection::UnknownCategory { .. }
                | Rejection::HoldNotFound(_)
                | Rejection::UnknownCustomer(_)
                | Rejection::NotInQueue(_) => Code::NotFound,
                Rejection::EventExists(_)
                | Rejection::KeyReused { .. }
                | Rejection::CustomerExists(_)
                | Rejection::DuplicateDocument
                | Rejection::DuplicateEmail
                | Rejection::TotpAlreadyEnrolled(_) => Code::AlreadyExists,
                Rejection::QueueClosed { .. }
                | Rejection::NotAdmitted(_)
                | Rejection::SaleNotOpen { .. }
                | Rejection::LiveHoldExists(_)
                | Rejection::PaymentMissing(_)
                | Rejection::PaymentMismatch { .. } => Code::FailedPrecondition,
                Rejection::SoldOut { .. } => Code::ResourceExhausted,
                Rejection::HoldNotYours(_) | Rejection::TotpReplayed { .. } => {
                    Code::PermissionDenied
                }
                Rejection::LimitExceeded { .. }
                | Rejection::HoldExpired(_)
                | Rejection::HoldReleased(_)
                | Rejection::AlreadyPurchased(_) => Code::FailedPrecondition,
            },
            ServiceError::NotLeader { .. } | ServiceError::Unavailable(_) => Code::Unavailable,
            ServiceError::BadRequest { .. } => Code::InvalidArgument,
            ServiceError::NotFound(_) => Code::NotFound,
            ServiceError::Internal(_) => Code::Internal,
            ServiceError::Payment { .. } => Code::FailedPrecondition,
        }
    }
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Status {
        let mut status = Status::new(err.grpc_code(), err.to_string());
        let md = status.metadata_mut();
        md.insert(
            ERROR_CODE_KEY,
            MetadataValue::from_static(err.code().as_str()),
        );
        if let ServiceError::NotLeader {
            leader_id,
            leader_addr,
        } = &err
        {
            if let Some(id) = leader_id {
                if let Ok(v) = id.to_string().parse() {
                    md.insert(LEADER_ID_KEY, v);
                }
            }
            if let Some(Ok(v)) = leader_addr.as_ref().map(|a| a.parse()) {
                md.insert(LEADER_ADDR_KEY, v);
            }
        }
        status
    }
}

fn forward(f: ForwardToLeader<NodeId, BasicNode>) -> ServiceError {
    ServiceError::NotLeader {
        leader_id: f.leader_id,
        leader_addr: f.leader_node.map(|n| n.addr),
    }
}

impl From<RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>> for ServiceError {
    fn from(e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> Self {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => forward(f),
            RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
                ServiceError::bad_request("membership", c.to_string())
            }
            RaftError::Fatal(f) => ServiceError::Unavailable(f.to_string()),
        }
    }
}

impl From<RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>> for ServiceError {
    fn from(e: RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>) -> Self {
        match e {
            RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => forward(f),
            RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)) => {
                ServiceError::Unavailable(q.to_string())
            }
            RaftError::Fatal(f) => ServiceError::Unavailable(f.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_leader_carries_leader_address_in_metadata() {
        let status: Status = ServiceError::NotLeader {
            leader_id: Some(2),
            leader_addr: Some("127.0.0.1:7102".into()),
        }
        .into();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.metadata().get(ERROR_CODE_KEY).unwrap(), "not_leader");
        assert_eq!(status.metadata().get(LEADER_ID_KEY).unwrap(), "2");
        assert_eq!(
            status.metadata().get(LEADER_ADDR_KEY).unwrap(),
            "127.0.0.1:7102"
        );
    }

    #[test]
    fn rejections_keep_their_code() {
        let status: Status = ServiceError::from(Rejection::SoldOut {
            requested: 2,
            available: 1,
        })
        .into();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.metadata().get(ERROR_CODE_KEY).unwrap(), "sold_out");
        assert!(status.message().contains("2 requested, 1 available"));
    }

    #[test]
    fn every_service_error_sends_a_code_the_client_can_parse() {
        let errors = [
            ServiceError::bad_request("key.client_id", "must not be empty"),
            ServiceError::Unavailable("no quorum".into()),
            ServiceError::NotFound("hold 7".into()),
            ServiceError::Internal("disk".into()),
            ServiceError::Payment {
                code: PaymentCode::Declined,
                message: "declined; hold kept".into(),
            },
            ServiceError::from(Rejection::HoldExpired(7)),
        ];
        let wire = [
            "invalid_field",
            "unavailable",
            "not_found",
            "internal",
            "payment_declined",
            "hold_expired",
        ];
        for (error, wire) in errors.into_iter().zip(wire) {
            let code = error.code();
            let status: Status = error.into();
            let sent = status
                .metadata()
                .get(ERROR_CODE_KEY)
                .unwrap()
                .to_str()
                .unwrap();
            assert_eq!(sent, wire);
            assert_eq!(ErrorCode::parse(sent), Ok(code));
        }
    }
}
