//! The gateway's one error type, turned into HTTP once: a JSON body
//! `{"error": {"code", "message", "field"?}}` for the API, a message on the
//! page for the shop (see `pages::layout`).
//!
//! Every cluster answer maps to a stable, machine-readable `code`; nothing
//! the buyer sends can produce a 500 or a stack trace.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ingressoja_client::{ClientError, Refusal};
use ingressoja_codes::{ErrorCode, NodeCode, PaymentCode, RejectionCode};
use serde_json::json;
use thiserror::Error;
use tonic::Code;

use crate::auth::session::TokenError;

/// Why a request was not served.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// A field is missing, too long or malformed.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field at fault, as the form or JSON body names it.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The body is not the JSON (or form) the endpoint expects.
    #[error("the request body is not valid: {0}")]
    MalformedBody(String),
    /// No session, or a session token that is expired, forged or malformed.
    #[error("{0}")]
    Unauthenticated(String),
    /// Wrong login or password (never says which).
    #[error("wrong login or password")]
    BadCredentials,
    /// The second-factor code is not the current one.
    #[error("the 6-digit code is not valid; use the current code from your app")]
    BadCode,
    /// The code was right but already used once.
    #[error("this code was already used; wait for the next one")]
    CodeReplayed,
    /// Too many failed logins: try again after the lock.
    #[error("too many failed attempts; try again in {} s", .retry_after.as_secs().max(1))]
    AccountLocked {
        /// When the lock ends.
        retry_after: Duration,
    },
    /// A form without the CSRF field that matches the browser's cookie.
    #[error("the form expired or came from another site; reload the page and try again")]
    Csrf,
    /// Over a rate limit for this path.
    #[error("too many requests ({limit}); try again in {} s", .retry_after.as_secs().max(1))]
    RateLimited {
        /// Which limit (e.g. `login per IP`).
        limit: &'static str,
        /// When a request would be allowed again.
        retry_after: Duration,
    },
    /// The gateway is at its concurrency limit and sheds this request.
    #[error("the shop is very busy; try again in a moment")]
    Overloaded,
    /// The proof-of-work challenge is missing, expired or not solved.
    #[error("anti-bot check failed: {0}")]
    ProofOfWork(String),
    /// An unknown path or id.
    #[error("{0} not found")]
    NotFound(String),
    /// The cluster refused for a domain reason (`sold_out`, ...).
    #[error("{message}")]
    Rejected {
        /// The cluster's machine-readable code, verbatim.
        code: String,
        /// Its typed reading, which decides the HTTP status and the text.
        refusal: Refusal,
        /// The cluster's explanation.
        message: String,
    },
    /// No node answered in time; the outcome of a write is unknown, and
    /// retrying it with the same request id is safe.
    #[error("the ticket system is not answering right now; try again in a moment")]
    Unavailable(String),
    /// The cluster answered with an unexpected error.
    #[error("the ticket system failed: {0}")]
    Cluster(String),
}

impl ApiError {
    /// Shorthand for [`ApiError::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The machine-readable code of the JSON body.
    pub fn code(&self) -> &str {
        match self {
            ApiError::Invalid { .. } => RejectionCode::InvalidField.as_str(),
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::BadCredentials => "bad_credentials",
            ApiError::BadCode => "bad_totp_code",
            ApiError::CodeReplayed => RejectionCode::TotpReplayed.as_str(),
            ApiError::AccountLocked { .. } => "account_locked",
            ApiError::Csrf => "csrf_failed",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Overloaded => "overloaded",
            ApiError::ProofOfWork(_) => "proof_of_work_failed",
            ApiError::NotFound(_) => NodeCode::NotFound.as_str(),
            ApiError::Rejected { code, .. } => code,
            ApiError::Unavailable(_) => NodeCode::Unavailable.as_str(),
            ApiError::Cluster(_) => "cluster_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid { .. } | ApiError::MalformedBody(_) | ApiError::ProofOfWork(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unauthenticated(_)
            | ApiError::BadCredentials
            | ApiError::BadCode
            | ApiError::CodeReplayed => StatusCode::UNAUTHORIZED,
            ApiError::AccountLocked { .. } | ApiError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::Overloaded | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Cluster(_) => StatusCode::BAD_GATEWAY,
            ApiError::Rejected { refusal, .. } => refusal_status(*refusal),
        }
    }

    /// When to try again, for the `Retry-After` header.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::AccountLocked { retry_after } | ApiError::RateLimited { retry_after, .. } => {
                Some(*retry_after)
            }
            ApiError::Overloaded | ApiError::Unavailable(_) => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    /// The field at fault, when one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// The HTTP status for a cluster refusal. Every code is named (no catch-all),
/// so a new code does not compile until it has a status.
fn refusal_status(refusal: Refusal) -> StatusCode {
    match refusal {
        Refusal::Known(ErrorCode::Rejection(code)) => rejection_status(code),
        Refusal::Known(ErrorCode::Payment(PaymentCode::Declined | PaymentCode::Failed)) => {
            StatusCode::PAYMENT_REQUIRED
        }
        Refusal::Known(ErrorCode::Node(code)) => match code {
            NodeCode::NotFound => StatusCode::NOT_FOUND,
            NodeCode::NotLeader | NodeCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            NodeCode::Internal => StatusCode::BAD_GATEWAY,
        },
        Refusal::Status(code) => status_of_grpc_refusal(code),
    }
}

