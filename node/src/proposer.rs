//! Proposing sale requests to Raft with group commit.
//!
//! Requests that arrive while earlier entries are in flight are gathered into
//! one [`Proposal`] — one Raft entry, one fsync, one replication round trip for
//! all of them — and each caller gets its own answer back. Under light load
//! a proposal holds one request and costs no extra wait; under a burst (ten
//! thousand queue joins) proposals grow to [`MAX_REQUESTS_PER_ENTRY`].

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::error::ServiceError;
use crate::machine::{Effect, Proposal, Request};
use crate::raft_types::Raft;

/// Most requests in one Raft entry.
pub const MAX_REQUESTS_PER_ENTRY: usize = 1_024;
/// Most entries being committed at once.
pub const MAX_ENTRIES_IN_FLIGHT: usize = 4;
/// Requests waiting to join an entry before callers are pushed back.
const QUEUE_DEPTH: usize = 16_384;

/// Wall-clock milliseconds since the Unix epoch: the stamp the leader puts on entries.
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
    /// Starts the group-commit loop for `raft`; it stops when every clone is dropped.
    pub fn new(raft: Raft, commit_seconds: Histogram) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run_group_commit(raft, rx, commit_seconds));
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
async fn run_group_commit(raft: Raft, mut rx: mpsc::Receiver<Pending>, commit_seconds: Histogram) {
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
        let raft = raft.clone();
        let commit_seconds = commit_seconds.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            commit(&raft, pending).await;
            commit_seconds.observe(started.elapsed().as_secs_f64());
            drop(permit);
        });
    }
}

async fn commit(raft: &Raft, pending: Vec<Pending>) {
    let (requests, replies): (Vec<Request>, Vec<_>) =
        pending.into_iter().map(|p| (p.request, p.reply)).unzip();
    let proposal = Proposal {
        ts_ms: wall_clock_ms(),
        requests,
    };
    match raft.client_write(proposal).await {
        Ok(response) => {
            let mut answers = response.data.into_iter();
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
        Err(e) => {
            let error = ServiceError::from(e);
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
