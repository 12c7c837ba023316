//! The virtual queue ("fila de espera"): FIFO by commit order, a pre-queue shuffled once at
//! opening with a seed from the log, and admissions at a configured rate / maximum of shoppers.
//!
//! Everything is decided from log time and log indexes, so every replica
//! admits the same people at the same entries.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::domain_event::{DomainEvent, DomainEventKind};
use super::ids::CustomerId;
use super::persistent::{List, Map, Set};
use super::policy::QueuePolicy;
use super::rejection::Rejection;
use super::{Effect, SaleMachine};

/// One person's admission to shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    pub seq: u64,
    pub admitted_at_ms: u64,
    pub expires_at_ms: u64,
    /// Lapsed or spent on a purchase.
    pub over: bool,
}

/// The queue of one event.
///
/// Only the machine changes it (a [`SaleMachine`]'s events are reachable
/// from outside by shared reference only), so the index below cannot drift
/// from the list it indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "QueueStateWire")]
pub struct QueueState {
    pub opened: bool,
    pub opened_at_ms: u64,
    /// Joins before the opening, in arrival order (shuffled at opening).
    pub pre_queue: List<CustomerId>,
    /// Who is in [`Self::pre_queue`], with their arrival number (their
    /// index in it), so a join and a position read are a map lookup, not a
    /// scan of a list that holds a million pre-sale fans. Derived from the
    /// list: not serialised (the encoding and the state hash are the
    /// list's), rebuilt whenever a queue is decoded.
    #[serde(skip)]
    pub(super) pre_queue_index: Map<CustomerId, u64>,
    /// The line: `line[i]` has seq `i + 1`.
    pub line: List<CustomerId>,
    pub seq_of: Map<CustomerId, u64>,
    /// Everyone with seq <= this was admitted.
    pub admitted_up_to: u64,
    pub admissions: Map<CustomerId, Admission>,
    /// Live admissions by expiry.
    pub live: Set<(u64, CustomerId)>,
}

/// [`QueueState`] as it is encoded: every field but the derived index, in
/// the same order, so decoding one rebuilds the index from the list.
#[derive(Deserialize)]
struct QueueStateWire {
    opened: bool,
    opened_at_ms: u64,
    pre_queue: List<CustomerId>,
    line: List<CustomerId>,
    seq_of: Map<CustomerId, u64>,
    admitted_up_to: u64,
    admissions: Map<CustomerId, Admission>,
    live: Set<(u64, CustomerId)>,
}

impl From<QueueStateWire> for QueueState {
    fn from(w: QueueStateWire) -> Self {
        let pre_queue_index = index_of(&w.pre_queue);
        QueueState {
            opened: w.opened,
            opened_at_ms: w.opened_at_ms,
            pre_queue: w.pre_queue,
            pre_queue_index,
            line: w.line,
            seq_of: w.seq_of,
            admitted_up_to: w.admitted_up_to,
            admissions: w.admissions,
            live: w.live,
        }
    }
}

/// Customer → index in `list`. A customer listed twice (which the machine
/// never does) keeps their first place.
fn index_of(list: &List<CustomerId>) -> Map<CustomerId, u64> {
    let mut index = Map::new();
    for (i, c) in list.iter().enumerate() {
        index.entry(c.clone()).or_insert(i as u64);
    }
    index
}

/// A customer's view of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePosition {
    pub event_id: String,
    pub customer_id: String,
    /// 0 while in the pre-queue.
    pub seq: u64,
    pub in_pre_queue: bool,
    pub people_ahead: u64,
    pub admitted_up_to: u64,
    pub admission: Option<Admission>,
    pub estimated_wait_ms: u64,
    pub queue_length: u64,
}

/// A deterministic permutation of `items` from `seed` (Fisher–Yates over SplitMix64).
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// The shuffle seed: a hash of the event id and the log index of the opening entry.
pub fn opening_seed(event_id: &str, log_index: u64) -> u64 {
    let digest = Sha256::new()
        .chain_update(event_id.as_bytes())
        .chain_update(log_index.to_be_bytes())
        .finalize();
    u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]))
}

