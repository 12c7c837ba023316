//! Runs one gateway: `ingressoja-gateway --config gateway.toml`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use ingressoja_cluster_config::GatewayConfig;
use ingressoja_gateway::AppState;

/// Runs one stateless gateway in front of an IngressoJá cluster.
#[derive(Parser)]
#[command(name = "ingressoja-gateway", version)]
struct Args {
    /// The gateway's TOML config (see cluster-config/configs/local-3/gateway1.toml).
    #[arg(long, env = "INGRESSOJA_GATEWAY_CONFIG")]
    config: PathBuf,
    /// Call the nodes in plaintext with no certificate (nodes started with
    /// --insecure-dev): a trusted dev machine only; logs a warning. The
    /// config must then have no [tls] section.
    #[arg(long, env = "INGRESSOJA_INSECURE_DEV")]
    insecure_dev: bool,
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` and the run scripts send).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

/// SIGHUP: read the certificate, key and CA files again.
async fn reload_on_hangup(state: AppState) {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        return;
    };
    while hangup.recv().await.is_some() {
        match state.reload_tls() {
            Ok(Some(identity)) => tracing::info!(%identity, "SIGHUP: certificate reloaded"),
            Ok(None) => tracing::warn!("SIGHUP: no TLS to reload (insecure_dev)"),
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: certificate NOT reloaded; calling on with the old one")
            }
        }
    }
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
    let config = if args.insecure_dev {
        GatewayConfig::load_insecure_dev(&args.config)
    } else {
        GatewayConfig::load(&args.config)
    };
    let config =
        config.with_context(|| format!("invalid gateway config {}", args.config.display()))?;
    let listen = config.listen;
    let public_url = config.public_url.clone();
    let state = AppState::new(config).context("cannot prepare the cluster client")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(%listen, %public_url, "gateway listening");
    tokio::spawn(reload_on_hangup(state.clone()));
    ingressoja_gateway::serve(state, listener, shutdown_signal()).await?;
    Ok(())
}
