//! Expiry: holds whose time has come return their tickets, decided by log time only.

use super::domain_event::{DomainEvent, DomainEventKind};
use super::hold::HoldStatus;
use super::SaleMachine;

impl SaleMachine {
    /// Expires every live hold with `expires_at_ms <= now`; returns a
    /// `hold_expired` domain event for each.
    ///
    /// Runs before each applied command, so whether a hold is live at a given
    /// log index depends only on the entries up to it.
    pub(crate) fn expire_due_holds(&mut self) -> Vec<DomainEvent> {
        let mut expired = Vec::new();
        while let Some(&(at, hold_id)) = self.expiry_index.get_min() {
            if at > self.now_ms {
                break;
            }
            match self.end_hold(hold_id, HoldStatus::Expired) {
                Some(h) => expired.push(DomainEvent {
                    kind: Some(DomainEventKind::HoldExpired),
                    event_id: h.event_id,
                    category_id: h.category_id,
                    customer_id: h.customer_id,
                    hold_id: Some(h.hold_id),
                    quantity: h.quantity,
                    ..DomainEvent::default()
                }),
                // Not live any more: drop the stale index entry.
                None => {
                    self.expiry_index.remove(&(at, hold_id));
                }
            }
        }
        expired
    }

    /// When the next live hold lapses, so the leader knows when to propose a tick.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.expiry_index.get_min().map(|&(at, _)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::machine::{Command, HoldStatus};

    #[test]
    fn tick_expires_due_holds_and_time_never_runs_backwards() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 2);
        assert_eq!(m.next_expiry_ms(), Some(1_000 + TTL));
        apply(&mut m, 3, 1_000 + TTL - 1, Command::Tick).unwrap();
        assert_eq!(category(&m).held, 2);
        apply(&mut m, 4, 1_000 + TTL, Command::Tick).unwrap();
        assert_eq!(category(&m).held, 0);
        assert_eq!(m.hold(hold.hold_id).unwrap().status, HoldStatus::Expired);
        assert_eq!(m.next_expiry_ms(), None);
        // A new leader with a slower clock does not move time back.
        apply(&mut m, 5, 10, Command::Tick).unwrap();
        assert_eq!(m.now_ms(), 1_000 + TTL);
    }
}
