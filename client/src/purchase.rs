//! Buying: turning a live hold into tickets, paying with a token.
//!
//! The node charges the payment provider, then commits the sale; the reply
//! names the provider's charge. A declined or failed payment comes back as a
//! rejection (`payment_declined`, `payment_failed`) and sells nothing.

use ingressoja_proto::ticketing::{PurchaseReply, PurchaseRequest};

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// Turns a live hold into tickets, with no payment token (the provider's
    /// default; the fake provider approves). Retried with the same key, so it
    /// buys at most once however many attempts it takes.
    pub async fn purchase(
        &self,
        hold_id: u64,
        customer_id: &str,
    ) -> Result<PurchaseReply, ClientError> {
        let request_id = self.next_request_id();
        self.purchase_with_payment_and_request_id(hold_id, customer_id, "", request_id)
            .await
    }

    /// [`purchase`](Self::purchase) with a forced request id: calling it
    /// twice with the same id returns the first purchase's tickets.
    pub async fn purchase_with_request_id(
        &self,
        hold_id: u64,
        customer_id: &str,
        request_id: u64,
    ) -> Result<PurchaseReply, ClientError> {
        self.purchase_with_payment_and_request_id(hold_id, customer_id, "", request_id)
            .await
    }

    /// Turns a live hold into tickets, paying with `payment_token` (the fake
    /// provider understands `approve`, `decline`, `fail` and `timeout`). The
    /// reply's `charge_id` names the charge.
    pub async fn purchase_with_payment(
        &self,
        hold_id: u64,
        customer_id: &str,
        payment_token: &str,
    ) -> Result<PurchaseReply, ClientError> {
        let request_id = self.next_request_id();
        self.purchase_with_payment_and_request_id(hold_id, customer_id, payment_token, request_id)
            .await
    }

    /// [`purchase_with_payment`](Self::purchase_with_payment) with a forced
    /// request id. The node charges at most once per key, so replaying it is safe.
    pub async fn purchase_with_payment_and_request_id(
        &self,
        hold_id: u64,
        customer_id: &str,
        payment_token: &str,
        request_id: u64,
    ) -> Result<PurchaseReply, ClientError> {
        self.with_key(request_id, |key, target| {
            let request = PurchaseRequest {
                key: Some(key),
                hold_id,
                customer_id: customer_id.to_string(),
                payment_token: payment_token.to_string(),
            };
            async move { target.batcher.purchase(request).await }
        })
        .await
    }
}
