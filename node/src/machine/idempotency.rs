//! Remembered outcomes, so a retried request gets its first answer instead of running twice.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::command::IdempotencyKey;
use super::Outcome;

/// Outcomes kept per client (older ones are forgotten first).
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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ClientOutcomes {
    last_seen_ms: u64,
    outcomes: BTreeMap<u64, Remembered>,
}

/// Bounded, expiring memory of outcomes per client: part of the replicated state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCache {
    clients: BTreeMap<String, ClientOutcomes>,
    by_last_seen: BTreeSet<(u64, String)>,
}

impl OutcomeCache {
    /// The remembered outcome for `key`, if any.
    pub fn get(&self, key: &IdempotencyKey) -> Option<&Remembered> {
        self.clients
            .get(&key.client_id)?
            .outcomes
            .get(&key.request_id)
    }

    /// Remembers the first outcome for `key` at logical time `now_ms`, evicting the oldest entries.
    pub fn remember(&mut self, key: &IdempotencyKey, remembered: Remembered, now_ms: u64) {
        let client = self.clients.entry(key.client_id.clone()).or_default();
        self.by_last_seen
            .remove(&(client.last_seen_ms, key.client_id.clone()));
        client.last_seen_ms = now_ms;
        self.by_last_seen.insert((now_ms, key.client_id.clone()));
        client.outcomes.insert(key.request_id, remembered);
        while client.outcomes.len() > OUTCOMES_PER_CLIENT {
            client.outcomes.pop_first();
        }
    }

    /// Forgets clients silent for longer than [`CLIENT_RETENTION_MS`].
    pub fn forget_idle(&mut self, now_ms: u64) {
        while let Some((seen, client)) = self.by_last_seen.first().cloned() {
            if seen.saturating_add(CLIENT_RETENTION_MS) > now_ms {
                break;
            }
            self.by_last_seen.pop_first();
            self.clients.remove(&client);
        }
    }

    /// How many clients are remembered (for tests and metrics).
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }
}

#[cfg(test)]
mod tests {
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
