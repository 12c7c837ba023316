//! The snapshot envelope: the header every snapshot carries, wherever it is.
//!
//! A snapshot is sealed in every place it exists: the `snapshot` column
//! family, the stream openraft sends to a follower (`get_current_snapshot`
//! re-seals the stored payload with the audit records put back inline, or
//! sends an installed one, which has them, as it is), and the follower's
//! copy that `install_snapshot` receives. So one check, [`open`], guards
//! both the start of a node (reading its own stored snapshot) and an install
//! (reading a leader's), and nothing is decoded that did not pass it.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! "IJSNAPSH"          8 bytes, the magic
//! format version      u32: the payload's encoding (FORMAT_VERSION)
//! payload length      u64
//! payload SHA-256     32 bytes
//! payload             `payload length` bytes (machine::encode_snapshot)
//! ```
//!
//! The version is the payload's encoding, the very number a backup header
//! carries as `machine_format` ([`crate::backup::MACHINE_FORMAT`]): one
//! number says "this build can decode that state", in a snapshot and in a
//! backup alike. The envelope's own layout is fixed by the magic: a new
//! layout would get a new magic, which older builds refuse as foreign.
//!
//! **Backups** do not embed these bytes: a backup file (`crate::backup`)
//! carries the bare payload under its own header, which already has a magic,
//! a format version, the payload's length and its SHA-256 (`state_hash`),
//! and is checked as a whole before a restore. So there is no old backup
//! "without the header": every backup ever written (format 1) restores as
//! before, and the restore seals its payload into this envelope when it
//! writes the node's first snapshot.
//!
//! **Snapshots written before the envelope** (stored by an older build in a
//! data directory upgraded in place) are converted at open, not refused —
//! see [`crate::storage::state_machine`]: the bytes are accepted only if they
//! decode as the sale state *and* re-encode to exactly the same bytes (the
//! encoding is canonical), which random or damaged bytes do not, and they are
//! sealed and written back before the node serves. Refusing them would leave
//! an upgraded node unable to start with nothing wrong with its data. A
//! snapshot *streamed* without the envelope is refused ([`SnapshotFileError::WrongMagic`]):
//! only this node's own disk gets the benefit of the doubt.

use sha2::{Digest, Sha256};

/// The first bytes of every sealed snapshot.
pub const MAGIC: &[u8; 8] = b"IJSNAPSH";
/// The payload encoding this build writes and reads (see the module doc).
pub const FORMAT_VERSION: u32 = crate::backup::MACHINE_FORMAT;
/// Bytes before the payload: magic, version, length, SHA-256.
pub const HEADER_LEN: usize = MAGIC.len() + 4 + 8 + 32;

const VERSION_END: usize = MAGIC.len() + 4;
const LENGTH_END: usize = VERSION_END + 8;

/// Why a snapshot's bytes were refused. Each names what is wrong, so an
/// operator reading the log knows whether the transfer broke (truncated,
/// checksum), the bytes are not ours (magic) or a newer build wrote them
/// (version).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotFileError {
    /// Fewer bytes than the header itself.
    #[error("snapshot is truncated: its header needs {HEADER_LEN} bytes, only {actual} present")]
    TruncatedHeader {
        /// How many bytes there were.
        actual: u64,
    },
    /// The bytes do not start with [`MAGIC`].
    #[error(
        "not an IngressoJá snapshot: it starts with {found} instead of the magic {:?}",
        String::from_utf8_lossy(MAGIC)
    )]
    WrongMagic {
        /// The first bytes found, hex-encoded.
        found: String,
    },
    /// A format this build cannot decode (written by a newer build, or garbage).
    #[error("snapshot format version {found} is unknown to this build (it reads version {FORMAT_VERSION}); install it with a build that knows version {found}")]
    UnknownVersion {
        /// The version in the header.
        found: u32,
    },
    /// The header promises more payload than there is.
    #[error("snapshot payload is truncated: the header says {expected} bytes, {actual} present")]
    TruncatedPayload {
        /// The length in the header.
        expected: u64,
        /// The bytes present after the header.
        actual: u64,
    },
    /// More bytes than the header promises.
    #[error("snapshot has {extra} unexpected bytes after its {expected}-byte payload")]
    TrailingBytes {
        /// The length in the header.
        expected: u64,
        /// The bytes past it.
        extra: u64,
    },
    /// The payload is not the one the header was written for.
    #[error("snapshot payload is corrupt: its SHA-256 is {actual}, the header says {expected}")]
    Checksum {
        /// The hash in the header, hex.
        expected: String,
        /// The hash of the payload present, hex.
        actual: String,
    },
}

