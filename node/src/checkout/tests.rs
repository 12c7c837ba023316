//! The checkout's branches against the fake payment provider and a real
//! machine behind [`FakeLedger`]: each test asserts on the provider's ledger
//! (what was charged, what was given back) and on the machine's state.

use std::sync::Arc;

use super::fake_ledger::{FakeLedger, Fault};
use super::*;
use crate::machine::testing::{hold_cmd, key, machine_with_policy, TTL};
use crate::machine::{Charge, Effect, Hold, HoldStatus, PaymentFailure, Rejection, SalePolicy};
use crate::metrics::NodeMetrics;
use crate::payment::{
    ChargeRequest, FakeCharge, FakeProvider, PaymentError, PaymentProvider, PAYMENT_TIMEOUT,
};

/// Price of a "pista" ticket in the test event.
const PRICE: u64 = 50_000;
/// Tickets in the test hold.
const QUANTITY: u32 = 2;

/// A sale with one live hold of [`QUANTITY`] "pista" tickets for ana.
struct Sale {
    checkout: Arc<Checkout<FakeLedger>>,
    provider: Arc<FakeProvider>,
    hold: Hold,
}

impl Sale {
    fn new() -> Sale {
        Sale::with(SalePolicy::default(), FakeLedger::new, None)
    }

    /// A sale whose ledger is built by `ledger` from the machine, charging
    /// through `provider` (the plain fake when `None`).
    fn with(
        policy: SalePolicy,
        ledger: impl FnOnce(crate::machine::SaleMachine) -> FakeLedger,
        provider: Option<Arc<dyn PaymentProvider>>,
    ) -> Sale {
        let fake = Arc::new(FakeProvider::default());
        let ledger = ledger(machine_with_policy(policy).machine);
        let Ok(Effect::HoldPlaced(hold)) = ledger.commit(None, hold_cmd("ana", QUANTITY)) else {
            panic!("the test hold is placed")
        };
        let payments = provider.unwrap_or_else(|| fake.clone());
        let checkout = Arc::new(Checkout::new(
            ledger,
            payments,
            Arc::new(NodeMetrics::default()),
        ));
        Sale {
            checkout,
            provider: fake,
            hold,
        }
    }

    fn order(&self, request_id: u64, token: &str) -> PurchaseOrder {
        PurchaseOrder {
            key: key("buyer", request_id),
            hold_id: self.hold.hold_id,
            customer_id: "ana".into(),
            payment_token: token.into(),
        }
    }

    fn ledger(&self) -> &FakeLedger {
        self.checkout.ledger()
    }

    /// The provider's charges, by key.
    fn charges(&self) -> Vec<(String, FakeCharge)> {
        self.provider.ledger().into_iter().collect()
    }

    /// (sold, held) of the hold's category.
    fn sold_held(&self) -> (u32, u32) {
        let m = self.ledger().machine();
        let category = &m.sale_event("rock").expect("event").categories["pista"];
        (category.sold, category.held)
    }

    fn hold_status(&self) -> HoldStatus {
        self.ledger()
            .machine()
            .hold(self.hold.hold_id)
            .expect("hold")
            .status
    }

    fn tickets_of_ana(&self) -> usize {
        self.ledger().machine().tickets_of("ana").len()
    }
}

/// Charges through the fake provider, then answers only after the checkout
/// gave up: a charge that went through but whose answer came too late.
struct StallingProvider(Arc<FakeProvider>);

#[tonic::async_trait]
impl PaymentProvider for StallingProvider {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let charged = self.0.charge(request).await;
        tokio::time::sleep(PAYMENT_TIMEOUT * 2).await;
        charged
    }

    async fn charge_of(&self, key: &str) -> Result<Option<String>, PaymentError> {
        self.0.charge_of(key).await
    }

    async fn refund(&self, key: &str) -> Result<(), PaymentError> {
        self.0.refund(key).await
    }

    async fn void(&self, key: &str) -> Result<(), PaymentError> {
        self.0.void(key).await
    }
}

