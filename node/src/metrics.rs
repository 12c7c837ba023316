//! The node's Prometheus metrics, served over HTTP at `[listen] metrics`
//! (`GET /metrics`, OpenMetrics text).
//!
//! Raft and sale gauges are read at scrape time from openraft's metrics and
//! the applied state, so they cost nothing between scrapes; counters and the
//! commit histogram are updated where things happen.
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `ingressoja_raft_term` | gauge | |
//! | `ingressoja_raft_is_leader` | gauge (0/1) | |
//! | `ingressoja_raft_leader_changes_total` | counter | |
//! | `ingressoja_raft_last_log_index` | gauge | |
//! | `ingressoja_raft_applied_index` | gauge | |
//! | `ingressoja_raft_apply_lag` | gauge (entries) | |
//! | `ingressoja_raft_snapshot_index` | gauge | |
//! | `ingressoja_raft_replication_lag` | gauge (entries, on the leader) | `follower` |
//! | `ingressoja_raft_commit_duration_seconds` | histogram (one group commit) | |
//! | `ingressoja_sale_tickets` | gauge | `event`, `category`, `state` = sold/held/available |
//! | `ingressoja_queue_joined` | gauge | `event` |
//! | `ingressoja_queue_admitted` | gauge | `event` |
//! | `ingressoja_payments_total` | counter | `outcome` = approved/declined/failed/timeout |
//! | `ingressoja_rejections_total` | counter (applied on this node) | `reason` = a [`RejectionCode`] (sold_out, limit_exceeded, hold_expired, ...) |
//! | `ingressoja_holds_expired_total` | counter (applied on this node) | |
//! | `ingressoja_raft_snapshots_total` | counter (built by this node) | |
//! | `ingressoja_raft_snapshot_duration_seconds` | histogram (one snapshot build) | |
//! | `ingressoja_raft_snapshot_bytes` | gauge (size of the last snapshot this node built) | |

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use ingressoja_codes::RejectionCode;
use openraft::ServerState;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::cluster_clock::ClusterClock;
use crate::machine::{DomainEvent, DomainEventKind};
use crate::raft_types::Raft;
use crate::storage::{ApplyObserver, SharedMachine};

/// Label pairs of one series.
pub type Labels = Vec<(String, String)>;

/// Every metric a node exports, registered once.
pub struct NodeMetrics {
    registry: Registry,
    term: Gauge,
    is_leader: Gauge,
    /// Times this node saw the leader change.
    pub leader_changes: Counter,
    last_log: Gauge,
    applied: Gauge,
    apply_lag: Gauge,
    snapshot: Gauge,
    replication_lag: Family<Labels, Gauge>,
    /// Latency of one group commit (proposal to applied on the leader).
    pub commit_seconds: Histogram,
    /// Calls per `Submit` request (how much gateways batch).
    pub submit_calls: Histogram,
    tickets: Family<Labels, Gauge>,
    queue_joined: Family<Labels, Gauge>,
    queue_admitted: Family<Labels, Gauge>,
    /// Payment attempts by outcome.
    pub payments: Family<Labels, Counter>,
    rejections: Family<Labels, Counter>,
    holds_expired: Counter,
    snapshots: Counter,
    snapshot_seconds: Histogram,
    snapshot_bytes: Gauge,
    /// How far the cluster's time is from this node's clock (see
    /// [`crate::cluster_clock`]), read at scrape time.
    clock_offset_ms: Gauge,
    /// Each peer's clock minus this node's, as its last replies said.
    peer_clock_offset_ms: Family<Labels, Gauge>,
    clock: std::sync::OnceLock<Arc<ClusterClock>>,
}

impl std::fmt::Debug for NodeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeMetrics")
    }
}

