//! A fresh local 3-node IngressoJá cluster for one run: the built
//! `ingressoja-node` binary started three times on loopback ports, with
//! configs and RocksDB directories in a temporary directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ingressoja_client::{Client, ClientOptions};
use ingressoja_cluster_config::{
    ListenConfig, NodeConfig, PeerConfig, RaftTimingConfig, SaleConfig, SnapshotPolicy, TlsConfig,
};
use ingressoja_pki::{Bundle, Identity, Role, TlsMaterial};
use tempfile::TempDir;

use super::children::{launch_dir, Children};
use super::ports::ensure_free;
use crate::error::BenchError;

/// Nodes in the cluster.
const NODES: u16 = 3;
/// Longest wait for a leader.
const READY: Duration = Duration::from_secs(60);
/// The cluster name in a local run's certificates.
const CLUSTER: &str = "bench";
/// The names of the benchmark's own certificates in the bundle.
pub const OPERATOR: &str = "bench";
/// The gateways' certificate name.
pub const GATEWAY: &str = "web";

/// A running local cluster; stopped (and its directory removed) when dropped.
pub struct LocalCluster {
    children: Children,
    dir: TempDir,
    node_bin: PathBuf,
    ports: ClusterPorts,
    hold_ttl_secs: u64,
    /// The run's certificates; `None` when the nodes run `insecure_dev`.
    pki: Option<Bundle>,
    /// The nodes' gRPC addresses.
    pub addrs: Vec<String>,
}

/// The benchmark's operator certificate of `pki` (`None`: plaintext).
pub fn operator_tls(pki: Option<&Bundle>) -> Result<Option<TlsMaterial>, BenchError> {
    pki.map(|bundle| bundle.material_of(Role::Operator, OPERATOR))
        .transpose()
        .map_err(|e| BenchError::StartFailed {
            what: "the benchmark's certificate".into(),
            reason: e.to_string(),
        })
}

/// The loopback ports of a local cluster: node `id` (1-based) listens for
/// gRPC on `grpc_base + id - 1` and, when `metrics_base` is set, serves
/// metrics on `metrics_base + id - 1`.
#[derive(Debug, Clone, Copy)]
pub struct ClusterPorts {
    /// First gRPC port.
    pub grpc_base: u16,
    /// First metrics port; `None`: the nodes serve no metrics.
    pub metrics_base: Option<u16>,
}

impl ClusterPorts {
    /// The metrics address of node `id`, if the nodes serve metrics.
    pub fn metrics_addr(&self, id: u64) -> Option<String> {
        self.metrics_base
            .map(|base| format!("127.0.0.1:{}", u64::from(base) + id - 1))
    }
}

/// The node binary: `explicit`, else `ingressoja-node` next to the running
/// executable (or one directory up, for test binaries in `deps/`).
pub fn find_node_bin(explicit: Option<&Path>) -> Result<PathBuf, BenchError> {
    find_built_bin(
        "ingressoja-node",
        "the local IngressoJá cluster",
        "node-bin",
        explicit,
    )
}

/// A binary of this workspace: `explicit` (it must exist), else `name`
/// next to the running executable or one directory up. `what` names what
/// it is for and `option` the flag that gives its path, in the error.
pub fn find_built_bin(
    name: &str,
    what: &str,
    option: &str,
    explicit: Option<&Path>,
) -> Result<PathBuf, BenchError> {
    let hint = format!(
        "build it with `cargo build --workspace` (or `cargo test --workspace --no-run`), or pass --{option}"
    );
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(BenchError::StartFailed {
                what: what.into(),
                reason: format!("no {name} binary at {}; {hint}", path.display()),
            })
        };
    }
    let exe = std::env::current_exe().map_err(|e| BenchError::StartFailed {
        what: what.into(),
        reason: format!("cannot locate this executable: {e}"),
    })?;
    let mut dir = exe.parent();
    for _ in 0..2 {
        let Some(d) = dir else { break };
        let candidate = d.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(BenchError::StartFailed {
        what: what.into(),
        reason: format!("{name} not found next to {}; {hint}", exe.display()),
    })
}

