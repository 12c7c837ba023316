//! The planted bugs themselves; compiled only with the `planted-bugs` feature.
//!
//! A node running with one logs a warning at start-up and on every planted
//! misbehaviour. The strings [`FAKE_TICKET_PREFIX`] and [`START_MARKER`]
//! exist only in such a binary: `scripts/check-planted-bugs.sh` looks for
//! them to prove a normal build carries none of this.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// A hold is placed even when fewer tickets are left than it asks for:
    /// the `no-oversell` checker must report sold + held over capacity.
    Oversell,
    /// A purchase of a hold whose id is a multiple of 3 does not advance the
    /// ticket counter, so the next purchase is given the same ticket ids:
    /// the `unique-tickets` checker must report two holds with one ticket.
    DuplicateTicket,
    /// The per-customer limits (category and event) are not checked on a
    /// hold: the `customer-limits` checker must report a customer owning
    /// more than the limit.
    LimitBypass,
    /// A join after the opening that would get an even number is given the
    /// number of the join before it: the `fifo-admission` checker must
    /// report two customers sharing a number.
    SharedQueueNumber,
    /// A hold's expiry is read from the applying node's own clock instead of
    /// the entry's time, so replicas apply the same entry differently: the
    /// `convergence` checker must report different state hashes.
    LocalClockInApply,
    /// The outcome of a request whose id is even is never found again, so
    /// its retry runs a second time (a second hold, `already_purchased`):
    /// the `idempotency` checker must report the replay's answer.
    ForgottenReply,
    /// Log entries are appended without an fsync: only a power cut shows it
    /// (`kill -9` keeps the page cache), and the `acknowledged-purchases`
    /// checker must then report purchases acknowledged and lost.
    UnsyncedLog,
    /// The `purchase_confirmed` event of a hold whose id is a multiple of 4
    /// is left out of every `WatchEvents` stream (the feed keeps it): the
    /// `watch-stream` checker must report the gap and the purchase whose
    /// confirmation never came.
    LostWatchEvent,
    /// A queue admits everyone in line at once, ignoring its rate: the
    /// `queue-admission` checker must report admissions sooner than the
    /// rate allows.
    AdmissionBurst,
}

/// Every bug's name as [`PLANTED_BUG_ENV`] spells it.
const NAMES: [(&str, PlantedBug); 12] = [
    ("ack-before-commit", PlantedBug::AckBeforeCommit),
    ("stale-read", PlantedBug::StaleRead),
    ("leader-clock", PlantedBug::LeaderClock),
    ("oversell", PlantedBug::Oversell),
    ("duplicate-ticket", PlantedBug::DuplicateTicket),
    ("limit-bypass", PlantedBug::LimitBypass),
    ("shared-queue-number", PlantedBug::SharedQueueNumber),
    ("local-clock-in-apply", PlantedBug::LocalClockInApply),
    ("forgotten-reply", PlantedBug::ForgottenReply),
    ("unsynced-log", PlantedBug::UnsyncedLog),
    ("lost-watch-event", PlantedBug::LostWatchEvent),
    ("admission-burst", PlantedBug::AdmissionBurst),
];

impl PlantedBug {
    /// The bug named by [`PLANTED_BUG_ENV`], if any.
    pub fn from_env() -> Result<Option<PlantedBug>, String> {
        match std::env::var(PLANTED_BUG_ENV) {
            Err(_) => Ok(None),
            Ok(name) if name.is_empty() => Ok(None),
            Ok(name) => PlantedBug::named(&name).map(Some).ok_or_else(|| {
                let known: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                format!(
                    "{PLANTED_BUG_ENV}={name:?}: unknown planted bug ({})",
                    known.join(", ")
                )
            }),
        }
    }

    /// The bug called `name` in [`PLANTED_BUG_ENV`].
    pub fn named(name: &str) -> Option<PlantedBug> {
        NAMES.iter().find(|(n, _)| *n == name).map(|(_, bug)| *bug)
    }

