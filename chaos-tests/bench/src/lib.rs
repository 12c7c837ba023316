//! The flash-sale load generator (`ingressoja-bench`): simulated
//! customers join the virtual queue in a burst, wait for admission, hold
//! 1–4 tickets of a hot category, pay (a share declines), release, or walk
//! away and let the hold expire, until the sale sells out. The same
//! workload runs against IngressoJá and, with `--compare`, against a 3-node
//! etcd cluster and a PostgreSQL server started by the benchmark, one system
//! after the other on the same machine; the report gives each system's
//! figures and the ratios to ours.
//!
//! Modules, one idea each:
//! * [`options`]: the command line; [`plan`]: the sale all systems run;
//! * [`workload`]: the burst, the customers and the stop conditions;
//! * [`target`]: one adapter per system behind the [`target::Target`] trait;
//! * [`launch`]: starting and stopping the local cluster, its gateways, etcd, PostgreSQL;
//! * [`stats`]: HDR histograms, counters, the timeline;
//! * [`report`]: the JSON report and the tables; [`plot`]: the SVG plot;
//! * [`festival`]: `--scale festival`'s node sampling and mid-sale faults.
//!
//! May depend on: the client (the gRPC target), the gateway (the HTTP
//! target signs sessions with its signer), cluster-config (the configs of
//! the local cluster and gateways it starts), and the codes crate (`Cpf`).
//! It never links the node (it starts the node's binary), and knows nothing
//! of the chaos harness or the checkers.

pub mod error;
pub mod festival;
pub mod launch;
pub mod options;
pub mod plan;
pub mod plot;
pub mod report;
pub mod stats;
pub mod target;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use error::BenchError;
pub use options::{BenchOptions, TargetKind};
pub use report::BenchReport;

use ingressoja_pki::{Bundle, Role, TlsMaterial};

use self::festival::FestivalRun;
use self::launch::operator_tls;
use self::launch::{ClusterPorts, EtcdCluster, LocalCluster, LocalGateways, PostgresServer};
use self::plan::SalePlan;
use self::report::{Outcome, SystemReport, WorkloadSummary};
use self::target::etcd::EtcdTarget;
use self::target::grpc::GrpcTarget;
use self::target::http::HttpTarget;
use self::target::postgres::PostgresTarget;
use self::target::Target;

/// The programs the chosen systems need, found before anything starts (so a
/// missing one fails the run at once, not after minutes of measuring).
struct Programs {
    node: Option<PathBuf>,
    gateway: Option<PathBuf>,
    etcd: Option<PathBuf>,
    postgres: Option<PathBuf>,
}

fn find_programs(options: &BenchOptions) -> Result<Programs, BenchError> {
    let systems = options.systems();
    let wants = |k: TargetKind| systems.contains(&k);
    let ours = wants(TargetKind::Grpc) || wants(TargetKind::Http) || wants(TargetKind::GrpcPlain);
    Ok(Programs {
        node: if ours && options.addrs.is_empty() {
            Some(launch::local_cluster_bin(options.node_bin.as_deref())?)
        } else {
            None
        },
        gateway: if wants(TargetKind::Http) {
            Some(launch::find_built_bin(
                "ingressoja-gateway",
                "the IngressoJá gateways",
                "gateway-bin",
                options.gateway_bin.as_deref(),
            )?)
        } else {
            None
        },
        etcd: if wants(TargetKind::Etcd) {
            Some(launch::etcd_bin(options.etcd_bin.as_deref())?)
        } else {
            None
        },
        postgres: if wants(TargetKind::Postgres) {
            Some(launch::postgres_bin_dir(
                options.postgres_bin_dir.as_deref(),
            )?)
        } else {
            None
        },
    })
}

