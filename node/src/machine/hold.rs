//! Holds: reserving tickets of a category for a while, bounded by stock and the per-customer limit.

use serde::{Deserialize, Serialize};

use super::ids::{CategoryId, CustomerId, EventId, HoldId};
use super::rejection::Rejection;
use super::{Effect, SaleMachine};

/// Where a hold is in its life. Only a `Live` hold counts as held or can be bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldStatus {
    Live,
    Released,
    Expired,
    Purchased,
}

impl HoldStatus {
    /// Lower-case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Live => "live",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
            HoldStatus::Purchased => "purchased",
        }
    }
}

/// Tickets of one category reserved for one customer until `expires_at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub hold_id: HoldId,
    pub event_id: EventId,
    pub category_id: CategoryId,
    pub customer_id: CustomerId,
    pub quantity: u32,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    pub status: HoldStatus,
}

impl SaleMachine {
    /// Applies [`super::Command::PlaceHold`].
    pub(crate) fn place_hold(
        &mut self,
        event_id: &str,
        category_id: &str,
        customer_id: &str,
        quantity: u32,
        ttl_ms: u64,
    ) -> Result<Effect, Rejection> {
        let now = self.now_ms;
        self.customers.require(customer_id)?;
        self.require_admission(event_id, customer_id)?;
        let event = self
            .sale_events
            .get_mut(event_id)
            .ok_or_else(|| Rejection::UnknownEvent(event_id.to_string()))?;
        let policy = &event.policy;
        if now < policy.sale_opens_at_ms {
            return Err(Rejection::SaleNotOpen {
                opens_at_ms: policy.sale_opens_at_ms,
                now_ms: now,
            });
        }
        if policy.max_per_hold > 0 && quantity > policy.max_per_hold {
            return Err(Rejection::invalid(
                "quantity",
                format!("at most {} tickets per hold", policy.max_per_hold),
            ));
        }
        let theirs = event
            .customers
            .get(customer_id)
            .copied()
            .unwrap_or_default();
        if policy.one_live_hold {
            if let Some(live) = theirs.live_hold {
                return Err(Rejection::LiveHoldExists(live));
            }
        }
        let event_limit = policy.per_customer_event_limit;
        #[cfg(feature = "planted-bugs")]
        let event_limit = if crate::planted::machine::skips_customer_limits() {
            0
        } else {
            event_limit
        };
        if event_limit > 0
            && u64::from(theirs.held) + u64::from(theirs.bought) + u64::from(quantity)
                > u64::from(event_limit)
        {
            return Err(Rejection::LimitExceeded {
                limit: event_limit,
                held: theirs.held,
                bought: theirs.bought,
                requested: quantity,
            });
        }
        let category =
            event
                .categories
                .get_mut(category_id)
                .ok_or_else(|| Rejection::UnknownCategory {
                    event: event_id.to_string(),
                    category: category_id.to_string(),
                })?;
        let mine = category.customer(customer_id);
        let limit = category.spec.per_customer_limit;
        #[cfg(feature = "planted-bugs")]
        let limit = if crate::planted::machine::skips_customer_limits() {
            u32::MAX
        } else {
            limit
        };
        if u64::from(mine.held) + u64::from(mine.bought) + u64::from(quantity) > u64::from(limit) {
            return Err(Rejection::LimitExceeded {
                limit,
                held: mine.held,
                bought: mine.bought,
                requested: quantity,
            });
        }
        let available = category.available();
        #[cfg(feature = "planted-bugs")]
        let available = if crate::planted::machine::skips_stock_check(quantity, available) {
            quantity
        } else {
            available
        };
        if quantity > available {
            return Err(Rejection::SoldOut {
                requested: quantity,
                available,
            });
        }
        category.held = category.held.saturating_add(quantity);
        let mine = category.customer_mut(customer_id);
        mine.held = mine.held.saturating_add(quantity);
        let hold_id = self.next_hold_id;
        let theirs = event.customers.entry(customer_id.to_string()).or_default();
        theirs.held = theirs.held.saturating_add(quantity);
        theirs.live_hold = Some(hold_id);

        self.next_hold_id += 1;
        let hold = Hold {
            hold_id,
            event_id: event_id.to_string(),
            category_id: category_id.to_string(),
            customer_id: customer_id.to_string(),
            quantity,
            created_at_ms: now,
            expires_at_ms: now.saturating_add(ttl_ms),
            status: HoldStatus::Live,
        };
        #[cfg(feature = "planted-bugs")]
        let hold = Hold {
            expires_at_ms: crate::planted::machine::local_expiry(ttl_ms)
                .unwrap_or(hold.expires_at_ms),
            ..hold
        };
        self.expiry_index.insert((hold.expires_at_ms, hold_id));
        self.holds.insert(hold_id, hold.clone());
        Ok(Effect::HoldPlaced(hold))
    }

