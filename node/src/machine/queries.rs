//! The read queries: what the gRPC reads (availability, events, holds,
//! tickets, queue status, credentials), retries and the leader's ticker ask
//! of the applied state. None of them changes anything. The domain-event page
//! and the audit chain are read from the [`super::Journal`] instead.

use super::command::IdempotencyKey;
use super::customer::{Customer, Customers};
use super::hold::Hold;
use super::ids::HoldId;
use super::outcome::Answer;
use super::purchase::Ticket;
use super::queue::{QueuePosition, QueueState};
use super::rejection::Rejection;
use super::sale_event::SaleEvent;
use super::SaleMachine;

impl SaleMachine {
    /// Logical time in ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Log index of the last applied request.
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// A sale event with its categories and counters (what availability shows).
    pub fn sale_event(&self, event_id: &str) -> Result<&SaleEvent, Rejection> {
        self.sale_events
            .get(event_id)
            .ok_or_else(|| Rejection::UnknownEvent(event_id.to_string()))
    }

    /// All sale events, ordered by id.
    pub fn sale_events(&self) -> impl Iterator<Item = &SaleEvent> {
        self.sale_events.values()
    }

    /// A hold in any status.
    pub fn hold(&self, hold_id: HoldId) -> Option<&Hold> {
        self.holds.get(&hold_id)
    }

    /// The tickets a customer owns, in sale order.
    pub fn tickets_of(&self, customer_id: &str) -> Vec<&Ticket> {
        self.tickets_by_customer
            .get(customer_id)
            .map(|ids| ids.iter().filter_map(|id| self.tickets.get(id)).collect())
            .unwrap_or_default()
    }

