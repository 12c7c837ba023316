//! Typed, validated configuration of IngressoJá nodes and gateways.
//!
//! A node is started from one TOML file describing who it is (its Raft id),
//! where it keeps its state, where it listens, who the initial voters are and
//! how Raft, snapshots and ticket holds are tuned. This crate turns that file
//! into a [`NodeConfig`] and refuses anything inconsistent *before* the node
//! touches its storage or the network, with an error that names the offending
//! field (`peers[2].addr: invalid socket address "x:y": ...`).
//!
//! The stateless HTTP gateway (`ingressoja-gateway`) is configured the same
//! way by a [`GatewayConfig`]: where it listens, which nodes it forwards to,
//! the shared session key, login lockout, rate limits, anti-bot challenge,
//! notification timings and outgoing webhooks. Its secrets (session key,
//! webhook secrets) never appear in `Debug` output or error messages.
//!
//! Ready-made cluster layouts (node and gateway files) live beside the crate
//! in `configs/`.

#![warn(missing_docs)]

mod addr;
mod anti_bot;
mod check;
mod error;
mod gateway;
mod key;
mod listen;
mod node;
mod notification;
mod parse;
mod peer;
mod raft;
mod rate_limit;
mod sale;
mod secret;
mod session;
mod snapshot;
mod tickets;
mod tls;
mod url;
mod webhook;

#[cfg(test)]
mod shipped_configs;
#[cfg(test)]
mod test_support;

pub use anti_bot::AntiBotConfig;
pub use error::ConfigError;
pub use gateway::GatewayConfig;
pub use key::KeySource;
pub use listen::ListenConfig;
pub use node::NodeConfig;
pub use notification::NotificationConfig;
pub use peer::PeerConfig;
pub use raft::RaftTimingConfig;
pub use rate_limit::{RateLimit, RateLimits};
pub use sale::SaleConfig;
pub use session::{LoginConfig, SessionConfig};
pub use snapshot::SnapshotPolicy;
pub use tickets::TicketsConfig;
pub use tls::TlsConfig;
pub use webhook::WebhookConfig;
