//! The rare cluster read behind a notification stream: a buyer's events
//! older than the shared tail keeps (a page resuming after a long absence).
//!
//! It is a customer-filtered `WatchEvents` read from the resume point that
//! stops at the first event the tail already keeps, or once the node has
//! been quiet for [`QUIET`] (the filtered stream has no end-of-history
//! marker: the node sends the kept history at once, then waits for new
//! events), or after [`DEADLINE`]. At most a few run at once per gateway
//! (the tail's semaphore), so a reconnect storm queues here instead of
//! opening a stream per page.

use std::ops::Range;
use std::time::Duration;

use ingressoja_client::proto::ticketing::DomainEvent;
use ingressoja_client::{Client, ClientError, Refusal};
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};
use tonic::Code;

/// Silence after which the node has sent all the history it keeps.
pub const QUIET: Duration = Duration::from_secs(2);

/// The longest a history read may take.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Events one history read delivers at most.
pub const MAX_EVENTS: usize = 1_000;

/// Why a history read did not deliver the whole range.
#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    /// The node no longer keeps events that old.
    #[error("the cluster no longer keeps events from seq {0}")]
    Gone(u64),
    /// More than [`MAX_EVENTS`] events, or slower than [`DEADLINE`].
    #[error("history from seq {0} is too long to replay")]
    TooLong(u64),
    /// The shared gate is closed (the gateway is stopping).
    #[error("the gateway is shutting down")]
    Closed,
    /// The cluster could not be read.
    #[error(transparent)]
    Cluster(#[from] ClientError),
}

/// `customer_id`'s events with seqs in `range`, in order.
pub async fn history(
    cluster: &Client,
    permits: &Semaphore,
    customer_id: &str,
    range: Range<u64>,
) -> Result<Vec<DomainEvent>, CatchUpError> {
    let _permit = permits.acquire().await.map_err(|_| CatchUpError::Closed)?;
    let deadline = Instant::now() + DEADLINE;
    let mut watch = cluster.watch_events(range.start, Some(customer_id));
    let mut events = Vec::new();
    loop {
        let quiet_until = (Instant::now() + QUIET).min(deadline);
        let event = match timeout_at(quiet_until, watch.next()).await {
            Err(_) if Instant::now() >= deadline => {
                return Err(CatchUpError::TooLong(range.start));
            }
            Err(_quiet) => return Ok(events),
            Ok(Err(error)) if error.refusal() == Some(Refusal::Status(Code::OutOfRange)) => {
                return Err(CatchUpError::Gone(range.start));
            }
            Ok(Err(error)) => return Err(error.into()),
            Ok(Ok(event)) => event,
        };
        if event.seq >= range.end {
            return Ok(events);
        }
        if events.len() >= MAX_EVENTS {
            return Err(CatchUpError::TooLong(range.start));
        }
        events.push(event);
    }
}
