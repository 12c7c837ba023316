//! `ingressoja-gateway`: the stateless HTTP front of IngressoJá.
//!
//! For now it serves health and a read-only availability API over the
//! cluster; the web shop, auth, queue, notifications and rate limits come with
//! their own issue. It holds no state: any number can run side by side.

use std::net::SocketAddr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use ingressoja_client::{Client, ClientError, ClientOptions};
use serde_json::json;

/// Runs one gateway in front of a cluster.
#[derive(Parser)]
#[command(name = "ingressoja-gateway", version)]
struct Args {
    /// HTTP address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// gRPC addresses of cluster nodes, comma-separated.
    #[arg(
        long,
        env = "INGRESSOJA_NODES",
        value_delimiter = ',',
        default_value = "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"
    )]
    nodes: Vec<String>,
}

/// A cluster error as an HTTP JSON answer with a machine-readable code.
struct ApiError(ClientError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match self.0.rejection_code() {
            Some("unknown_event") | Some("unknown_category") | Some("hold_not_found") => (
                StatusCode::NOT_FOUND,
                self.0.rejection_code().unwrap_or_default().to_string(),
            ),
            Some(code) => (StatusCode::UNPROCESSABLE_ENTITY, code.to_string()),
            None => (StatusCode::SERVICE_UNAVAILABLE, "unavailable".to_string()),
        };
        let body = json!({ "error": { "code": code, "message": self.0.to_string() } });
        (status, Json(body)).into_response()
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn availability(
    State(client): State<Client>,
    Path(event_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reply = client.availability(&event_id).await.map_err(ApiError)?;
    let categories: Vec<_> = reply
        .categories
        .iter()
        .map(|c| {
            json!({
                "category_id": c.category_id, "name": c.name, "capacity": c.capacity,
                "sold": c.sold, "held": c.held, "available": c.available,
                "price_cents": c.price_cents, "per_customer_limit": c.per_customer_limit,
            })
        })
        .collect();
    Ok(Json(json!({
        "event_id": reply.event_id, "name": reply.name,
        "categories": categories, "read_index": reply.read_index,
    })))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let client = Client::connect(args.nodes, ClientOptions::default())?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/events/{event_id}/availability", get(availability))
        .with_state(client);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(addr = %args.listen, "gateway listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
