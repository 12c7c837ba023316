//! The canonical encoding of the replicated sale state: snapshots, backups and the state hash.
//!
//! The state is the machine followed by its journal, encoded with bincode:
//! every field in declaration order, nothing in between.
//!
//! Indexes that are a function of other fields are not encoded: the queue's
//! pre-queue index (customer → arrival) is rebuilt from the pre-queue when a
//! queue is decoded, so it costs no snapshot bytes and cannot disagree with
//! the list. Indexes that carry information of their own are encoded: the
//! outcome cache's ages (the order outcomes were remembered in, which decides
//! which one a client loses first) exist nowhere else.
//!
//! Two encodings have existed (the number is `backup::MACHINE_FORMAT`):
//! - **1**: the journal held the whole audit chain (`records`), so every
//!   snapshot carried every record ever written, and so did memory; the
//!   outcome cache had no ages (it forgot a client's smallest request id).
//! - **2** (this build): the journal's chain is its length, its head and the
//!   records not yet taken by storage ([`super::AuditLog`]), a node keeping
//!   the records in a column family of its own; the cache's outcomes carry
//!   their ages. [`decode_legacy_snapshot`] reads format 1 into format 2's
//!   shape: every record pending (for the storage layer to take), and each
//!   client's outcomes aged in request-id order (so the next one forgotten
//!   is the one format 1 would have forgotten).

use sha2::{Digest, Sha256};

use std::collections::BTreeMap;

use super::audit::{AuditLog, AuditRecord};
use super::domain_event::DomainEventFeed;
use super::idempotency::LegacyOutcomeCache;
use super::journal::Journal;
use super::{
    CustomerId, Customers, EventId, Hold, HoldId, Map, SaleEvent, SaleMachine, Set, Ticket,
    TicketId,
};

/// Error decoding a snapshot of the sale state.
#[derive(Debug, thiserror::Error)]
#[error("corrupt sale state snapshot: {0}")]
pub struct DecodeError(String);

/// The canonical bytes of `machine` and `journal`: what a snapshot stores.
pub fn encode_snapshot(machine: &SaleMachine, journal: &Journal) -> Vec<u8> {
    // Serialising plain structs and BTreeMaps into a Vec cannot fail.
    bincode::serialize(&(machine, journal)).unwrap_or_default()
}

/// Decodes [`encode_snapshot`]'s output.
pub fn decode_snapshot(bytes: &[u8]) -> Result<(SaleMachine, Journal), DecodeError> {
    strict_decode(bytes)
}

/// bincode's layout as `bincode::serialize` writes it (fixed-width integers,
/// little-endian), but refusing bytes left over after the value: anything
/// after the state is not part of it, and a state that decodes with a tail
/// would not be the canonical bytes its hash speaks for.
fn strict_decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .reject_trailing_bytes()
        .deserialize(bytes)
        .map_err(|e| DecodeError(e.to_string()))
}

/// The machine as format 1 encoded it: the same fields, the cache without ages.
#[derive(serde::Deserialize)]
struct LegacySaleMachine {
    now_ms: u64,
    last_index: u64,
    sale_events: BTreeMap<EventId, SaleEvent>,
    holds: Map<HoldId, Hold>,
    expiry_index: Set<(u64, HoldId)>,
    tickets: Map<TicketId, Ticket>,
    tickets_by_customer: Map<CustomerId, Vec<TicketId>>,
    next_hold_id: HoldId,
    next_ticket_id: u64,
    outcomes: LegacyOutcomeCache,
    customers: Customers,
}

/// The journal as format 1 encoded it: the feed, then every audit record.
#[derive(serde::Deserialize)]
struct LegacyJournal {
    feed: DomainEventFeed,
    audit: LegacyAuditLog,
}

#[derive(serde::Deserialize)]
struct LegacyAuditLog {
    records: Vec<AuditRecord>,
}

/// Decodes a format-1 snapshot (the audit chain inline) into today's shape:
/// the machine as it was, the journal with every record pending. Refused
/// unless the records form one chain from seq 0.
pub fn decode_legacy_snapshot(bytes: &[u8]) -> Result<(SaleMachine, Journal), DecodeError> {
    let (old, legacy): (LegacySaleMachine, LegacyJournal) = strict_decode(bytes)?;
    let machine = SaleMachine {
        now_ms: old.now_ms,
        last_index: old.last_index,
        sale_events: old.sale_events,
        holds: old.holds,
        expiry_index: old.expiry_index,
        tickets: old.tickets,
        tickets_by_customer: old.tickets_by_customer,
        next_hold_id: old.next_hold_id,
        next_ticket_id: old.next_ticket_id,
        outcomes: old.outcomes.into_current(),
        customers: old.customers,
    };
    let audit = AuditLog::resume(0, [0; 32], legacy.audit.records)
        .map_err(|e| DecodeError(e.to_string()))?;
    let journal = Journal {
        feed: legacy.feed,
        audit,
    };
    Ok((machine, journal))
}