impl QueueState {
    /// True if `customer_id` is in the pre-queue: what a position read asks
    /// before the opening, an index lookup (O(log n)) rather than a scan.
    pub fn in_pre_queue(&self, customer_id: &str) -> bool {
        self.pre_queue_index.contains_key(customer_id)
    }

    /// True if `customer_id` joined, before or after the opening: how a
    /// second join finds the first one's place (O(log n)).
    pub fn contains(&self, customer_id: &str) -> bool {
        self.seq_of.contains_key(customer_id) || self.in_pre_queue(customer_id)
    }

    /// Everyone who joined, the line plus the pre-queue: the queue length a
    /// position read shows (O(1)).
    pub fn len(&self) -> u64 {
        (self.line.len() + self.pre_queue.len()) as u64
    }

    /// True when nobody joined yet (the companion of [`Self::len`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `customer_id` at the end of the pre-queue or of the line; no-op if already in.
    fn push(&mut self, customer_id: &str) {
        if self.contains(customer_id) {
            return;
        }
        if self.opened {
            let seq = self.line.len() as u64 + 1;
            #[cfg(feature = "planted-bugs")]
            let seq = crate::planted::machine::queue_number(seq - 1).unwrap_or(seq);
            self.line.push_back(customer_id.to_string());
            self.seq_of.insert(customer_id.to_string(), seq);
        } else {
            self.pre_queue_index
                .insert(customer_id.to_string(), self.pre_queue.len() as u64);
            self.pre_queue.push_back(customer_id.to_string());
        }
    }

    /// Opens the queue: the pre-queue, shuffled with `seed`, becomes the line
    /// (which is empty until the opening; were it not, its fans would keep
    /// their seqs and the shuffled pre-queue would follow them).
    ///
    /// The line is exactly what `shuffle(pre_queue, seed)` gives, as before
    /// the index existed. The seqs are built from the index without a lookup
    /// per fan: the shuffle's permutation depends only on the length and
    /// the seed, so shuffling the arrival numbers with the same seed says
    /// where each arrival lands; the index's keys, already in customer
    /// order, then become the seq map's (inserted one by one: the persistent
    /// map has no bulk build, so this is O(n log n) once, at the opening).
    fn open(&mut self, seed: u64, now_ms: u64) {
        let mut line: Vec<CustomerId> = std::mem::take(&mut self.pre_queue).into_iter().collect();
        let arrivals = std::mem::take(&mut self.pre_queue_index);
        let mut order: Vec<u64> = (0..line.len() as u64).collect();
        shuffle(&mut order, seed);
        shuffle(&mut line, seed);
        let base = self.line.len() as u64;
        let mut seq_of_arrival = vec![0; order.len()];
        for (place, arrival) in order.iter().enumerate() {
            if let Some(slot) = seq_of_arrival.get_mut(*arrival as usize) {
                *slot = base + place as u64 + 1;
            }
        }
        let mut seq_of: Map<CustomerId, u64> = arrivals
            .into_iter()
            .map(|(c, arrival)| {
                let seq = seq_of_arrival.get(arrival as usize).copied().unwrap_or(0);
                (c, seq)
            })
            .collect();
        // Nobody is in the line before the opening; should anyone be, they keep their seq.
        seq_of.extend(std::mem::take(&mut self.seq_of));
        self.seq_of = seq_of;
        self.line.extend(line);
        self.opened = true;
        self.opened_at_ms = now_ms;
    }

    fn live_count(&self) -> u64 {
        self.live.len() as u64
    }

    /// How many people the rate allows to have been admitted by `now`.
    fn allowed_by_rate(&self, policy: &QueuePolicy, now: u64) -> u64 {
        #[cfg(feature = "planted-bugs")]
        if crate::planted::machine::ignores_admission_rate() {
            return u64::MAX;
        }
        if policy.admit_per_minute == 0 {
            return u64::MAX;
        }
        let burst = u64::from(policy.max_active.max(1));
        let elapsed = now.saturating_sub(self.opened_at_ms);
        elapsed.saturating_mul(u64::from(policy.admit_per_minute)) / 60_000 + burst
    }

