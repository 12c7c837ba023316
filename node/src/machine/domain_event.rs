//! Domain events: what happened in the sale, produced at apply time and tagged with the log index.
//!
//! Every replica produces the same events in the same order, so a gateway may
//! follow any node and resume from the last `seq` it saw. Apply returns them
//! with the entry ([`super::EntryJournal`]); the [`DomainEventFeed`] of the
//! caller's [`super::Journal`] numbers and keeps them.

use serde::{Deserialize, Serialize};

use super::persistent::List;

/// How many recent events each replica keeps for resuming streams.
pub const DOMAIN_EVENTS_KEPT: usize = 200_000;

/// The kinds of things customers and operators are told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DomainEventKind {
    EventCreated,
    CustomerRegistered,
    SaleOpened,
    Admitted,
    HoldCreated,
    HoldReleased,
    HoldExpired,
    PurchaseConfirmed,
    PaymentDeclined,
    Rejected,
    /// A customer turned on second-factor (TOTP) codes.
    TotpEnrolled,
    /// A login was recorded as successful.
    LoginSucceeded,
    /// A login was recorded as failed (wrong password or code).
    LoginFailed,
}

impl DomainEventKind {
    /// Snake-case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainEventKind::EventCreated => "event_created",
            DomainEventKind::CustomerRegistered => "customer_registered",
            DomainEventKind::SaleOpened => "sale_opened",
            DomainEventKind::Admitted => "admitted",
            DomainEventKind::HoldCreated => "hold_created",
            DomainEventKind::HoldReleased => "hold_released",
            DomainEventKind::HoldExpired => "hold_expired",
            DomainEventKind::PurchaseConfirmed => "purchase_confirmed",
            DomainEventKind::PaymentDeclined => "payment_declined",
            DomainEventKind::Rejected => "rejected",
            DomainEventKind::TotpEnrolled => "totp_enrolled",
            DomainEventKind::LoginSucceeded => "login_succeeded",
            DomainEventKind::LoginFailed => "login_failed",
        }
    }
}

/// One domain event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Cluster-wide number, given when the feed records it (0 until then).
    pub seq: u64,
    pub log_index: u64,
    pub ts_ms: u64,
    pub kind: Option<DomainEventKind>,
    pub event_id: String,
    pub customer_id: String,
    pub hold_id: Option<u64>,
    pub category_id: String,
    pub quantity: u32,
    pub ticket_ids: Vec<String>,
    pub reason: String,
}

/// The bounded, replicated feed of recent events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainEventFeed {
    next_seq: u64,
    recent: List<DomainEvent>,
}

impl DomainEventFeed {
    /// Appends `event`, numbering it; forgets the oldest beyond [`DOMAIN_EVENTS_KEPT`].
    pub fn push(&mut self, mut event: DomainEvent) {
        event.seq = self.next_seq;
        self.next_seq += 1;
        self.recent.push_back(event);
        while self.recent.len() > DOMAIN_EVENTS_KEPT {
            self.recent.pop_front();
        }
    }

    /// Events with `seq >= from`, at most `limit`.
    pub fn since(&self, from: u64, limit: usize) -> Vec<DomainEvent> {
        self.iter_since(from).take(limit).cloned().collect()
    }

    /// Events with `seq >= from`, borrowed: for readers that only look.
    pub fn iter_since(&self, from: u64) -> impl Iterator<Item = &DomainEvent> {
        let first = self.recent.front().map(|e| e.seq).unwrap_or(self.next_seq);
        let skip = usize::try_from(from.saturating_sub(first))
            .unwrap_or(usize::MAX)
            .min(self.recent.len());
        self.recent.focus().narrow(skip..).into_iter()
    }

    /// The seq the next event will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The oldest seq still kept.
    pub fn oldest_seq(&self) -> u64 {
        self.recent.front().map(|e| e.seq).unwrap_or(self.next_seq)
    }
}
