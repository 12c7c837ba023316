//! Remembered outcomes, so a retried request gets its first answer instead of running twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::command::IdempotencyKey;
use super::persistent::{Map, Set};
use super::Outcome;

/// Outcomes kept per client (the oldest remembered are forgotten first).
pub const OUTCOMES_PER_CLIENT: usize = 256;
/// A client silent for this long (logical time) is forgotten.
pub const CLIENT_RETENTION_MS: u64 = 60 * 60 * 1000;

/// One remembered outcome, with a fingerprint of the command it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub fingerprint: [u8; 32],
    /// The entry that first answered.
    pub log_index: u64,
    pub outcome: Outcome,
}

/// A remembered outcome with its age: the client's remember count when it was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Aged {
    age: u64,
    remembered: Remembered,
}

/// What one client's retries may still be answered from.
///
/// Eviction is by age (log order of remembering), not by request id: a
/// client that draws random request ids would otherwise lose the reply it
/// just stored, or a recent one, as soon as it passed the bound.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ClientOutcomes {
    last_seen_ms: u64,
    /// By request id, for the retry lookup.
    outcomes: BTreeMap<u64, Aged>,
    /// Age → request id, oldest first: which outcome goes when the client passes the bound.
    by_age: BTreeMap<u64, u64>,
    /// The age the next remembered outcome gets; only grows.
    next_age: u64,
}

impl ClientOutcomes {
    /// Stores `remembered` as the newest outcome, then forgets the oldest past the bound.
    fn remember(&mut self, request_id: u64, remembered: Remembered) {
        let age = self.next_age;
        self.next_age = self.next_age.saturating_add(1);
        let aged = Aged { age, remembered };
        if let Some(replaced) = self.outcomes.insert(request_id, aged) {
            self.by_age.remove(&replaced.age);
        }
        self.by_age.insert(age, request_id);
        // The newest has the largest age and the bound is at least one, so
        // the outcome just stored is never the one forgotten.
        while self.outcomes.len() > OUTCOMES_PER_CLIENT.max(1) {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.outcomes.remove(&oldest);
        }
    }
}

/// The cache as format 1 encoded it: outcomes by request id, no ages.
#[derive(Debug, Deserialize)]
pub(super) struct LegacyOutcomeCache {
    clients: BTreeMap<String, LegacyClientOutcomes>,
    by_last_seen: Set<(u64, String)>,
}

#[derive(Debug, Deserialize)]
struct LegacyClientOutcomes {
    last_seen_ms: u64,
    outcomes: BTreeMap<u64, Remembered>,
}

impl LegacyOutcomeCache {
    /// Today's cache with the same outcomes, each client's aged in request-id
    /// order: format 1 forgot the smallest id first, and so will this one
    /// next, until new outcomes (aged after all of these) arrive.
    pub(super) fn into_current(self) -> OutcomeCache {
        let clients = self
            .clients
            .into_iter()
            .map(|(id, old)| {
                let mut client = ClientOutcomes {
                    last_seen_ms: old.last_seen_ms,
                    ..ClientOutcomes::default()
                };
                for (request_id, remembered) in old.outcomes {
                    let age = client.next_age;
                    client.next_age += 1;
                    client.by_age.insert(age, request_id);
                    client.outcomes.insert(request_id, Aged { age, remembered });
                }
                (id, client)
            })
            .collect();
        OutcomeCache {
            clients,
            by_last_seen: self.by_last_seen,
        }
    }
}

/// Format 1's encoding of a cache (to check an old snapshot converts exactly).
#[derive(Serialize)]
pub(super) struct LegacyCacheView<'a> {
    clients: BTreeMap<&'a str, LegacyClientView<'a>>,
    by_last_seen: &'a Set<(u64, String)>,
}

#[derive(Serialize)]
struct LegacyClientView<'a> {
    last_seen_ms: u64,
    outcomes: BTreeMap<u64, &'a Remembered>,
}

/// Bounded, expiring memory of outcomes per client: part of the replicated state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCache {
    clients: Map<String, ClientOutcomes>,
    by_last_seen: Set<(u64, String)>,
}

impl OutcomeCache {
    /// The remembered outcome for `key`, if any.
    pub fn get(&self, key: &IdempotencyKey) -> Option<&Remembered> {
        #[cfg(feature = "planted-bugs")]
        if crate::planted::machine::forgets_reply(key.request_id) {
            return None;
        }
        self.clients
            .get(&key.client_id)?
            .outcomes
            .get(&key.request_id)
            .map(|a| &a.remembered)
    }