/// Charges through the fake provider, signals that the charge landed, then
/// answers a second later (well within [`PAYMENT_TIMEOUT`]).
struct SignallingProvider {
    fake: Arc<FakeProvider>,
    charged: Arc<tokio::sync::Notify>,
}

#[tonic::async_trait]
impl PaymentProvider for SignallingProvider {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let charged = self.fake.charge(request).await;
        self.charged.notify_one();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        charged
    }

    async fn charge_of(&self, key: &str) -> Result<Option<String>, PaymentError> {
        self.fake.charge_of(key).await
    }

    async fn refund(&self, key: &str) -> Result<(), PaymentError> {
        self.fake.refund(key).await
    }

    async fn void(&self, key: &str) -> Result<(), PaymentError> {
        self.fake.void(key).await
    }
}

/// How the [`ScriptedProvider`] answers one charge call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    /// Straight through the fake provider.
    Plain,
    /// Records the charge, then answers only after the checkout gave up.
    RecordThenStall,
    /// Records the charge from a spawned task after the deadline, and never answers in time.
    RecordAfterTheDeadline,
    /// Records the charge, then waits until the next call started.
    RecordThenWaitForTheNext,
}

/// Delegates to the fake provider, each charge call following the next
/// [`Script`] (then [`Script::Plain`] once the script is used up).
struct ScriptedProvider {
    fake: Arc<FakeProvider>,
    script: std::sync::Mutex<std::collections::VecDeque<Script>>,
    next_started: tokio::sync::Notify,
}

impl ScriptedProvider {
    fn shared(fake: Arc<FakeProvider>, script: &[Script]) -> Arc<dyn PaymentProvider> {
        Arc::new(ScriptedProvider {
            fake,
            script: std::sync::Mutex::new(script.iter().copied().collect()),
            next_started: tokio::sync::Notify::new(),
        })
    }
}

#[tonic::async_trait]
impl PaymentProvider for ScriptedProvider {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Script::Plain);
        if step != Script::RecordThenWaitForTheNext {
            self.next_started.notify_one();
        }
        match step {
            Script::Plain => self.fake.charge(request).await,
            Script::RecordThenStall => {
                let charged = self.fake.charge(request).await;
                tokio::time::sleep(PAYMENT_TIMEOUT * 2).await;
                charged
            }
            Script::RecordAfterTheDeadline => {
                let (fake, request) = (self.fake.clone(), request.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(PAYMENT_TIMEOUT * 2).await;
                    // Whatever the provider answers, nobody is listening any more.
                    let _ = fake.charge(&request).await;
                });
                tokio::time::sleep(PAYMENT_TIMEOUT * 10).await;
                Err(PaymentError::Timeout)
            }
            Script::RecordThenWaitForTheNext => {
                let charged = self.fake.charge(request).await;
                self.next_started.notified().await;
                charged
            }
        }
    }

    async fn charge_of(&self, key: &str) -> Result<Option<String>, PaymentError> {
        self.fake.charge_of(key).await
    }

    async fn refund(&self, key: &str) -> Result<(), PaymentError> {
        self.fake.refund(key).await
    }

    async fn void(&self, key: &str) -> Result<(), PaymentError> {
        self.fake.void(key).await
    }
}

/// A sale charging through a [`ScriptedProvider`] over its plain fake.
fn scripted_sale(
    ledger: impl FnOnce(crate::machine::SaleMachine) -> FakeLedger,
    script: &[Script],
) -> Sale {
    let fake = Arc::new(FakeProvider::default());
    let mut sale = Sale::with(
        SalePolicy::default(),
        ledger,
        Some(ScriptedProvider::shared(fake.clone(), script)),
    );
    sale.provider = fake;
    sale
}

/// The sale rule that refused a purchase (panics on any other error).
fn rejection_of(err: CheckoutError) -> Rejection {
    match err {
        CheckoutError::Rejected(rejection) => rejection,
        other => panic!("not a sale rule's refusal: {other:?}"),
    }
}

