//! `ingressoja register`: a new customer, with the password hashed here.

use std::process::ExitCode;

use clap::ArgGroup;
use ingressoja_client::password::{check_password_hash, hash_password};
use ingressoja_client::Client;
use serde_json::json;

use crate::args::RequestKey;
use crate::commands::{mutation_failed, Output};
use crate::failure::Failure;

/// `ingressoja register ...`
#[derive(Debug, clap::Args)]
#[command(group(
    ArgGroup::new("secret")
        .required(true)
        .args(["password_hash", "password"])
))]
pub struct RegisterArgs {
    /// Customer id.
    #[arg(long)]
    pub customer: String,
    /// E-mail address (unique).
    #[arg(long)]
    pub email: String,
    /// CPF, with or without punctuation (validated and unique).
    #[arg(long)]
    pub cpf: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Base32 TOTP secret for second-factor codes.
    #[arg(long)]
    pub totp_secret: Option<String>,
    /// The password as an argon2id PHC string ($argon2id$v=19$...).
    #[arg(long, value_name = "PHC", value_parser = parse_password_hash)]
    pub password_hash: Option<String>,
    /// The password; it is hashed with argon2id here and never sent.
    #[arg(long)]
    pub password: Option<String>,
    #[command(flatten)]
    pub key: RequestKey,
}

/// `--password-hash`: an argon2id PHC string.
fn parse_password_hash(text: &str) -> Result<String, String> {
    check_password_hash(text)
        .map(|()| text.to_string())
        .map_err(|err| err.to_string())
}

/// Runs `register`.
pub async fn run(client: &Client, out: Output, args: RegisterArgs) -> Result<ExitCode, Failure> {
    let password_hash = match (&args.password_hash, &args.password) {
        (Some(hash), _) => hash.clone(),
        (None, Some(password)) => hash_password(password)?,
        (None, None) => hash_password("")?,
    };
    let request_id = args.key.resolve(client);
    let reply = client
        .register_with_request_id(
            &args.customer,
            &args.email,
            &args.cpf,
            &args.name,
            &password_hash,
            args.totp_secret.as_deref(),
            request_id,
        )
        .await
        .map_err(|e| mutation_failed(e, "registration", client, request_id))?;
    out.emit(
        || json!({ "customer_id": reply.customer_id, "log_index": reply.log_index }),
        || {
            format!(
                "customer {} registered (log index {})\n",
                reply.customer_id, reply.log_index
            )
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