    /// Remembers the first outcome for `key` at logical time `now_ms`; past
    /// [`OUTCOMES_PER_CLIENT`] the client's oldest remembered outcome is
    /// forgotten, never the one just stored.
    pub fn remember(&mut self, key: &IdempotencyKey, remembered: Remembered, now_ms: u64) {
        let client = self.clients.entry(key.client_id.clone()).or_default();
        self.by_last_seen
            .remove(&(client.last_seen_ms, key.client_id.clone()));
        client.last_seen_ms = now_ms;
        self.by_last_seen.insert((now_ms, key.client_id.clone()));
        client.remember(key.request_id, remembered);
    }

    /// Forgets clients silent for longer than [`CLIENT_RETENTION_MS`].
    pub fn forget_idle(&mut self, now_ms: u64) {
        while let Some((seen, client)) = self.by_last_seen.get_min().cloned() {
            if seen.saturating_add(CLIENT_RETENTION_MS) > now_ms {
                break;
            }
            self.by_last_seen.remove_min();
            self.clients.remove(&client);
        }
    }

    /// This cache as format 1 would have encoded it (ages dropped).
    pub(super) fn legacy_view(&self) -> LegacyCacheView<'_> {
        LegacyCacheView {
            clients: self
                .clients
                .iter()
                .map(|(id, c)| {
                    let outcomes = c
                        .outcomes
                        .iter()
                        .map(|(r, aged)| (*r, &aged.remembered))
                        .collect();
                    (
                        id.as_str(),
                        LegacyClientView {
                            last_seen_ms: c.last_seen_ms,
                            outcomes,
                        },
                    )
                })
                .collect(),
            by_last_seen: &self.by_last_seen,
        }
    }

    /// How many clients are remembered (for tests and metrics).
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// The request ids remembered for `client_id`, oldest first (for the property tests).
    #[cfg(test)]
    pub(super) fn request_ids_by_age(&self, client_id: &str) -> Vec<u64> {
        self.clients
            .get(client_id)
            .map(|c| c.by_age.values().copied().collect())
            .unwrap_or_default()
    }

    /// Checks that every client's age index agrees with its outcomes (for the property tests).
    #[cfg(test)]
    pub(super) fn check_indexes(&self) -> Result<(), String> {
        for (id, c) in &self.clients {
            if c.outcomes.len() != c.by_age.len() || c.outcomes.len() > OUTCOMES_PER_CLIENT {
                return Err(format!(
                    "{id}: {} outcomes, {} ages",
                    c.outcomes.len(),
                    c.by_age.len()
                ));
            }
            for (age, request_id) in &c.by_age {
                if c.outcomes.get(request_id).map(|a| a.age) != Some(*age) || *age >= c.next_age {
                    return Err(format!("{id}: age {age} of request {request_id} disagrees"));
                }
            }
            if !self.by_last_seen.contains(&(c.last_seen_ms, id.clone())) {
                return Err(format!("{id}: not in by_last_seen"));
            }
        }
        if self.by_last_seen.len() != self.clients.len() {
            return Err("by_last_seen names a forgotten client".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::super::testing::*;
    use crate::machine::{Command, Effect, Rejection, Request};

    #[test]
    fn retry_gets_first_answer_and_buys_nothing_twice() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 2);
        let req = Request {
            key: Some(key("c1", 7)),
            command: purchase_cmd_for(&m, hold.hold_id, "ana"),
        };
        let first = send(&mut m, 3, 1_000, req.clone());
        assert!(first.outcome.is_ok(), "{first:?}");
        let again = send(&mut m, 4, 1_000, req);
        assert_eq!(first, again);
        assert_eq!(first.log_index, 3);
        assert!(matches!(first.outcome, Ok(Effect::Purchased(ref t)) if t.len() == 2));
        assert_eq!(m.tickets_of("ana").len(), 2);
    }

    #[test]
    fn same_key_other_command_is_refused() {
        let mut m = machine_with_event(5, 4);
        let a = Request {
            key: Some(key("c1", 1)),
            command: hold_cmd("ana", 1),
        };
        let b = Request {
            key: Some(key("c1", 1)),
            command: hold_cmd("ana", 2),
        };
        assert!(send(&mut m, 2, 1_000, a).outcome.is_ok());
        assert!(matches!(
            send(&mut m, 3, 1_000, b).outcome,
            Err(Rejection::KeyReused { .. })
        ));
        assert_eq!(category(&m).held, 1);
    }

    /// A deterministic stream of "random" request ids (SplitMix64), as a
    /// client that draws its request ids at random sends them.
    fn random_ids(seed: u64) -> impl Iterator<Item = u64> {
        let mut state = seed;
        std::iter::repeat_with(move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
    }

    #[test]
    fn random_request_ids_keep_the_newest_answers() {
        // A client past OUTCOMES_PER_CLIENT outcomes with random request ids:
        // after every request, each of its newest 256 retried gets the first
        // answer (same entry index), the one just stored included.
        let mut m = Sale::default();
        let mut sent: Vec<(Request, crate::machine::Answer)> = Vec::new();
        for (n, id) in random_ids(7)
            .take(3 * super::OUTCOMES_PER_CLIENT)
            .enumerate()
        {
            let request = Request {
                key: Some(key("gw", id)),
                command: Command::Tick,
            };
            let index = n as u64 + 1;
            let first = send(&mut m, index, 1_000, request.clone());
            sent.push((request, first));
            let newest = sent.len().saturating_sub(super::OUTCOMES_PER_CLIENT);
            for (request, first) in &sent[newest..] {
                let key = request.key.as_ref().unwrap();
                assert_eq!(
                    m.remembered(key).as_ref(),
                    Some(first),
                    "request {} forgotten after {n} requests",
                    key.request_id
                );
            }
        }
        let last = sent.last().unwrap().clone();
        assert_eq!(send(&mut m, 10_000, 1_000, last.0), last.1);
    }

    #[test]
    fn a_retried_hold_with_a_small_id_is_not_placed_twice() {
        // 256 answers with large ids, then a hold with a small id: the cache
        // must keep the hold's answer, so its retry places nothing.
        let mut m = machine_with_event(5, 4);
        for i in 0..super::OUTCOMES_PER_CLIENT as u64 {
            let tick = Request {
                key: Some(key("web:ana", 1_000_000 + i)),
                command: Command::Tick,
            };
            send(&mut m, 10 + i, 1_000, tick);
        }
        let hold = Request {
            key: Some(key("web:ana", 5)),
            command: hold_cmd("ana", 1),
        };
        let first = send(&mut m, 1_000, 1_000, hold.clone());
        assert!(
            matches!(first.outcome, Ok(Effect::HoldPlaced(_))),
            "{first:?}"
        );
        let again = send(&mut m, 1_001, 1_000, hold);
        assert_eq!(again, first);
        assert_eq!(category(&m).held, 1, "the retry placed a second hold");
    }

    #[test]
    fn the_cache_encodes_each_outcome_with_its_age_and_the_age_order() {
        // The layout snapshots and backups carry (bump backup::MACHINE_FORMAT
        // when it changes): per client its last-seen time, outcomes by
        // request id with their ages, the age order, the next age.
        #[derive(serde::Serialize)]
        struct Client {
            last_seen_ms: u64,
            outcomes: BTreeMap<u64, (u64, super::Remembered)>,
            by_age: BTreeMap<u64, u64>,
            next_age: u64,
        }
        let mut cache = super::OutcomeCache::default();
        let remembered = |log_index| super::Remembered {
            fingerprint: [7; 32],
            log_index,
            outcome: Ok(Effect::Ticked),
        };
        cache.remember(&key("gw", 90), remembered(1), 1_000);
        cache.remember(&key("gw", 3), remembered(2), 2_000);
        let client = Client {
            last_seen_ms: 2_000,
            outcomes: [(3, (1, remembered(2))), (90, (0, remembered(1)))].into(),
            by_age: [(0, 90), (1, 3)].into(),
            next_age: 2,
        };
        let clients: BTreeMap<String, Client> = [("gw".to_string(), client)].into();
        let by_last_seen: BTreeSet<(u64, String)> = [(2_000, "gw".to_string())].into();
        assert_eq!(
            bincode::serialize(&cache).unwrap(),
            bincode::serialize(&(clients, by_last_seen)).unwrap()
        );
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let mut m = Sale::default();
        let r = Request {
            key: Some(key("c1", 1)),
            command: Command::Tick,
        };
        send(&mut m, 1, 0, r).outcome.unwrap();
        assert_eq!(m.outcomes.client_count(), 1);
        apply(&mut m, 2, super::CLIENT_RETENTION_MS + 1, Command::Tick).unwrap();
        assert_eq!(m.outcomes.client_count(), 0);
    }
}
