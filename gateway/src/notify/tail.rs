//! The gateway's one shared tail of the cluster's domain events.
//!
//! Hundreds of thousands of open pages must not mean as many cluster
//! streams. One task per gateway follows `WatchEvents` (every event, from
//! the oldest the node keeps, resuming after the last seq across node
//! failures) and:
//!
//! - keeps the last [`RECENT_EVENTS`] events, so a connection that opens
//!   or resumes within that window catches up without a cluster read;
//! - routes each buyer's events to that buyer's open connections only (a
//!   map lookup per event, not a wake-up of every connection), through a
//!   small bounded buffer per connection: a connection that falls
//!   [`CONNECTION_BUFFER`] events behind is marked *lagged* and resyncs
//!   from the recent window instead of silently missing events;
//! - keeps each queue's progress ([`ProgressBook`]) and publishes it at
//!   most once per `notifications.queue_poll_ms` on a `watch`, the one
//!   value every waiting page of that queue reads.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use ingressoja_client::proto::ticketing::{DomainEvent, QueueStatus};
use ingressoja_client::{Client, Refusal};
use tokio::sync::{watch, Semaphore};
use tonic::Code;

use super::mailbox::Mailbox;
use super::progress::{ProgressBook, QueueProgress};
use crate::metrics::GatewayMetrics;

/// Events the tail keeps for connections that open or resume (about 5 MB).
pub const RECENT_EVENTS: usize = 16_384;

/// Events that may wait for one connection before it counts as lagged.
pub const CONNECTION_BUFFER: usize = super::mailbox::CAPACITY;

/// Connections reading missing history from the cluster at once.
const CLUSTER_CATCH_UPS: usize = 32;

/// The shared tail (cheap to clone); see the module doc.
#[derive(Clone)]
pub struct EventTail {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventTail")
    }
}

struct Inner {
    cluster: Client,
    metrics: Arc<GatewayMetrics>,
    publish_every: Duration,
    capacity: usize,
    started: AtomicBool,
    /// Limits the per-connection history reads of [`super::catch_up`].
    catch_ups: Semaphore,
    next_id: AtomicU64,
    shared: Mutex<Shared>,
}

/// Everything the tail task and the connections share, behind one lock
/// held only for map updates and short scans.
#[derive(Default)]
struct Shared {
    /// The latest events, oldest first.
    recent: VecDeque<Arc<DomainEvent>>,
    /// The seq after the last event seen (`None`: none seen yet).
    next_seq: Option<u64>,
    /// Every event with `seq >= complete_from` is in `recent` or still to come.
    complete_from: u64,
    /// Open connections by customer.
    subscribers: HashMap<String, Vec<Slot>>,
    /// Queue progress by event id (created by real events or reads only).
    queues: HashMap<String, QueueEntry>,
}

/// One open connection, as the tail sees it.
struct Slot {
    id: u64,
    mailbox: Arc<Mailbox>,
    /// The queue this connection waits in and its place there, once read.
    seat: Option<(String, u64)>,
}

struct QueueEntry {
    book: ProgressBook,
    sender: watch::Sender<QueueProgress>,
    dirty: bool,
}

impl QueueEntry {
    fn new() -> QueueEntry {
        QueueEntry {
            book: ProgressBook::default(),
            sender: watch::channel(QueueProgress::default()).0,
            dirty: false,
        }
    }
}

/// What a new (or resyncing) connection must deliver before live events.
#[derive(Debug, Default)]
pub struct Start {
    /// Seqs older than the tail keeps: read them from the cluster first.
    pub missing: Option<Range<u64>>,
    /// The buyer's events the tail still keeps, after `missing`, in order.
    pub kept: Vec<Arc<DomainEvent>>,
}

