//! The purchase saga itself: replay, price, charge, propose, refund.

use std::sync::Arc;

use super::error::{CheckoutError, LedgerError};
use super::ledger::Ledger;
use crate::machine::{
    Charge, Command, Effect, HoldId, HoldStatus, IdempotencyKey, Outcome, PaymentFailure,
    SaleMachine, Ticket,
};
use crate::metrics::NodeMetrics;
use crate::payment::{ChargeRequest, PaymentError, PaymentProvider, PAYMENT_TIMEOUT};

/// A buyer's request to buy one hold, already checked for well-formed fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseOrder {
    /// The request's idempotency key: also the payment provider's, so a retry never charges twice.
    pub key: IdempotencyKey,
    /// The hold to buy.
    pub hold_id: HoldId,
    /// The buyer, who must own the hold.
    pub customer_id: String,
    /// Handed to the payment provider as is.
    pub payment_token: String,
}

/// A committed purchase: the tickets sold and the log index that first sold them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// One per held ticket, each carrying the charge that paid for it.
    pub tickets: Vec<Ticket>,
    /// The entry that sold them (a replay gets the same index back).
    pub log_index: u64,
}

impl Purchase {
    /// The charge that paid for the tickets (empty if none were sold).
    pub fn charge_id(&self) -> &str {
        self.tickets
            .first()
            .map(|t| t.charge_id.as_str())
            .unwrap_or_default()
    }
}

/// The payment provider's idempotency key for a purchase request.
pub fn charge_key(key: &IdempotencyKey) -> String {
    format!("{}:{}", key.client_id, key.request_id)
}

/// Runs purchases over a [`Ledger`] and a payment provider.
pub struct Checkout<L> {
    ledger: L,
    payments: Arc<dyn PaymentProvider>,
    metrics: Arc<NodeMetrics>,
}

impl<L: Ledger> Checkout<L> {
    /// A checkout charging through `payments`, counting payment outcomes in `metrics`.
    pub fn new(ledger: L, payments: Arc<dyn PaymentProvider>, metrics: Arc<NodeMetrics>) -> Self {
        Checkout {
            ledger,
            payments,
            metrics,
        }
    }

    /// The ledger this checkout proposes to and reads from.
    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    /// Buys `order`'s hold in a task of its own, so that dropping the returned
    /// future (a client's deadline expiring, the connection closing) does not
    /// abandon the saga between the charge and its void, sale or refund.
    /// A panic in the saga's task is an [`CheckoutError::Aborted`], not a panic here.
    pub async fn purchase_detached(
        self: &Arc<Self>,
        order: PurchaseOrder,
    ) -> Result<Purchase, CheckoutError> {
        let checkout = Arc::clone(self);
        tokio::spawn(async move { checkout.purchase(&order).await })
            .await
            .unwrap_or_else(|e| Err(CheckoutError::Aborted(e.to_string())))
    }

    /// Buys `order`'s hold: see [`super`] for the steps and what each failure leaves charged.
    /// Dropping this future mid-way abandons the saga: callers that may be
    /// cancelled use [`Checkout::purchase_detached`].
    pub async fn purchase(&self, order: &PurchaseOrder) -> Result<Purchase, CheckoutError> {
        // A retry gets its first answer without touching the payment provider again.
        self.ledger.read_barrier().await?;
        if let Some(answer) = self.ledger.read(|m| m.remembered(&order.key)) {
            if answer.outcome.is_err() {
                // The first attempt may have charged and lost the refusal's
                // answer before refunding: refund now (a no-op if it did).
                self.refund_unless_sold(order, None).await;
            }
            return settle(answer.outcome, answer.log_index);
        }
        // Charge only for a live hold of this customer; otherwise the machine
        // commits the precise refusal (expired, released, not yours...).
        let amount = self
            .ledger
            .read(|m| price_of_live_hold(m, order.hold_id, &order.customer_id));
        let charge = match amount {
            Some(amount_cents) => Some(self.pay(order, amount_cents).await?),
            None => None,
        };
        let command = Command::Purchase {
            hold_id: order.hold_id,
            customer_id: order.customer_id.clone(),
            charge: charge.clone(),
        };
        match self.ledger.propose(order.key.clone(), command).await {
            Ok((outcome, log_index)) => settle(Ok(outcome), log_index),
            Err(LedgerError::Rejected(rejection)) => {
                // Even with no charge of its own, an earlier attempt with this
                // key may have charged and lost its proposal.
                self.refund_unless_sold(order, charge.as_ref()).await;
                Err(CheckoutError::Rejected(rejection))
            }
            // The fate is unknown: the charge stays for the retry (see the module docs).
            Err(other) => Err(CheckoutError::Ledger(other)),
        }
    }

