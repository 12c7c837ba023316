//! The JSON shapes of the API (the gRPC types, flattened for apps and scripts).

use ingressoja_client::proto::ticketing::{AvailabilityReply, Hold, QueueStatus, Ticket};
use serde::Serialize;

/// One ticket category with its live availability.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryView {
    /// Category id, used to hold.
    pub category_id: String,
    /// Display name.
    pub name: String,
    /// Seats in all.
    pub capacity: u32,
    /// Seats neither sold nor held.
    pub available: u32,
    /// Price of one ticket in centavos.
    pub price_cents: u64,
    /// Most tickets of this category per customer (0: no limit).
    pub per_customer_limit: u32,
}

/// An event and its categories.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    /// Event id.
    pub event_id: String,
    /// Display name.
    pub name: String,
    /// Its categories.
    pub categories: Vec<CategoryView>,
}

impl From<AvailabilityReply> for EventView {
    fn from(reply: AvailabilityReply) -> EventView {
        EventView {
            event_id: reply.event_id,
            name: reply.name,
            categories: reply
                .categories
                .into_iter()
                .map(|c| CategoryView {
                    category_id: c.category_id,
                    name: c.name,
                    capacity: c.capacity,
                    available: c.available,
                    price_cents: c.price_cents,
                    per_customer_limit: c.per_customer_limit,
                })
                .collect(),
        }
    }
}

/// A hold: tickets set aside for a buyer until `expires_at_ms`.
#[derive(Debug, Clone, Serialize)]
pub struct HoldView {
    /// Hold id, used to pay or release.
    pub hold_id: u64,
    /// Event id.
    pub event_id: String,
    /// Category id.
    pub category_id: String,
    /// Tickets held.
    pub quantity: u32,
    /// `live`, `purchased`, `released` or `expired`.
    pub status: String,
    /// When a live hold lapses (Unix ms).
    pub expires_at_ms: u64,
}

impl From<Hold> for HoldView {
    fn from(hold: Hold) -> HoldView {
        HoldView {
            hold_id: hold.hold_id,
            event_id: hold.event_id,
            category_id: hold.category_id,
            quantity: hold.quantity,
            status: hold.status,
            expires_at_ms: hold.expires_at_ms,
        }
    }
}

/// A sold ticket.
#[derive(Debug, Clone, Serialize)]
pub struct TicketView {
    /// Ticket id, printed on the ticket and in its QR code.
    pub ticket_id: String,
    /// Event id.
    pub event_id: String,
    /// Category id.
    pub category_id: String,
    /// The hold it was bought from.
    pub hold_id: u64,
    /// Price paid, in centavos.
    pub price_cents: u64,
    /// When it was sold (Unix ms).
    pub sold_at_ms: u64,
}

impl From<Ticket> for TicketView {
    fn from(ticket: Ticket) -> TicketView {
        TicketView {
            ticket_id: ticket.ticket_id,
            event_id: ticket.event_id,
            category_id: ticket.category_id,
            hold_id: ticket.hold_id,
            price_cents: ticket.price_cents,
            sold_at_ms: ticket.sold_at_ms,
        }
    }
}

/// Where a buyer stands in a virtual queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueView {
    /// Event id.
    pub event_id: String,
    /// Place in line, 1-based (0 while in the pre-queue before the sale opens).
    pub position: u64,
    /// Still in the pre-queue (before the sale opens).
    pub in_pre_queue: bool,
    /// People ahead.
    pub people_ahead: u64,
    /// Admitted: may hold tickets now.
    pub admitted: bool,
    /// When the admission lapses (Unix ms; 0 if not admitted).
    pub admission_expires_at_ms: u64,
    /// Estimated wait in ms.
    pub estimated_wait_ms: u64,
    /// Admission to this event is over (sold out or closed).
    pub admission_over: bool,
}

impl From<QueueStatus> for QueueView {
    fn from(status: QueueStatus) -> QueueView {
        QueueView {
            event_id: status.event_id,
            position: status.seq,
            in_pre_queue: status.in_pre_queue,
            people_ahead: status.people_ahead,
            admitted: status.admitted,
            admission_expires_at_ms: status.admission_expires_at_ms,
            estimated_wait_ms: status.estimated_wait_ms,
            admission_over: status.admission_over,
        }
    }
}