impl EventTail {
    /// A tail of `cluster`'s events publishing queue progress every
    /// `publish_every`. Nothing is dialled before [`start`](Self::start)
    /// or the first subscription.
    pub fn new(cluster: Client, metrics: Arc<GatewayMetrics>, publish_every: Duration) -> Self {
        Self::with_capacity(cluster, metrics, publish_every, RECENT_EVENTS)
    }

    /// [`new`](Self::new) keeping `capacity` recent events (tests use a small one).
    pub fn with_capacity(
        cluster: Client,
        metrics: Arc<GatewayMetrics>,
        publish_every: Duration,
        capacity: usize,
    ) -> Self {
        EventTail {
            inner: Arc::new(Inner {
                cluster,
                metrics,
                publish_every,
                capacity: capacity.max(1),
                started: AtomicBool::new(false),
                catch_ups: Semaphore::new(CLUSTER_CATCH_UPS),
                next_id: AtomicU64::new(1),
                shared: Mutex::new(Shared::default()),
            }),
        }
    }

    /// Starts following the cluster (once; later calls do nothing). Must be
    /// called inside a Tokio runtime.
    pub fn start(&self) {
        if self.inner.started.swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(follow(
            Arc::downgrade(&self.inner),
            self.inner.cluster.clone(),
            self.inner.metrics.clone(),
        ));
        tokio::spawn(publish_progress(
            Arc::downgrade(&self.inner),
            self.inner.publish_every,
        ));
    }

    /// Opens a connection for `customer_id`. `from`: resume at this seq
    /// (`None`: a fresh page, which gets the buyer's recent events).
    pub fn subscribe(&self, customer_id: &str, from: Option<u64>) -> (Subscription, Start) {
        self.start();
        let mailbox = Arc::new(Mailbox::default());
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut shared = self.inner.lock();
        let start = shared.start(customer_id, from);
        shared
            .subscribers
            .entry(customer_id.to_string())
            .or_default()
            .push(Slot {
                id,
                mailbox: mailbox.clone(),
                seat: None,
            });
        drop(shared);
        let subscription = Subscription {
            inner: self.inner.clone(),
            customer_id: customer_id.to_string(),
            id,
            mailbox,
        };
        (subscription, start)
    }

    /// The seq after the last event the tail has seen (0: none yet).
    pub fn next_seq(&self) -> u64 {
        self.inner.lock().next_seq.unwrap_or(0)
    }

