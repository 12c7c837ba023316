//! Two gateways, three nodes: the leader dies in the middle of a checkout;
//! the purchase completes through either gateway and the buyer's SSE stream
//! delivers the confirmation exactly once.

use std::time::Duration;

use serde_json::json;

use crate::harness::{cpf, Buyer, Shop, ShopOptions};
use crate::sale::read_sse;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_dies_mid_checkout_and_the_purchase_completes_once() {
    let mut shop = Shop::start(ShopOptions {
        gateways: 2,
        extra_toml: String::new(),
    })
    .await;
    let mut hana = Buyer::new(&shop.gateways[0].url);
    assert_eq!(hana.register("hana", &cpf(801)).await.status, 201);
    let via_second = hana.at(&shop.gateways[1].url);

    // The buyer's notification stream, on gateway 1.
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{}/api/v1/notifications", shop.gateways[0].url))
        .bearer_auth(hana.token.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();

    // Hold through gateway 2.
    let hold = via_second
        .post(
            "/api/v1/holds",
            json!({"event_id": "show", "category_id": "pista", "quantity": 2}),
        )
        .await;
    assert_eq!(hold.status, 201, "{:?}", hold.body);
    let hold_id = hold.body["hold_id"].as_u64().unwrap();

    // Kill the leader mid-checkout.
    let leader = shop.cluster.wait_for_leader(Duration::from_secs(15)).await;
    shop.cluster.kill(leader).await;

    // Pay through gateway 1; on a timeout, retry with the same key through gateway 2.
    let path = format!("/api/v1/holds/{hold_id}/purchase");
    let mut bought = hana
        .post_with_key(&path, json!({"payment_token": "approve"}), "checkout-1")
        .await;
    if bought.status == 503 {
        bought = via_second
            .post_with_key(&path, json!({"payment_token": "approve"}), "checkout-1")
            .await;
    }
    assert_eq!(bought.status, 200, "{:?}", bought.body);
    let tickets = bought.body["tickets"].as_array().unwrap().clone();
    assert_eq!(tickets.len(), 2);
    // Retrying through the other gateway returns the same sale.
    let again = via_second
        .post_with_key(&path, json!({"payment_token": "approve"}), "checkout-1")
        .await;
    assert_eq!(again.body["tickets"].as_array().unwrap(), &tickets);
    assert_eq!(
        via_second.get("/api/v1/tickets").await.body["tickets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The stream survives the leader's death and confirms exactly once,
    // even after waiting for late duplicates.
    let events = read_sse(&mut stream, &mut buffer, Duration::from_secs(30), |seen| {
        seen.iter().any(|(_, kind, _)| kind == "purchase_confirmed")
    })
    .await;
    let more = read_sse(&mut stream, &mut buffer, Duration::from_secs(3), |_| false).await;
    let confirmations: Vec<_> = events
        .iter()
        .chain(more.iter())
        .filter(|(_, kind, data)| kind == "purchase_confirmed" && data["hold_id"] == hold_id)
        .collect();
    assert_eq!(confirmations.len(), 1, "{events:?} {more:?}");
    assert_eq!(
        confirmations[0].2["ticket_ids"].as_array().unwrap().len(),
        2
    );

    // Gateway 1 dies too: gateway 2 still serves the buyer's session.
    shop.gateways[0].kill().await;
    assert_eq!(
        via_second.get("/api/v1/tickets").await.body["tickets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    shop.shutdown().await;
}
