//! The audit chain on disk: the `audit` column family, one record per key
//! (its seq, big-endian, so keys sort in chain order), the value the
//! record's bincode.
//!
//! The chain grows by one record per applied request and is never pruned;
//! keeping it in memory is what made a million-fan sale's nodes grow by
//! gigabytes. Apply hands each entry's new records here (under the state
//! lock, so a reader that sees the chain's length finds every record below
//! it), and only the length and head stay in the snapshot.
//!
//! Durability: records are written past the write-ahead log (it carries the
//! fsync'd Raft appends, which must not wait behind audit writes) and made
//! durable by [`AuditStore::flush`] before a snapshot that counts them is
//! stored. Records after the latest stored snapshot may be lost in a crash;
//! the node re-applies the log after that snapshot on restart and writes
//! the very same records again (apply is deterministic). A record at a
//! given seq is the same on every replica and never changes, so writes in
//! any order — a crash between an installed snapshot's records and its
//! state, a replayed entry — only ever put the same bytes again.

use std::sync::Arc;

use openraft::{AnyError, StorageIOError};
use rocksdb::{Direction, IteratorMode, WriteBatch, WriteOptions, DB};

use super::CF_AUDIT;
use crate::machine::AuditRecord;
use crate::raft_types::StorageError;

/// The audit column family; cheap to clone.
#[derive(Clone)]
pub struct AuditStore {
    db: Arc<DB>,
}

fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

fn read_error(reason: String) -> StorageError {
    StorageIOError::read_state_machine(AnyError::error(reason)).into()
}

fn write_error(e: &rocksdb::Error) -> StorageError {
    StorageIOError::write_state_machine(e).into()
}

impl AuditStore {
    pub(crate) fn new(db: Arc<DB>) -> Self {
        AuditStore { db }
    }

    fn cf(&self) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(CF_AUDIT)
            .expect("column family `audit` is created at open")
    }

    /// Stores `records`, each under its seq (see the module doc for why not
    /// through the write-ahead log).
    pub fn append(&self, records: &[AuditRecord]) -> Result<(), StorageError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for r in records {
            let value = bincode::serialize(r).map_err(|e| {
                StorageError::from(StorageIOError::write_state_machine(AnyError::error(e)))
            })?;
            batch.put_cf(self.cf(), seq_key(r.seq), value);
        }
        let mut opts = WriteOptions::default();
        opts.disable_wal(true);
        self.db.write_opt(batch, &opts).map_err(|e| write_error(&e))
    }

    /// Makes every record appended so far durable: called before a snapshot
    /// counting them is stored.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.flush_cf(self.cf()).map_err(|e| write_error(&e))
    }

    /// Calls `each` with the stored bytes of records `from..to`, in order,
    /// checked to be all there: what [`AuditStore::page`] decodes and a
    /// snapshot transfer carries as is.
    fn for_each_raw(
        &self,
        from: u64,
        to: u64,
        mut each: impl FnMut(&[u8]),
    ) -> Result<(), StorageError> {
        if from >= to {
            return Ok(());
        }
        let start = seq_key(from);
        let iter = self
            .db
            .iterator_cf(self.cf(), IteratorMode::From(&start, Direction::Forward));
        let mut expected = from;
        for item in iter {
            if expected >= to {
                break;
            }
            let (key, value) = item.map_err(|e| read_error(e.to_string()))?;
            let seq = <[u8; 8]>::try_from(key.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| read_error("an audit key is not 8 bytes".into()))?;
            if seq != expected {
                return Err(read_error(format!(
                    "audit record {expected} is missing (next stored: {seq})"
                )));
            }
            each(&value);
            expected += 1;
        }
        if expected < to {
            return Err(read_error(format!(
                "audit records {expected}..{to} are missing"
            )));
        }
        Ok(())
    }

    /// Up to `limit` records from seq `from`, none at or past `len` (the
    /// chain's length as the applied state counts it).
    pub fn page(
        &self,
        from: u64,
        limit: usize,
        len: u64,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let to = from.saturating_add(limit as u64).min(len);
        let mut records = Vec::with_capacity(to.saturating_sub(from).min(10_000) as usize);
        let mut bad = None;
        self.for_each_raw(from, to, |bytes| match bincode::deserialize(bytes) {
            Ok(r) => records.push(r),
            Err(e) => {
                bad.get_or_insert(e.to_string());
            }
        })?;
        match bad {
            Some(e) => Err(read_error(format!("an audit record does not decode: {e}"))),
            None => Ok(records),
        }
    }

    /// Records `0..len` as their stored bytes, concatenated: the elements of
    /// an encoded `Vec<AuditRecord>` (see `machine::with_audit_records`).
    pub fn encoded_up_to(&self, len: u64) -> Result<Vec<u8>, StorageError> {
        let mut out = Vec::new();
        self.append_encoded_up_to(len, &mut out)?;
        Ok(out)
    }

    /// [`AuditStore::encoded_up_to`], appended to `out` (no second buffer).
    pub fn append_encoded_up_to(&self, len: u64, out: &mut Vec<u8>) -> Result<(), StorageError> {
        self.for_each_raw(0, len, |bytes| out.extend_from_slice(bytes))
    }
}
