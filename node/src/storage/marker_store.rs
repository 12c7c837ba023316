//! The data directory's [`MemberMarker`] in the `meta` column family, and
//! whether the storage holds any Raft state yet (see [`crate::member`]).

use std::sync::Arc;

use rocksdb::{IteratorMode, WriteOptions, DB};

use super::log_store::{KEY_PURGED, KEY_VOTE};
use super::{CF_LOG, CF_META, CF_SNAPSHOT};
use crate::member::MemberMarker;

const KEY_MEMBER: &[u8] = b"member";

/// Reads and writes the marker beside the Raft state (cheap to clone).
#[derive(Clone)]
pub struct MarkerStore {
    db: Arc<DB>,
}

impl MarkerStore {
    /// The marker store of the database `db` (see [`super::LogStore::marker_store`]).
    pub(crate) fn new(db: Arc<DB>) -> Self {
        MarkerStore { db }
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, String> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| format!("column family `{name}` is missing"))
    }

    /// The marker, if one was written.
    pub fn read(&self) -> Result<Option<MemberMarker>, String> {
        let bytes = self
            .db
            .get_cf(self.cf(CF_META)?, KEY_MEMBER)
            .map_err(|e| format!("cannot read the member marker: {e}"))?;
        bytes
            .map(|b| {
                serde_json::from_slice(&b)
                    .map_err(|e| format!("the member marker is unreadable: {e}"))
            })
            .transpose()
    }

    /// Writes `marker`, synced to disk before this returns.
    pub fn write(&self, marker: &MemberMarker) -> Result<(), String> {
        let bytes = serde_json::to_vec(marker).map_err(|e| e.to_string())?;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db
            .put_cf_opt(self.cf(CF_META)?, KEY_MEMBER, bytes, &opts)
            .map_err(|e| format!("cannot write the member marker: {e}"))
    }

    /// True when the storage holds no vote, no log entry, no purge point and
    /// no snapshot: nothing this node could have promised anyone.
    pub fn is_blank(&self) -> Result<bool, String> {
        let meta = self.cf(CF_META)?;
        for key in [KEY_VOTE, KEY_PURGED] {
            let found = self
                .db
                .get_cf(meta, key)
                .map_err(|e| format!("cannot read the Raft metadata: {e}"))?;
            if found.is_some() {
                return Ok(false);
            }
        }
        for name in [CF_LOG, CF_SNAPSHOT] {
            if let Some(first) = self
                .db
                .iterator_cf(self.cf(name)?, IteratorMode::Start)
                .next()
            {
                first.map_err(|e| format!("cannot read column family `{name}`: {e}"))?;
                return Ok(false);
            }
        }
        Ok(true)
    }
}