/// Format 1's encoding of `machine` and `journal` (every pending record as
/// the chain, the cache without ages): the storage layer checks that an old
/// stored snapshot re-encodes to exactly itself before converting it.
pub fn encode_legacy_snapshot(machine: &SaleMachine, journal: &Journal) -> Vec<u8> {
    let m = machine;
    let old_machine = (
        (
            m.now_ms,
            m.last_index,
            &m.sale_events,
            &m.holds,
            &m.expiry_index,
        ),
        (
            &m.tickets,
            &m.tickets_by_customer,
            m.next_hold_id,
            m.next_ticket_id,
        ),
        (m.outcomes.legacy_view(), &m.customers),
    );
    bincode::serialize(&(old_machine, (&journal.feed, journal.audit.pending()))).unwrap_or_default()
}

/// Bytes at the end of a payload whose audit chain holds no pending record:
/// the chain's length (u64), its head (32 bytes), the pending count (u64, 0).
const DRAINED_TAIL: usize = 8 + 32 + 8;

/// The audit chain's length in `payload`, an encoding of a machine and a
/// journal whose records were all taken (as a node stores its snapshots),
/// read off its last bytes without decoding the rest.
///
/// This leans on bincode's layout: a tuple and a struct are their fields in
/// order, so the payload ends with the journal's chain, and the chain with
/// its `len`, `head` and `pending` (a `Vec`: its length, then its items).
/// A test below pins it.
pub fn drained_audit_len(payload: &[u8]) -> Result<u64, DecodeError> {
    let n = payload.len();
    if n < DRAINED_TAIL {
        return Err(DecodeError("too short to end with an audit chain".into()));
    }
    let word = |at: usize| u64::from_le_bytes(payload[at..at + 8].try_into().unwrap_or([0; 8]));
    if word(n - 8) != 0 {
        return Err(DecodeError(
            "its audit chain still holds records (not a stored snapshot)".into(),
        ));
    }
    Ok(word(n - DRAINED_TAIL))
}

/// `payload` (as [`drained_audit_len`] reads it) with the chain's records
/// put back inline: `count` records whose bincode, concatenated, is
/// `encoded_records`. The result is exactly [`encode_snapshot`] of the same
/// machine and journal with every record pending — the whole state, as a
/// snapshot sent to a follower or a backup carries it — made without
/// decoding anything.
pub fn with_audit_records(
    payload: &[u8],
    count: u64,
    encoded_records: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(payload.len() + encoded_records.len());
    start_with_audit_records(payload, count, &mut out)?;
    out.extend_from_slice(encoded_records);
    Ok(out)
}

/// The first part of [`with_audit_records`], appended to `out`: the payload
/// with its pending count replaced by `count`; the caller appends the
/// `count` encoded records next (straight from storage, into one buffer).
pub fn start_with_audit_records(
    payload: &[u8],
    count: u64,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    drained_audit_len(payload)?;
    let keep = payload.len() - 8;
    out.extend_from_slice(&payload[..keep]);
    out.extend_from_slice(&count.to_le_bytes());
    Ok(())
}

/// The state hash a node reports for `machine` and `journal`: the hash of
/// their encoding with the audit chain as its length and head only,
/// whatever `journal` holds pending (a backup holds every record pending;
/// the node that took it had none). A backup's `state_hash` is this.
pub fn drained_state_hash(machine: &SaleMachine, journal: &Journal) -> [u8; 32] {
    #[derive(serde::Serialize)]
    struct DrainedAudit<'a> {
        len: u64,
        head: [u8; 32],
        pending: &'a [AuditRecord],
    }
    #[derive(serde::Serialize)]
    struct DrainedJournal<'a> {
        feed: &'a DomainEventFeed,
        audit: DrainedAudit<'a>,
    }
    let drained = DrainedJournal {
        feed: &journal.feed,
        audit: DrainedAudit {
            len: journal.audit.len(),
            head: journal.audit.head(),
            pending: &[],
        },
    };
    Sha256::digest(bincode::serialize(&(machine, drained)).unwrap_or_default()).into()
}

