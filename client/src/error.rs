//! The errors a caller of the client can see.
//!
//! gRPC statuses are turned into these once, in [`crate::classify`]; nothing
//! above the retry loop looks at a raw `tonic::Status`.

use ingressoja_codes::{ErrorCode, RejectionCode};
use thiserror::Error;
use tonic::Code;

/// The typed reading of a refusal: which code the node named, or, when it
/// named none this build knows, what kind of refusal the gRPC status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A code of the shared vocabulary, from the `ingressoja-error` metadata.
    Known(ErrorCode),
    /// No metadata code, or one this build does not know (a newer node):
    /// the gRPC status code (e.g. `OutOfRange` for a watch whose events
    /// were pruned, `PermissionDenied` for a certificate of the wrong role).
    Status(Code),
}

impl Refusal {
    /// The machine's rejection code, when the sale rules refused.
    pub fn rejection(self) -> Option<RejectionCode> {
        match self {
            Refusal::Known(code) => code.rejection(),
            Refusal::Status(_) => None,
        }
    }
}

/// Why a client call did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// The cluster refused the request for a domain reason. Retrying the same
    /// request will get the same answer, so it is returned at once.
    ///
    /// `code` is the machine-readable reason (`sold_out`, `limit_exceeded`,
    /// `hold_expired`, `hold_not_found`, `hold_not_yours`, `unknown_event`,
    /// `invalid_field`, `event_exists`, `unknown_customer`, `totp_already_enrolled`,
    /// `totp_replayed`, ...), taken from the `ingressoja-error`
    /// metadata, or the snake_case gRPC code name when the server sent none.
    /// It is kept verbatim (a code from a newer node still prints);
    /// `refusal` is its typed reading, set together by [`crate::classify`].
    #[error("{code}: {message}")]
    Rejected {
        code: String,
        refusal: Refusal,
        message: String,
    },

    /// No node produced an answer before the overall deadline passed.
    ///
    /// For a mutating call the outcome is unknown: retrying with the same
    /// idempotency key is safe and returns the first answer if there was one.
    #[error("cluster unavailable after {attempts} attempt(s): {last_error}")]
    Unavailable { attempts: u32, last_error: String },

    /// An address given to the client cannot be used as a gRPC endpoint.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },

    /// A call aimed at one specific node could not reach it (no failover is
    /// attempted for such calls).
    #[error("node unreachable: {0}")]
    Transport(String),

    /// The server answered with an error that is neither a domain rejection
    /// nor a transient condition (e.g. `internal`, `unimplemented`); retrying
    /// would not help.
    #[error("server error {code}: {message}")]
    Server { code: String, message: String },
}

impl ClientError {
    /// A refusal with a known code: `code` is its wire string.
    pub fn refused(code: impl Into<ErrorCode>, message: impl Into<String>) -> ClientError {
        let code = code.into();
        ClientError::Rejected {
            code: code.as_str().to_string(),
            refusal: Refusal::Known(code),
            message: message.into(),
        }
    }

    /// The machine-readable rejection code as sent, if this is a domain rejection.
    pub fn rejection_code(&self) -> Option<&str> {
        match self {
            ClientError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The typed reading of the refusal, if this is one.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            ClientError::Rejected { refusal, .. } => Some(*refusal),
            _ => None,
        }
    }

    /// The sale rule that refused, if one did: the common case to match on.
    pub fn rejection(&self) -> Option<RejectionCode> {
        self.refusal().and_then(Refusal::rejection)
    }

    /// True when the cluster could not be reached in time (as opposed to
    /// having answered with a refusal).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            ClientError::Unavailable { .. } | ClientError::Transport(_)
        )
    }
}
