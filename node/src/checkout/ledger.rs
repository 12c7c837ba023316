//! What the checkout needs from the replicated log: propose, wait for a
//! linearizable read, read the applied state.

use std::future::Future;

use super::error::LedgerError;
use crate::machine::{Command, Effect, IdempotencyKey, Request, SaleMachine};
use crate::proposer::Proposer;
use crate::read_barrier::ReadBarrier;
use crate::storage::SharedMachine;

/// The replicated sale state as the checkout sees it. Small on purpose, so a
/// test can stand a plain [`SaleMachine`] in for the whole cluster.
pub trait Ledger: Send + Sync + 'static {
    /// Commits `command` under `key`; returns its outcome and log index, or
    /// [`LedgerError::Rejected`] for a committed refusal. Any other error
    /// leaves the command's fate unknown: it may still commit.
    fn propose(
        &self,
        key: IdempotencyKey,
        command: Command,
    ) -> impl Future<Output = Result<(Effect, u64), LedgerError>> + Send;

    /// Waits until [`Ledger::read`] shows every write acknowledged before this
    /// call; returns the read index.
    fn read_barrier(&self) -> impl Future<Output = Result<u64, LedgerError>> + Send;

    /// Runs `f` over the applied state.
    fn read<T>(&self, f: impl FnOnce(&SaleMachine) -> T) -> T;
}

/// The [`Ledger`] of a running node: its proposer, read barrier and applied state.
#[derive(Clone)]
pub struct NodeLedger {
    proposer: Proposer,
    reads: ReadBarrier,
    state: SharedMachine,
}

impl NodeLedger {
    /// A ledger over this node's Raft plumbing (clones share the batcher and the checker).
    pub fn new(proposer: Proposer, reads: ReadBarrier, state: SharedMachine) -> Self {
        NodeLedger {
            proposer,
            reads,
            state,
        }
    }
}

impl Ledger for NodeLedger {
    async fn propose(
        &self,
        key: IdempotencyKey,
        command: Command,
    ) -> Result<(Effect, u64), LedgerError> {
        let request = Request {
            key: Some(key),
            command,
        };
        let committed = self.proposer.propose(request).await?;
        Ok((committed.effect, committed.log_index))
    }

    async fn read_barrier(&self) -> Result<u64, LedgerError> {
        Ok(self.reads.wait().await?)
    }

    fn read<T>(&self, f: impl FnOnce(&SaleMachine) -> T) -> T {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        f(&state.machine)
    }
}