/// SHA-256 of the canonical encoding: equal on replicas that applied the same entries.
pub fn state_hash(machine: &SaleMachine, journal: &Journal) -> [u8; 32] {
    Sha256::digest(encode_snapshot(machine, journal)).into()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::machine::Command;

    #[test]
    fn a_snapshot_round_trips_machine_and_journal() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 20, "ana", 2);
        buy(&mut m, 21, 2_000, hold.hold_id, "ana").expect("bought");
        let bytes = encode_snapshot(&m.machine, &m.journal);
        let (machine, journal) = decode_snapshot(&bytes).expect("decodes");
        assert_eq!((&machine, &journal), (&m.machine, &m.journal));
        assert_eq!(state_hash(&machine, &journal), m.state_hash());
    }

    #[test]
    fn the_hash_covers_the_journal() {
        let m = machine_with_event(5, 4);
        assert_ne!(
            state_hash(&m.machine, &m.journal),
            state_hash(&m.machine, &Journal::default())
        );
    }

    #[test]
    fn a_format_one_snapshot_decodes_into_the_same_state_with_every_record_pending() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 20, "ana", 2);
        buy(&mut m, 21, 2_000, hold.hold_id, "ana").expect("bought");
        hold_ok(&mut m, 22, "bia", 1);
        // Keyed requests, ids rising: the cache has outcomes to convert.
        for (n, id) in [(23, 4), (24, 9), (25, 30)] {
            let request = crate::machine::Request {
                key: Some(key("gw-1", id)),
                command: crate::machine::Command::Tick,
            };
            send(&mut m, n, 2_000, request);
        }
        assert!(m.journal.audit().len() >= 6);
        let old = encode_legacy_snapshot(&m.machine, &m.journal);
        let (machine, converted) = decode_legacy_snapshot(&old).expect("format 1 decodes");
        assert_eq!((&machine, &converted), (&m.machine, &m.journal));
        // Today's decoder does not take format 1 for its own.
        assert!(decode_snapshot(&old).is_err());
        // A broken chain in a format-1 snapshot is refused, not converted:
        // the last bytes are the last record's own hash.
        let mut broken = old.clone();
        let last = broken.len() - 1;
        broken[last] ^= 1;
        assert!(decode_legacy_snapshot(&broken).is_err());
    }

    #[test]
    fn a_drained_journal_encodes_its_chain_as_length_and_head_only() {
        let mut m = machine_with_event(5, 4);
        hold_ok(&mut m, 20, "ana", 2);
        let full = encode_snapshot(&m.machine, &m.journal);
        let before = state_hash(&m.machine, &m.journal);
        let taken = m.journal.take_new_audit_records();
        assert!(!taken.is_empty());
        let drained = encode_snapshot(&m.machine, &m.journal);
        assert!(drained.len() < full.len());
        let (machine, journal) = decode_snapshot(&drained).unwrap();
        assert_eq!((&machine, &journal), (&m.machine, &m.journal));
        assert_eq!(journal.audit().len(), taken.len() as u64);
        assert_eq!(journal.audit().head(), taken.last().unwrap().hash);
        // The hash covers the chain through its head: a replica that took its
        // records and one that did not compare by what they hold...
        assert_ne!(state_hash(&machine, &journal), before);
        // ...and what a node that took them reports is the drained hash.
        assert_eq!(
            state_hash(&machine, &journal),
            drained_state_hash(&m.machine, &m.journal)
        );
        let mut undrained = machine_with_event(5, 4);
        hold_ok(&mut undrained, 20, "ana", 2);
        assert_eq!(
            drained_state_hash(&undrained.machine, &undrained.journal),
            state_hash(&machine, &journal)
        );
    }

    #[test]
    fn records_spliced_back_make_the_encoding_of_the_undrained_journal() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 20, "ana", 2);
        buy(&mut m, 21, 2_000, hold.hold_id, "ana").expect("bought");
        let whole = encode_snapshot(&m.machine, &m.journal);
        let taken = m.journal.take_new_audit_records();
        let drained = encode_snapshot(&m.machine, &m.journal);
        assert_eq!(drained_audit_len(&drained).unwrap(), taken.len() as u64);
        let encoded: Vec<u8> = taken
            .iter()
            .flat_map(|r| bincode::serialize(r).unwrap())
            .collect();
        let spliced = with_audit_records(&drained, taken.len() as u64, &encoded).unwrap();
        assert_eq!(spliced, whole);
        // A payload that still holds records is not a stored snapshot.
        assert!(drained_audit_len(&whole).is_err());
        assert!(drained_audit_len(b"short").is_err());
    }

    /// [`super::super::QueueState`]'s encoded fields: all but the derived
    /// pre-queue index, in the `std` collections format 2 was first
    /// written with (the persistent ones must encode the same bytes).
    #[derive(serde::Serialize)]
    struct QueueWithoutIndex {
        opened: bool,
        opened_at_ms: u64,
        pre_queue: Vec<super::super::CustomerId>,
        line: Vec<super::super::CustomerId>,
        seq_of: std::collections::BTreeMap<super::super::CustomerId, u64>,
        admitted_up_to: u64,
        admissions: std::collections::BTreeMap<super::super::CustomerId, super::super::Admission>,
        live: std::collections::BTreeSet<(u64, super::super::CustomerId)>,
    }

    fn queue_encoding(m: &SaleMachine) -> (Vec<u8>, Vec<u8>) {
        let q = m.sale_event("rock").unwrap().queue.as_ref().unwrap();
        let mirror = QueueWithoutIndex {
            opened: q.opened,
            opened_at_ms: q.opened_at_ms,
            pre_queue: q.pre_queue.iter().cloned().collect(),
            line: q.line.iter().cloned().collect(),
            seq_of: q.seq_of.clone().into_iter().collect(),
            admitted_up_to: q.admitted_up_to,
            admissions: q.admissions.clone().into_iter().collect(),
            live: q.live.iter().cloned().collect(),
        };
        (
            bincode::serialize(q).unwrap(),
            bincode::serialize(&mirror).unwrap(),
        )
    }

    /// A queue with `before` fans in the pre-queue (registered from the 0th test CPF on).
    fn pre_queue_of(before: &[&str]) -> Sale {
        let mut m = queued_machine(10_000, 60, 1);
        for (n, c) in before.iter().enumerate() {
            register(&mut m, c, n);
            apply(&mut m, 10 + n as u64, 2_000, join_cmd(c)).unwrap();
        }
        m
    }

    #[test]
    fn a_queue_encodes_its_lists_and_not_the_index_derived_from_them() {
        let mut m = pre_queue_of(&["ana", "bia", "caio"]);
        let (queue, without_index) = queue_encoding(&m);
        assert_eq!(queue, without_index);
        apply(&mut m, 30, 10_000, Command::Tick).unwrap();
        let (queue, without_index) = queue_encoding(&m);
        assert_eq!(queue, without_index, "after the opening too");
    }

    #[test]
    fn a_decoded_pre_queue_carries_on_as_the_original_does() {
        let mut original = pre_queue_of(&["ana", "bia", "caio"]);
        let (machine, journal) =
            decode_snapshot(&encode_snapshot(&original.machine, &original.journal)).unwrap();
        let mut decoded = Sale { machine, journal };
        // Equality covers the index: it was rebuilt from the pre-queue.
        assert_eq!(decoded, original);
        for m in [&mut original, &mut decoded] {
            // A second join is recognised (no second place), a new one queues behind.
            apply(m, 20, 3_000, join_cmd("bia")).unwrap();
            register(m, "davi", 3);
            apply(m, 22, 3_000, join_cmd("davi")).unwrap();
            let p = m.queue_position("rock", "bia").unwrap();
            assert_eq!((p.in_pre_queue, p.queue_length), (true, 4));
            apply(m, 23, 10_000, Command::Tick).unwrap();
        }
        assert_eq!(decoded, original);
        assert_eq!(decoded.state_hash(), original.state_hash());
        let line = &decoded
            .sale_event("rock")
            .unwrap()
            .queue
            .as_ref()
            .unwrap()
            .line;
        assert_eq!(line.len(), 4);
    }

    #[test]
    fn a_decoded_cache_forgets_in_the_order_the_original_does() {
        let mut original = Sale::default();
        let ids = (0..400u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let requests: Vec<crate::machine::Request> = ids
            .map(|id| crate::machine::Request {
                key: Some(key("gw", id)),
                command: Command::Tick,
            })
            .collect();
        for (n, r) in requests[..300].iter().enumerate() {
            send(&mut original, n as u64 + 1, 1_000, r.clone());
        }
        let (machine, journal) =
            decode_snapshot(&encode_snapshot(&original.machine, &original.journal)).unwrap();
        let mut decoded = Sale { machine, journal };
        for m in [&mut original, &mut decoded] {
            for (n, r) in requests[300..].iter().enumerate() {
                send(m, n as u64 + 301, 1_000, r.clone());
            }
        }
        assert_eq!(decoded, original);
        // The newest 256 are the ones kept, whatever their ids.
        for (n, r) in requests.iter().enumerate() {
            let kept = decoded.remembered(r.key.as_ref().unwrap()).is_some();
            assert_eq!(
                kept,
                n >= 400 - super::super::idempotency::OUTCOMES_PER_CLIENT
            );
        }
    }

    #[test]
    fn bytes_after_the_state_are_refused() {
        let m = machine_with_event(5, 4);
        let mut bytes = encode_snapshot(&m.machine, &m.journal);
        assert!(decode_snapshot(&bytes).is_ok());
        bytes.push(0);
        assert!(decode_snapshot(&bytes).is_err());
        let mut old = encode_legacy_snapshot(&m.machine, &m.journal);
        assert!(decode_legacy_snapshot(&old).is_ok());
        old.extend_from_slice(b"tail");
        assert!(decode_legacy_snapshot(&old).is_err());
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let bytes = encode_snapshot(&SaleMachine::default(), &Journal::default());
        assert!(decode_snapshot(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_snapshot(b"not a snapshot").is_err());
    }
}