    /// The current progress of `event_id`'s queue, if the tail knows it.
    pub fn progress(&self, event_id: &str) -> Option<QueueProgress> {
        self.inner
            .lock()
            .queues
            .get(event_id)
            .map(|q| q.book.progress())
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic elsewhere cannot leave the maps half-updated in a way
        // that matters more than stopping every stream would.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes in one event from the cluster.
    fn publish(&self, event: DomainEvent) {
        let event = Arc::new(event);
        let mut shared = self.lock();
        let shared = &mut *shared;
        match shared.next_seq {
            Some(next) if event.seq < next => return,
            Some(next) if event.seq > next => {
                tracing::warn!(
                    missing_from = next,
                    missing_to = event.seq - 1,
                    "the event tail skipped events the node no longer keeps"
                );
                shared.complete_from = event.seq;
                for queue in shared.queues.values_mut() {
                    queue.book.on_gap();
                }
                // Every open page may have lost events in the gap: each
                // resyncs (re-reads its state) rather than miss them silently.
                for slot in shared.subscribers.values().flatten() {
                    slot.mailbox.mark_lagged();
                }
            }
            Some(_) => {}
            None => shared.complete_from = event.seq,
        }
        shared.next_seq = Some(event.seq.saturating_add(1));
        if shared.recent.len() >= self.capacity {
            shared.recent.pop_front();
            if let Some(front) = shared.recent.front() {
                shared.complete_from = shared.complete_from.max(front.seq);
            }
        }
        shared.recent.push_back(event.clone());
        if shared.recent.len() == 1 {
            shared.complete_from = shared.complete_from.max(event.seq);
        }

        let slots = shared.subscribers.get(&event.customer_id);
        match event.kind.as_str() {
            "admitted" => {
                let anchor = slots.and_then(|slots| {
                    slots.iter().find_map(|slot| match &slot.seat {
                        Some((queue, place)) if *queue == event.event_id && *place > 0 => {
                            Some(*place)
                        }
                        _ => None,
                    })
                });
                let queue = shared
                    .queues
                    .entry(event.event_id.clone())
                    .or_insert_with(QueueEntry::new);
                queue.book.on_admitted(event.ts_ms, anchor);
                queue.dirty = true;
            }
            "sale_opened" => {
                let queue = shared
                    .queues
                    .entry(event.event_id.clone())
                    .or_insert_with(QueueEntry::new);
                queue.book.on_opened();
                queue.dirty = true;
            }
            _ => {}
        }
        if event.customer_id.is_empty() {
            return;
        }
        for slot in slots.into_iter().flatten() {
            slot.mailbox.offer(event.clone());
        }
    }

    /// Publishes every queue's progress that changed since the last time.
    fn publish_progress(&self) {
        let mut shared = self.lock();
        for queue in shared.queues.values_mut().filter(|q| q.dirty) {
            queue.dirty = false;
            let progress = queue.book.progress();
            queue.sender.send_if_modified(|current| {
                let changed = *current != progress;
                *current = progress;
                changed
            });
        }
    }
}

impl Shared {
    /// What a connection resuming at `from` must deliver first.
    fn start(&self, customer_id: &str, from: Option<u64>) -> Start {
        let after = from.unwrap_or(0);
        // `recent` is in seq order: a resume skips what it has by a binary
        // search, not a scan, while holding the lock every event needs.
        let first = self.recent.partition_point(|e| e.seq < after);
        let kept = self
            .recent
            .range(first..)
            .filter(|e| e.customer_id == customer_id)
            .cloned()
            .collect();
        let missing = match (from, self.next_seq) {
            (Some(from), Some(_)) if from < self.complete_from => Some(from..self.complete_from),
            _ => None,
        };
        Start { missing, kept }
    }
}

/// One connection's feed from the tail: its buyer's events, in seq order.
/// Dropping it unregisters the connection.
pub struct Subscription {
    inner: Arc<Inner>,
    customer_id: String,
    id: u64,
    mailbox: Arc<Mailbox>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("customer_id", &self.customer_id)
            .field("id", &self.id)
            .finish()
    }
}

impl Subscription {
    /// The next of the buyer's events (waits while there is none). Check
    /// [`lagged`](Self::lagged) before trusting that none was skipped.
    pub async fn recv(&self) -> Option<Arc<DomainEvent>> {
        self.mailbox.recv().await
    }

    /// The tail had to drop events for this connection (its buffer was
    /// full): call [`resync`](Self::resync).
    pub fn lagged(&self) -> bool {
        self.mailbox.lagged()
    }

    /// Starts over at `from` with an empty buffer: what to deliver first.
    pub fn resync(&mut self, from: u64) -> Start {
        // Under the tail's lock: no event lands between the snapshot and the reset.
        let shared = self.inner.lock();
        let start = shared.start(&self.customer_id, Some(from));
        self.mailbox.reset();
        start
    }

    /// Records this connection's place in a queue (from its own read) and
    /// returns that queue's shared progress.
    pub fn seat(&mut self, status: &QueueStatus) -> watch::Receiver<QueueProgress> {
        let mut shared = self.inner.lock();
        let queue = shared
            .queues
            .entry(status.event_id.clone())
            .or_insert_with(QueueEntry::new);
        queue
            .book
            .on_read(status.admitted_up_to, status.in_pre_queue);
        queue.dirty = true;
        let progress = queue.sender.subscribe();
        let seat =
            (!status.in_pre_queue && status.seq > 0).then(|| (status.event_id.clone(), status.seq));
        if let Some(slot) = shared
            .subscribers
            .get_mut(&self.customer_id)
            .and_then(|slots| slots.iter_mut().find(|s| s.id == self.id))
        {
            slot.seat = seat;
        }
        progress
    }

