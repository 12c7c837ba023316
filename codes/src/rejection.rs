//! Why the sale rules refused a command: the codes of the machine's
//! rejections, a committed and deterministic outcome.

use crate::macros::wire_codes;

wire_codes! {
    /// Every reason the state machine can refuse a command with.
    ///
    /// The node's `Rejection` (which carries the details) maps each of its
    /// variants to one of these; the code is what leaves the node: in the
    /// `ingressoja-error` gRPC metadata, domain events, audit records and the
    /// `reason` label of the rejections metric.
    pub enum RejectionCode ("rejection") {
        /// A field is malformed or out of range.
        InvalidField => "invalid_field",
        /// No event with that id.
        UnknownEvent => "unknown_event",
        /// The event has no such category.
        UnknownCategory => "unknown_category",
        /// An event with that id already exists.
        EventExists => "event_exists",
        /// Not enough tickets left in the category.
        SoldOut => "sold_out",
        /// The customer would exceed the per-customer limit.
        LimitExceeded => "limit_exceeded",
        /// No hold with that id.
        HoldNotFound => "hold_not_found",
        /// The hold belongs to another customer.
        HoldNotYours => "hold_not_yours",
        /// The hold's time ran out.
        HoldExpired => "hold_expired",
        /// The hold was released.
        HoldReleased => "hold_released",
        /// The hold was already turned into tickets.
        AlreadyPurchased => "already_purchased",
        /// The idempotency key was used before for a different command.
        IdempotencyKeyReused => "idempotency_key_reused",
        /// No registered customer with that id.
        UnknownCustomer => "unknown_customer",
        /// That customer id is taken.
        CustomerExists => "customer_exists",
        /// Another account already uses this CPF.
        DuplicateDocument => "duplicate_document",
        /// Another account already uses this e-mail.
        DuplicateEmail => "duplicate_email",
        /// The event's queue does not take joins.
        QueueClosed => "queue_closed",
        /// The customer is not in the event's queue.
        NotInQueue => "not_in_queue",
        /// Holding requires a live admission from the queue.
        NotAdmitted => "not_admitted",
        /// The sale has not opened yet.
        SaleNotOpen => "sale_not_open",
        /// The customer already has a live hold for this event.
        LiveHoldExists => "live_hold_exists",
        /// A purchase arrived without a charge record.
        PaymentMissing => "payment_missing",
        /// The charge does not match the hold's price.
        PaymentMismatch => "payment_mismatch",
        /// The customer already has a TOTP secret.
        TotpAlreadyEnrolled => "totp_already_enrolled",
        /// The TOTP code's time step was already used.
        TotpReplayed => "totp_replayed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_code_parses_back_from_its_wire_string() {
        for &code in RejectionCode::ALL {
            assert_eq!(RejectionCode::parse(code.as_str()), Ok(code));
            assert_eq!(code.as_str().parse::<RejectionCode>(), Ok(code));
            assert_eq!(code.to_string(), code.as_str());
        }
    }

    #[test]
    fn wire_strings_are_unique_snake_case() {
        let strings: BTreeSet<&str> = RejectionCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(strings.len(), RejectionCode::ALL.len());
        for s in strings {
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }

    #[test]
    fn the_wire_contract_keeps_its_strings() {
        assert_eq!(RejectionCode::SoldOut.as_str(), "sold_out");
        assert_eq!(RejectionCode::LimitExceeded.as_str(), "limit_exceeded");
        assert_eq!(RejectionCode::HoldExpired.as_str(), "hold_expired");
        assert_eq!(RejectionCode::NotAdmitted.as_str(), "not_admitted");
        assert_eq!(
            RejectionCode::IdempotencyKeyReused.as_str(),
            "idempotency_key_reused"
        );
        assert_eq!(RejectionCode::ALL.len(), 25);
    }

    #[test]
    fn an_unknown_string_is_named_in_the_error() {
        let error = RejectionCode::parse("sold_outt").unwrap_err();
        assert_eq!(error.text(), "sold_outt");
        assert_eq!(error.to_string(), "unknown rejection code \"sold_outt\"");
        assert!(RejectionCode::parse("").is_err());
        assert!(RejectionCode::parse("SOLD_OUT").is_err());
    }
}
