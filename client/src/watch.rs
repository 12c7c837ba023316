//! Following the cluster's domain events (holds, purchases, admissions, ...)
//! from any node, across node failures, with no gap and no duplicate.
//!
//! Every replica numbers the events it applies the same way (`seq`), so a
//! watch that loses its node reconnects to the next one and asks for the
//! events after the last one it delivered; anything sent twice is dropped.

use std::collections::HashMap;
use std::time::Duration;

use futures::Stream;
use ingressoja_proto::ticketing::ticketing_client::TicketingClient;
use ingressoja_proto::ticketing::{DomainEvent, WatchEventsRequest};
use tokio::time::{sleep, timeout, Instant};
use tonic::transport::Channel;
use tonic::{Status, Streaming};

use crate::backoff::Backoff;
use crate::classify::{classify, describe, Verdict};
use crate::client::Client;
use crate::endpoint;
use crate::error::ClientError;
use crate::failover::pretty;

impl Client {
    /// Starts following domain events with `seq >= from_seq` (0: from the
    /// oldest a node still keeps), only those of `customer_id` if given.
    ///
    /// Nothing is dialled until the first [`EventWatch::next`]. The watch
    /// connects to any reachable known node; when the stream breaks it moves
    /// to the next node and resumes after the last event delivered.
    pub fn watch_events(&self, from_seq: u64, customer_id: Option<&str>) -> EventWatch {
        EventWatch {
            client: self.clone(),
            customer_id: customer_id.unwrap_or_default().to_string(),
            from_seq,
            next_seq: from_seq,
            delivered_any: false,
            stream: None,
            channels: HashMap::new(),
            next_node: 0,
            backoff: Backoff::new(),
            outage: None,
        }
    }
}

/// A resumable subscription to the cluster's domain events; see
/// [`Client::watch_events`]. Call [`next`](Self::next) in a loop, or turn it
/// into a [`Stream`] with [`into_stream`](Self::into_stream).
#[derive(Debug)]
pub struct EventWatch {
    client: Client,
    customer_id: String,
    from_seq: u64,
    /// The smallest seq not delivered yet.
    next_seq: u64,
    delivered_any: bool,
    stream: Option<Open>,
    channels: HashMap<String, Channel>,
    /// Index into the known nodes of the next node to connect to.
    next_node: usize,
    backoff: Backoff,
    /// Since when no stream has been open, and how the attempts went.
    outage: Option<Outage>,
}

/// The stream currently followed.
#[derive(Debug)]
struct Open {
    addr: String,
    stream: Streaming<DomainEvent>,
    since: Instant,
}

/// A time without an open stream.
#[derive(Debug)]
struct Outage {
    since: Instant,
    attempts: u32,
    last_error: String,
}

impl Outage {
    /// An outage starting now.
    fn new() -> Self {
        Outage {
            since: Instant::now(),
            attempts: 0,
            last_error: String::from("no attempt was made"),
        }
    }
}

impl EventWatch {
    /// The next event, in seq order, each exactly once.
    ///
    /// Waits as long as the cluster is quiet. Fails with
    /// [`ClientError::Unavailable`] when no node could be streamed from for
    /// the client's overall deadline, and with the node's answer when it
    /// refuses the watch (e.g. a malformed customer id). The watch stays
    /// usable after an error: the next call tries again from where it was.
    /// Dropping the returned future (a timeout, a `select!`) loses no event.
    pub async fn next(&mut self) -> Result<DomainEvent, ClientError> {
        loop {
            let Some(open) = self.stream.as_mut() else {
                self.connect().await?;
                continue;
            };
            let failure = match open.stream.message().await {
                Ok(Some(event)) => {
                    if let Some(event) = self.accept(event) {
                        return Ok(event);
                    }
                    continue;
                }
                Ok(None) => format!("{}: the node ended the stream", open.addr),
                Err(status) => {
                    if let Verdict::Fail(error @ ClientError::Rejected { .. }) = classify(&status) {
                        self.stream = None;
                        return Err(error);
                    }
                    format!("{}: {}", open.addr, describe(&status))
                }
            };
            self.lose_stream(failure).await;
        }
    }

    /// Turns the watch into a never-ending [`Stream`] of what
    /// [`next`](Self::next) returns.
    pub fn into_stream(self) -> impl Stream<Item = Result<DomainEvent, ClientError>> + Send {
        futures::stream::unfold(self, |mut watch| async move {
            let item = watch.next().await;
            Some((item, watch))
        })
    }

    /// The seq the next delivered event will have at least: the last
    /// delivered seq + 1 (or the `from_seq` the watch started with).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The node the watch is streaming from, if a stream is open.
    pub fn node(&self) -> Option<&str> {
        self.stream.as_ref().map(|open| open.addr.as_str())
    }

