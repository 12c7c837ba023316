//! The canonical encoding of the replicated sale state: snapshots, backups and the state hash.
//!
//! The state is the machine followed by its journal, encoded with bincode:
//! every field in declaration order, nothing in between. Keeping the journal
//! out of [`SaleMachine`] therefore left the bytes as they were when the
//! machine held it as its last fields.
//!
//! Indexes that are a function of other fields are not encoded: the queue's
//! pre-queue index (customer → arrival) is rebuilt from the pre-queue when a
//! queue is decoded, so it costs no snapshot bytes and cannot disagree with
//! the list. Indexes that carry information of their own are encoded: the
//! outcome cache's ages (the order outcomes were remembered in, which decides
//! which one a client loses first) exist nowhere else. Adding them changed
//! the cache's layout: snapshots and backups written before it do not decode
//! (they fail as corrupt; `backup::MACHINE_FORMAT` is the number to bump).

use sha2::{Digest, Sha256};

use super::journal::Journal;
use super::SaleMachine;

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
    bincode::deserialize(bytes).map_err(|e| DecodeError(e.to_string()))
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

    /// The machine as it was serialised when it still held the journal: its
    /// fields in order, the domain-event feed and the audit chain last.
    #[derive(serde::Serialize)]
    struct MachineWithJournal<'a> {
        now_ms: u64,
        last_index: u64,
        sale_events: &'a std::collections::BTreeMap<super::super::EventId, super::super::SaleEvent>,
        holds: &'a std::collections::BTreeMap<super::super::HoldId, super::super::Hold>,
        expiry_index: &'a std::collections::BTreeSet<(u64, super::super::HoldId)>,
        tickets: &'a std::collections::BTreeMap<super::super::TicketId, super::super::Ticket>,
        tickets_by_customer:
            &'a std::collections::BTreeMap<super::super::CustomerId, Vec<super::super::TicketId>>,
        next_hold_id: u64,
        next_ticket_id: u64,
        outcomes: &'a super::super::OutcomeCache,
        customers: &'a super::super::Customers,
        feed: &'a super::super::DomainEventFeed,
        audit: &'a super::super::AuditLog,
    }

    #[test]
    fn the_encoding_is_the_one_of_the_machine_that_held_its_journal() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 20, "ana", 2);
        buy(&mut m, 21, 2_000, hold.hold_id, "ana").expect("bought");
        hold_ok(&mut m, 22, "bia", 1);
        let s = &m.machine;
        let journal = &m.journal;
        let before_the_split = MachineWithJournal {
            now_ms: s.now_ms,
            last_index: s.last_index,
            sale_events: &s.sale_events,
            holds: &s.holds,
            expiry_index: &s.expiry_index,
            tickets: &s.tickets,
            tickets_by_customer: &s.tickets_by_customer,
            next_hold_id: s.next_hold_id,
            next_ticket_id: s.next_ticket_id,
            outcomes: &s.outcomes,
            customers: &s.customers,
            feed: &journal.feed,
            audit: &journal.audit,
        };
        assert_eq!(
            encode_snapshot(s, journal),
            bincode::serialize(&before_the_split).unwrap()
        );
    }

    /// [`super::super::QueueState`]'s encoded fields: all but the derived pre-queue index.
    #[derive(serde::Serialize)]
    struct QueueWithoutIndex<'a> {
        opened: bool,
        opened_at_ms: u64,
        pre_queue: &'a Vec<super::super::CustomerId>,
        line: &'a Vec<super::super::CustomerId>,
        seq_of: &'a std::collections::BTreeMap<super::super::CustomerId, u64>,
        admitted_up_to: u64,
        admissions:
            &'a std::collections::BTreeMap<super::super::CustomerId, super::super::Admission>,
        live: &'a std::collections::BTreeSet<(u64, super::super::CustomerId)>,
    }

    fn queue_encoding(m: &SaleMachine) -> (Vec<u8>, Vec<u8>) {
        let q = m.sale_event("rock").unwrap().queue.as_ref().unwrap();
        let mirror = QueueWithoutIndex {
            opened: q.opened,
            opened_at_ms: q.opened_at_ms,
            pre_queue: &q.pre_queue,
            line: &q.line,
            seq_of: &q.seq_of,
            admitted_up_to: q.admitted_up_to,
            admissions: &q.admissions,
            live: &q.live,
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
    fn garbage_is_a_decode_error() {
        let bytes = encode_snapshot(&SaleMachine::default(), &Journal::default());
        assert!(decode_snapshot(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_snapshot(b"not a snapshot").is_err());
    }
}
