//! The `ingressoja` command line: argument parsing, running a command against
//! the cluster and printing the outcome for a person (or, with `--json`, for
//! a script).
//!
//! This crate is the CLI's and nobody else's: the binary (`src/main.rs`) is a
//! thin `main` over [`run`]. It talks to the cluster through
//! `ingressoja-client` (the library the gateway and the tools share) and may
//! depend on `ingressoja-node`, whose storage format `backup` checks and
//! `restore` seeds (so it links RocksDB, which the client library must not).
//! Argument parsing (clap), logging setup (tracing-subscriber) and the
//! operator-side audit-chain verification ([`audit`]) live here, not in the
//! library.

mod args;
pub mod audit;
mod backup;
mod category;
mod commands;
mod events;
mod failure;
mod format;
mod health;
mod json;
mod pki;
mod policy;
mod queue;
mod register;
mod rfc3339;
mod text;

use std::process::ExitCode;
use std::time::Duration;

use ingressoja_client::{Client, ClientOptions};

pub use args::Args;
pub use failure::Failure;

/// Longest wait for one attempt on one node.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends diagnostics (retries, redirects with `-v`) to stderr, never stdout.
pub fn init_tracing(verbose: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(if verbose {
            "warn,ingressoja_client=debug"
        } else {
            "warn"
        })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// Runs the command `args` asks for; the exit code is for the outcomes that
/// are not errors (e.g. `cluster status` with no leader).
pub async fn run(args: Args) -> Result<ExitCode, Failure> {
    // Offline commands: no client, so no certificate needed.
    match args.command {
        args::Command::Pki(command) => return pki::run(command),
        args::Command::Restore { file, configs } => {
            return backup::restore(commands::Output { json: args.json }, file, configs)
        }
        _ => {}
    }
    let overall_deadline = Duration::from_secs(args.timeout_secs);
    let options = ClientOptions {
        request_timeout: REQUEST_TIMEOUT.min(overall_deadline),
        overall_deadline,
        client_id: args.client_id.clone(),
        tls: pki::operator_material(&args)?,
    };
    let nodes: Vec<String> = args
        .nodes
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    let client = Client::connect(nodes, options).map_err(Failure::from)?;
    commands::execute(&client, args.json, args.command).await
}
