//! Raft traffic between nodes over tonic: the [`client`] side (openraft's
//! `RaftNetwork`) and the [`server`] side (the `RaftTransport` gRPC service).
//!
//! openraft messages are JSON inside the protobuf envelopes; this module is
//! the only place that encodes or decodes them.

pub mod client;
pub mod server;

pub use client::NetworkFactory;
pub use server::RaftTransportService;
