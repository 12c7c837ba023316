//! Proposing sale requests to Raft with group commit.
//!
//! Requests that arrive while earlier entries are in flight are gathered into
//! one [`Proposal`] — one Raft entry, one fsync, one replication round trip for
//! all of them — and each caller gets its own answer back. Under light load
//! a proposal holds one request and costs no extra wait; under a burst (ten
//! thousand queue joins) proposals grow to [`MAX_REQUESTS_PER_ENTRY`].
//!
//! Every commit is bounded by [`COMMIT_TIMEOUT`]: openraft 0.9 never answers
//! a `client_write` of a leader that was cut off and later given a snapshot,
//! and an unanswered write would keep one of the [`MAX_ENTRIES_IN_FLIGHT`]
//! slots for ever (four of them and the node accepted no write again, even
//! once it led again). Past the bound the callers are told `unavailable`:
//! the outcome is unknown, and a retry with the same request key gets the
//! first answer if the entry did commit.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::cluster_clock::ClusterClock;
use crate::error::ServiceError;
use crate::machine::{Answer, Effect, Proposal, Request};
use crate::raft_types::Raft;

/// Most requests in one Raft entry.
pub const MAX_REQUESTS_PER_ENTRY: usize = 1_024;
/// Most entries being committed at once.
pub const MAX_ENTRIES_IN_FLIGHT: usize = 4;
/// Requests waiting to join an entry before callers are pushed back.
const QUEUE_DEPTH: usize = 16_384;
/// Longest wait for one entry to commit and apply. Far above a commit under
/// a festival's load (p99.9 about a second), far below "for ever".
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the group commit needs of Raft: append one proposal and wait for
/// its answers. [`Raft`] in a node; a scripted log in the tests.
pub trait Log: Clone + Send + Sync + 'static {
    /// Commits `proposal` and returns one answer per request, in order.
    fn write(
        &self,
        proposal: Proposal,
    ) -> impl Future<Output = Result<Vec<Answer>, ServiceError>> + Send;
}

impl Log for Raft {
    async fn write(&self, proposal: Proposal) -> Result<Vec<Answer>, ServiceError> {
        self.client_write(proposal)
            .await
            .map(|response| response.data)
            .map_err(ServiceError::from)
    }
}

/// This machine's wall clock, milliseconds since the Unix epoch. Entries are
/// stamped with [`ClusterClock::now_ms`] instead, which corrects it by the
/// peers' clocks.
pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// An accepted request's effect and the log index it (first) committed at.
#[derive(Debug)]
pub struct Committed {
    pub effect: Effect,
    pub log_index: u64,
}

struct Pending {
    request: Request,
    reply: oneshot::Sender<Result<Committed, ServiceError>>,
}

/// Sends requests through the Raft log. Cheap to clone; clones share one group-commit loop.
#[derive(Clone)]
pub struct Proposer {
    queue: mpsc::Sender<Pending>,
}

impl Proposer {
    /// Starts the group-commit loop over `log` (the node's [`Raft`]),
    /// stamping entries with `clock`'s time; it stops when every clone is
    /// dropped.
    pub fn new(log: impl Log, commit_seconds: Histogram, clock: Arc<ClusterClock>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run_group_commit(log, rx, commit_seconds, clock));
        Proposer { queue }
    }

    /// Commits `request` and returns its effect, or the committed rejection as an error.
    ///
    /// Validates first, so malformed input never costs a round trip.
    pub async fn propose(&self, request: Request) -> Result<Committed, ServiceError> {
        request.command.validate()?;
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { request, reply })
            .await
            .map_err(|_| ServiceError::Unavailable("node is shutting down".into()))?;
        answer
            .await
            .map_err(|_| ServiceError::Unavailable("node is shutting down".into()))?
    }
}

/// Gathers waiting requests into one proposal per free commit slot and commits them.
async fn run_group_commit(
    log: impl Log,
    mut rx: mpsc::Receiver<Pending>,
    commit_seconds: Histogram,
    clock: Arc<ClusterClock>,
) {
    let in_flight = Arc::new(Semaphore::new(MAX_ENTRIES_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Wait for a commit slot first: requests arriving meanwhile join this entry.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut pending = vec![first];
        while pending.len() < MAX_REQUESTS_PER_ENTRY {
            match rx.try_recv() {
                Ok(p) => pending.push(p),
                Err(_) => break,
            }
        }
        let log = log.clone();
        let commit_seconds = commit_seconds.clone();
        let ts_ms = clock.now_ms();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            commit(&log, pending, ts_ms).await;
            commit_seconds.observe(started.elapsed().as_secs_f64());
            drop(permit);
        });
    }
}