    /// When the next admission could happen, for the leader's ticker.
    pub fn next_due_ms(&self, policy: &QueuePolicy, opens_at: u64) -> Option<u64> {
        if !self.opened {
            return Some(opens_at);
        }
        let mut due = self.live.get_min().map(|(at, _)| *at);
        let waiting = self.admitted_up_to < self.line.len() as u64;
        let room = policy.max_active == 0 || self.live_count() < u64::from(policy.max_active);
        if waiting && room {
            let at = if policy.admit_per_minute == 0 {
                self.opened_at_ms
            } else {
                let burst = u64::from(policy.max_active.max(1));
                let needed = (self.admitted_up_to + 1).saturating_sub(burst);
                let rate = u64::from(policy.admit_per_minute);
                self.opened_at_ms + (needed * 60_000).div_ceil(rate)
            };
            due = Some(due.map_or(at, |d| d.min(at)));
        }
        due
    }
}

impl SaleMachine {
    /// Opens due sales, lapses admissions and admits the next people, for every queued event;
    /// returns the domain events that stand for it (sale opened, admitted).
    pub(crate) fn advance_queues(&mut self, log_index: u64) -> Vec<DomainEvent> {
        let now = self.now_ms;
        let mut produced = Vec::new();
        for event in self.sale_events.values_mut() {
            let Some(policy) = event.policy.queue.clone() else {
                continue;
            };
            let queue = event.queue.get_or_insert_with(QueueState::default);
            if !queue.opened {
                if now < event.policy.sale_opens_at_ms {
                    continue;
                }
                queue.open(opening_seed(&event.event_id, log_index), now);
                produced.push(DomainEvent {
                    kind: Some(DomainEventKind::SaleOpened),
                    event_id: event.event_id.clone(),
                    ..DomainEvent::default()
                });
            }
            while let Some((at, customer)) = queue.live.get_min().cloned() {
                if at > now {
                    break;
                }
                queue.live.remove_min();
                if let Some(a) = queue.admissions.get_mut(&customer) {
                    a.over = true;
                }
            }
            let allowed = queue.allowed_by_rate(&policy, now);
            while queue.admitted_up_to < queue.line.len() as u64
                && queue.admitted_up_to < allowed
                && (policy.max_active == 0 || queue.live_count() < u64::from(policy.max_active))
            {
                queue.admitted_up_to += 1;
                let customer = queue.line[(queue.admitted_up_to - 1) as usize].clone();
                let admission = Admission {
                    seq: queue.admitted_up_to,
                    admitted_at_ms: now,
                    expires_at_ms: now.saturating_add(policy.admission_ttl_ms),
                    over: false,
                };
                queue
                    .live
                    .insert((admission.expires_at_ms, customer.clone()));
                queue.admissions.insert(customer.clone(), admission);
                produced.push(DomainEvent {
                    kind: Some(DomainEventKind::Admitted),
                    event_id: event.event_id.clone(),
                    customer_id: customer,
                    ..DomainEvent::default()
                });
            }
        }
        produced
    }

    /// Applies [`super::Command::JoinQueue`]: joining twice returns the same place.
    pub(crate) fn join_queue(
        &mut self,
        event_id: &str,
        customer_id: &str,
    ) -> Result<Effect, Rejection> {
        self.customers.require(customer_id)?;
        let event = self
            .sale_events
            .get_mut(event_id)
            .ok_or_else(|| Rejection::UnknownEvent(event_id.to_string()))?;
        if event.policy.queue.is_none() {
            return Err(Rejection::QueueClosed {
                event: event_id.to_string(),
                reason: "this event has no queue".into(),
            });
        }
        let sold_out = event.categories.values().all(|c| c.sold >= c.spec.capacity);
        let queue = event.queue.get_or_insert_with(QueueState::default);
        if !queue.contains(customer_id) {
            if sold_out {
                return Err(Rejection::QueueClosed {
                    event: event_id.to_string(),
                    reason: "sold out".into(),
                });
            }
            queue.push(customer_id);
        }
        Ok(Effect::Queued(self.queue_position(event_id, customer_id)?))
    }

