//! Raft traffic between nodes over tonic: the [`client`] side (openraft's
//! `RaftNetwork`) and the [`server`] side (the `RaftTransport` gRPC service).
//!
//! openraft messages are JSON inside the protobuf envelopes; this module is
//! the only place that encodes or decodes them.

// openraft's trait signatures fix the error type (`RPCError`, > 128 bytes);
// helpers return the same type so errors pass through unchanged.
#![allow(clippy::result_large_err)]

pub mod client;
pub mod server;

pub use client::NetworkFactory;
pub use server::RaftTransportService;
