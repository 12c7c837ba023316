//! The backup file: the whole sale state at a known log index, self-checking.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! "IJBACKUP"                 8 bytes, the magic
//! format version             u32 (FORMAT_VERSION)
//! header length H            u32
//! header                     H bytes of JSON (BackupHeader)
//! state                      header.data_len bytes (machine::encode_snapshot)
//! checksum                   32 bytes: SHA-256 of every byte before it
//! ```
//!
//! A file is accepted only whole: right magic and version, exact length,
//! matching checksum, a state that decodes and hashes to `state_hash` (the
//! hash `cluster status` shows: the state with its audit chain as length and
//! head) and whose audit chain — carried whole, every record inline —
//! verifies and ends at `audit_head`. Anything else is a typed
//! [`BackupError`] naming what is wrong, so a restore never starts from a
//! damaged or foreign file.
//!
//! This header is the backup's envelope: the state inside is the bare
//! payload a snapshot carries, not a sealed snapshot
//! ([`crate::storage::snapshot_file`]), so backups kept their format when
//! snapshots gained theirs, and every backup written so far still restores;
//! the restore seals the payload when it writes the node's first snapshot.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::machine::{self, Journal, SaleMachine};

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"IJBACKUP";
/// The file layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The version of [`machine::encode_snapshot`]'s layout; bump it when the
/// machine's or the journal's fields change, so older builds refuse newer backups instead of misreading them.
///
/// 2: the journal's audit chain is its length, head and pending records
/// (a backup carries every record pending). 1: the chain inline as a list;
/// still read, converted on the way in ([`machine::decode_legacy_snapshot`]).
pub const MACHINE_FORMAT: u32 = 2;
/// The oldest layout this build still reads (and converts).
pub const OLDEST_MACHINE_FORMAT: u32 = 1;

const CHECKSUM_LEN: usize = 32;
const PREFIX_LEN: usize = MAGIC.len() + 4 + 4;
/// Headers are a few hundred bytes; anything bigger is not ours.
const MAX_HEADER_LEN: usize = 64 * 1024;

/// Where the backup stands in the log and what the restored state must reproduce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    /// The node that produced the backup.
    pub node_id: u64,
    /// Log id (index, term, leader node) of the last entry the state includes.
    pub log_index: u64,
    pub log_term: u64,
    pub log_leader: u64,
    /// Hex SHA-256 of the encoded state.
    pub state_hash: String,
    /// Hex hash of the last audit record and the chain's length.
    pub audit_head: String,
    pub audit_len: u64,
    /// Length of the encoded state.
    pub data_len: u64,
    /// [`MACHINE_FORMAT`] of the build that wrote it.
    pub machine_format: u32,
    /// Wall-clock milliseconds when the node produced it.
    pub created_ms: u64,
}

impl From<ingressoja_proto::admin::BackupHeader> for BackupHeader {
    fn from(h: ingressoja_proto::admin::BackupHeader) -> Self {
        BackupHeader {
            node_id: h.node_id,
            log_index: h.log_index,
            log_term: h.log_term,
            log_leader: h.log_leader,
            state_hash: h.state_hash,
            audit_head: h.audit_head,
            audit_len: h.audit_len,
            data_len: h.data_len,
            machine_format: h.machine_format,
            created_ms: h.created_ms,
        }
    }
}

impl From<BackupHeader> for ingressoja_proto::admin::BackupHeader {
    fn from(h: BackupHeader) -> Self {
        ingressoja_proto::admin::BackupHeader {
            node_id: h.node_id,
            log_index: h.log_index,
            log_term: h.log_term,
            log_leader: h.log_leader,
            state_hash: h.state_hash,
            audit_head: h.audit_head,
            audit_len: h.audit_len,
            data_len: h.data_len,
            machine_format: h.machine_format,
            created_ms: h.created_ms,
        }
    }
}