/// Runs the benchmark: every system of `options.systems()` in turn, each
/// started fresh (unless `--addrs` names a running cluster) and stopped
/// before the next. `command` is recorded in the report.
pub async fn run(options: &BenchOptions, command: String) -> Result<BenchReport, BenchError> {
    options.validate()?;
    let programs = find_programs(options)?;
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(0))
        .unwrap_or(0);
    let seed = options.seed.unwrap_or(started_at);
    let plan = Arc::new(SalePlan::new(options, started_at % 1_000_000_000));
    let mut systems = Vec::new();
    for kind in options.systems() {
        systems.push(run_system(kind, options, &programs, Arc::clone(&plan), seed).await?);
    }
    Ok(BenchReport::new(
        started_at,
        WorkloadSummary::of(options, seed, command),
        systems,
    ))
}

fn say(options: &BenchOptions, text: &str) {
    if !options.quiet {
        eprintln!("{text}");
    }
}

async fn run_system(
    kind: TargetKind,
    options: &BenchOptions,
    programs: &Programs,
    plan: Arc<SalePlan>,
    seed: u64,
) -> Result<SystemReport, BenchError> {
    let label = kind.label();
    match kind {
        TargetKind::Grpc | TargetKind::GrpcPlain => {
            let plaintext = options.insecure_dev || kind == TargetKind::GrpcPlain;
            let (cluster, addrs, access) =
                ingressoja_cluster(options, plaintext, programs, label).await?;
            let target = GrpcTarget::connect(&addrs, access.operator, Arc::clone(&plan)).await?;
            let (cluster, festival) = match (options.festival(), cluster) {
                (true, Some(cluster)) => (
                    None,
                    Some(FestivalRun::start(
                        cluster,
                        plan.total_capacity(),
                        plan.customers,
                    )),
                ),
                (_, cluster) => (cluster, None),
            };
            let report = measure(Arc::new(target), plan, options, seed, festival.as_ref())
                .await
                // The same adapter either way: the row says which cluster it was.
                .map(|r| SystemReport {
                    system: label.to_string(),
                    durability: if plaintext {
                        format!("{} (no TLS)", r.durability)
                    } else {
                        r.durability
                    },
                    ..r
                });
            let report = match festival {
                Some(festival) => {
                    say(
                        options,
                        &format!("[{label}] festival: collecting the figures.."),
                    );
                    let figures = festival.finish().await;
                    report.map(|r| SystemReport {
                        festival: Some(figures),
                        ..r
                    })
                }
                None => report,
            };
            drop(cluster);
            report
        }
        TargetKind::Http => {
            let (cluster, addrs, access) =
                ingressoja_cluster(options, options.insecure_dev, programs, label).await?;
            let gateway_tls = access.pki.as_ref().map(|bundle| {
                let (cert_file, key_file) =
                    bundle.files_of(ingressoja_pki::Role::Gateway, launch::GATEWAY_CERT);
                ingressoja_cluster_config::TlsConfig {
                    ca_file: bundle.ca_file(),
                    cert_file,
                    key_file,
                }
            });
            let gateway = programs
                .gateway
                .as_deref()
                .unwrap_or(Path::new("ingressoja-gateway"));
            say(
                options,
                &format!(
                    "[{label}] starting {} gateways on 127.0.0.1:{}..",
                    launch::gateways::GATEWAYS,
                    options.gateway_port_base
                ),
            );
            let gateways =
                LocalGateways::start(gateway, &addrs, options.gateway_port_base, gateway_tls)
                    .await?;
            let target = HttpTarget::connect(
                &addrs,
                access.operator,
                gateways.addrs.clone(),
                gateways.session_key.clone(),
                Arc::clone(&plan),
            )
            .await?;
            let report = measure(Arc::new(target), plan, options, seed, None).await;
            drop(gateways);
            drop(cluster);
            report
        }
        TargetKind::Etcd => {
            let etcd = programs.etcd.as_deref().unwrap_or(Path::new("etcd"));
            say(
                options,
                &format!(
                    "[{label}] starting a 3-member etcd cluster on 127.0.0.1:{}..",
                    options.etcd_port_base
                ),
            );
            let cluster = EtcdCluster::start(etcd, options.etcd_port_base).await?;
            let target = EtcdTarget::connect(&cluster.addrs, Arc::clone(&plan)).await?;
            let report = measure(Arc::new(target), plan, options, seed, None).await;
            drop(cluster);
            report
        }
        TargetKind::Postgres => {
            let dir = programs
                .postgres
                .as_deref()
                .unwrap_or(Path::new("/usr/lib/postgresql"));
            say(
                options,
                &format!(
                    "[{label}] starting PostgreSQL on 127.0.0.1:{}..",
                    options.postgres_port
                ),
            );
            let server =
                PostgresServer::start(dir, options.postgres_port, options.postgres_pool).await?;
            let target =
                PostgresTarget::connect(server.port, options.postgres_pool, Arc::clone(&plan))
                    .await?;
            let report = measure(Arc::new(target), plan, options, seed, None).await;
            drop(server);
            report
        }
    }
}

