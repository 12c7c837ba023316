//! The journal: what applied requests leave behind for auditors and subscribers.
//!
//! Each applied request appends one audit record (who, what, the outcome and
//! the ids it concerned) and the domain events its outcome stands for
//! (a hold created, a purchase confirmed, a rejection...). The machine
//! produces them per entry ([`EntryJournal`], returned by
//! [`SaleMachine::apply_entry`]) and keeps none of them: the caller records
//! them in a [`Journal`], which numbers the events and chains the audit
//! records. Every replica applies the same entries, so every replica's journal
//! is the same.

use serde::{Deserialize, Serialize};

use super::audit::{AuditEntry, AuditLog, AuditRecord};
use super::command::Command;
use super::domain_event::{DomainEvent, DomainEventFeed, DomainEventKind};
use super::hold::Hold;
use super::ids::{CategoryId, CustomerId, EventId, HoldId};
use super::outcome::{Effect, Outcome};
use super::SaleMachine;

/// Who and what one applied request concerns: the ids its audit record lists
/// and its domain events carry. An empty id means "not concerned".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub event_id: EventId,
    pub category_id: CategoryId,
    pub customer_id: CustomerId,
    pub hold_id: Option<HoldId>,
}

impl Subject {
    /// A domain event of `kind` about this subject (stamped when emitted).
    fn event(&self, kind: DomainEventKind) -> DomainEvent {
        DomainEvent {
            kind: Some(kind),
            event_id: self.event_id.clone(),
            category_id: self.category_id.clone(),
            customer_id: self.customer_id.clone(),
            hold_id: self.hold_id,
            ..DomainEvent::default()
        }
    }

    /// The audit ids of this subject: `event:`, `category:`, `customer:` for the ids it has.
    fn audit_ids(&self) -> Vec<String> {
        [
            ("event", &self.event_id),
            ("category", &self.category_id),
            ("customer", &self.customer_id),
        ]
        .into_iter()
        .filter(|(_, id)| !id.is_empty())
        .map(|(kind, id)| format!("{kind}:{id}"))
        .collect()
    }
}

/// What one applied entry adds to the journal, in the order it happened.
///
/// Audit entries are not chained and domain events not numbered yet
/// (`seq` is 0): [`Journal::record`] does both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryJournal {
    log_index: u64,
    ts_ms: u64,
    /// One per applied request, retries included. Private, like the whole
    /// value's making: only apply adds to an entry's journal.
    audit_records: Vec<AuditEntry>,
    /// What the entry's requests (and the expiries and admissions they triggered) stand for.
    domain_events: Vec<DomainEvent>,
}

impl EntryJournal {
    /// An empty journal for the entry at `log_index`, applied at logical time `ts_ms`.
    pub(super) fn new(log_index: u64, ts_ms: u64) -> Self {
        EntryJournal {
            log_index,
            ts_ms,
            ..EntryJournal::default()
        }
    }

    /// The log index of the entry.
    pub fn log_index(&self) -> u64 {
        self.log_index
    }

    /// Appends domain events, stamped with the entry's log index and time.
    pub(super) fn emit_all(&mut self, events: Vec<DomainEvent>) {
        let (log_index, ts_ms) = (self.log_index, self.ts_ms);
        self.domain_events
            .extend(events.into_iter().map(|e| DomainEvent {
                log_index,
                ts_ms,
                ..e
            }));
    }

    /// Appends the audit record of one request: `actor` did `action` about
    /// `subject`, and it came to `outcome`.
    pub(super) fn audit(
        &mut self,
        actor: String,
        action: String,
        subject: &Subject,
        outcome: &Outcome,
    ) {
        let mut ids = subject.audit_ids();
        let hold = subject.hold_id.or(match outcome {
            Ok(Effect::HoldPlaced(h)) => Some(h.hold_id),
            _ => None,
        });
        if let Some(h) = hold {
            ids.push(format!("hold:{h}"));
        }
        if let Ok(Effect::Purchased(tickets)) = outcome {
            ids.extend(tickets.iter().map(|t| format!("ticket:{}", t.ticket_id)));
            if let Some(t) = tickets.first() {
                ids.push(format!("charge:{}", t.charge_id));
            }
        }
        let outcome = match outcome {
            Ok(_) => "ok".to_string(),
            Err(r) => r.code().to_string(),
        };
        self.audit_records.push(AuditEntry {
            log_index: self.log_index,
            ts_ms: self.ts_ms,
            actor,
            action,
            outcome,
            ids,
        });
    }
}

