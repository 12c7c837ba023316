//! Real-time notifications: Server-Sent Events per signed-in buyer, fed by
//! the gateway's one shared tail of the cluster's domain events, and signed
//! webhooks for a CRM.

pub mod catch_up;
pub mod event_json;
pub mod mailbox;
pub mod progress;
pub mod sse;
pub mod stream_caps;
pub mod tail;
pub mod webhook;
