//! The IngressoJá Raft member: the sale state machine replicated with openraft,
//! stored in RocksDB, served over gRPC.
//!
//! - [`machine`]: the pure, deterministic sale rules (no I/O, no clock).
//! - [`storage`]: the Raft log, vote and snapshots in RocksDB.
//! - [`network`]: Raft RPCs over tonic.
//! - [`service`]: the ticketing and admin gRPC services.
//! - [`checkout`]: the purchase saga (charge, propose, refund) behind the ticketing service.
//! - [`planted`]: bugs for the chaos checkers' own tests, only with the `planted-bugs` feature.
//! - [`member`]: which cluster a data directory belongs to; a blank node neither votes nor acts as a voter.
//! - [`formation`]: forming a new cluster, every other member joining as a learner.
//! - [`cluster_clock`]: the time a leader stamps on entries, its clock corrected by its peers'.
//! - [`app`]: wiring and shutdown.
//! - [`backup`] and [`restore`]: the backup file, and seeding a new node from it.

pub mod app;
pub mod backup;
pub mod checkout;
pub mod cluster_clock;
pub mod error;
pub mod formation;
pub mod listener;
pub mod machine;
pub mod member;
pub mod metrics;
pub mod network;
pub mod payment;
pub mod planted;
pub mod proposer;
pub mod raft_types;
pub mod read_barrier;
pub mod restore;
pub mod service;
pub mod storage;
pub mod ticker;

pub use app::{NodeHandle, StartError};