/// Commits `pending` as one entry stamped `ts_ms` (the cluster's time, see
/// [`crate::cluster_clock`]) and answers each.
async fn commit(log: &impl Log, pending: Vec<Pending>, ts_ms: u64) {
    let (requests, replies): (Vec<Request>, Vec<_>) =
        pending.into_iter().map(|p| (p.request, p.reply)).unzip();
    let proposal = Proposal { ts_ms, requests };
    let written = tokio::time::timeout(COMMIT_TIMEOUT, log.write(proposal))
        .await
        .unwrap_or_else(|_| {
            tracing::warn!(
                timeout_secs = COMMIT_TIMEOUT.as_secs(),
                requests = replies.len(),
                "an entry was not committed in time: its callers are told the outcome is unknown"
            );
            Err(ServiceError::Unavailable(format!(
                "the write was not confirmed within {} s; its outcome is unknown: \
                 retry with the same request key",
                COMMIT_TIMEOUT.as_secs()
            )))
        });
    match written {
        Ok(answers) => {
            let mut answers = answers.into_iter();
            for reply in replies {
                let result = match answers.next() {
                    Some(answer) => {
                        answer
                            .outcome
                            .map_err(ServiceError::from)
                            .map(|effect| Committed {
                                effect,
                                log_index: answer.log_index,
                            })
                    }
                    None => Err(ServiceError::Internal(
                        "committed entry returned too few answers".into(),
                    )),
                };
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::machine::{Command, Effect};

    /// A log whose first `stuck` writes are never answered (a deposed
    /// leader's) and whose later ones commit at once, answering `Ticked`.
    #[derive(Clone)]
    struct StuckLog {
        stuck: usize,
        writes: Arc<Mutex<usize>>,
    }

    impl Log for StuckLog {
        async fn write(&self, proposal: Proposal) -> Result<Vec<Answer>, ServiceError> {
            let nth = {
                let mut writes = self.writes.lock().unwrap();
                *writes += 1;
                *writes
            };
            if nth <= self.stuck {
                std::future::pending::<()>().await;
            }
            Ok(proposal
                .requests
                .iter()
                .map(|_| Answer {
                    log_index: nth as u64,
                    outcome: Ok(Effect::Ticked),
                })
                .collect())
        }
    }

    fn tick() -> Request {
        Request {
            key: None,
            command: Command::Tick,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn writes_never_answered_free_their_slots_and_later_writes_commit() {
        let log = StuckLog {
            stuck: MAX_ENTRIES_IN_FLIGHT,
            writes: Arc::default(),
        };
        // Without the bound the slots stay taken and this never ends: give
        // it three bounds' worth of (paused, so instant) time to finish.
        let run = async {
            let proposer = Proposer::new(
                log.clone(),
                Histogram::new([1.0]),
                Arc::new(ClusterClock::default()),
            );
            // Each in its own entry (one at a time until every slot is taken).
            let mut stuck = Vec::new();
            for _ in 0..MAX_ENTRIES_IN_FLIGHT {
                let p = proposer.clone();
                stuck.push(tokio::spawn(async move { p.propose(tick()).await }));
                while *log.writes.lock().unwrap() < stuck.len() {
                    tokio::task::yield_now().await;
                }
            }
            let p = proposer.clone();
            let next = tokio::spawn(async move { p.propose(tick()).await });
            // Every slot is held by a write nobody answers: time runs to the bound.
            for handle in stuck {
                let answer = handle.await.unwrap();
                assert!(
                    matches!(&answer, Err(ServiceError::Unavailable(m)) if m.contains("retry with the same request key")),
                    "{answer:?}"
                );
            }
            let answer = next.await.unwrap().expect("the next write commits");
            assert!(matches!(answer.effect, Effect::Ticked));
            assert_eq!(answer.log_index, MAX_ENTRIES_IN_FLIGHT as u64 + 1);
        };
        tokio::time::timeout(COMMIT_TIMEOUT * 3, run)
            .await
            .expect("a write nobody answered kept its slot: the next write never committed");
    }

    /// A log that keeps the stamps of the entries written to it.
    #[derive(Clone, Default)]
    struct StampLog {
        stamps: Arc<Mutex<Vec<u64>>>,
    }

    impl Log for StampLog {
        async fn write(&self, proposal: Proposal) -> Result<Vec<Answer>, ServiceError> {
            self.stamps.lock().unwrap().push(proposal.ts_ms);
            Ok(proposal
                .requests
                .iter()
                .map(|_| Answer {
                    log_index: 1,
                    outcome: Ok(Effect::Ticked),
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn a_leader_whose_clock_is_a_day_ahead_stamps_its_followers_time() {
        const NOW: u64 = 1_800_000_000_000;
        const DAY_MS: u64 = 24 * 60 * 60 * 1000;
        let clock = Arc::new(ClusterClock::with_local(|| NOW + DAY_MS));
        // Both followers' replies carried the real time.
        let now = std::time::Instant::now();
        clock.observe(2, NOW, now, now);
        clock.observe(3, NOW + 1, now, now);
        let log = StampLog::default();
        let proposer = Proposer::new(log.clone(), Histogram::new([1.0]), clock);
        proposer.propose(tick()).await.expect("commits");
        let stamps = log.stamps.lock().unwrap().clone();
        assert_eq!(stamps.len(), 1);
        assert!(
            (NOW + 1..NOW + 1_000).contains(&stamps[0]),
            "the entry carries the followers' median time, not the leader's clock a day ahead: {stamps:?}"
        );
    }
}
