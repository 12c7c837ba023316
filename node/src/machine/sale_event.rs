//! Sale events (a festival day on sale) and their ticket categories: creation rules and the per-category counters.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ids::{validate_id, validate_name, CategoryId, CustomerId, EventId};
use super::persistent::Map;
use super::policy::SalePolicy;
use super::queue::QueueState;
use super::rejection::Rejection;
use super::{Effect, SaleMachine};

/// Most categories one event may have.
pub const MAX_CATEGORIES: usize = 64;
/// Largest capacity of one category.
pub const MAX_CAPACITY: u32 = 10_000_000;

/// A category as the organiser describes it when creating the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategorySpec {
    pub category_id: CategoryId,
    pub name: String,
    pub capacity: u32,
    pub price_cents: u64,
    pub per_customer_limit: u32,
}

/// What one customer has of a category: counted against the per-customer limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerCount {
    pub held: u32,
    pub bought: u32,
}

/// A category on sale with its live counters.
///
/// Invariant: `sold + held <= capacity`; `available = capacity - sold - held`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub spec: CategorySpec,
    pub sold: u32,
    pub held: u32,
    pub per_customer: Map<CustomerId, CustomerCount>,
}

impl Category {
    /// Tickets neither sold nor held (0, not an underflow, were the
    /// invariant ever broken).
    pub fn available(&self) -> u32 {
        self.spec
            .capacity
            .saturating_sub(self.sold)
            .saturating_sub(self.held)
    }

    /// The counts of one customer (zero if they have none).
    pub fn customer(&self, customer: &str) -> CustomerCount {
        self.per_customer.get(customer).copied().unwrap_or_default()
    }

    pub(crate) fn customer_mut(&mut self, customer: &str) -> &mut CustomerCount {
        self.per_customer.entry(customer.to_string()).or_default()
    }
}

/// What one customer has across an event: for the event-wide limit and the one-live-hold rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCustomer {
    pub held: u32,
    pub bought: u32,
    /// The customer's live hold, if any.
    pub live_hold: Option<u64>,
}

/// An event on sale (a festival day, a show) with its categories (keyed by
/// category id), its policy and its queue. Named apart from [`super::DomainEvent`],
/// which is a notification of something that happened; ids, commands and the
/// wire keep the short name (`event_id`, `CreateEvent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleEvent {
    pub event_id: EventId,
    pub name: String,
    pub categories: BTreeMap<CategoryId, Category>,
    pub policy: SalePolicy,
    pub queue: Option<QueueState>,
    pub customers: Map<CustomerId, EventCustomer>,
}

/// Field checks for [`super::Command::CreateEvent`].
pub fn validate_create(
    event_id: &str,
    name: &str,
    categories: &[CategorySpec],
) -> Result<(), Rejection> {
    validate_id("event_id", event_id)?;
    validate_name("name", name)?;
    if categories.is_empty() {
        return Err(Rejection::invalid(
            "categories",
            "at least one category is required",
        ));
    }
    if categories.len() > MAX_CATEGORIES {
        return Err(Rejection::invalid(
            "categories",
            format!("at most {MAX_CATEGORIES} categories"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, c) in categories.iter().enumerate() {
        validate_id(&format!("categories[{i}].category_id"), &c.category_id)?;
        validate_name(&format!("categories[{i}].name"), &c.name)?;
        if !seen.insert(c.category_id.as_str()) {
            return Err(Rejection::invalid(
                &format!("categories[{i}].category_id"),
                format!("duplicate category {:?}", c.category_id),
            ));
        }
        if c.capacity == 0 || c.capacity > MAX_CAPACITY {
            return Err(Rejection::invalid(
                &format!("categories[{i}].capacity"),
                format!("must be between 1 and {MAX_CAPACITY}"),
            ));
        }
        if c.per_customer_limit == 0 {
            return Err(Rejection::invalid(
                &format!("categories[{i}].per_customer_limit"),
                "must be at least 1",
            ));
        }
    }
    Ok(())
}

impl SaleMachine {
    /// Applies [`super::Command::CreateEvent`].
    pub(crate) fn create_event(
        &mut self,
        event_id: &str,
        name: &str,
        categories: &[CategorySpec],
        policy: &SalePolicy,
    ) -> Result<Effect, Rejection> {
        // Field checks already ran in `Command::validate`; this fills the policy defaults.
        let policy = policy.clone().validated()?;
        if self.sale_events.contains_key(event_id) {
            return Err(Rejection::EventExists(event_id.to_string()));
        }
        let categories = categories
            .iter()
            .map(|spec| {
                (
                    spec.category_id.clone(),
                    Category {
                        spec: spec.clone(),
                        sold: 0,
                        held: 0,
                        per_customer: Map::new(),
                    },
                )
            })
            .collect();
        self.sale_events.insert(
            event_id.to_string(),
            SaleEvent {
                event_id: event_id.to_string(),
                name: name.to_string(),
                categories,
                queue: policy.queue.as_ref().map(|_| QueueState::default()),
                policy,
                customers: Map::new(),
            },
        );
        Ok(Effect::EventCreated {
            event_id: event_id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn creates_once() {
        let mut m = Sale::default();
        assert!(apply(&mut m, 1, 1000, create_event_cmd("rock", 10, 4)).is_ok());
        assert_eq!(
            apply(&mut m, 2, 1000, create_event_cmd("rock", 10, 4)),
            Err(Rejection::EventExists("rock".into()))
        );
    }

    #[test]
    fn rejects_bad_categories_naming_the_field() {
        let spec = |id: &str, cap| CategorySpec {
            category_id: id.into(),
            name: "Pista".into(),
            capacity: cap,
            price_cents: 100,
            per_customer_limit: 4,
        };
        let e = validate_create("rock", "Rock", &[spec("a", 0)]).unwrap_err();
        assert!(e.to_string().starts_with("categories[0].capacity:"), "{e}");
        let e = validate_create("rock", "Rock", &[spec("a", 1), spec("a", 1)]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("categories[1].category_id: duplicate"),
            "{e}"
        );
        let e = validate_create("rock", "Rock", &[]).unwrap_err();
        assert_eq!(e.code(), "invalid_field");
    }
}
