//! The expiry ticker: while this node leads, it proposes a `Tick` when a hold is due,
//! so expired holds return their tickets and the queue admits people even when nobody else is writing.

use std::time::Duration;

use tokio::sync::watch;

use crate::machine::{Command, Request};
use std::sync::Arc;

use crate::cluster_clock::ClusterClock;
use crate::proposer::Proposer;
use crate::raft_types::Raft;
use crate::storage::SharedMachine;

/// How often the ticker looks for due holds.
pub const TICK_INTERVAL: Duration = Duration::from_millis(250);

/// Runs until `shutdown` flips to true.
pub async fn run(
    proposer: Proposer,
    raft: Raft,
    state: SharedMachine,
    clock: Arc<ClusterClock>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(TICK_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        let is_leader = raft.metrics().borrow().state == openraft::ServerState::Leader;
        if !is_leader {
            continue;
        }
        let due = {
            let s = state.read().unwrap_or_else(|p| p.into_inner());
            s.machine.next_due_ms()
        };
        // The time the entry will be stamped with (see `cluster_clock`).
        if due.is_some_and(|at| at <= clock.now_ms()) {
            let tick = Request {
                key: None,
                command: Command::Tick,
            };
            if let Err(e) = proposer.propose(tick).await {
                tracing::debug!(error = %e, "expiry tick not committed");
            }
        }
    }
}