    /// Delivers `event` unless it was delivered before.
    fn accept(&mut self, event: DomainEvent) -> Option<DomainEvent> {
        if event.seq < self.next_seq {
            return None;
        }
        // Without a filter every seq comes; a jump means the node no
        // longer keeps the events in between.
        let expected = self.delivered_any || self.from_seq > 0;
        if self.customer_id.is_empty() && expected && event.seq > self.next_seq {
            tracing::warn!(
                missing_from = self.next_seq,
                missing_to = event.seq - 1,
                "domain events are no longer kept by the node; they were skipped"
            );
        }
        self.next_seq = event.seq.saturating_add(1);
        self.delivered_any = true;
        self.backoff = Backoff::new();
        self.outage = None;
        Some(event)
    }

    /// Drops the broken stream and pauses before the next node. A stream
    /// that stayed open a while ends any outage: the clock starts afresh.
    async fn lose_stream(&mut self, failure: String) {
        tracing::debug!(%failure, "event stream lost, moving to the next node");
        if let Some(open) = self.stream.take() {
            self.channels.remove(&open.addr);
            if open.since.elapsed() >= self.client.options().request_timeout {
                self.outage = None;
                self.backoff = Backoff::new();
            }
        }
        self.outage.get_or_insert_with(Outage::new).last_error = failure;
        self.pause().await;
    }

    /// Opens a stream on the next node, or fails once the outage has
    /// lasted the overall deadline.
    async fn connect(&mut self) -> Result<(), ClientError> {
        let options = self.client.options().clone();
        let over = |o: &mut Outage| o.attempts > 0 && o.since.elapsed() >= options.overall_deadline;
        if let Some(outage) = self.outage.take_if(over) {
            return Err(ClientError::Unavailable {
                attempts: outage.attempts,
                last_error: outage.last_error,
            });
        }
        self.outage.get_or_insert_with(Outage::new).attempts += 1;

        let addr = self.pick_node()?;
        let request = WatchEventsRequest {
            from_seq: self.next_seq,
            customer_id: self.customer_id.clone(),
        };
        let failure = match self.channel(&addr) {
            Ok(channel) => {
                let mut ticketing = TicketingClient::new(channel);
                let call = ticketing.watch_events(request);
                match timeout(options.request_timeout, call).await {
                    Ok(Ok(response)) => {
                        tracing::debug!(node = %addr, from_seq = self.next_seq, "following events");
                        self.stream = Some(Open {
                            addr,
                            stream: response.into_inner(),
                            since: Instant::now(),
                        });
                        return Ok(());
                    }
                    Ok(Err(status)) => self.refused(&addr, &status)?,
                    Err(_elapsed) => format!(
                        "{addr}: no answer within {}",
                        pretty(options.request_timeout)
                    ),
                }
            }
            Err(error) => error.to_string(),
        };
        tracing::debug!(%failure, "could not open an event stream, trying the next node");
        self.channels.remove(&addr);
        if let Some(outage) = self.outage.as_mut() {
            outage.last_error = failure;
        }
        self.pause().await;
        Ok(())
    }

    /// The next known node, round-robin.
    fn pick_node(&mut self) -> Result<String, ClientError> {
        let nodes = self.client.known_nodes();
        let index = self.next_node % nodes.len().max(1);
        self.next_node = index + 1;
        nodes
            .get(index)
            .cloned()
            .ok_or_else(|| ClientError::InvalidEndpoint {
                endpoint: String::new(),
                reason: "no node addresses are known".into(),
            })
    }

    /// What a refused `WatchEvents` means: a final answer (returned as the
    /// error) or a reason to try the next node.
    fn refused(&mut self, addr: &str, status: &Status) -> Result<String, ClientError> {
        match classify(status) {
            Verdict::Fail(error) => {
                self.outage = None;
                Err(error)
            }
            Verdict::NotLeader { .. } => Ok(format!("{addr}: refused to stream as a follower")),
            Verdict::Retry { reason, .. } => Ok(format!("{addr}: {reason}")),
        }
    }

    /// The streaming channel to `addr`, dialled lazily and kept until it fails.
    fn channel(&mut self, addr: &str) -> Result<Channel, ClientError> {
        if let Some(channel) = self.channels.get(addr) {
            return Ok(channel.clone());
        }
        let address = endpoint::normalise(addr)?;
        let options = self.client.options();
        // The client's TLS of now (a reload may have replaced the first).
        let tls = self.client.cluster().tls();
        let channel = endpoint::stream_endpoint(&address, options.request_timeout, tls.as_ref())?
            .connect_lazy();
        self.channels.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }

    /// Waits the next backoff step, shorter if the deadline is nearer.
    async fn pause(&mut self) {
        let deadline = self.client.options().overall_deadline;
        let spent = self
            .outage
            .as_ref()
            .map_or(Duration::ZERO, |o| o.since.elapsed());
        sleep(
            self.backoff
                .next_pause()
                .min(deadline.saturating_sub(spent)),
        )
        .await;
    }
}
