//! Typed, validated configuration of an IngressoJá node.
//!
//! A node is started from one TOML file describing who it is (its Raft id),
//! where it keeps its state, where it listens, who the initial voters are and
//! how Raft, snapshots and ticket holds are tuned. This crate turns that file
//! into a [`NodeConfig`] and refuses anything inconsistent *before* the node
//! touches its storage or the network, with an error that names the offending
//! field (`peers[2].addr: invalid socket address "x:y": ...`).
//!
//! Ready-made cluster layouts live beside the crate in `configs/`.

#![warn(missing_docs)]

mod addr;
mod error;
mod listen;
mod node;
mod parse;
mod peer;
mod raft;
mod sale;
mod snapshot;

#[cfg(test)]
mod shipped_configs;
#[cfg(test)]
mod test_support;

pub use error::ConfigError;
pub use listen::ListenConfig;
pub use node::NodeConfig;
pub use peer::PeerConfig;
pub use raft::RaftTimingConfig;
pub use sale::SaleConfig;
pub use snapshot::SnapshotPolicy;
