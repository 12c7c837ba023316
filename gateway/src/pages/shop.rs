//! Shop pages: the event list, an event with live availability and the hold
//! form, joining the virtual queue (after the proof of work) and the
//! waiting room that updates by push.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ingressoja_codes::RejectionCode;
use serde::Deserialize;

use super::layout::{brl, esc, PageError, Visitor};
use crate::actions;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::QueueView;
use crate::web::{id_field, request_id, ClientIp, PageForm};

/// A fresh request id for a form: resubmitting the same form (a double tap,
/// a retry after a timeout, through any gateway) is the same request.
pub fn request_id_field() -> String {
    format!(
        r#"<input type="hidden" name="request_id" value="{}">"#,
        rand::random::<u64>() >> 1
    )
}

/// `GET /`: the events on sale.
pub async fn home(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let events = state
        .cluster
        .list_events()
        .await
        .map_err(|e| visitor.error(e.into()))?
        .events;
    let items: String = events
        .iter()
        .map(|e| {
            format!(
                r#"<li class="event"><a href="/events/{id}">{name}</a>{queue}</li>"#,
                id = esc(&e.event_id),
                name = esc(&e.name),
                queue = if e.queue_enabled {
                    " <span class=\"tag\">fila</span>"
                } else {
                    ""
                },
            )
        })
        .collect();
    let body = if items.is_empty() {
        format!("<p>{}</p>", visitor.t("no_events"))
    } else {
        format!(r#"<ul class="events">{items}</ul>"#)
    };
    Ok(visitor.page(StatusCode::OK, visitor.t("events"), &body))
}

/// `GET /events/{event_id}`: categories, prices, live availability; the hold
/// form when the buyer may hold, the queue button when they must queue first.
pub async fn event(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(event_id): Path<String>,
) -> Result<Response, PageError> {
    let event_id = id_field("event_id", &event_id).map_err(|e| visitor.error(e))?;
    let availability = state
        .cluster
        .availability(event_id)
        .await
        .map_err(|e| visitor.error(e.into()))?;
    let queue_enabled = availability.queue_enabled;
    let queue: Option<QueueView> = match (&visitor.customer_id, queue_enabled) {
        (Some(customer_id), true) => state
            .cluster
            .queue_status(event_id, customer_id)
            .await
            .ok()
            .map(Into::into),
        _ => None,
    };
    let may_hold = visitor.customer_id.is_some()
        && (!queue_enabled || queue.as_ref().is_some_and(|q| q.admitted));
    let rows: String = availability
        .categories
        .iter()
        .map(|c| {
            let action = if !may_hold {
                String::new()
            } else if c.available == 0 {
                format!(r#"<span class="muted">{}</span>"#, visitor.t("sold_out"))
            } else {
                let max = c.available.min(if c.per_customer_limit > 0 { c.per_customer_limit } else { 10 }).min(10);
                let options: String = (1..=max).map(|n| format!(r#"<option value="{n}">{n}</option>"#)).collect();
                format!(
                    r#"<form method="post" action="/events/{event_path}/holds" class="hold-form" data-category="{cat}">{csrf}{rid}
<input type="hidden" name="category_id" value="{cat}">
<select name="quantity" aria-label="{qty}">{options}</select>
<button class="hold-submit" type="submit">{hold}</button></form>"#,
                    event_path = esc(&urlencode(event_id)),
                    cat = esc(&c.category_id),
                    csrf = visitor.csrf_field(),
                    rid = request_id_field(),
                    qty = visitor.t("quantity"),
                    hold = visitor.t("hold"),
                )
            };
            format!(
                r#"<tr data-category="{cat}"><td>{name}</td><td>{price}</td><td class="available">{available}</td><td>{action}</td></tr>"#,
                cat = esc(&c.category_id),
                name = esc(&c.name),
                price = brl(c.price_cents),
                available = c.available,
            )
        })
        .collect();
    let mut body = format!(
        r#"<table class="categories" data-event="{event}"><thead><tr><th>{cat}</th><th>{price}</th><th>{available}</th><th></th></tr></thead><tbody>{rows}</tbody></table>"#,
        event = esc(event_id),
        cat = visitor.t("category"),
        price = visitor.t("price"),
        available = visitor.t("available"),
    );
    if queue_enabled && !may_hold {
        body.push_str(&queue_box(&visitor, event_id, queue.as_ref()));
    }
    if visitor.customer_id.is_none() {
        body.push_str(&format!(
            r#"<p><a class="button" href="/login">{}</a></p>"#,
            visitor.t("login")
        ));
    }
    Ok(visitor.page(StatusCode::OK, &availability.name, &body))
}

fn queue_box(visitor: &Visitor, event_id: &str, queue: Option<&QueueView>) -> String {
    if visitor.customer_id.is_none() {
        return format!("<p>{}</p>", visitor.t("queue_needed"));
    }
    if let Some(q) = queue {
        if q.admission_over {
            return format!(r#"<p class="notice">{}</p>"#, visitor.t("admission_over"));
        }
        if !q.admitted {
            return format!(
                r#"<p><a class="button" href="/events/{}/queue">{}</a></p>"#,
                esc(event_id),
                visitor.t("waiting_room")
            );
        }
    }
    format!(
        r#"<p>{needed}</p><form method="post" action="/events/{event_path}/queue" id="queue-form" data-event="{event}">{csrf}{rid}
<input type="hidden" name="challenge" value=""><input type="hidden" name="solution" value="">
<button id="join-queue" type="submit">{join}</button> <span id="pow-status" hidden>{working}</span></form>"#,
        needed = visitor.t("queue_needed"),
        event = esc(event_id),
        event_path = esc(&urlencode(event_id)),
        csrf = visitor.csrf_field(),
        rid = request_id_field(),
        join = visitor.t("join_queue"),
        working = visitor.t("pow_working"),
    )
}

/// The queue-join form.
#[derive(Deserialize)]
pub struct JoinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    solution: String,
}

/// `POST /events/{event_id}/queue`: joins after the proof of work.
pub async fn join_queue(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    Path(event_id): Path<String>,
    PageForm(form): PageForm<JoinForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf, &state)?;
    let customer_id = visitor.buyer()?.to_string();
    let request_id = request_id(Some(&form.request_id)).map_err(|e| visitor.error(e))?;
    actions::join_queue(
        &state,
        ip,
        &customer_id,
        &event_id,
        &form.challenge,
        &form.solution,
        request_id,
    )
    .await
    .map_err(|e| visitor.error(e))?;
    Ok(Redirect::to(&format!("/events/{}/queue", urlencode(&event_id))).into_response())
}

/// `GET /events/{event_id}/queue`: the waiting room.
pub async fn waiting_room(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(event_id): Path<String>,
) -> Result<Response, PageError> {
    let customer_id = visitor.buyer()?.to_string();
    let event_id = id_field("event_id", &event_id).map_err(|e| visitor.error(e))?;
    let status: QueueView = match state.cluster.queue_status(event_id, &customer_id).await {
        Ok(status) => status.into(),
        Err(error) if error.rejection() == Some(RejectionCode::NotInQueue) => {
            return Ok(Redirect::to(&format!("/events/{}", urlencode(event_id))).into_response())
        }
        Err(error) => return Err(visitor.error(error.into())),
    };
    let body = format!(
        r#"<section id="waiting-room" data-event="{event}" data-admitted="{admitted}">
<p class="muted">{live}</p>
<p id="pre-queue" {pre_hidden}>{pre}</p>
<dl class="queue">
<dt>{position_label}</dt><dd id="queue-position">{position}</dd>
<dt>{ahead_label}</dt><dd id="queue-ahead">{ahead}</dd>
<dt>{wait_label}</dt><dd id="queue-wait" data-ms="{wait_ms}">{wait}</dd>
</dl>
<div id="queue-admitted" {admitted_hidden}><p class="notice">{admitted_text}</p>
<p><a id="go-to-event" class="button" href="/events/{event}">{go}</a></p></div>
<p id="queue-over" class="notice" {over_hidden}>{over}</p>
</section>"#,
        event = esc(event_id),
        admitted = status.admitted,
        live = visitor.t("queue_live"),
        pre_hidden = if status.in_pre_queue { "" } else { "hidden" },
        pre = visitor.t("pre_queue"),
        position_label = visitor.t("position"),
        position = status.position,
        ahead_label = visitor.t("ahead"),
        ahead = status.people_ahead,
        wait_label = visitor.t("wait"),
        wait_ms = status.estimated_wait_ms,
        wait = format_wait(status.estimated_wait_ms),
        admitted_hidden = if status.admitted { "" } else { "hidden" },
        admitted_text = visitor.t("admitted"),
        go = visitor.t("go_to_event"),
        over_hidden = if status.admission_over { "" } else { "hidden" },
        over = visitor.t("admission_over"),
    );
    Ok(visitor.page(StatusCode::OK, visitor.t("waiting_room"), &body))
}

/// A wait as `~3 min` / `~40 s`.
pub fn format_wait(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    if secs >= 120 {
        format!("~{} min", secs.div_ceil(60))
    } else {
        format!("~{secs} s")
    }
}

/// The hold form.
#[derive(Deserialize)]
pub struct HoldForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    category_id: String,
    #[serde(default)]
    quantity: String,
}

/// `POST /events/{event_id}/holds`: holds, then goes to checkout.
pub async fn hold(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    Path(event_id): Path<String>,
    PageForm(form): PageForm<HoldForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf, &state)?;
    let customer_id = visitor.buyer()?.to_string();
    let request_id = request_id(Some(&form.request_id)).map_err(|e| visitor.error(e))?;
    let quantity: u32 = form
        .quantity
        .trim()
        .parse()
        .map_err(|_| visitor.error(ApiError::invalid("quantity", "must be a whole number")))?;
    let hold = actions::place_hold(
        &state,
        ip,
        &customer_id,
        &event_id,
        &form.category_id,
        quantity,
        request_id,
    )
    .await
    .map_err(|e| visitor.error(e))?;
    Ok(Redirect::to(&format!("/checkout/{}", hold.hold_id)).into_response())
}

/// Percent-encodes a path segment (ids are already restricted; this is belt and braces).
pub fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' | b'+' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_and_segments() {
        assert_eq!(format_wait(0), "~0 s");
        assert_eq!(format_wait(40_000), "~40 s");
        assert_eq!(format_wait(185_000), "~4 min");
        assert_eq!(urlencode("rock-2026"), "rock-2026");
        assert_eq!(urlencode("a/b c"), "a%2Fb%20c");
    }
}
