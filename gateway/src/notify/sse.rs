//! `GET /api/v1/notifications`: one Server-Sent Events stream per buyer.
//!
//! Each SSE event carries the domain event's `seq` as its id. A browser
//! that reconnects sends `Last-Event-ID` and resumes after it, through any
//! gateway (the cluster numbers events the same on every node), so nothing
//! is lost or repeated. A fresh connection (no id, no `from`) replays the
//! buyer's recent history (what the gateway's shared tail keeps), marking
//! `"replay": true` the events older than a few seconds, so a page can show
//! state without toasting the past.
//!
//! No connection has a cluster stream of its own: events come from the
//! gateway's one shared tail ([`super::tail`]). Only a resume from further
//! back than the tail keeps reads the cluster ([`super::catch_up`]), once.
//!
//! Besides domain events the stream carries derived kinds, without ids
//! (they are recomputed on reconnect): `hold_expiring`, sent
//! `notifications.hold_warning` before a live hold lapses; `queue`, the
//! buyer's place in a queue named by `?queue=<event_id>`, pushed when it
//! changes (read from the cluster once when the stream opens, at the
//! opening of the sale and at the buyer's own admission; in between it
//! follows the queue's shared progress); `resync`
//! (`{"reason", "from"}`) when events from `from` on may be missing (the
//! connection fell behind, or its history could not be read): the page
//! should re-read its state; `stream_error` when the cluster is unreachable.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use ingressoja_client::proto::ticketing::{DomainEvent, QueueStatus};
use ingressoja_client::Client;
use ingressoja_codes::RejectionCode;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

use super::catch_up;
use super::event_json::event_json;
use super::progress::QueueProgress;
use super::tail::{Start, Subscription};
use crate::clock;
use crate::error::ApiError;
use crate::metrics::{GatewayMetrics, SseConnection};
use crate::notify::stream_caps::StreamPermit;
use crate::state::AppState;
use crate::views::QueueView;
use crate::web::{id_field, Buyer, ClientIp};

/// Events older than this at connection time count as history (`replay`).
const REPLAY_AGE: Duration = Duration::from_secs(5);

/// Waiting pages re-read their place after the opening within this spread,
/// so a queue's opening is not one burst of reads.
const OPENING_SPREAD: Duration = Duration::from_secs(3);

/// Pause before retrying a failed queue read.
const READ_RETRY: Duration = Duration::from_secs(5);

/// Query parameters of the stream.
#[derive(Debug, Deserialize)]
pub struct StreamParams {
    /// Resume from this seq (an alternative to `Last-Event-ID` for pages
    /// that remember the last seq across navigations).
    from: Option<u64>,
    /// Also push this buyer's place in this event's queue.
    queue: Option<String>,
}

