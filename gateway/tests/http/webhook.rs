//! Webhooks: each domain event is POSTed signed, and a refusing receiver
//! gets the same event again after a backoff until it accepts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use ingressoja_gateway::notify::webhook::signature;
use serde_json::json;

use crate::harness::{cpf, Buyer, Shop, ShopOptions};

const SECRET: &str = "whsec_test_0123456789";

/// What the fake CRM received: (seq, kind, timestamp, signature, body, answered status).
type Received = Arc<Mutex<Vec<(u64, String, u64, String, String, u16)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_are_signed_and_retried_until_accepted() {
    // A CRM that refuses the first two deliveries of every event.
    let received: Received = Arc::default();
    let log = received.clone();
    let crm = Router::new().route(
        "/hooks",
        post(move |headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                let seq: u64 = header("x-ingressoja-event-seq").parse().unwrap_or(u64::MAX);
                let mut log = log.lock().unwrap();
                let tries = log.iter().filter(|r| r.0 == seq).count();
                let status = if tries < 2 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::NO_CONTENT
                };
                log.push((
                    seq,
                    header("x-ingressoja-event-kind"),
                    header("x-ingressoja-timestamp").parse().unwrap_or(0),
                    header("x-ingressoja-signature"),
                    body,
                    status.as_u16(),
                ));
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let crm_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, crm).await });

    let shop = Shop::start(ShopOptions {
        gateways: 1,
        extra_toml: format!(
            "[[webhooks]]\nurl = \"http://{crm_addr}/hooks\"\nsecret = \"{SECRET}\"\nkinds = [\"purchase_confirmed\"]\ninitial_backoff_ms = 50\nmax_backoff_ms = 200\n"
        ),
    })
    .await;
    let mut ivo = Buyer::new(shop.url());
    assert_eq!(ivo.register("ivo", &cpf(901)).await.status, 201);
    let hold = ivo
        .post(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "pista", "quantity": 1}),
        )
        .await;
    let hold_id = hold.body["hold_id"].as_u64().unwrap();
    let bought = ivo
        .post(
            &format!("/api/v1/holds/{hold_id}/purchase"),
            json!({"payment_token": "approve"}),
        )
        .await;
    assert_eq!(bought.status, 200);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if received.lock().unwrap().iter().any(|r| r.5 == 204) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery accepted: {:?}",
            received.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = received.lock().unwrap().clone();
    // Only the configured kind, three attempts of the same event, the last accepted.
    assert!(log.iter().all(|r| r.1 == "purchase_confirmed"), "{log:?}");
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log.iter().all(|r| r.0 == log[0].0 && r.4 == log[0].4));
    assert_eq!(log.iter().map(|r| r.5).collect::<Vec<_>>(), [503, 503, 204]);
    for (_, _, timestamp, sig, body, _) in &log {
        assert_eq!(
            sig,
            &signature(SECRET, *timestamp, body.as_bytes()),
            "signature checks out"
        );
        assert_ne!(
            sig,
            &signature("another secret!!", *timestamp, body.as_bytes())
        );
    }
    let event: serde_json::Value = serde_json::from_str(&log[0].4).unwrap();
    assert_eq!(
        (event["customer_id"].as_str(), event["hold_id"].as_u64()),
        (Some("ivo"), Some(hold_id))
    );
    shop.shutdown().await;
}
