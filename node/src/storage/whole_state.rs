//! Work on the whole applied state (a snapshot build, a backup, a state
//! hash, a sale export): on a blocking thread, one at a time per node.
//!
//! Each such job encodes or walks a copy of the state (see
//! [`super::state_machine::read_copy`]): seconds of CPU and a buffer the size
//! of a snapshot at a million fans. On a runtime worker it would take one of
//! the few threads the sale's tasks run on; two at once would double the
//! peak memory; and a job keeps running after a caller who gave up, so a
//! monitor polling faster than one finishes would pile them up. The gate
//! queues them instead.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// The node's one lane for whole-state work. Cheap to clone; clones share it.
#[derive(Debug, Clone)]
pub struct WholeStateGate(Arc<Semaphore>);

/// A whole-state job that did not produce its result.
#[derive(Debug, thiserror::Error)]
#[error("whole-state work failed: {0}")]
pub struct WholeStateError(String);

impl Default for WholeStateGate {
    fn default() -> Self {
        WholeStateGate(Arc::new(Semaphore::new(1)))
    }
}

impl WholeStateGate {
    /// Runs `work` on a blocking thread once no other whole-state job runs.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WholeStateError> {
        let permit = self
            .0
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| WholeStateError(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|e| WholeStateError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_run_one_at_a_time_and_return_their_results() {
        let gate = WholeStateGate::default();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = (0..4u64).map(|i| {
            let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                gate.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 10
                })
                .await
            })
        });
        let mut results = Vec::new();
        for job in jobs.collect::<Vec<_>>() {
            results.push(job.await.unwrap().unwrap());
        }
        assert_eq!(results, [0, 10, 20, 30]);
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }
}