    /// Fails unless `customer_id` holds a live admission for `event_id` (or the event has no queue).
    pub(crate) fn require_admission(
        &self,
        event_id: &str,
        customer_id: &str,
    ) -> Result<(), Rejection> {
        let Ok(event) = self.sale_event(event_id) else {
            return Ok(());
        };
        if event.policy.queue.is_none() {
            return Ok(());
        }
        let live = event
            .queue
            .as_ref()
            .and_then(|q| q.admissions.get(customer_id))
            .is_some_and(|a| !a.over && a.expires_at_ms > self.now_ms);
        if live {
            Ok(())
        } else {
            Err(Rejection::NotAdmitted(customer_id.to_string()))
        }
    }

    /// Ends an admission after a purchase, freeing the slot for the next in line.
    pub(crate) fn spend_admission(&mut self, event_id: &str, customer_id: &str) {
        if let Some(queue) = self
            .sale_events
            .get_mut(event_id)
            .and_then(|e| e.queue.as_mut())
        {
            if let Some(a) = queue.admissions.get_mut(customer_id) {
                if !a.over {
                    a.over = true;
                    queue
                        .live
                        .remove(&(a.expires_at_ms, customer_id.to_string()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::machine::Command;

    #[test]
    fn shuffle_depends_only_on_seed() {
        let mut a: Vec<u32> = (0..100).collect();
        let mut b = a.clone();
        shuffle(&mut a, 42);
        shuffle(&mut b, 42);
        assert_eq!(a, b);
        let mut c: Vec<u32> = (0..100).collect();
        shuffle(&mut c, 43);
        assert_ne!(a, c);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn joins_after_opening_are_fifo_and_admitted_at_the_rate() {
        // Opens at 1000, 60 admissions per minute (1 per second), at most 2 active.
        let mut m = queued_machine(1_000, 60, 2);
        for (i, c) in ["ana", "bia", "caio", "davi"].iter().enumerate() {
            register(&mut m, c, i);
        }
        for (i, c) in ["ana", "bia", "caio", "davi"].iter().enumerate() {
            let Ok(Effect::Queued(p)) = apply(&mut m, 10 + i as u64, 2_000, join_cmd(c)) else {
                panic!()
            };
            assert_eq!(p.seq, i as u64 + 1);
        }
        // Joining twice keeps the place.
        let Ok(Effect::Queued(p)) = apply(&mut m, 20, 2_000, join_cmd("bia")) else {
            panic!()
        };
        assert_eq!(p.seq, 2);
        // At 2000: burst of 2 admitted (max_active 2).
        assert_eq!(m.queue_position("rock", "caio").unwrap().admitted_up_to, 2);
        assert!(m.require_admission("rock", "ana").is_ok());
        assert_eq!(
            m.require_admission("rock", "caio"),
            Err(Rejection::NotAdmitted("caio".into()))
        );
        // ana buys: her slot frees and caio is admitted at the next entry.
        let hold = match apply(&mut m, 21, 2_000, hold_cmd("ana", 1)) {
            Ok(Effect::HoldPlaced(h)) => h,
            other => panic!("{other:?}"),
        };
        buy(&mut m, 22, 2_000, hold.hold_id, "ana").unwrap();
        apply(&mut m, 23, 3_000, Command::Tick).unwrap();
        assert_eq!(m.queue_position("rock", "davi").unwrap().admitted_up_to, 3);
        assert!(m.require_admission("rock", "caio").is_ok());
    }

    #[test]
    fn unused_admissions_lapse() {
        let mut m = queued_machine(1_000, 0, 1);
        register(&mut m, "ana", 0);
        register(&mut m, "bia", 1);
        apply(&mut m, 10, 2_000, join_cmd("ana")).unwrap();
        apply(&mut m, 11, 2_000, join_cmd("bia")).unwrap();
        assert!(m.require_admission("rock", "ana").is_ok());
        assert!(m.require_admission("rock", "bia").is_err());
        apply(&mut m, 12, 2_000 + ADMISSION_TTL, Command::Tick).unwrap();
        assert!(m.require_admission("rock", "ana").is_err());
        assert!(m.require_admission("rock", "bia").is_ok());
    }

    /// How many fans [`a_pre_queue_of_200_000_joins_and_answers_positions`] joins.
    const SCALE_FANS: u64 = 200_000;
    /// Requests per entry in that test, as the proposer's group commit batches them.
    const SCALE_BATCH: u64 = 1_000;

    /// The pre-sale rush at scale: 200 000 fans join before the opening, each
    /// reads their position, the sale opens and everyone reads again. It
    /// asserts the answers, never the time (timed assertions flake), and
    /// runs in CI (about 5 s in a debug build); the loop times are printed
    /// for a by-hand comparison, run in release:
    /// `cargo test -p ingressoja-node --release --lib a_pre_queue_of_200_000 -- --nocapture`.
    #[test]
    fn a_pre_queue_of_200_000_joins_and_answers_positions() {
        let mut m = queued_machine(u64::MAX / 2, 0, 1_000);
        let fans: Vec<String> = (0..SCALE_FANS).map(|i| format!("fan-{i}")).collect();
        let mut index = 2;
        let mut batched = |m: &mut Sale, commands: Vec<Command>, ts: u64| {
            for chunk in commands.chunks(SCALE_BATCH as usize) {
                let proposal = crate::machine::Proposal {
                    ts_ms: ts,
                    requests: chunk
                        .iter()
                        .map(|command| crate::machine::Request {
                            key: None,
                            command: command.clone(),
                        })
                        .collect(),
                };
                let applied = m.machine.apply_entry(index, &proposal);
                index += 1;
                assert!(applied.answers.iter().all(|a| a.outcome.is_ok()));
            }
        };
        let registrations = fans
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let cpf = crate::machine::Cpf::from_base(i as u64 + 1);
                register_cmd(c, cpf.as_str())
            })
            .collect();
        batched(&mut m, registrations, 1_000);

        let started = std::time::Instant::now();
        batched(&mut m, fans.iter().map(|c| join_cmd(c)).collect(), 2_000);
        let joined = started.elapsed();

        let started = std::time::Instant::now();
        for c in &fans {
            let p = m.queue_position("rock", c).expect("in the pre-queue");
            assert!(p.in_pre_queue);
            assert_eq!((p.people_ahead, p.queue_length), (SCALE_FANS, SCALE_FANS));
        }
        let read_before = started.elapsed();

        let started = std::time::Instant::now();
        let opens_at = m.sale_event("rock").unwrap().policy.sale_opens_at_ms;
        batched(&mut m, vec![Command::Tick], opens_at);
        let opened = started.elapsed();

        let started = std::time::Instant::now();
        let mut seen = vec![false; SCALE_FANS as usize];
        for c in &fans {
            let p = m.queue_position("rock", c).expect("in the line");
            assert!(!p.in_pre_queue && p.seq >= 1 && p.seq <= SCALE_FANS);
            assert!(!std::mem::replace(&mut seen[(p.seq - 1) as usize], true));
            assert_eq!(p.queue_length, SCALE_FANS);
        }
        let read_after = started.elapsed();
        eprintln!(
            "{SCALE_FANS} fans: joins {joined:?}, pre-queue position reads {read_before:?}, \
             opening {opened:?}, line position reads {read_after:?}"
        );
    }

    #[test]
    fn holding_without_admission_is_refused() {
        let mut m = queued_machine(1_000, 0, 1);
        register(&mut m, "ana", 0);
        assert_eq!(
            apply(&mut m, 10, 2_000, hold_cmd("ana", 1)),
            Err(Rejection::NotAdmitted("ana".into()))
        );
    }
}
