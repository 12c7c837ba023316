//! The payment step between hold and purchase.
//!
//! The leader charges through a [`PaymentProvider`] before proposing the
//! purchase, with the request's idempotency key, so a retried purchase never
//! charges twice. A charge whose purchase is then refused (the hold lapsed in
//! between) is refunded; a failed or timed-out charge is voided. A charge
//! whose proposal was lost stays recorded under its key for the retry (see
//! [`crate::checkout`], which runs these steps). Nothing sells without a charge.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::machine::Charge;

/// What the provider is asked to charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// Idempotency key: the same key never charges twice.
    pub key: String,
    pub customer_id: String,
    pub amount_cents: u64,
    /// The buyer's payment token (a card token in a real provider).
    pub token: String,
}

/// Why a charge did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The provider refused (e.g. card declined). Nothing was charged.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The provider failed. Nothing was charged.
    #[error("payment provider failed: {0}")]
    Failed(String),
    /// No answer in time: the outcome is unknown until voided.
    #[error("payment provider timed out")]
    Timeout,
}

/// A payment provider, behind a trait so tests and demos use a fake one.
#[tonic::async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// Charges once per `key`; repeating a key returns the first charge — its
    /// id and the amount actually charged then, which need not be the amount
    /// asked for now.
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError>;
    /// The id of the charge recorded under `key` and not given back, if any.
    async fn charge_of(&self, key: &str) -> Result<Option<String>, PaymentError>;
    /// Gives back the charge under `key` (after a purchase was refused); an
    /// unknown key is a no-op. A given-back charge is never handed out again:
    /// a later charge under its key fails.
    async fn refund(&self, key: &str) -> Result<(), PaymentError>;
    /// Voids whatever `key` charged or is still charging (after a time-out):
    /// gives back a recorded charge, and leaves a tombstone so that a charge
    /// under `key` arriving later fails instead of going through.
    async fn void(&self, key: &str) -> Result<(), PaymentError>;
}

/// How long the leader waits for the provider before voiding the charge.
pub const PAYMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A fake provider whose answer is chosen by the token:
/// `approve` (or empty), `decline`, `fail`, `timeout`.
#[derive(Default)]
pub struct FakeProvider {
    ledger: Mutex<BTreeMap<String, FakeCharge>>,
    /// Keys voided: every later charge under them fails.
    voided: Mutex<BTreeSet<String>>,
}

/// One charge in the fake provider's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCharge {
    pub charge_id: String,
    pub amount_cents: u64,
    pub refunded: bool,
}

impl FakeProvider {
    /// A copy of the ledger, for tests: key → charge.
    pub fn ledger(&self) -> BTreeMap<String, FakeCharge> {
        self.ledger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[tonic::async_trait]
impl PaymentProvider for FakeProvider {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        match request.token.as_str() {
            "" | "approve" => {}
            "decline" => return Err(PaymentError::Declined("card declined (fake token)".into())),
            "fail" => return Err(PaymentError::Failed("provider error (fake token)".into())),
            "timeout" => return Err(PaymentError::Timeout),
            other => {
                return Err(PaymentError::Declined(format!(
                    "unknown fake payment token {other:?} (use approve, decline, fail or timeout)"
                )))
            }
        }
        let voided = self.voided.lock().unwrap_or_else(|p| p.into_inner());
        let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if voided.contains(&request.key) {
            return Err(PaymentError::Failed(format!(
                "key {:?} was voided",
                request.key
            )));
        }
        if ledger.get(&request.key).is_some_and(|c| c.refunded) {
            return Err(PaymentError::Failed(format!(
                "the charge under key {:?} was refunded",
                request.key
            )));
        }
        // Derived from the idempotency key: unique across leaders, stable across retries.
        let digest = Sha256::digest(request.key.as_bytes());
        let charge = ledger
            .entry(request.key.clone())
            .or_insert_with(|| FakeCharge {
                charge_id: format!("fake_ch_{}", hex::encode(&digest[..12])),
                amount_cents: request.amount_cents,
                refunded: false,
            });
        Ok(Charge {
            charge_id: charge.charge_id.clone(),
            amount_cents: charge.amount_cents,
        })
    }

    async fn charge_of(&self, key: &str) -> Result<Option<String>, PaymentError> {
        let ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        Ok(ledger
            .get(key)
            .filter(|c| !c.refunded)
            .map(|c| c.charge_id.clone()))
    }

    /// Gives back the charge under `key`; an unknown key is a no-op.
    async fn refund(&self, key: &str) -> Result<(), PaymentError> {
        let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = ledger.get_mut(key) {
            c.refunded = true;
        }
        Ok(())
    }

    /// Gives back the charge under `key`, if any, and refuses every later charge under it.
    async fn void(&self, key: &str) -> Result<(), PaymentError> {
        let mut voided = self.voided.lock().unwrap_or_else(|p| p.into_inner());
        let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        voided.insert(key.to_string());
        if let Some(c) = ledger.get_mut(key) {
            c.refunded = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: &str, token: &str) -> ChargeRequest {
        ChargeRequest {
            key: key.into(),
            customer_id: "ana".into(),
            amount_cents: 100,
            token: token.into(),
        }
    }

    #[tokio::test]
    async fn same_key_charges_once() {
        let p = FakeProvider::default();
        let a = p.charge(&request("k1", "approve")).await.unwrap();
        let b = p
            .charge(&ChargeRequest {
                amount_cents: 999,
                ..request("k1", "")
            })
            .await
            .unwrap();
        assert_eq!(a, b, "the first charge, amount included");
        assert_eq!(b.amount_cents, 100);
        assert_eq!(p.ledger().len(), 1);
        p.refund("k1").await.unwrap();
        assert!(p.ledger()["k1"].refunded);
    }

    #[tokio::test]
    async fn refunding_an_unknown_key_changes_nothing() {
        let p = FakeProvider::default();
        p.refund("never-charged").await.unwrap();
        assert!(p.ledger().is_empty());
        assert_eq!(p.charge_of("never-charged").await, Ok(None));
        let id = p.charge(&request("k1", "approve")).await.unwrap();
        assert_eq!(p.charge_of("k1").await, Ok(Some(id.charge_id)));
        p.refund("k1").await.unwrap();
        assert_eq!(p.charge_of("k1").await, Ok(None), "given back");
    }

    #[tokio::test]
    async fn a_voided_or_refunded_key_never_charges_again() {
        let p = FakeProvider::default();
        p.void("late").await.unwrap();
        assert!(
            p.ledger().is_empty(),
            "a void of an unknown key charges nothing"
        );
        assert!(matches!(
            p.charge(&request("late", "approve")).await,
            Err(PaymentError::Failed(_))
        ));
        assert!(p.ledger().is_empty(), "the late charge did not go through");

        p.charge(&request("k1", "approve")).await.unwrap();
        p.refund("k1").await.unwrap();
        assert!(matches!(
            p.charge(&request("k1", "approve")).await,
            Err(PaymentError::Failed(_))
        ));
    }

    #[tokio::test]
    async fn tokens_choose_the_failure() {
        let p = FakeProvider::default();
        assert!(matches!(
            p.charge(&request("a", "decline")).await,
            Err(PaymentError::Declined(_))
        ));
        assert!(matches!(
            p.charge(&request("b", "fail")).await,
            Err(PaymentError::Failed(_))
        ));
        assert_eq!(
            p.charge(&request("c", "timeout")).await,
            Err(PaymentError::Timeout)
        );
        assert!(p.ledger().is_empty(), "no failed path charges");
    }
}