impl SaleMachine {
    /// The subject of `command`: the event, category, customer and hold it
    /// concerns, looked up through its hold if it names one.
    pub(super) fn subject(&self, command: &Command) -> Subject {
        let via_hold = |hold_id: &HoldId, customer: &str| {
            let (event_id, category_id) = self
                .holds
                .get(hold_id)
                .map(|h| (h.event_id.clone(), h.category_id.clone()))
                .unwrap_or_default();
            Subject {
                event_id,
                category_id,
                customer_id: customer.to_string(),
                hold_id: Some(*hold_id),
            }
        };
        match command {
            Command::CreateEvent { event_id, .. } => Subject {
                event_id: event_id.clone(),
                ..Subject::default()
            },
            Command::RegisterCustomer(r) => Subject {
                customer_id: r.customer_id.clone(),
                ..Subject::default()
            },
            Command::EnrolTotp { customer_id, .. } | Command::RecordLogin { customer_id, .. } => {
                Subject {
                    customer_id: customer_id.clone(),
                    ..Subject::default()
                }
            }
            Command::JoinQueue {
                event_id,
                customer_id,
            } => Subject {
                event_id: event_id.clone(),
                customer_id: customer_id.clone(),
                ..Subject::default()
            },
            Command::PlaceHold {
                event_id,
                category_id,
                customer_id,
                ..
            } => Subject {
                event_id: event_id.clone(),
                category_id: category_id.clone(),
                customer_id: customer_id.clone(),
                hold_id: None,
            },
            Command::ReleaseHold {
                hold_id,
                customer_id,
            }
            | Command::Purchase {
                hold_id,
                customer_id,
                ..
            }
            | Command::PaymentFailed {
                hold_id,
                customer_id,
                ..
            } => via_hold(hold_id, customer_id),
            Command::Tick => Subject::default(),
        }
    }
}

/// The domain events one applied command's outcome stands for (not stamped yet).
pub(super) fn domain_events_for(subject: Subject, outcome: &Outcome) -> Vec<DomainEvent> {
    let hold_event = |kind, h: &Hold| DomainEvent {
        kind: Some(kind),
        event_id: h.event_id.clone(),
        category_id: h.category_id.clone(),
        customer_id: h.customer_id.clone(),
        hold_id: Some(h.hold_id),
        quantity: h.quantity,
        ..DomainEvent::default()
    };
    match outcome {
        Ok(Effect::EventCreated { .. }) => vec![subject.event(DomainEventKind::EventCreated)],
        Ok(Effect::Registered { .. }) => vec![subject.event(DomainEventKind::CustomerRegistered)],
        Ok(Effect::HoldPlaced(h)) => vec![hold_event(DomainEventKind::HoldCreated, h)],
        Ok(Effect::HoldReleased(h)) => vec![hold_event(DomainEventKind::HoldReleased, h)],
        Ok(Effect::Purchased(tickets)) => vec![DomainEvent {
            quantity: tickets.len() as u32,
            ticket_ids: tickets.iter().map(|t| t.ticket_id.to_string()).collect(),
            ..subject.event(DomainEventKind::PurchaseConfirmed)
        }],
        Ok(Effect::PaymentRejected {
            hold,
            released,
            failure,
        }) => {
            let mut events = vec![DomainEvent {
                reason: failure.code().to_string(),
                ..hold_event(DomainEventKind::PaymentDeclined, hold)
            }];
            if *released {
                events.push(hold_event(DomainEventKind::HoldReleased, hold));
            }
            events
        }
        Ok(Effect::TotpEnrolled { .. }) => vec![subject.event(DomainEventKind::TotpEnrolled)],
        Ok(Effect::LoginRecorded { succeeded, .. }) => vec![subject.event(if *succeeded {
            DomainEventKind::LoginSucceeded
        } else {
            DomainEventKind::LoginFailed
        })],
        Ok(Effect::Queued(_)) | Ok(Effect::Ticked) => Vec::new(),
        Err(r) if !subject.customer_id.is_empty() => vec![DomainEvent {
            reason: r.code().to_string(),
            ..subject.event(DomainEventKind::Rejected)
        }],
        Err(_) => Vec::new(),
    }
}