    /// Every sold ticket, ordered by id.
    pub fn tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values()
    }

    /// Registered customers.
    pub fn customers(&self) -> &Customers {
        &self.customers
    }

    /// The account a login names: the customer with exactly that id, else,
    /// if `login` contains `@`, the one with that e-mail (any case). Fails
    /// with `unknown_customer`.
    ///
    /// New ids cannot contain `@` (refused before proposing), so an e-mail
    /// never meets a new id; an old account whose id looks like an e-mail
    /// keeps its login.
    pub fn credentials(&self, login: &str) -> Result<&Customer, Rejection> {
        // The exact id first: an account registered (before ids lost '@')
        // with an id that looks like an e-mail keeps its own login even when
        // another account's e-mail is the same text.
        self.customers
            .get(login)
            .or_else(|| {
                login
                    .contains('@')
                    .then(|| self.customers.by_email(login))
                    .flatten()
            })
            .ok_or_else(|| Rejection::UnknownCustomer(login.to_string()))
    }

    /// Where `customer_id` stands in `event_id`'s queue. O(log n) in the
    /// queue's size: fans poll it every few seconds while they wait.
    pub fn queue_position(
        &self,
        event_id: &str,
        customer_id: &str,
    ) -> Result<QueuePosition, Rejection> {
        let event = self.sale_event(event_id)?;
        let policy = event
            .policy
            .queue
            .as_ref()
            .ok_or_else(|| Rejection::QueueClosed {
                event: event_id.to_string(),
                reason: "this event has no queue".into(),
            })?;
        let empty = QueueState::default();
        let queue = event.queue.as_ref().unwrap_or(&empty);
        // Every read below is a map lookup or a length: O(log n) at a million fans.
        let in_pre_queue = queue.in_pre_queue(customer_id);
        let seq = match queue.seq_of.get(customer_id) {
            Some(seq) => *seq,
            None if in_pre_queue => 0,
            None => return Err(Rejection::NotInQueue(customer_id.to_string())),
        };
        let admission = queue.admissions.get(customer_id).cloned();
        let people_ahead = if in_pre_queue {
            queue.pre_queue.len() as u64
        } else {
            seq.saturating_sub(queue.admitted_up_to + 1)
        };
        let estimated_wait_ms = if admission.is_some() {
            0
        } else {
            let elapsed = self.now_ms.saturating_sub(queue.opened_at_ms);
            if queue.opened && queue.admitted_up_to > 0 && elapsed > 0 {
                // Observed rate: admissions so far over time since opening.
                (people_ahead + 1).saturating_mul(elapsed) / queue.admitted_up_to
            } else if policy.admit_per_minute > 0 {
                (people_ahead + 1).saturating_mul(60_000) / u64::from(policy.admit_per_minute)
            } else {
                0
            }
        };
        Ok(QueuePosition {
            event_id: event_id.to_string(),
            customer_id: customer_id.to_string(),
            seq,
            in_pre_queue,
            people_ahead,
            admitted_up_to: queue.admitted_up_to,
            admission,
            estimated_wait_ms,
            queue_length: queue.len(),
        })
    }

    /// The first answer remembered for `key`, so a retry is answered without re-running side effects.
    pub fn remembered(&self, key: &IdempotencyKey) -> Option<Answer> {
        self.outcomes.get(key).map(|r| Answer {
            log_index: r.log_index,
            outcome: r.outcome.clone(),
        })
    }

    /// When the leader should next propose a tick: the earliest hold expiry or queue step.
    pub fn next_due_ms(&self) -> Option<u64> {
        let holds = self.next_expiry_ms();
        let queues = self
            .sale_events
            .values()
            .filter_map(|e| {
                let policy = e.policy.queue.as_ref()?;
                let empty = QueueState::default();
                e.queue
                    .as_ref()
                    .unwrap_or(&empty)
                    .next_due_ms(policy, e.policy.sale_opens_at_ms)
            })
            .min();
        match (holds, queues) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::machine::{Command, HoldStatus, Request};

    #[test]
    fn sale_events_are_found_by_id_and_listed_in_id_order() {
        let mut m = machine_with_event(5, 4);
        apply(&mut m, 20, 1_000, create_event_cmd("jazz", 3, 2)).unwrap();
        apply(&mut m, 21, 1_000, create_event_cmd("axe", 3, 2)).unwrap();
        let ids: Vec<&str> = m.sale_events().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, vec!["axe", "jazz", "rock"]);
        assert_eq!(
            m.sale_event("jazz").unwrap().categories["pista"].available(),
            3
        );
        assert_eq!(
            m.sale_event("nope").unwrap_err(),
            Rejection::UnknownEvent("nope".into())
        );
    }

    #[test]
    fn holds_stay_readable_in_any_status() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 20, "ana", 2);
        assert_eq!(m.hold(hold.hold_id).unwrap().status, HoldStatus::Live);
        let release = Command::ReleaseHold {
            hold_id: hold.hold_id,
            customer_id: "ana".into(),
        };
        apply(&mut m, 21, 1_000, release).unwrap();
        assert_eq!(m.hold(hold.hold_id).unwrap().status, HoldStatus::Released);
        assert!(m.hold(hold.hold_id + 100).is_none());
    }

    #[test]
    fn tickets_are_listed_per_customer_in_sale_order() {
        let mut m = machine_with_event(5, 4);
        let first = hold_ok(&mut m, 20, "ana", 1);
        buy(&mut m, 21, 1_000, first.hold_id, "ana").unwrap();
        let other = hold_ok(&mut m, 22, "bia", 2);
        buy(&mut m, 23, 1_000, other.hold_id, "bia").unwrap();
        let second = hold_ok(&mut m, 24, "ana", 1);
        buy(&mut m, 25, 1_000, second.hold_id, "ana").unwrap();
        let holds: Vec<u64> = m.tickets_of("ana").iter().map(|t| t.hold_id).collect();
        assert_eq!(holds, vec![first.hold_id, second.hold_id]);
        assert!(m.tickets_of("nobody").is_empty());
        let all: Vec<_> = m.tickets().map(|t| t.ticket_id).collect();
        assert_eq!(all.len(), 4);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn queue_status_in_the_pre_queue_and_outside_it() {
        let mut m = queued_machine(10_000, 60, 1);
        for (n, c) in ["ana", "bia"].iter().enumerate() {
            register(&mut m, c, n);
            apply(&mut m, 10 + n as u64, 2_000, join_cmd(c)).unwrap();
        }
        let ana = m.queue_position("rock", "ana").unwrap();
        assert_eq!((ana.seq, ana.in_pre_queue, ana.queue_length), (0, true, 2));
        assert_eq!(
            ana.people_ahead, 2,
            "before opening nobody's place is known"
        );
        assert_eq!(ana.estimated_wait_ms, 3 * 60_000 / 60);
        assert_eq!(
            m.queue_position("rock", "caio"),
            Err(Rejection::NotInQueue("caio".into()))
        );
        apply(&mut m, 20, 1_000, create_event_cmd("open", 3, 2)).unwrap();
        assert!(matches!(
            m.queue_position("open", "ana"),
            Err(Rejection::QueueClosed { .. })
        ));
    }

    #[test]
    fn a_keyed_request_is_remembered_with_its_first_index() {
        let mut m = machine_with_event(5, 4);
        let k = key("gw-1", 9);
        assert_eq!(m.remembered(&k), None);
        let request = Request {
            key: Some(k.clone()),
            command: hold_cmd("ana", 1),
        };
        let first = send(&mut m, 20, 1_000, request);
        assert_eq!(m.remembered(&k), Some(first.clone()));
        assert_eq!(m.remembered(&k).map(|a| a.log_index), Some(20));
    }

    #[test]
    fn the_next_tick_is_due_at_the_earliest_expiry_or_queue_step() {
        let m = queued_machine(90_000, 60, 1);
        assert_eq!(m.next_due_ms(), Some(90_000), "the sale opening");
        let mut m = machine_with_event(5, 4);
        assert_eq!(m.next_due_ms(), None);
        hold_ok(&mut m, 20, "ana", 1);
        assert_eq!(m.next_due_ms(), Some(1_000 + TTL));
    }
}
