//! One connection's inbox of events from the shared tail: a handful of
//! events at most, and a flag once the tail had to drop one.
//!
//! A plain queue and a `Notify` rather than a Tokio channel: a bounded
//! `mpsc` costs about a kilobyte per connection before it carries anything
//! (cache-padded fields and a first block of 32 slots), and a gateway
//! holds tens of thousands of mostly idle connections.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ingressoja_client::proto::ticketing::DomainEvent;
use tokio::sync::Notify;

/// Events that may wait in one inbox before its connection counts as lagged.
pub const CAPACITY: usize = 16;

/// See the module doc.
#[derive(Debug, Default)]
pub struct Mailbox {
    events: Mutex<VecDeque<Arc<DomainEvent>>>,
    lagged: AtomicBool,
    arrived: Notify,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<DomainEvent>>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `event` (from the tail), or marks the inbox lagged when full.
    pub fn offer(&self, event: Arc<DomainEvent>) {
        let mut events = self.lock();
        if events.len() >= CAPACITY {
            self.lagged.store(true, Ordering::Release);
            return;
        }
        events.push_back(event);
        drop(events);
        self.arrived.notify_one();
    }

    /// The next event; waits while there is none. `None` once the inbox is
    /// empty and lagged: the connection must resync. Cancel-safe: an event
    /// not returned stays in the inbox.
    pub async fn recv(&self) -> Option<Arc<DomainEvent>> {
        loop {
            let arrived = self.arrived.notified();
            if let Some(event) = self.pop() {
                return Some(event);
            }
            if self.lagged() {
                return None;
            }
            arrived.await;
        }
    }

    /// Marks the inbox lagged and wakes its connection, for events the
    /// tail itself missed (it fell behind what the node keeps): the
    /// connection resyncs instead of waiting for events that never come.
    pub fn mark_lagged(&self) {
        self.lagged.store(true, Ordering::Release);
        self.arrived.notify_one();
    }

    fn pop(&self) -> Option<Arc<DomainEvent>> {
        let mut events = self.lock();
        let event = events.pop_front();
        if events.is_empty() && events.capacity() > 0 {
            // An idle connection keeps no buffer.
            *events = VecDeque::new();
        }
        event
    }

    /// The tail dropped an event for this inbox since the last [`reset`](Self::reset).
    pub fn lagged(&self) -> bool {
        self.lagged.load(Ordering::Acquire)
    }

    /// Empties the inbox and clears the lag, for a connection starting over.
    pub fn reset(&self) {
        *self.lock() = VecDeque::new();
        self.lagged.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> Arc<DomainEvent> {
        Arc::new(DomainEvent {
            seq,
            ..DomainEvent::default()
        })
    }

    #[tokio::test]
    async fn events_come_out_in_order_and_overflow_marks_lag() {
        let inbox = Mailbox::default();
        for seq in 0..CAPACITY as u64 + 2 {
            inbox.offer(event(seq));
        }
        assert!(inbox.lagged());
        assert_eq!(inbox.recv().await.unwrap().seq, 0);
        assert_eq!(inbox.recv().await.unwrap().seq, 1);
        inbox.reset();
        assert!(!inbox.lagged());
        inbox.offer(event(99));
        assert_eq!(inbox.recv().await.unwrap().seq, 99);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_on_offer() {
        let inbox = Arc::new(Mailbox::default());
        let waiting = tokio::spawn({
            let inbox = inbox.clone();
            async move { inbox.recv().await.unwrap().seq }
        });
        tokio::task::yield_now().await;
        inbox.offer(event(7));
        assert_eq!(waiting.await.unwrap(), 7);
    }
}
