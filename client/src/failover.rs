//! The retry loop: send an attempt to the node believed to be the leader,
//! follow `not_leader` redirects, skip dead nodes, back off, and stop at the
//! overall deadline.
//!
//! The loop is generic over the attempt so it can be tested without a
//! server: an attempt is any closure from a [`Target`] to a gRPC result.

use std::future::Future;
use std::time::Duration;

use ingressoja_proto::ticketing::IdempotencyKey;
use tokio::time::{sleep, timeout, Instant};
use tonic::Status;

use crate::backoff::Backoff;
use crate::classify::{classify, Verdict};
use crate::client::Client;
use crate::cluster::Target;
use crate::error::ClientError;

impl Client {
    /// Runs `op` against the leader until it answers, a domain rejection
    /// comes back, or the overall deadline passes.
    pub(crate) async fn with_failover<T, F, Fut>(&self, mut op: F) -> Result<T, ClientError>
    where
        F: FnMut(Target) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let options = &self.inner.options;
        let deadline = Instant::now() + options.overall_deadline;
        let mut backoff = Backoff::new();
        let mut attempts: u32 = 0;
        let mut redirects_in_a_row = 0usize;
        let mut last_error = String::from("no attempt was made");

        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ClientError::Unavailable {
                    attempts,
                    last_error,
                });
            }
            let target = self.cluster().current_target();
            let addr = target.addr.clone();
            attempts += 1;

            let per_attempt = options.request_timeout.min(remaining);
            let verdict = match timeout(per_attempt, op(target)).await {
                Ok(Ok(reply)) => {
                    self.cluster().confirm_leader(&addr);
                    return Ok(reply);
                }
                Ok(Err(status)) => classify(&status),
                Err(_elapsed) => Verdict::Retry {
                    reason: format!("no answer within {}", pretty(per_attempt)),
                    timed_out: true,
                },
            };

            match verdict {
                Verdict::Fail(error) => return Err(error),
                Verdict::NotLeader {
                    leader_addr: Some(leader),
                } if self.cluster().follow_hint(&addr, &leader) => {
                    tracing::debug!(from = %addr, to = %leader, "not leader, following hint");
                    last_error = format!("{addr}: not the leader, redirected to {leader}");
                    redirects_in_a_row += 1;
                    // Redirects are free, unless nodes keep pointing at each
                    // other (a stale hint during an election): then pause.
                    if redirects_in_a_row > self.cluster().len() {
                        pause(&mut backoff, deadline).await;
                    }
                }
                Verdict::NotLeader { .. } => {
                    tracing::debug!(node = %addr, "not leader, no leader known yet");
                    last_error = format!("{addr}: not the leader, and no leader is known");
                    redirects_in_a_row = 0;
                    self.cluster().skip(&addr, false);
                    pause(&mut backoff, deadline).await;
                }
                Verdict::Retry { reason, timed_out } => {
                    tracing::debug!(node = %addr, %reason, "attempt failed, trying another node");
                    last_error = format!("{addr}: {reason}");
                    redirects_in_a_row = 0;
                    self.cluster().skip(&addr, timed_out);
                    pause(&mut backoff, deadline).await;
                }
            }
        }
    }

    /// [`with_failover`](Self::with_failover) for a mutating call: builds one
    /// idempotency key from `request_id` and hands the same key to every
    /// attempt, so a retry of a call that did land is recognised.
    pub(crate) async fn with_key<T, F, Fut>(
        &self,
        request_id: u64,
        mut op: F,
    ) -> Result<T, ClientError>
    where
        F: FnMut(IdempotencyKey, Target) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let key = self.idempotency_key(request_id);
        self.with_failover(|target| op(key.clone(), target)).await
    }
}

/// Sleeps for the next backoff step, but never past the deadline.
async fn pause(backoff: &mut Backoff, deadline: Instant) {
    let remaining = deadline.saturating_duration_since(Instant::now());
    sleep(backoff.next_pause().min(remaining)).await;
}