/// A backup that passed every check, with its decoded state.
#[derive(Debug)]
pub struct Backup {
    pub header: BackupHeader,
    /// The encoded state, as stored in a snapshot.
    pub data: Vec<u8>,
    /// The decoded state, for restoring and reporting.
    pub machine: SaleMachine,
    /// The decoded journal (audit chain and domain events) that goes with it.
    pub journal: Journal,
}

/// Why a backup was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackupError {
    #[error(
        "not an IngressoJá backup (the file does not start with {:?})",
        String::from_utf8_lossy(MAGIC)
    )]
    NotABackup,
    #[error("backup file format {found} is not supported by this build (it reads format {FORMAT_VERSION}); restore with the release that wrote it")]
    UnsupportedFormat { found: u32 },
    #[error("backup state encoding {found} is not supported by this build (it reads encodings {OLDEST_MACHINE_FORMAT} to {MACHINE_FORMAT}); restore with the release that wrote it")]
    UnsupportedMachineFormat { found: u32 },
    #[error("backup is truncated: {expected} bytes expected, {actual} present")]
    Truncated { expected: u64, actual: u64 },
    #[error("backup has {extra} unexpected bytes after its checksum")]
    TrailingBytes { extra: u64 },
    #[error("backup header is unreadable: {0}")]
    Header(String),
    #[error(
        "backup checksum mismatch: the file is corrupt (expected {expected}, computed {actual})"
    )]
    Checksum { expected: String, actual: String },
    #[error("backup state does not decode: {0}")]
    State(String),
    #[error("backup state hashes to {actual}, but its header says {expected}")]
    StateHash { expected: String, actual: String },
    #[error("backup audit chain ends at {actual} ({actual_len} records), but its header says {expected} ({expected_len} records)")]
    AuditHead {
        expected: String,
        actual: String,
        expected_len: u64,
        actual_len: u64,
    },
}

