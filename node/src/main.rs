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
    /// Run without TLS: plaintext gRPC, every caller allowed every call. For
    /// a trusted dev machine only (logs a warning); the config must then have
    /// no [tls] section. Without this flag a config without [tls] is refused.
    #[arg(long, env = "INGRESSOJA_INSECURE_DEV")]
    insecure_dev: bool,
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
    let config = if args.insecure_dev {
        NodeConfig::load_insecure_dev(&args.config)
    } else {
        NodeConfig::load(&args.config)
    };
    let config =
        config.with_context(|| format!("invalid configuration {}", args.config.display()))?;
    let node = NodeHandle::start(&config)
        .await
        .with_context(|| format!("node {} failed to start", config.id))?;
    // A stopped Raft (a storage error) ends the process with an error, so a
    // supervisor restarts the node instead of it answering `unavailable` for ever.
    let mut hangup = hangup_signal();
    let stopped = loop {
        tokio::select! {
            () = wait_for_signal() => break None,
            reason = node.stopped() => break Some(reason),
            // SIGHUP: read the certificate, key and CA files again.
            () = hangup.next() => match node.reload_tls() {
                Ok(Some(identity)) => tracing::info!(%identity, "SIGHUP: certificate reloaded"),
                Ok(None) => tracing::warn!("SIGHUP: no TLS to reload (insecure_dev)"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: certificate NOT reloaded; serving on with the old one"),
            },
        }
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

/// SIGHUPs as they come (never, where there are none).
struct Hangup(Option<tokio::signal::unix::Signal>);

fn hangup_signal() -> Hangup {
    Hangup(tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok())
}

impl Hangup {
    async fn next(&mut self) {
        let received = match &mut self.0 {
            Some(signal) => signal.recv().await.is_some(),
            None => false,
        };
        if !received {
            std::future::pending::<()>().await;
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