    /// The connection no longer waits in a queue.
    pub fn leave_seat(&mut self) {
        let mut shared = self.inner.lock();
        if let Some(slot) = shared
            .subscribers
            .get_mut(&self.customer_id)
            .and_then(|slots| slots.iter_mut().find(|s| s.id == self.id))
        {
            slot.seat = None;
        }
    }

    /// The buyer this connection belongs to.
    pub fn customer_id(&self) -> &str {
        &self.customer_id
    }

    /// The cluster, for the rare history read.
    pub(crate) fn cluster(&self) -> &Client {
        &self.inner.cluster
    }

    /// The gate limiting concurrent cluster history reads.
    pub(crate) fn catch_up_permits(&self) -> &Semaphore {
        &self.inner.catch_ups
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut shared = self.inner.lock();
        if let Some(slots) = shared.subscribers.get_mut(&self.customer_id) {
            slots.retain(|s| s.id != self.id);
            if slots.is_empty() {
                shared.subscribers.remove(&self.customer_id);
            }
        }
    }
}

/// The tail task: follows every event until the gateway's state is gone.
///
/// It awaits nothing but the watch: dropping a pending `next` while the
/// watch is connecting would open a second stream.
async fn follow(inner: Weak<Inner>, cluster: Client, metrics: Arc<GatewayMetrics>) {
    let mut watch = cluster.watch_events(0, None);
    loop {
        let next = watch.next().await;
        let Some(inner) = inner.upgrade() else { return };
        match next {
            Ok(event) => inner.publish(event),
            Err(error) => {
                metrics.tail_interruptions.inc();
                if error.refusal() == Some(Refusal::Status(Code::OutOfRange)) {
                    // Fell behind what the node keeps: start from the oldest kept
                    // (`publish` notes the gap).
                    watch = cluster.watch_events(0, None);
                } else {
                    tracing::warn!(%error, "event tail interrupted; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Publishes the queues' progress every `every`, until the state is gone.
async fn publish_progress(inner: Weak<Inner>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        inner.publish_progress();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(capacity: usize) -> EventTail {
        let cluster = Client::connect(vec!["127.0.0.1:1".into()], Default::default()).unwrap();
        let tail = EventTail::with_capacity(
            cluster,
            Arc::new(GatewayMetrics::default()),
            Duration::from_millis(10),
            capacity,
        );
        // Tests feed events by hand: never dial.
        tail.inner.started.store(true, Ordering::SeqCst);
        tail
    }

    fn event(seq: u64, kind: &str, customer: &str) -> DomainEvent {
        DomainEvent {
            seq,
            kind: kind.into(),
            event_id: "fila".into(),
            customer_id: customer.into(),
            ..DomainEvent::default()
        }
    }

    #[tokio::test]
    async fn each_buyer_gets_only_their_events_in_order() {
        let tail = tail(100);
        let (ana, start) = tail.subscribe("ana", None);
        assert!(start.kept.is_empty() && start.missing.is_none());
        let (bia, _) = tail.subscribe("bia", None);
        for (seq, who) in [(0, "ana"), (1, "bia"), (2, "ana")] {
            tail.inner.publish(event(seq, "hold_created", who));
        }
        assert_eq!(ana.recv().await.unwrap().seq, 0);
        assert_eq!(ana.recv().await.unwrap().seq, 2);
        assert_eq!(bia.recv().await.unwrap().seq, 1);
        assert!(!ana.lagged());
    }

    #[tokio::test]
    async fn opening_or_resuming_catches_up_from_the_kept_window() {
        let tail = tail(4);
        for seq in 10..20 {
            tail.inner.publish(event(seq, "hold_created", "ana"));
        }
        let (_fresh, start) = tail.subscribe("ana", None);
        let seqs: Vec<u64> = start.kept.iter().map(|e| e.seq).collect();
        assert_eq!((seqs, start.missing), (vec![16, 17, 18, 19], None));
        let (_resumed, start) = tail.subscribe("ana", Some(18));
        assert_eq!(start.kept.len(), 2);
        assert_eq!(start.missing, None);
        let (_old, start) = tail.subscribe("ana", Some(12));
        assert_eq!(start.missing, Some(12..16));
        assert_eq!(start.kept.len(), 4);
    }

    #[tokio::test]
    async fn a_full_buffer_marks_the_connection_lagged_and_resync_recovers() {
        let tail = tail(100);
        let (mut ana, _) = tail.subscribe("ana", None);
        let total = CONNECTION_BUFFER as u64 + 5;
        for seq in 0..total {
            tail.inner.publish(event(seq, "hold_created", "ana"));
        }
        assert!(ana.lagged());
        let first = ana.recv().await.unwrap();
        let start = ana.resync(first.seq + 1);
        assert!(!ana.lagged());
        let seqs: Vec<u64> = start.kept.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..total).collect::<Vec<_>>());
        tail.inner.publish(event(total, "hold_created", "ana"));
        assert_eq!(ana.recv().await.unwrap().seq, total);
    }

    #[tokio::test]
    async fn a_gap_in_the_tail_makes_every_open_page_resync() {
        let tail = tail(100);
        let (mut ana, _) = tail.subscribe("ana", None);
        let (bia, _) = tail.subscribe("bia", None);
        tail.inner.publish(event(0, "hold_created", "ana"));
        assert_eq!(ana.recv().await.unwrap().seq, 0);
        // The tail missed 1..=9 (the node no longer kept them): bia's own
        // events may be among them, though nothing for bia arrives now.
        tail.inner.publish(event(10, "hold_created", "ana"));
        assert!(bia.lagged(), "a page the gap may have hit is told");
        assert_eq!(bia.recv().await, None, "and woken to resync");
        assert!(ana.lagged());
        assert_eq!(ana.recv().await.unwrap().seq, 10);
        assert_eq!(ana.recv().await, None);
        let start = ana.resync(11);
        assert!(!ana.lagged() && start.kept.is_empty());
    }

    #[tokio::test]
    async fn dropping_a_subscription_unregisters_it() {
        let tail = tail(10);
        let (ana, _) = tail.subscribe("ana", None);
        let (ana2, _) = tail.subscribe("ana", None);
        drop(ana);
        assert_eq!(tail.inner.lock().subscribers["ana"].len(), 1);
        drop(ana2);
        assert!(tail.inner.lock().subscribers.is_empty());
    }

    #[tokio::test]
    async fn an_open_page_anchors_its_queue_progress() {
        let tail = tail(100);
        let (mut caio, _) = tail.subscribe("caio", None);
        let mut progress = caio.seat(&QueueStatus {
            event_id: "fila".into(),
            seq: 5,
            admitted_up_to: 2,
            ..QueueStatus::default()
        });
        tail.inner.publish_progress();
        assert_eq!(progress.borrow_and_update().admitted_up_to, 2);
        tail.inner.publish(event(0, "admitted", "x"));
        tail.inner.publish(event(1, "admitted", "caio"));
        tail.inner.publish(event(2, "admitted", "y"));
        tail.inner.publish_progress();
        assert!(progress.has_changed().unwrap());
        assert_eq!(progress.borrow_and_update().admitted_up_to, 6);
        assert_eq!(tail.progress("fila").unwrap().admitted_up_to, 6);
        // A gap in the tail drops the anchor, keeping the floor of reads.
        tail.inner.publish(event(9, "admitted", "z"));
        assert_eq!(tail.progress("fila").unwrap().admitted_up_to, 2);
    }
}
