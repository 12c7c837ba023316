//! Cluster tests of the sale rules: queue bursts, the event stream across a
//! follower restart, the audit chain across a leader change, and payment failures.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ingressoja_client::proto::ticketing::SalePolicy;
use ingressoja_client::{Client, EventWatch};
use ingressoja_node::machine::{verify_chain, DomainEventKind};

use crate::{category, ELECTION};
use ingressoja_test_support::{register, ClusterOptions, TestCluster};

async fn create_queued_event(client: &Client, event: &str, policy: SalePolicy) {
    client
        .create_event_with_policy(
            event,
            "Queued sale",
            vec![category("pista", 100_000, 4)],
            policy,
        )
        .await
        .expect("event created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn burst_of_joins_is_admitted_in_commit_order() {
    const PEOPLE: u64 = 10_000;
    const CLIENTS: u64 = 256;
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    // The sale is open and admits everyone at once: admission order is line order.
    let policy = SalePolicy {
        queue_enabled: true,
        max_active_shoppers: PEOPLE as u32,
        admission_ttl_ms: 3_600_000,
        ..SalePolicy::default()
    };
    create_queued_event(&client, "burst", policy).await;

    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in (c..PEOPLE).step_by(CLIENTS as usize) {
                register(&client, &format!("p{i}"), 10_000 + i).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("registration worker");
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut placed = Vec::new();
            for i in (c..PEOPLE).step_by(CLIENTS as usize) {
                let customer = format!("p{i}");
                let status = client.join_queue("burst", &customer).await.expect("join");
                placed.push((status.log_index, status.seq, customer));
            }
            placed
        }));
    }
    let mut placed = Vec::new();
    for t in tasks {
        placed.extend(t.await.expect("join worker"));
    }
    let elapsed = started.elapsed();
    println!(
        "queue burst: {PEOPLE} joins from {CLIENTS} clients in {:.2} s = {:.0} joins/s",
        elapsed.as_secs_f64(),
        PEOPLE as f64 / elapsed.as_secs_f64()
    );

    // FIFO: places follow commit order, with no gaps and no duplicates.
    placed.sort();
    let seqs: Vec<u64> = placed.iter().map(|(_, seq, _)| *seq).collect();
    assert_eq!(
        seqs,
        (1..=PEOPLE).collect::<Vec<_>>(),
        "seq order differs from commit order"
    );

    // Admission order equals line order, on every replica. The last joins
    // are admitted by the next entry (a tick), which may not be applied yet.
    let admitted_on = |node: &ingressoja_node::NodeHandle| -> Vec<String> {
        let state = node.state.read().unwrap();
        state
            .journal
            .domain_events_since(0, usize::MAX)
            .into_iter()
            .filter(|e| e.kind == Some(DomainEventKind::Admitted) && e.event_id == "burst")
            .map(|e| e.customer_id)
            .collect()
    };
    let until = Instant::now() + Duration::from_secs(20);
    while cluster
        .nodes
        .values()
        .any(|n| (admitted_on(n).len() as u64) < PEOPLE)
        && Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.assert_same_state().await;
    for node in cluster.nodes.values() {
        let admitted = admitted_on(node);
        let line: Vec<String> = placed.iter().map(|(_, _, c)| c.clone()).collect();
        assert_eq!(admitted, line, "admissions out of line order");
    }
    cluster.shutdown().await;
}

