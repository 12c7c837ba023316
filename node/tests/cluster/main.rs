//! In-process cluster tests: three nodes on loopback, leader loss, restart from
//! RocksDB, rejoin through snapshot install, and idempotent retries.
//!
//! Every fault test asserts on data (tickets, counters, state hashes), not only
//! on the absence of errors.

mod fail_stop;
mod login;
mod membership;
mod metrics;
mod sale_rules;
mod tls_rotation;
mod wiped_voter;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ingressoja_client::proto::ticketing::CategorySpec;
use ingressoja_client::{Client, ClientError};
use ingressoja_test_support::{register, ClusterOptions, TestCluster};

pub(crate) const ELECTION: Duration = Duration::from_secs(15);

pub(crate) fn category(id: &str, capacity: u32, limit: u32) -> CategorySpec {
    CategorySpec {
        category_id: id.into(),
        name: id.to_uppercase(),
        capacity,
        price_cents: 45_000,
        per_customer_limit: limit,
    }
}

pub(crate) async fn create_event(client: &Client, capacity: u32, limit: u32) {
    client
        .create_event(
            "rock",
            "Rock Festival",
            vec![
                category("pista", capacity, limit),
                category("cadeira", capacity, limit),
            ],
        )
        .await
        .expect("event created");
}

/// Acknowledged purchases: ticket id → customer.
type Sold = BTreeMap<String, String>;

/// `workers` concurrent customers (registered first; `batch` keeps names unique) each run `rounds` of hold (1-2 tickets) then purchase.
/// Returns every ticket whose purchase was acknowledged, and how many operations committed.
async fn buy_concurrently(
    client: &Client,
    batch: u64,
    workers: usize,
    rounds: usize,
) -> (Sold, usize) {
    let mut tasks = Vec::new();
    for w in 0..workers {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            // Distinct customers (and CPFs) per batch and worker.
            let customer = format!("b{batch}-fan{w}");
            register(&client, &customer, 1_000 + batch * 1_000 + w as u64).await;
            let mut sold = Sold::new();
            let mut ops = 0;
            for r in 0..rounds {
                let cat = if r % 2 == 0 { "pista" } else { "cadeira" };
                let quantity = 1 + (r % 2) as u32;
                let hold = match client.place_hold("rock", cat, &customer, quantity).await {
                    Ok(h) => h.hold.expect("hold in reply"),
                    Err(e) => panic!("hold failed: {e}"),
                };
                ops += 1;
                let bought = client
                    .purchase(hold.hold_id, &customer)
                    .await
                    .expect("purchase of a live hold succeeds");
                ops += 1;
                assert_eq!(bought.tickets.len() as u32, quantity);
                for t in bought.tickets {
                    assert_eq!(t.customer_id, customer);
                    assert!(sold.insert(t.ticket_id, customer.clone()).is_none());
                }
            }
            (sold, ops)
        }));
    }
    let mut all = Sold::new();
    let mut ops = 0;
    for t in tasks {
        let (sold, n) = t.await.expect("worker");
        ops += n;
        for (ticket, customer) in sold {
            assert!(
                all.insert(ticket.clone(), customer).is_none(),
                "ticket {ticket} sold twice"
            );
        }
    }
    (all, ops)
}