impl Default for NodeMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let metrics = NodeMetrics {
            term: Gauge::default(),
            is_leader: Gauge::default(),
            leader_changes: Counter::default(),
            last_log: Gauge::default(),
            applied: Gauge::default(),
            apply_lag: Gauge::default(),
            snapshot: Gauge::default(),
            replication_lag: Family::default(),
            // 0.5 ms to about 8 s.
            commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 15)),
            // 1 to 1024 calls.
            submit_calls: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            tickets: Family::default(),
            queue_joined: Family::default(),
            queue_admitted: Family::default(),
            payments: Family::default(),
            rejections: Family::default(),
            holds_expired: Counter::default(),
            snapshots: Counter::default(),
            // 1 ms to about 16 s.
            snapshot_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            snapshot_bytes: Gauge::default(),
            clock_offset_ms: Gauge::default(),
            peer_clock_offset_ms: Family::default(),
            clock: std::sync::OnceLock::new(),
            registry: Registry::default(),
        };
        registry.register(
            "ingressoja_clock_offset_milliseconds",
            "The median of the peers' clocks minus this node's (the correction this node applies to the entries it stamps as leader; large means this node's clock is wrong, or its peers')",
            metrics.clock_offset_ms.clone(),
        );
        registry.register(
            "ingressoja_clock_peer_offset_milliseconds",
            "A peer's clock minus this node's, from its replies in the last 5 s (reported where Raft calls go out: on the leader, every follower)",
            metrics.peer_clock_offset_ms.clone(),
        );
        registry.register(
            "ingressoja_raft_term",
            "Current Raft term",
            metrics.term.clone(),
        );
        registry.register(
            "ingressoja_raft_is_leader",
            "1 on the leader, 0 elsewhere",
            metrics.is_leader.clone(),
        );
        registry.register(
            "ingressoja_raft_leader_changes",
            "Leader changes seen by this node",
            metrics.leader_changes.clone(),
        );
        registry.register(
            "ingressoja_raft_last_log_index",
            "Index of the last log entry",
            metrics.last_log.clone(),
        );
        registry.register(
            "ingressoja_raft_applied_index",
            "Index of the last applied entry",
            metrics.applied.clone(),
        );
        registry.register(
            "ingressoja_raft_apply_lag",
            "Log entries not applied yet",
            metrics.apply_lag.clone(),
        );
        registry.register(
            "ingressoja_raft_snapshot_index",
            "Last index in the latest snapshot",
            metrics.snapshot.clone(),
        );
        registry.register(
            "ingressoja_raft_replication_lag",
            "Entries a follower is behind the leader (on the leader)",
            metrics.replication_lag.clone(),
        );
        registry.register(
            "ingressoja_raft_commit_duration_seconds",
            "Time to commit and apply one group commit",
            metrics.commit_seconds.clone(),
        );
        registry.register(
            "ingressoja_submit_calls",
            "Calls per Submit request (buyers' calls a gateway batched together)",
            metrics.submit_calls.clone(),
        );
        registry.register(
            "ingressoja_sale_tickets",
            "Tickets by event, category and state (sold, held, available)",
            metrics.tickets.clone(),
        );
        registry.register(
            "ingressoja_queue_joined",
            "Customers who joined an event's queue",
            metrics.queue_joined.clone(),
        );
        registry.register(
            "ingressoja_queue_admitted",
            "Queue places admitted so far",
            metrics.queue_admitted.clone(),
        );
        registry.register(
            "ingressoja_payments",
            "Payment attempts by outcome",
            metrics.payments.clone(),
        );
        registry.register(
            "ingressoja_rejections",
            "Requests refused by the sale rules, by reason (applied entries on this node)",
            metrics.rejections.clone(),
        );
        registry.register(
            "ingressoja_holds_expired",
            "Holds that expired unbought (applied entries on this node)",
            metrics.holds_expired.clone(),
        );
        registry.register(
            "ingressoja_raft_snapshots",
            "Snapshots built by this node",
            metrics.snapshots.clone(),
        );
        registry.register(
            "ingressoja_raft_snapshot_duration_seconds",
            "Time to build and store one snapshot",
            metrics.snapshot_seconds.clone(),
        );
        registry.register(
            "ingressoja_raft_snapshot_bytes",
            "Size of the last snapshot this node built",
            metrics.snapshot_bytes.clone(),
        );
        // Every series exists from the start, at zero, so rates work at once.
        for &reason in RejectionCode::ALL {
            drop(metrics.rejections.get_or_create(&rejection_labels(reason)));
        }
        for outcome in ["approved", "declined", "failed", "timeout"] {
            drop(
                metrics
                    .payments
                    .get_or_create(&labels(&[("outcome", outcome)])),
            );
        }
        NodeMetrics {
            registry,
            ..metrics
        }
    }
}

fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The series of one rejection reason: the label value is the code's wire string.
fn rejection_labels(reason: RejectionCode) -> Labels {
    labels(&[("reason", reason.as_str())])
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl NodeMetrics {
    /// Counts one payment attempt.
    pub fn payment(&self, outcome: &str) {
        self.payments
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
    }

    /// Reports `clock`'s offset at every scrape.
    pub fn watch_clock(&self, clock: Arc<ClusterClock>) {
        let _ = self.clock.set(clock);
    }

    /// Reads Raft's and the machine's current values, then renders everything.
    pub fn render(&self, raft: &Raft, state: &SharedMachine) -> String {
        if let Some(clock) = self.clock.get() {
            self.clock_offset_ms.set(clock.offset_ms());
            self.peer_clock_offset_ms.clear();
            for (peer, offset) in clock.peer_offsets() {
                self.peer_clock_offset_ms
                    .get_or_create(&labels(&[("peer", &peer.to_string())]))
                    .set(offset);
            }
        }
        let m = raft.metrics().borrow().clone();
        self.term.set(gauge_value(m.current_term));
        self.is_leader
            .set(i64::from(m.state == ServerState::Leader));
        let last_log = m.last_log_index.unwrap_or(0);
        let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
        self.last_log.set(gauge_value(last_log));
        self.applied.set(gauge_value(applied));
        self.apply_lag
            .set(gauge_value(last_log.saturating_sub(applied)));
        self.snapshot
            .set(gauge_value(m.snapshot.map(|l| l.index).unwrap_or(0)));
        self.replication_lag.clear();
        if let Some(replication) = &m.replication {
            for (follower, matched) in replication {
                if *follower != m.id {
                    let matched = matched.map(|l| l.index).unwrap_or(0);
                    self.replication_lag
                        .get_or_create(&labels(&[("follower", &follower.to_string())]))
                        .set(gauge_value(last_log.saturating_sub(matched)));
                }
            }
        }
        {
            let applied_state = state.read().unwrap_or_else(|p| p.into_inner());
            self.tickets.clear();
            self.queue_joined.clear();
            self.queue_admitted.clear();
            for event in applied_state.machine.sale_events() {
                for category in event.categories.values() {
                    for (state_name, value) in [
                        ("sold", category.sold),
                        ("held", category.held),
                        ("available", category.available()),
                    ] {
                        self.tickets
                            .get_or_create(&labels(&[
                                ("event", &event.event_id),
                                ("category", &category.spec.category_id),
                                ("state", state_name),
                            ]))
                            .set(i64::from(value));
                    }
                }
                if let Some(queue) = &event.queue {
                    let event_label = labels(&[("event", &event.event_id)]);
                    self.queue_joined
                        .get_or_create(&event_label)
                        .set(gauge_value(
                            (queue.line.len() + queue.pre_queue.len()) as u64,
                        ));
                    self.queue_admitted
                        .get_or_create(&event_label)
                        .set(gauge_value(queue.admitted_up_to));
                }
            }
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl ApplyObserver for NodeMetrics {
    fn event_applied(&self, event: &DomainEvent) {
        match event.kind {
            Some(DomainEventKind::HoldExpired) => {
                self.holds_expired.inc();
            }
            Some(DomainEventKind::Rejected) => match RejectionCode::parse(&event.reason) {
                Ok(reason) => {
                    self.rejections
                        .get_or_create(&rejection_labels(reason))
                        .inc();
                }
                // The machine only emits its own codes; a stranger is a bug, not a series.
                Err(unknown) => tracing::warn!(%unknown, "rejected event with an unknown reason"),
            },
            _ => {}
        }
    }

    fn snapshot_built(&self, seconds: f64, bytes: usize) {
        self.snapshots.inc();
        self.snapshot_seconds.observe(seconds);
        self.snapshot_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}

#[derive(Clone)]
struct Scrape {
    metrics: Arc<NodeMetrics>,
    raft: Raft,
    state: SharedMachine,
}

async fn scrape(State(scrape): State<Scrape>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        scrape.metrics.render(&scrape.raft, &scrape.state),
    )
}

/// Counts leader changes until `stop` turns true.
pub fn spawn_leader_watch(
    raft: Raft,
    metrics: Arc<NodeMetrics>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut changes = raft.metrics();
        let mut leader = changes.borrow().current_leader;
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = changes.borrow().current_leader;
                    if now != leader {
                        leader = now;
                        metrics.leader_changes.inc();
                    }
                }
            }
        }
    })
}

/// Serves `GET /metrics` on `listener` until `stop` turns true.
pub fn spawn_server(
    listener: tokio::net::TcpListener,
    metrics: Arc<NodeMetrics>,
    raft: Raft,
    state: SharedMachine,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let app = axum::Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            metrics,
            raft,
            state,
        });
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.changed().await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "metrics server failed");
        }
    })
}

/// Binds the metrics address (so a taken port fails the start, not later).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(reason: &str) -> DomainEvent {
        DomainEvent {
            kind: Some(DomainEventKind::Rejected),
            reason: reason.to_string(),
            ..DomainEvent::default()
        }
    }

    #[test]
    fn every_rejection_code_has_a_series_from_the_start() {
        let metrics = NodeMetrics::default();
        let mut text = String::new();
        encode(&mut text, &metrics.registry).unwrap();
        for code in RejectionCode::ALL {
            let series = format!("ingressoja_rejections_total{{reason=\"{code}\"}} 0");
            assert!(text.contains(&series), "missing {series}");
        }
    }

    #[test]
    fn rejected_events_count_under_their_code() {
        let metrics = NodeMetrics::default();
        metrics.event_applied(&rejected("sold_out"));
        metrics.event_applied(&rejected("sold_out"));
        metrics.event_applied(&rejected("live_hold_exists"));
        let count = |code| {
            metrics
                .rejections
                .get_or_create(&rejection_labels(code))
                .get()
        };
        assert_eq!(count(RejectionCode::SoldOut), 2);
        assert_eq!(count(RejectionCode::LiveHoldExists), 1);
        assert_eq!(count(RejectionCode::HoldExpired), 0);
    }

    #[test]
    fn an_unknown_reason_makes_no_series() {
        let metrics = NodeMetrics::default();
        metrics.event_applied(&rejected("not_a_code"));
        let mut text = String::new();
        encode(&mut text, &metrics.registry).unwrap();
        assert!(!text.contains("not_a_code"));
    }
}