/// The audit chain and the domain-event feed of every applied entry.
///
/// Owned next to the machine by whoever applies entries (the storage layer),
/// and part of every snapshot (see [`super::encode_snapshot`]): the field
/// order, the feed then the chain, is part of that encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub(super) feed: DomainEventFeed,
    pub(super) audit: AuditLog,
}

impl Journal {
    /// Records what one applied entry produced: numbers its domain events and
    /// chains its audit records, in order.
    pub fn record(&mut self, entry: EntryJournal) {
        for event in entry.domain_events {
            self.feed.push(event);
        }
        for record in entry.audit_records {
            self.audit.append(record);
        }
    }

    /// The audit chain.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Hands over the audit records appended since the last call, for the
    /// storage layer to keep on disk (the chain's length and head stay).
    pub fn take_new_audit_records(&mut self) -> Vec<AuditRecord> {
        self.audit.take_pending()
    }

    /// This journal with `audit` as its chain (tests rebuilding an older
    /// build's state).
    #[cfg(test)]
    pub(crate) fn with_audit(self, audit: AuditLog) -> Journal {
        Journal { audit, ..self }
    }

    /// A page of the feed: domain events with `seq >= from`, at most `limit`.
    pub fn domain_events_since(&self, from: u64, limit: usize) -> Vec<DomainEvent> {
        self.feed.since(from, limit)
    }

    /// Domain events with `seq >= from`, borrowed (no copies on the apply path).
    pub fn iter_domain_events_since(&self, from: u64) -> impl Iterator<Item = &DomainEvent> {
        self.feed.iter_since(from)
    }

    /// The seq the next domain event will get.
    pub fn next_event_seq(&self) -> u64 {
        self.feed.next_seq()
    }

