//! RocksDB storage behind openraft's traits: the Raft log and vote ([`log_store`]),
//! the applied sale state and its snapshots ([`state_machine`]).
//!
//! One RocksDB instance per node with four column families:
//! `log` (index → entry), `meta` (vote, committed, purged, and the
//! directory's member marker, [`marker_store`]), `snapshot`
//! (the latest snapshot of the sale state, sealed by [`snapshot_file`]) and
//! `audit` (the audit chain's records, [`audit_store`]). Log appends and
//! votes are written with `sync = true`: nothing is acknowledged before it
//! is on disk. A purge is written only once the snapshot it relies on is
//! durable (see [`log_store`]).

// openraft's trait signatures fix the error type (`StorageError`, > 128 bytes);
// helpers return the same type so errors pass through unchanged.
#![allow(clippy::result_large_err)]

pub mod audit_store;
pub mod log_store;
pub mod marker_store;
pub mod snapshot_file;
pub mod state_machine;
pub mod whole_state;

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod suite_tests;

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, Options, DB};

pub use audit_store::AuditStore;
pub use log_store::LogStore;
pub use marker_store::MarkerStore;
pub use snapshot_file::SnapshotFileError;
pub use state_machine::{
    read_copy, ApplyObserver, SharedMachine, SnapshotError, StartupGuard, StateMachineStore,
    StoredSnapshot,
};
pub use whole_state::{WholeStateError, WholeStateGate};

use crate::raft_types::{NodeId, StorageError};

/// Column family for log entries.
pub(crate) const CF_LOG: &str = "log";
/// Column family for the vote, the committed log id and the purge point.
pub(crate) const CF_META: &str = "meta";
/// Column family for the latest snapshot.
pub(crate) const CF_SNAPSHOT: &str = "snapshot";
/// Column family for the audit chain's records (see [`audit_store`]).
pub(crate) const CF_AUDIT: &str = "audit";

/// Failure opening the node's database: each names the directory and what
/// is wrong, so a node that cannot start says why instead of failing inside
/// openraft.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// RocksDB itself refused to open the directory.
    #[error("cannot open RocksDB at {path}: {source}")]
    RocksDb {
        /// The data directory.
        path: String,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// The stored snapshot is damaged, foreign, of an unknown version or unreadable.
    #[error("stored snapshot at {path} is unusable: {source}")]
    Snapshot {
        /// The data directory.
        path: String,
        /// What is wrong with it.
        source: SnapshotError,
    },
    /// The log is purged past what the stored snapshot covers: the entries in
    /// between exist nowhere on this node.
    #[error("the log at {path} is purged up to index {purged} but the stored snapshot covers {}: the entries in between are lost; this directory cannot start (restore it from a backup, or wipe it and add the node back as a learner)", snapshot.map_or_else(|| "nothing (there is no snapshot)".to_string(), |i| format!("only up to index {i}")))]
    PurgedPastSnapshot {
        /// The data directory.
        path: String,
        /// The purge point on disk.
        purged: u64,
        /// The last index of the stored snapshot, if there is one.
        snapshot: Option<u64>,
    },
    /// The log's metadata could not be read or its interrupted purge completed.
    #[error("the log at {path} is unreadable: {reason}")]
    Log {
        /// The data directory.
        path: String,
        /// What failed.
        reason: String,
    },
}

impl OpenError {
    fn at(self, dir: &Path) -> Self {
        let path = dir.display().to_string();
        match self {
            OpenError::PurgedPastSnapshot {
                purged, snapshot, ..
            } => OpenError::PurgedPastSnapshot {
                path,
                purged,
                snapshot,
            },
            OpenError::Log { reason, .. } => OpenError::Log { path, reason },
            other => other,
        }
    }
}

/// Opens (or creates) the node's database and builds both stores over it;
/// checks the stored snapshot and that the log does not reach past it.
pub fn open(dir: &Path) -> Result<(LogStore, StateMachineStore), OpenError> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    let cfs = [CF_LOG, CF_META, CF_SNAPSHOT, CF_AUDIT]
        .into_iter()
        .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
    let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(|source| OpenError::RocksDb {
        path: dir.display().to_string(),
        source,
    })?;
    let db = Arc::new(db);
    let (sm, durable) =
        StateMachineStore::open(db.clone()).map_err(|source| OpenError::Snapshot {
            path: dir.display().to_string(),
            source,
        })?;
    let log = LogStore::open(db, durable).map_err(|e| e.at(dir))?;
    Ok((log, sm))
}

/// Writes `snapshot` into the fresh database at `dir`, with an empty log that
/// continues after it, `vote` as the starting term and `marker` naming the
/// new cluster and node (see [`crate::restore`]). The database is closed
/// again when this returns.
pub fn seed(
    dir: &Path,
    snapshot: &StoredSnapshot,
    vote: &openraft::Vote<NodeId>,
    marker: &crate::member::MemberMarker,
) -> Result<(), SeedError> {
    let last = snapshot
        .meta
        .last_log_id
        .ok_or_else(|| SeedError::Write("the snapshot has no log id".into()))?;
    let (log, sm) = open(dir).map_err(|e| SeedError::Write(e.to_string()))?;
    let write = |r: Result<(), StorageError>| r.map_err(|e| SeedError::Write(e.to_string()));
    log.marker_store().write(marker).map_err(SeedError::Write)?;
    write(sm.write_snapshot(snapshot))?;
    write(log.seed_after_snapshot(last, vote))?;
    Ok(())
}

/// Failure seeding a database from a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot write the new database: {0}")]
    Write(String),
}