/// Every acknowledged ticket is present, bound to its buyer, and the counters agree.
async fn assert_all_present(client: &Client, sold: &Sold) {
    let customers: BTreeSet<&String> = sold.values().collect();
    let mut found = Sold::new();
    for customer in customers {
        let tickets = client.list_tickets(customer).await.expect("list tickets");
        for t in tickets.tickets {
            assert_eq!(&t.customer_id, customer);
            found.insert(t.ticket_id, t.customer_id);
        }
    }
    assert_eq!(
        &found, sold,
        "acknowledged tickets differ from stored tickets"
    );
    let availability = client.availability("rock").await.expect("availability");
    let total_sold: u32 = availability.categories.iter().map(|c| c.sold).sum();
    assert_eq!(
        total_sold as usize,
        sold.len(),
        "sold counters disagree with tickets"
    );
    for c in &availability.categories {
        assert_eq!(
            c.sold + c.held + c.available,
            c.capacity,
            "conservation broken in {}",
            c.category_id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_survive_leader_loss_and_restart() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    create_event(&client, 10_000, 1_000).await;

    // 1 000 committed holds and purchases from 20 concurrent clients.
    let (mut sold, ops) = buy_concurrently(&client, 1, 20, 25).await;
    assert_eq!(ops, 1_000);
    assert_all_present(&client, &sold).await;
    cluster.assert_same_state().await;

    // Kill the leader: a new one is elected and nothing acknowledged is lost.
    cluster.kill(leader).await;
    let new_leader = cluster.wait_for_leader(ELECTION).await;
    assert_ne!(new_leader, leader);
    assert_all_present(&client, &sold).await;

    // The cluster keeps selling with one node down.
    let (more, _) = buy_concurrently(&client, 2, 4, 5).await;
    for (ticket, customer) in more {
        assert!(sold.insert(ticket, customer).is_none());
    }

    // The old leader restarts from its RocksDB directory and catches up.
    cluster.restart(leader).await;
    cluster.assert_same_state().await;
    assert_all_present(&client, &sold).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wiped_node_rejoins_through_snapshot_install() {
    let options = ClusterOptions {
        snapshot: ingressoja_cluster_config::SnapshotPolicy {
            logs_since_last: 50,
            max_logs_kept_after_snapshot: 0,
            chunk_size_bytes: 1024,
        },
        ..ClusterOptions::default()
    };
    let mut cluster = TestCluster::start(options).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    create_event(&client, 5_000, 500).await;
    let (sold, _) = buy_concurrently(&client, 1, 8, 20).await;
    cluster.assert_same_state().await;

    let victim = (1..=3).find(|&id| id != leader).expect("a follower");
    cluster.kill(victim).await;
    // More writes while it is down, then a snapshot and a purge on the leader.
    let (more, _) = buy_concurrently(&client, 2, 4, 10).await;
    let leader_now = cluster.wait_for_leader(ELECTION).await;
    let leader_addr = cluster.configs[&leader_now].advertise_addr().to_string();
    let snap = client
        .trigger_snapshot(&leader_addr)
        .await
        .expect("snapshot");
    assert!(snap.snapshot_index > 0);
    let purged = cluster.nodes[&leader_now]
        .raft
        .metrics()
        .borrow()
        .purged
        .map(|l| l.index)
        .unwrap_or(0);
    assert!(purged > 0, "the leader purged its log behind the snapshot");

    // Wipe the victim: by the runbook it leaves the voters first, then
    // rejoins as a learner, and can only catch up through a snapshot.
    client
        .remove_node(victim, true)
        .await
        .expect("the wiped node leaves the voters");
    cluster.wipe(victim);
    cluster.restart(victim).await;
    client
        .add_node(victim, &cluster.addr(victim), ELECTION, |_| {})
        .await
        .expect("the wiped node rejoins as a learner, then a voter");
    cluster.assert_same_state().await;
    let installed = cluster.nodes[&victim]
        .raft
        .metrics()
        .borrow()
        .snapshot
        .map(|l| l.index)
        .unwrap_or(0);
    assert!(
        installed >= purged,
        "the wiped node installed a snapshot (at {installed}, purged {purged})"
    );

    let mut all = sold;
    all.extend(more);
    // Read through the restored node too: it holds every ticket.
    assert_all_present(&client, &all).await;
    let tickets_on_victim = {
        let state = cluster.nodes[&victim].state.read().unwrap();
        state.machine.tickets().count()
    };
    assert_eq!(tickets_on_victim, all.len());

    // The leader's own snapshot (written past RocksDB's write-ahead log and
    // flushed) is what it restarts from: its log before it is purged.
    cluster.kill(leader_now).await;
    cluster.restart(leader_now).await;
    cluster.wait_for_leader(ELECTION).await;
    cluster.assert_same_state().await;
    let tickets_on_restarted = {
        let state = cluster.nodes[&leader_now].state.read().unwrap();
        state.machine.tickets().count()
    };
    assert_eq!(tickets_on_restarted, all.len());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retried_purchase_after_leader_change_sells_nothing_twice() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(Some("retrying-buyer"));
    create_event(&client, 10, 4).await;
    register(&client, "ana", 1).await;

    let hold = client
        .place_hold("rock", "pista", "ana", 3)
        .await
        .expect("hold")
        .hold
        .expect("hold in reply");
    let request_id = 424_242;
    let first = client
        .purchase_with_request_id(hold.hold_id, "ana", request_id)
        .await
        .expect("purchase");
    assert_eq!(first.tickets.len(), 3);

    cluster.kill(leader).await;
    cluster.wait_for_leader(ELECTION).await;

    // Same client id, same request id: the first answer comes back.
    let again = client
        .purchase_with_request_id(hold.hold_id, "ana", request_id)
        .await
        .expect("retry answered");
    assert_eq!(again.tickets, first.tickets);
    assert_eq!(again.log_index, first.log_index);

    // A new request for the same hold is refused: it was already bought.
    let err = client.purchase(hold.hold_id, "ana").await.unwrap_err();
    assert_eq!(err.rejection_code(), Some("already_purchased"), "{err}");

    let availability = client.availability("rock").await.expect("availability");
    let pista = availability
        .categories
        .iter()
        .find(|c| c.category_id == "pista")
        .expect("pista");
    assert_eq!((pista.sold, pista.held, pista.available), (3, 0, 7));
    assert_eq!(
        client
            .list_tickets("ana")
            .await
            .expect("tickets")
            .tickets
            .len(),
        3
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typed_errors_and_not_leader_answers() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    create_event(&client, 2, 2).await;
    register(&client, "ana", 1).await;
    register(&client, "bia", 2).await;

    let code = |e: ClientError| e.rejection_code().map(str::to_string);
    let e = client
        .place_hold("rock", "pista", "ana", 0)
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("invalid_field"));
    let e = client
        .place_hold("nope", "pista", "ana", 1)
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("unknown_event"));
    let e = client
        .place_hold("rock", "vip", "ana", 1)
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("unknown_category"));
    let e = client
        .place_hold("rock", "pista", "ana", 3)
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("limit_exceeded"));
    client
        .place_hold("rock", "pista", "ana", 2)
        .await
        .expect("hold");
    let e = client
        .place_hold("rock", "pista", "bia", 1)
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("sold_out"));
    let e = client.purchase(999, "ana").await.unwrap_err();
    assert_eq!(code(e).as_deref(), Some("hold_not_found"));

    // A follower answers writes with "not leader" and the leader's address.
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    let mut raw = ingressoja_client::proto::ticketing::ticketing_client::TicketingClient::new(
        cluster.raw_channel(follower),
    );
    let status = raw
        .place_hold(ingressoja_client::proto::ticketing::HoldRequest {
            key: Some(ingressoja_client::proto::ticketing::IdempotencyKey {
                client_id: "raw".into(),
                request_id: 1,
            }),
            event_id: "rock".into(),
            category_id: "cadeira".into(),
            customer_id: "bia".into(),
            quantity: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let md = status.metadata();
    assert_eq!(
        md.get(ingressoja_client::proto::ERROR_CODE_KEY).unwrap(),
        "not_leader"
    );
    assert_eq!(
        md.get(ingressoja_client::proto::LEADER_ADDR_KEY).unwrap(),
        cluster.configs[&leader].advertise_addr()
    );
    cluster.shutdown().await;
}
