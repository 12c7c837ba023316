//! Assembling the gateway: routes, middleware (tracing span per request,
//! security headers, per-IP limit, load shedding), background tasks, and
//! serving until shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tracing::Instrument;

use crate::error::ApiError;
use crate::limits::{self, shed_load};
use crate::state::AppState;
use crate::web::ClientIp;
use crate::{api, metrics, notify, pages};

/// The whole HTTP surface of a gateway.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::scrape))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), limit_per_ip))
        .layer(middleware::from_fn_with_state(
            (state.in_flight.clone(), state.metrics.shed.clone()),
            shed_load,
        ))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::observe,
        ))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(trace_request))
        .with_state(state)
}

/// Starts the background tasks: membership refresh, the shared event tail,
/// webhook delivery and limiter housekeeping.
pub fn spawn_background(state: &AppState) {
    tokio::spawn(refresh_membership(state.clone()));
    state.events.start();
    notify::webhook::spawn_all(state);
    limits::spawn_housekeeping(state.limits.clone());
}

/// Serves `state`'s config until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    spawn_background(&state);
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    // No Nagle: small responses and SSE frames go out at once, not after
    // the browser's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn not_found(request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        ApiError::NotFound(format!(
            "endpoint {} {} (the API is described at /api/v1/openapi.json)",
            request.method(),
            request.uri().path()
        ))
        .into_response()
    } else {
        let html = "<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><title>404</title><p>Página não encontrada. <a href=\"/\">IngressoJá</a></p></html>";
        (StatusCode::NOT_FOUND, axum::response::Html(html)).into_response()
    }
}

/// Every request gets a span with a request id, echoed as `x-request-id`.
async fn trace_request(request: Request, next: Next) -> Response {
    let request_id = format!("{:016x}", rand::random::<u64>());
    let span = tracing::info_span!(
        "http",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), "request served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Headers that keep the shop out of frames and scripts from elsewhere.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The general per-IP limit on every request.
async fn limit_per_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let ip = match <ClientIp as FromRequestParts<AppState>>::from_request_parts(&mut parts, &state)
        .await
    {
        Ok(ClientIp(ip)) => ip,
        Err(error) => return ApiError::into_response(error),
    };
    if let Err(error) = state.limits.check_any(ip) {
        return error.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Keeps the client's node list in step with the cluster's membership, so
/// nodes added later are used for failover and removed ones stop mattering.
async fn refresh_membership(state: AppState) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        every.tick().await;
        let mut members = Vec::new();
        for report in state.cluster.cluster_status().await {
            if let Ok(status) = report.status {
                members.extend(status.members.into_iter().map(|m| m.addr));
            }
        }
        let learnt = state.cluster.learn_nodes(&members);
        if learnt > 0 {
            tracing::info!(learnt, "learnt new cluster members");
        }
    }
}