    /// The oldest domain event still kept: a stream cannot resume before it.
    pub fn oldest_event_seq(&self) -> u64 {
        self.feed.oldest_seq()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::machine::{verify_chain, Proposal, Rejection, Request};

    fn entry(ts_ms: u64, requests: Vec<Request>) -> Proposal {
        Proposal { ts_ms, requests }
    }

    fn keyed(request_id: u64, command: Command) -> Request {
        Request {
            key: Some(key("gw-1", request_id)),
            command,
        }
    }

    #[test]
    fn apply_returns_the_entry_audit_records_and_domain_events() {
        let mut m = machine_with_event(5, 4);
        let applied = m
            .machine
            .apply_entry(30, &entry(2_000, vec![keyed(1, hold_cmd("ana", 2))]));
        let Ok(Effect::HoldPlaced(hold)) = &applied.answers[0].outcome else {
            panic!("hold refused: {:?}", applied.answers)
        };
        assert_eq!(
            applied.journal.audit_records,
            vec![AuditEntry {
                log_index: 30,
                ts_ms: 2_000,
                actor: "gw-1".into(),
                action: "place_hold".into(),
                outcome: "ok".into(),
                ids: vec![
                    "event:rock".into(),
                    "category:pista".into(),
                    "customer:ana".into(),
                    format!("hold:{}", hold.hold_id),
                ],
            }]
        );
        let [created] = applied.journal.domain_events.as_slice() else {
            panic!("{:?}", applied.journal.domain_events)
        };
        assert_eq!(created.kind, Some(DomainEventKind::HoldCreated));
        assert_eq!((created.log_index, created.ts_ms), (30, 2_000));
        assert_eq!((created.hold_id, created.quantity), (Some(hold.hold_id), 2));
        assert_eq!(created.seq, 0, "numbered only when recorded");
    }

    #[test]
    fn recorded_entries_chain_their_audit_records_and_number_their_events() {
        let mut m = machine_with_event(5, 4);
        let (records_before, next_seq) = (m.journal.audit().len(), m.journal.next_event_seq());
        let first = m
            .machine
            .apply_entry(30, &entry(2_000, vec![keyed(1, hold_cmd("ana", 1))]));
        let second = m.machine.apply_entry(
            31,
            &entry(
                2_000,
                vec![keyed(2, hold_cmd("bia", 1)), keyed(3, hold_cmd("caio", 9))],
            ),
        );
        m.journal.record(first.journal);
        m.journal.record(second.journal);
        let audit = m.journal.audit();
        assert_eq!(audit.len(), records_before + 3);
        let head = verify_chain(audit.pending()).expect("the chain links");
        assert_eq!(head, audit.head());
        let records = audit.pending();
        for pair in records.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash);
            assert_eq!(pair[1].seq, pair[0].seq + 1);
        }
        let last = &records[records.len() - 1];
        assert_eq!(
            (last.log_index, last.outcome.as_str()),
            (31, "limit_exceeded")
        );
        let events = m.journal.domain_events_since(next_seq, usize::MAX);
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (next_seq..next_seq + 3).collect::<Vec<_>>());
        assert_eq!(events[2].kind, Some(DomainEventKind::Rejected));
        assert_eq!(events[2].reason, "limit_exceeded");
    }

    #[test]
    fn a_retry_is_audited_but_tells_subscribers_nothing() {
        let mut m = machine_with_event(5, 4);
        let request = keyed(1, hold_cmd("ana", 1));
        let first = m
            .machine
            .apply_entry(30, &entry(2_000, vec![request.clone()]));
        assert_eq!(
            first.journal.domain_events.len(),
            1,
            "the first hold is announced"
        );
        let again = m.machine.apply_entry(31, &entry(2_000, vec![request]));
        assert_eq!(again.answers[0].log_index, 30);
        assert!(again.journal.domain_events.is_empty());
        let actions: Vec<&str> = again
            .journal
            .audit_records
            .iter()
            .map(|r| r.action.as_str())
            .collect();
        assert_eq!(actions, vec!["retry:place_hold"]);
    }

    #[test]
    fn expiries_come_first_stamped_with_the_entry_that_saw_them() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 20, "ana", 2);
        let later = 1_000 + TTL;
        let applied = m
            .machine
            .apply_entry(21, &entry(later, vec![keyed(1, hold_cmd("bia", 1))]));
        let kinds: Vec<_> = applied
            .journal
            .domain_events
            .iter()
            .map(|e| (e.kind, e.log_index, e.ts_ms))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Some(DomainEventKind::HoldExpired), 21, later),
                (Some(DomainEventKind::HoldCreated), 21, later),
            ]
        );
        assert_eq!(applied.journal.domain_events[0].hold_id, Some(hold.hold_id));
    }

    #[test]
    fn a_purchase_names_event_and_category_through_its_hold() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 20, "ana", 2);
        let purchase = purchase_cmd_for(&m, hold.hold_id, "ana");
        assert_eq!(
            m.subject(&purchase),
            Subject {
                event_id: "rock".into(),
                category_id: "pista".into(),
                customer_id: "ana".into(),
                hold_id: Some(hold.hold_id),
            }
        );
        let applied = m
            .machine
            .apply_entry(21, &entry(1_000, vec![keyed(1, purchase)]));
        let ids = &applied.journal.audit_records[0].ids;
        assert!(ids.contains(&format!("hold:{}", hold.hold_id)), "{ids:?}");
        assert_eq!(ids.iter().filter(|i| i.starts_with("ticket:")).count(), 2);
        assert_eq!(ids.last(), Some(&format!("charge:ch_{}", hold.hold_id)));
        let confirmed = &applied.journal.domain_events[0];
        assert_eq!(confirmed.kind, Some(DomainEventKind::PurchaseConfirmed));
        assert_eq!(confirmed.ticket_ids.len(), 2);
        assert_eq!(confirmed.category_id, "pista");
    }

    #[test]
    fn a_rejection_without_a_customer_is_audited_only() {
        let mut m = machine_with_event(5, 4);
        let applied = m.machine.apply_entry(
            30,
            &entry(1_000, vec![keyed(1, create_event_cmd("rock", 1, 1))]),
        );
        assert_eq!(
            applied.answers[0].outcome,
            Err(Rejection::EventExists("rock".into()))
        );
        assert!(applied.journal.domain_events.is_empty());
        assert_eq!(applied.journal.audit_records[0].outcome, "event_exists");
        assert_eq!(applied.journal.audit_records[0].ids, vec!["event:rock"]);
    }
}
