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

/// The replicated audit chain, as the apply path needs it: its length and
/// head (the hash every next record chains to), and the records appended
/// since whoever keeps the chain last took them.
///
/// The chain grows by one record per applied request and is never pruned,
/// so a node does not keep it in memory: after each apply the storage layer
/// takes the new records ([`AuditLog::take_pending`]) into an append-only
/// column family, and only `len` and `head` stay here (and in the snapshot).
/// A pure machine nobody drains (the unit and property tests) keeps every
/// record in `pending`, so the tests read the whole chain from memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLog {
    len: u64,
    head: [u8; 32],
    /// Records `len - pending.len()` .. `len`, oldest first.
    pending: Vec<AuditRecord>,
}

impl AuditLog {
    /// A chain of `len` records whose last hash is `head`, none of them
    /// held here (they live in the node's storage), and then `pending`.
    ///
    /// Fails unless `pending` continues the chain: numbered on from `len`,
    /// each linked to the one before.
    pub fn resume(
        len: u64,
        head: [u8; 32],
        pending: Vec<AuditRecord>,
    ) -> Result<AuditLog, ChainError> {
        let mut log = AuditLog {
            len,
            head,
            pending: Vec::with_capacity(pending.len()),
        };
        for r in pending {
            if r.seq != log.len {
                return Err(ChainError {
                    seq: r.seq,
                    reason: format!("expected seq {}", log.len),
                });
            }
            if r.prev_hash != log.head || record_hash(&r) != r.hash {
                return Err(ChainError {
                    seq: r.seq,
                    reason: "does not chain to the record before".into(),
                });
            }
            log.len += 1;
            log.head = r.hash;
            log.pending.push(r);
        }
        Ok(log)
    }

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
            seq: self.len,
            log_index,
            ts_ms,
            actor,
            action,
            outcome,
            ids,
            prev_hash: self.head,
            hash: [0; 32],
        };
        record.hash = record_hash(&record);
        self.len += 1;
        self.head = record.hash;
        self.pending.push(record);
    }

    /// Hash of the last record (zeros when empty).
    pub fn head(&self) -> [u8; 32] {
        self.head
    }

    /// Number of records in the whole chain (held here or not).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The records appended since the last [`AuditLog::take_pending`] (in a
    /// machine nobody drains: the whole chain), oldest first.
    pub fn pending(&self) -> &[AuditRecord] {
        &self.pending
    }

    /// Hands over the pending records (to be stored elsewhere), keeping
    /// only the length and head.
    pub fn take_pending(&mut self) -> Vec<AuditRecord> {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u64) -> AuditEntry {
        AuditEntry {
            log_index: n,
            ts_ms: 1_000 + n,
            actor: "gw-1".into(),
            action: "place_hold".into(),
            outcome: "ok".into(),
            ids: vec![format!("customer:c{n}")],
        }
    }

    #[test]
    fn taking_the_records_keeps_the_chain_going() {
        let mut whole = AuditLog::default();
        let mut drained = AuditLog::default();
        let mut taken = Vec::new();
        for n in 0..5 {
            whole.append(entry(n));
            drained.append(entry(n));
            if n % 2 == 0 {
                taken.extend(drained.take_pending());
            }
        }
        taken.extend(drained.take_pending());
        assert_eq!((drained.len(), drained.head()), (whole.len(), whole.head()));
        assert!(drained.pending().is_empty());
        assert_eq!(taken, whole.pending());
        assert_eq!(verify_chain(&taken), Ok(whole.head()));
    }

    #[test]
    fn a_resumed_chain_checks_what_it_is_given() {
        let mut whole = AuditLog::default();
        for n in 0..4 {
            whole.append(entry(n));
        }
        let records = whole.pending().to_vec();
        let resumed =
            AuditLog::resume(2, records[1].hash, records[2..].to_vec()).expect("continues");
        assert_eq!((resumed.len(), resumed.head()), (4, whole.head()));
        // A gap, or a record that does not link to the head, is refused.
        assert!(AuditLog::resume(1, records[0].hash, records[2..].to_vec()).is_err());
        assert!(AuditLog::resume(2, [7; 32], records[2..].to_vec()).is_err());
    }
}
