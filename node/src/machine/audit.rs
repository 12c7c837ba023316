//! The audit log: one record per applied request, each hash-chained to the previous.
//!
//! The encoding hashed is fixed in `proto/admin.proto` (`AuditRecord.hash`),
//! so the CLI can recompute the chain on its own.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What one applied request leaves in the audit chain, as apply produces it:
/// the journal numbers it and chains it into an [`AuditRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub log_index: u64,
    pub ts_ms: u64,
    /// The client that sent the request (`system` for ticks).
    pub actor: String,
    /// The command's kind, `retry:`-prefixed when a remembered outcome answered it.
    pub action: String,
    /// `ok`, or the rejection's code.
    pub outcome: String,
    /// What the request concerned, as `kind:id` (event, category, customer, hold, tickets, charge).
    pub ids: Vec<String>,
}

/// One audit record: an [`AuditEntry`] numbered and chained to the one before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub log_index: u64,
    pub ts_ms: u64,
    pub actor: String,
    pub action: String,
    pub outcome: String,
    pub ids: Vec<String>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u32).to_be_bytes());
    h.update(s.as_bytes());
}

/// The hash of a record's fields chained to `prev_hash` (the record's own `hash` is ignored).
pub fn record_hash(r: &AuditRecord) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(r.prev_hash);
    h.update(r.seq.to_be_bytes());
    h.update(r.log_index.to_be_bytes());
    h.update(r.ts_ms.to_be_bytes());
    put_str(&mut h, &r.actor);
    put_str(&mut h, &r.action);
    put_str(&mut h, &r.outcome);
    h.update((r.ids.len() as u32).to_be_bytes());
    for id in &r.ids {
        put_str(&mut h, id);
    }
    h.finalize().into()
}

/// Why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {reason}")]
pub struct ChainError {
    pub seq: u64,
    pub reason: String,
}

/// Checks that `records` are numbered from 0, linked, and each hash recomputes.
pub fn verify_chain(records: &[AuditRecord]) -> Result<[u8; 32], ChainError> {
    let mut prev = [0u8; 32];
    for (i, r) in records.iter().enumerate() {
        let fail = |reason: &str| ChainError {
            seq: i as u64,
            reason: reason.to_string(),
        };
        if r.seq != i as u64 {
            return Err(fail("sequence number out of order"));
        }
        if r.prev_hash != prev {
            return Err(fail("prev_hash does not match the previous record"));
        }
        if record_hash(r) != r.hash {
            return Err(fail("hash does not match the record's contents"));
        }
        prev = r.hash;
    }
    Ok(prev)
}

/// The replicated audit chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLog {
    records: Vec<AuditRecord>,
}

impl AuditLog {
    /// Appends `entry` as the next record, numbering it and chaining it to the head.
    pub fn append(&mut self, entry: AuditEntry) {
        let AuditEntry {
            log_index,
            ts_ms,
            actor,
            action,
            outcome,
            ids,
        } = entry;
        let mut record = AuditRecord {
            seq: self.records.len() as u64,
            log_index,
            ts_ms,
            actor,
            action,
            outcome,
            ids,
            prev_hash: self.head(),
            hash: [0; 32],
        };
        record.hash = record_hash(&record);
        self.records.push(record);
    }

    /// Hash of the last record (zeros when empty).
    pub fn head(&self) -> [u8; 32] {
        self.records.last().map(|r| r.hash).unwrap_or([0; 32])
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records from `from` on, at most `limit`.
    pub fn page(&self, from: u64, limit: usize) -> &[AuditRecord] {
        let start = (from as usize).min(self.records.len());
        let end = start.saturating_add(limit).min(self.records.len());
        &self.records[start..end]
    }

    /// Every record.
    pub fn records(&self) -> &[AuditRecord] {
        &self.records
    }
}
