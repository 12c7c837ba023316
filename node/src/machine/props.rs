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

/// One step of a random queue history.
#[derive(Debug, Clone)]
enum QueueStep {
    /// A fan of the pool joins (again, if already in).
    Join(usize),
    /// Time moves on by this much (a tick): may open the sale, admit, lapse admissions.
    Advance(u64),
    /// An admitted fan's admission is spent (as a purchase spends it).
    Spend(usize),
    /// The state goes through a snapshot: encoded, decoded, and carried on from the copy.
    Snapshot,
}

/// Fans in the queue histories' pool.
const FANS: usize = 40;
/// When the queue histories' sale opens.
const QUEUE_OPENS_AT: u64 = 10_000;

fn queue_step() -> impl Strategy<Value = QueueStep> {
    prop_oneof![
        6 => (0..FANS).prop_map(QueueStep::Join),
        2 => (0..4_000u64).prop_map(QueueStep::Advance),
        1 => (0..FANS).prop_map(QueueStep::Spend),
        1 => Just(QueueStep::Snapshot),
    ]
}

fn fan(i: usize) -> String {
    format!("fan{i}")
}

/// What `queue_position` must answer, worked out by scanning the lists, as
/// the machine did before they were indexed.
fn brute_force_position(m: &SaleMachine, customer: &str) -> Result<QueuePosition, Rejection> {
    let event = m.sale_event("rock")?;
    let policy = event.policy.queue.clone().expect("a queued event");
    let queue = event.queue.clone().unwrap_or_default();
    let in_pre_queue = queue.pre_queue.iter().any(|c| c == customer);
    let seq = match queue.line.iter().position(|c| c == customer) {
        Some(i) => i as u64 + 1,
        None if in_pre_queue => 0,
        None => return Err(Rejection::NotInQueue(customer.to_string())),
    };
    let admission = queue.admissions.get(customer).cloned();
    let people_ahead = if in_pre_queue {
        queue.pre_queue.len() as u64
    } else {
        seq.saturating_sub(queue.admitted_up_to + 1)
    };
    let elapsed = m.now_ms().saturating_sub(queue.opened_at_ms);
    let estimated_wait_ms = if admission.is_some() {
        0
    } else if queue.opened && queue.admitted_up_to > 0 && elapsed > 0 {
        (people_ahead + 1).saturating_mul(elapsed) / queue.admitted_up_to
    } else if policy.admit_per_minute > 0 {
        (people_ahead + 1).saturating_mul(60_000) / u64::from(policy.admit_per_minute)
    } else {
        0
    };
    Ok(QueuePosition {
        event_id: "rock".into(),
        customer_id: customer.to_string(),
        seq,
        in_pre_queue,
        people_ahead,
        admitted_up_to: queue.admitted_up_to,
        admission,
        estimated_wait_ms,
        queue_length: (queue.line.len() + queue.pre_queue.len()) as u64,
    })
}