/// Wraps `payload` in the envelope: the bytes to store and to stream.
pub fn seal(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// An empty buffer with room for the header, for a caller that writes the
/// payload straight after it and seals with [`seal_reserved`] (no copy of
/// a payload of hundreds of megabytes).
pub fn with_header_room(payload_capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload_capacity);
    out.resize(HEADER_LEN, 0);
    out
}

/// Seals `buf` in place: `buf` is [`with_header_room`]'s buffer with the
/// payload appended; the header is written over the room at its start.
pub fn seal_reserved(mut buf: Vec<u8>) -> Vec<u8> {
    if buf.len() < HEADER_LEN {
        buf.resize(HEADER_LEN, 0);
    }
    let digest = Sha256::digest(&buf[HEADER_LEN..]);
    let len = (buf.len() - HEADER_LEN) as u64;
    buf[..MAGIC.len()].copy_from_slice(MAGIC);
    buf[MAGIC.len()..VERSION_END].copy_from_slice(&FORMAT_VERSION.to_be_bytes());
    buf[VERSION_END..LENGTH_END].copy_from_slice(&len.to_be_bytes());
    buf[LENGTH_END..HEADER_LEN].copy_from_slice(&digest);
    buf
}

/// Checks a sealed snapshot whole and returns its payload; refuses anything
/// that is not exactly one snapshot of the version this build reads.
pub fn open(bytes: &[u8]) -> Result<&[u8], SnapshotFileError> {
    let magic_present = bytes.len().min(MAGIC.len());
    if bytes[..magic_present] != MAGIC[..magic_present] {
        return Err(SnapshotFileError::WrongMagic {
            found: hex::encode(&bytes[..magic_present]),
        });
    }
    let truncated = || SnapshotFileError::TruncatedHeader {
        actual: bytes.len() as u64,
    };
    let version = bytes
        .get(MAGIC.len()..VERSION_END)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or_else(truncated)?;
    if version != FORMAT_VERSION {
        return Err(SnapshotFileError::UnknownVersion { found: version });
    }
    if bytes.len() < HEADER_LEN {
        return Err(truncated());
    }
    let expected = bytes
        .get(VERSION_END..LENGTH_END)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(truncated)?;
    let hash = &bytes[LENGTH_END..HEADER_LEN];
    let payload = &bytes[HEADER_LEN..];
    let actual = payload.len() as u64;
    if actual < expected {
        return Err(SnapshotFileError::TruncatedPayload { expected, actual });
    }
    if actual > expected {
        return Err(SnapshotFileError::TrailingBytes {
            expected,
            extra: actual - expected,
        });
    }
    let computed = Sha256::digest(payload);
    if computed.as_slice() != hash {
        return Err(SnapshotFileError::Checksum {
            expected: hex::encode(hash),
            actual: hex::encode(computed),
        });
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &[u8] = b"the whole sale, encoded";

    #[test]
    fn round_trips_any_payload_even_empty() {
        assert_eq!(open(&seal(PAYLOAD)), Ok(PAYLOAD));
        assert_eq!(open(&seal(b"")), Ok(&b""[..]));
        assert_eq!(seal(PAYLOAD).len(), HEADER_LEN + PAYLOAD.len());
    }

    #[test]
    fn every_truncation_is_refused_as_truncated() {
        let sealed = seal(PAYLOAD);
        for len in 0..sealed.len() {
            let err = open(&sealed[..len]).expect_err("a truncated snapshot is refused");
            match err {
                SnapshotFileError::TruncatedHeader { actual } => {
                    assert!(len < HEADER_LEN, "length {len}");
                    assert_eq!(actual, len as u64);
                }
                SnapshotFileError::TruncatedPayload { expected, actual } => {
                    assert!(len >= HEADER_LEN, "length {len}");
                    assert_eq!(expected, PAYLOAD.len() as u64);
                    assert_eq!(actual, (len - HEADER_LEN) as u64);
                }
                other => panic!("length {len}: {other}"),
            }
        }
        assert!(open(&[])
            .unwrap_err()
            .to_string()
            .contains("only 0 present"));
    }

    #[test]
    fn wrong_magic_is_refused_and_named() {
        let mut sealed = seal(PAYLOAD);
        sealed[0] = b'X';
        let err = open(&sealed).unwrap_err();
        assert!(matches!(err, SnapshotFileError::WrongMagic { .. }), "{err}");
        assert!(err.to_string().contains("IJSNAPSH"), "{err}");
        // A bare payload from before the envelope, or any foreign file.
        assert!(matches!(
            open(b"PK\x03\x04 a zip file").unwrap_err(),
            SnapshotFileError::WrongMagic { .. }
        ));
        // Even a prefix too short to hold the magic is foreign if it differs.
        assert_eq!(
            open(b"IJ").unwrap_err(),
            SnapshotFileError::TruncatedHeader { actual: 2 }
        );
        assert_eq!(
            open(b"IX").unwrap_err(),
            SnapshotFileError::WrongMagic {
                found: hex::encode(b"IX")
            }
        );
    }

    #[test]
    fn unknown_version_is_refused_naming_the_version() {
        let mut sealed = seal(PAYLOAD);
        sealed[MAGIC.len()..VERSION_END].copy_from_slice(&7u32.to_be_bytes());
        let err = open(&sealed).unwrap_err();
        assert_eq!(err, SnapshotFileError::UnknownVersion { found: 7 });
        assert!(err.to_string().contains("version 7"), "{err}");
        // Checked before anything after it, whose layout the version decides.
        assert_eq!(
            open(&sealed[..VERSION_END]).unwrap_err(),
            SnapshotFileError::UnknownVersion { found: 7 }
        );
    }

    #[test]
    fn every_flipped_byte_after_the_magic_is_refused() {
        let sealed = seal(PAYLOAD);
        for i in 0..sealed.len() {
            let mut damaged = sealed.clone();
            damaged[i] ^= 0x01;
            let err = open(&damaged).expect_err("damage is noticed");
            let expected_kind = match i {
                i if i < MAGIC.len() => matches!(err, SnapshotFileError::WrongMagic { .. }),
                i if i < VERSION_END => matches!(err, SnapshotFileError::UnknownVersion { .. }),
                i if i < LENGTH_END => matches!(
                    err,
                    SnapshotFileError::TruncatedPayload { .. }
                        | SnapshotFileError::TrailingBytes { .. }
                ),
                _ => matches!(err, SnapshotFileError::Checksum { .. }),
            };
            assert!(expected_kind, "byte {i}: {err}");
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut sealed = seal(PAYLOAD);
        sealed.extend_from_slice(b"!!");
        assert_eq!(
            open(&sealed).unwrap_err(),
            SnapshotFileError::TrailingBytes {
                expected: PAYLOAD.len() as u64,
                extra: 2
            }
        );
    }

    #[test]
    fn a_payload_swapped_for_another_of_the_same_length_is_refused() {
        let mut sealed = seal(PAYLOAD);
        let tail = sealed.len() - 4;
        sealed[tail..].copy_from_slice(b"XXXX");
        let err = open(&sealed).unwrap_err();
        assert!(matches!(err, SnapshotFileError::Checksum { .. }), "{err}");
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
    #[test]
    fn sealing_in_place_gives_the_same_bytes_as_sealing_a_copy() {
        let payload = b"the sale state".to_vec();
        let mut buf = with_header_room(payload.len());
        buf.extend_from_slice(&payload);
        assert_eq!(seal_reserved(buf), seal(&payload));
        assert_eq!(seal_reserved(with_header_room(0)), seal(b""));
    }
}
