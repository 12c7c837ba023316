//! Property tests: invariants that hold after any sequence of commands.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::testing::*;
use super::*;

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    Hold {
        category: usize,
        customer: usize,
        quantity: u32,
    },
    Release {
        hold: usize,
        customer: usize,
    },
    Purchase {
        hold: usize,
        customer: usize,
    },
    Advance(u64),
    Retry(usize),
}

const CATEGORIES: [&str; 2] = ["pista", "cadeira"];
const CUSTOMERS: [&str; 5] = ["ana", "bia", "caio", "davi", "eva"];
const CAPACITY: u32 = 12;
const LIMIT: u32 = 4;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..2usize, 0..5usize, 0..6u32).prop_map(|(category, customer, quantity)| Step::Hold { category, customer, quantity }),
        1 => (0..40usize, 0..5usize).prop_map(|(hold, customer)| Step::Release { hold, customer }),
        3 => (0..40usize, 0..5usize).prop_map(|(hold, customer)| Step::Purchase { hold, customer }),
        1 => (0..(2 * TTL)).prop_map(Step::Advance),
        1 => (0..40usize).prop_map(Step::Retry),
    ]
}

/// Runs a history on a fresh machine; returns it with every reply.
fn run(steps: &[Step]) -> (SaleMachine, Vec<Reply>) {
    let (m, replies, _) = run_keeping_requests(steps);
    (m, replies)
}

/// Like [`run`], also returning the first-time requests paired with their replies' order
/// (retries are not in `sent`, and their replies are not in the returned first replies).
fn run_keeping_requests(steps: &[Step]) -> (SaleMachine, Vec<Reply>, Vec<Request>) {
    let mut m = machine_with_event(CAPACITY, LIMIT);
    let mut now = 1_000;
    let mut sent: Vec<Request> = Vec::new();
    let mut replies = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let index = i as u64 + 2;
        let command = match s {
            Step::Hold {
                category,
                customer,
                quantity,
            } => hold_cmd_for(
                "rock",
                CATEGORIES[*category],
                CUSTOMERS[*customer],
                *quantity,
            ),
            Step::Release { hold, customer } => Command::ReleaseHold {
                hold_id: *hold as u64,
                customer_id: CUSTOMERS[*customer].into(),
            },
            Step::Purchase { hold, customer } => Command::Purchase {
                hold_id: *hold as u64,
                customer_id: CUSTOMERS[*customer].into(),
            },
            Step::Advance(ms) => {
                now += ms;
                Command::Tick
            }
            Step::Retry(n) => match sent.get(*n) {
                Some(r) => {
                    let batch = Batch {
                        ts_ms: now,
                        requests: vec![r.clone()],
                    };
                    let again = m.apply_batch(index, &batch).remove(0).reply;
                    assert_eq!(again, replies[*n], "a retry got a different answer");
                    continue;
                }
                None => Command::Tick,
            },
        };
        let request = Request {
            key: Some(key("client", index)),
            command,
        };
        let batch = Batch {
            ts_ms: now,
            requests: vec![request.clone()],
        };
        replies.extend(m.apply_batch(index, &batch).into_iter().map(|a| a.reply));
        sent.push(request);
        check_invariants(&m);
    }
    (m, replies, sent)
}

fn check_invariants(m: &SaleMachine) {
    let event = m.event("rock").unwrap();
    let mut live: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for h in m.holds.values().filter(|h| h.status == HoldStatus::Live) {
        *live
            .entry((h.category_id.as_str(), h.customer_id.as_str()))
            .or_default() += h.quantity;
        assert!(
            h.expires_at_ms > m.now_ms(),
            "live hold past its expiry: {h:?}"
        );
    }
    let mut seen = BTreeSet::new();
    for t in m.tickets() {
        assert!(
            seen.insert(t.ticket_id),
            "ticket {} sold twice",
            t.ticket_id
        );
    }
    for (cid, cat) in &event.categories {
        // Conservation: sold + held + available == capacity (available cannot underflow).
        assert!(cat.sold + cat.held <= cat.spec.capacity);
        assert_eq!(cat.sold + cat.held + cat.available(), cat.spec.capacity);
        let sold = m.tickets().filter(|t| &t.category_id == cid).count() as u32;
        assert_eq!(cat.sold, sold, "sold counter disagrees with tickets");
        let held: u32 = live
            .iter()
            .filter(|((c, _), _)| c == cid)
            .map(|(_, q)| q)
            .sum();
        assert_eq!(cat.held, held, "held counter disagrees with live holds");
        for customer in CUSTOMERS {
            let count = cat.customer(customer);
            let bought = m
                .tickets_of(customer)
                .iter()
                .filter(|t| &t.category_id == cid)
                .count() as u32;
            assert_eq!(count.bought, bought);
            assert_eq!(
                count.held,
                live.get(&(cid.as_str(), customer)).copied().unwrap_or(0)
            );
            assert!(
                count.held + count.bought <= cat.spec.per_customer_limit,
                "limit exceeded"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold_for_any_history(steps in prop::collection::vec(step(), 1..120)) {
        run(&steps);
    }

    #[test]
    fn same_entries_give_same_state_hash(steps in prop::collection::vec(step(), 1..80)) {
        let (a, ra) = run(&steps);
        let (b, rb) = run(&steps);
        prop_assert_eq!(ra, rb);
        prop_assert_eq!(a.state_hash(), b.state_hash());
        // A snapshot round trip preserves the state exactly.
        let restored = SaleMachine::decode(&a.encode()).unwrap();
        prop_assert_eq!(restored.state_hash(), a.state_hash());
        prop_assert_eq!(restored, a);
    }

    #[test]
    fn retries_never_change_the_answer(steps in prop::collection::vec(step(), 1..80)) {
        // Re-sending every request (same key, same command) at the end returns the
        // first reply and leaves the state byte-for-byte unchanged.
        let (mut m, replies, sent) = run_keeping_requests(&steps);
        let hash_before = m.state_hash();
        let now = m.now_ms();
        for (request, first) in sent.iter().zip(replies.iter()) {
            let batch = Batch { ts_ms: now, requests: vec![request.clone()] };
            let again = m.apply_batch(2, &batch).remove(0).reply;
            prop_assert_eq!(&again, first);
        }
        prop_assert_eq!(m.state_hash(), hash_before);
    }

    #[test]
    fn decode_never_panics_on_garbage(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = SaleMachine::decode(&bytes);
    }
}
