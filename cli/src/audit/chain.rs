//! The audit chain, checked on the operator's side with no network: each
//! record's hash is recomputed from its fields and linked to the previous one.
//!
//! The encoding is the one documented on `AuditRecord.hash` in `admin.proto`:
//!
//! ```text
//! prev_hash (32 raw bytes) || seq (u64 BE) || log_index (u64 BE) || ts_ms (u64 BE)
//! || actor || action || outcome || number of ids (u32 BE) || each id
//! ```
//!
//! where every string is its UTF-8 length (u32 BE) followed by its bytes,
//! hashed with SHA-256. Hashes travel as lowercase hex.

use ingressoja_client::proto::admin::AuditRecord;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The `prev_hash` of the first record (seq 0).
pub const ZERO_HASH: [u8; 32] = [0; 32];

/// The hash of `record`'s fields chained to `prev_hash`. The record's own
/// `prev_hash` and `hash` fields are not read.
pub fn record_hash(prev_hash: &[u8; 32], record: &AuditRecord) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(record.seq.to_be_bytes());
    hasher.update(record.log_index.to_be_bytes());
    hasher.update(record.ts_ms.to_be_bytes());
    put_str(&mut hasher, &record.actor);
    put_str(&mut hasher, &record.action);
    put_str(&mut hasher, &record.outcome);
    hasher.update(len_u32(record.ids.len()).to_be_bytes());
    for id in &record.ids {
        put_str(&mut hasher, id);
    }
    hasher.finalize().into()
}

/// A string as its length (u32 BE) and its UTF-8 bytes.
fn put_str(hasher: &mut Sha256, text: &str) {
    hasher.update(len_u32(text.len()).to_be_bytes());
    hasher.update(text.as_bytes());
}

/// A length as the u32 of the encoding (saturating: no record is 4 GiB long).
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// A 64-character hex hash as bytes, `None` if it is not one.
pub fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

/// Where and why an audit chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("chain broken at seq {seq}: {fault}")]
pub struct ChainError {
    /// The first seq that is missing or wrong.
    pub seq: u64,
    /// What is wrong with it.
    pub fault: ChainFault,
}

/// What is wrong with the first bad record of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainFault {
    /// A record with another seq stands where this seq was expected:
    /// records are missing, repeated or out of order.
    #[error("found seq {found} instead (records missing or out of order)")]
    OutOfOrder {
        /// The seq the record in that place carries.
        found: u64,
    },
    /// `prev_hash` is not 64 hex characters.
    #[error("prev_hash is not 64 hex characters")]
    MalformedPrevHash,
    /// `hash` is not 64 hex characters.
    #[error("hash is not 64 hex characters")]
    MalformedHash,
    /// `prev_hash` is not the previous record's hash (zeros for seq 0).
    #[error("prev_hash does not match the previous record's hash")]
    PrevHashMismatch,
    /// `hash` does not recompute from the record's fields.
    #[error("hash does not match the record's contents")]
    HashMismatch,
}

/// Verifies a chain one record at a time, so a long chain fetched page by
/// page need not be held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerifier {
    next_seq: u64,
    head: [u8; 32],
}

impl ChainVerifier {
    /// A verifier expecting seq 0, whose `prev_hash` must be [`ZERO_HASH`].
    pub fn new() -> Self {
        ChainVerifier {
            next_seq: 0,
            head: ZERO_HASH,
        }
    }

    /// Checks the next record: its seq follows, its `prev_hash` is the head
    /// so far and its `hash` recomputes. Returns that hash, the new head. A
    /// refused record leaves the verifier as it was.
    pub fn push(&mut self, record: &AuditRecord) -> Result<[u8; 32], ChainError> {
        let fail = |fault| ChainError {
            seq: self.next_seq,
            fault,
        };
        if record.seq != self.next_seq {
            return Err(fail(ChainFault::OutOfOrder { found: record.seq }));
        }
        let prev =
            parse_hash(&record.prev_hash).ok_or_else(|| fail(ChainFault::MalformedPrevHash))?;
        let hash = parse_hash(&record.hash).ok_or_else(|| fail(ChainFault::MalformedHash))?;
        if prev != self.head {
            return Err(fail(ChainFault::PrevHashMismatch));
        }
        if record_hash(&prev, record) != hash {
            return Err(fail(ChainFault::HashMismatch));
        }
        self.next_seq += 1;
        self.head = hash;
        Ok(hash)
    }

