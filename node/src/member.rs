//! Which cluster a node's data directory belongs to, and what a node whose
//! directory is blank may answer.
//!
//! Raft is safe only while every voter remembers its vote and the entries
//! it acknowledged. A voter whose disk was lost and that comes back with
//! the same id and an empty directory remembers neither: it would vote for
//! a candidate that lacks a purchase it had acknowledged, or acknowledge a
//! deposed leader's entries, and that purchase could be overwritten on every
//! node. So:
//!
//! - every data directory carries a [`MemberMarker`] (cluster id and node
//!   id). The bootstrap node mints the cluster id when it forms the cluster
//!   ([`crate::formation`]); any other node adopts it from the first
//!   entries it accepts from a leader; `restore` writes one for the new
//!   cluster. A directory of another node does not start;
//! - every Raft message carries its sender's cluster id, and a node refuses
//!   messages of another cluster (a copy restored from a backup, a wiped
//!   bootstrap node that formed a cluster of its own);
//! - a node whose storage is blank never votes, and accepts entries only
//!   from a leader that counts it as a learner (each message says). Every
//!   member enters a cluster as a learner — formation adds the other peers
//!   as learners and promotes them once they hold the log, `cluster
//!   add-node` does the same — so a blank node counted as a voter is one
//!   that lost its disk. It refuses, says so in its log, and waits for the
//!   runbook: `cluster remove-node`, then `cluster add-node`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::raft_types::NodeId;
use crate::storage::MarkerStore;

/// What a data directory says about its owner: written once, checked at every start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMarker {
    /// The cluster this directory's Raft state belongs to.
    pub cluster_id: String,
    /// The node that owns this directory.
    pub node_id: NodeId,
}

/// A fresh cluster id: 128 random bits, in hex.
pub fn new_cluster_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The id of a cluster restored from a backup: derived from the backup, so
/// every host restoring the same file for one new cluster agrees on it
/// without talking, and it differs from the cluster the backup was taken of.
pub fn restored_cluster_id(backup_state_hash: &str, backup_log_index: u64) -> String {
    let mut hash = Sha256::new();
    hash.update(b"ingressoja restored cluster");
    hash.update(backup_state_hash.as_bytes());
    hash.update(backup_log_index.to_be_bytes());
    format!("restored-{}", hex::encode(&hash.finalize()[..12]))
}

/// Why a node cannot use its data directory.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// The directory's marker names another node.
    #[error("the data directory belongs to node {found} of cluster {cluster}, not to node {configured}: point `data_dir` at this node's own directory")]
    OtherNode {
        /// The node the marker names.
        found: NodeId,
        /// This node's configured id.
        configured: NodeId,
        /// The cluster the marker names.
        cluster: String,
    },
    /// The marker could not be read or written.
    #[error("member marker: {0}")]
    Storage(String),
}

/// Why a Raft message was refused (converted to a gRPC status by the transport).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The sender belongs to another cluster.
    #[error("this node belongs to cluster {ours}, the sender to cluster {theirs}")]
    OtherCluster {
        /// This node's cluster.
        ours: String,
        /// The sender's.
        theirs: String,
    },
    /// A vote asked of a node with blank storage.
    #[error("node {node} has a blank data directory: it votes only after it joined as a learner and holds the log")]
    BlankVote {
        /// This node.
        node: NodeId,
    },
    /// Entries sent to a blank node by a leader that counts it as a voter.
    #[error("node {node} has a blank data directory but the leader counts it as a voter: the entries it acknowledged before are lost. Remove it (`ingressoja cluster remove-node --id {node} --force`), then add it back (`ingressoja cluster add-node --id {node} --addr ...`)")]
    BlankVoter {
        /// This node.
        node: NodeId,
    },
    /// The marker could not be written before accepting.
    #[error("cannot record the cluster id: {0}")]
    Storage(String),
}

/// This node's membership facts, checked on every Raft message it receives
/// and stamped on every one it sends (cheap to share).
pub struct MemberGuard {
    node_id: NodeId,
    store: MarkerStore,
    cluster_id: RwLock<Option<String>>,
    /// True while the storage holds no Raft state (no vote, log or snapshot).
    blank: AtomicBool,
    /// Whether the blank-voter refusal was logged at error level yet (once
    /// per process: the leader retries at every heartbeat).
    warned: AtomicBool,
}

impl MemberGuard {
    /// Reads the directory's marker and whether its storage is blank;
    /// refuses a directory of another node.
    pub fn open(node_id: NodeId, store: MarkerStore) -> Result<Arc<Self>, MemberError> {
        let marker = store.read().map_err(MemberError::Storage)?;
        if let Some(marker) = &marker {
            if marker.node_id != node_id {
                return Err(MemberError::OtherNode {
                    found: marker.node_id,
                    configured: node_id,
                    cluster: marker.cluster_id.clone(),
                });
            }
        }
        let blank = store.is_blank().map_err(MemberError::Storage)?;
        Ok(Arc::new(MemberGuard {
            node_id,
            store,
            cluster_id: RwLock::new(marker.map(|m| m.cluster_id)),
            blank: AtomicBool::new(blank),
            warned: AtomicBool::new(false),
        }))
    }

