//! Assembling the gateway: routes, middleware (tracing span per request,
//! security headers, per-IP limit, load shedding), background tasks, and
//! serving until shutdown.

use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
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

/// How long a stopping gateway waits for open connections to finish
/// (notification streams never do: they are cut after this).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `state`'s config until `shutdown` resolves.
///
/// HTTP/1.1 only (browsers and load balancers speak it to a gateway), with
/// hyper's HTTP/1 connection rather than axum's HTTP/1-or-2 one: a gateway
/// holds tens of thousands of waiting SSE connections, and the
/// auto-detecting connection costs about a kilobyte more each.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    spawn_background(&state);
    let header_read_timeout = Duration::from_secs(state.config.header_read_timeout_secs);
    let app = router(state);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: let some close.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // No Nagle: small responses and SSE frames go out at once, not after
        // the browser's delayed ACK.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let app = app.clone();
        let service = service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            let mut app = app.clone();
            async move { tower::Service::call(&mut app, request).await }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(TokioIo::new(tcp), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("open connections cut at shutdown");
    }
    Ok(())
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
