//! Outbound webhooks for a CRM: every domain event of the configured kinds
//! is POSTed as JSON, signed with HMAC-SHA256, and retried with exponential
//! backoff until the receiver answers 2xx or the attempts run out.
//!
//! Delivery is at least once: each gateway with webhooks configured sends
//! every event, and a restarted gateway resends the last
//! [`RESEND_WINDOW`] of events. Receivers deduplicate on the
//! `X-IngressoJa-Event-Seq` header (the cluster-wide event number).
//!
//! Signature: `X-IngressoJa-Signature: sha256=<hex>` over
//! `<X-IngressoJa-Timestamp>.<body>`, the scheme Stripe and GitHub use, so a
//! receiver can also refuse stale replays.

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use ingressoja_client::proto::ticketing::DomainEvent;
use ingressoja_client::Refusal;
use ingressoja_cluster_config::WebhookConfig;
use sha2::Sha256;
use tonic::Code;

use super::event_json::event_json;
use crate::clock;
use crate::metrics::GatewayMetrics;
use crate::state::AppState;

/// How far back a starting gateway resends events.
pub const RESEND_WINDOW: Duration = Duration::from_secs(300);

/// The signature header value for `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before attempt `attempt` (1-based; the first retry is attempt 2).
pub fn backoff(config: &WebhookConfig, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(2).min(20);
    config
        .initial_backoff()
        .saturating_mul(1u32 << doublings)
        .min(config.max_backoff())
}

/// Starts one delivery task per configured webhook.
pub fn spawn_all(state: &AppState) {
    for (index, config) in state.config.webhooks.iter().enumerate() {
        tokio::spawn(deliver_forever(state.clone(), index, config.clone()));
    }
}

async fn deliver_forever(state: AppState, index: usize, config: WebhookConfig) {
    let http: HttpClient<_, Full<Bytes>> = HttpClient::builder(TokioExecutor::new()).build_http();
    let since_ms = clock::now_ms().saturating_sub(RESEND_WINDOW.as_millis() as u64);
    let mut watch = state.cluster.watch_events(0, None);
    // Only the host: webhook URLs often carry a token.
    tracing::info!(webhook = index, host = %config.authority(), "webhook delivery started");
    loop {
        let event = match watch.next().await {
            Ok(event) => event,
            Err(error) => {
                if error.refusal() == Some(Refusal::Status(Code::OutOfRange)) {
                    watch = state.cluster.watch_events(0, None);
                }
                tracing::warn!(webhook = index, %error, "webhook feed interrupted; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if event.ts_ms < since_ms || !config.wants(&event.kind) {
            continue;
        }
        deliver(&http, index, &config, &event, &state.metrics).await;
    }
}

/// Delivers one event, retrying; gives up (and logs) after `max_attempts`.
/// Returns whether the receiver accepted it.
pub async fn deliver<C>(
    http: &HttpClient<C, Full<Bytes>>,
    index: usize,
    config: &WebhookConfig,
    event: &DomainEvent,
    metrics: &GatewayMetrics,
) -> bool
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let body = Bytes::from(event_json(event, false).to_string());
    for attempt in 1..=config.max_attempts {
        if attempt > 1 {
            tokio::time::sleep(backoff(config, attempt)).await;
        }
        let timestamp = clock::now_secs();
        let request = Request::post(config.url.as_str())
            .header("content-type", "application/json")
            .header("user-agent", "IngressoJa-Webhook/1")
            .header("x-ingressoja-event-seq", event.seq)
            .header("x-ingressoja-event-kind", event.kind.as_str())
            .header("x-ingressoja-timestamp", timestamp)
            .header(
                "x-ingressoja-signature",
                signature(&config.secret, timestamp, &body),
            )
            .body(Full::new(body.clone()));
        let Ok(request) = request else {
            tracing::error!(webhook = index, "webhook request could not be built");
            return false;
        };
        match tokio::time::timeout(Duration::from_secs(10), http.request(request)).await {
            Ok(Ok(response)) if response.status().is_success() => {
                metrics.webhook_attempt("delivered");
                return true;
            }
            Ok(Ok(response)) => {
                metrics.webhook_attempt("refused");
                tracing::warn!(webhook = index, seq = event.seq, attempt, status = %response.status(), "webhook refused")
            }
            Ok(Err(error)) => {
                metrics.webhook_attempt("unreachable");
                tracing::warn!(webhook = index, seq = event.seq, attempt, %error, "webhook unreachable")
            }
            Err(_) => {
                metrics.webhook_attempt("timeout");
                tracing::warn!(
                    webhook = index,
                    seq = event.seq,
                    attempt,
                    "webhook timed out"
                );
            }
        }
    }
    metrics.webhook_attempt("abandoned");
    tracing::error!(webhook = index, seq = event.seq, kind = %event.kind, "webhook delivery abandoned after {} attempts", config.max_attempts);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_and_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_0123456789abcdef'
        let expected = "sha256=9f5e37cdc7ea587c7c02062d93283cad000d66a831b2a1676418696db47ed6c2";
        assert_eq!(
            signature("whsec_0123456789abcdef", 1_700_000_000, br#"{"a":1}"#),
            expected
        );
        assert_ne!(
            signature("whsec_0123456789abcdef", 1_700_000_001, br#"{"a":1}"#),
            expected
        );
    }
}