    /// The cluster this node belongs to, once known.
    pub fn cluster_id(&self) -> Option<String> {
        self.cluster_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// True while this node's storage holds no Raft state.
    pub fn is_blank(&self) -> bool {
        self.blank.load(Ordering::SeqCst)
    }

    /// Records `cluster_id` as this directory's cluster (durably, before
    /// anything of that cluster is accepted). A no-op if one is recorded.
    fn adopt(&self, cluster_id: &str) -> Result<(), String> {
        let mut ours = self.cluster_id.write().unwrap_or_else(|p| p.into_inner());
        if ours.is_some() {
            return Ok(());
        }
        self.store.write(&MemberMarker {
            cluster_id: cluster_id.to_string(),
            node_id: self.node_id,
        })?;
        tracing::info!(node = self.node_id, cluster = cluster_id, "joined cluster");
        *ours = Some(cluster_id.to_string());
        Ok(())
    }

    /// Forms a new cluster: mints and records its id (the bootstrap node, on blank storage).
    pub fn form(&self) -> Result<String, MemberError> {
        let id = new_cluster_id();
        self.adopt(&id).map_err(MemberError::Storage)?;
        Ok(self.cluster_id().unwrap_or(id))
    }

    /// Checks a message's cluster id against ours (an empty one is a sender
    /// that has none yet, e.g. a node upgraded from before cluster ids).
    fn same_cluster(&self, theirs: &str) -> Result<(), Refusal> {
        match self.cluster_id() {
            Some(ours) if !theirs.is_empty() && ours != theirs => Err(Refusal::OtherCluster {
                ours,
                theirs: theirs.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// May this node answer a vote request from a node of `cluster_id`?
    pub fn admit_vote(&self, cluster_id: &str) -> Result<(), Refusal> {
        self.same_cluster(cluster_id)?;
        if self.is_blank() {
            return Err(Refusal::BlankVote { node: self.node_id });
        }
        Ok(())
    }

    /// May this node take entries (or a snapshot) from a leader of
    /// `cluster_id` that counts it as a voter or not? On the first yes, a
    /// node without a cluster id records the leader's.
    pub fn admit_entries(&self, cluster_id: &str, to_voter: bool) -> Result<(), Refusal> {
        self.same_cluster(cluster_id)?;
        if self.is_blank() && to_voter {
            let refusal = Refusal::BlankVoter { node: self.node_id };
            if !self.warned.swap(true, Ordering::SeqCst) {
                tracing::error!(node = self.node_id, "{refusal}");
            }
            return Err(refusal);
        }
        if !cluster_id.is_empty() {
            self.adopt(cluster_id).map_err(Refusal::Storage)?;
        }
        Ok(())
    }

    /// Raft has taken entries, a snapshot or a membership: the storage is not blank any more.
    pub fn holds_state(&self) {
        self.blank.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard_in(dir: &std::path::Path, node: NodeId) -> Result<Arc<MemberGuard>, MemberError> {
        let (log, _sm) = crate::storage::open(dir).expect("opens");
        MemberGuard::open(node, log.marker_store())
    }

    #[test]
    fn a_blank_directory_votes_for_nobody_and_takes_entries_only_as_a_learner() {
        let dir = tempfile::tempdir().unwrap();
        let guard = guard_in(dir.path(), 2).unwrap();
        assert!(guard.is_blank());
        assert_eq!(guard.cluster_id(), None);
        assert_eq!(guard.admit_vote("c1"), Err(Refusal::BlankVote { node: 2 }));
        assert_eq!(
            guard.admit_entries("c1", true),
            Err(Refusal::BlankVoter { node: 2 })
        );
        // Refused entries adopt nothing.
        assert_eq!(guard.cluster_id(), None);
        guard.admit_entries("c1", false).unwrap();
        assert_eq!(guard.cluster_id().as_deref(), Some("c1"));
        // Still blank until Raft has taken something.
        assert!(guard.admit_vote("c1").is_err());
        guard.holds_state();
        guard.admit_vote("c1").unwrap();
        guard.admit_entries("c1", true).unwrap();
    }

    #[test]
    fn messages_of_another_cluster_are_refused_and_the_id_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let guard = guard_in(dir.path(), 1).unwrap();
            let id = guard.form().unwrap();
            assert_eq!(guard.cluster_id(), Some(id));
        }
        let guard = guard_in(dir.path(), 1).unwrap();
        let ours = guard.cluster_id().expect("recorded");
        assert_eq!(
            guard.admit_entries("other", false),
            Err(Refusal::OtherCluster {
                ours: ours.clone(),
                theirs: "other".into()
            })
        );
        assert!(matches!(
            guard.admit_vote("other"),
            Err(Refusal::OtherCluster { .. })
        ));
        // A sender without an id (an older node) is not refused for it.
        guard.admit_entries("", false).unwrap();
        assert_eq!(guard.cluster_id(), Some(ours));
    }

    #[test]
    fn a_directory_of_another_node_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        guard_in(dir.path(), 1).unwrap().form().unwrap();
        let err = guard_in(dir.path(), 2).err().expect("refused");
        let text = err.to_string();
        assert!(
            text.contains("belongs to node 1") && text.contains("not to node 2"),
            "{text}"
        );
    }

    #[test]
    fn restored_cluster_ids_are_shared_by_one_backup_and_differ_between_backups() {
        let a = restored_cluster_id("ab12", 10);
        assert_eq!(a, restored_cluster_id("ab12", 10));
        assert_ne!(a, restored_cluster_id("ab12", 11));
        assert_ne!(a, restored_cluster_id("ab13", 10));
        assert_ne!(new_cluster_id(), new_cluster_id());
    }
}
