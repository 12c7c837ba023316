//! Checkout: the held tickets with a live countdown to the hold's expiry,
//! the (fake) payment form, and the outcome.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ingressoja_client::proto::ticketing::Hold;
use serde::Deserialize;

use super::layout::{brl, error_box, esc, PageError, Visitor};
use super::shop::request_id_field;
use crate::actions;
use crate::clock;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::{request_id, ClientIp, PageForm};

fn parse_hold_id(visitor: &Visitor, raw: &str) -> Result<u64, PageError> {
    raw.parse()
        .map_err(|_| visitor.error(ApiError::NotFound(format!("hold {raw:.20}"))))
}

async fn price_of(state: &AppState, hold: &Hold) -> Option<(String, u64)> {
    let availability = state.cluster.availability(&hold.event_id).await.ok()?;
    let category = availability
        .categories
        .into_iter()
        .find(|c| c.category_id == hold.category_id)?;
    Some((
        format!("{} — {}", availability.name, category.name),
        category.price_cents,
    ))
}

async fn checkout_body(
    state: &AppState,
    visitor: &Visitor,
    hold: &Hold,
    error: Option<&ApiError>,
) -> String {
    let (label, price) = price_of(state, hold)
        .await
        .unwrap_or_else(|| (hold.event_id.clone(), 0));
    let summary = format!(
        r#"<p class="summary"><strong>{label}</strong><br>{qty} × {price} · {total_label}: <strong>{total}</strong></p>"#,
        label = esc(&label),
        qty = hold.quantity,
        price = brl(price),
        total_label = visitor.t("total"),
        total = brl(price * u64::from(hold.quantity)),
    );
    let state_text = match hold.status.as_str() {
        "live" => None,
        "purchased" => Some("hold_status_purchased"),
        "released" => Some("hold_status_released"),
        _ => Some("hold_status_expired"),
    };
    if let Some(key) = state_text {
        let outcome = if hold.status == "purchased" {
            "confirmed"
        } else {
            hold.status.as_str()
        };
        return format!(
            r#"{summary}<div id="purchase-outcome" data-outcome="{outcome}"><p class="notice">{text}</p><p><a href="/tickets">{tickets}</a></p></div>"#,
            outcome = esc(outcome),
            text = visitor.t(key),
            tickets = visitor.t("my_tickets"),
        );
    }
    let options: String = [
        ("approve", "pay_approve"),
        ("decline", "pay_decline"),
        ("fail", "pay_fail"),
        ("timeout", "pay_timeout"),
    ]
    .iter()
    .map(|(value, key)| format!(r#"<option value="{value}">{}</option>"#, visitor.t(key)))
    .collect();
    format!(
        r#"{summary}{error}
<p class="countdown">{countdown_label} <strong id="hold-countdown" data-expires-at-ms="{expires}" data-server-now-ms="{now}">--:--</strong></p>
<p id="hold-expired" class="error" hidden>{expired}</p>
<form method="post" action="/checkout/{hold_id}/pay" id="pay-form" class="card">{csrf}{rid}
<label>{payment}<select name="payment_token">{options}</select></label>
<button id="pay-submit" type="submit">{pay}</button></form>
<form method="post" action="/checkout/{hold_id}/release" class="inline">{csrf}{rid2}
<button id="release-submit" type="submit" class="link">{release}</button></form>"#,
        error = error
            .map(|e| error_box(visitor.lang, e))
            .unwrap_or_default(),
        countdown_label = visitor.t("hold_countdown"),
        expires = hold.expires_at_ms,
        now = clock::now_ms(),
        expired = visitor.t("hold_expired_now"),
        hold_id = hold.hold_id,
        csrf = visitor.csrf_field(),
        rid = request_id_field(),
        rid2 = request_id_field(),
        payment = visitor.t("payment"),
        pay = visitor.t("pay"),
        release = visitor.t("release"),
    )
}

/// `GET /checkout/{hold_id}`.
pub async fn checkout(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    let customer_id = visitor.buyer()?.to_string();
    let hold_id = parse_hold_id(&visitor, &raw)?;
    let hold = actions::own_hold(&state, &customer_id, hold_id)
        .await
        .map_err(|e| visitor.error(e))?;
    let body = checkout_body(&state, &visitor, &hold, None).await;
    Ok(visitor.page(StatusCode::OK, visitor.t("checkout"), &body))
}

/// The payment form.
#[derive(Deserialize)]
pub struct PayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    payment_token: String,
}

/// `POST /checkout/{hold_id}/pay`: pays; shows the outcome or the refusal.
pub async fn pay(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    Path(raw): Path<String>,
    PageForm(form): PageForm<PayForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf, &state)?;
    let customer_id = visitor.buyer()?.to_string();
    let hold_id = parse_hold_id(&visitor, &raw)?;
    let request_id = request_id(Some(&form.request_id)).map_err(|e| visitor.error(e))?;
    match actions::pay(
        &state,
        ip,
        &customer_id,
        hold_id,
        &form.payment_token,
        request_id,
    )
    .await
    {
        Ok(reply) => {
            let tickets: String = reply
                .tickets
                .iter()
                .map(|t| format!("<li><code>{}</code></li>", esc(&t.ticket_id)))
                .collect();
            let body = format!(
                r#"<div id="purchase-outcome" data-outcome="confirmed"><p class="notice">{confirmed}</p><p>{detail}</p><ul>{tickets}</ul>
<p><a class="button" href="/tickets">{my_tickets}</a></p></div>
<span hidden data-server-notification="purchase_confirmed" data-key="purchase_confirmed:{hold_id}">{note}</span>"#,
                note = visitor.t("n.purchase_confirmed"),
                confirmed = visitor.t("confirmed"),
                detail = visitor.t("confirmed_detail"),
                my_tickets = visitor.t("my_tickets"),
            );
            Ok(visitor.page(StatusCode::OK, visitor.t("checkout"), &body))
        }
        Err(error) => {
            // Show the refusal with the hold as it is now (kept, or gone).
            let hold = actions::own_hold(&state, &customer_id, hold_id)
                .await
                .map_err(|e| visitor.error(e))?;
            let body = format!(
                r#"<div id="purchase-outcome" data-outcome="{}"></div>{}"#,
                esc(error.code()),
                checkout_body(&state, &visitor, &hold, Some(&error)).await
            );
            Ok(visitor.page(error.status(), visitor.t("checkout"), &body))
        }
    }
}

/// `POST /checkout/{hold_id}/release`: gives the tickets back.
pub async fn release(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    Path(raw): Path<String>,
    PageForm(form): PageForm<PayForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf, &state)?;
    let customer_id = visitor.buyer()?.to_string();
    let hold_id = parse_hold_id(&visitor, &raw)?;
    let request_id = request_id(Some(&form.request_id)).map_err(|e| visitor.error(e))?;
    actions::release(&state, ip, &customer_id, hold_id, request_id)
        .await
        .map_err(|e| visitor.error(e))?;
    Ok(Redirect::to(&format!("/checkout/{hold_id}")).into_response())
}