/// How the benchmark reaches an IngressoJá cluster: the cluster's
/// certificates and its own (operator) one; both `None` with `--insecure-dev`.
struct Access {
    pki: Option<Bundle>,
    operator: Option<TlsMaterial>,
}

/// A fresh local 3-node cluster (unless `--addrs` names a running one, then
/// `None`), the nodes' gRPC addresses, and the certificates to call them with.
/// `plaintext`: the cluster runs (or is called) without TLS.
async fn ingressoja_cluster(
    options: &BenchOptions,
    plaintext: bool,
    programs: &Programs,
    label: &str,
) -> Result<(Option<LocalCluster>, Vec<String>, Access), BenchError> {
    let Some(node) = &programs.node else {
        let pki = (!plaintext).then(|| Bundle::at(&options.pki_dir));
        let operator = match &pki {
            Some(bundle) => Some(
                bundle
                    .material_of(Role::Operator, &options.operator)
                    .map_err(|e| BenchError::StartFailed {
                        what: "the benchmark".into(),
                        reason: format!(
                            "no operator certificate for the cluster at --addrs: {e} \
                         (pass --pki-dir and --operator, or --insecure-dev)"
                        ),
                    })?,
            ),
            None => None,
        };
        return Ok((None, options.addrs.clone(), Access { pki, operator }));
    };
    say(
        options,
        &format!(
            "[{label}] starting a local 3-node cluster on 127.0.0.1:{}..",
            options.grpc_port_base
        ),
    );
    let ports = ClusterPorts {
        grpc_base: options.grpc_port_base,
        metrics_base: options.metrics_ports(),
    };
    let cluster = LocalCluster::start(node, ports, options.hold_ttl_secs, plaintext).await?;
    let addrs = cluster.addrs.clone();
    let pki = cluster.pki().cloned();
    let operator = operator_tls(pki.as_ref())?;
    Ok((Some(cluster), addrs, Access { pki, operator }))
}

/// Prepares the sale on `target`, runs the workload and reads the end state
/// (telling a festival run when every fan has registered).
async fn measure<T: Target>(
    target: Arc<T>,
    plan: Arc<SalePlan>,
    options: &BenchOptions,
    seed: u64,
    festival: Option<&FestivalRun>,
) -> Result<SystemReport, BenchError> {
    say(
        options,
        &format!(
            "[{}] preparing the sale ({} customers)..",
            target.system(),
            plan.customers
        ),
    );
    let preparing = std::time::Instant::now();
    target.prepare().await?;
    if let Some(festival) = festival {
        festival.registered(preparing.elapsed());
    }
    let m = workload::run(Arc::clone(&target), plan, options, seed).await;
    let outcome = Outcome::of(target.outcome().await?, m.tickets_acknowledged);
    Ok(SystemReport::build(
        target.system(),
        target.durability(),
        target.retries(),
        &m,
        outcome,
    ))
}

/// Writes the report as pretty JSON to `path`.
pub fn write_json(report: &BenchReport, path: &Path) -> Result<(), BenchError> {
    let text = serde_json::to_string_pretty(report).map_err(|e| BenchError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    std::fs::write(path, text + "\n").map_err(|e| BenchError::io(path, e))
}

/// Writes the SVG plot of the report's systems to `path`.
pub fn write_plot(report: &BenchReport, path: &Path) -> Result<(), BenchError> {
    std::fs::write(path, plot::render(&report.systems)).map_err(|e| BenchError::io(path, e))
}
