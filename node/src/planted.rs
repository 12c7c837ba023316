//! Bugs planted on purpose, to prove that the chaos checkers find what they
//! claim to find (a checker that never fails proves nothing).
//!
//! Off unless the environment variable [`PLANTED_BUG_ENV`] names one: only
//! the chaos harness's planted-bug tests set it. A node running with one logs
//! a warning at start-up and on every planted misbehaviour.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The test flag that turns a planted bug on.
pub const PLANTED_BUG_ENV: &str = "INGRESSOJA_TEST_PLANTED_BUG";

/// A known bug, each aimed at one checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantedBug {
    /// Purchases of holds whose id is a multiple of 3 are acknowledged with
    /// made-up tickets before (in fact without) being committed: the
    /// lost-purchase checker must report them.
    AckBeforeCommit,
    /// Availability is answered from a copy up to a second old, without a
    /// read index: the linearizability checker must report stale reads.
    StaleRead,
}

impl PlantedBug {
    /// The bug named by [`PLANTED_BUG_ENV`], if any.
    pub fn from_env() -> Result<Option<PlantedBug>, String> {
        match std::env::var(PLANTED_BUG_ENV) {
            Err(_) => Ok(None),
            Ok(name) => match name.as_str() {
                "" => Ok(None),
                "ack-before-commit" => Ok(Some(PlantedBug::AckBeforeCommit)),
                "stale-read" => Ok(Some(PlantedBug::StaleRead)),
                other => Err(format!(
                    "{PLANTED_BUG_ENV}={other:?}: unknown planted bug (ack-before-commit, stale-read)"
                )),
            },
        }
    }

    /// True when this purchase is one the bug acknowledges without committing.
    pub fn fakes_purchase(bug: Option<PlantedBug>, hold_id: u64) -> bool {
        bug == Some(PlantedBug::AckBeforeCommit) && hold_id.is_multiple_of(3)
    }
}

/// How old a stale availability answer may get under [`PlantedBug::StaleRead`].
const STALE_FOR: Duration = Duration::from_secs(1);

/// The stale copies served under [`PlantedBug::StaleRead`], per event.
#[derive(Default)]
pub struct StaleCache<T> {
    copies: Mutex<HashMap<String, (Instant, T)>>,
}

impl<T: Clone> StaleCache<T> {
    /// The copy of `key` if it is younger than a second.
    pub fn get(&self, key: &str) -> Option<T> {
        let copies = self.copies.lock().unwrap_or_else(|p| p.into_inner());
        copies
            .get(key)
            .filter(|(at, _)| at.elapsed() < STALE_FOR)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value` as the copy of `key`.
    pub fn put(&self, key: &str, value: T) {
        let mut copies = self.copies.lock().unwrap_or_else(|p| p.into_inner());
        copies.insert(key.to_string(), (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_multiples_of_three_are_faked_and_only_under_the_bug() {
        assert!(PlantedBug::fakes_purchase(
            Some(PlantedBug::AckBeforeCommit),
            9
        ));
        assert!(!PlantedBug::fakes_purchase(
            Some(PlantedBug::AckBeforeCommit),
            10
        ));
        assert!(!PlantedBug::fakes_purchase(None, 9));
        assert!(!PlantedBug::fakes_purchase(Some(PlantedBug::StaleRead), 9));
    }

    #[test]
    fn the_stale_copy_is_served_while_young() {
        let cache = StaleCache::default();
        assert_eq!(cache.get("rock"), None);
        cache.put("rock", 7u32);
        assert_eq!(cache.get("rock"), Some(7));
    }
}
