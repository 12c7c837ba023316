//! `ingressoja-gateway`: the stateless HTTP front of IngressoJá.
//!
//! It serves the web shop (pages in Portuguese and English), the JSON API
//! (`/api/v1`, described by `openapi.json`), Server-Sent Events per buyer
//! and signed webhooks, and keeps floods off the cluster with rate limits,
//! load shedding and a proof-of-work before queueing. It holds no state of
//! its own: sessions are signed tokens every gateway accepts, lockout and
//! code replay are recorded in the cluster, and every write carries an
//! idempotency key derived from the buyer and the form, so a gateway can be
//! killed at any moment and another carries on.
//!
//! Layout: [`app`] assembles routes and middleware; [`pages`] and [`api`]
//! are the two surfaces over the shared [`actions`]; [`auth`] holds
//! passwords, TOTP, sessions and CSRF; [`limits`] and [`pow`] the abuse
//! controls; [`notify`] the SSE stream and webhooks.

pub mod actions;
pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod pages;
pub mod pow;
pub mod qr;
pub mod state;
pub mod views;
pub mod web;

pub use app::{router, serve};
pub use error::ApiError;
pub use state::AppState;
