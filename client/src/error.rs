//! The errors a caller of the client can see.
//!
//! gRPC statuses are turned into these once, in [`crate::classify`]; nothing
//! above the retry loop looks at a raw `tonic::Status`.

use thiserror::Error;

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
    #[error("{code}: {message}")]
    Rejected { code: String, message: String },

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
    /// The machine-readable rejection code, if this is a domain rejection.
    pub fn rejection_code(&self) -> Option<&str> {
        match self {
            ClientError::Rejected { code, .. } => Some(code),
            _ => None,
        }
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
