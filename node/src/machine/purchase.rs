//! Purchase: a live hold becomes tickets, each with its own id bound to the customer — all or nothing.

use super::hold::HoldStatus;
use super::ids::{HoldId, TicketId};
use super::rejection::Rejection;
use super::{Outcome, SaleMachine};
use serde::{Deserialize, Serialize};

/// A sold ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub ticket_id: TicketId,
    pub event_id: String,
    pub category_id: String,
    pub customer_id: String,
    pub hold_id: HoldId,
    pub price_cents: u64,
    pub sold_at_ms: u64,
}

impl SaleMachine {
    /// Applies [`super::Command::Purchase`].
    ///
    /// Every check happens before the first change, so a rejected purchase
    /// leaves the state untouched and an accepted one writes all its tickets.
    pub(crate) fn purchase(
        &mut self,
        hold_id: HoldId,
        customer_id: &str,
    ) -> Result<Outcome, Rejection> {
        let hold = self.live_hold_of(hold_id, customer_id)?.clone();
        let price_cents = self
            .events
            .get(&hold.event_id)
            .and_then(|e| e.categories.get(&hold.category_id))
            .map(|c| c.spec.price_cents)
            .ok_or_else(|| Rejection::UnknownEvent(hold.event_id.clone()))?;
        self.end_hold(hold_id, HoldStatus::Purchased);
        let now = self.now_ms;
        let mut sold = Vec::with_capacity(hold.quantity as usize);
        for _ in 0..hold.quantity {
            let ticket = Ticket {
                ticket_id: TicketId(self.next_ticket_id),
                event_id: hold.event_id.clone(),
                category_id: hold.category_id.clone(),
                customer_id: hold.customer_id.clone(),
                hold_id,
                price_cents,
                sold_at_ms: now,
            };
            self.next_ticket_id += 1;
            self.tickets_by_customer
                .entry(ticket.customer_id.clone())
                .or_default()
                .push(ticket.ticket_id);
            self.tickets.insert(ticket.ticket_id, ticket.clone());
            sold.push(ticket);
        }
        Ok(Outcome::Purchased(sold))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::machine::Command;

    fn purchase(hold_id: HoldId, who: &str) -> Command {
        Command::Purchase {
            hold_id,
            customer_id: who.into(),
        }
    }

    #[test]
    fn purchase_sells_every_held_ticket_once() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 3);
        let Ok(Outcome::Purchased(tickets)) =
            apply(&mut m, 3, 2_000, purchase(hold.hold_id, "ana"))
        else {
            panic!("purchase failed")
        };
        assert_eq!(tickets.len(), 3);
        assert!(tickets
            .iter()
            .all(|t| t.customer_id == "ana" && t.sold_at_ms == 2_000));
        let cat = category(&m);
        assert_eq!((cat.sold, cat.held, cat.available()), (3, 0, 2));
        assert_eq!(m.tickets_of("ana").len(), 3);
        assert_eq!(
            apply(&mut m, 4, 2_000, purchase(hold.hold_id, "ana")),
            Err(Rejection::AlreadyPurchased(hold.hold_id))
        );
        assert_eq!(
            apply(&mut m, 5, 2_000, purchase(99, "ana")),
            Err(Rejection::HoldNotFound(99))
        );
    }

    #[test]
    fn expired_hold_cannot_be_bought() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 2);
        assert_eq!(
            apply(&mut m, 3, 1_000 + TTL, purchase(hold.hold_id, "ana")),
            Err(Rejection::HoldExpired(hold.hold_id))
        );
        assert_eq!(category(&m).available(), 5);
        assert_eq!(m.tickets.len(), 0);
    }

    #[test]
    fn someone_elses_hold_cannot_be_bought() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 2);
        assert_eq!(
            apply(&mut m, 3, 1_000, purchase(hold.hold_id, "bia")),
            Err(Rejection::HoldNotYours(hold.hold_id))
        );
    }
}
