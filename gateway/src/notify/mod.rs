//! Real-time notifications: Server-Sent Events per signed-in buyer, and
//! signed webhooks for a CRM, both fed by the cluster's domain event stream.

pub mod event_json;
pub mod sse;
pub mod webhook;
