//! The virtual queue of an event whose policy enables it: joining, and
//! asking where one stands.
//!
//! A customer joins once; holds are refused (`not_admitted`) until the queue
//! admits them, and the admission lapses if unused.

use ingressoja_proto::ticketing::{JoinQueueRequest, QueueStatus, QueueStatusRequest};

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// Puts a customer in an event's queue (before the sale opens, in the
    /// pre-queue, shuffled at opening). Joining again returns the same place.
    pub async fn join_queue(
        &self,
        event_id: &str,
        customer_id: &str,
    ) -> Result<QueueStatus, ClientError> {
        let request_id = self.next_request_id();
        self.join_queue_with_request_id(event_id, customer_id, request_id)
            .await
    }

    /// [`join_queue`](Self::join_queue) with a forced request id.
    pub async fn join_queue_with_request_id(
        &self,
        event_id: &str,
        customer_id: &str,
        request_id: u64,
    ) -> Result<QueueStatus, ClientError> {
        self.with_key(request_id, |key, target| {
            let request = JoinQueueRequest {
                key: Some(key),
                event_id: event_id.to_string(),
                customer_id: customer_id.to_string(),
            };
            async move { target.batcher.join_queue(request).await }
        })
        .await
    }

    /// Where a customer stands in an event's queue: place, people ahead,
    /// whether admitted and until when, and an estimated wait.
    pub async fn queue_status(
        &self,
        event_id: &str,
        customer_id: &str,
    ) -> Result<QueueStatus, ClientError> {
        self.with_failover(|target| {
            let request = QueueStatusRequest {
                event_id: event_id.to_string(),
                customer_id: customer_id.to_string(),
            };
            async move { target.batcher.queue_status(request).await }
        })
        .await
    }
}