/// Opens the buyer's notification stream.
pub async fn stream(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(params): Query<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let buyer = Buyer::from_headers(&headers, &state)?;
    let permit = state.stream_caps.open(&buyer.customer_id, ip)?;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::invalid("Last-Event-ID", "must be a number"))
        })
        .transpose()?;
    let from = match (last_event_id, params.from) {
        (Some(seen), _) => Some(
            seen.checked_add(1)
                .ok_or_else(|| ApiError::invalid("Last-Event-ID", "out of range"))?,
        ),
        (None, from) => from,
    };
    let queue = match &params.queue {
        Some(event_id) => Some(id_field("queue", event_id)?.to_string()),
        None => None,
    };
    // A resumed stream delivers only events this page has not seen: none is history.
    let replay_before_ms = if from.is_some() {
        0
    } else {
        clock::now_ms().saturating_sub(REPLAY_AGE.as_millis() as u64)
    };
    let connection = Connection::open(
        state,
        buyer.customer_id,
        from,
        replay_before_ms,
        queue,
        permit,
    );
    let frames = futures::stream::unfold(connection, |mut connection| async move {
        let frame = connection.next_frame().await;
        Some((Ok(frame), connection))
    });
    Ok(Sse::new(frames).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One open stream: what it has to send and where it stands.
struct Connection {
    /// What a connection needs of the gateway's state (not all of it: a
    /// gateway holds tens of thousands of these).
    cluster: Client,
    metrics: Arc<GatewayMetrics>,
    hold_warning: Duration,
    subscription: Subscription,
    /// Frames ready to go out, in order.
    ready: VecDeque<Event>,
    /// Seqs the cluster must be asked for before `held` (rare).
    missing: Option<std::ops::Range<u64>>,
    /// Kept events to deliver once `missing` is read.
    held: Vec<Arc<DomainEvent>>,
    /// The smallest seq not delivered yet (older ones are dropped as repeats).
    next_seq: u64,
    replay_before_ms: u64,
    queue: Option<QueueTrack>,
    /// `hold_expiring` warnings from their timer tasks (opened on the first hold).
    warnings: Option<(mpsc::Sender<Event>, mpsc::Receiver<Event>)>,
    _open: SseConnection,
    /// Its place under the per-customer and per-address caps.
    _permit: StreamPermit,
}

/// The buyer's place in one queue, followed from the shared progress.
struct QueueTrack {
    event_id: String,
    /// The last read of the buyer's own status.
    read: Option<QueueStatus>,
    progress: Option<watch::Receiver<QueueProgress>>,
    /// When to read the buyer's status from the cluster next (`None`: no need).
    read_at: Option<Instant>,
    last_sent: Option<QueueView>,
}

impl Connection {
    fn open(
        state: AppState,
        customer_id: String,
        from: Option<u64>,
        replay_before_ms: u64,
        queue: Option<String>,
        permit: StreamPermit,
    ) -> Connection {
        let open = SseConnection::open(state.metrics.clone());
        let (subscription, start) = state.events.subscribe(&customer_id, from);
        let mut connection = Connection {
            cluster: state.cluster.clone(),
            metrics: state.metrics.clone(),
            hold_warning: state.config.notifications.hold_warning(),
            subscription,
            ready: VecDeque::new(),
            missing: None,
            held: Vec::new(),
            next_seq: from.unwrap_or(0),
            replay_before_ms,
            queue: queue.map(|event_id| QueueTrack {
                event_id,
                read: None,
                progress: None,
                read_at: Some(Instant::now()),
                last_sent: None,
            }),
            warnings: None,
            _open: open,
            _permit: permit,
        };
        connection.begin(start);
        connection
    }

    /// Takes in what the tail says must come before live events.
    fn begin(&mut self, start: Start) {
        self.missing = start.missing;
        if self.missing.is_some() {
            self.held = start.kept;
        } else {
            for event in start.kept {
                self.deliver(&event);
            }
        }
    }

    /// The next frame to send; waits until there is one.
    async fn next_frame(&mut self) -> Event {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                if self.ready.is_empty() {
                    // An idle connection keeps no buffer.
                    self.ready = VecDeque::new();
                }
                return frame;
            }
            if let Some(range) = self.missing.take() {
                // Boxed, like the queue read below: rare steps with large
                // futures must not grow every idle connection's state.
                Box::pin(self.read_history(range)).await;
                continue;
            }
            if self.subscription.lagged() {
                self.resync();
                continue;
            }
            let read_at = self.queue.as_ref().and_then(|q| q.read_at);
            let progress = self.queue.as_mut().and_then(|q| q.progress.as_mut());
            tokio::select! {
                event = self.subscription.recv() => {
                    // None: lagged; the loop's next turn resyncs.
                    if let Some(event) = event {
                        self.deliver(&event);
                    }
                }
                Some(warning) = recv_warning(&mut self.warnings) => self.ready.push_back(warning),
                changed = changed(progress) => {
                    if changed {
                        self.push_queue_view();
                    } else if let Some(queue) = self.queue.as_mut() {
                        queue.progress = None;
                    }
                }
                _ = sleep_until(read_at.unwrap_or_else(Instant::now)), if read_at.is_some() => {
                    Box::pin(self.read_queue()).await;
                }
            }
        }
    }

    /// Queues `event` for sending, unless it was sent before.
    fn deliver(&mut self, event: &DomainEvent) {
        if event.seq < self.next_seq {
            return;
        }
        self.next_seq = event.seq.saturating_add(1);
        let replay = event.ts_ms < self.replay_before_ms;
        if event.kind == "hold_created" && !replay {
            let (sender, _) = self.warnings.get_or_insert_with(|| mpsc::channel(4));
            tokio::spawn(warn_before_expiry(
                self.cluster.clone(),
                self.hold_warning,
                event.customer_id.clone(),
                event.hold_id,
                sender.clone(),
            ));
        }
        if event.kind == "admitted" {
            if let Some(queue) = self.queue.as_mut().filter(|q| q.event_id == event.event_id) {
                // The buyer's own turn: read the admission (its expiry) once.
                queue.read_at = Some(Instant::now());
            }
        }
        self.ready.push_back(
            Event::default()
                .id(event.seq.to_string())
                .event(event.kind.clone())
                .data(event_json(event, replay).to_string()),
        );
    }

    /// The buyer's events the tail no longer keeps, from the cluster.
    async fn read_history(&mut self, range: std::ops::Range<u64>) {
        let from = range.start;
        let result = catch_up::history(
            self.subscription.cluster(),
            self.subscription.catch_up_permits(),
            self.subscription.customer_id(),
            range,
        )
        .await;
        match result {
            Ok(events) => {
                for event in events {
                    self.deliver(&event);
                }
            }
            Err(error) => {
                tracing::info!(%error, "notification history unavailable; telling the page to resync");
                self.push_resync("history_unavailable", from);
            }
        }
        for event in std::mem::take(&mut self.held) {
            self.deliver(&event);
        }
    }

    /// The tail dropped events for this connection: start over from the
    /// last one delivered, and re-read the queue place once.
    fn resync(&mut self) {
        let from = self.next_seq;
        self.push_resync("lagged", from);
        let start = self.subscription.resync(from);
        self.begin(start);
        if let Some(queue) = self.queue.as_mut() {
            queue.read_at = Some(Instant::now());
        }
    }

    fn push_resync(&mut self, reason: &str, from: u64) {
        self.metrics.sse_resync(reason);
        self.ready.push_back(
            Event::default()
                .event("resync")
                .data(json!({ "kind": "resync", "reason": reason, "from": from }).to_string()),
        );
    }

    /// Reads the buyer's own queue status (rarely: see the module doc).
    async fn read_queue(&mut self) {
        let Some(queue) = self.queue.as_mut() else {
            return;
        };
        queue.read_at = None;
        let customer_id = self.subscription.customer_id().to_string();
        match self
            .cluster
            .queue_status(&queue.event_id, &customer_id)
            .await
        {
            Ok(status) => {
                let done = status.admitted || status.admission_over;
                if done {
                    self.subscription.leave_seat();
                    queue.progress = None;
                } else {
                    queue.progress = Some(self.subscription.seat(&status));
                }
                queue.read = Some(status);
                self.push_queue_view();
            }
            Err(error)
                if matches!(
                    error.rejection(),
                    Some(
                        RejectionCode::NotInQueue
                            | RejectionCode::UnknownEvent
                            | RejectionCode::QueueClosed
                    )
                ) =>
            {
                // Nothing to follow: the page shows why on its own.
                tracing::debug!(%error, queue = %queue.event_id, "not following a queue");
                self.queue = None;
            }
            Err(error) => {
                tracing::debug!(%error, queue = %queue.event_id, "queue read failed; retrying");
                // Spread, so pages do not retry in step after an outage.
                queue.read_at = Some(Instant::now() + READ_RETRY + spread(READ_RETRY));
            }
        }
    }

    /// Sends the buyer's place if it changed, and schedules the re-reads
    /// the shared progress calls for.
    fn push_queue_view(&mut self) {
        let Some(queue) = self.queue.as_mut() else {
            return;
        };
        let Some(read) = &queue.read else { return };
        let progress = queue
            .progress
            .as_mut()
            .map(|p| *p.borrow_and_update())
            .unwrap_or_default();
        let view = place(read, &progress);
        if queue.read_at.is_none() {
            let opened_since = read.in_pre_queue && progress.opened;
            let turn_reached =
                read.seq > 0 && !read.admitted && progress.admitted_up_to >= read.seq;
            if opened_since {
                queue.read_at = Some(Instant::now() + spread(OPENING_SPREAD));
            } else if turn_reached {
                queue.read_at = Some(Instant::now());
            }
        }
        if queue.last_sent.as_ref() != Some(&view) {
            let data = serde_json::to_string(&view).unwrap_or_default();
            queue.last_sent = Some(view);
            self.ready
                .push_back(Event::default().event("queue").data(data));
        }
    }
}