    /// Charges for a live hold, or commits why paying failed (and fails with it).
    async fn pay(&self, order: &PurchaseOrder, amount_cents: u64) -> Result<Charge, CheckoutError> {
        let request = ChargeRequest {
            key: charge_key(&order.key),
            customer_id: order.customer_id.clone(),
            amount_cents,
            token: order.payment_token.clone(),
        };
        let result = tokio::time::timeout(PAYMENT_TIMEOUT, self.payments.charge(&request))
            .await
            .unwrap_or(Err(PaymentError::Timeout));
        self.metrics.payment(match &result {
            Ok(_) => "approved",
            Err(PaymentError::Declined(_)) => "declined",
            Err(PaymentError::Timeout) => "timeout",
            Err(PaymentError::Failed(_)) => "failed",
        });
        let error = match result {
            // What the provider charged, not what this attempt asked for: an
            // overlapping attempt with the same key may have charged another
            // amount first, and the machine must see it (PaymentMismatch).
            Ok(charge) => return Ok(charge),
            Err(e) => e,
        };
        if error == PaymentError::Timeout {
            // The outcome is unknown: void it so nothing stays charged.
            self.void_unless_sold(&request.key).await;
        }
        let failure = match error {
            PaymentError::Declined(_) => PaymentFailure::Declined,
            PaymentError::Failed(_) | PaymentError::Timeout => PaymentFailure::Failed,
        };
        let command = Command::PaymentFailed {
            hold_id: order.hold_id,
            customer_id: order.customer_id.clone(),
            failure,
        };
        let (outcome, _) = self.ledger.propose(order.key.clone(), command).await?;
        match outcome {
            Effect::PaymentRejected {
                hold,
                released,
                failure,
            } => Err(CheckoutError::PaymentRefused {
                hold,
                released,
                failure,
            }),
            other => Err(CheckoutError::Unexpected(Box::new(other))),
        }
    }

    /// Voids a timed-out charge under `key` — unless a committed ticket
    /// carries the charge the provider recorded under it (an overlapping
    /// attempt with the same key sold with it). The void leaves a tombstone, so
    /// a charge still on its way, or a retry's, fails rather than going through.
    async fn void_unless_sold(&self, key: &str) {
        match self.payments.charge_of(key).await {
            Ok(Some(charge_id)) if self.sold_with(&charge_id) => return,
            Ok(_) => {}
            Err(e) => {
                // Void anyway: a charge that may still land must be stopped; if it
                // paid a sale, reconciliation finds the ticket's voided charge.
                tracing::error!(key = %key, error = %e, "could not look up a timed-out charge");
            }
        }
        if let Err(e) = self.payments.void(key).await {
            tracing::error!(key = %key, error = %e, "could not void a timed-out charge");
        }
    }

    /// Whether a committed ticket was paid by `charge_id` (tickets are permanent).
    fn sold_with(&self, charge_id: &str) -> bool {
        self.ledger
            .read(|m| m.tickets().any(|t| t.charge_id == charge_id))
    }

    /// Gives back what the provider charged under `order`'s key after a
    /// purchase refusal — unless a committed ticket carries that charge.
    /// That happens when two attempts share a key but differ (another hold):
    /// the provider answered both with the first one's charge, and the one the
    /// machine refused as a reused key must not refund the tickets the other
    /// bought. `charged` is this attempt's charge; without one the provider is
    /// asked what the key charged (an earlier attempt may have). Tickets are
    /// checked rather than the key's remembered answer, which can be evicted.
    async fn refund_unless_sold(&self, order: &PurchaseOrder, charged: Option<&Charge>) {
        let key = charge_key(&order.key);
        let charge_id = match charged {
            Some(charge) => charge.charge_id.clone(),
            None => match self.payments.charge_of(&key).await {
                Ok(Some(charge_id)) => charge_id,
                // Nothing charged under this key, or already given back.
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(key = %key, error = %e, "could not look up a charge to refund");
                    return;
                }
            },
        };
        if self.sold_with(&charge_id) {
            return;
        }
        if let Err(e) = self.payments.refund(&key).await {
            tracing::error!(key = %key, error = %e, "refund after refused purchase failed");
        }
    }
}

/// The price of `hold_id` if it is live and `customer_id`'s: what to charge.
fn price_of_live_hold(m: &SaleMachine, hold_id: HoldId, customer_id: &str) -> Option<u64> {
    let hold = m.hold(hold_id)?;
    if hold.customer_id != customer_id || hold.status != HoldStatus::Live {
        return None;
    }
    let category = m
        .sale_event(&hold.event_id)
        .ok()?
        .categories
        .get(&hold.category_id)?;
    Some(
        category
            .spec
            .price_cents
            .saturating_mul(u64::from(hold.quantity)),
    )
}

/// A committed reply to a purchase request as the checkout's result.
fn settle(reply: Outcome, log_index: u64) -> Result<Purchase, CheckoutError> {
    match reply {
        Ok(Effect::Purchased(tickets)) => Ok(Purchase { tickets, log_index }),
        Ok(Effect::PaymentRejected {
            hold,
            released,
            failure,
        }) => Err(CheckoutError::PaymentRefused {
            hold,
            released,
            failure,
        }),
        Ok(other) => Err(CheckoutError::Unexpected(Box::new(other))),
        Err(rejection) => Err(CheckoutError::Rejected(rejection)),
    }
}
