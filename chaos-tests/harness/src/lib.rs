//! `ingressoja-chaos`, the Jepsen-style chaos harness of IngressoJá: a
//! cluster in containers, clients running the workload, nemeses injecting
//! faults on a schedule, then healing, the final state of every node, the
//! checkers, and a report.
//!
//! May depend on: `ingressoja-checkers` (which judges the history this crate
//! records), the client (to drive the cluster), cluster-config (to write the
//! nodes' configs), and the codes crate (`Cpf`). It never links the node:
//! the nodes run in containers.
//!
//! * [`docker`]: the Docker operations, with errors that say what to fix;
//! * [`cluster`]: the node containers on a private network;
//! * [`disk`]: their data directories on disks that can fail;
//! * [`nemesis`]: the faults and how each is healed;
//! * [`workload`]: what the client processes do;
//! * [`recorder`]: the history as it happens;
//! * [`consumers`]: the event feed as one consumer per node receives it;
//! * [`report`]: the summary and the HTML page with the latency plot.

/// The node containers on a private network.
pub mod cluster;
/// The event-feed consumers, one per node.
pub mod consumers;
/// Node data directories on disks that can fail (ingressoja-faultfs).
pub mod disk;
/// The Docker operations, with errors that say what to fix.
pub mod docker;
/// The faults and how each is healed.
pub mod nemesis;
/// The history as it happens.
pub mod recorder;
/// The summary and the HTML page with the plots.
pub mod report;
/// What the client processes do.
pub mod workload;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use cluster::{ChaosCluster, ClusterError, ClusterSpec};
use consumers::Consumers;
use docker::{Docker, DockerError};
use ingressoja_checkers::spec::{CategorySpec, EventSpec, QueueSpec, SaleSpec};
use ingressoja_checkers::{check_all, FinalState, History, Report, Watched};
use nemesis::{Fault, FaultTarget, NemesisKind};
use recorder::{Actor, Completion, Recorder};
use workload::{Process, SaleShape};

/// Names of everything a run creates start with this (and a run id).
pub const PREFIX: &str = "ijchaos";

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Voters to start (3, 5 or 7).
    pub nodes: u64,
    /// Faults to inject, taken in turn; empty for none.
    pub nemeses: Vec<NemesisKind>,
    /// How long the workload runs, faults included.
    pub time_limit: Duration,
    /// Concurrent client processes.
    pub concurrency: u64,
    /// The node image to run.
    pub image: String,
    /// Where the history, results, report and node logs are written.
    pub out_dir: PathBuf,
    /// A planted bug the nodes start with (checker tests only).
    pub planted_bug: Option<String>,
    /// How long each fault lasts.
    pub fault: Duration,
    /// How many faults strike at once (1: one at a time; see
    /// [`nemesis::schedule`]).
    pub overlap: usize,
    /// Calm between faults.
    pub calm: Duration,
    /// Hold lifetime on the nodes, seconds.
    pub hold_ttl_secs: u64,
    /// Print progress lines.
    pub progress: bool,
}

