//! The canonical encoding of the replicated sale state: snapshots, backups and the state hash.
//!
//! The state is the machine followed by its journal, encoded with bincode:
//! every field in declaration order, nothing in between. Keeping the journal
//! out of [`SaleMachine`] therefore left the bytes as they were when the
//! machine held it as its last fields — older snapshots and backups decode,
//! and replicas of either build hash alike.

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

    #[test]
    fn garbage_is_a_decode_error() {
        let bytes = encode_snapshot(&SaleMachine::default(), &Journal::default());
        assert!(decode_snapshot(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_snapshot(b"not a snapshot").is_err());
    }
}
