//! Everything that travels in the `ingressoja-error` gRPC metadata: the
//! machine's rejections plus the codes of the node's own refusals.
//!
//! One wire key, one typed reading ([`ErrorCode`]), so a client never has to
//! guess whether a string came from the sale rules, the payment step or the
//! node itself. The three families stay separate enums because they are
//! produced in different places (the pure machine, the purchase saga, the
//! gRPC boundary) and each producer should only be able to name its own.

use core::fmt;
use core::str::FromStr;

use crate::macros::wire_codes;
use crate::RejectionCode;

wire_codes! {
    /// Why paying for a hold sold nothing (the purchase saga's refusals).
    pub enum PaymentCode ("payment") {
        /// The provider refused the payment (card declined).
        Declined => "payment_declined",
        /// The provider failed or did not answer; nothing was charged.
        Failed => "payment_failed",
    }
}

wire_codes! {
    /// The node's refusals that are not a sale rule: where to go, or that
    /// the cluster cannot answer now.
    ///
    /// A malformed request field caught before the machine is reported as
    /// [`RejectionCode::InvalidField`], the same code the machine uses.
    pub enum NodeCode ("node error") {
        /// This node is not the leader; the leader's address is in the metadata.
        NotLeader => "not_leader",
        /// No quorum, or Raft is shutting down: retry later.
        Unavailable => "unavailable",
        /// A read found no such item.
        NotFound => "not_found",
        /// A storage or internal failure.
        Internal => "internal",
    }
}

/// The typed value of the `ingressoja-error` metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorCode {
    /// The sale rules refused the command.
    Rejection(RejectionCode),
    /// The payment step refused; nothing was sold.
    Payment(PaymentCode),
    /// The node refused for a reason of its own.
    Node(NodeCode),
}

impl ErrorCode {
    /// Every code of every family: for exhaustive tests and documentation.
    pub fn all() -> impl Iterator<Item = ErrorCode> {
        let rejections = RejectionCode::ALL.iter().copied().map(ErrorCode::from);
        let payments = PaymentCode::ALL.iter().copied().map(ErrorCode::from);
        let nodes = NodeCode::ALL.iter().copied().map(ErrorCode::from);
        rejections.chain(payments).chain(nodes)
    }

    /// The stable wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Rejection(code) => code.as_str(),
            ErrorCode::Payment(code) => code.as_str(),
            ErrorCode::Node(code) => code.as_str(),
        }
    }

    /// The code whose wire string is `text`, in whichever family it is.
    pub fn parse(text: &str) -> Result<ErrorCode, UnknownCode> {
        RejectionCode::parse(text)
            .map(ErrorCode::Rejection)
            .or_else(|_| PaymentCode::parse(text).map(ErrorCode::Payment))
            .or_else(|_| NodeCode::parse(text).map(ErrorCode::Node))
            .map_err(|_| UnknownCode::new("error", text))
    }

    /// The machine's rejection code, when this is one.
    pub const fn rejection(self) -> Option<RejectionCode> {
        match self {
            ErrorCode::Rejection(code) => Some(code),
            ErrorCode::Payment(_) | ErrorCode::Node(_) => None,
        }
    }
}

impl From<RejectionCode> for ErrorCode {
    fn from(code: RejectionCode) -> ErrorCode {
        ErrorCode::Rejection(code)
    }
}

impl From<PaymentCode> for ErrorCode {
    fn from(code: PaymentCode) -> ErrorCode {
        ErrorCode::Payment(code)
    }
}

impl From<NodeCode> for ErrorCode {
    fn from(code: NodeCode) -> ErrorCode {
        ErrorCode::Node(code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = UnknownCode;

    fn from_str(text: &str) -> Result<ErrorCode, UnknownCode> {
        ErrorCode::parse(text)
    }
}

/// A string that is not the wire string of any code of the family asked for
/// (a typo, or a code from a newer node this build does not know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode {
    family: &'static str,
    text: String,
}

impl UnknownCode {
    pub(crate) fn new(family: &'static str, text: &str) -> UnknownCode {
        UnknownCode {
            family,
            text: text.to_string(),
        }
    }

    /// The string that was not recognised.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} code {:?}", self.family, self.text)
    }
}

impl std::error::Error for UnknownCode {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn no_two_families_share_a_wire_string() {
        let all: Vec<ErrorCode> = ErrorCode::all().collect();
        let strings: BTreeSet<&str> = all.iter().map(|c| c.as_str()).collect();
        assert_eq!(strings.len(), all.len());
        assert_eq!(
            all.len(),
            RejectionCode::ALL.len() + PaymentCode::ALL.len() + NodeCode::ALL.len()
        );
    }

    #[test]
    fn every_code_parses_into_its_own_family() {
        for code in ErrorCode::all() {
            assert_eq!(ErrorCode::parse(code.as_str()), Ok(code));
            assert_eq!(code.to_string().parse::<ErrorCode>(), Ok(code));
        }
        assert_eq!(
            ErrorCode::parse("not_leader"),
            Ok(ErrorCode::Node(NodeCode::NotLeader))
        );
        assert_eq!(
            ErrorCode::parse("payment_declined"),
            Ok(ErrorCode::Payment(PaymentCode::Declined))
        );
        assert_eq!(
            ErrorCode::parse("sold_out").map(ErrorCode::rejection),
            Ok(Some(RejectionCode::SoldOut))
        );
        assert_eq!(ErrorCode::from(NodeCode::Internal).rejection(), None);
    }

    #[test]
    fn an_unknown_wire_string_is_named() {
        let error = ErrorCode::parse("shutting_down").unwrap_err();
        assert_eq!(error.text(), "shutting_down");
        assert_eq!(error.to_string(), "unknown error code \"shutting_down\"");
        assert_eq!(
            PaymentCode::parse("declined").unwrap_err().to_string(),
            "unknown payment code \"declined\""
        );
    }
}
