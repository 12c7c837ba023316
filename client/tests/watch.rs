//! `watch_events` against fake nodes that end or drop the stream mid-way:
//! the watch moves to the next node and resumes with no gap and no repeat.

use std::time::{Duration, Instant};

use futures::StreamExt;
use ingressoja_client::{ClientError, ClientOptions};
use ingressoja_test_support::fake_node::{
    client, closed_addr, domain_events, serve, Fake, StreamEnd,
};

fn fake(events: u64, stream_end: StreamEnd, overlap: u64) -> Fake {
    Fake {
        events: std::sync::Arc::new(std::sync::Mutex::new(domain_events(events))),
        stream_end,
        overlap,
        ..Fake::leader(1)
    }
}

/// The next `n` event seqs, failing the test if they take too long.
async fn take_seqs(watch: &mut ingressoja_client::EventWatch, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    for _ in 0..n {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("an event in time")
            .expect("an event");
        seqs.push(event.seq);
    }
    seqs
}

#[tokio::test]
async fn a_dropped_stream_resumes_on_the_next_node_without_gap_or_repeat() {
    // a sends 0..=3 and fails; b sends 4..=6 (and replays two before) and
    // ends; c replays three before and stays open.
    let a = fake(12, StreamEnd::FailAfter(4), 0);
    let b = fake(12, StreamEnd::EndAfter(5), 2);
    let c = fake(12, StreamEnd::Open, 3);
    let (ra, rb, rc) = (
        serve(a.clone(), None).await,
        serve(b.clone(), None).await,
        serve(c.clone(), None).await,
    );
    let client = client(vec![ra.addr.clone(), rb.addr.clone(), rc.addr.clone()]);
    let mut watch = client.watch_events(0, None);

    let seqs = take_seqs(&mut watch, 12).await;
    assert_eq!(seqs, (0..12).collect::<Vec<u64>>());
    assert_eq!(watch.next_seq(), 12);
    assert_eq!(watch.node(), Some(rc.addr.as_str()));

    let from = |f: &Fake| f.watches().iter().map(|w| w.from_seq).collect::<Vec<_>>();
    assert_eq!(from(&a), vec![0]);
    assert_eq!(from(&b), vec![4]);
    assert_eq!(from(&c), vec![7]);

    // Nothing more comes: the stream on c stays open and quiet.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), watch.next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_watch_starts_where_asked_and_filters_by_customer() {
    let node = fake(10, StreamEnd::Open, 0);
    let running = serve(node.clone(), None).await;
    let client = client(vec![running.addr.clone()]);
    let mut watch = client.watch_events(3, Some("alice"));
    let seqs = take_seqs(&mut watch, 3).await;
    assert_eq!(seqs, vec![4, 6, 8]);
    let request = &node.watches()[0];
    assert_eq!(
        (request.from_seq, request.customer_id.as_str()),
        (3, "alice")
    );
}

#[tokio::test]
async fn a_dead_first_node_is_skipped() {
    let running = serve(fake(3, StreamEnd::Open, 0), None).await;
    let client = client(vec![closed_addr(), running.addr.clone()]);
    let stream = client.watch_events(0, None).into_stream();
    let seqs: Vec<u64> = stream
        .take(3)
        .map(|event| event.expect("an event").seq)
        .collect()
        .await;
    assert_eq!(seqs, vec![0, 1, 2]);
}

#[tokio::test]
async fn a_refusal_is_returned_and_not_retried_elsewhere() {
    let a = fake(3, StreamEnd::Open, 0);
    let b = fake(3, StreamEnd::Open, 0);
    let (ra, rb) = (serve(a.clone(), None).await, serve(b.clone(), None).await);
    let client = client(vec![ra.addr.clone(), rb.addr.clone()]);
    let mut watch = client.watch_events(0, Some("bad!"));
    let error = watch.next().await.unwrap_err();
    assert_eq!(error.rejection_code(), Some("invalid_argument"));
    assert_eq!(a.watches().len() + b.watches().len(), 1);
}

#[tokio::test]
async fn no_reachable_node_fails_at_the_deadline_and_the_watch_stays_usable() {
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        overall_deadline: Duration::from_secs(1),
        client_id: None,
        tls: None,
    };
    let client =
        ingressoja_client::Client::connect(vec![closed_addr(), closed_addr()], options).unwrap();
    let mut watch = client.watch_events(5, None);
    let started = Instant::now();
    match watch.next().await {
        Err(ClientError::Unavailable { attempts, .. }) => assert!(attempts >= 2, "{attempts}"),
        other => panic!("{other:?}"),
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(watch.next_seq(), 5);
    // A second call tries again for a whole deadline.
    let again = Instant::now();
    assert!(watch.next().await.is_err());
    assert!(again.elapsed() >= Duration::from_millis(900));
}