/// `1.5s`, `200ms`: durations as an operator reads them.
pub(crate) fn pretty(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use ingressoja_proto::{ERROR_CODE_KEY, LEADER_ADDR_KEY};
    use tonic::metadata::MetadataValue;

    use super::*;
    use crate::options::ClientOptions;

    fn client(addrs: &[&str], deadline: Duration) -> Client {
        let options = ClientOptions {
            request_timeout: Duration::from_millis(200),
            overall_deadline: deadline,
            client_id: Some("test-client".into()),
            tls: None,
        };
        Client::connect(addrs.iter().map(|a| a.to_string()).collect(), options).unwrap()
    }

    fn not_leader(leader_addr: &str) -> Status {
        let mut status = Status::failed_precondition("not the leader");
        let meta = status.metadata_mut();
        meta.insert(ERROR_CODE_KEY, MetadataValue::from_static("not_leader"));
        meta.insert(
            LEADER_ADDR_KEY,
            MetadataValue::try_from(leader_addr).unwrap(),
        );
        status
    }

    /// Every attempt as (address, key) in order.
    type Log = Arc<Mutex<Vec<(String, IdempotencyKey)>>>;

    #[tokio::test]
    async fn follows_not_leader_and_reuses_the_same_key() {
        let client = client(&["a:1", "b:2", "c:3"], Duration::from_secs(5));
        let log: Log = Arc::default();
        let seen = log.clone();
        let reply = client
            .with_key(client.next_request_id(), move |key, target| {
                let seen = seen.clone();
                async move {
                    let mut seen = seen.lock().unwrap();
                    seen.push((target.addr.clone(), key));
                    match seen.len() {
                        1 => Err(not_leader("b:2")),
                        2 => Err(not_leader("http://d:4")),
                        _ => Ok("bought"),
                    }
                }
            })
            .await;
        assert_eq!(reply, Ok("bought"));

        let log = log.lock().unwrap();
        let addrs: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(addrs, vec!["a:1", "b:2", "d:4"]);
        assert!(log.iter().all(|(_, key)| key == &log[0].1), "{log:?}");
        assert_eq!(log[0].1.client_id, "test-client");
        drop(log);

        assert_eq!(client.leader_hint().as_deref(), Some("d:4"));
        assert_eq!(client.known_nodes(), vec!["a:1", "b:2", "c:3", "d:4"]);
    }

    #[tokio::test]
    async fn the_next_call_gets_a_new_key_and_starts_at_the_leader() {
        let client = client(&["a:1", "b:2"], Duration::from_secs(5));
        let log: Log = Arc::default();
        for _ in 0..2 {
            let seen = log.clone();
            client
                .with_key(client.next_request_id(), move |key, target| {
                    let seen = seen.clone();
                    async move {
                        seen.lock().unwrap().push((target.addr.clone(), key));
                        if target.addr == "b:2" {
                            Ok(())
                        } else {
                            Err(not_leader("b:2"))
                        }
                    }
                })
                .await
                .unwrap();
        }
        let log = log.lock().unwrap();
        let addrs: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(addrs, vec!["a:1", "b:2", "b:2"]);
        assert_eq!(log[0].1, log[1].1);
        assert_eq!(log[2].1.request_id, log[1].1.request_id + 1);
    }

    #[tokio::test]
    async fn a_forced_request_id_is_sent() {
        let client = client(&["a:1"], Duration::from_secs(5));
        let key = client
            .with_key(7, |key, _| async move { Ok::<_, Status>(key) })
            .await
            .unwrap();
        assert_eq!(key.request_id, 7);
    }

    #[tokio::test]
    async fn transport_errors_move_round_robin_with_backoff() {
        let client = client(&["a:1", "b:2", "c:3"], Duration::from_secs(5));
        let log: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let seen = log.clone();
        client
            .with_failover(move |target| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .push((target.addr.clone(), Instant::now()));
                    if target.addr == "c:3" {
                        Ok(())
                    } else {
                        Err(Status::unavailable("tcp connect error"))
                    }
                }
            })
            .await
            .unwrap();
        let log = log.lock().unwrap();
        let addrs: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(addrs, vec!["a:1", "b:2", "c:3"]);
        assert!(log[1].1 - log[0].1 >= backoff_step(0));
        assert!(log[2].1 - log[1].1 >= backoff_step(1));
        assert_eq!(client.leader_hint().as_deref(), Some("c:3"));
    }

    fn backoff_step(n: usize) -> Duration {
        let mut backoff = Backoff::new();
        (0..n).for_each(|_| {
            backoff.next_pause();
        });
        backoff.next_pause()
    }

    #[tokio::test]
    async fn an_empty_leader_hint_backs_off_and_moves_on() {
        let client = client(&["a:1", "b:2"], Duration::from_secs(5));
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = log.clone();
        client
            .with_failover(move |target| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(target.addr.clone());
                    if target.addr == "b:2" {
                        Ok(())
                    } else {
                        Err(not_leader(""))
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(*log.lock().unwrap(), vec!["a:1", "b:2"]);
    }

    #[tokio::test]
    async fn a_rejection_is_returned_at_once() {
        let client = client(&["a:1", "b:2"], Duration::from_secs(5));
        let calls = Arc::new(Mutex::new(0));
        let count = calls.clone();
        let result: Result<(), _> = client
            .with_failover(move |_| {
                *count.lock().unwrap() += 1;
                async {
                    let mut status = Status::failed_precondition("sold out");
                    status
                        .metadata_mut()
                        .insert(ERROR_CODE_KEY, MetadataValue::from_static("sold_out"));
                    Err(status)
                }
            })
            .await;
        assert_eq!(
            result,
            Err(ClientError::refused(
                ingressoja_codes::RejectionCode::SoldOut,
                "sold out"
            ))
        );
        assert_eq!(*calls.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn gives_up_at_the_deadline_with_the_last_error() {
        let client = client(&["a:1", "b:2"], Duration::from_millis(400));
        let started = Instant::now();
        let result: Result<(), _> = client
            .with_failover(|_| async { Err(Status::unavailable("connection refused")) })
            .await;
        let elapsed = started.elapsed();
        match result {
            Err(ClientError::Unavailable {
                attempts,
                last_error,
            }) => {
                assert!(attempts >= 3, "{attempts}");
                assert!(last_error.contains("connection refused"), "{last_error}");
            }
            other => panic!("{other:?}"),
        }
        assert!(elapsed < Duration::from_millis(700), "{elapsed:?}");
        assert_eq!(client.leader_hint(), None);
    }

    #[tokio::test]
    async fn a_hanging_node_costs_one_request_timeout() {
        let client = client(&["a:1", "b:2"], Duration::from_secs(5));
        let started = Instant::now();
        client
            .with_failover(|target| async move {
                if target.addr == "a:1" {
                    std::future::pending::<()>().await;
                }
                Ok::<_, Status>(())
            })
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    }

    #[tokio::test]
    async fn nodes_pointing_at_each_other_do_not_spin() {
        let client = client(&["a:1", "b:2"], Duration::from_millis(600));
        let calls = Arc::new(Mutex::new(0u32));
        let count = calls.clone();
        let result: Result<(), _> = client
            .with_failover(move |target| {
                *count.lock().unwrap() += 1;
                let other = if target.addr == "a:1" { "b:2" } else { "a:1" };
                async move { Err(not_leader(other)) }
            })
            .await;
        assert!(matches!(result, Err(ClientError::Unavailable { .. })));
        // Without pauses this would be thousands of calls.
        assert!(*calls.lock().unwrap() < 40, "{}", calls.lock().unwrap());
    }
}