/// Certificates for the three nodes, the gateways and the benchmark, in `dir`.
fn make_pki(dir: &Path) -> Result<Bundle, BenchError> {
    let mut identities = Vec::new();
    let mut add = |identity: Result<Identity, ingressoja_pki::IdentityError>| {
        identity.map(|i| identities.push(i))
    };
    let made = (1..=u64::from(NODES))
        .try_for_each(|id| add(Identity::node(CLUSTER, id)))
        .and_then(|()| add(Identity::new(CLUSTER, Role::Gateway, GATEWAY)))
        .and_then(|()| add(Identity::new(CLUSTER, Role::Operator, OPERATOR)))
        .map_err(ingressoja_pki::PkiError::from)
        .and_then(|()| Bundle::ensure(&dir.join("pki"), CLUSTER, &identities));
    made.map_err(|e| BenchError::StartFailed {
        what: "the local cluster's certificates".into(),
        reason: e.to_string(),
    })
}

fn node_config(
    id: u64,
    dir: &Path,
    ports: ClusterPorts,
    hold_ttl_secs: u64,
    pki: Option<&Bundle>,
) -> NodeConfig {
    let port_base = ports.grpc_base;
    let addr = |i: u64| format!("127.0.0.1:{}", u64::from(port_base) + i - 1);
    NodeConfig {
        id,
        bootstrap: id == 1,
        data_dir: dir.join(format!("node{id}")),
        listen: ListenConfig {
            grpc: addr(id)
                .parse()
                .unwrap_or_else(|_| ([127, 0, 0, 1], port_base).into()),
            metrics: ports.metrics_addr(id).and_then(|a| a.parse().ok()),
        },
        peers: (1..=u64::from(NODES))
            .map(|p| PeerConfig {
                id: p,
                addr: addr(p),
            })
            .collect(),
        // The shipped local-3 timers, with elections a little slower so a
        // saturated 2-core machine does not depose a busy leader.
        raft: RaftTimingConfig {
            heartbeat_interval_ms: 100,
            election_timeout_min_ms: 800,
            election_timeout_max_ms: 1_600,
            rpc_timeout_ms: 500,
        },
        snapshot: SnapshotPolicy {
            logs_since_last: 10_000,
            max_logs_kept_after_snapshot: 10_000,
            chunk_size_bytes: 1 << 20,
        },
        sale: SaleConfig { hold_ttl_secs },
        tls: pki.map(|bundle| {
            let (cert_file, key_file) = bundle.files_of(Role::Node, &id.to_string());
            TlsConfig {
                ca_file: bundle.ca_file(),
                cert_file,
                key_file,
            }
        }),
        insecure_dev: pki.is_none(),
    }
}

impl LocalCluster {
    /// Starts the three nodes on `ports` and waits for a leader: over
    /// mutual TLS with certificates made for the run, or with `insecure`
    /// in plaintext (`insecure_dev`, to measure what TLS costs).
    pub async fn start(
        node_bin: &Path,
        ports: ClusterPorts,
        hold_ttl_secs: u64,
        insecure: bool,
    ) -> Result<LocalCluster, BenchError> {
        for i in 0..NODES {
            ensure_free(
                ports.grpc_base + i,
                &format!("IngressoJá node {} (gRPC)", i + 1),
                "grpc-port-base",
            )?;
            if let Some(base) = ports.metrics_base {
                ensure_free(
                    base + i,
                    &format!("IngressoJá node {} (metrics)", i + 1),
                    "metrics-port-base",
                )?;
            }
        }
        let dir = launch_dir("ingressoja-bench-nodes-")?;
        let pki = if insecure {
            None
        } else {
            Some(make_pki(dir.path())?)
        };
        let addrs: Vec<String> = (0..NODES)
            .map(|i| format!("127.0.0.1:{}", ports.grpc_base + i))
            .collect();
        let mut cluster = LocalCluster {
            children: Children::default(),
            dir,
            node_bin: node_bin.to_path_buf(),
            ports,
            hold_ttl_secs,
            pki,
            addrs,
        };
        for id in 1..=u64::from(NODES) {
            cluster.spawn(id)?;
        }
        cluster.wait_for_leader().await?;
        Ok(cluster)
    }

