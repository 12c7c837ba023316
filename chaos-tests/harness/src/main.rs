//! `ingressoja-chaos`: runs a cluster in containers under a workload and a
//! nemesis, checks the history, and writes a report.
//!
//! Exit codes: 0 every checker valid (or, with `--expect-anomaly`, that
//! checker found one), 1 a checker found an anomaly or could not finish,
//! 2 the run itself failed (Docker, images, a cluster that never came up).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ingressoja_chaos::docker::Docker;
use ingressoja_chaos::nemesis::NemesisKind;
use ingressoja_chaos::{self as harness, RunOptions, PREFIX};
use ingressoja_checkers::{Report, Validity};

/// Jepsen-style chaos test of an IngressoJá cluster in Docker containers.
#[derive(Debug, Parser)]
#[command(name = "ingressoja-chaos", version)]
struct Args {
    /// Faults to inject, comma-separated, taken in turn: kill, kill-leader,
    /// pause, pause-leader, partition-leader, leader-deaf, leader-mute,
    /// partition-halves, partition-ring, partition-bridge, flaky, slow,
    /// clock, membership, clock-jump, wipe, and the disk faults (on
    /// ingressoja-faultfs mounts) power-loss, power-loss-majority,
    /// power-loss-all, disk-full, fsync-error, slow-fsync, snapshot-crash;
    /// `all`; `none`.
    #[arg(long, default_value = "all")]
    nemesis: String,
    /// Seconds of workload (faults included).
    #[arg(long, default_value_t = 60)]
    time_limit: u64,
    /// Cluster size (3 or 5).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(3..=7))]
    nodes: u64,
    /// Concurrent client processes.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=512))]
    concurrency: u64,
    /// The node image (build it with ./scripts/build-images.sh).
    #[arg(long, default_value = "ingressoja-node:local")]
    image: String,
    /// Where the history, results and report go (default: chaos-runs/<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seconds each fault lasts (at least 1).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    fault_secs: u64,
    /// How many faults strike at once: 1 takes them one at a time; 2 or
    /// more adds, to each fault in turn, others picked at random (wipe and
    /// membership always run alone).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=4))]
    overlap: u64,
    /// Seconds of calm between faults (at least 1).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    calm_secs: u64,
    /// Hold lifetime on the nodes, seconds: short, so walked-away holds
    /// expire during the run, but longer than a fault plus the clients'
    /// retries, so a hold the `lin` processes release does not expire first.
    #[arg(long, default_value_t = 10)]
    hold_ttl_secs: u64,
    /// Run the nodes with a planted bug (ack-before-commit, stale-read,
    /// leader-clock, oversell, duplicate-ticket, limit-bypass,
    /// shared-queue-number, local-clock-in-apply, forgotten-reply,
    /// unsynced-log, lost-watch-event, admission-burst: the node's
    /// `planted::PlantedBug`): to show that the checkers catch it.
    #[arg(long)]
    planted_bug: Option<String>,
    /// Succeed only if this checker reports an anomaly (for planted-bug runs).
    #[arg(long, value_name = "CHECKER")]
    expect_anomaly: Option<String>,
    /// Only remove containers and networks left by earlier runs, then exit.
    #[arg(long)]
    cleanup: bool,
    /// Only check a kept run again (its history.jsonl, final.json,
    /// spec.json and watch.jsonl when it has one), e.g. after changing a
    /// checker; exit codes as for a run.
    #[arg(long, value_name = "RUN_DIR")]
    check: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.cleanup {
        let removed = Docker.remove_all(PREFIX).await;
        let unmounted = harness::disk::unmount_all(None).await;
        if unmounted > 0 {
            eprintln!("unmounted {unmounted} faultfs disks left by earlier runs");
        }
        return match removed {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    if let Some(dir) = &args.check {
        return match harness::check_kept_run(dir) {
            Ok(report) => {
                println!("{report}");
                verdict(&report, args.expect_anomaly.as_deref())
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    let nemeses = match NemesisKind::parse_list(&args.nemesis) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let out = args.out.clone().unwrap_or_else(|| {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        PathBuf::from("chaos-runs").join(stamp.to_string())
    });
    let options = RunOptions {
        nodes: args.nodes,
        nemeses,
        time_limit: Duration::from_secs(args.time_limit),
        concurrency: args.concurrency,
        image: args.image.clone(),
        out_dir: out,
        planted_bug: args.planted_bug.clone(),
        fault: Duration::from_secs(args.fault_secs),
        overlap: args.overlap as usize,
        calm: Duration::from_secs(args.calm_secs),
        hold_ttl_secs: args.hold_ttl_secs,
        progress: true,
    };
    let outcome = match harness::run(options).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (ok, fail, info) = outcome.ops;
    println!("{}", outcome.report);
    println!(
        "operations: {ok} ok, {fail} fail, {info} unknown; faults injected: {}",
        outcome.faults.len()
    );
    println!("report: {}", outcome.out_dir.join("report.html").display());
    verdict(&outcome.report, args.expect_anomaly.as_deref())
}

/// The exit code for `report`: valid, or, when an anomaly is expected, that
/// the named checker found one.
fn verdict(report: &Report, expect_anomaly: Option<&str>) -> ExitCode {
    match expect_anomaly {
        Some(name) => {
            match report.check(name) {
                Some(check) if check.valid == Validity::Invalid => {
                    println!("expected anomaly found by {name}");
                    ExitCode::SUCCESS
                }
                Some(_) => {
                    eprintln!("error: {name} found no anomaly, but the planted bug should have caused one");
                    ExitCode::from(1)
                }
                None => {
                    eprintln!("error: no checker named {name}");
                    ExitCode::from(2)
                }
            }
        }
        None if report.valid == Validity::Valid => ExitCode::SUCCESS,
        None => ExitCode::from(1),
    }
}