/// The HTTP status for a sale rule's refusal.
fn rejection_status(code: RejectionCode) -> StatusCode {
    match code {
        RejectionCode::UnknownEvent
        | RejectionCode::UnknownCategory
        | RejectionCode::UnknownCustomer
        | RejectionCode::HoldNotFound
        | RejectionCode::NotInQueue => StatusCode::NOT_FOUND,
        RejectionCode::InvalidField => StatusCode::BAD_REQUEST,
        RejectionCode::HoldNotYours => StatusCode::FORBIDDEN,
        RejectionCode::EventExists
        | RejectionCode::SoldOut
        | RejectionCode::LimitExceeded
        | RejectionCode::HoldExpired
        | RejectionCode::HoldReleased
        | RejectionCode::AlreadyPurchased
        | RejectionCode::IdempotencyKeyReused
        | RejectionCode::CustomerExists
        | RejectionCode::DuplicateDocument
        | RejectionCode::DuplicateEmail
        | RejectionCode::QueueClosed
        | RejectionCode::NotAdmitted
        | RejectionCode::SaleNotOpen
        | RejectionCode::LiveHoldExists
        | RejectionCode::PaymentMissing
        | RejectionCode::PaymentMismatch
        | RejectionCode::TotpAlreadyEnrolled
        | RejectionCode::TotpReplayed => StatusCode::CONFLICT,
    }
}

/// The HTTP status for a refusal that came without a code this build knows.
fn status_of_grpc_refusal(code: Code) -> StatusCode {
    match code {
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::FailedPrecondition | Code::ResourceExhausted | Code::AlreadyExists => {
            StatusCode::CONFLICT
        }
        // The client turns these into retries or server errors, not refusals.
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Unimplemented
        | Code::Internal
        | Code::Unavailable
        | Code::DataLoss
        | Code::Unauthenticated => StatusCode::BAD_GATEWAY,
    }
}

/// Seconds for `Retry-After`, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

impl From<ClientError> for ApiError {
    fn from(error: ClientError) -> ApiError {
        match error {
            ClientError::Rejected {
                code,
                refusal,
                message,
            } => ApiError::Rejected {
                code,
                refusal,
                message,
            },
            ClientError::Unavailable { .. } | ClientError::Transport(_) => {
                ApiError::Unavailable(error.to_string())
            }
            ClientError::InvalidEndpoint { .. } | ClientError::Server { .. } => {
                ApiError::Cluster(error.to_string())
            }
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> ApiError {
        ApiError::Unauthenticated(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, ApiError::Unavailable(_) | ApiError::Cluster(_)) {
            tracing::warn!(error = %self, "cluster call failed");
        }
        let mut body = json!({ "code": self.code(), "message": self.to_string() });
        if let Some(field) = self.field() {
            body["field"] = json!(field);
        }
        let mut response = (self.status(), Json(json!({ "error": body }))).into_response();
        if let Some(wait) = self.retry_after() {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs(wait)),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_errors_map_to_codes_and_statuses() {
        let sold_out: ApiError =
            ClientError::refused(RejectionCode::SoldOut, "no tickets left").into();
        assert_eq!(sold_out.code(), "sold_out");
        assert_eq!(sold_out.status(), StatusCode::CONFLICT);
        let down: ApiError = ClientError::Unavailable {
            attempts: 3,
            last_error: "x".into(),
        }
        .into();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.retry_after(), Some(Duration::from_secs(1)));
        let unknown: ApiError = ClientError::refused(RejectionCode::HoldNotFound, "").into();
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        let declined: ApiError = ClientError::refused(PaymentCode::Declined, "declined").into();
        assert_eq!(
            (declined.code(), declined.status()),
            ("payment_declined", StatusCode::PAYMENT_REQUIRED)
        );
    }

    #[test]
    fn every_rule_keeps_its_http_status() {
        let status = |code: RejectionCode| ApiError::from(ClientError::refused(code, "")).status();
        for &code in RejectionCode::ALL {
            let expected = match code.as_str() {
                "unknown_event" | "unknown_category" | "unknown_customer" | "hold_not_found"
                | "not_in_queue" => StatusCode::NOT_FOUND,
                "invalid_field" => StatusCode::BAD_REQUEST,
                "hold_not_yours" => StatusCode::FORBIDDEN,
                _ => StatusCode::CONFLICT,
            };
            assert_eq!(status(code), expected, "{code}");
        }
    }

    #[test]
    fn a_refusal_without_a_known_code_is_mapped_by_its_grpc_status() {
        let refused = |code: &str, grpc: Code| {
            ApiError::from(ClientError::Rejected {
                code: code.into(),
                refusal: Refusal::Status(grpc),
                message: "m".into(),
            })
        };
        let pruned = refused("out_of_range", Code::OutOfRange);
        assert_eq!(
            (pruned.code(), pruned.status()),
            ("out_of_range", StatusCode::BAD_REQUEST)
        );
        let newer = refused("brand_new_rule", Code::FailedPrecondition);
        assert_eq!(
            (newer.code(), newer.status()),
            ("brand_new_rule", StatusCode::CONFLICT)
        );
        assert_eq!(
            refused("permission_denied", Code::PermissionDenied).status(),
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
