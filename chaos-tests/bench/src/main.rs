//! `ingressoja-bench`: the flash-sale load generator. Runs the sale against
//! IngressoJá (a local 3-node cluster it starts, or `--addrs`) and, with
//! `--compare etcd,postgres`, against etcd and PostgreSQL; prints the tables,
//! writes `--json-out` and `--plot-out`. Exit status: 0 on success, 1 when the
//! run could not be made (bad option, port in use, system missing or not
//! running), 3 when a system oversold.

use std::process::ExitCode;

use anyhow::Context;
use ingressoja_bench::{self as bench, report::table, BenchOptions};

#[tokio::main]
async fn main() -> ExitCode {
    let options = match BenchOptions::parse_scaled_from(std::env::args_os()) {
        Ok(options) => options,
        Err(e) => e.exit(),
    };
    match run(options).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ingressoja-bench: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(options: BenchOptions) -> anyhow::Result<ExitCode> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let report = tokio::select! {
        report = bench::run(&options, command) => report?,
        // Dropping the run stops every process it had started.
        _ = tokio::signal::ctrl_c() => {
            anyhow::bail!("interrupted; every process the benchmark started was stopped");
        }
        _ = terminate.recv() => {
            anyhow::bail!("terminated; every process the benchmark started was stopped");
        }
    };
    print!("{}", table::render(&report));
    if let Some(path) = &options.json_out {
        bench::write_json(&report, path).context("writing the JSON report")?;
    }
    if let Some(path) = &options.plot_out {
        bench::write_plot(&report, path).context("writing the plot")?;
    }
    if !report.no_oversell() {
        eprintln!("ingressoja-bench: a system sold more tickets than it had");
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}
