//! The openraft type configuration: what a log entry carries and what applying it returns.

use std::io::Cursor;

use crate::machine::{Answer, Proposal};

openraft::declare_raft_types!(
    /// IngressoJá's Raft types: entries carry a [`Proposal`] of sale requests,
    /// applying one returns an [`Answer`] per request.
    pub TypeConfig:
        D = Proposal,
        R = Vec<Answer>,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// Node id in the cluster.
pub type NodeId = u64;
/// A running Raft instance of this node.
pub type Raft = openraft::Raft<TypeConfig>;
/// A Raft log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// Storage error as openraft expects it.
pub type StorageError = openraft::StorageError<NodeId>;
/// A log id (term, leader, index).
pub type LogId = openraft::LogId<NodeId>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
/// Membership as stored with the state.
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
