//! The sale configuration a chaos run sets up, which the checkers hold the
//! system to: capacities and per-customer limits.

use serde::{Deserialize, Serialize};

/// Every event of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleSpec {
    /// The events on sale.
    pub events: Vec<EventSpec>,
}

/// One event's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSpec {
    /// The event id.
    pub event: String,
    /// Most tickets one customer may own across the event's categories
    /// (`None`: no event-wide limit).
    #[serde(default)]
    pub customer_limit: Option<u64>,
    /// The categories on sale.
    pub categories: Vec<CategorySpec>,
    /// The virtual queue's admission rule, when the event has a queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueSpec>,
}

/// How fast a virtual queue may admit: `burst` at the opening, then
/// `admit_per_minute` (so the k-th admission comes no earlier than
/// `(k − burst) · 60 000 / admit_per_minute` ms after the opening).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSpec {
    /// Admissions per minute.
    pub admit_per_minute: u64,
    /// Admissions allowed at once at the opening.
    pub burst: u64,
}

/// One category's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategorySpec {
    /// The category id.
    pub category: String,
    /// How many tickets exist.
    pub capacity: u64,
    /// Most tickets of this category one customer may own.
    pub customer_limit: u64,
    /// The workload lets holds of this category expire (a change no
    /// operation records), so its counters are not checked for
    /// linearizability; every other checker still covers it.
    #[serde(default)]
    pub holds_expire: bool,
}

impl SaleSpec {
    /// The rules of `event`.
    pub fn event(&self, event: &str) -> Option<&EventSpec> {
        self.events.iter().find(|e| e.event == event)
    }

    /// The rules of `event`/`category`.
    pub fn category(&self, event: &str, category: &str) -> Option<&CategorySpec> {
        self.event(event)?
            .categories
            .iter()
            .find(|c| c.category == category)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_found_by_event_and_id() {
        let spec: SaleSpec = serde_json::from_str(
            r#"{"events":[{"event":"rir","customer_limit":4,
                "categories":[{"category":"pista","capacity":100,"customer_limit":2}]}]}"#,
        )
        .unwrap();
        assert_eq!(spec.category("rir", "pista").unwrap().capacity, 100);
        assert_eq!(spec.event("rir").unwrap().customer_limit, Some(4));
        assert!(spec.category("rir", "cadeira").is_none());
        assert!(spec.category("lolla", "pista").is_none());
    }
}