/// The queue's indexes agree with its lists: the pre-queue index names
/// exactly the pre-queue with each fan's place in it, the seq map exactly
/// the line, nobody is in both or twice, and the admitted are the line's head.
fn check_queue_indexes(queue: &QueueState) {
    assert_eq!(queue.pre_queue_index.len(), queue.pre_queue.len());
    for (i, c) in queue.pre_queue.iter().enumerate() {
        assert_eq!(queue.pre_queue_index.get(c), Some(&(i as u64)), "{c}");
    }
    assert_eq!(queue.seq_of.len(), queue.line.len());
    for (i, c) in queue.line.iter().enumerate() {
        assert_eq!(queue.seq_of.get(c), Some(&(i as u64 + 1)), "{c}");
    }
    if queue.opened {
        assert!(queue.pre_queue.is_empty(), "a pre-queue after the opening");
    } else {
        assert!(queue.line.is_empty(), "a line before the opening");
    }
    assert!(queue.admitted_up_to <= queue.line.len() as u64);
    let admitted: BTreeSet<&String> = queue.admissions.keys().collect();
    let head: BTreeSet<&String> = queue
        .line
        .iter()
        .take(queue.admitted_up_to as usize)
        .collect();
    assert_eq!(admitted, head);
    for (c, seq) in queue.line.iter().zip(1..) {
        if let Some(a) = queue.admissions.get(c) {
            assert_eq!(a.seq, seq);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn queue_indexes_agree_with_the_lists_and_positions_with_a_scan(
        steps in prop::collection::vec(queue_step(), 1..150),
        admit_per_minute in 0..120u32,
        max_active in 0..4u32,
    ) {
        // A queue needs a rate or a maximum of shoppers (or both).
        let max_active = if admit_per_minute == 0 { max_active.max(1) } else { max_active };
        let mut m = super::testing::queued_machine(QUEUE_OPENS_AT, admit_per_minute, max_active);
        for i in 0..FANS {
            let cpf = Cpf::from_base(i as u64 + 1);
            apply(&mut m, i as u64 + 2, 1_000, super::testing::register_cmd(&fan(i), cpf.as_str())).expect("registered");
        }
        // The model: arrival order before the opening, then the shuffled line.
        let mut pre_queue: Vec<String> = Vec::new();
        let mut line: Option<Vec<String>> = None;
        let mut now = 1_000;
        let mut index = FANS as u64 + 2;
        for s in &steps {
            index += 1;
            let command = match s {
                QueueStep::Join(i) => super::testing::join_cmd(&fan(*i)),
                QueueStep::Advance(ms) => {
                    now += ms;
                    Command::Tick
                }
                QueueStep::Spend(i) => {
                    m.machine.spend_admission("rock", &fan(*i));
                    continue;
                }
                QueueStep::Snapshot => {
                    let bytes = encode_snapshot(&m.machine, &m.journal);
                    let (machine, journal) = decode_snapshot(&bytes).expect("decodes");
                    let copy = Sale { machine, journal };
                    prop_assert_eq!(&copy, &m, "a decoded queue differs (its index was not rebuilt?)");
                    m = copy;
                    continue;
                }
            };
            if line.is_none() && now >= QUEUE_OPENS_AT {
                // This entry opens the sale, before its own request runs.
                let mut opened = std::mem::take(&mut pre_queue);
                shuffle(&mut opened, super::queue::opening_seed("rock", index));
                line = Some(opened);
            }
            let outcome = apply(&mut m, index, now, command.clone());
            if let (QueueStep::Join(i), Ok(_)) = (s, &outcome) {
                let who = fan(*i);
                let list = line.as_mut().unwrap_or(&mut pre_queue);
                if !list.contains(&who) {
                    list.push(who);
                }
            }
            let queue = m.sale_event("rock").unwrap().queue.clone().unwrap_or_default();
            check_queue_indexes(&queue);
            prop_assert_eq!(queue.pre_queue.iter().collect::<Vec<_>>(), pre_queue.iter().collect::<Vec<_>>());
            let expected_line = line.clone().unwrap_or_default();
            prop_assert_eq!(queue.line.iter().collect::<Vec<_>>(), expected_line.iter().collect::<Vec<_>>());
            for i in 0..FANS {
                let who = fan(i);
                prop_assert_eq!(m.queue_position("rock", &who), brute_force_position(&m, &who));
                prop_assert_eq!(queue.contains(&who), queue.seq_of.contains_key(&who) || pre_queue.contains(&who));
            }
        }
    }
}

/// One remembered request in the cache model: the key's request id and its first answer.
type Sent = (u64, Answer);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_clients_newest_outcomes_are_always_answerable(
        // Request ids from a small range repeat (retries, and reuse after
        // eviction), from a large one they are as random as a client's draw.
        requests in prop::collection::vec((0..3usize, prop_oneof![0..400u64, any::<u64>()], 0..2_000u64), 1..1_200),
    ) {
        let clients = ["gw-a", "gw-b", "web:ana"];
        let mut m = Sale::default();
        // Per client: its first-time requests, oldest first, and when it was last seen.
        let mut model: BTreeMap<&str, (Vec<Sent>, u64)> = BTreeMap::new();
        let mut now = 1_000;
        for (n, (client, request_id, pause)) in requests.iter().enumerate() {
            let index = n as u64 + 1;
            // Now and then (1 in 2 000) an hour's pause: idle clients are forgotten.
            now += if *pause == 0 { super::idempotency::CLIENT_RETENTION_MS } else { *pause };
            model.retain(|_, (_, seen)| seen.saturating_add(super::idempotency::CLIENT_RETENTION_MS) > now);
            let client = clients[*client];
            let k = key(client, *request_id);
            let request = Request { key: Some(k.clone()), command: Command::Tick };
            // The model says whether this is a retry of a request still remembered.
            let first = model
                .get(client)
                .and_then(|(sent, _)| sent.iter().find(|(id, _)| id == request_id))
                .map(|(_, answer)| answer.clone());
            let answer = super::testing::send(&mut m, index, now, request);
            match first {
                // A retry: the first answer. It neither refreshes the client
                // nor moves the outcome in the cache's order.
                Some(first) => prop_assert_eq!(answer, first),
                None => {
                    prop_assert_eq!(answer.log_index, index, "a new request ran now");
                    let (sent, seen) = model.entry(client).or_default();
                    *seen = now;
                    sent.push((*request_id, answer));
                    let keep = sent.len().saturating_sub(super::idempotency::OUTCOMES_PER_CLIENT);
                    sent.drain(..keep);
                }
            }
            prop_assert_eq!(m.outcomes.check_indexes(), Ok(()));
            prop_assert_eq!(m.outcomes.client_count(), model.len());
            for (client, (sent, _)) in &model {
                // Exactly the newest outcomes are kept, oldest first, each with its first answer.
                let ids: Vec<u64> = sent.iter().map(|(id, _)| *id).collect();
                prop_assert_eq!(m.outcomes.request_ids_by_age(client), ids);
                for (id, first) in sent {
                    prop_assert_eq!(m.remembered(&key(client, *id)), Some(first.clone()));
                }
            }
        }
    }
}
