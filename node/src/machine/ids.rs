//! Identifiers of the sale domain.
//!
//! Names chosen by people (events, categories, customers) are validated
//! strings; ids the machine hands out (holds, tickets) are numbers assigned in
//! log order, so every replica assigns the same ones.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::rejection::Rejection;

/// Checks a human-chosen identifier: 1..=64 bytes of `[A-Za-z0-9._@+-]`, by
/// the rule the gateway and the node share (`ingressoja_codes::validate_id`).
///
/// Exists so every id that enters the log is printable, bounded and safe to
/// use as a storage key or in a URL; a refusal names `field`.
pub fn validate_id(field: &str, value: &str) -> Result<(), Rejection> {
    ingressoja_codes::validate_id(value)
        .map_err(|error| Rejection::invalid(field, error.to_string()))
}

/// Checks a display name: 1..=200 bytes, no control characters.
pub fn validate_name(field: &str, value: &str) -> Result<(), Rejection> {
    if value.trim().is_empty() {
        return Err(Rejection::invalid(field, "must not be empty"));
    }
    if value.len() > 200 {
        return Err(Rejection::invalid(field, "longer than 200 bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(Rejection::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// An event on sale (a festival day), chosen by the organiser.
pub type EventId = String;
/// A ticket category within an event (Pista, Cadeira, ...).
pub type CategoryId = String;
/// The customer a hold or ticket is bound to.
pub type CustomerId = String;

/// A hold, numbered by the machine in commit order.
pub type HoldId = u64;

/// A sold ticket, numbered by the machine in commit order: unique by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TicketId(pub u64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TKT-{:08}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingressoja_codes::MAX_ID_LEN;

    #[test]
    fn ids_are_checked_with_field_names() {
        assert!(validate_id("event_id", "rock-2026").is_ok());
        let e = validate_id("event_id", "").unwrap_err();
        assert_eq!(e.to_string(), "event_id: must not be empty");
        let e = validate_id("customer_id", "a b").unwrap_err();
        assert!(e.to_string().starts_with("customer_id: character ' '"));
        assert!(validate_id("x", &"a".repeat(MAX_ID_LEN)).is_ok());
        let e = validate_id("customer_id", &"a".repeat(MAX_ID_LEN + 1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "customer_id: longer than 64 bytes (65 bytes)"
        );
        let e = validate_id("customer_id", "joão").unwrap_err();
        assert_eq!(e.code(), "invalid_field");
        assert!(e.to_string().contains("'ã' not allowed"), "{e}");
        assert!(validate_name("name", "Rock in Rio — dia 1").is_ok());
        assert!(validate_name("name", "a\u{7}").is_err());
    }

    #[test]
    fn a_customer_with_the_longest_id_registers_holds_and_buys() {
        use super::super::testing::*;
        use crate::machine::{Cpf, Effect};

        let mut m = machine_with_event(5, 4);
        let longest = "a".repeat(MAX_ID_LEN);
        let cpf = Cpf::from_base(777_000_001);
        let index = m.last_index() + 1;
        assert!(apply(&mut m, index, 1_000, register_cmd(&longest, cpf.as_str())).is_ok());
        let hold = hold_ok(&mut m, index + 1, &longest, 2);
        let bought = buy(&mut m, index + 2, 1_500, hold.hold_id, &longest);
        assert!(
            matches!(bought, Ok(Effect::Purchased(ref t)) if t.len() == 2),
            "{bought:?}"
        );
        assert_eq!(m.tickets_of(&longest).len(), 2);

        for refused in ["a".repeat(MAX_ID_LEN + 1), "joão".into(), "ç".repeat(32)] {
            let other = Cpf::from_base(777_000_002);
            let reply = apply(
                &mut m,
                index + 3,
                1_500,
                register_cmd(&refused, other.as_str()),
            );
            let Err(rejection) = reply else {
                panic!("{refused:?} registered");
            };
            assert_eq!(rejection.code(), "invalid_field");
            assert!(
                rejection.to_string().starts_with("customer_id: "),
                "{rejection}"
            );
        }
    }

    #[test]
    fn ticket_ids_print_with_prefix() {
        assert_eq!(TicketId(42).to_string(), "TKT-00000042");
    }
}
