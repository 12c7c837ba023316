//! Property tests: invariants that hold after any sequence of commands.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::testing::{apply, hold_cmd_for, key, machine_with, purchase_cmd_for, Sale, TTL};
use super::*;

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    /// Pay for and buy the customer's own live hold, if any.
    BuyOwn(usize),
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
    /// A gateway records a login attempt (steps are small, so replays are common).
    Login {
        customer: usize,
        succeeded: bool,
        totp_step: Option<u64>,
    },
}

const CATEGORIES: [&str; 2] = ["pista", "cadeira"];
const CUSTOMERS: [&str; 5] = ["ana", "bia", "caio", "davi", "eva"];
const CAPACITY: u32 = 12;
const LIMIT: u32 = 4;
/// Event-wide limit across both categories (the "4 per CPF per day" rule, here 6).
const EVENT_LIMIT: u32 = 6;

/// The policy every random history runs under.
fn policy() -> SalePolicy {
    SalePolicy {
        per_customer_event_limit: EVENT_LIMIT,
        max_per_hold: 3,
        one_live_hold: true,
        ..SalePolicy::default()
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..2usize, 0..5usize, 0..6u32).prop_map(|(category, customer, quantity)| Step::Hold { category, customer, quantity }),
        1 => (0..40usize, 0..5usize).prop_map(|(hold, customer)| Step::Release { hold, customer }),
        3 => (0..40usize, 0..5usize).prop_map(|(hold, customer)| Step::Purchase { hold, customer }),
        4 => (0..5usize).prop_map(Step::BuyOwn),
        1 => (0..(2 * TTL)).prop_map(Step::Advance),
        1 => (0..40usize).prop_map(Step::Retry),
        1 => (0..5usize, any::<bool>(), prop::option::of(1..20u64)).prop_map(|(customer, succeeded, totp_step)| Step::Login { customer, succeeded, totp_step }),
    ]
}

/// Runs a history on a fresh machine; returns it with every outcome.
fn run(steps: &[Step]) -> (Sale, Vec<Outcome>) {
    let (m, outcomes, _) = run_keeping_requests(steps);
    (m, outcomes)
}

/// Like [`run`], also returning the first-time requests paired with their outcomes' order
/// (retries are not in `sent`, and their outcomes are not in the returned first outcomes).
fn run_keeping_requests(steps: &[Step]) -> (Sale, Vec<Outcome>, Vec<Request>) {
    let mut m = machine_with(CAPACITY, LIMIT, policy());
    let mut now = 1_000;
    let mut sent: Vec<Request> = Vec::new();
    let mut outcomes = Vec::new();
    // The login model: (failed logins, last TOTP step) per customer.
    let mut logins: BTreeMap<&str, (u32, u64)> = BTreeMap::new();
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
            Step::BuyOwn(customer) => {
                let who = CUSTOMERS[*customer];
                let own = m
                    .holds
                    .values()
                    .filter(|h| h.customer_id == who && h.status == HoldStatus::Live)
                    .map(|h| h.hold_id)
                    .next_back()
                    .unwrap_or(u64::MAX);
                purchase_cmd_for(&m, own, who)
            }
            Step::Purchase { hold, customer } => {
                purchase_cmd_for(&m, *hold as u64, CUSTOMERS[*customer])
            }
            Step::Advance(ms) => {
                now += ms;
                Command::Tick
            }
            Step::Login {
                customer,
                succeeded,
                totp_step,
            } => Command::RecordLogin {
                customer_id: CUSTOMERS[*customer].into(),
                outcome: if *succeeded {
                    LoginOutcome::Succeeded {
                        totp_step: *totp_step,
                    }
                } else {
                    LoginOutcome::Failed
                },
            },
            Step::Retry(n) => match sent.get(*n) {
                Some(r) => {
                    let proposal = Proposal {
                        ts_ms: now,
                        requests: vec![r.clone()],
                    };
                    let again = m.apply(index, &proposal).remove(0).outcome;
                    assert_eq!(again, outcomes[*n], "a retry got a different answer");
                    continue;
                }
                None => Command::Tick,
            },
        };
        let request = Request {
            key: Some(key("client", index)),
            command,
        };
        let proposal = Proposal {
            ts_ms: now,
            requests: vec![request.clone()],
        };
        outcomes.extend(m.apply(index, &proposal).into_iter().map(|a| a.outcome));
        sent.push(request);
        if let Step::Login {
            customer,
            succeeded,
            totp_step,
        } = s
        {
            check_login(
                &m,
                &mut logins,
                CUSTOMERS[*customer],
                *succeeded,
                *totp_step,
                now,
            );
        }
        check_invariants(&m);
    }
    (m, outcomes, sent)
}

/// Checks one recorded login against the model: failures count and are stamped,
/// a success resets the count unless its TOTP step is not newer than the last one.
fn check_login<'a>(
    m: &SaleMachine,
    model: &mut BTreeMap<&'a str, (u32, u64)>,
    customer: &'a str,
    succeeded: bool,
    totp_step: Option<u64>,
    now: u64,
) {
    let (failed, last_step) = model.entry(customer).or_default();
    match (succeeded, totp_step) {
        (false, _) => *failed += 1,
        (true, Some(step)) if step <= *last_step => {}
        (true, step) => {
            *failed = 0;
            *last_step = step.unwrap_or(*last_step);
        }
    }
    let c = m.customers().get(customer).expect("registered");
    assert_eq!((c.failed_logins, c.last_totp_step), (*failed, *last_step));
    if !succeeded {
        assert_eq!(c.last_failed_login_ms, now);
    }
}