    /// True when this event is one [`PlantedBug::LostWatchEvent`] keeps
    /// from the watchers.
    pub fn drops_watch_event(bug: Option<PlantedBug>, kind: &str, hold_id: u64) -> bool {
        if bug == Some(PlantedBug::LostWatchEvent)
            && kind == "purchase_confirmed"
            && hold_id.is_multiple_of(4)
        {
            tracing::warn!(hold = hold_id, "planted bug: watch event left out");
            return true;
        }
        false
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

/// The bug this process runs with, read once from [`PLANTED_BUG_ENV`].
///
/// The state machine has no handle to the service's [`PlantedBugs`] (it is
/// built by the storage layer and from snapshots), so its bugs ask here. A
/// name the node does not know was refused at start-up; here it reads as
/// no bug.
fn process_bug() -> Option<PlantedBug> {
    static BUG: OnceLock<Option<PlantedBug>> = OnceLock::new();
    *BUG.get_or_init(|| PlantedBug::from_env().ok().flatten())
}

#[cfg(test)]
thread_local! {
    /// The bug a unit test applies entries under, on its own thread only.
    static TEST_BUG: std::cell::Cell<Option<PlantedBug>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with `bug` on for the state machine, on this thread only.
#[cfg(test)]
pub(crate) fn with_machine_bug<T>(bug: PlantedBug, f: impl FnOnce() -> T) -> T {
    TEST_BUG.with(|b| b.set(Some(bug)));
    let out = f();
    TEST_BUG.with(|b| b.set(None));
    out
}

/// True when this process (in a unit test: this thread) runs with `bug`.
fn bug_on(bug: PlantedBug) -> bool {
    #[cfg(test)]
    if let Some(test_bug) = TEST_BUG.with(|b| b.get()) {
        return test_bug == bug;
    }
    process_bug() == Some(bug)
}

/// The state machine's planted bugs: each hook answers whether apply must
/// misbehave here, and logs it when it does. Deterministic on every replica
/// except [`PlantedBug::LocalClockInApply`], whose point is not to be.
pub mod machine {
    use super::*;

    /// Under [`PlantedBug::Oversell`]: the stock check of a hold asking for
    /// `quantity` with `available` left is skipped.
    pub fn skips_stock_check(quantity: u32, available: u32) -> bool {
        if quantity > available && bug_on(PlantedBug::Oversell) {
            tracing::warn!(
                quantity,
                available,
                "planted bug: hold placed past the stock"
            );
            return true;
        }
        false
    }

    /// Under [`PlantedBug::LimitBypass`]: the per-customer limits are not checked.
    pub fn skips_customer_limits() -> bool {
        bug_on(PlantedBug::LimitBypass)
    }

    /// Under [`PlantedBug::DuplicateTicket`]: the purchase of `hold_id`
    /// leaves the ticket counter where it was.
    pub fn reuses_ticket_ids(hold_id: u64) -> bool {
        if hold_id.is_multiple_of(3) && bug_on(PlantedBug::DuplicateTicket) {
            tracing::warn!(hold = hold_id, "planted bug: ticket ids given out again");
            return true;
        }
        false
    }

    /// Under [`PlantedBug::SharedQueueNumber`]: the number a join after the
    /// opening gets when `line_len` people are already in line (the
    /// previous join's when the next number would be even).
    pub fn queue_number(line_len: u64) -> Option<u64> {
        let next = line_len + 1;
        if line_len > 0 && next.is_multiple_of(2) && bug_on(PlantedBug::SharedQueueNumber) {
            tracing::warn!(number = line_len, "planted bug: queue number given twice");
            return Some(line_len);
        }
        None
    }

    /// Under [`PlantedBug::AdmissionBurst`]: the queue's rate is not applied.
    pub fn ignores_admission_rate() -> bool {
        bug_on(PlantedBug::AdmissionBurst)
    }

    /// Under [`PlantedBug::ForgottenReply`]: the remembered outcome of
    /// request `request_id` is not found.
    pub fn forgets_reply(request_id: u64) -> bool {
        if request_id.is_multiple_of(2) && bug_on(PlantedBug::ForgottenReply) {
            tracing::warn!(request_id, "planted bug: remembered reply forgotten");
            return true;
        }
        false
    }

    /// Under [`PlantedBug::LocalClockInApply`]: the expiry of a hold of
    /// `ttl_ms`, from this node's own clock rather than the entry's time.
    pub fn local_expiry(ttl_ms: u64) -> Option<u64> {
        if !bug_on(PlantedBug::LocalClockInApply) {
            return None;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Some(now.saturating_add(ttl_ms))
    }
}

/// The storage layer's planted bugs.
pub mod storage {
    use super::*;

    /// Under [`PlantedBug::UnsyncedLog`]: log appends skip their fsync.
    pub fn skips_append_sync() -> bool {
        bug_on(PlantedBug::UnsyncedLog)
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

    /// The bug this node runs with (for tasks that outlive a request).
    pub fn bug(&self) -> Option<PlantedBug> {
        self.bug
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
    fn only_confirmations_of_every_fourth_hold_are_kept_from_watchers() {
        let lost = Some(PlantedBug::LostWatchEvent);
        assert!(PlantedBug::drops_watch_event(lost, "purchase_confirmed", 8));
        assert!(!PlantedBug::drops_watch_event(
            lost,
            "purchase_confirmed",
            9
        ));
        assert!(!PlantedBug::drops_watch_event(lost, "hold_created", 8));
        assert!(!PlantedBug::drops_watch_event(
            Some(PlantedBug::StaleRead),
            "purchase_confirmed",
            8
        ));
        assert!(!PlantedBug::drops_watch_event(
            None,
            "purchase_confirmed",
            8
        ));
    }

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

    /// The state machine under each of its bugs: each hook misbehaves as
    /// its checker expects, and only under its own bug.
    mod machine_bugs {
        use super::super::{with_machine_bug, PlantedBug};
        use crate::machine::testing::*;
        use crate::machine::{Command, Effect, Rejection, Request};

        #[test]
        fn every_bug_is_named_and_only_known_names_are() {
            for (name, bug) in super::super::NAMES {
                assert_eq!(PlantedBug::named(name), Some(bug));
            }
            assert_eq!(PlantedBug::named("oversel"), None);
        }

        #[test]
        fn oversell_places_a_hold_past_the_stock() {
            let mut m = machine_with_event(2, 4);
            hold_ok(&mut m, 10, "ana", 2);
            let refused = apply(&mut m, 11, 1_000, hold_cmd("bia", 1));
            assert!(
                matches!(refused, Err(Rejection::SoldOut { .. })),
                "{refused:?}"
            );
            with_machine_bug(PlantedBug::Oversell, || {
                hold_ok(&mut m, 12, "bia", 1);
            });
            assert_eq!(category(&m).held, 3, "3 held of a capacity of 2");
        }

        #[test]
        fn limit_bypass_lets_a_customer_past_the_limit() {
            let mut m = machine_with_event(10, 2);
            hold_ok(&mut m, 10, "ana", 2);
            let refused = apply(&mut m, 11, 1_000, hold_cmd("ana", 1));
            assert!(
                matches!(refused, Err(Rejection::LimitExceeded { .. })),
                "{refused:?}"
            );
            with_machine_bug(PlantedBug::LimitBypass, || {
                hold_ok(&mut m, 12, "ana", 1);
            });
            assert_eq!(category(&m).held, 3, "ana holds 3 with a limit of 2");
        }

        #[test]
        fn duplicate_ticket_gives_the_next_purchase_the_same_ids() {
            let mut m = machine_with_event(20, 4);
            let mut tickets = Vec::new();
            with_machine_bug(PlantedBug::DuplicateTicket, || {
                for (i, customer) in ["ana", "bia", "caio", "davi"].iter().enumerate() {
                    let index = 10 + 2 * i as u64;
                    let hold = hold_ok(&mut m, index, customer, 1);
                    match buy(&mut m, index + 1, 1_000, hold.hold_id, customer) {
                        Ok(Effect::Purchased(sold)) => {
                            tickets.push((hold.hold_id, sold[0].ticket_id))
                        }
                        other => panic!("{other:?}"),
                    }
                }
            });
            let reused = tickets
                .iter()
                .position(|(hold, _)| hold % 3 == 0)
                .expect("a hold id divisible by 3");
            assert_eq!(tickets[reused].1, tickets[reused + 1].1, "{tickets:?}");
            assert_ne!(tickets[reused].0, tickets[reused + 1].0);
        }

        #[test]
        fn shared_queue_number_gives_even_numbers_twice() {
            let mut m = queued_machine(1_000, 60, 2);
            let customers = ["ana", "bia", "caio", "davi"];
            for (i, c) in customers.iter().enumerate() {
                register(&mut m, c, i);
            }
            let mut seqs = Vec::new();
            with_machine_bug(PlantedBug::SharedQueueNumber, || {
                for (i, c) in customers.iter().enumerate() {
                    match apply(&mut m, 10 + i as u64, 2_000, join_cmd(c)) {
                        Ok(Effect::Queued(p)) => seqs.push(p.seq),
                        other => panic!("{other:?}"),
                    }
                }
            });
            assert_eq!(seqs, vec![1, 1, 3, 3], "without the bug: 1, 2, 3, 4");
        }

        #[test]
        fn admission_burst_admits_the_whole_line_at_once() {
            // 60 a minute, no cap on active shoppers: one at the opening.
            let mut m = queued_machine(1_000, 60, 0);
            let customers = ["ana", "bia", "caio", "davi"];
            for (i, c) in customers.iter().enumerate() {
                register(&mut m, c, i);
            }
            for (i, c) in customers.iter().enumerate() {
                apply(&mut m, 10 + i as u64, 1_500, join_cmd(c)).unwrap();
            }
            let admitted = |m: &Sale| m.queue_position("rock", "davi").unwrap().admitted_up_to;
            assert_eq!(admitted(&m), 1, "the rate allows one so far");
            with_machine_bug(PlantedBug::AdmissionBurst, || {
                apply(&mut m, 20, 1_600, Command::Tick).unwrap();
            });
            assert_eq!(admitted(&m), 4, "everyone, at once");
        }

        #[test]
        fn local_clock_in_apply_expires_holds_from_the_nodes_clock() {
            let mut m = machine_with_event(10, 4);
            let normal = hold_ok(&mut m, 10, "ana", 1);
            assert_eq!(normal.expires_at_ms, 1_000 + TTL, "the entry's time");
            let planted = with_machine_bug(PlantedBug::LocalClockInApply, || {
                hold_ok(&mut m, 11, "bia", 1)
            });
            assert!(
                planted.expires_at_ms > 1_700_000_000_000,
                "{}",
                planted.expires_at_ms
            );
        }

        #[test]
        fn forgotten_reply_runs_a_retry_again() {
            let mut m = machine_with_event(10, 4);
            let keyed = |request_id| Request {
                key: Some(key("phone", request_id)),
                command: hold_cmd("ana", 1),
            };
            let first = send(&mut m, 10, 1_000, keyed(3));
            let again = send(&mut m, 11, 1_000, keyed(3));
            assert_eq!(first.outcome, again.outcome, "an odd id is remembered");
            let (first, again) = with_machine_bug(PlantedBug::ForgottenReply, || {
                (
                    send(&mut m, 12, 1_000, keyed(4)),
                    send(&mut m, 13, 1_000, keyed(4)),
                )
            });
            let (Ok(Effect::HoldPlaced(a)), Ok(Effect::HoldPlaced(b))) =
                (first.outcome, again.outcome)
            else {
                panic!("both sends place a hold");
            };
            assert_ne!(a.hold_id, b.hold_id, "the retry placed a second hold");
        }

        #[test]
        fn no_machine_bug_fires_under_another_bug() {
            let mut m = machine_with_event(1, 1);
            with_machine_bug(PlantedBug::StaleRead, || {
                hold_ok(&mut m, 10, "ana", 1);
                let refused = apply(&mut m, 11, 1_000, hold_cmd("bia", 1));
                assert!(
                    matches!(refused, Err(Rejection::SoldOut { .. })),
                    "{refused:?}"
                );
            });
        }
    }
}
