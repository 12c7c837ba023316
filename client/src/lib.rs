//! The IngressoJá client: talks to a Raft cluster of ticketing nodes as if it
//! were one server.
//!
//! A library only, shared by the gateway, the `ingressoja` CLI (crate
//! `ingressoja-cli`), the chaos harness, the bench and the test helpers. It
//! depends on the gRPC contract (`ingressoja-proto`), tonic and tokio, never
//! on `ingressoja-node` (so nothing that uses it compiles RocksDB), and has
//! no argument parsing, logging setup or `anyhow`: those are the binaries'.
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
//! Beyond the writes and reads, [`Client::watch_events`] follows the
//! cluster's domain events from any node with no gap and no repeat across
//! node failures, and [`Client::export_audit`] pages through one node's
//! hash-chained audit log. [`password::hash_password`] makes the argon2id hash
//! that [`Client::register`] sends instead of a password.
//! [`Client::get_credentials`], [`Client::enrol_totp`] and
//! [`Client::record_login`] let stateless gateways share login lockout
//! counters and TOTP replay protection through the cluster.
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
mod batcher;
mod classify;
mod client;
mod cluster;
mod customer;
mod endpoint;
mod error;
mod failover;
mod login;
pub mod membership;
mod options;
pub mod password;
mod purchase;
mod queue;
mod ticketing;
mod watch;

pub use admin::{BackupCopy, NodeReport};
pub use client::Client;
pub use error::{ClientError, Refusal};
pub use membership::{CatchUp, MembershipError};
pub use options::ClientOptions;
pub use watch::EventWatch;

/// The gRPC contract, re-exported so callers need not depend on `ingressoja-proto` directly.
pub use ingressoja_proto as proto;
