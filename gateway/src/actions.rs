//! What a buyer can do, once, for both the pages and the JSON API: each
//! action checks its input, applies the rate limits of its path and calls
//! the cluster with a buyer-scoped idempotency key.

use std::net::IpAddr;

use ingressoja_client::proto::ticketing::{
    Hold, PurchaseReply, QueueStatus, RegisterReply, Ticket,
};
use serde::Deserialize;

use crate::clock;
use crate::error::ApiError;
use crate::limits::Guarded;
use crate::pow;
use crate::state::AppState;
use crate::web::{id_field, text_field};

/// Longest password accepted (argon2 hashes anything, but a megabyte
/// password is a denial-of-service attempt, not a password).
pub use crate::auth::password::MAX_PASSWORD_BYTES;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// A registration as the form or the JSON body sends it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SignUp {
    /// The login name (letters, digits, `. _ @ + -`).
    #[serde(default)]
    pub customer_id: String,
    /// Contact e-mail, unique.
    #[serde(default)]
    pub email: String,
    /// CPF, with or without punctuation; one account per person.
    #[serde(default)]
    pub cpf: String,
    /// Name on the tickets.
    #[serde(default)]
    pub display_name: String,
    /// The plain password: hashed here with argon2id, never sent on.
    #[serde(default)]
    pub password: String,
}

/// Registers a new customer; returns the cluster's answer.
pub async fn register(
    state: &AppState,
    ip: IpAddr,
    sign_up: &SignUp,
) -> Result<RegisterReply, ApiError> {
    let customer_id = id_field("customer_id", &sign_up.customer_id)?;
    state.limits.check(Guarded::Login, ip, customer_id)?;
    let email = text_field("email", &sign_up.email, 254)?;
    let cpf = text_field("cpf", &sign_up.cpf, 32)?;
    let display_name = text_field("display_name", &sign_up.display_name, 200)?;
    let password = &sign_up.password;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid(
            "password",
            format!("at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    let hash = crate::auth::password::hash(password.clone())
        .await
        .map_err(|error| ApiError::invalid("password", error))?;
    let reply = state
        .cluster_for(customer_id)
        .register(customer_id, email, cpf, display_name, &hash, None)
        .await?;
    Ok(reply)
}

/// Issues a proof-of-work challenge for joining `event_id`'s queue.
pub fn queue_challenge(state: &AppState, customer_id: &str, event_id: &str) -> pow::Challenge {
    let anti_bot = &state.config.anti_bot;
    pow::issue(
        &state.signer,
        event_id,
        customer_id,
        anti_bot.pow_difficulty_bits,
        clock::now_secs() + anti_bot.challenge_ttl().as_secs(),
    )
}

/// Joins `event_id`'s virtual queue after checking the proof of work.
pub async fn join_queue(
    state: &AppState,
    ip: IpAddr,
    customer_id: &str,
    event_id: &str,
    challenge: &str,
    solution: &str,
    request_id: u64,
) -> Result<QueueStatus, ApiError> {
    let event_id = id_field("event_id", event_id)?;
    state.limits.check(Guarded::QueueJoin, ip, customer_id)?;
    if state.config.anti_bot.pow_difficulty_bits > 0 {
        pow::verify(
            &state.signer,
            challenge,
            solution,
            event_id,
            customer_id,
            clock::now_secs(),
        )?;
    }
    Ok(state
        .cluster_for(customer_id)
        .join_queue_with_request_id(event_id, customer_id, request_id)
        .await?)
}

/// Holds `quantity` tickets of a category.
pub async fn place_hold(
    state: &AppState,
    ip: IpAddr,
    customer_id: &str,
    event_id: &str,
    category_id: &str,
    quantity: u32,
    request_id: u64,
) -> Result<Hold, ApiError> {
    let event_id = id_field("event_id", event_id)?;
    let category_id = id_field("category_id", category_id)?;
    if quantity == 0 || quantity > 100 {
        return Err(ApiError::invalid("quantity", "must be between 1 and 100"));
    }
    state.limits.check(Guarded::Purchase, ip, customer_id)?;
    let reply = state
        .cluster_for(customer_id)
        .place_hold_with_request_id(event_id, category_id, customer_id, quantity, request_id)
        .await?;
    reply
        .hold
        .ok_or_else(|| ApiError::Cluster("the hold reply carried no hold".into()))
}

/// A hold of this buyer (someone else's hold is "not found", not "forbidden":
/// hold ids are not secrets, but their contents are).
pub async fn own_hold(state: &AppState, customer_id: &str, hold_id: u64) -> Result<Hold, ApiError> {
    let reply = state.cluster.get_hold(hold_id).await?;
    match reply.hold {
        Some(hold) if hold.customer_id == customer_id => Ok(hold),
        _ => Err(ApiError::NotFound(format!("hold {hold_id}"))),
    }
}

/// Pays for a hold with a (fake) payment token.
pub async fn pay(
    state: &AppState,
    ip: IpAddr,
    customer_id: &str,
    hold_id: u64,
    payment_token: &str,
    request_id: u64,
) -> Result<PurchaseReply, ApiError> {
    if payment_token.len() > 128 {
        return Err(ApiError::invalid("payment_token", "at most 128 characters"));
    }
    state.limits.check(Guarded::Purchase, ip, customer_id)?;
    Ok(state
        .cluster_for(customer_id)
        .purchase_with_payment_and_request_id(hold_id, customer_id, payment_token, request_id)
        .await?)
}

/// Gives a hold's tickets back. Rate-limited like purchases (a budget of
/// its own), and
/// checked with a read first: a release of a hold that is not the buyer's
/// (a bot trying hold ids) is answered "not found" without costing a Raft
/// entry.
pub async fn release(
    state: &AppState,
    ip: IpAddr,
    customer_id: &str,
    hold_id: u64,
    request_id: u64,
) -> Result<(), ApiError> {
    state.limits.check(Guarded::Release, ip, customer_id)?;
    own_hold(state, customer_id, hold_id).await?;
    state
        .cluster_for(customer_id)
        .release_hold_with_request_id(hold_id, customer_id, request_id)
        .await?;
    Ok(())
}

/// The buyer's tickets, newest first.
pub async fn tickets(state: &AppState, customer_id: &str) -> Result<Vec<Ticket>, ApiError> {
    let mut tickets = state.cluster.list_tickets(customer_id).await?.tickets;
    tickets.sort_by(|a, b| {
        b.sold_at_ms
            .cmp(&a.sold_at_ms)
            .then(a.ticket_id.cmp(&b.ticket_id))
    });
    Ok(tickets)
}
