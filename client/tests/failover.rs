//! The client against in-process fake nodes speaking real gRPC: leader
//! redirects through status metadata, dead and slow nodes, node restarts.
//! No Raft here; each fake node is told whether it leads.

use std::time::{Duration, Instant};

use ingressoja_client::proto::ticketing::SalePolicy;
use ingressoja_client::{Client, ClientError, ClientOptions};
use ingressoja_test_support::fake_node::{client, closed_addr, serve, Fake};

#[tokio::test]
async fn a_follower_redirects_to_the_leader() {
    let leader_fake = Fake::leader(1);
    let leader = serve(leader_fake.clone(), None).await;
    let follower = serve(Fake::follower(2, &leader.addr), None).await;

    let client = client(vec![follower.addr.clone()]);
    let reply = client.purchase(9, "alice").await.unwrap();
    assert_eq!(reply.tickets[0].hold_id, 9);
    assert_eq!(client.leader_hint(), Some(leader.addr.clone()));
    assert_eq!(
        client.known_nodes(),
        vec![follower.addr.clone(), leader.addr.clone()]
    );
    assert_eq!(leader_fake.keys().len(), 1);
    assert_eq!(leader_fake.keys()[0].client_id, "test");

    // Reads follow the leader too, and the next call goes straight there.
    let availability = client.availability("rock").await.unwrap();
    assert_eq!(availability.event_id, "rock");
}

#[tokio::test]
async fn an_unknown_leader_means_trying_the_next_node() {
    let leader = serve(Fake::leader(1), None).await;
    let lost = serve(Fake::follower(2, ""), None).await;
    let client = client(vec![lost.addr.clone(), leader.addr.clone()]);
    client.purchase(1, "alice").await.unwrap();
    assert_eq!(client.leader_hint(), Some(leader.addr.clone()));
}

#[tokio::test]
async fn a_dead_node_is_skipped() {
    let leader = serve(Fake::leader(1), None).await;
    let client = client(vec![closed_addr(), leader.addr.clone()]);
    let started = Instant::now();
    client.purchase(1, "alice").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(client.leader_hint(), Some(leader.addr.clone()));
}

#[tokio::test]
async fn a_rejection_carries_its_code_and_is_not_retried() {
    let leader = serve(Fake::leader(1), None).await;
    let client = client(vec![leader.addr.clone()]);
    let error = client
        .place_hold("rock", "pista", "alice", 11)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ClientError::refused(
            ingressoja_codes::RejectionCode::SoldOut,
            "sold out: 11 requested, 10 available"
        )
    );
    assert_eq!(error.rejection_code(), Some("sold_out"));
}

#[tokio::test]
async fn a_stalled_purchase_is_retried_with_the_same_key() {
    let leader_fake = Fake::leader(1);
    *leader_fake.stall_first.lock().unwrap() = 1;
    let leader = serve(leader_fake.clone(), None).await;
    let client = client(vec![leader.addr.clone()]);

    client
        .purchase_with_request_id(5, "alice", 77)
        .await
        .unwrap();
    let keys = leader_fake.keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0].request_id, 77);
}