impl Backup {
    /// Checks `data` against `header` (as received from a node) and decodes it.
    pub fn from_parts(header: BackupHeader, data: Vec<u8>) -> Result<Backup, BackupError> {
        if !(OLDEST_MACHINE_FORMAT..=MACHINE_FORMAT).contains(&header.machine_format) {
            return Err(BackupError::UnsupportedMachineFormat {
                found: header.machine_format,
            });
        }
        if header.data_len != data.len() as u64 {
            return Err(BackupError::Truncated {
                expected: header.data_len,
                actual: data.len() as u64,
            });
        }
        let legacy = header.machine_format == 1;
        let state_hash_mismatch = |actual: String| BackupError::StateHash {
            expected: header.state_hash.clone(),
            actual,
        };
        if legacy {
            // Format 1's `state_hash` is the SHA-256 of the bytes themselves.
            let actual = hex::encode(Sha256::digest(&data));
            if actual != header.state_hash {
                return Err(state_hash_mismatch(actual));
            }
        }
        let decode = if legacy {
            machine::decode_legacy_snapshot
        } else {
            machine::decode_snapshot
        };
        let (machine, journal) = decode(&data).map_err(|e| BackupError::State(e.to_string()))?;
        // A backup carries the whole audit chain inline, and it must verify.
        let audit = journal.audit();
        let whole = audit.pending().len() as u64 == audit.len()
            && machine::verify_chain(audit.pending()).ok() == Some(audit.head());
        if !whole {
            return Err(BackupError::State(format!(
                "the audit chain is not whole: {} of {} records, or they do not chain to its head",
                audit.pending().len(),
                audit.len()
            )));
        }
        let (head, len) = (hex::encode(audit.head()), audit.len());
        if head != header.audit_head || len != header.audit_len {
            return Err(BackupError::AuditHead {
                expected: header.audit_head.clone(),
                actual: head,
                expected_len: header.audit_len,
                actual_len: len,
            });
        }
        // The hash the node reported for this state (records on its disk).
        let node_hash = hex::encode(machine::drained_state_hash(&machine, &journal));
        if !legacy && node_hash != header.state_hash {
            return Err(state_hash_mismatch(node_hash));
        }
        // What a restore writes is always this build's layout.
        let (header, data) = if legacy {
            let data = machine::encode_snapshot(&machine, &journal);
            let header = BackupHeader {
                machine_format: MACHINE_FORMAT,
                data_len: data.len() as u64,
                state_hash: node_hash,
                ..header
            };
            (header, data)
        } else {
            (header, data)
        };
        Ok(Backup {
            header,
            data,
            machine,
            journal,
        })
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising a struct of strings and integers cannot fail.
        let header = serde_json::to_vec(&self.header).unwrap_or_default();
        let mut out = Vec::with_capacity(PREFIX_LEN + header.len() + self.data.len() + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        out.extend_from_slice(&(header.len() as u32).to_be_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.data);
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(&checksum);
        out
    }

    /// Parses and checks a whole file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Backup, BackupError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(BackupError::NotABackup);
        }
        let truncated = |expected: usize| BackupError::Truncated {
            expected: expected as u64,
            actual: bytes.len() as u64,
        };
        if bytes.len() < PREFIX_LEN {
            return Err(truncated(PREFIX_LEN));
        }
        let version = u32::from_be_bytes(bytes[8..12].try_into().unwrap_or_default());
        if version != FORMAT_VERSION {
            return Err(BackupError::UnsupportedFormat { found: version });
        }
        let header_len = u32::from_be_bytes(bytes[12..16].try_into().unwrap_or_default()) as usize;
        if header_len > MAX_HEADER_LEN {
            return Err(BackupError::Header(format!(
                "header length {header_len} exceeds {MAX_HEADER_LEN} bytes"
            )));
        }
        let header_end = PREFIX_LEN + header_len;
        if bytes.len() < header_end {
            return Err(truncated(header_end + CHECKSUM_LEN));
        }
        let header: BackupHeader = serde_json::from_slice(&bytes[PREFIX_LEN..header_end])
            .map_err(|e| BackupError::Header(e.to_string()))?;
        let data_len = usize::try_from(header.data_len).map_err(|_| {
            BackupError::Header(format!("data_len {} is too large", header.data_len))
        })?;
        let expected = header_end
            .checked_add(data_len)
            .and_then(|n| n.checked_add(CHECKSUM_LEN))
            .ok_or_else(|| {
                BackupError::Header(format!("data_len {} is too large", header.data_len))
            })?;
        if bytes.len() < expected {
            return Err(truncated(expected));
        }
        if bytes.len() > expected {
            return Err(BackupError::TrailingBytes {
                extra: (bytes.len() - expected) as u64,
            });
        }
        let body_end = expected - CHECKSUM_LEN;
        let computed = Sha256::digest(&bytes[..body_end]);
        if computed.as_slice() != &bytes[body_end..] {
            return Err(BackupError::Checksum {
                expected: hex::encode(&bytes[body_end..]),
                actual: hex::encode(computed),
            });
        }
        Backup::from_parts(header, bytes[header_end..body_end].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::testing::{buy, hold_ok, machine_with_event, Sale};

    /// A machine with an event, customers, a sale and an open hold, and its journal.
    fn sample_machine() -> Sale {
        let mut m = machine_with_event(10, 4);
        let sold = hold_ok(&mut m, 20, "ana", 2);
        buy(&mut m, 21, 2_000, sold.hold_id, "ana").expect("bought");
        hold_ok(&mut m, 22, "bia", 1);
        m
    }

    fn backup() -> Backup {
        let sale = sample_machine();
        let data = machine::encode_snapshot(&sale.machine, &sale.journal);
        let audit = sale.journal.audit();
        let header = BackupHeader {
            node_id: 1,
            log_index: 42,
            log_term: 3,
            log_leader: 1,
            state_hash: hex::encode(machine::drained_state_hash(&sale.machine, &sale.journal)),
            audit_head: hex::encode(audit.head()),
            audit_len: audit.len(),
            data_len: data.len() as u64,
            machine_format: MACHINE_FORMAT,
            created_ms: 1_700_000_000_000,
        };
        Backup::from_parts(header, data).expect("a fresh backup checks out")
    }

    #[test]
    fn round_trips_and_keeps_the_state() {
        let original = backup();
        let read = Backup::from_bytes(&original.to_bytes()).expect("reads back");
        assert_eq!(read.header, original.header);
        assert_eq!(read.data, original.data);
        assert_eq!(
            hex::encode(machine::drained_state_hash(&read.machine, &read.journal)),
            read.header.state_hash
        );
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = backup().to_bytes();
        for len in 0..bytes.len() {
            let err = Backup::from_bytes(&bytes[..len]).expect_err("a truncated file is refused");
            assert!(
                matches!(
                    err,
                    BackupError::Truncated { .. }
                        | BackupError::NotABackup
                        | BackupError::Header(_)
                ),
                "length {len}: {err}"
            );
        }
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let bytes = backup().to_bytes();
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x01;
            assert!(
                Backup::from_bytes(&damaged).is_err(),
                "flipping byte {i} of {} went unnoticed",
                bytes.len()
            );
        }
    }