/// Why a run could not produce a verdict.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    /// The cluster could not be started.
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    /// A Docker operation failed.
    Docker(#[from] DockerError),
    #[error("setting up the sale failed: {0}")]
    /// Creating the events or customers failed.
    SetUp(String),
    #[error("the cluster did not converge after healing: {0}")]
    /// A node never answered after the faults were healed.
    NoConvergence(String),
    #[error("reading {path}: {reason}; a kept run has history.jsonl, final.json and spec.json")]
    /// A kept run's file could not be read or parsed (`--check`).
    Input {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    #[error("writing {path}: {reason}")]
    /// A run file could not be written.
    Output {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// A finished run.
pub struct RunOutcome {
    /// Every checker's verdict.
    pub report: Report,
    /// Where the run's files are.
    pub out_dir: PathBuf,
    /// (start, stop, kind, description) of every fault, seconds since the start.
    pub faults: Vec<(f64, f64, String, String)>,
    /// Client operations by outcome: (ok, fail, unknown).
    pub ops: (u64, u64, u64),
}

/// Resolves on Ctrl-C or SIGTERM (a CI timeout, `kill`).
async fn interrupted() -> bool {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => signal.recv().await.is_some(),
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        ctrl_c = tokio::signal::ctrl_c() => ctrl_c.is_ok(),
        term = terminate => term,
    }
}

/// Runs the whole thing; containers and networks are removed at the end, whatever happens.
pub async fn run(options: RunOptions) -> Result<RunOutcome, HarnessError> {
    let run_id = format!("{PREFIX}-{:06x}", rand::random::<u32>() & 0xff_ffff);
    std::fs::create_dir_all(&options.out_dir).map_err(|e| HarnessError::Output {
        path: options.out_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let docker = Docker;
    // Ctrl-C: take everything down, then exit.
    let cleanup_prefix = run_id.clone();
    let cleanup_dir = options.out_dir.clone();
    let ctrl_c = tokio::spawn(async move {
        if interrupted().await {
            eprintln!("interrupted: removing {cleanup_prefix}-* containers and network");
            let _ = Docker.remove_all(&cleanup_prefix).await;
            disk::unmount_all(Some(&cleanup_dir)).await;
            std::process::exit(130);
        }
    });
    let result = run_in(&options, &run_id, &docker).await;
    ctrl_c.abort();
    if let Err(e) = docker.remove_all(&run_id).await {
        eprintln!("warning: cleaning up {run_id}: {e}");
    }
    // The containers are gone: their disks can go too.
    disk::unmount_all(Some(&options.out_dir)).await;
    result
}

async fn run_in(
    options: &RunOptions,
    run_id: &str,
    docker: &Docker,
) -> Result<RunOutcome, HarnessError> {
    let spec = ClusterSpec {
        nodes: options.nodes,
        spares: u64::from(options.nemeses.contains(&NemesisKind::Membership)),
        image: options.image.clone(),
        hold_ttl_secs: options.hold_ttl_secs,
        planted_bug: options.planted_bug.clone(),
        fake_clock: options.nemeses.contains(&NemesisKind::Clock)
            || options.nemeses.contains(&NemesisKind::ClockJump),
        faulty_disks: options.nemeses.iter().any(|k| k.needs_faulty_disk()),
    };
    let say = |line: String| {
        if options.progress {
            eprintln!("{line}");
        }
    };
    say(format!("starting {} nodes ({run_id})...", options.nodes));
    let cluster = ChaosCluster::start(docker.clone(), run_id, &options.out_dir, spec).await?;
    let outcome = drive(options, &cluster, &say).await;
    cluster.save_logs().await;
    outcome
}

async fn drive(
    options: &RunOptions,
    cluster: &ChaosCluster,
    say: &dyn Fn(String),
) -> Result<RunOutcome, HarnessError> {
    let leader = cluster.wait_formed(Duration::from_secs(60)).await?;
    say(format!("leader n{leader}; creating the sale..."));
    let setup = cluster.client("chaos-setup", Duration::from_secs(30));
    let shape = SaleShape::for_run(options.time_limit);
    workload::set_up(&setup, options.concurrency, &shape)
        .await
        .map_err(|e| HarnessError::SetUp(e.to_string()))?;

    let recorder = Recorder::new();
    let consumers = Consumers::start(cluster, &recorder);
    let started = Instant::now();
    let until = started + options.time_limit;
    let processes: Vec<_> = (0..options.concurrency)
        .map(|p| {
            let process = Process {
                id: p,
                client: cluster.client(&format!("chaos-p{p}"), Duration::from_secs(3)),
                recorder: recorder.clone(),
                until,
                customers: shape.customers_per_process,
            };
            tokio::spawn(process.run())
        })
        .collect();

    let mut target = FaultTarget::new(cluster);
    // One nemesis per kind, taken in turn; each keeps what it must undo.
    let mut nemeses: Vec<Box<dyn Fault>> = options
        .nemeses
        .iter()
        .map(|&kind| nemesis::fault_for(kind))
        .collect();
    let kinds: Vec<NemesisKind> = nemeses.iter().map(|n| n.kind()).collect();
    let mut faults = Vec::new();
    let mut next = 0usize;
    let mut last_progress = Instant::now();
    while Instant::now() + options.calm < until {
        sleep_reporting(
            options.calm,
            &recorder,
            started,
            None,
            say,
            &mut last_progress,
        )
        .await;
        if nemeses.is_empty() || Instant::now() + options.fault > until {
            continue;
        }
        let group =
            nemesis::schedule::round(&kinds, next, options.overlap, &mut rand::thread_rng());
        next += 1;
        let mut on = Vec::new();
        for i in group {
            let fault = &mut nemeses[i];
            let alone = on.is_empty();
            if let Some(applied) =
                start_fault(fault.as_mut(), &mut target, &recorder, say, alone).await
            {
                on.push((i, started.elapsed().as_secs_f64(), applied));
            }
        }
        if on.is_empty() {
            continue;
        }
        let label: Vec<&str> = on.iter().map(|(i, _, _)| kinds[*i].name()).collect();
        sleep_reporting(
            options.fault,
            &recorder,
            started,
            Some(&label.join("+")),
            say,
            &mut last_progress,
        )
        .await;
        // The last fault started is the first healed.
        for (i, start_at, applied) in on.into_iter().rev() {
            heal_fault(nemeses[i].as_mut(), &mut target, &recorder).await;
            faults.push((
                start_at,
                started.elapsed().as_secs_f64(),
                kinds[i].name().to_string(),
                applied.description,
            ));
        }
    }
    let missed: Vec<&str> = kinds
        .iter()
        .map(|k| k.name())
        .filter(|name| !faults.iter().any(|(_, _, kind, _)| kind == name))
        .collect();
    if !missed.is_empty() {
        say(format!(
            "warning: no time was left for {}: lengthen --time-limit to test them",
            missed.join(", ")
        ));
    }
    for p in processes {
        let _ = p.await;
    }
    // The history so far, at once: a run that cannot heal or settle keeps
    // what happened (written again, complete, at the end).
    let out = &options.out_dir;
    write(out.join("history.jsonl"), recorder.to_jsonl().as_bytes())?;
    say("time is up: healing everything...".into());
    // A heal that failed in its round (a wipe's runbook that did not
    // finish) is tried once more: heal_all restarts nodes, it does not
    // know runbooks. For every other fault this heals nothing twice.
    for fault in nemeses.iter_mut() {
        heal_fault(fault.as_mut(), &mut target, &recorder).await;
    }
    recorder.invoke(Actor::Nemesis, "heal-all", Value::Null);
    let healed = nemesis::heal_all(&target).await;
    recorder.complete(
        Actor::Nemesis,
        "heal-all",
        match &healed {
            Ok(()) => Completion::Ok(json!("healed")),
            Err(e) => Completion::Info(e.to_string()),
        },
    );
    healed?;

    let final_state = read_final_state(cluster).await?;
    let watched = consumers.finish(Duration::from_secs(30), say).await;
    let history_text = recorder.to_jsonl();
    let history = History::read_jsonl(history_text.as_bytes())
        .map_err(|e| HarnessError::SetUp(format!("the recorded history does not parse: {e}")))?;
    let final_typed: FinalState = serde_json::from_value(final_state.clone())
        .map_err(|e| HarnessError::SetUp(format!("the final state does not parse: {e}")))?;
    let spec = sale_spec(&shape);
    let report = check_all(&history, &final_typed, &watched, &spec);

    write(out.join("history.jsonl"), history_text.as_bytes())?;
    let mut watch_text = Vec::new();
    watched
        .write_jsonl(&mut watch_text)
        .map_err(|e| HarnessError::Output {
            path: out.join("watch.jsonl").display().to_string(),
            reason: e.to_string(),
        })?;
    write(out.join("watch.jsonl"), &watch_text)?;
    write(out.join("final.json"), final_state.to_string().as_bytes())?;
    write(
        out.join("spec.json"),
        serde_json::to_string_pretty(&spec)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    write(
        out.join("results.json"),
        serde_json::to_string_pretty(&report)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    let html = report::html(&recorder.records(), &faults, &report);
    write(out.join("report.html"), html.as_bytes())?;
    Ok(RunOutcome {
        report,
        out_dir: out.clone(),
        faults,
        ops: recorder.counts(),
    })
}

/// Starts `fault`, recording it; what it did, or `None` when it could not
/// start. Whatever it did halfway is taken back at once: by its own heal,
/// and, when it is `alone` (no other fault of the round is on), by healing
/// everything.
async fn start_fault(
    fault: &mut dyn Fault,
    target: &mut FaultTarget<'_>,
    recorder: &Recorder,
    say: &dyn Fn(String),
    alone: bool,
) -> Option<nemesis::Applied> {
    let kind = fault.kind();
    let name = format!("start-{kind}");
    recorder.invoke(Actor::Nemesis, &name, json!(kind.name()));
    match fault.start(target).await {
        Ok(applied) => {
            recorder.complete(
                Actor::Nemesis,
                &name,
                Completion::Ok(json!(applied.description)),
            );
            say(format!("  fault: {} ({})", kind, applied.description));
            Some(applied)
        }
        Err(e) => {
            recorder.complete(Actor::Nemesis, &name, Completion::Info(e.to_string()));
            say(format!("nemesis {kind} could not start: {e}"));
            // It may have got halfway: take back whatever it did, without
            // undoing the other faults of the round.
            if let Err(e) = fault.heal(target).await {
                say(format!("healing {kind} after it failed: {e}"));
            }
            if alone {
                if let Err(e) = nemesis::heal_all(target).await {
                    say(format!("healing after it failed too: {e}"));
                }
            }
            None
        }
    }
}

/// Heals `fault`, recording it.
async fn heal_fault(fault: &mut dyn Fault, target: &mut FaultTarget<'_>, recorder: &Recorder) {
    let kind = fault.kind();
    let name = format!("stop-{kind}");
    recorder.invoke(Actor::Nemesis, &name, json!(kind.name()));
    let stopped = fault.heal(target).await;
    recorder.complete(
        Actor::Nemesis,
        &name,
        match &stopped {
            Ok(()) => Completion::Ok(json!("healed")),
            Err(e) => Completion::Info(e.to_string()),
        },
    );
}

async fn sleep_reporting(
    total: Duration,
    recorder: &Recorder,
    started: Instant,
    fault: Option<&str>,
    say: &dyn Fn(String),
    last: &mut Instant,
) {
    let until = Instant::now() + total;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250).min(until - Instant::now())).await;
        if last.elapsed() >= Duration::from_secs(5) {
            *last = Instant::now();
            let (ok, fail, info) = recorder.counts();
            say(format!(
                "[{:>5.1}s] ops ok {ok} fail {fail} unknown {info}; fault: {}",
                started.elapsed().as_secs_f64(),
                fault.unwrap_or("none")
            ));
        }
    }
}

/// Waits until every member reports the same applied state, then reads each.
async fn read_final_state(cluster: &ChaosCluster) -> Result<Value, HarnessError> {
    cluster.wait_for_leader(Duration::from_secs(60)).await?;
    let client = cluster.client("chaos-final", Duration::from_secs(5));
    let members: Vec<u64> = (1..=cluster.spec.nodes).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last_seen = String::new();
    loop {
        let mut exports = Vec::new();
        for &id in &members {
            match client.export_sale(&cluster.addr(id)).await {
                Ok(export) => exports.push((id, export)),
                Err(e) => last_seen = format!("n{id}: {e}"),
            }
        }
        let agreed = exports.len() == members.len()
            && exports.windows(2).all(|w| {
                w[0].1.applied_index == w[1].1.applied_index
                    && w[0].1.state_hash == w[1].1.state_hash
            });
        if agreed || Instant::now() > deadline {
            if exports.len() < members.len() {
                return Err(HarnessError::NoConvergence(last_seen));
            }
            // Disagreement after the deadline is the convergence checker's to report.
            let nodes: Vec<Value> = exports
                .iter()
                .map(|(id, e)| workload::final_state_json(&format!("n{id}"), e))
                .collect();
            return Ok(json!({ "nodes": nodes }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The capacities and limits the workload's sale was created with.
pub fn sale_spec(shape: &SaleShape) -> SaleSpec {
    SaleSpec {
        events: vec![
            EventSpec {
                event: workload::EVENT.into(),
                customer_limit: None,
                queue: None,
                categories: shape
                    .categories
                    .iter()
                    .map(|(id, capacity, limit)| CategorySpec {
                        category: id.to_string(),
                        capacity: u64::from(*capacity),
                        customer_limit: u64::from(*limit),
                        holds_expire: *id != workload::LIN,
                    })
                    .collect(),
            },
            EventSpec {
                event: workload::QUEUE_EVENT.into(),
                customer_limit: None,
                queue: Some(QueueSpec {
                    admit_per_minute: u64::from(workload::QUEUE_ADMIT_PER_MINUTE),
                    burst: 1,
                }),
                categories: vec![CategorySpec {
                    category: "geral".into(),
                    capacity: 1,
                    customer_limit: 1,
                    holds_expire: false,
                }],
            },
        ],
    }
}

/// Checks a run kept on disk again: `history.jsonl`, `final.json`,
/// `spec.json` and (when the run recorded it) `watch.jsonl` in `dir`, as a
/// run writes them.
pub fn check_kept_run(dir: &std::path::Path) -> Result<Report, HarnessError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| HarnessError::Input {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    let bad = |name: &str, e: String| HarnessError::Input {
        path: dir.join(name).display().to_string(),
        reason: e,
    };
    let history = History::read_jsonl(read("history.jsonl")?.as_bytes())
        .map_err(|e| bad("history.jsonl", e.to_string()))?;
    let final_state: FinalState =
        serde_json::from_str(&read("final.json")?).map_err(|e| bad("final.json", e.to_string()))?;
    let spec: SaleSpec =
        serde_json::from_str(&read("spec.json")?).map_err(|e| bad("spec.json", e.to_string()))?;
    let watched = match std::fs::read(dir.join("watch.jsonl")) {
        Ok(bytes) => {
            Watched::read_jsonl(&bytes[..]).map_err(|e| bad("watch.jsonl", e.to_string()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Watched::default(),
        Err(e) => return Err(bad("watch.jsonl", e.to_string())),
    };
    Ok(check_all(&history, &final_state, &watched, &spec))
}

fn write(path: PathBuf, bytes: &[u8]) -> Result<(), HarnessError> {
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| HarnessError::Output {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}