/// Runs two attempts at once; fails (instead of hanging) if one never
/// reaches its proposal, as with a meeting of two proposals it must.
async fn both<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        tokio::join!(a, b)
    })
    .await
    .expect("both attempts reached their proposal")
}

#[tokio::test]
async fn an_approved_payment_sells_every_held_ticket_with_one_charge() {
    let sale = Sale::new();
    let bought = sale
        .checkout
        .purchase(&sale.order(1, "approve"))
        .await
        .expect("purchase");

    assert_eq!(bought.tickets.len(), QUANTITY as usize);
    let charges = sale.charges();
    assert_eq!(charges.len(), 1);
    let (charge_key_used, charge) = &charges[0];
    assert_eq!(charge_key_used, "buyer:1");
    assert_eq!(charge.amount_cents, PRICE * u64::from(QUANTITY));
    assert!(!charge.refunded);
    assert_eq!(bought.charge_id(), charge.charge_id);
    assert!(bought
        .tickets
        .iter()
        .all(|t| t.charge_id == charge.charge_id && t.hold_id == sale.hold.hold_id));
    assert_eq!(sale.sold_held(), (QUANTITY, 0));
    assert_eq!(sale.hold_status(), HoldStatus::Purchased);
    assert_eq!(sale.tickets_of_ana(), QUANTITY as usize);
}

#[tokio::test]
async fn a_declined_payment_charges_nothing_and_keeps_or_releases_the_hold() {
    for release in [false, true] {
        let policy = SalePolicy {
            release_hold_on_payment_failure: release,
            ..SalePolicy::default()
        };
        let sale = Sale::with(policy, FakeLedger::new, None);
        let order = sale.order(1, "decline");
        let err = sale.checkout.purchase(&order).await.unwrap_err();

        let CheckoutError::PaymentRefused {
            released, failure, ..
        } = err
        else {
            panic!("not a payment refusal: {err:?}")
        };
        assert_eq!((released, failure), (release, PaymentFailure::Declined));
        assert!(sale.charges().is_empty(), "a decline charged");
        assert_eq!(sale.sold_held(), (0, if release { 0 } else { QUANTITY }));
        assert_eq!(sale.tickets_of_ana(), 0);
        // The refusal is committed under the request's key: a retry gets it back.
        let remembered = sale.ledger().machine().remembered(&order.key);
        assert!(matches!(
            remembered.map(|a| a.outcome),
            Some(Ok(Effect::PaymentRejected { .. }))
        ));
    }
}

