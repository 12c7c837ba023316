//! The JSON API (`/api/v1/...`) for apps and scripts: the shop's
//! capabilities with bearer-token sessions. Described in `openapi.json`,
//! served at `/api/v1/openapi.json`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::actions::{self, SignUp};
use crate::auth::login::{self, PasswordOutcome};
use crate::auth::session::Purpose;
use crate::auth::totp;
use crate::clock;
use crate::error::ApiError;
use crate::limits::Guarded;
use crate::qr;
use crate::state::AppState;
use crate::views::{EventView, HoldView, QueueView, TicketView};
use crate::web::{id_field, request_id, text_field, ApiJson, Buyer, ClientIp};

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The `/api/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/register", post(register))
        .route("/api/v1/login", post(login_password))
        .route("/api/v1/login/totp", post(login_code))
        .route("/api/v1/account", get(account))
        .route("/api/v1/account/totp", post(totp_begin))
        .route("/api/v1/account/totp/confirm", post(totp_confirm))
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/{event_id}", get(event))
        .route("/api/v1/events/{event_id}/availability", get(event))
        .route(
            "/api/v1/events/{event_id}/queue",
            get(queue_status).post(queue_join),
        )
        .route(
            "/api/v1/events/{event_id}/queue/challenge",
            get(queue_challenge),
        )
        .route("/api/v1/holds", post(hold))
        .route("/api/v1/holds/{hold_id}", get(get_hold).delete(release))
        .route("/api/v1/holds/{hold_id}/purchase", post(purchase))
        .route("/api/v1/tickets", get(tickets))
        .route("/api/v1/notifications", get(crate::notify::sse::stream))
}

async fn openapi() -> Response {
    ([("content-type", "application/json")], OPENAPI).into_response()
}

fn session_token(state: &AppState, customer_id: &str) -> serde_json::Value {
    let expires_at = clock::now_secs() + state.config.session.ttl().as_secs();
    json!({
        "customer_id": customer_id,
        "token": state.signer.issue(Purpose::Session, customer_id, expires_at),
        "expires_at": expires_at,
        // Keep it and send it with later logins: a lockout strangers cause
        // does not shut this device out.
        "device_token": login::device_token(state, customer_id),
    })
}

async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(sign_up): ApiJson<SignUp>,
) -> Result<Response, ApiError> {
    let reply = actions::register(&state, ip, &sign_up).await?;
    Ok((
        StatusCode::CREATED,
        Json(session_token(&state, &reply.customer_id)),
    )
        .into_response())
}

#[derive(Deserialize)]
struct LoginBody {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    /// The `device_token` of an earlier login on this device, if any.
    #[serde(default)]
    device_token: String,
}

async fn login_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let login_name = text_field("login", &body.login, 254)?;
    let device = Some(body.device_token.as_str());
    let limit_key = login::limit_key(&state, login_name, device);
    state.limits.check(Guarded::Login, ip, &limit_key)?;
    match login::check_password(&state, login_name, &body.password, device).await? {
        PasswordOutcome::SignedIn { customer_id } => Ok(Json(session_token(&state, &customer_id))),
        PasswordOutcome::NeedsCode { customer_id } => {
            let expires_at = clock::now_secs() + 300;
            Ok(Json(json!({
                "second_factor_required": true,
                "second_factor_token": state.signer.issue(Purpose::SecondFactor, &customer_id, expires_at),
                "expires_at": expires_at,
            })))
        }
    }
}

#[derive(Deserialize)]
struct CodeBody {
    #[serde(default)]
    second_factor_token: String,
    #[serde(default)]
    code: String,
    /// The `device_token` of an earlier login on this device, if any.
    #[serde(default)]
    device_token: String,
}

async fn login_code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let claims = state.signer.verify(
        &body.second_factor_token,
        Purpose::SecondFactor,
        clock::now_secs(),
    )?;
    let device = Some(body.device_token.as_str());
    let limit_key = login::limit_key(&state, &claims.customer_id, device);
    state.limits.check(Guarded::Login, ip, &limit_key)?;
    login::check_code(&state, &claims.customer_id, &body.code, device).await?;
    Ok(Json(session_token(&state, &claims.customer_id)))
}

async fn account(
    State(state): State<AppState>,
    buyer: Buyer,
) -> Result<Json<serde_json::Value>, ApiError> {
    let credentials = state.cluster.get_credentials(&buyer.customer_id).await?;
    Ok(Json(json!({
        "customer_id": credentials.customer_id,
        "email": credentials.email,
        "display_name": credentials.display_name,
        "totp_enrolled": !credentials.totp_secret.is_empty(),
    })))
}

async fn totp_begin(buyer: Buyer) -> Json<serde_json::Value> {
    let secret = totp::new_secret();
    let uri = totp::otpauth_uri("IngressoJá", &buyer.customer_id, &secret);
    Json(json!({ "secret": secret, "otpauth_uri": uri, "qr_svg": qr::svg(&uri) }))
}

#[derive(Deserialize)]
struct EnrolBody {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    code: String,
}

async fn totp_confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    buyer: Buyer,
    ApiJson(body): ApiJson<EnrolBody>,
) -> Result<StatusCode, ApiError> {
    state.limits.check(Guarded::Login, ip, &buyer.customer_id)?;
    login::enrol(&state, &buyer.customer_id, body.secret.trim(), &body.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn events(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let events = state.cluster.list_events().await?;
    let list: Vec<_> = events
        .events
        .into_iter()
        .map(
            |e| json!({ "event_id": e.event_id, "name": e.name, "queue_enabled": e.queue_enabled }),
        )
        .collect();
    Ok(Json(json!({ "events": list })))
}

async fn event(
    State(state): State<AppState>,
    Path(event_id): Path<String>,
) -> Result<Json<EventView>, ApiError> {
    let event_id = id_field("event_id", &event_id)?;
    Ok(Json(state.cluster.availability(event_id).await?.into()))
}

async fn queue_challenge(
    State(state): State<AppState>,
    buyer: Buyer,
    Path(event_id): Path<String>,
) -> Json<crate::pow::Challenge> {
    Json(actions::queue_challenge(
        &state,
        &buyer.customer_id,
        &event_id,
    ))
}

#[derive(Deserialize)]
struct JoinBody {
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    solution: String,
}

async fn queue_join(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    buyer: Buyer,
    headers: HeaderMap,
    Path(event_id): Path<String>,
    ApiJson(body): ApiJson<JoinBody>,
) -> Result<Json<QueueView>, ApiError> {
    let request_id = request_id(idempotency_key(&headers))?;
    let status = actions::join_queue(
        &state,
        ip,
        &buyer.customer_id,
        &event_id,
        &body.challenge,
        &body.solution,
        request_id,
    )
    .await?;
    Ok(Json(status.into()))
}

async fn queue_status(
    State(state): State<AppState>,
    buyer: Buyer,
    Path(event_id): Path<String>,
) -> Result<Json<QueueView>, ApiError> {
    let event_id = id_field("event_id", &event_id)?;
    let status = state
        .cluster
        .queue_status(event_id, &buyer.customer_id)
        .await?;
    Ok(Json(status.into()))
}

#[derive(Deserialize)]
struct HoldBody {
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    category_id: String,
    #[serde(default)]
    quantity: u32,
}

async fn hold(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    buyer: Buyer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<HoldBody>,
) -> Result<Response, ApiError> {
    let request_id = request_id(idempotency_key(&headers))?;
    let hold = actions::place_hold(
        &state,
        ip,
        &buyer.customer_id,
        &body.event_id,
        &body.category_id,
        body.quantity,
        request_id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(HoldView::from(hold))).into_response())
}

fn hold_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::invalid("hold_id", "must be a positive integer"))
}

async fn get_hold(
    State(state): State<AppState>,
    buyer: Buyer,
    Path(raw): Path<String>,
) -> Result<Json<HoldView>, ApiError> {
    let hold = actions::own_hold(&state, &buyer.customer_id, hold_id(&raw)?).await?;
    Ok(Json(hold.into()))
}

async fn release(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    buyer: Buyer,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let request_id = request_id(idempotency_key(&headers))?;
    actions::release(&state, ip, &buyer.customer_id, hold_id(&raw)?, request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PayBody {
    #[serde(default)]
    payment_token: String,
}

async fn purchase(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    buyer: Buyer,
    headers: HeaderMap,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<PayBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request_id = request_id(idempotency_key(&headers))?;
    let reply = actions::pay(
        &state,
        ip,
        &buyer.customer_id,
        hold_id(&raw)?,
        &body.payment_token,
        request_id,
    )
    .await?;
    let tickets: Vec<TicketView> = reply.tickets.into_iter().map(Into::into).collect();
    Ok(Json(
        json!({ "charge_id": reply.charge_id, "tickets": tickets }),
    ))
}

async fn tickets(
    State(state): State<AppState>,
    buyer: Buyer,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tickets: Vec<TicketView> = actions::tickets(&state, &buyer.customer_id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(json!({ "tickets": tickets })))
}

fn idempotency_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_documents_the_answers_any_route_can_give() {
        // Any request can meet the per-address limit (429) and load
        // shedding or a cluster outage (503): the contract must say so.
        let spec: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap();
        let paths = spec["paths"].as_object().unwrap();
        assert!(paths.len() >= 10);
        for (path, operations) in paths {
            for (method, operation) in operations.as_object().unwrap() {
                for status in ["429", "503"] {
                    assert!(
                        operation["responses"].get(status).is_some(),
                        "{method} {path} does not document {status}"
                    );
                }
            }
        }
    }
}