    /// How many records verified so far.
    pub fn len(&self) -> u64 {
        self.next_seq
    }

    /// True before any record verified.
    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    /// The hash of the last verified record ([`ZERO_HASH`] before any).
    pub fn head(&self) -> [u8; 32] {
        self.head
    }
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::new()
    }
}

/// Checks that `records` are seqs 0, 1, 2, ... with no gap, each linked to
/// the one before (zeros for seq 0) and each hash recomputing. Returns the
/// head hash ([`ZERO_HASH`] for an empty chain), or the first bad seq and why.
pub fn verify_chain(records: &[AuditRecord]) -> Result<[u8; 32], ChainError> {
    let mut verifier = ChainVerifier::new();
    for record in records {
        verifier.push(record)?;
    }
    Ok(verifier.head())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record with its link and hash filled in.
    fn sealed(mut record: AuditRecord, prev: [u8; 32]) -> AuditRecord {
        record.prev_hash = hex::encode(prev);
        record.hash = hex::encode(record_hash(&prev, &record));
        record
    }

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut prev = ZERO_HASH;
        (0..n)
            .map(|seq| {
                let record = sealed(
                    AuditRecord {
                        seq,
                        log_index: 10 + seq * 2,
                        ts_ms: 1_700_000_000_000 + seq * 250,
                        actor: format!("client-{}", seq % 3),
                        action: "purchase".into(),
                        outcome: if seq % 2 == 0 { "ok" } else { "sold_out" }.into(),
                        ids: (0..seq % 3).map(|i| format!("hold:{i}")).collect(),
                        ..AuditRecord::default()
                    },
                    prev,
                );
                prev = parse_hash(&record.hash).unwrap();
                record
            })
            .collect()
    }

    #[test]
    fn the_encoding_matches_the_documented_vector() {
        // Computed independently (Python hashlib) from the admin.proto encoding.
        let first = AuditRecord {
            seq: 0,
            log_index: 3,
            ts_ms: 1_700_000_000_000,
            actor: "box-office".into(),
            action: "purchase".into(),
            outcome: "ok".into(),
            ids: vec!["hold:7".into(), "ticket:TKT-00000001".into()],
            ..AuditRecord::default()
        };
        let first_hash = record_hash(&ZERO_HASH, &first);
        assert_eq!(
            hex::encode(first_hash),
            "4a3df255b3d280dcd2995d50563bbeb7e8b8a2e37680a7350b922010c8e9a8b6"
        );
        let second = AuditRecord {
            seq: 1,
            log_index: 4,
            ts_ms: 1_700_000_000_500,
            actor: "system".into(),
            action: "expire_holds".into(),
            outcome: "ok".into(),
            ..AuditRecord::default()
        };
        assert_eq!(
            hex::encode(record_hash(&first_hash, &second)),
            "a0f360f95b6370f3b5c11edb21246285e7f21d913c5aa72a7d16295aacb69102"
        );
    }

    #[test]
    fn string_lengths_keep_fields_apart() {
        let a = AuditRecord {
            actor: "ab".into(),
            action: "c".into(),
            ..AuditRecord::default()
        };
        let b = AuditRecord {
            actor: "a".into(),
            action: "bc".into(),
            ..AuditRecord::default()
        };
        assert_ne!(record_hash(&ZERO_HASH, &a), record_hash(&ZERO_HASH, &b));
    }

    #[test]
    fn a_built_chain_verifies_to_its_last_hash() {
        let records = chain(6);
        let head = verify_chain(&records).unwrap();
        assert_eq!(hex::encode(head), records[5].hash);
        assert_eq!(verify_chain(&[]), Ok(ZERO_HASH));
    }

    /// Flips one byte of a string, keeping it valid UTF-8 (ASCII stays ASCII).
    fn flip(text: &mut String, at: usize) {
        let mut bytes = std::mem::take(text).into_bytes();
        if bytes.is_empty() {
            bytes.push(b'x');
        } else {
            let i = at % bytes.len();
            bytes[i] ^= 0x01;
        }
        *text = String::from_utf8(bytes).unwrap();
    }

    /// A named way of changing one record.
    type Mutation = (&'static str, fn(&mut AuditRecord));

    /// Every way of changing one byte of one field of a record.
    fn mutations() -> Vec<Mutation> {
        vec![
            ("seq", |r| r.seq ^= 1 << 8),
            ("log_index", |r| r.log_index ^= 1),
            ("ts_ms", |r| r.ts_ms ^= 1 << 16),
            ("actor", |r| flip(&mut r.actor, 0)),
            ("action", |r| flip(&mut r.action, 3)),
            ("outcome", |r| flip(&mut r.outcome, 1)),
            ("ids", |r| match r.ids.first_mut() {
                Some(id) => flip(id, 5),
                None => r.ids.push(String::new()),
            }),
            ("prev_hash", |r| flip(&mut r.prev_hash, 7)),
            ("prev_hash byte", |r| {
                let mut bytes = parse_hash(&r.prev_hash).unwrap();
                bytes[31] ^= 0x80;
                r.prev_hash = hex::encode(bytes);
            }),
            ("hash", |r| flip(&mut r.hash, 63)),
            ("hash byte", |r| {
                let mut bytes = parse_hash(&r.hash).unwrap();
                bytes[0] ^= 0x01;
                r.hash = hex::encode(bytes);
            }),
        ]
    }

    #[test]
    fn changing_any_field_of_any_record_fails_at_that_record() {
        let records = chain(5);
        for k in 0..records.len() {
            for (field, mutate) in mutations() {
                let mut tampered = records.clone();
                mutate(&mut tampered[k]);
                assert_ne!(tampered[k], records[k], "{field} did not change");
                match verify_chain(&tampered) {
                    Err(error) => assert_eq!(error.seq, k as u64, "{field} at {k}: {error}"),
                    Ok(_) => panic!("{field} changed at seq {k} and the chain still verifies"),
                }
            }
        }
    }

    #[test]
    fn faults_say_why() {
        let records = chain(3);
        let mut tampered = records.clone();
        tampered[1].actor.push('!');
        assert_eq!(
            verify_chain(&tampered),
            Err(ChainError {
                seq: 1,
                fault: ChainFault::HashMismatch
            })
        );
        let mut tampered = records.clone();
        tampered[2].prev_hash = records[0].hash.clone();
        assert_eq!(
            verify_chain(&tampered).unwrap_err().fault,
            ChainFault::PrevHashMismatch
        );
        let mut tampered = records.clone();
        tampered[0].hash = "zz".into();
        assert_eq!(
            verify_chain(&tampered).unwrap_err().fault,
            ChainFault::MalformedHash
        );
        let error = verify_chain(&tampered).unwrap_err().to_string();
        assert_eq!(
            error,
            "chain broken at seq 0: hash is not 64 hex characters"
        );
    }

    #[test]
    fn a_gap_fails_at_the_missing_seq() {
        let mut records = chain(5);
        records.remove(2);
        assert_eq!(
            verify_chain(&records),
            Err(ChainError {
                seq: 2,
                fault: ChainFault::OutOfOrder { found: 3 }
            })
        );
    }

    #[test]
    fn a_chain_must_start_at_seq_0() {
        let records = chain(3);
        assert_eq!(verify_chain(&records[1..]).unwrap_err().seq, 0);
    }

    #[test]
    fn a_repeated_record_fails() {
        let mut records = chain(3);
        records.insert(2, records[1].clone());
        assert_eq!(
            verify_chain(&records).unwrap_err(),
            ChainError {
                seq: 2,
                fault: ChainFault::OutOfOrder { found: 1 }
            }
        );
    }

    #[test]
    fn a_refused_record_leaves_the_verifier_unchanged() {
        let records = chain(2);
        let mut verifier = ChainVerifier::new();
        verifier.push(&records[0]).unwrap();
        let before = verifier.clone();
        assert!(verifier.push(&records[0]).is_err());
        assert_eq!(verifier, before);
        verifier.push(&records[1]).unwrap();
        assert_eq!(verifier.len(), 2);
    }
}
