//! The gateway's Prometheus metrics, served at `/metrics` (OpenMetrics text).
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `ingressoja_http_requests_total` | counter | `route`, `method`, `status` |
//! | `ingressoja_http_request_duration_seconds` | histogram | `route` |
//! | `ingressoja_rate_limited_total` | counter | `limit` |
//! | `ingressoja_shed_requests_total` | counter | |
//! | `ingressoja_sse_connections` | gauge | |
//! | `ingressoja_sse_resyncs_total` | counter | `reason` |
//! | `ingressoja_event_tail_interruptions_total` | counter | |
//! | `ingressoja_webhook_attempts_total` | counter | `outcome` |

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The `reason` labels of `ingressoja_sse_resyncs_total`, present from the start.
pub const RESYNC_REASONS: [&str; 2] = ["lagged", "history_unavailable"];

/// Label pairs of one series.
pub type Labels = Vec<(String, String)>;

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Every metric the gateway exports, registered once.
pub struct GatewayMetrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub requests: Family<Labels, Counter>,
    /// Request latency by route.
    pub latency: Family<Labels, Histogram, fn() -> Histogram>,
    /// Requests refused by a rate limit, by limit.
    pub rate_limited: Family<Labels, Counter>,
    /// Requests shed at the concurrency limit.
    pub shed: Counter,
    /// Open Server-Sent Events streams.
    pub sse_connections: Gauge,
    /// Streams told to resync (`lagged`: fell behind the shared tail;
    /// `history_unavailable`: events it asked for could not be read).
    pub sse_resyncs: Family<Labels, Counter>,
    /// Times the gateway's one shared event tail lost its cluster stream.
    pub tail_interruptions: Counter,
    /// Webhook delivery attempts by outcome.
    pub webhook_attempts: Family<Labels, Counter>,
}

impl std::fmt::Debug for GatewayMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatewayMetrics")
    }
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        let latency = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let rate_limited = Family::<Labels, Counter>::default();
        let shed = Counter::default();
        let sse_connections = Gauge::default();
        let sse_resyncs = Family::<Labels, Counter>::default();
        let tail_interruptions = Counter::default();
        let webhook_attempts = Family::<Labels, Counter>::default();
        registry.register(
            "ingressoja_http_requests",
            "HTTP requests served, by route, method and status",
            requests.clone(),
        );
        registry.register(
            "ingressoja_http_request_duration_seconds",
            "HTTP request latency, by route",
            latency.clone(),
        );
        registry.register(
            "ingressoja_rate_limited",
            "Requests refused with 429 by a rate limit",
            rate_limited.clone(),
        );
        registry.register(
            "ingressoja_shed_requests",
            "Requests refused with 503 at the concurrency limit",
            shed.clone(),
        );
        registry.register(
            "ingressoja_sse_connections",
            "Open notification streams",
            sse_connections.clone(),
        );
        registry.register(
            "ingressoja_sse_resyncs",
            "Notification streams told to resync, by reason",
            sse_resyncs.clone(),
        );
        registry.register(
            "ingressoja_event_tail_interruptions",
            "Times the shared event tail lost its cluster stream",
            tail_interruptions.clone(),
        );
        registry.register(
            "ingressoja_webhook_attempts",
            "Webhook delivery attempts, by outcome",
            webhook_attempts.clone(),
        );
        // Every series exists from the start, at zero, so rates work at once.
        for outcome in [
            "delivered",
            "refused",
            "unreachable",
            "timeout",
            "abandoned",
        ] {
            drop(webhook_attempts.get_or_create(&vec![("outcome".into(), outcome.into())]));
        }
        for reason in RESYNC_REASONS {
            drop(sse_resyncs.get_or_create(&vec![("reason".into(), reason.into())]));
        }
        GatewayMetrics {
            registry,
            requests,
            latency,
            rate_limited,
            shed,
            sse_connections,
            sse_resyncs,
            tail_interruptions,
            webhook_attempts,
        }
    }
}

impl GatewayMetrics {
    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Counts one stream told to resync, for `reason` (one of [`RESYNC_REASONS`]).
    pub fn sse_resync(&self, reason: &str) {
        self.sse_resyncs
            .get_or_create(&vec![("reason".into(), reason.into())])
            .inc();
    }

    /// Counts one webhook attempt.
    pub fn webhook_attempt(&self, outcome: &str) {
        self.webhook_attempts
            .get_or_create(&vec![("outcome".into(), outcome.into())])
            .inc();
    }
}

/// Decrements the SSE gauge when a stream ends, however it ends.
pub struct SseConnection(Arc<GatewayMetrics>);

impl SseConnection {
    /// Counts a new open stream.
    pub fn open(metrics: Arc<GatewayMetrics>) -> SseConnection {
        metrics.sse_connections.inc();
        SseConnection(metrics)
    }
}

impl Drop for SseConnection {
    fn drop(&mut self) {
        self.0.sse_connections.dec();
    }
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<crate::state::AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Middleware: counts and times every request by its route pattern (not
/// the raw path, so ids do not explode the series count).
pub async fn observe(
    State(metrics): State<Arc<GatewayMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = method_label(request.method()).to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics
        .latency
        .get_or_create(&vec![("route".into(), route.clone())])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&vec![
            ("route".into(), route),
            ("method".into(), method),
            ("status".into(), response.status().as_u16().to_string()),
        ])
        .inc();
    response
}

/// The `method` label: the standard methods by name, anything else as
/// `other`. HTTP lets a client invent methods (`FOO1`, `FOO2`, ...): each
/// would be a new series kept for ever, a memory leak on demand.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::POST), "POST");
        for invented in ["FOO1", "FOO2", "BREW", "PROPFIND"] {
            let method = Method::from_bytes(invented.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{invented}");
        }
    }

    #[test]
    fn every_metric_is_rendered_with_its_prometheus_name() {
        let metrics = GatewayMetrics::default();
        metrics.shed.inc();
        let route = vec![("route".to_string(), "/".to_string())];
        metrics.requests.get_or_create(&route).inc();
        metrics.latency.get_or_create(&route).observe(0.01);
        metrics.rate_limited.get_or_create(&route).inc();
        metrics.webhook_attempt("delivered");
        metrics.sse_resync("lagged");
        metrics.tail_interruptions.inc();
        let _connection = SseConnection::open(Arc::new(GatewayMetrics::default()));
        let text = metrics.render();
        for name in [
            "ingressoja_http_requests_total",
            "ingressoja_http_request_duration_seconds",
            "ingressoja_rate_limited_total",
            "ingressoja_shed_requests_total 1",
            "ingressoja_sse_connections",
            "ingressoja_sse_resyncs_total{reason=\"lagged\"} 1",
            "ingressoja_event_tail_interruptions_total 1",
            "ingressoja_webhook_attempts_total{outcome=\"delivered\"} 1",
        ] {
            assert!(
                text.contains(name.split(' ').next().unwrap()),
                "{name} missing:\n{text}"
            );
        }
        assert!(text.contains("ingressoja_shed_requests_total 1"), "{text}");
    }
}