/// The buyer's place from their last read and the queue's shared progress.
pub fn place(read: &QueueStatus, progress: &QueueProgress) -> QueueView {
    let mut view = QueueView::from(read.clone());
    if read.admitted || read.admission_over || read.in_pre_queue || read.seq == 0 {
        return view;
    }
    let admitted_up_to = read.admitted_up_to.max(progress.admitted_up_to);
    let ahead = read.seq.saturating_sub(admitted_up_to.saturating_add(1));
    view.people_ahead = ahead;
    view.estimated_wait_ms = if progress.ms_per_admission > 0 {
        (ahead + 1).saturating_mul(progress.ms_per_admission)
    } else {
        // The cluster's own estimate, scaled to the people still ahead.
        read.estimated_wait_ms / (read.people_ahead + 1) * (ahead + 1)
    };
    view
}

/// A random delay below `spread`.
fn spread(spread: Duration) -> Duration {
    Duration::from_millis(rand::random::<u64>() % (spread.as_millis() as u64).max(1))
}

/// The next warning, or never if no hold was seen yet.
async fn recv_warning(
    warnings: &mut Option<(mpsc::Sender<Event>, mpsc::Receiver<Event>)>,
) -> Option<Event> {
    match warnings {
        Some((_, receiver)) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// Whether the shared progress changed (`false`: its sender is gone); never
/// resolves without a progress to follow.
async fn changed(progress: Option<&mut watch::Receiver<QueueProgress>>) -> bool {
    match progress {
        Some(progress) => progress.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// Sends `hold_expiring` shortly before a live hold lapses.
async fn warn_before_expiry(
    cluster: Client,
    warning: Duration,
    customer_id: String,
    hold_id: u64,
    sender: mpsc::Sender<Event>,
) {
    let warning = warning.as_millis() as u64;
    let Ok(reply) = cluster.get_hold(hold_id).await else {
        return;
    };
    let Some(hold) = reply.hold else { return };
    if hold.customer_id != customer_id {
        return;
    }
    let warn_at = hold.expires_at_ms.saturating_sub(warning);
    let wait = warn_at.saturating_sub(clock::now_ms());
    tokio::select! {
        _ = sender.closed() => return,
        _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
    }
    let still_live = matches!(
        cluster.get_hold(hold_id).await,
        Ok(reply) if reply.hold.as_ref().is_some_and(|h| h.status == "live")
    );
    if still_live {
        let data = json!({
            "kind": "hold_expiring",
            "hold_id": hold_id,
            "expires_at_ms": hold.expires_at_ms,
        });
        let _ = sender
            .send(
                Event::default()
                    .event("hold_expiring")
                    .data(data.to_string()),
            )
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(seq: u64, admitted_up_to: u64) -> QueueStatus {
        QueueStatus {
            event_id: "fila".into(),
            seq,
            admitted_up_to,
            people_ahead: seq - admitted_up_to - 1,
            estimated_wait_ms: (seq - admitted_up_to) * 100,
            ..QueueStatus::default()
        }
    }

    #[test]
    fn the_place_follows_the_shared_progress() {
        let read = waiting(50, 10);
        let progress = QueueProgress {
            admitted_up_to: 40,
            opened: true,
            ms_per_admission: 0,
        };
        let view = place(&read, &progress);
        assert_eq!((view.position, view.people_ahead), (50, 9));
        assert_eq!(view.estimated_wait_ms, 1_000, "the read's 100 ms each");
        let timed = QueueProgress {
            ms_per_admission: 20,
            ..progress
        };
        assert_eq!(place(&read, &timed).estimated_wait_ms, 200);
    }

    #[test]
    fn an_older_progress_never_moves_the_place_back() {
        let read = waiting(50, 30);
        let view = place(&read, &QueueProgress::default());
        assert_eq!(view.people_ahead, 19);
    }

    #[test]
    fn admitted_and_pre_queue_reads_stand_as_read() {
        let mut read = waiting(5, 1);
        read.admitted = true;
        let progress = QueueProgress {
            admitted_up_to: 100,
            ..QueueProgress::default()
        };
        assert!(place(&read, &progress).admitted);
        let pre = QueueStatus {
            in_pre_queue: true,
            people_ahead: 7,
            ..QueueStatus::default()
        };
        assert_eq!(place(&pre, &progress).people_ahead, 7);
    }
}