#[tokio::test]
async fn nothing_reachable_fails_with_unavailable_at_the_deadline() {
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        overall_deadline: Duration::from_secs(1),
        client_id: None,
        tls: None,
    };
    let client = Client::connect(vec![closed_addr(), closed_addr()], options).unwrap();
    let started = Instant::now();
    match client.purchase(1, "alice").await {
        Err(ClientError::Unavailable {
            attempts,
            last_error,
        }) => {
            assert!(attempts >= 2, "{attempts}");
            assert!(last_error.contains("unavailable"), "{last_error}");
        }
        other => panic!("{other:?}"),
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

#[tokio::test]
async fn a_restarted_node_is_reached_again() {
    let first = serve(Fake::leader(1), None).await;
    let addr = first.addr.clone();
    let client = client(vec![addr.clone()]);
    client.purchase(1, "alice").await.unwrap();

    first.stop().await;
    assert!(matches!(
        client.node_status(&addr).await,
        Err(ClientError::Transport(_))
    ));

    let _second = serve(Fake::leader(1), Some(addr.parse().unwrap())).await;
    client.purchase(2, "alice").await.unwrap();
}

#[tokio::test]
async fn cluster_status_asks_every_node() {
    let leader = serve(Fake::leader(1), None).await;
    let follower = serve(Fake::follower(2, &leader.addr), None).await;
    let dead = closed_addr();
    let client = client(vec![
        leader.addr.clone(),
        follower.addr.clone(),
        dead.clone(),
    ]);

    let reports = client.cluster_status().await;
    let addrs: Vec<&str> = reports.iter().map(|r| r.addr.as_str()).collect();
    assert_eq!(
        addrs,
        vec![leader.addr.as_str(), follower.addr.as_str(), dead.as_str()]
    );
    assert_eq!(reports[0].status.as_ref().unwrap().role, "leader");
    assert_eq!(reports[1].status.as_ref().unwrap().id, 2);
    assert!(matches!(reports[2].status, Err(ClientError::Transport(_))));
}

#[tokio::test]
async fn admin_calls_reach_the_right_node() {
    let leader = serve(Fake::leader(1), None).await;
    let follower = serve(Fake::follower(2, &leader.addr), None).await;
    let client = client(vec![follower.addr.clone()]);

    let membership = client.change_membership(vec![1, 2, 3]).await.unwrap();
    assert_eq!(membership.log_index, 3);
    let snapshot = client.trigger_snapshot(&follower.addr).await.unwrap();
    assert_eq!(snapshot.snapshot_index, 7);
    // A node asked about directly is not added to the failover rotation.
    let other = serve(Fake::leader(3), None).await;
    assert_eq!(client.node_status(&other.addr).await.unwrap().id, 3);
    assert!(!client.known_nodes().contains(&other.addr));
}

#[tokio::test]
async fn a_payment_token_is_sent_and_the_charge_comes_back() {
    let leader_fake = Fake::leader(1);
    let leader = serve(leader_fake.clone(), None).await;
    let client = client(vec![leader.addr.clone()]);

    let reply = client.purchase(1, "alice").await.unwrap();
    assert_eq!(reply.charge_id, "ch_1");
    client
        .purchase_with_payment(2, "alice", "approve")
        .await
        .unwrap();
    let error = client
        .purchase_with_payment_and_request_id(3, "alice", "decline", 99)
        .await
        .unwrap_err();
    assert_eq!(error.rejection_code(), Some("payment_declined"));
    assert_eq!(
        *leader_fake.tokens.lock().unwrap(),
        vec!["", "approve", "decline"]
    );
    assert_eq!(leader_fake.keys()[2].request_id, 99);
}

#[tokio::test]
async fn a_policy_is_sent_only_when_given() {
    let leader = serve(Fake::leader(1), None).await;
    let client = client(vec![leader.addr.clone()]);
    // The fake answers with the policy's event limit as the log index.
    let plain = client.create_event("rock", "Rock", vec![]).await.unwrap();
    assert_eq!(plain.log_index, 0);
    let policy = SalePolicy {
        per_customer_event_limit: 4,
        ..SalePolicy::default()
    };
    let with_policy = client
        .create_event_with_policy("rock", "Rock", vec![], policy)
        .await
        .unwrap();
    assert_eq!(with_policy.log_index, 4);
}

#[tokio::test]
async fn register_and_queue_calls_follow_the_leader() {
    let leader = serve(Fake::leader(1), None).await;
    let follower = serve(Fake::follower(2, &leader.addr), None).await;
    let client = client(vec![follower.addr.clone()]);

    // The fake answers with the TOTP secret's length as the log index.
    let reply = client
        .register(
            "alice",
            "a@x.com",
            "529.982.247-25",
            "Alice",
            "$argon2id$",
            Some("JBSWY3DP"),
        )
        .await
        .unwrap();
    assert_eq!((reply.customer_id.as_str(), reply.log_index), ("alice", 8));
    let error = client
        .register("taken", "t@x.com", "52998224725", "T", "$argon2id$", None)
        .await
        .unwrap_err();
    assert_eq!(error.rejection_code(), Some("customer_exists"));

    let joined = client.join_queue("rock", "alice").await.unwrap();
    assert_eq!((joined.seq, joined.people_ahead), (7, 6));
    let status = client.queue_status("rock", "alice").await.unwrap();
    assert!(status.admitted);
    assert_eq!(client.leader_hint(), Some(leader.addr.clone()));
}

#[test]
fn client_futures_can_be_spawned() {
    fn assert_send<T: Send>(_: T) {}
    let client = client_without_runtime();
    assert_send(client.purchase(1, "a"));
    assert_send(client.place_hold("e", "c", "a", 1));
    assert_send(client.availability("e"));
    assert_send(client.cluster_status());
    assert_send(client.node_status("127.0.0.1:1"));
    assert_send(client.purchase_with_payment(1, "a", "approve"));
    assert_send(client.register("a", "e", "c", "n", "h", None));
    assert_send(client.join_queue("e", "a"));
    assert_send(client.queue_status("e", "a"));
    assert_send(client.export_audit("127.0.0.1:1", 0, 10));
    let mut watch = client.watch_events(0, None);
    assert_send(watch.next());
    assert_send(client.watch_events(0, Some("a")).into_stream());
}

fn client_without_runtime() -> Client {
    Client::connect(vec!["127.0.0.1:1".into()], ClientOptions::default()).unwrap()
}
