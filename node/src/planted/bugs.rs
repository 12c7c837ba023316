//! The planted bugs themselves; compiled only with the `planted-bugs` feature.
//!
//! A node running with one logs a warning at start-up and on every planted
//! misbehaviour. The strings [`FAKE_TICKET_PREFIX`] and [`START_MARKER`]
//! exist only in such a binary: `scripts/check-planted-bugs.sh` looks for
//! them to prove a normal build carries none of this.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ingressoja_proto::ticketing as pb;

use super::PLANTED_BUG_ENV;

/// The ticket id prefix of purchases acknowledged without a commit.
pub const FAKE_TICKET_PREFIX: &str = "TKT-PLANTED-";
/// Logged when a node starts with a planted bug on.
pub const START_MARKER: &str = "PLANTED BUG ON";

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
    /// The leader stamps entries with its own wall clock, not corrected by
    /// its peers' (as before `cluster_clock`): under the `clock-jump`
    /// nemesis the `sale-clock` checker must report holds expiring a day
    /// or an hour away.
    LeaderClock,
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
                "leader-clock" => Ok(Some(PlantedBug::LeaderClock)),
                other => Err(format!(
                    "{PLANTED_BUG_ENV}={other:?}: unknown planted bug (ack-before-commit, stale-read, leader-clock)"
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

/// The planted bug a node runs with, and the state it needs: held by the ticketing service.
#[derive(Default)]
pub struct PlantedBugs {
    bug: Option<PlantedBug>,
    stale: StaleCache<pb::AvailabilityReply>,
}

impl PlantedBugs {
    /// The bug named by [`PLANTED_BUG_ENV`] (none when unset), announced in the log.
    pub fn from_env() -> Result<PlantedBugs, String> {
        let bug = PlantedBug::from_env()?;
        if let Some(bug) = bug {
            tracing::warn!(
                ?bug,
                "{START_MARKER}: this node misbehaves on purpose (chaos checker tests)"
            );
        }
        Ok(PlantedBugs {
            bug,
            stale: StaleCache::default(),
        })
    }

    /// Under [`PlantedBug::AckBeforeCommit`], the made-up reply to this purchase
    /// (acknowledged, never committed); `None` when the purchase runs normally.
    pub fn fake_purchase(&self, hold_id: u64, customer_id: &str) -> Option<pb::PurchaseReply> {
        if !PlantedBug::fakes_purchase(self.bug, hold_id) {
            return None;
        }
        tracing::warn!(
            hold = hold_id,
            "planted bug: purchase acknowledged, never committed"
        );
        Some(pb::PurchaseReply {
            tickets: vec![pb::Ticket {
                ticket_id: format!("{FAKE_TICKET_PREFIX}{hold_id}"),
                hold_id,
                customer_id: customer_id.to_string(),
                ..Default::default()
            }],
            log_index: 0,
            charge_id: String::new(),
        })
    }

    /// Under [`PlantedBug::LeaderClock`]: stamp entries with this node's own
    /// clock alone.
    pub fn stamps_own_clock(&self) -> bool {
        if self.bug == Some(PlantedBug::LeaderClock) {
            tracing::warn!("planted bug: entries stamped with this node's clock alone");
            return true;
        }
        false
    }

    /// Under [`PlantedBug::StaleRead`], a recent copy of the event's availability
    /// served without a read index.
    pub fn stale_availability(&self, event_id: &str) -> Option<pb::AvailabilityReply> {
        if self.bug != Some(PlantedBug::StaleRead) {
            return None;
        }
        self.stale.get(event_id)
    }

    /// Under [`PlantedBug::StaleRead`], keeps `reply` to serve it stale later.
    pub fn keep_availability(&self, event_id: &str, reply: &pb::AvailabilityReply) {
        if self.bug == Some(PlantedBug::StaleRead) {
            self.stale.put(event_id, reply.clone());
        }
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

    #[test]
    fn each_bug_only_does_its_own_misbehaviour() {
        let acks = PlantedBugs {
            bug: Some(PlantedBug::AckBeforeCommit),
            ..PlantedBugs::default()
        };
        let faked = acks.fake_purchase(9, "ana").expect("hold 9 is faked");
        assert_eq!(faked.tickets[0].ticket_id, "TKT-PLANTED-9");
        assert_eq!(faked.log_index, 0, "never committed");
        assert!(acks.fake_purchase(10, "ana").is_none());
        let reply = pb::AvailabilityReply {
            event_id: "rock".into(),
            ..Default::default()
        };
        acks.keep_availability("rock", &reply);
        assert!(acks.stale_availability("rock").is_none());

        let stale = PlantedBugs {
            bug: Some(PlantedBug::StaleRead),
            ..PlantedBugs::default()
        };
        assert!(stale.fake_purchase(9, "ana").is_none());
        assert!(stale.stale_availability("rock").is_none());
        stale.keep_availability("rock", &reply);
        assert_eq!(stale.stale_availability("rock"), Some(reply));

        let none = PlantedBugs::default();
        assert!(none.fake_purchase(9, "ana").is_none());
    }
}
