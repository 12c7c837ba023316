//! The client's batching of buyers' calls into `Submit` requests, against
//! in-process fake nodes: calls made together share requests and each gets
//! its own answer or refusal; redirects inside a batch are followed; a node
//! that does not know `Submit` (an older version) gets the calls one by one.

use std::sync::atomic::Ordering;

use futures::future::join_all;
use ingressoja_client::ClientError;
use ingressoja_test_support::fake_node::{client, serve, Fake};

fn current(fake: Fake) -> Fake {
    fake.serves_submit.store(true, Ordering::Relaxed);
    fake
}

#[tokio::test]
async fn concurrent_calls_share_requests_and_each_gets_its_answer() {
    let leader = current(Fake::leader(1));
    let running = serve(leader.clone(), None).await;
    let client = client(vec![running.addr.clone()]);

    let holds = (0..200u32).map(|n| {
        let client = client.clone();
        async move {
            client
                .place_hold("rock", "pista", &format!("fan{n}"), 1 + n % 4)
                .await
        }
    });
    let replies = join_all(holds).await;
    for (n, reply) in replies.into_iter().enumerate() {
        let hold = reply.unwrap().hold.unwrap();
        assert_eq!(hold.customer_id, format!("fan{n}"));
        assert_eq!(hold.quantity, 1 + n as u32 % 4);
    }
    let submits = leader.submits.lock().unwrap().clone();
    assert_eq!(submits.iter().sum::<usize>(), 200, "{submits:?}");
    assert!(
        submits.len() < 200,
        "200 concurrent holds were sent in {} requests",
        submits.len()
    );
    running.stop().await;
}

#[tokio::test]
async fn a_refusal_inside_a_batch_reaches_only_its_own_caller() {
    let leader = current(Fake::leader(1));
    let running = serve(leader.clone(), None).await;
    let client = client(vec![running.addr.clone()]);

    // Quantity 11 is sold out at the fake; the others are fine.
    let holds = (0..40u32).map(|n| {
        let client = client.clone();
        async move {
            let quantity = if n % 10 == 3 { 11 } else { 2 };
            (
                quantity,
                client
                    .place_hold("rock", "pista", &format!("fan{n}"), quantity)
                    .await,
            )
        }
    });
    for (quantity, reply) in join_all(holds).await {
        match (quantity, reply) {
            (11, Err(ClientError::Rejected { code, .. })) => assert_eq!(code, "sold_out"),
            (2, Ok(reply)) => assert_eq!(reply.hold.unwrap().quantity, 2),
            (q, other) => panic!("quantity {q}: {other:?}"),
        }
    }
    // And a refused payment is the caller's own, with its code.
    let declined = client
        .purchase_with_payment(5, "alice", "decline")
        .await
        .unwrap_err();
    assert!(
        matches!(&declined, ClientError::Rejected { code, .. } if code == "payment_declined"),
        "{declined:?}"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_follower_answering_a_batch_redirects_every_call_to_the_leader() {
    let leader = current(Fake::leader(1));
    let leading = serve(leader.clone(), None).await;
    let follower = current(Fake::follower(2, &leading.addr));
    let following = serve(follower.clone(), None).await;
    let client = client(vec![following.addr.clone()]);

    let joins = (0..30).map(|n| {
        let client = client.clone();
        async move { client.join_queue("rock", &format!("fan{n}")).await }
    });
    for reply in join_all(joins).await {
        assert_eq!(reply.unwrap().seq, 7);
    }
    assert_eq!(client.leader_hint(), Some(leading.addr.clone()));
    assert!(!follower.submits.lock().unwrap().is_empty());
    assert_eq!(leader.submits.lock().unwrap().iter().sum::<usize>(), 30);
    following.stop().await;
    leading.stop().await;
}

#[tokio::test]
async fn an_older_node_without_submit_gets_the_calls_one_by_one() {
    let old = Fake::leader(1);
    assert!(!old.serves_submit.load(Ordering::Relaxed));
    let running = serve(old.clone(), None).await;
    let client = client(vec![running.addr.clone()]);

    let joins = (0..50).map(|n| {
        let client = client.clone();
        async move { client.join_queue("rock", &format!("fan{n}")).await }
    });
    for reply in join_all(joins).await {
        assert_eq!(reply.unwrap().people_ahead, 6);
    }
    // Later calls go straight one by one: only the first batches tried Submit.
    let tried = old.submits.lock().unwrap().len();
    assert!(tried >= 1);
    for n in 0..20 {
        client
            .join_queue("rock", &format!("late{n}"))
            .await
            .unwrap();
    }
    assert_eq!(old.submits.lock().unwrap().len(), tried);
    // Purchases too, with their idempotency keys.
    client.purchase(9, "alice").await.unwrap();
    assert_eq!(old.keys().len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn a_node_rolled_back_to_a_version_without_submit_is_still_served() {
    let node = current(Fake::leader(1));
    let running = serve(node.clone(), None).await;
    let client = client(vec![running.addr.clone()]);
    client.join_queue("rock", "before").await.unwrap();
    assert_eq!(node.submits.lock().unwrap().len(), 1);

    // The same address now runs an older version.
    node.serves_submit.store(false, Ordering::Relaxed);
    for n in 0..10 {
        let reply = client.join_queue("rock", &format!("after{n}")).await;
        assert_eq!(reply.unwrap().seq, 7);
    }
    // It was tried once more with Submit, then served call by call.
    assert_eq!(node.submits.lock().unwrap().len(), 3, "{:?}", node.submits);
    running.stop().await;
}