    #[test]
    fn foreign_and_future_files_are_refused_by_name() {
        assert_eq!(
            Backup::from_bytes(b"PK\x03\x04 a zip file").unwrap_err(),
            BackupError::NotABackup
        );
        let mut future = backup().to_bytes();
        future[8..12].copy_from_slice(&2u32.to_be_bytes());
        assert_eq!(
            Backup::from_bytes(&future).unwrap_err(),
            BackupError::UnsupportedFormat { found: 2 }
        );
        let mut b = backup();
        b.header.machine_format = MACHINE_FORMAT + 1;
        let err = Backup::from_bytes(&b.to_bytes()).unwrap_err();
        assert_eq!(
            err,
            BackupError::UnsupportedMachineFormat {
                found: MACHINE_FORMAT + 1
            }
        );
        assert!(err.to_string().contains("release that wrote it"));
    }

    #[test]
    fn a_format_one_backup_is_converted_to_this_build_s_layout() {
        let sale = sample_machine();
        let old = machine::encode_legacy_snapshot(&sale.machine, &sale.journal);
        let mut header = backup().header;
        header.machine_format = 1;
        header.data_len = old.len() as u64;
        header.state_hash = hex::encode(Sha256::digest(&old));
        let converted = Backup::from_bytes(&Backup::from_parts(header, old).unwrap().to_bytes())
            .expect("a format-1 file reads");
        assert_eq!(converted.header.machine_format, MACHINE_FORMAT);
        assert_eq!(
            (&converted.machine, &converted.journal),
            (&sale.machine, &sale.journal)
        );
        assert_eq!(
            converted.data,
            machine::encode_snapshot(&sale.machine, &sale.journal)
        );
        // Format 0 was never written: named, not guessed at.
        let mut b = backup();
        b.header.machine_format = 0;
        assert_eq!(
            Backup::from_bytes(&b.to_bytes()).unwrap_err(),
            BackupError::UnsupportedMachineFormat { found: 0 }
        );
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = backup().to_bytes();
        bytes.push(0);
        assert_eq!(
            Backup::from_bytes(&bytes).unwrap_err(),
            BackupError::TrailingBytes { extra: 1 }
        );
    }

    #[test]
    fn a_header_that_lies_about_the_state_is_refused() {
        let mut b = backup();
        b.header.audit_len += 1;
        assert!(matches!(
            Backup::from_bytes(&b.to_bytes()).unwrap_err(),
            BackupError::AuditHead { .. }
        ));
        let mut b = backup();
        b.header.state_hash = "00".repeat(32);
        assert!(matches!(
            Backup::from_bytes(&b.to_bytes()).unwrap_err(),
            BackupError::StateHash { .. }
        ));
    }
}
