//! The words every IngressoJá crate must spell the same way.
//!
//! Rejection codes used to travel between crates as strings, matched by hand
//! in the node's metrics, the client's classification and the gateway's HTTP
//! statuses and translations: a renamed code compiled fine and silently fell
//! through to a default. Here each code is an enum variant with one stable
//! wire string ([`RejectionCode`], [`PaymentCode`], [`NodeCode`], together
//! [`ErrorCode`]), so an exhaustive `match` in any crate stops compiling
//! until it handles a new code.
//!
//! The crate also holds the rules more than one crate enforces, so they
//! cannot drift apart: the [`Cpf`] document number and the length and
//! alphabet of ids and idempotency client ids ([`ids`]).
//!
//! It must stay **dependency-free**: the pure state machine, the chaos
//! checkers and the benchmark link it, and none of them should pull a
//! framework for a vocabulary. The only optional dependency is `serde`,
//! behind the `serde` feature, for crates that persist a [`Cpf`].

mod cpf;
mod error_code;
pub mod ids;
mod macros;
mod rejection;

pub use cpf::{Cpf, CpfError};
pub use error_code::{ErrorCode, NodeCode, PaymentCode, UnknownCode};
pub use ids::{
    validate_client_id, validate_id, ClientIdScope, IdError, MAX_CLIENT_ID_LEN, MAX_ID_LEN,
};
pub use rejection::RejectionCode;