#[tokio::test]
async fn a_failing_processor_charges_nothing_and_the_hold_can_be_paid_again() {
    let sale = Sale::new();
    for (request_id, token) in [(1, "fail"), (2, "timeout")] {
        let err = sale
            .checkout
            .purchase(&sale.order(request_id, token))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                CheckoutError::PaymentRefused {
                    failure: PaymentFailure::Failed,
                    released: false,
                    ..
                }
            ),
            "{token}: {err:?}"
        );
    }
    assert!(sale.charges().is_empty());
    assert_eq!(sale.sold_held(), (0, QUANTITY));

    let bought = sale
        .checkout
        .purchase(&sale.order(3, "approve"))
        .await
        .expect("another payment");
    assert_eq!(bought.tickets.len(), QUANTITY as usize);
    assert_eq!(sale.charges().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_charge_is_voided_and_sells_nothing() {
    let fake = Arc::new(FakeProvider::default());
    let stalling: Arc<dyn PaymentProvider> = Arc::new(StallingProvider(fake.clone()));
    let mut sale = Sale::with(SalePolicy::default(), FakeLedger::new, Some(stalling));
    sale.provider = fake;
    let started = tokio::time::Instant::now();

    let err = sale
        .checkout
        .purchase(&sale.order(1, "approve"))
        .await
        .unwrap_err();

    assert!(started.elapsed() >= PAYMENT_TIMEOUT, "gave up too early");
    assert!(
        started.elapsed() < PAYMENT_TIMEOUT * 2,
        "waited for the answer"
    );
    assert!(
        matches!(
            err,
            CheckoutError::PaymentRefused {
                failure: PaymentFailure::Failed,
                ..
            }
        ),
        "{err:?}"
    );
    let charges = sale.charges();
    assert_eq!(charges.len(), 1, "the late charge went through");
    assert!(charges[0].1.refunded, "and was voided");
    assert_eq!(sale.sold_held(), (0, QUANTITY));
    assert_eq!(sale.hold_status(), HoldStatus::Live);
}

#[tokio::test(start_paused = true)]
async fn a_purchase_dropped_by_its_caller_after_the_charge_still_sells_with_that_charge() {
    let fake = Arc::new(FakeProvider::default());
    let charged = Arc::new(tokio::sync::Notify::new());
    let signalling: Arc<dyn PaymentProvider> = Arc::new(SignallingProvider {
        fake: fake.clone(),
        charged: charged.clone(),
    });
    let mut sale = Sale::with(SalePolicy::default(), FakeLedger::new, Some(signalling));
    sale.provider = fake;

    let purchase = sale.checkout.purchase_detached(sale.order(1, "approve"));
    tokio::select! {
        _ = charged.notified() => {}
        early = purchase => panic!("answered before the charge landed: {early:?}"),
    }
    // The caller's future is gone, as when tonic drops a request at its deadline.
    tokio::time::timeout(PAYMENT_TIMEOUT * 4, async {
        while sale.hold_status() == HoldStatus::Live {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the saga finished without its caller");

    let charges = sale.charges();
    assert_eq!(charges.len(), 1);
    assert!(!charges[0].1.refunded, "the sale keeps its money");
    assert_eq!(sale.hold_status(), HoldStatus::Purchased);
    assert_eq!(sale.sold_held(), (QUANTITY, 0));
    let tickets = sale.ledger().machine().tickets_of("ana").len();
    assert_eq!(tickets, QUANTITY as usize);
    assert!(sale
        .ledger()
        .machine()
        .tickets_of("ana")
        .iter()
        .all(|t| t.charge_id == charges[0].1.charge_id));
}

#[tokio::test(start_paused = true)]
async fn a_charge_landing_after_its_void_does_not_go_through() {
    let sale = scripted_sale(FakeLedger::new, &[Script::RecordAfterTheDeadline]);

    let err = sale
        .checkout
        .purchase(&sale.order(1, "approve"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CheckoutError::PaymentRefused {
                failure: PaymentFailure::Failed,
                ..
            }
        ),
        "{err:?}"
    );
    // Let the late charge arrive at the provider.
    tokio::time::sleep(PAYMENT_TIMEOUT * 4).await;
    let kept: Vec<_> = sale
        .charges()
        .into_iter()
        .filter(|(_, c)| !c.refunded)
        .collect();
    assert!(kept.is_empty(), "a late charge stayed: {kept:?}");
    assert_eq!(sale.tickets_of_ana(), 0);
    assert_eq!(sale.hold_status(), HoldStatus::Live);
}

#[tokio::test(start_paused = true)]
async fn a_retry_is_never_sold_on_a_voided_charge() {
    let sale = scripted_sale(FakeLedger::new, &[Script::RecordThenStall]);
    let order = sale.order(1, "approve");
    // The charge times out and is voided; committing that failure is lost.
    sale.ledger().inject(Fault::LoseLeadership);
    let err = sale.checkout.purchase(&order).await.unwrap_err();
    assert!(
        matches!(err, CheckoutError::Ledger(LedgerError::NotLeader { .. })),
        "{err:?}"
    );
    assert!(sale.ledger().machine().remembered(&order.key).is_none());

    // The retry's charge under the voided key fails; nothing is sold.
    let err = sale.checkout.purchase(&order).await.unwrap_err();
    assert!(
        matches!(
            err,
            CheckoutError::PaymentRefused {
                failure: PaymentFailure::Failed,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(sale.tickets_of_ana(), 0);
    let charges = sale.charges();
    assert_eq!(charges.len(), 1);
    assert!(charges[0].1.refunded, "the voided charge stays given back");
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_does_not_void_the_charge_an_overlapping_one_sold_with() {
    // The first attempt charges and waits until the second has charged too
    // (the same charge: same key); the first sells, the second times out.
    let sale = scripted_sale(
        FakeLedger::new,
        &[Script::RecordThenWaitForTheNext, Script::RecordThenStall],
    );
    let order = sale.order(1, "approve");

    let (a, b) = tokio::join!(
        sale.checkout.purchase(&order),
        sale.checkout.purchase(&order)
    );

    let bought = a.expect("the first attempt buys");
    // Its failure can no longer commit under the key the sale used.
    assert!(
        matches!(b, Err(CheckoutError::Rejected(Rejection::KeyReused { .. }))),
        "{b:?}"
    );
    let charges = sale.charges();
    assert_eq!(charges.len(), 1);
    assert!(!charges[0].1.refunded, "the sold tickets keep their money");
    assert_eq!(bought.charge_id(), charges[0].1.charge_id);
    assert_eq!(sale.tickets_of_ana(), QUANTITY as usize);
}

#[tokio::test]
async fn leadership_lost_after_the_charge_keeps_it_for_the_retry_which_charges_nothing_more() {
    let sale = Sale::new();
    let order = sale.order(1, "approve");
    sale.ledger().inject(Fault::LoseLeadership);

    let err = sale.checkout.purchase(&order).await.unwrap_err();

    assert!(
        matches!(err, CheckoutError::Ledger(LedgerError::NotLeader { .. })),
        "{err:?}"
    );
    // Nothing sold, and the charge recorded under the request's key, not refunded:
    // the proposal's fate was unknown.
    assert_eq!(sale.sold_held(), (0, QUANTITY));
    assert_eq!(sale.hold_status(), HoldStatus::Live);
    assert!(sale.ledger().machine().remembered(&order.key).is_none());
    let charges = sale.charges();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].0, charge_key(&order.key));
    assert!(!charges[0].1.refunded);

    // The client retries with the same key: the same charge pays for the tickets.
    let bought = sale.checkout.purchase(&order).await.expect("retry");
    assert_eq!(bought.tickets.len(), QUANTITY as usize);
    assert_eq!(bought.charge_id(), charges[0].1.charge_id);
    assert_eq!(sale.charges(), charges, "no second charge");
    assert_eq!(sale.sold_held(), (QUANTITY, 0));
}

#[tokio::test]
async fn an_answer_lost_after_the_commit_is_given_back_to_the_retry() {
    let sale = Sale::new();
    let order = sale.order(1, "approve");
    sale.ledger().inject(Fault::LoseAnswer);

    let err = sale.checkout.purchase(&order).await.unwrap_err();

    assert!(
        matches!(err, CheckoutError::Ledger(LedgerError::Unavailable(_))),
        "{err:?}"
    );
    assert_eq!(sale.sold_held(), (QUANTITY, 0), "it did commit");
    let charges = sale.charges();
    assert_eq!(charges.len(), 1);
    assert!(!charges[0].1.refunded, "the sold tickets keep their money");

    let again = sale.checkout.purchase(&order).await.expect("retry");
    let first = sale
        .ledger()
        .machine()
        .remembered(&order.key)
        .expect("kept");
    assert_eq!(again.log_index, first.log_index);
    assert_eq!(Ok(Effect::Purchased(again.tickets.clone())), first.outcome);
    assert_eq!(sale.charges(), charges, "no second charge");
    assert_eq!(sale.tickets_of_ana(), QUANTITY as usize);
}

#[tokio::test]
async fn a_purchase_refused_after_the_charge_is_refunded() {
    let sale = Sale::new();
    // The hold lapses between the price check and the proposal.
    sale.ledger().inject(Fault::ClockJump(TTL));

    let err = sale
        .checkout
        .purchase(&sale.order(1, "approve"))
        .await
        .unwrap_err();

    assert_eq!(rejection_of(err), Rejection::HoldExpired(sale.hold.hold_id));
    let charges = sale.charges();
    assert_eq!(charges.len(), 1);
    assert!(charges[0].1.refunded, "charged and refused: refunded");
    assert_eq!(sale.sold_held(), (0, 0));
    assert_eq!(sale.hold_status(), HoldStatus::Expired);
    assert_eq!(sale.tickets_of_ana(), 0);
}

#[tokio::test]
async fn a_refusal_whose_answer_was_lost_is_refunded_by_the_retry() {
    let sale = Sale::new();
    let order = sale.order(1, "approve");
    // The hold lapses before the proposal commits, and the refusal's answer is lost.
    sale.ledger().inject(Fault::ClockJumpThenLoseAnswer(TTL));

    let err = sale.checkout.purchase(&order).await.unwrap_err();
    assert!(
        matches!(err, CheckoutError::Ledger(LedgerError::Unavailable(_))),
        "{err:?}"
    );
    let charges = sale.charges();
    assert_eq!(charges.len(), 1);
    assert!(!charges[0].1.refunded, "the fate was unknown: kept");

    // The retry replays the committed refusal, and gives the money back.
    let err = sale.checkout.purchase(&order).await.unwrap_err();
    assert_eq!(rejection_of(err), Rejection::HoldExpired(sale.hold.hold_id));
    let charges = sale.charges();
    assert_eq!(charges.len(), 1, "no second charge");
    assert!(charges[0].1.refunded, "refused: refunded");
    assert_eq!(sale.tickets_of_ana(), 0);
}

#[tokio::test]
async fn a_retry_without_a_charge_of_its_own_refunds_the_first_attempts_charge() {
    let sale = Sale::new();
    let order = sale.order(1, "approve");
    sale.ledger().inject(Fault::LoseLeadership);
    let err = sale.checkout.purchase(&order).await.unwrap_err();
    assert!(
        matches!(err, CheckoutError::Ledger(LedgerError::NotLeader { .. })),
        "{err:?}"
    );
    assert_eq!(sale.charges().len(), 1);

    // The hold lapses before the retry, which therefore charges nothing itself.
    sale.ledger().advance_clock(TTL);
    sale.ledger()
        .commit(None, crate::machine::Command::Tick)
        .expect("tick");
    assert_eq!(sale.hold_status(), HoldStatus::Expired);

    let err = sale.checkout.purchase(&order).await.unwrap_err();
    assert_eq!(rejection_of(err), Rejection::HoldExpired(sale.hold.hold_id));
    let charges = sale.charges();
    assert_eq!(charges.len(), 1, "no second charge");
    assert!(
        charges[0].1.refunded,
        "the first attempt's charge came back"
    );
    assert_eq!(sale.tickets_of_ana(), 0);
}

#[tokio::test]
async fn a_hold_that_is_not_live_or_not_yours_is_refused_without_a_charge() {
    let sale = Sale::new();
    let mut someone_else = sale.order(1, "approve");
    someone_else.customer_id = "bia".into();
    let err = sale.checkout.purchase(&someone_else).await.unwrap_err();
    assert_eq!(
        rejection_of(err),
        Rejection::HoldNotYours(sale.hold.hold_id)
    );

    sale.ledger()
        .commit(
            None,
            crate::machine::Command::ReleaseHold {
                hold_id: sale.hold.hold_id,
                customer_id: "ana".into(),
            },
        )
        .expect("released");
    let err = sale
        .checkout
        .purchase(&sale.order(2, "approve"))
        .await
        .unwrap_err();
    assert_eq!(
        rejection_of(err),
        Rejection::HoldReleased(sale.hold.hold_id)
    );
    assert!(sale.charges().is_empty());
    assert_eq!(sale.sold_held(), (0, 0));
}

#[tokio::test]
async fn a_replay_of_a_bought_hold_is_answered_without_charging_again() {
    let sale = Sale::new();
    let first = sale
        .checkout
        .purchase(&sale.order(1, "approve"))
        .await
        .expect("purchase");
    let charges = sale.charges();

    // Same key, and a token that would fail if the provider were asked again.
    let replay = sale
        .checkout
        .purchase(&sale.order(1, "fail"))
        .await
        .expect("the first answer");
    assert_eq!(replay, first);
    // A new request for the bought hold is refused, still without a charge.
    let err = sale
        .checkout
        .purchase(&sale.order(2, "approve"))
        .await
        .unwrap_err();
    assert_eq!(
        rejection_of(err),
        Rejection::AlreadyPurchased(sale.hold.hold_id)
    );
    assert_eq!(sale.charges(), charges);
    assert_eq!(sale.tickets_of_ana(), QUANTITY as usize);
}

#[tokio::test]
async fn overlapping_attempts_with_one_key_charge_once_and_get_the_same_answer() {
    // Both attempts pass the replay lookup and charge before either proposes.
    let sale = Sale::with(
        SalePolicy::default(),
        |m| FakeLedger::new(m).proposals_meet(2),
        None,
    );
    let order = sale.order(1, "approve");

    let (a, b) = both(
        sale.checkout.purchase(&order),
        sale.checkout.purchase(&order),
    )
    .await;

    let (a, b) = (a.expect("first attempt"), b.expect("second attempt"));
    assert_eq!(a, b);
    let charges = sale.charges();
    assert_eq!(charges.len(), 1, "one charge");
    assert!(!charges[0].1.refunded);
    assert_eq!(a.charge_id(), charges[0].1.charge_id);
    assert_eq!(sale.sold_held(), (QUANTITY, 0));
    assert_eq!(sale.tickets_of_ana(), QUANTITY as usize);
}

#[tokio::test]
async fn a_reused_key_refused_after_the_charge_does_not_refund_the_sale_it_paid() {
    // Two overlapping attempts share a key but name different holds: the
    // provider answers both with one charge, the machine sells the first and
    // refuses the second as a reused key. The holds cost the same, so the
    // charge pays whichever commits first (a different price is
    // a_reused_key_never_sells_cheaper_tickets_on_a_dearer_charge).
    let sale = Sale::with(
        SalePolicy::default(),
        |m| FakeLedger::new(m).proposals_meet(2),
        None,
    );
    let Ok(Effect::HoldPlaced(other_hold)) = sale.ledger().commit(None, hold_cmd("ana", QUANTITY))
    else {
        panic!("second hold")
    };
    let first = sale.order(1, "approve");
    let other = PurchaseOrder {
        hold_id: other_hold.hold_id,
        ..first.clone()
    };

    let (a, b) = both(
        sale.checkout.purchase(&first),
        sale.checkout.purchase(&other),
    )
    .await;

    // Whichever commits first buys; the other is refused.
    let (bought, refused) = match (a, b) {
        (Ok(bought), Err(refused)) | (Err(refused), Ok(bought)) => (bought, refused),
        other => panic!("exactly one attempt buys: {other:?}"),
    };
    assert!(
        matches!(
            refused,
            CheckoutError::Rejected(Rejection::KeyReused { .. })
        ),
        "{refused:?}"
    );
    let charges = sale.charges();
    assert_eq!(charges.len(), 1);
    assert!(!charges[0].1.refunded, "the sold tickets keep their money");
    assert_eq!(bought.charge_id(), charges[0].1.charge_id);
    assert_eq!(sale.tickets_of_ana(), bought.tickets.len());
    let paid: u64 = bought.tickets.iter().map(|t| t.price_cents).sum();
    assert_eq!(charges[0].1.amount_cents, paid, "charged what was sold");
}

#[tokio::test(start_paused = true)]
async fn a_reused_key_never_sells_cheaper_tickets_on_a_dearer_charge() {
    // Two attempts share a key but name different holds: the dearer one
    // charges first; the cheaper one gets that charge back and commits first.
    let sale = scripted_sale(FakeLedger::new, &[Script::RecordThenWaitForTheNext]);
    let Ok(Effect::HoldPlaced(cheaper)) = sale.ledger().commit(None, hold_cmd("ana", 1)) else {
        panic!("second hold")
    };
    let dearer = sale.order(1, "approve");
    let cheaper = PurchaseOrder {
        hold_id: cheaper.hold_id,
        ..dearer.clone()
    };

    let (a, b) = both(
        sale.checkout.purchase(&dearer),
        sale.checkout.purchase(&cheaper),
    )
    .await;

    let charges = sale.charges();
    assert_eq!(charges.len(), 1, "one charge: {a:?} {b:?}");
    assert_eq!(charges[0].1.amount_cents, PRICE * u64::from(QUANTITY));
    let kept = if charges[0].1.refunded {
        0
    } else {
        charges[0].1.amount_cents
    };
    let tickets = sale
        .ledger()
        .machine()
        .tickets()
        .cloned()
        .collect::<Vec<_>>();
    let paid: u64 = tickets.iter().map(|t| t.price_cents).sum();
    assert_eq!(kept, paid, "money kept == tickets sold: {a:?} {b:?}");
    assert!(
        matches!(
            b,
            Err(CheckoutError::Rejected(Rejection::PaymentMismatch { .. }))
        ),
        "{b:?}"
    );
}

#[tokio::test]
async fn a_node_that_cannot_read_linearizably_charges_nothing() {
    let sale = Sale::new();
    sale.ledger().lose_read_barrier();
    let err = sale
        .checkout
        .purchase(&sale.order(1, "approve"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CheckoutError::Ledger(LedgerError::NotLeader { .. })),
        "{err:?}"
    );
    assert!(sale.charges().is_empty());
    assert_eq!(sale.sold_held(), (0, QUANTITY));
}

#[test]
fn service_errors_from_the_ledger_reach_the_boundary_unchanged() {
    use crate::error::ServiceError;
    let passed = ServiceError::from(CheckoutError::from(LedgerError::from(
        ServiceError::Internal("disk".into()),
    )));
    assert!(
        matches!(&passed, ServiceError::Internal(m) if m == "disk"),
        "{passed:?}"
    );
    assert_eq!(passed.to_string(), "internal error: disk");
    let passed = ServiceError::from(CheckoutError::from(LedgerError::from(
        ServiceError::BadRequest {
            field: "hold_id".into(),
            reason: "unknown".into(),
        },
    )));
    assert!(
        matches!(&passed, ServiceError::BadRequest { field, .. } if field == "hold_id"),
        "{passed:?}"
    );
}

#[test]
fn errors_keep_their_codes_and_leader_at_the_service_boundary() {
    use crate::error::ServiceError;
    let not_leader = ServiceError::from(CheckoutError::Ledger(LedgerError::NotLeader {
        leader_id: Some(3),
        leader_addr: Some("10.0.0.3:7101".into()),
    }));
    assert_eq!(
        not_leader.code().as_str(),
        "not_leader",
        "{not_leader:?} lost its kind"
    );
    let rejected = ServiceError::from(CheckoutError::Rejected(Rejection::HoldExpired(7)));
    assert_eq!(rejected.code().as_str(), "hold_expired");
    let sale = Sale::new();
    let refused = ServiceError::from(CheckoutError::PaymentRefused {
        hold: sale.hold.clone(),
        released: true,
        failure: PaymentFailure::Declined,
    });
    assert_eq!(refused.code().as_str(), "payment_declined");
    assert!(refused.to_string().contains("was released"), "{refused}");
}
