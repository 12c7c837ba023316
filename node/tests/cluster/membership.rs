//! Growing from 3 to 5 voters and shrinking back (removing the leader too)
//! while buyers keep buying: no acknowledged purchase is lost and the
//! remaining replicas hold identical state. Refusals change nothing.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ingressoja_client::membership::MembershipError;
use ingressoja_test_support::load::{assert_stored, PurchaseLoad};
use ingressoja_test_support::{ClusterOptions, TestCluster};

use crate::{create_event, ELECTION};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grow_to_five_and_shrink_back_under_load_loses_nothing() {
    let mut cluster = TestCluster::start(ClusterOptions {
        spares: 2,
        ..ClusterOptions::default()
    })
    .await;
    cluster.wait_for_leader(ELECTION).await;
    let ops = cluster.client(Some("ops"));
    create_event(&ops, 100_000, 100_000).await;
    let load = PurchaseLoad::start(&cluster.client(Some("load")), 4);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Grow: 4 and 5 start, join as learners, catch up, become voters.
    for id in [4, 5] {
        cluster.restart(id).await;
        let progress = Arc::new(Mutex::new(Vec::new()));
        let seen = progress.clone();
        let reply = ops
            .add_node(
                id,
                &cluster.addr(id),
                Duration::from_secs(60),
                move |step| seen.lock().unwrap().push(step),
            )
            .await
            .unwrap_or_else(|e| panic!("add node {id}: {e}"));
        assert!(
            reply.members.iter().any(|m| m.id == id && m.voter),
            "{reply:?}"
        );
        assert!(
            !progress.lock().unwrap().is_empty(),
            "catch-up progress was reported"
        );
    }
    let status = ops.leader_status().await.unwrap();
    assert_eq!(status.members.iter().filter(|m| m.voter).count(), 5);

    // Refusals: nothing changes.
    let addr4 = cluster.addr(4);
    assert!(matches!(
        ops.add_node(4, &addr4, Duration::from_secs(5), |_| {})
            .await,
        Err(MembershipError::IdInUse { id: 4, .. })
    ));
    assert!(matches!(
        ops.add_node(6, &addr4, Duration::from_secs(5), |_| {})
            .await,
        Err(MembershipError::WrongId { found: 4, .. })
    ));
    assert!(matches!(
        ops.add_node(6, "127.0.0.1:1", Duration::from_secs(5), |_| {})
            .await,
        Err(MembershipError::Unreachable { .. })
    ));
    assert!(matches!(
        ops.remove_node(9, false).await,
        Err(MembershipError::UnknownNode(9))
    ));
    assert_eq!(ops.leader_status().await.unwrap().members.len(), 5);

    // Shrink: remove the leader, then another original node.
    let leader = cluster.wait_for_leader(ELECTION).await;
    ops.remove_node(leader, false)
        .await
        .unwrap_or_else(|e| panic!("remove leader {leader}: {e}"));
    cluster.kill(leader).await;
    let new_leader = cluster.wait_for_leader(ELECTION).await;
    assert_ne!(new_leader, leader);
    let other = [1, 2, 3]
        .into_iter()
        .find(|&id| id != leader && id != new_leader)
        .expect("an original follower");
    ops.remove_node(other, false)
        .await
        .unwrap_or_else(|e| panic!("remove node {other}: {e}"));
    cluster.kill(other).await;
    let voters: BTreeSet<u64> = ops
        .leader_status()
        .await
        .unwrap()
        .members
        .iter()
        .filter(|m| m.voter)
        .map(|m| m.id)
        .collect();
    assert_eq!(voters.len(), 3, "{voters:?}");
    assert!(!voters.contains(&leader) && !voters.contains(&other));
    // Three voters left: one more removal is refused without --force.
    let any = *voters.iter().next().unwrap();
    assert!(matches!(
        ops.remove_node(any, false).await,
        Err(MembershipError::TooFewVoters { left: 2, .. })
    ));

    tokio::time::sleep(Duration::from_millis(500)).await;
    let sold = load.stop().await;
    assert!(
        sold.len() > 10,
        "the load kept selling during the changes ({} tickets)",
        sold.len()
    );

    // Every acknowledged ticket is stored, and the counters agree with the tickets.
    let reader = cluster.client(Some("reader"));
    reader.learn_nodes(
        &voters
            .iter()
            .map(|&id| cluster.addr(id))
            .collect::<Vec<_>>(),
    );
    let stored = assert_stored(&reader, 4, &sold).await;
    let availability = reader.availability("rock").await.unwrap();
    let counted: u32 = availability.categories.iter().map(|c| c.sold).sum();
    assert_eq!(
        counted as usize,
        stored.len(),
        "sold counters disagree with stored tickets"
    );
    cluster.assert_same_state().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_restart_under_load_keeps_every_acknowledged_sale() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let first_leader = cluster.wait_for_leader(ELECTION).await;
    let ops = cluster.client(Some("ops"));
    create_event(&ops, 100_000, 100_000).await;
    let load = PurchaseLoad::start(&cluster.client(Some("load")), 3);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let cluster = Arc::new(tokio::sync::Mutex::new(cluster));
    let restarted = {
        let cluster = cluster.clone();
        ops.rolling_restart(
            Duration::from_secs(60),
            move |member| {
                let cluster = cluster.clone();
                async move {
                    let mut cluster = cluster.lock().await;
                    cluster.kill(member.id).await;
                    cluster.restart(member.id).await;
                    Ok(())
                }
            },
            |_| {},
        )
        .await
        .expect("rolling restart")
    };
    assert_eq!(restarted.len(), 3);
    assert_eq!(
        *restarted.last().unwrap(),
        first_leader,
        "the leader goes last"
    );

    let sold = load.stop().await;
    assert!(
        sold.len() > 5,
        "the load kept selling ({} tickets)",
        sold.len()
    );
    let cluster = Arc::try_unwrap(cluster)
        .ok()
        .expect("the restart action released the cluster")
        .into_inner();
    let reader = cluster.client(Some("reader"));
    assert_stored(&reader, 3, &sold).await;
    cluster.assert_same_state().await;
    // A failing restart action stops the procedure with the node's id.
    let failed = ops
        .rolling_restart(
            Duration::from_secs(5),
            |_| async { Err("no such unit".to_string()) },
            |_| {},
        )
        .await;
    assert!(
        matches!(failed, Err(MembershipError::RestartFailed { .. })),
        "{failed:?}"
    );
    cluster.shutdown().await;
}
