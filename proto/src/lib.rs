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

/// The list of every RPC, generated from the `.proto` files: what the node's
/// access rules and the attack tests are checked against.
pub mod rpcs {
    /// One RPC of the contract.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Rpc {
        /// Its HTTP/2 path, `/package.Service/Method`.
        pub path: &'static str,
        /// Whether the server answers with a stream.
        pub server_streaming: bool,
    }

    include!(concat!(env!("OUT_DIR"), "/rpcs.rs"));
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
