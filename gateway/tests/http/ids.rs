//! The id rules agree end to end: an id the gateway accepts is one the
//! cluster accepts, and every write then works for it (the gateway's client
//! id `web:<id>` included); an id it refuses never reaches the cluster.

use ingressoja_codes::MAX_ID_LEN;

use crate::harness::{cpf, Buyer, Shop, ShopOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_longest_customer_id_registers_holds_and_buys() {
    let shop = Shop::start(ShopOptions::default()).await;
    let longest = "a".repeat(MAX_ID_LEN);
    let mut buyer = Buyer::new(shop.url());

    let created = buyer.register(&longest, &cpf(701)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let account = buyer.get("/api/v1/account").await;
    assert_eq!(account.status, 200, "{:?}", account.body);
    assert_eq!(account.body["customer_id"], longest.as_str());

    let bought = buyer.buy_one("show", "pista").await;
    assert_eq!(bought.status, 200, "{:?}", bought.body);
    assert_eq!(bought.body["tickets"].as_array().unwrap().len(), 1);
    let tickets = buyer.get("/api/v1/tickets").await;
    assert_eq!(tickets.body["tickets"].as_array().unwrap().len(), 1);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ids_over_the_limit_or_outside_the_alphabet_are_refused_naming_the_field() {
    let shop = Shop::start(ShopOptions::default()).await;
    let mut buyer = Buyer::new(shop.url());
    let refused = [
        (
            "a".repeat(MAX_ID_LEN + 1),
            "longer than 64 bytes (65 bytes)",
        ),
        // Multi-byte characters: refused for the character, whatever the length.
        ("joão".to_string(), "'ã' not allowed"),
        ("ç".repeat(MAX_ID_LEN / 2), "'ç' not allowed"),
        ("ana🎸".to_string(), "'🎸' not allowed"),
        ("   ".to_string(), "must not be empty"),
    ];
    for (customer_id, why) in refused {
        let answer = buyer.register(&customer_id, &cpf(702)).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "invalid_field"),
            "{customer_id:?}: {:?}",
            answer.body
        );
        assert_eq!(answer.body["error"]["field"], "customer_id");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{customer_id:?}: {message}");
    }
    // Nothing reached the cluster: the CPF is still free.
    let created = buyer.register("joao", &cpf(702)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    shop.shutdown().await;
}