/// Appends the seqs of streamed events to `seen` until it holds `total` of them.
async fn read_until(stream: &mut EventWatch, seen: &mut Vec<u64>, total: u64) {
    while (seen.len() as u64) < total {
        let e = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("event in time")
            .expect("event");
        seen.push(e.seq);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_stream_from_a_follower_resumes_after_restart_without_gaps() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    crate::create_event(&client, 100, 4).await;
    register(&client, "ana", 1).await;
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    let follower_addr = cluster.configs[&follower].advertise_addr().to_string();
    let follower_client =
        Client::connect(vec![follower_addr], cluster.client_options()).expect("client");

    let hold_and_release = |n: u32| {
        let client = client.clone();
        async move {
            for _ in 0..n {
                let hold = client
                    .place_hold("rock", "pista", "ana", 1)
                    .await
                    .expect("hold");
                let id = hold.hold.expect("hold").hold_id;
                client.release_hold(id, "ana").await.expect("release");
            }
        }
    };
    hold_and_release(5).await;
    cluster.wait_converged(Duration::from_secs(10)).await;

    let mut seen: Vec<u64> = Vec::new();
    {
        let mut stream = follower_client.watch_events(0, None);
        let want = cluster.nodes[&follower]
            .state
            .read()
            .unwrap()
            .journal
            .next_event_seq();
        read_until(&mut stream, &mut seen, want).await;
    }
    // Restart the follower while writes go on, then resume on it from the last seen seq.
    cluster.kill(follower).await;
    hold_and_release(5).await;
    cluster.restart(follower).await;
    hold_and_release(3).await;
    cluster.wait_converged(Duration::from_secs(20)).await;
    let total = cluster.nodes[&leader]
        .state
        .read()
        .unwrap()
        .journal
        .next_event_seq();
    let mut stream = follower_client.watch_events(seen.last().copied().unwrap_or(0) + 1, None);
    read_until(&mut stream, &mut seen, total).await;
    assert_eq!(
        seen,
        (0..total).collect::<Vec<_>>(),
        "gap or duplicate in the event stream"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_chain_is_identical_on_all_nodes_after_a_leader_change() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    crate::create_event(&client, 100, 4).await;
    for (i, c) in ["ana", "bia", "caio"].iter().enumerate() {
        register(&client, c, i as u64 + 1).await;
        let hold = client
            .place_hold("rock", "pista", c, 2)
            .await
            .expect("hold");
        client
            .purchase(hold.hold.expect("hold").hold_id, c)
            .await
            .expect("purchase");
    }
    // A rejected command is audited too.
    assert!(client.place_hold("rock", "pista", "ana", 4).await.is_err());
    cluster.kill(leader).await;
    cluster.wait_for_leader(ELECTION).await;
    register(&client, "davi", 4).await;
    cluster.restart(leader).await;
    cluster.assert_same_state().await;

    let mut heads = BTreeMap::new();
    for (id, node) in &cluster.nodes {
        let (len, head) = {
            let state = node.state.read().unwrap();
            let audit = state.journal.audit();
            (audit.len(), audit.head())
        };
        // The records live on disk; the state holds the chain's length and head.
        let records = node.audit.page(0, len as usize, len).expect("records read");
        assert_eq!(records.len() as u64, len);
        assert_eq!(verify_chain(&records).expect("chain verifies"), head);
        assert!(records.iter().any(|r| r.outcome == "limit_exceeded"));
        heads.insert(*id, (len, hex::encode(head)));
    }
    let first = heads.values().next().cloned();
    assert!(
        heads.values().all(|h| Some(h.clone()) == first),
        "audit heads differ: {heads:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn declined_and_failed_payments_sell_nothing() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    crate::create_event(&client, 10, 4).await;
    register(&client, "ana", 1).await;
    let hold = client
        .place_hold("rock", "pista", "ana", 2)
        .await
        .expect("hold")
        .hold
        .expect("hold");

    for (token, code) in [
        ("decline", "payment_declined"),
        ("timeout", "payment_failed"),
        ("fail", "payment_failed"),
    ] {
        let err = client
            .purchase_with_payment(hold.hold_id, "ana", token)
            .await
            .unwrap_err();
        assert_eq!(err.rejection_code(), Some(code), "{token}: {err}");
        assert!(err.to_string().contains("kept until"), "{err}");
        let a = client.availability("rock").await.expect("availability");
        let pista = a
            .categories
            .iter()
            .find(|c| c.category_id == "pista")
            .expect("pista");
        assert_eq!((pista.sold, pista.held), (0, 2), "{token} sold something");
        assert!(client
            .list_tickets("ana")
            .await
            .expect("tickets")
            .tickets
            .is_empty());
    }
    let charged: Vec<_> = cluster.nodes[&leader]
        .payments
        .ledger()
        .into_values()
        .filter(|c| !c.refunded)
        .collect();
    assert!(
        charged.is_empty(),
        "a failed payment left a charge: {charged:?}"
    );

    // Approve sells exactly the held tickets and records the charge.
    let bought = client
        .purchase(hold.hold_id, "ana")
        .await
        .expect("purchase");
    assert_eq!(bought.tickets.len(), 2);
    assert!(!bought.charge_id.is_empty());
    assert!(bought.tickets.iter().all(|t| t.hold_id == hold.hold_id));
    let ledger = cluster.nodes[&leader].payments.ledger();
    let charge = ledger
        .values()
        .find(|c| c.charge_id == bought.charge_id)
        .expect("charge in ledger");
    assert_eq!(charge.amount_cents, 2 * 45_000);
    let a = client.availability("rock").await.expect("availability");
    let pista = a
        .categories
        .iter()
        .find(|c| c.category_id == "pista")
        .expect("pista");
    assert_eq!((pista.sold, pista.held, pista.available), (2, 0, 8));
    cluster.shutdown().await;
}