    fn name(id: u64) -> String {
        format!("IngressoJá node {id}")
    }

    fn spawn(&mut self, id: u64) -> Result<(), BenchError> {
        let mut config = node_config(
            id,
            self.dir.path(),
            self.ports,
            self.hold_ttl_secs,
            self.pki.as_ref(),
        );
        // Only the very first start initialises the cluster.
        config.bootstrap &= !config.data_dir.exists();
        self.children.spawn_configured(
            &Self::name(id),
            &self.node_bin,
            &config,
            self.dir.path(),
            &format!("node{id}"),
        )
    }

    /// The run's certificates (`None`: the nodes run `insecure_dev`).
    pub fn pki(&self) -> Option<&Bundle> {
        self.pki.as_ref()
    }

    /// The node ids, 1-based.
    pub fn ids(&self) -> std::ops::RangeInclusive<u64> {
        1..=u64::from(NODES)
    }

    /// The ports the nodes listen on.
    pub fn ports(&self) -> ClusterPorts {
        self.ports
    }

    /// The process id of node `id`, while it runs.
    pub fn pid(&mut self, id: u64) -> Option<u32> {
        self.children.pid(&Self::name(id))
    }

    /// Node `id`'s data directory (its RocksDB).
    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node{id}"))
    }

    /// Kills node `id` with SIGKILL, as a crash would; false if it was not running.
    pub fn kill(&mut self, id: u64) -> bool {
        self.children.kill(&Self::name(id))
    }

    /// Starts node `id` again on its data directory (after [`LocalCluster::kill`]).
    pub fn restart(&mut self, id: u64) -> Result<(), BenchError> {
        self.spawn(id)
    }

    async fn wait_for_leader(&mut self) -> Result<(), BenchError> {
        let options = ClientOptions {
            request_timeout: Duration::from_millis(500),
            overall_deadline: Duration::from_secs(2),
            client_id: None,
            tls: operator_tls(self.pki.as_ref())?,
        };
        let client =
            Client::connect(self.addrs.clone(), options).map_err(|e| BenchError::StartFailed {
                what: "the local IngressoJá cluster".into(),
                reason: e.to_string(),
            })?;
        let client = &client;
        self.children
            .wait_until_ready(
                "the local IngressoJá cluster",
                "no leader",
                self.dir.path(),
                (READY, Duration::from_millis(200)),
                move || async move {
                    client
                        .cluster_progress()
                        .await
                        .into_iter()
                        // Formed: node 1 adds the others as learners first.
                        .any(|r| {
                            r.status.is_ok_and(|s| {
                                s.role == "leader"
                                    && s.members.iter().filter(|m| m.voter).count()
                                        == usize::from(NODES)
                            })
                        })
                },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_valid_and_name_every_peer() {
        let dir = Path::new("/tmp/x");
        let pki = Bundle::at(dir);
        for (id, pki) in [(1, Some(&pki)), (2, None), (3, Some(&pki))] {
            let ports = ClusterPorts {
                grpc_base: 27_101,
                metrics_base: Some(27_201),
            };
            let config = node_config(id, dir, ports, 3, pki);
            config.validate().unwrap();
            assert_eq!(config.insecure_dev, pki.is_none());
            assert_eq!(config.peers.len(), 3);
            assert_eq!(config.listen.grpc.port(), 27_100 + id as u16);
            assert_eq!(
                config.listen.metrics.map(|m| m.port()),
                Some(27_200 + id as u16)
            );
            assert_eq!(config.bootstrap, id == 1);
            let text = toml::to_string(&config).unwrap();
            assert_eq!(NodeConfig::from_toml_str(&text).unwrap(), config);
        }
    }

    #[test]
    fn a_missing_explicit_binary_says_how_to_build_it() {
        let err = find_node_bin(Some(Path::new("/nonexistent/ingressoja-node"))).unwrap_err();
        assert!(err.to_string().contains("cargo build --workspace"), "{err}");
    }
}
