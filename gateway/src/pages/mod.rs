//! The web shop: server-rendered pages (Portuguese by default, English on
//! request) with a little plain JavaScript for the countdown, the proof of
//! work and live notifications.

pub mod account;
pub mod checkout;
pub mod i18n;
pub mod layout;
pub mod shop;
pub mod tickets;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(shop::home))
        .route(
            "/register",
            get(account::register_page).post(account::register),
        )
        .route("/login", get(account::login_page).post(account::login))
        .route(
            "/login/2fa",
            get(account::second_factor_page).post(account::second_factor),
        )
        .route("/logout", post(account::logout))
        .route(
            "/account/2fa",
            get(account::enrol_page).post(account::enrol),
        )
        .route("/lang/{lang}", get(account::language))
        .route("/events/{event_id}", get(shop::event))
        .route(
            "/events/{event_id}/queue",
            get(shop::waiting_room).post(shop::join_queue),
        )
        .route("/events/{event_id}/holds", post(shop::hold))
        .route("/checkout/{hold_id}", get(checkout::checkout))
        .route("/checkout/{hold_id}/pay", post(checkout::pay))
        .route("/checkout/{hold_id}/release", post(checkout::release))
        .route("/tickets", get(tickets::tickets))
        .route("/static/shop.js", get(script))
        .route("/static/shop.css", get(style))
        .route("/favicon.ico", get(favicon))
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/shop.js"),
    )
}

/// A ticket emoji as the icon, so browsers do not log a 404 on every page.
async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><text y=".9em" font-size="90">🎟</text></svg>"#,
    )
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/shop.css"),
    )
}
