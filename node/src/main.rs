//! `ingressoja-node`: runs one Raft member from a TOML config file.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use ingressoja_cluster_config::NodeConfig;
use ingressoja_node::NodeHandle;
use tracing_subscriber::EnvFilter;

/// Runs one IngressoJá cluster node.
#[derive(Parser)]
#[command(name = "ingressoja-node", version)]
struct Args {
    /// Path of the node's TOML configuration.
    #[arg(long, short, env = "INGRESSOJA_NODE_CONFIG")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,openraft=warn")),
        )
        .init();
    let args = Args::parse();
    let config = NodeConfig::load(&args.config)
        .with_context(|| format!("invalid configuration {}", args.config.display()))?;
    let node = NodeHandle::start(&config)
        .await
        .with_context(|| format!("node {} failed to start", config.id))?;
    // A stopped Raft (a storage error) ends the process with an error, so a
    // supervisor restarts the node instead of it answering `unavailable` for ever.
    let stopped = tokio::select! {
        () = wait_for_signal() => None,
        reason = node.stopped() => Some(reason),
    };
    match stopped {
        None => {
            tracing::info!("shutting down");
            node.shutdown().await;
            Ok(())
        }
        Some(reason) => {
            tracing::error!(%reason, "Raft stopped on its own: exiting non-zero");
            node.shutdown().await;
            anyhow::bail!("node {} stopped: Raft stopped: {reason}", config.id)
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
