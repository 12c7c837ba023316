//! The gRPC contract of IngressoJá, generated from `proto/*.proto`.
//!
//! Three services: [`raft`] (node to node), [`ticketing`] (buyers) and
//! [`admin`] (operators). The metadata keys below are how typed errors travel
//! inside a gRPC status, so clients can act on them without parsing text.

/// Raft transport between nodes.
pub mod raft {
    tonic::include_proto!("ingressoja.raft.v1");
}

/// Buyer-facing ticketing service.
pub mod ticketing {
    tonic::include_proto!("ingressoja.ticketing.v1");
}

mod call_error;
mod secret_debug;
pub mod submit;

/// Operator-facing admin service.
pub mod admin {
    tonic::include_proto!("ingressoja.admin.v1");
}

/// Status metadata key holding the machine-readable error code (`sold_out`, `not_leader`, ...).
pub const ERROR_CODE_KEY: &str = "ingressoja-error";
/// Status metadata key holding the current leader's node id on a `not_leader` answer.
pub const LEADER_ID_KEY: &str = "ingressoja-leader-id";
/// Status metadata key holding the current leader's gRPC address on a `not_leader` answer.
pub const LEADER_ADDR_KEY: &str = "ingressoja-leader-addr";
