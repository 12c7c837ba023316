//! The event-feed consumers of a run: one per node, each following
//! `WatchEvents` from its node first and failing over to the others (the
//! client's `EventWatch`), recording every event it is given for the
//! `watch-stream` checker. They start before the workload, so every
//! purchase of the run falls inside what they must have seen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ingressoja_checkers::{Watched, WatchedEvent};
use ingressoja_client::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::ChaosCluster;
use crate::recorder::Recorder;

/// How long a consumer may wait for a node before its watch gives up one
/// round (it then starts another: a consumer never stops by itself).
const WATCH_DEADLINE: Duration = Duration::from_secs(5);

/// How long every consumer must sit at one last seq to count as caught up.
const QUIET: Duration = Duration::from_secs(2);

/// The running consumers and what they received so far.
pub struct Consumers {
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
    received: Arc<Mutex<Watched>>,
    /// The last error each consumer's watch returned, for the progress line
    /// of a consumer that never caught up.
    errors: Arc<Mutex<HashMap<String, String>>>,
}

impl Consumers {
    /// Starts consumer `w<i>` on node `i`, for every member; each event's
    /// delivery is stamped on `recorder`'s clock (the history's).
    pub fn start(cluster: &ChaosCluster, recorder: &Recorder) -> Consumers {
        let (stop, stopped) = watch::channel(false);
        let received = Arc::new(Mutex::new(Watched::default()));
        let errors = Arc::new(Mutex::new(HashMap::new()));
        let names: Arc<HashMap<String, String>> = Arc::new(
            (1..=cluster.spec.nodes + cluster.spec.spares)
                .map(|id| (cluster.addr(id), format!("n{id}")))
                .collect(),
        );
        let tasks = (1..=cluster.spec.nodes)
            .map(|id| {
                let name = format!("w{id}");
                lock(&received).add_consumer(&name);
                let consumer = Consumer {
                    client: cluster.client_from(&format!("chaos-{name}"), WATCH_DEADLINE, id),
                    name,
                    names: names.clone(),
                    received: received.clone(),
                    errors: errors.clone(),
                    clock: recorder.clone(),
                };
                tokio::spawn(consumer.run(stopped.clone()))
            })
            .collect();
        Consumers {
            tasks,
            stop,
            received,
            errors,
        }
    }

    /// Waits until every consumer has sat at the same last seq for a while
    /// (at most `limit`), stops them, and returns what they received, cut
    /// at that seq (an event that slips in while they stop is not the
    /// feed's end) and marked caught up; or, when they never agreed, as
    /// they stand, not caught up. Call it once the cluster has settled.
    pub async fn finish(self, limit: Duration, say: &dyn Fn(String)) -> Watched {
        let deadline = Instant::now() + limit;
        let mut last: Vec<Option<u64>> = Vec::new();
        let mut since = Instant::now();
        let mut agreed = None;
        loop {
            let now: Vec<Option<u64>> = lock(&self.received)
                .consumers
                .values()
                .map(|events| events.last().map(|e| e.seq))
                .collect();
            if now != last {
                last = now;
                since = Instant::now();
            } else if last.windows(2).all(|w| w[0] == w[1]) && since.elapsed() >= QUIET {
                agreed = Some(last.first().copied().flatten());
                break;
            }
            if Instant::now() >= deadline {
                say(format!(
                    "warning: the event consumers did not catch up within {}s: last seqs {last:?}; \
                     last errors {:?}",
                    limit.as_secs(),
                    lock(&self.errors)
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let mut watched = std::mem::take(&mut *lock(&self.received));
        if let Some(end) = agreed {
            for events in watched.consumers.values_mut() {
                events.retain(|e| Some(e.seq) <= end);
            }
            watched.caught_up = true;
        }
        watched
    }
}

/// One consumer.
struct Consumer {
    name: String,
    client: Client,
    /// Node address → node name.
    names: Arc<HashMap<String, String>>,
    received: Arc<Mutex<Watched>>,
    errors: Arc<Mutex<HashMap<String, String>>>,
    /// The history's clock.
    clock: Recorder,
}

impl Consumer {
    /// Follows the feed from its start until told to stop. An error (no
    /// node for a while, a refusal) is noted and the watch goes on from
    /// where it was: the checker judges what came of it.
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut feed = self.client.watch_events(0, None);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                next = feed.next() => match next {
                    Ok(e) => {
                        let received_ns = self.clock.now_ns();
                        let node = feed.node().unwrap_or_default();
                        let node = self.names.get(node).cloned().unwrap_or_else(|| node.to_string());
                        lock(&self.received).push(WatchedEvent {
                            consumer: self.name.clone(),
                            node,
                            seq: e.seq,
                            kind: e.kind,
                            ts_ms: e.ts_ms,
                            customer: e.customer_id,
                            category: e.category_id,
                            quantity: u64::from(e.quantity),
                            event: e.event_id,
                            hold_id: e.hold_id,
                            ticket_ids: e.ticket_ids,
                            received_ns,
                        });
                    }
                    Err(error) => {
                        lock(&self.errors).insert(self.name.clone(), error.to_string());
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
            }
        }
    }
}

/// A poisoned lock only means a consumer panicked; what it recorded stands.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
