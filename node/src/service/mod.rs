//! The gRPC services a node offers to clients: [`ticketing`] for buyers, [`admin`] for operators.

pub mod access;
pub mod admin;
pub mod convert;
mod submit;
pub mod ticketing;

pub use admin::AdminService;
pub use ticketing::TicketingService;
