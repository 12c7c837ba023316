//! Holding, paying, the queue with its proof of work, tickets and the SSE stream.

use std::time::Duration;

use futures::StreamExt;
use ingressoja_gateway::pow;
use serde_json::{json, Value};

use crate::harness::{cpf, Buyer, Shop, ShopOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hold_decline_pay_and_list_tickets() {
    let shop = Shop::start(ShopOptions::default()).await;
    let mut ana = Buyer::new(shop.url());
    assert_eq!(ana.register("ana", &cpf(301)).await.status, 201);
    let mut bob = Buyer::new(shop.url());
    assert_eq!(bob.register("bob", &cpf(302)).await.status, 201);

    let events = ana.get("/api/v1/events").await;
    let ids: Vec<&str> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["fila", "show"]);
    let show = ana.get("/api/v1/events/show").await;
    assert_eq!(show.body["categories"][0]["available"], 10);
    assert_eq!(ana.get("/api/v1/events/nope").await.code(), "unknown_event");

    // Bad holds.
    let zero = ana
        .post(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "pista", "quantity": 0}),
        )
        .await;
    assert_eq!(
        (zero.status, zero.body["error"]["field"].as_str()),
        (400, Some("quantity"))
    );
    let unknown = ana
        .post(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "camarote", "quantity": 1}),
        )
        .await;
    assert_eq!((unknown.status, unknown.code()), (404, "unknown_category"));
    let too_many = ana
        .post(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "vip", "quantity": 3}),
        )
        .await;
    assert_eq!(too_many.status, 409, "{:?}", too_many.body);
    let anonymous = Buyer::new(shop.url())
        .post(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "pista", "quantity": 1}),
        )
        .await;
    assert_eq!(anonymous.status, 401);

    // A hold, seen by its owner only.
    let hold = ana
        .post_with_key(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "pista", "quantity": 2}),
            "hold-1",
        )
        .await;
    assert_eq!(hold.status, 201, "{:?}", hold.body);
    let hold_id = hold.body["hold_id"].as_u64().unwrap();
    assert_eq!(hold.body["status"], "live");
    // The same key again is the same hold, not a second one.
    let same = ana
        .post_with_key(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "pista", "quantity": 2}),
            "hold-1",
        )
        .await;
    assert_eq!(
        same.body["hold_id"].as_u64(),
        Some(hold_id),
        "{:?}",
        same.body
    );
    let second = ana
        .post(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "pista", "quantity": 1}),
        )
        .await;
    assert_eq!(second.code(), "live_hold_exists");
    assert_eq!(
        ana.get(&format!("/api/v1/holds/{hold_id}")).await.status,
        200
    );
    assert_eq!(
        bob.get(&format!("/api/v1/holds/{hold_id}")).await.code(),
        "not_found"
    );
    assert_eq!(
        ana.get("/api/v1/holds/abc").await.body["error"]["field"],
        "hold_id"
    );
    assert_eq!(ana.get("/api/v1/holds/999999").await.status, 404);
    assert_eq!(
        ana.get("/api/v1/events/show").await.body["categories"][0]["available"],
        8
    );

    // Declined: nothing sold, the hold stays. Approved: two tickets, once.
    let declined = ana
        .post(
            &format!("/api/v1/holds/{hold_id}/purchase"),
            json!({"payment_token": "decline"}),
        )
        .await;
    assert_eq!(
        (declined.status, declined.code()),
        (402, "payment_declined"),
        "{:?}",
        declined.body
    );
    assert_eq!(
        ana.get(&format!("/api/v1/holds/{hold_id}")).await.body["status"],
        "live"
    );
    let not_yours = bob
        .post(
            &format!("/api/v1/holds/{hold_id}/purchase"),
            json!({"payment_token": "approve"}),
        )
        .await;
    assert!(
        not_yours.status == 403 || not_yours.status == 404,
        "{:?}",
        not_yours.body
    );
    let bought = ana
        .post_with_key(
            &format!("/api/v1/holds/{hold_id}/purchase"),
            json!({"payment_token": "approve"}),
            "pay-1",
        )
        .await;
    assert_eq!(bought.status, 200, "{:?}", bought.body);
    assert_eq!(bought.body["tickets"].as_array().unwrap().len(), 2);
    let replay = ana
        .post_with_key(
            &format!("/api/v1/holds/{hold_id}/purchase"),
            json!({"payment_token": "approve"}),
            "pay-1",
        )
        .await;
    assert_eq!(
        replay.body["tickets"], bought.body["tickets"],
        "a retry returns the same tickets"
    );
    assert_eq!(replay.body["charge_id"], bought.body["charge_id"]);
    let tickets = ana.get("/api/v1/tickets").await;
    assert_eq!(tickets.body["tickets"].as_array().unwrap().len(), 2);
    assert_eq!(
        bob.get("/api/v1/tickets").await.body["tickets"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Release: a new hold given back frees its seats.
    let hold2 = ana
        .post(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "vip", "quantity": 1}),
        )
        .await;
    let hold2_id = hold2.body["hold_id"].as_u64().unwrap();
    let released = ana
        .send(
            ana.http
                .delete(format!("{}/api/v1/holds/{hold2_id}", shop.url())),
        )
        .await;
    assert_eq!(released.status, 204, "{:?}", released.body);
    assert_eq!(
        ana.get(&format!("/api/v1/holds/{hold2_id}")).await.body["status"],
        "released"
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_queue_needs_a_solved_challenge_then_admits() {
    let shop = Shop::start(ShopOptions {
        gateways: 1,
        extra_toml: "[anti_bot]\npow_difficulty_bits = 10\n".into(),
    })
    .await;
    let mut carla = Buyer::new(shop.url());
    assert_eq!(carla.register("carla", &cpf(401)).await.status, 201);
    let early = carla
        .post(
            "/api/v1/holds",
            json!({"event_id": "fila", "category_id": "pista", "quantity": 1}),
        )
        .await;
    assert_eq!(early.code(), "not_admitted", "{:?}", early.body);
    assert_eq!(
        carla.get("/api/v1/events/fila/queue").await.code(),
        "not_in_queue"
    );

    let unsolved = carla
        .post(
            "/api/v1/events/fila/queue",
            json!({"challenge": "", "solution": ""}),
        )
        .await;
    assert_eq!(
        (unsolved.status, unsolved.code()),
        (400, "proof_of_work_failed")
    );
    let challenge: pow::Challenge = {
        let answer = carla.get("/api/v1/events/fila/queue/challenge").await;
        assert_eq!(answer.body["difficulty_bits"], 10);
        pow::Challenge {
            challenge: answer.body["challenge"].as_str().unwrap().to_string(),
            difficulty_bits: 10,
            expires_at: answer.body["expires_at"].as_u64().unwrap(),
        }
    };
    // A challenge is bound to its event and its customer.
    let mut dan = Buyer::new(shop.url());
    assert_eq!(dan.register("dan", &cpf(402)).await.status, 201);
    let solution = pow::solve(&challenge);
    let stolen = dan
        .post(
            "/api/v1/events/fila/queue",
            json!({"challenge": challenge.challenge, "solution": solution}),
        )
        .await;
    assert_eq!(stolen.code(), "proof_of_work_failed");

    let joined = carla
        .post(
            "/api/v1/events/fila/queue",
            json!({"challenge": challenge.challenge, "solution": solution}),
        )
        .await;
    assert_eq!(joined.status, 200, "{:?}", joined.body);
    assert_eq!(joined.body["position"], 1);
    let mut admitted = false;
    for _ in 0..100 {
        let status = carla.get("/api/v1/events/fila/queue").await;
        if status.body["admitted"] == true {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admitted, "admitted at 6000 a minute");
    let hold = carla
        .post(
            "/api/v1/holds",
            json!({"event_id": "fila", "category_id": "pista", "quantity": 1}),
        )
        .await;
    assert_eq!(hold.status, 201, "{:?}", hold.body);
    shop.shutdown().await;
}

/// Reads SSE frames from `response` until `until` returns true or `timeout`.
pub async fn read_sse(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    timeout: Duration,
    mut until: impl FnMut(&[(String, String, Value)]) -> bool,
) -> Vec<(String, String, Value)> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let (mut id, mut kind, mut data) =
                (String::new(), String::from("message"), String::new());
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_string();
                }
                if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim().to_string();
                }
                if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if !data.is_empty() {
                events.push((id, kind, serde_json::from_str(&data).unwrap_or(Value::Null)));
            }
        }
        if until(&events) {
            return events;
        }
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return events,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sse_delivers_the_buyers_events_and_resumes_after_the_last_id() {
    let shop = Shop::start(ShopOptions::default()).await;
    let mut eva = Buyer::new(shop.url());
    assert_eq!(eva.register("eva", &cpf(501)).await.status, 201);
    let token = eva.token.clone().unwrap();
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{}/api/v1/notifications", shop.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();

    let hold = eva
        .post(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "pista", "quantity": 1}),
        )
        .await;
    let hold_id = hold.body["hold_id"].as_u64().unwrap();
    let paid = eva
        .post(
            &format!("/api/v1/holds/{hold_id}/purchase"),
            json!({"payment_token": "approve"}),
        )
        .await;
    assert_eq!(paid.status, 200);
    let events = read_sse(&mut stream, &mut buffer, Duration::from_secs(20), |seen| {
        seen.iter().any(|(_, kind, _)| kind == "purchase_confirmed")
    })
    .await;
    let kinds: Vec<&str> = events.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert!(
        kinds.contains(&"customer_registered") && kinds.contains(&"hold_created"),
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"purchase_confirmed"));
    assert!(events
        .iter()
        .all(|(_, _, data)| data["customer_id"] == "eva"));
    let ids: Vec<u64> = events
        .iter()
        .map(|(id, _, _)| id.parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // Reconnect after the hold's event: only what came after it.
    let hold_event = events
        .iter()
        .find(|(_, kind, _)| kind == "hold_created")
        .unwrap();
    let resumed = http
        .get(format!("{}/api/v1/notifications", shop.url()))
        .bearer_auth(&token)
        .header("last-event-id", hold_event.0.clone())
        .send()
        .await
        .unwrap();
    let mut stream = resumed.bytes_stream();
    let mut buffer = String::new();
    let after = read_sse(&mut stream, &mut buffer, Duration::from_secs(20), |seen| {
        seen.iter().any(|(_, kind, _)| kind == "purchase_confirmed")
    })
    .await;
    let kinds: Vec<&str> = after.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["purchase_confirmed"]);
    assert_eq!(after[0].2["replay"], false);

    // No session, or a bad Last-Event-ID: typed errors, not a stream.
    let anonymous = http
        .get(format!("{}/api/v1/notifications", shop.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let bad = http
        .get(format!("{}/api/v1/notifications", shop.url()))
        .bearer_auth(&token)
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let overflow = http
        .get(format!("{}/api/v1/notifications", shop.url()))
        .bearer_auth(&token)
        .header("last-event-id", u64::MAX.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(overflow.status(), 400);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_endpoints_and_the_openapi_file() {
    let shop = Shop::start(ShopOptions::default()).await;
    let buyer = Buyer::new(shop.url());
    let missing = buyer.get("/api/v1/nope").await;
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
    let spec = buyer.get("/api/v1/openapi.json").await;
    assert_eq!(spec.body["openapi"], "3.0.3");
    for path in [
        "/api/v1/register",
        "/api/v1/login",
        "/api/v1/holds/{hold_id}/purchase",
        "/api/v1/notifications",
    ] {
        assert!(spec.body["paths"][path].is_object(), "{path} documented");
    }
    assert_eq!(buyer.get("/healthz").await.text, "ok");

    // Metrics: requests by route pattern (not raw path), latency, limits, SSE.
    assert_eq!(buyer.get("/api/v1/holds/12345").await.status, 401);
    let metrics = buyer.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    for line in [
        r#"ingressoja_http_requests_total{route="/api/v1/openapi.json",method="GET",status="200"} 1"#,
        r#"ingressoja_http_requests_total{route="/api/v1/holds/{hold_id}",method="GET",status="401"} 1"#,
        r#"ingressoja_http_request_duration_seconds_count{route="/healthz"} 1"#,
        "ingressoja_sse_connections 0",
        "ingressoja_shed_requests_total 0",
    ] {
        assert!(
            metrics.text.contains(line),
            "{line} missing in:\n{}",
            metrics.text
        );
    }
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn releasing_other_peoples_holds_costs_no_raft_entry_and_is_rate_limited() {
    // The attack: a bot fires releases at hold ids it does not own. Each
    // used to become a Raft entry (refused only when applied), unmetered.
    let shop = Shop::start(ShopOptions {
        gateways: 1,
        extra_toml: "[rate_limits]\npurchase_per_customer = { per_minute = 1, burst = 4 }\n".into(),
    })
    .await;
    let mut ana = Buyer::new(shop.url());
    assert_eq!(ana.register("ana", &cpf(301)).await.status, 201);
    let mut bot = Buyer::new(shop.url());
    assert_eq!(bot.register("bot", &cpf(302)).await.status, 201);
    let hold = ana
        .post(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "vip", "quantity": 1}),
        )
        .await;
    let hold_id = hold.body["hold_id"].as_u64().unwrap();

    let admin = shop.cluster.client(None);
    let addr = shop.cluster.addr(1);
    let audited = |page: ingressoja_client::proto::admin::AuditPage| {
        page.records
            .iter()
            .filter(|r| r.action == "release_hold")
            .count()
    };
    let before = audited(admin.export_audit(&addr, 0, 0).await.unwrap());
    let delete = |id: u64| bot.http.delete(format!("{}/api/v1/holds/{id}", shop.url()));
    let mut statuses = Vec::new();
    for id in [hold_id, hold_id, 999_999, hold_id, hold_id + 1] {
        statuses.push(bot.send(delete(id)).await.status);
    }
    // Not found (not the bot's) four times, then out of budget.
    assert_eq!(statuses, [404, 404, 404, 404, 429], "{statuses:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = audited(admin.export_audit(&addr, 0, 0).await.unwrap());
    assert_eq!(after, before, "a refused release reached the Raft log");
    // ana's hold is untouched.
    assert_eq!(
        ana.get(&format!("/api/v1/holds/{hold_id}")).await.body["status"],
        "live"
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_account_cannot_hold_more_notification_streams_than_its_cap() {
    // The attack: one account (or one address) opening thousands of
    // streams to fill the gateway the waiting room needs.
    let shop = Shop::start(ShopOptions {
        gateways: 1,
        extra_toml: "[notifications]\nmax_streams_per_customer = 2\n".into(),
    })
    .await;
    let mut ana = Buyer::new(shop.url());
    assert_eq!(ana.register("ana", &cpf(311)).await.status, 201);
    let token = ana.token.clone().unwrap();
    let http = reqwest::Client::new();
    let open = || {
        http.get(format!("{}/api/v1/notifications", shop.url()))
            .bearer_auth(&token)
            .send()
    };
    let first = open().await.unwrap();
    let second = open().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open().await.unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    // A closed stream gives its place back.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        let attempt = open().await.unwrap();
        if attempt.status() == 200 {
            reopened = Some(attempt);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reopened.is_some(),
        "the closed stream's place was not given back"
    );
    drop(second);
    shop.shutdown().await;
}
