//! Proposing sale requests to Raft: stamping the leader's time and waiting for the committed reply.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::ServiceError;
use crate::machine::{Batch, Outcome, Request};
use crate::raft_types::Raft;

/// Wall-clock milliseconds since the Unix epoch: the stamp the leader puts on entries.
pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Sends requests through the Raft log. Validates first, so malformed input never costs a round trip.
#[derive(Clone)]
pub struct Proposer {
    raft: Raft,
}

/// An accepted request's outcome and the log index it committed at.
pub struct Committed {
    pub outcome: Outcome,
    pub log_index: u64,
}

impl Proposer {
    /// Proposes through `raft`.
    pub fn new(raft: Raft) -> Self {
        Proposer { raft }
    }

    /// Commits `request` and returns its outcome, or the committed rejection as an error.
    pub async fn propose(&self, request: Request) -> Result<Committed, ServiceError> {
        request.command.validate()?;
        let batch = Batch {
            ts_ms: wall_clock_ms(),
            requests: vec![request],
        };
        let response = self.raft.client_write(batch).await?;
        let answer =
            response.data.into_iter().next().ok_or_else(|| {
                ServiceError::Internal("committed entry returned no reply".into())
            })?;
        Ok(Committed {
            outcome: answer.reply?,
            log_index: answer.log_index,
        })
    }
}
