//! RocksDB storage behind openraft's traits: the Raft log and vote ([`log_store`]),
//! the applied sale state and its snapshots ([`state_machine`]).
//!
//! One RocksDB instance per node with three column families:
//! `log` (index → entry), `meta` (vote, committed, purged) and `snapshot`
//! (the latest snapshot of the sale state). Log appends and votes are written
//! with `sync = true`: nothing is acknowledged before it is on disk.

// openraft's trait signatures fix the error type (`StorageError`, > 128 bytes);
// helpers return the same type so errors pass through unchanged.
#![allow(clippy::result_large_err)]

pub mod log_store;
pub mod snapshot_file;
pub mod state_machine;

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, Options, DB};

pub use log_store::LogStore;
pub use state_machine::{ApplyObserver, SharedMachine, StateMachineStore, StoredSnapshot};

use crate::raft_types::{NodeId, StorageError};

/// Column family for log entries.
pub(crate) const CF_LOG: &str = "log";
/// Column family for the vote, the committed log id and the purge point.
pub(crate) const CF_META: &str = "meta";
/// Column family for the latest snapshot.
pub(crate) const CF_SNAPSHOT: &str = "snapshot";

/// Failure opening the node's database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open RocksDB at {path}: {source}")]
    RocksDb {
        path: String,
        source: rocksdb::Error,
    },
    #[error("stored snapshot at {path} is unreadable: {reason}")]
    Snapshot { path: String, reason: String },
}

/// Opens (or creates) the node's database and builds both stores over it.
pub fn open(dir: &Path) -> Result<(LogStore, StateMachineStore), OpenError> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    let cfs = [CF_LOG, CF_META, CF_SNAPSHOT]
        .into_iter()
        .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
    let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(|source| OpenError::RocksDb {
        path: dir.display().to_string(),
        source,
    })?;
    let db = Arc::new(db);
    let sm = StateMachineStore::open(db.clone()).map_err(|e| OpenError::Snapshot {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok((LogStore::new(db), sm))
}

/// Writes `snapshot` into the fresh database at `dir`, with an empty log that
/// continues after it and `vote` as the starting term (see [`crate::restore`]).
/// The database is closed again when this returns.
pub fn seed(
    dir: &Path,
    snapshot: &StoredSnapshot,
    vote: &openraft::Vote<NodeId>,
) -> Result<(), SeedError> {
    let last = snapshot
        .meta
        .last_log_id
        .ok_or_else(|| SeedError::Write("the snapshot has no log id".into()))?;
    let (log, sm) = open(dir).map_err(|e| SeedError::Write(e.to_string()))?;
    let write = |r: Result<(), StorageError>| r.map_err(|e| SeedError::Write(e.to_string()));
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