fn check_invariants(m: &SaleMachine) {
    let event = m.sale_event("rock").unwrap();
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
    for customer in CUSTOMERS {
        let live_holds = m
            .holds
            .values()
            .filter(|h| h.status == HoldStatus::Live && h.customer_id == customer)
            .count();
        assert!(live_holds <= 1, "{customer} has {live_holds} live holds");
        let mut total = 0;
        for cat in event.categories.values() {
            let c = cat.customer(customer);
            total += c.held + c.bought;
        }
        assert!(
            total <= EVENT_LIMIT,
            "{customer} exceeds the event limit: {total}"
        );
    }
    for h in m.holds.values() {
        assert!(h.quantity <= 3, "hold above max_per_hold: {h:?}");
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
        let (machine, journal) = decode_snapshot(&encode_snapshot(&a.machine, &a.journal)).unwrap();
        prop_assert_eq!(state_hash(&machine, &journal), a.state_hash());
        prop_assert_eq!(Sale { machine, journal }, a);
    }

    #[test]
    fn retries_never_change_the_answer(steps in prop::collection::vec(step(), 1..80)) {
        // Re-sending every request (same key, same command) at the end returns the
        // first outcome and changes no sale state: only the audit chain records the retries.
        let (mut m, outcomes, sent) = run_keeping_requests(&steps);
        let sale_before = (m.sale_events.clone(), m.holds.clone(), m.tickets.clone(), m.journal.domain_events_since(0, usize::MAX), m.customers.clone());
        let audit_before = m.journal.audit().len();
        let now = m.now_ms();
        for (request, first) in sent.iter().zip(outcomes.iter()) {
            let proposal = Proposal { ts_ms: now, requests: vec![request.clone()] };
            let again = m.apply(2, &proposal).remove(0).outcome;
            prop_assert_eq!(&again, first);
        }
        prop_assert_eq!((m.sale_events.clone(), m.holds.clone(), m.tickets.clone(), m.journal.domain_events_since(0, usize::MAX), m.customers.clone()), sale_before);
        prop_assert_eq!(m.journal.audit().len(), audit_before + sent.len() as u64);
        prop_assert!(verify_chain(m.journal.audit().pending()).is_ok());
    }

    #[test]
    fn audit_chain_verifies_and_any_single_byte_change_breaks_it(
        steps in prop::collection::vec(step(), 1..60),
        pick in any::<prop::sample::Index>(),
        field in 0..8usize,
        byte in any::<prop::sample::Index>(),
        flip in 1..=255u8,
    ) {
        let (m, _) = run(&steps);
        let mut records = m.journal.audit().pending().to_vec();
        prop_assert_eq!(verify_chain(&records), Ok(m.journal.audit().head()));
        let r = &mut records[pick.index(m.journal.audit().len() as usize)];
        fn flip_str(s: &mut String, at: usize, flip: u8) {
            let mut bytes = std::mem::take(s).into_bytes();
            if bytes.is_empty() {
                bytes.push(flip);
            } else {
                let i = at % bytes.len();
                bytes[i] ^= flip;
            }
            *s = String::from_utf8_lossy(&bytes).into_owned();
        }
        let at = byte.index(64);
        match field {
            0 => r.ts_ms ^= u64::from(flip) << (8 * (at % 8)),
            1 => r.log_index ^= u64::from(flip) << (8 * (at % 8)),
            2 => flip_str(&mut r.actor, at, flip),
            3 => flip_str(&mut r.action, at, flip),
            4 => flip_str(&mut r.outcome, at, flip),
            5 => match r.ids.first_mut() {
                Some(id) => flip_str(id, at, flip),
                None => r.ids.push("x".into()),
            },
            6 => r.prev_hash[at % 32] ^= flip,
            _ => r.hash[at % 32] ^= flip,
        }
        prop_assert!(verify_chain(&records).is_err(), "a changed record still verifies");
    }

    #[test]
    fn admission_order_is_the_shuffled_pre_queue_then_join_order(
        before in 0..30usize,
        after in 0..30usize,
        opening_index in 100..10_000u64,
    ) {
        let people: Vec<String> = (0..before + after).map(|i| format!("c{i}")).collect();
        let run_once = || {
            let mut m = super::testing::queued_machine(10_000, 0, 1_000);
            let mut index = 2;
            for (i, c) in people.iter().enumerate() {
                let cpf = Cpf::from_base(i as u64 + 1);
                apply(&mut m, index, 1_000, super::testing::register_cmd(c, cpf.as_str())).expect("registered");
                index += 1;
            }
            for c in &people[..before] {
                apply(&mut m, index, 5_000, super::testing::join_cmd(c)).expect("pre-queue join");
                index += 1;
            }
            // The sale opens at the entry with log index `opening_index`.
            apply(&mut m, opening_index, 10_000, Command::Tick).expect("tick");
            index = opening_index + 1;
            for c in &people[before..] {
                apply(&mut m, index, 11_000, super::testing::join_cmd(c)).expect("join");
                index += 1;
            }
            apply(&mut m, index, 12_000, Command::Tick).expect("tick");
            m
        };
        let a = run_once();
        let b = run_once();
        prop_assert_eq!(a.state_hash(), b.state_hash());
        let mut expected: Vec<String> = people[..before].to_vec();
        super::queue::shuffle(&mut expected, super::queue::opening_seed("rock", opening_index));
        expected.extend(people[before..].iter().cloned());
        let admitted: Vec<String> = a
            .journal
            .domain_events_since(0, usize::MAX)
            .into_iter()
            .filter(|e| e.kind == Some(DomainEventKind::Admitted))
            .map(|e| e.customer_id)
            .collect();
        prop_assert_eq!(admitted, expected);
    }

    #[test]
    fn decode_never_panics_on_garbage(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_snapshot(&bytes);
    }
}
