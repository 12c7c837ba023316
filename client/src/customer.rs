//! Registering customers.
//!
//! The password never travels: callers send an argon2id PHC string (see
//! [`crate::password::hash_password`]). The node validates the CPF and
//! refuses a taken id, e-mail or CPF (`customer_exists`, `duplicate_email`,
//! `duplicate_document`).

use ingressoja_proto::ticketing::ticketing_client::TicketingClient;
use ingressoja_proto::ticketing::{RegisterReply, RegisterRequest};
use tonic::Response;

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// Registers a customer. `cpf` may carry punctuation; `password_hash` is
    /// an argon2id PHC string, never the plain password; `totp_secret` is an
    /// optional base32 secret for second-factor codes.
    pub async fn register(
        &self,
        customer_id: &str,
        email: &str,
        cpf: &str,
        display_name: &str,
        password_hash: &str,
        totp_secret: Option<&str>,
    ) -> Result<RegisterReply, ClientError> {
        let request_id = self.next_request_id();
        self.register_with_request_id(
            customer_id,
            email,
            cpf,
            display_name,
            password_hash,
            totp_secret,
            request_id,
        )
        .await
    }

    /// [`register`](Self::register) with a forced request id.
    #[allow(clippy::too_many_arguments)]
    pub async fn register_with_request_id(
        &self,
        customer_id: &str,
        email: &str,
        cpf: &str,
        display_name: &str,
        password_hash: &str,
        totp_secret: Option<&str>,
        request_id: u64,
    ) -> Result<RegisterReply, ClientError> {
        self.with_key(request_id, |key, target| {
            let request = RegisterRequest {
                key: Some(key),
                customer_id: customer_id.to_string(),
                email: email.to_string(),
                cpf: cpf.to_string(),
                display_name: display_name.to_string(),
                password_hash: password_hash.to_string(),
                totp_secret: totp_secret.unwrap_or_default().to_string(),
            };
            async move {
                TicketingClient::new(target.channel)
                    .register(request)
                    .await
                    .map(Response::into_inner)
            }
        })
        .await
    }
}
