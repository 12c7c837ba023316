//! Login support for gateways: reading an account's credentials, enrolling a
//! TOTP secret, and recording login attempts.
//!
//! The lockout policy is the caller's; the cluster keeps the counters and the
//! last TOTP time step used, so every gateway sees the same ones. A success
//! whose TOTP step is not newer than the last one accepted is refused with
//! `totp_replayed`; enrolling twice with `totp_already_enrolled`; an unknown
//! account with `unknown_customer`.
//!
//! [`Client::get_credentials`] returns the password hash and the TOTP secret:
//! call it only from the internal network, and never log its answer (its
//! `Debug` redacts both).

use ingressoja_proto::ticketing::ticketing_client::TicketingClient;
use ingressoja_proto::ticketing::{
    CredentialsReply, EnrolTotpReply, EnrolTotpRequest, GetCredentialsRequest, RecordLoginReply,
    RecordLoginRequest,
};
use tonic::Response;

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// The credentials and login counters of the account `login` names: a
    /// customer id, or an e-mail in any case. Linearizable: reflects every
    /// login recorded before the call.
    pub async fn get_credentials(&self, login: &str) -> Result<CredentialsReply, ClientError> {
        self.with_failover(|target| {
            let request = GetCredentialsRequest {
                login: login.to_string(),
            };
            async move {
                TicketingClient::new(target.channel)
                    .get_credentials(request)
                    .await
                    .map(Response::into_inner)
            }
        })
        .await
    }

    /// Enrols a TOTP secret (base32, upper case, no padding, 16 to 64
    /// characters) for a customer who has none. `totp_step` is the time step
    /// of the code the customer entered to confirm it; that code cannot then
    /// be used to log in.
    pub async fn enrol_totp(
        &self,
        customer_id: &str,
        secret: &str,
        totp_step: u64,
    ) -> Result<EnrolTotpReply, ClientError> {
        let request_id = self.next_request_id();
        self.enrol_totp_with_request_id(customer_id, secret, totp_step, request_id)
            .await
    }

    /// [`enrol_totp`](Self::enrol_totp) with a forced request id.
    pub async fn enrol_totp_with_request_id(
        &self,
        customer_id: &str,
        secret: &str,
        totp_step: u64,
        request_id: u64,
    ) -> Result<EnrolTotpReply, ClientError> {
        self.with_key(request_id, |key, target| {
            let request = EnrolTotpRequest {
                key: Some(key),
                customer_id: customer_id.to_string(),
                totp_secret: secret.to_string(),
                totp_step,
            };
            async move {
                TicketingClient::new(target.channel)
                    .enrol_totp(request)
                    .await
                    .map(Response::into_inner)
            }
        })
        .await
    }

    /// Records a login attempt: a failure counts (and is stamped with cluster
    /// time), a success resets the count. For a success checked with a TOTP
    /// code, `totp_step` is that code's time step; an old one is refused with
    /// `totp_replayed`. Returns the counters after the attempt.
    pub async fn record_login(
        &self,
        customer_id: &str,
        succeeded: bool,
        totp_step: Option<u64>,
    ) -> Result<RecordLoginReply, ClientError> {
        let request_id = self.next_request_id();
        self.record_login_with_request_id(customer_id, succeeded, totp_step, request_id)
            .await
    }

    /// [`record_login`](Self::record_login) with a forced request id.
    pub async fn record_login_with_request_id(
        &self,
        customer_id: &str,
        succeeded: bool,
        totp_step: Option<u64>,
        request_id: u64,
    ) -> Result<RecordLoginReply, ClientError> {
        self.with_key(request_id, |key, target| {
            let request = RecordLoginRequest {
                key: Some(key),
                customer_id: customer_id.to_string(),
                succeeded,
                totp_step: totp_step.unwrap_or_default(),
                has_totp_step: totp_step.is_some(),
            };
            async move {
                TicketingClient::new(target.channel)
                    .record_login(request)
                    .await
                    .map(Response::into_inner)
            }
        })
        .await
    }
}
