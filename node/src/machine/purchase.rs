//! Purchase: a live hold becomes tickets, each with its own id bound to the customer — all or nothing.

use super::command::{Charge, PaymentFailure};
use super::hold::{Hold, HoldStatus};
use super::ids::{HoldId, TicketId};
use super::rejection::Rejection;
use super::{Effect, SaleMachine};
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
    /// The charge that paid for this ticket.
    pub charge_id: String,
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
        charge: Option<&Charge>,
    ) -> Result<Effect, Rejection> {
        let hold = self.live_hold_of(hold_id, customer_id)?.clone();
        let price_cents = self
            .sale_events
            .get(&hold.event_id)
            .and_then(|e| e.categories.get(&hold.category_id))
            .map(|c| c.spec.price_cents)
            .ok_or_else(|| Rejection::UnknownEvent(hold.event_id.clone()))?;
        let charge = charge.ok_or(Rejection::PaymentMissing(hold_id))?;
        let expected = price_cents.saturating_mul(u64::from(hold.quantity));
        if charge.amount_cents != expected {
            return Err(Rejection::PaymentMismatch {
                charged: charge.amount_cents,
                expected,
            });
        }
        self.end_hold(hold_id, HoldStatus::Purchased);
        self.spend_admission(&hold.event_id, customer_id);
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
                charge_id: charge.charge_id.clone(),
            };
            self.next_ticket_id += 1;
            #[cfg(feature = "planted-bugs")]
            if crate::planted::machine::reuses_ticket_ids(hold_id) {
                self.next_ticket_id -= 1;
            }
            self.tickets_by_customer
                .entry(ticket.customer_id.clone())
                .or_default()
                .push(ticket.ticket_id);
            self.tickets.insert(ticket.ticket_id, ticket.clone());
            sold.push(ticket);
        }
        Ok(Effect::Purchased(sold))
    }

    /// Applies [`super::Command::PaymentFailed`]: nothing is sold; the hold is kept
    /// until it expires or released at once, as the event's policy says.
    pub(crate) fn payment_failed(
        &mut self,
        hold_id: HoldId,
        customer_id: &str,
        failure: PaymentFailure,
    ) -> Result<Effect, Rejection> {
        let hold: Hold = self.live_hold_of(hold_id, customer_id)?.clone();
        let release = self
            .sale_events
            .get(&hold.event_id)
            .is_some_and(|e| e.policy.release_hold_on_payment_failure);
        let hold = if release {
            self.end_hold(hold_id, HoldStatus::Released).unwrap_or(hold)
        } else {
            hold
        };
        Ok(Effect::PaymentRejected {
            hold,
            released: release,
            failure,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::machine::{Command, SalePolicy};

    #[test]
    fn purchase_sells_every_held_ticket_once() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 3);
        let Ok(Effect::Purchased(tickets)) = buy(&mut m, 3, 2_000, hold.hold_id, "ana") else {
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
            buy(&mut m, 4, 2_000, hold.hold_id, "ana"),
            Err(Rejection::AlreadyPurchased(hold.hold_id))
        );
        assert_eq!(
            buy(&mut m, 5, 2_000, 99, "ana"),
            Err(Rejection::HoldNotFound(99))
        );
    }

    #[test]
    fn expired_hold_cannot_be_bought() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 2);
        assert_eq!(
            buy(&mut m, 3, 1_000 + TTL, hold.hold_id, "ana"),
            Err(Rejection::HoldExpired(hold.hold_id))
        );
        assert_eq!(category(&m).available(), 5);
        assert_eq!(m.tickets.len(), 0);
    }

    #[test]
    fn purchase_needs_a_matching_charge() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 2);
        let no_charge = Command::Purchase {
            hold_id: hold.hold_id,
            customer_id: "ana".into(),
            charge: None,
        };
        assert_eq!(
            apply(&mut m, 3, 1_000, no_charge),
            Err(Rejection::PaymentMissing(hold.hold_id))
        );
        let wrong = Command::Purchase {
            hold_id: hold.hold_id,
            customer_id: "ana".into(),
            charge: Some(Charge {
                charge_id: "ch_1".into(),
                amount_cents: 1,
            }),
        };
        assert!(matches!(
            apply(&mut m, 4, 1_000, wrong),
            Err(Rejection::PaymentMismatch {
                charged: 1,
                expected: 100_000
            })
        ));
        assert_eq!(category(&m).sold, 0);
        assert_eq!(category(&m).held, 2);
    }

    #[test]
    fn failed_payment_keeps_or_releases_the_hold_as_configured() {
        for release in [false, true] {
            let mut m = machine_with_policy(SalePolicy {
                release_hold_on_payment_failure: release,
                ..SalePolicy::default()
            });
            let hold = hold_ok(&mut m, 2, "ana", 2);
            let failed = Command::PaymentFailed {
                hold_id: hold.hold_id,
                customer_id: "ana".into(),
                failure: PaymentFailure::Declined,
            };
            let Ok(Effect::PaymentRejected { released, .. }) = apply(&mut m, 3, 1_000, failed)
            else {
                panic!("payment failure not recorded")
            };
            assert_eq!(released, release);
            assert_eq!(category(&m).sold, 0);
            assert_eq!(category(&m).held, if release { 0 } else { 2 });
            assert!(m.tickets_of("ana").is_empty());
        }
    }

    #[test]
    fn someone_elses_hold_cannot_be_bought() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 2);
        assert_eq!(
            buy(&mut m, 3, 1_000, hold.hold_id, "bia"),
            Err(Rejection::HoldNotYours(hold.hold_id))
        );
    }
}
