//! `GET /api/v1/notifications`: one Server-Sent Events stream per buyer.
//!
//! Each SSE event carries the domain event's `seq` as its id. A browser
//! that reconnects sends `Last-Event-ID` and resumes after it, through any
//! gateway (the cluster numbers events the same on every node), so nothing
//! is lost or repeated. A fresh connection (no id, no `from`) replays the
//! buyer's history, marking `"replay": true` the events older than a few
//! seconds, so a page can show state without toasting the past.
//!
//! Besides domain events the stream carries two derived kinds, without ids
//! (they are recomputed on reconnect): `hold_expiring`, sent
//! `notifications.hold_warning` before a live hold lapses, and `queue`, the
//! buyer's place in a queue named by `?queue=<event_id>`, pushed when it changes.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use ingressoja_client::Refusal;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

use super::event_json::event_json;
use crate::clock;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::QueueView;
use crate::web::{id_field, Buyer};

/// Events older than this at connection time count as history (`replay`).
const REPLAY_AGE: Duration = Duration::from_secs(5);

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
    headers: HeaderMap,
    Query(params): Query<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let buyer = Buyer::from_headers(&headers, &state)?;
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
        (Some(seen), _) => seen
            .checked_add(1)
            .ok_or_else(|| ApiError::invalid("Last-Event-ID", "out of range"))?,
        (None, Some(from)) => from,
        (None, None) => 0,
    };
    let queue = match &params.queue {
        Some(event_id) => Some(id_field("queue", event_id)?.to_string()),
        None => None,
    };
    let (sender, receiver) = mpsc::channel(64);
    // A resumed stream delivers only events this page has not seen: none is history.
    let replay_before_ms = if last_event_id.is_some() || params.from.is_some() {
        0
    } else {
        clock::now_ms().saturating_sub(REPLAY_AGE.as_millis() as u64)
    };
    tokio::spawn(forward(
        state,
        buyer.customer_id,
        from,
        replay_before_ms,
        queue,
        sender,
    ));
    let stream = futures::StreamExt::map(ReceiverStream::new(receiver), Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Feeds one connection until the browser goes away.
async fn forward(
    state: AppState,
    customer_id: String,
    from: u64,
    replay_before_ms: u64,
    mut queue: Option<String>,
    sender: mpsc::Sender<Event>,
) {
    let _open = crate::metrics::SseConnection::open(state.metrics.clone());
    let mut watch = state.cluster.watch_events(from, Some(&customer_id));
    let mut queue_tick = tokio::time::interval(state.config.notifications.queue_poll());
    let mut last_queue: Option<serde_json::Value> = None;
    loop {
        tokio::select! {
            _ = sender.closed() => return,
            next = watch.next() => match next {
                Ok(event) => {
                    let replay = event.ts_ms < replay_before_ms;
                    if event.kind == "hold_created" && !replay {
                        tokio::spawn(warn_before_expiry(state.clone(), customer_id.clone(), event.hold_id, sender.clone()));
                    }
                    let sse = Event::default()
                        .id(event.seq.to_string())
                        .event(event.kind.clone())
                        .data(event_json(&event, replay).to_string());
                    if sender.send(sse).await.is_err() {
                        return;
                    }
                }
                Err(error) if error.refusal() == Some(Refusal::Status(Code::OutOfRange)) => {
                    // Older than the cluster keeps: resume from the oldest kept.
                    watch = state.cluster.watch_events(0, Some(&customer_id));
                }
                Err(error) => {
                    tracing::warn!(%error, customer = %customer_id, "notification stream interrupted; retrying");
                    let notice = Event::default().event("stream_error").data(json!({ "message": "reconnecting to the ticket system" }).to_string());
                    if sender.send(notice).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            _ = queue_tick.tick(), if queue.is_some() => {
                let event_id = queue.clone().unwrap_or_default();
                let Ok(status) = state.cluster.queue_status(&event_id, &customer_id).await else {
                    continue;
                };
                let view = QueueView::from(status);
                if view.admitted || view.admission_over {
                    queue = None;
                }
                let data = serde_json::to_value(&view).unwrap_or_default();
                if last_queue.as_ref() != Some(&data) {
                    let sse = Event::default().event("queue").data(data.to_string());
                    last_queue = Some(data);
                    if sender.send(sse).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Sends `hold_expiring` shortly before a live hold lapses.
async fn warn_before_expiry(
    state: AppState,
    customer_id: String,
    hold_id: u64,
    sender: mpsc::Sender<Event>,
) {
    let warning = state.config.notifications.hold_warning().as_millis() as u64;
    let Ok(reply) = state.cluster.get_hold(hold_id).await else {
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
        state.cluster.get_hold(hold_id).await,
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
