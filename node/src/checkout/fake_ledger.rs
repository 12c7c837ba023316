//! An in-memory [`Ledger`] for the checkout's tests: a real [`SaleMachine`]
//! applying each proposal at once (so the rules are the real ones), with
//! faults a test can inject into the next proposals.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Barrier;

use super::error::LedgerError;
use super::ledger::Ledger;
use crate::machine::{
    Answer, Command, Effect, IdempotencyKey, Outcome, Proposal, Request, SaleMachine,
};

/// What happens to one proposal, in the order proposals arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Leadership is lost before the proposal is appended: it never commits.
    LoseLeadership,
    /// The proposal commits, but its answer is lost with the leader.
    LoseAnswer,
    /// Logical time jumps by this much before the proposal is applied
    /// (other entries were committed meanwhile).
    ClockJump(u64),
    /// Logical time jumps by this much, the proposal commits, and its answer
    /// is lost with the leader.
    ClockJumpThenLoseAnswer(u64),
}

struct Inner {
    machine: SaleMachine,
    clock_ms: u64,
    faults: VecDeque<Fault>,
    barrier_down: bool,
}

/// A one-node "cluster" that is always up to date, unless told otherwise.
pub struct FakeLedger {
    inner: Mutex<Inner>,
    /// When set, every proposal waits here until this many proposals meet.
    meeting: Option<Arc<Barrier>>,
}

impl FakeLedger {
    /// A ledger over `machine`, stamping entries with its current logical time.
    pub fn new(machine: SaleMachine) -> Self {
        let clock_ms = machine.now_ms();
        FakeLedger {
            inner: Mutex::new(Inner {
                machine,
                clock_ms,
                faults: VecDeque::new(),
                barrier_down: false,
            }),
            meeting: None,
        }
    }

    /// Makes every proposal wait until `n` proposals are in flight, so
    /// concurrent attempts all get past their replay lookup before any commits.
    pub fn proposals_meet(mut self, n: usize) -> Self {
        self.meeting = Some(Arc::new(Barrier::new(n)));
        self
    }

    /// Applies `fault` to the next proposal that has none queued before it.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Moves logical time forward by `ms` for the entries that follow.
    pub fn advance_clock(&self, ms: u64) {
        self.lock().clock_ms += ms;
    }

    /// Makes read barriers fail as on a node that lost its leadership.
    pub fn lose_read_barrier(&self) {
        self.lock().barrier_down = true;
    }

    /// A copy of the machine, for assertions.
    pub fn machine(&self) -> SaleMachine {
        self.lock().machine.clone()
    }

    /// Applies `command` under `key` directly (test set-up).
    pub fn commit(&self, key: Option<IdempotencyKey>, command: Command) -> Outcome {
        self.apply(key, command).outcome
    }

    fn apply(&self, key: Option<IdempotencyKey>, command: Command) -> Answer {
        let mut inner = self.lock();
        let index = inner.machine.last_index() + 1;
        let batch = Proposal {
            ts_ms: inner.clock_ms,
            requests: vec![Request { key, command }],
        };
        inner.machine.apply_entry(index, &batch).answers.remove(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn not_leader() -> LedgerError {
    LedgerError::NotLeader {
        leader_id: Some(2),
        leader_addr: Some("127.0.0.1:7102".into()),
    }
}

impl Ledger for FakeLedger {
    async fn propose(
        &self,
        key: IdempotencyKey,
        command: Command,
    ) -> Result<(Effect, u64), LedgerError> {
        command.validate().map_err(LedgerError::Rejected)?;
        if let Some(meeting) = &self.meeting {
            meeting.wait().await;
        }
        let fault = self.lock().faults.pop_front();
        match fault {
            Some(Fault::LoseLeadership) => return Err(not_leader()),
            Some(Fault::ClockJump(ms) | Fault::ClockJumpThenLoseAnswer(ms)) => {
                self.lock().clock_ms += ms
            }
            Some(Fault::LoseAnswer) | None => {}
        }
        let answer = self.apply(Some(key), command);
        if matches!(
            fault,
            Some(Fault::LoseAnswer | Fault::ClockJumpThenLoseAnswer(_))
        ) {
            return Err(LedgerError::Unavailable(
                "leader lost before answering".into(),
            ));
        }
        match answer.outcome {
            Ok(outcome) => Ok((outcome, answer.log_index)),
            Err(rejection) => Err(LedgerError::Rejected(rejection)),
        }
    }

    async fn read_barrier(&self) -> Result<u64, LedgerError> {
        let inner = self.lock();
        if inner.barrier_down {
            return Err(not_leader());
        }
        Ok(inner.machine.last_index())
    }

    fn read<T>(&self, f: impl FnOnce(&SaleMachine) -> T) -> T {
        f(&self.lock().machine)
    }
}