    /// Ends a live hold with `status`, returning its tickets to the category.
    ///
    /// Shared by release, expiry and purchase (which then counts them as sold).
    /// The counters move with saturating arithmetic: should an invariant
    /// ever be broken (a bug, a damaged restore), apply stays total and
    /// every replica clamps the same way, instead of a debug build
    /// panicking and a release build wrapping to four billion tickets.
    pub(crate) fn end_hold(&mut self, hold_id: HoldId, status: HoldStatus) -> Option<Hold> {
        let hold = self.holds.get_mut(&hold_id)?;
        if hold.status != HoldStatus::Live {
            return None;
        }
        hold.status = status;
        let hold = hold.clone();
        self.expiry_index.remove(&(hold.expires_at_ms, hold_id));
        if let Some(event) = self.sale_events.get_mut(&hold.event_id) {
            if let Some(theirs) = event.customers.get_mut(&hold.customer_id) {
                theirs.held = theirs.held.saturating_sub(hold.quantity);
                if status == HoldStatus::Purchased {
                    theirs.bought = theirs.bought.saturating_add(hold.quantity);
                }
                if theirs.live_hold == Some(hold_id) {
                    theirs.live_hold = None;
                }
            }
        }
        if let Some(category) = self
            .sale_events
            .get_mut(&hold.event_id)
            .and_then(|e| e.categories.get_mut(&hold.category_id))
        {
            category.held = category.held.saturating_sub(hold.quantity);
            if status == HoldStatus::Purchased {
                category.sold = category.sold.saturating_add(hold.quantity);
            }
            let mine = category.customer_mut(&hold.customer_id);
            mine.held = mine.held.saturating_sub(hold.quantity);
            if status == HoldStatus::Purchased {
                mine.bought = mine.bought.saturating_add(hold.quantity);
            }
        }
        Some(hold)
    }

    /// Looks up a hold for `customer_id`, explaining why it cannot be used if it is not live.
    pub(crate) fn live_hold_of(
        &self,
        hold_id: HoldId,
        customer_id: &str,
    ) -> Result<&Hold, Rejection> {
        let hold = self
            .holds
            .get(&hold_id)
            .ok_or(Rejection::HoldNotFound(hold_id))?;
        if hold.customer_id != customer_id {
            return Err(Rejection::HoldNotYours(hold_id));
        }
        match hold.status {
            HoldStatus::Live => Ok(hold),
            HoldStatus::Released => Err(Rejection::HoldReleased(hold_id)),
            HoldStatus::Expired => Err(Rejection::HoldExpired(hold_id)),
            HoldStatus::Purchased => Err(Rejection::AlreadyPurchased(hold_id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn hold_takes_stock_and_respects_limit() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 3);
        assert_eq!(hold.quantity, 3);
        assert_eq!(hold.expires_at_ms, 1_000 + TTL);
        let cat = category(&m);
        assert_eq!((cat.held, cat.available()), (3, 2));
        // ana has 3 held, limit 4
        assert!(matches!(
            apply(&mut m, 3, 1_000, hold_cmd("ana", 2)),
            Err(Rejection::LimitExceeded {
                limit: 4,
                held: 3,
                ..
            })
        ));
        assert_eq!(
            apply(&mut m, 4, 1_000, hold_cmd("bia", 3)),
            Err(Rejection::SoldOut {
                requested: 3,
                available: 2
            })
        );
        assert!(matches!(
            apply(&mut m, 5, 1_000, hold_cmd_for("nope", "pista", "bia", 1)),
            Err(Rejection::UnknownEvent(_))
        ));
        assert!(matches!(
            apply(&mut m, 6, 1_000, hold_cmd_for("rock", "vip", "bia", 1)),
            Err(Rejection::UnknownCategory { .. })
        ));
    }

    #[test]
    fn apply_stays_total_when_the_counters_disagree_with_the_holds() {
        use super::super::{Command, CustomerCount, EventCustomer};
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 3);
        // Break the invariants as a bug or a damaged restore could: the
        // counters forget the live hold, and the category claims more sold
        // than its capacity.
        {
            let event = m.machine.sale_events.get_mut("rock").unwrap();
            let cat = event.categories.get_mut("pista").unwrap();
            cat.held = 0;
            cat.sold = 7;
            cat.per_customer
                .insert("ana".into(), CustomerCount::default());
            event
                .customers
                .insert("ana".into(), EventCustomer::default());
        }
        assert_eq!(category(&m).available(), 0, "not 5 - 7 - 0");
        let release = Command::ReleaseHold {
            hold_id: hold.hold_id,
            customer_id: "ana".into(),
        };
        assert!(matches!(
            apply(&mut m, 3, 1_000, release),
            Ok(Effect::HoldReleased(_))
        ));
        let cat = category(&m);
        assert_eq!((cat.held, cat.sold, cat.customer("ana").held), (0, 7, 0));
        assert_eq!(
            apply(&mut m, 4, 1_000, hold_cmd("bia", 1)),
            Err(Rejection::SoldOut {
                requested: 1,
                available: 0
            })
        );
    }

    #[test]
    fn quantity_zero_is_invalid() {
        let mut m = machine_with_event(5, 4);
        let e = apply(&mut m, 2, 1_000, hold_cmd("ana", 0)).unwrap_err();
        assert_eq!(e.to_string(), "quantity: must be at least 1");
    }
}
