//! Hashing a new password and checking one against the argon2id hash the
//! cluster stores.
//!
//! argon2id is deliberately slow (tens of milliseconds and 19 MiB each), so
//! it runs on the blocking pool, never on the async workers serving other
//! buyers, and at most one per core at a time ([`slots`]): a burst of
//! logins (or a scalper's bot) waits its turn instead of piling up hundreds
//! of hashes and their memory on the blocking pool. A stored hash whose
//! parameters ask for more than [`MAX_MEMORY_KIB`], [`MAX_ITERATIONS`] or
//! [`MAX_LANES`] is not run at all.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use tokio::sync::Semaphore;

/// Longest password taken, in bytes: far beyond any passphrase, short
/// enough that hashing it costs what a normal one does.
pub const MAX_PASSWORD_BYTES: usize = 256;
/// Most memory a stored hash may ask of argon2 (64 MiB; ours use 19 MiB).
pub const MAX_MEMORY_KIB: u32 = 65_536;
/// Most passes a stored hash may ask for (ours: 2).
pub const MAX_ITERATIONS: u32 = 10;
/// Most lanes a stored hash may ask for (ours: 1).
pub const MAX_LANES: u32 = 4;

/// A valid argon2id hash of a random password nobody knows: checked when the
/// login names no account, so "no such user" takes as long as "wrong password".
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Y2aT3qJ0bW5bqk3w0lGk3cQb4xJ2cVtQ0mS8m1b1VdY";

/// The argon2 runs allowed at once: one per core.
fn slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Semaphore::new(cores))
    })
}

/// Runs `work` on the blocking pool once a slot is free. The slot goes
/// with the work, not with the request: a caller that gives up (a reset
/// stream, a timeout) does not free it while the hash still runs, so
/// cancelled logins cannot pile hashes up on the blocking pool.
async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let slot = slots().clone().acquire_owned().await.ok()?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        #[cfg(test)]
        let _running = tests::Running::enter();
        work()
    })
    .await
    .ok()
}

/// Whether a stored hash's cost parameters are within what we run.
fn affordable(parsed: &PasswordHash<'_>) -> bool {
    let get = |name| parsed.params.get_decimal(name);
    matches!(
        (get("m"), get("t"), get("p")),
        (Some(m), Some(t), Some(p)) if m <= MAX_MEMORY_KIB && t <= MAX_ITERATIONS && p <= MAX_LANES
    )
}

/// The argon2id hash of a new `password` (already length-checked), or why not.
pub async fn hash(password: String) -> Result<String, String> {
    bounded(move || ingressoja_client::password::hash_password(&password))
        .await
        .ok_or_else(|| "password hashing was interrupted".to_string())?
        .map_err(|error| error.to_string())
}

/// True when `password` matches `phc`; false on a mismatch, an unusable or
/// too costly hash, or a password longer than [`MAX_PASSWORD_BYTES`].
pub async fn matches(password: String, phc: Option<String>) -> bool {
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| DECOY_HASH.to_string());
    match PasswordHash::new(&phc) {
        Ok(parsed) if affordable(&parsed) => {}
        Ok(_) => {
            tracing::warn!("a stored password hash asks argon2 for more than is allowed: refused");
            return false;
        }
        Err(_) => return false,
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    bounded(move || {
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && ok
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    /// Counts the argon2 runs in flight while it lives.
    pub(super) struct Running;

    impl Running {
        pub(super) fn enter() -> Running {
            let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
            PEAK.fetch_max(now, Ordering::SeqCst);
            Running
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn right_wrong_and_missing() {
        let phc = hash("s3cret".into()).await.unwrap();
        assert!(matches("s3cret".into(), Some(phc.clone())).await);
        assert!(!matches("S3cret".into(), Some(phc)).await);
        assert!(!matches("s3cret".into(), None).await);
        assert!(!matches("x".into(), Some("not a hash".into())).await);
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_login_burst_runs_at_most_one_argon2_per_core() {
        let phc = hash("s3cret".into()).await.unwrap();
        let burst: Vec<_> = (0..24)
            .map(|_| tokio::spawn(matches("wrong".into(), Some(phc.clone()))))
            .collect();
        for login in burst {
            assert!(!login.await.unwrap());
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let peak = PEAK.load(Ordering::SeqCst);
        assert!(
            peak >= 1 && peak <= cores,
            "{peak} argon2 runs at once on {cores} cores"
        );
    }

    #[tokio::test]
    async fn a_stored_hash_asking_for_gigabytes_is_not_run() {
        // What a tampered record could hold: 4 GiB and 1000 passes per try.
        let costly = DECOY_HASH.replace("m=19456,t=2,p=1", "m=4194304,t=1000,p=1");
        assert!(PasswordHash::new(&costly).is_ok());
        let started = std::time::Instant::now();
        assert!(!matches("anything".into(), Some(costly)).await);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[tokio::test]
    async fn an_overlong_password_is_not_hashed() {
        let phc = hash("s3cret".into()).await.unwrap();
        let long = "s".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(!matches(long, Some(phc)).await);
    }
}
