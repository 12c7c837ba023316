//! `ingressoja`: the command line for operators and testers of an IngressoJá
//! cluster. See `ingressoja --help`; the commands live in the
//! `ingressoja_cli` library of this crate.
//!
//! Exit codes: 0 success, 1 cluster unavailable or other failure (and, for
//! `cluster status`, no leader known), 2 the cluster refused the request or
//! the arguments are wrong.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

fn main() -> anyhow::Result<ExitCode> {
    let args = ingressoja_cli::Args::parse();
    ingressoja_cli::init_tracing(args.verbose);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(match runtime.block_on(ingressoja_cli::run(args)) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    })
}
