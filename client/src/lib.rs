//! The IngressoJá client: talks to a Raft cluster of ticketing nodes as if it
//! were one server.
//!
//! A [`Client`] is given the gRPC addresses of some nodes. It finds the leader
//! by following `not_leader` answers, skips dead nodes, backs off while an
//! election is in progress, and gives up only when
//! [`ClientOptions::overall_deadline`] passes. Every mutating call carries one
//! [`IdempotencyKey`](ingressoja_proto::ticketing::IdempotencyKey) that is
//! reused on every retry of that call, so a retry never buys twice.
//!
//! Failures come back as a typed [`ClientError`]: a domain rejection
//! (`sold_out`, `hold_expired`, ...) is returned at once and never retried.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ingressoja_client::ClientError> {
//! use ingressoja_client::{Client, ClientOptions};
//!
//! let client = Client::connect(
//!     vec!["127.0.0.1:7101".into(), "127.0.0.1:7102".into()],
//!     ClientOptions::default(),
//! )?;
//! let hold = client.place_hold("rock-2025", "pista", "alice", 2).await?;
//! let hold_id = hold.hold.map(|h| h.hold_id).unwrap_or_default();
//! let bought = client.purchase(hold_id, "alice").await?;
//! println!("{} tickets", bought.tickets.len());
//! # Ok(())
//! # }
//! ```

mod admin;
mod backoff;
mod classify;
mod client;
mod cluster;
mod endpoint;
mod error;
mod failover;
mod options;
mod ticketing;

pub use admin::NodeReport;
pub use client::Client;
pub use error::ClientError;
pub use options::ClientOptions;

/// The gRPC contract, re-exported so callers need not depend on `ingressoja-proto` directly.
pub use ingressoja_proto as proto;
