//! The waiting room at scale: every SSE connection of a gateway is fed by
//! one shared cluster stream, and a waiting page's place follows the
//! queue's shared progress.

use std::time::Duration;

use ingressoja_client::proto::ticketing::{CategorySpec, DomainEvent, SalePolicy};
use ingressoja_cluster_config::GatewayConfig;
use ingressoja_gateway::auth::session::{Purpose, TokenSigner};
use ingressoja_gateway::AppState;
use ingressoja_test_support::fake_node::{self, Fake};
use serde_json::Value;

use crate::harness::{cpf, gateway_toml, Buyer, Shop, ShopOptions, KEY_HEX};
use crate::sale::read_sse;

/// Pages in the shared-stream test.
const PAGES: usize = 200;

fn session(customer_id: &str) -> String {
    let signer = TokenSigner::new(hex::decode(KEY_HEX).unwrap());
    let in_an_hour = ingressoja_gateway::clock::now_secs() + 3_600;
    signer.issue(Purpose::Session, customer_id, in_an_hour)
}

async fn metric(http: &reqwest::Client, base: &str, name: &str) -> Option<f64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_page_is_fed_by_one_shared_cluster_stream() {
    let fake = Fake::leader(1);
    let node = fake_node::serve(fake.clone(), None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = "[rate_limits]\napi_per_ip = { per_minute = 60000, burst = 10000 }\n";
    let config = GatewayConfig::from_toml_str(&gateway_toml(
        addr,
        std::slice::from_ref(&node.addr),
        limits,
        None,
    ))
    .unwrap();
    let state = AppState::new(config).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway = tokio::spawn(ingressoja_gateway::serve(state, listener, async {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}");

    let http = reqwest::Client::new();
    let mut pages = Vec::new();
    for i in 0..PAGES {
        let customer = format!("fan{i}");
        let response = http
            .get(format!("{base}/api/v1/notifications"))
            .bearer_auth(session(&customer))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        pages.push((customer, response.bytes_stream()));
    }
    let mut open = None;
    for _ in 0..100 {
        open = metric(&http, &base, "ingressoja_sse_connections").await;
        if open == Some(PAGES as f64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open, Some(PAGES as f64), "every stream is counted");

    // The cluster admits every fan (and does other things in between).
    for i in 0..PAGES as u64 {
        for (kind, customer) in [
            ("admitted", format!("fan{i}")),
            ("hold_created", "other".into()),
        ] {
            let seq = fake.events.lock().unwrap().len() as u64;
            fake.push_event(DomainEvent {
                seq,
                log_index: 10 + seq,
                ts_ms: ingressoja_gateway::clock::now_ms(),
                kind: kind.into(),
                event_id: "fila".into(),
                customer_id: customer,
                ..DomainEvent::default()
            });
        }
    }
    let readers = pages.into_iter().map(|(customer, mut stream)| {
        tokio::spawn(async move {
            let mut buffer = String::new();
            let events = read_sse(&mut stream, &mut buffer, Duration::from_secs(20), |seen| {
                seen.iter().any(|(_, kind, _)| kind == "admitted")
            })
            .await;
            (customer, events)
        })
    });
    for reader in readers {
        let (customer, events) = reader.await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|(_, kind, _)| kind.as_str()).collect();
        assert_eq!(kinds, ["admitted"], "{customer}: only their own event");
        assert_eq!(events[0].2["customer_id"], Value::from(customer.as_str()));
    }

    let watches = fake.watches();
    assert_eq!(
        watches.len(),
        1,
        "one cluster stream for {PAGES} pages: {watches:?}"
    );
    assert_eq!(
        watches[0].customer_id, "",
        "the shared stream is unfiltered"
    );

    let _ = stop.send(());
    let _ = gateway.await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiting_page_moves_up_the_line_then_is_admitted() {
    let shop = Shop::start(ShopOptions::default()).await;
    let admin = shop.cluster.client(None);
    // One shopper at a time, each admission lapsing after 1.5 s unused.
    admin
        .create_event_with_policy(
            "lenta",
            "Fila Lenta",
            vec![CategorySpec {
                category_id: "pista".into(),
                name: "PISTA".into(),
                capacity: 10,
                price_cents: 10_000,
                per_customer_limit: 4,
            }],
            SalePolicy {
                per_customer_event_limit: 4,
                queue_enabled: true,
                admit_per_minute: 6_000,
                max_active_shoppers: 1,
                admission_ttl_ms: 1_500,
                ..SalePolicy::default()
            },
        )
        .await
        .expect("create lenta");

    let http = reqwest::Client::new();
    let mut pages = Vec::new();
    for (i, name) in ["ana", "bia", "caio", "davi"].into_iter().enumerate() {
        let mut fan = Buyer::new(shop.url());
        assert_eq!(fan.register(name, &cpf(900 + i as u64)).await.status, 201);
        let place = admin.join_queue("lenta", name).await.expect("join");
        assert_eq!(place.seq, i as u64 + 1);
        let response = http
            .get(format!("{}/api/v1/notifications?queue=lenta", shop.url()))
            .bearer_auth(fan.token.as_ref().unwrap())
            .send()
            .await
            .unwrap();
        pages.push(response.bytes_stream());
    }
    // Every page stays open (their owners' admissions anchor the progress);
    // the last one is watched.
    let mut davi = pages.pop().unwrap();
    let mut buffer = String::new();
    let events = read_sse(&mut davi, &mut buffer, Duration::from_secs(30), |seen| {
        seen.iter()
            .any(|(_, kind, data)| kind == "queue" && data["admitted"] == true)
    })
    .await;
    let places: Vec<(u64, bool)> = events
        .iter()
        .filter(|(_, kind, _)| kind == "queue")
        .map(|(_, _, data)| {
            (
                data["people_ahead"].as_u64().unwrap(),
                data["admitted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(places.last().map(|p| p.1), Some(true), "{events:?}");
    assert_eq!(events_position(&events), 4);
    let ahead: Vec<u64> = places.iter().filter(|p| !p.1).map(|p| p.0).collect();
    assert!(
        ahead.windows(2).all(|w| w[0] > w[1]),
        "the place only moves up: {ahead:?}"
    );
    assert!(
        ahead.len() >= 2,
        "the page moved up while waiting, without reloading: {ahead:?}"
    );
    assert!(
        events
            .iter()
            .any(|(_, kind, data)| kind == "admitted" && data["event_id"] == "lenta"),
        "{events:?}"
    );
    drop(pages);
    shop.shutdown().await;
}

/// The `position` of the first `queue` frame.
fn events_position(events: &[(String, String, Value)]) -> u64 {
    events
        .iter()
        .find(|(_, kind, _)| kind == "queue")
        .and_then(|(_, _, data)| data["position"].as_u64())
        .unwrap_or(0)
}
