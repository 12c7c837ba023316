//! Linearizable reads with a shared leadership check.
//!
//! A read that must be current (queue position, availability, a purchase's
//! idempotency lookup) first asks openraft to confirm this node still leads
//! (`ensure_linearizable`: a heartbeat to every voter, then waiting for the
//! state machine to apply up to the read index). openraft 0.9 sends that
//! heartbeat round for every single call, so under a flash sale each read
//! cost two extra RPCs to the followers — as many as the writes themselves.
//!
//! Here reads that arrive while a check is running wait for the next one,
//! and one check answers every read waiting for it. That stays linearizable
//! because a check only answers reads that were waiting *before* it
//! started: its read index is at least the commit index at each read's
//! invocation, and the leadership it confirms is confirmed after that.

use tokio::sync::{mpsc, oneshot};

use crate::error::ServiceError;
use crate::raft_types::Raft;

/// Reads waiting for a check before callers are pushed back.
const QUEUE_DEPTH: usize = 16_384;

type Answer = oneshot::Sender<Result<u64, ServiceError>>;

/// Confirms leadership for reads, one shared check at a time. Cheap to
/// clone; clones share one checker task, which stops when every clone is dropped.
#[derive(Clone)]
pub struct ReadBarrier {
    waiting: mpsc::Sender<Answer>,
}

impl ReadBarrier {
    /// Starts the checker for `raft`.
    pub fn new(raft: Raft) -> Self {
        let (waiting, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run_checks(raft, rx));
        ReadBarrier { waiting }
    }

    /// Waits until this node may serve a linearizable read begun now, and
    /// returns the read index (the state machine has applied up to it).
    pub async fn wait(&self) -> Result<u64, ServiceError> {
        let (tx, rx) = oneshot::channel();
        let stopped = || ServiceError::Unavailable("node is shutting down".into());
        self.waiting.send(tx).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

async fn run_checks(raft: Raft, mut rx: mpsc::Receiver<Answer>) {
    while let Some(first) = rx.recv().await {
        // Everyone already waiting was waiting before this check starts.
        let mut answers = vec![first];
        while let Ok(more) = rx.try_recv() {
            answers.push(more);
        }
        let result = raft
            .ensure_linearizable()
            .await
            .map(|log_id| log_id.map(|l| l.index).unwrap_or(0))
            .map_err(ServiceError::from);
        for answer in answers {
            let _ = answer.send(result.clone());
        }
    }
}
