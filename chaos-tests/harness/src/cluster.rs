//! The cluster under test: N node containers on a private Docker network,
//! each with a fixed address the harness (on the host) can reach directly.
//!
//! Node `i` runs in container `<prefix>-n<i>` at `<subnet>.<10+i>:7101`, with
//! its config and its fake-clock offset file bind-mounted from the run's
//! directory. Data lives in the container, so `docker kill` + `docker start`
//! is a crash and a restart with the disk intact; with the disk nemeses it
//! lives on an `ingressoja-faultfs` mount instead (see [`crate::disk`]).
//!
//! The nodes speak mutual TLS: the run's certificates (cluster `chaos`) are
//! made in `<run dir>/pki`; each node mounts read-only at `/pki` only its own
//! (`<run dir>/pki-node<i>`: the CA certificate, its certificate and key).
//! The harness calls as the operator `chaos`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ingressoja_client::proto::admin::NodeStatus;
use ingressoja_client::{Client, ClientOptions};
use ingressoja_cluster_config::{
    ListenConfig, NodeConfig, PeerConfig, RaftTimingConfig, SaleConfig, SnapshotPolicy, TlsConfig,
};
use ingressoja_pki::{Bundle, Identity, Role, TlsMaterial};

use super::disk::{faultfs_binary, DiskError, NodeDisk};
use super::docker::{Docker, DockerError};

/// The gRPC port every node listens on inside its container.
pub const GRPC_PORT: u16 = 7101;
/// The cluster name in the run's certificates.
const CLUSTER: &str = "chaos";
/// The harness's operator certificate.
const OPERATOR: &str = "chaos";
/// Where the certificates are mounted in a node container.
const PKI_MOUNT: &str = "/pki";
/// Where libfaketime lives in the node image (see scripts/build-images.sh).
const FAKETIME_LIB: &str = "/usr/lib/faketime/libfaketime.so.1";

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Voters started at once.
    pub nodes: u64,
    /// Extra nodes created stopped, for membership churn (ids after `nodes`).
    pub spares: u64,
    /// The node image.
    pub image: String,
    /// Hold lifetime on the nodes, seconds.
    pub hold_ttl_secs: u64,
    /// Set `INGRESSOJA_TEST_PLANTED_BUG` in every node (checker tests only).
    pub planted_bug: Option<String>,
    /// Preload libfaketime so the clock nemesis can skew each node's wall clock.
    pub fake_clock: bool,
    /// Put every node's `/data` on an `ingressoja-faultfs` disk (the disk
    /// nemeses: power loss, full disk, failing or slow fsync).
    pub faulty_disks: bool,
}

/// Why the cluster could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("writing {path}: {reason}")]
    Files { path: String, reason: String },
    #[error("the run's certificates: {0}")]
    Pki(#[from] ingressoja_pki::PkiError),
    #[error("no leader was elected within {0:?}; see the node logs in the run directory")]
    NoLeader(Duration),
    #[error(transparent)]
    Disk(#[from] DiskError),
}

/// A running cluster of node containers.
pub struct ChaosCluster {
    /// How Docker is driven.
    pub docker: Docker,
    /// The run's name prefix (containers and network).
    pub prefix: String,
    /// The private network's name.
    pub network: String,
    /// Its first three octets; node `i` is `<subnet>.<10+i>`.
    pub subnet: String,
    /// How it was started.
    pub spec: ClusterSpec,
    /// Every configured node (members and spares): id → container name.
    pub containers: BTreeMap<u64, String>,
    /// Every node's faulty disk, when the spec asks for them.
    pub disks: BTreeMap<u64, NodeDisk>,
    dir: PathBuf,
    /// The run's certificates.
    pki: Bundle,
    /// The harness's own (operator) certificate.
    operator: TlsMaterial,
}

impl ChaosCluster {
    /// Creates the network and the containers, starts the first `spec.nodes`.
    pub async fn start(
        docker: Docker,
        prefix: &str,
        dir: &Path,
        spec: ClusterSpec,
    ) -> Result<ChaosCluster, ClusterError> {
        docker.preflight(&spec.image).await?;
        let all = spec.nodes + spec.spares;
        let mut identities = Vec::new();
        for id in 1..=all {
            identities.push(Identity::node(CLUSTER, id).map_err(ingressoja_pki::PkiError::from)?);
        }
        identities.push(
            Identity::new(CLUSTER, Role::Operator, OPERATOR)
                .map_err(ingressoja_pki::PkiError::from)?,
        );
        let pki = Bundle::ensure(&dir.join("pki"), CLUSTER, &identities)?;
        let operator = pki.material_of(Role::Operator, OPERATOR)?;
        let network = format!("{prefix}-net");
        let subnet = create_network(&docker, &network).await?;
        let mut cluster = ChaosCluster {
            docker,
            prefix: prefix.to_string(),
            network,
            subnet,
            spec,
            containers: BTreeMap::new(),
            disks: BTreeMap::new(),
            dir: dir.to_path_buf(),
            pki,
            operator,
        };
        if cluster.spec.faulty_disks {
            let binary = faultfs_binary()?;
            for id in 1..=all {
                let disk = NodeDisk::mount(&binary, dir, id).await?;
                cluster.disks.insert(id, disk);
            }
        }
        for id in 1..=all {
            cluster.create_node(id).await?;
            if id <= cluster.spec.nodes {
                cluster
                    .docker
                    .run(&["start", &cluster.containers[&id]])
                    .await?;
            }
        }
        Ok(cluster)
    }

    /// The gRPC address of node `id`, reachable from the host.
    pub fn addr(&self, id: u64) -> String {
        format!("{}.{}:{GRPC_PORT}", self.subnet, 10 + id)
    }

    /// The IP of node `id` on the private network.
    pub fn ip(&self, id: u64) -> String {
        format!("{}.{}", self.subnet, 10 + id)
    }

    /// The addresses of the initial members.
    pub fn member_addrs(&self) -> Vec<String> {
        (1..=self.spec.nodes).map(|id| self.addr(id)).collect()
    }

    /// Where node `id`'s fake-clock offset is written (see [`super::nemesis`]).
    pub fn clock_file(&self, id: u64) -> PathBuf {
        self.dir.join("clock").join(format!("n{id}")).join("offset")
    }

    /// A client of the cluster; `client_id` keeps processes' keys apart.
    pub fn client(&self, client_id: &str, deadline: Duration) -> Client {
        self.client_from(client_id, deadline, 1)
    }

    /// A client of the cluster that tries node `first` before the others
    /// (an event consumer per node).
    pub fn client_from(&self, client_id: &str, deadline: Duration, first: u64) -> Client {
        let mut members = self.member_addrs();
        let skip = usize::try_from(first.saturating_sub(1)).unwrap_or(0) % members.len().max(1);
        members.rotate_left(skip);
        let options = ClientOptions {
            request_timeout: Duration::from_millis(800).min(deadline),
            overall_deadline: deadline,
            client_id: Some(client_id.to_string()),
            tls: Some(self.operator.clone()),
        };
        let client = Client::connect(members, options).expect("valid node addresses");
        let spares: Vec<String> = (self.spec.nodes + 1..=self.spec.nodes + self.spec.spares)
            .map(|id| self.addr(id))
            .collect();
        if !spares.is_empty() {
            client.learn_nodes(&spares);
        }
        client
    }

    /// Waits until some node reports itself leader.
    pub async fn wait_for_leader(&self, limit: Duration) -> Result<u64, ClusterError> {
        self.wait_for_leader_where(limit, |_| true).await
    }

    /// Waits until the cluster is formed: a leader with every started node
    /// as a voter (node 1 adds the others as learners first, then promotes
    /// them). Returns the leader.
    pub async fn wait_formed(&self, limit: Duration) -> Result<u64, ClusterError> {
        let nodes = self.spec.nodes;
        self.wait_for_leader_where(limit, |status| {
            status.members.iter().filter(|m| m.voter).count() as u64 == nodes
        })
        .await
    }

    /// Waits until a node reports itself leader with a status that `accept`s; returns it.
    async fn wait_for_leader_where(
        &self,
        limit: Duration,
        accept: impl Fn(&NodeStatus) -> bool,
    ) -> Result<u64, ClusterError> {
        let client = self.client("harness-wait", Duration::from_secs(2));
        let until = Instant::now() + limit;
        while Instant::now() < until {
            for report in client.cluster_progress().await {
                if let Ok(status) = report.status {
                    if status.role == "leader" && accept(&status) {
                        return Ok(status.id);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(ClusterError::NoLeader(limit))
    }

    /// Saves every container's log into the run directory.
    pub async fn save_logs(&self) {
        for (id, name) in &self.containers {
            let out = tokio::process::Command::new("docker")
                .args(["logs", "--timestamps", name])
                .output()
                .await;
            if let Ok(out) = out {
                let mut text = out.stdout;
                text.extend_from_slice(&out.stderr);
                let _ = std::fs::write(self.dir.join(format!("node{id}.log")), text);
            }
        }
    }

    async fn create_node(&mut self, id: u64) -> Result<(), ClusterError> {
        let name = self.make_container(id).await?;
        self.containers.insert(id, name);
        Ok(())
    }

    /// Replaces node `id`'s container by a new one on an empty data
    /// directory (a lost disk), same name, address and config, not started.
    pub async fn recreate_node(&self, id: u64) -> Result<(), ClusterError> {
        if let Some(name) = self.containers.get(&id) {
            // With its anonymous volumes (the old /data), or each wipe leaks one.
            self.docker.run(&["rm", "-f", "-v", name]).await?;
        }
        if let Some(disk) = self.disks.get(&id) {
            disk.wipe().map_err(|e| ClusterError::Files {
                path: disk.mount.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        self.make_container(id).await.map(|_| ())
    }

    /// Writes node `id`'s files and creates its container; returns its name.
    async fn make_container(&self, id: u64) -> Result<String, ClusterError> {
        let name = format!("{}-n{id}", self.prefix);
        let config_path = self.dir.join(format!("node{id}.toml"));
        let config = self.node_config(id);
        write_file(&config_path, &toml::to_string(&config).unwrap_or_default())?;
        let clock = self.clock_file(id);
        write_file(&clock, "+0\n")?;
        let ip = self.ip(id);
        let config_mount = format!("{}:/etc/ingressoja/node.toml:ro", config_path.display());
        let own = self.dir.join(format!("pki-node{id}"));
        let identity = Identity::node(CLUSTER, id).map_err(ingressoja_pki::PkiError::from)?;
        self.pki.export(&identity, &own)?;
        let pki_mount = format!("{}:{PKI_MOUNT}:ro", own.display());
        let clock_mount = format!(
            "{}:/faketime",
            clock.parent().unwrap_or(&self.dir).display()
        );
        let mut args = vec![
            "create".to_string(),
            "--name".into(),
            name.clone(),
            "--network".into(),
            self.network.clone(),
            "--ip".into(),
            ip,
            "--hostname".into(),
            format!("n{id}"),
            "-v".into(),
            config_mount,
            "-v".into(),
            clock_mount,
            "-v".into(),
            pki_mount,
            "-e".into(),
            "RUST_LOG=info,openraft=warn".into(),
        ];
        if let Some(disk) = self.disks.get(&id) {
            args.extend(["-v".into(), format!("{}:/data", disk.mount.display())]);
        }
        if let Some(bug) = &self.spec.planted_bug {
            args.extend(["-e".into(), format!("INGRESSOJA_TEST_PLANTED_BUG={bug}")]);
        }
        if self.spec.fake_clock {
            for env in [
                format!("LD_PRELOAD={FAKETIME_LIB}"),
                "FAKETIME_TIMESTAMP_FILE=/faketime/offset".into(),
                "FAKETIME_CACHE_DURATION=1".into(),
                "FAKETIME_DONT_FAKE_MONOTONIC=1".into(),
                "FAKETIME_DONT_RESET=1".into(),
            ] {
                args.extend(["-e".into(), env]);
            }
        }
        args.push(self.spec.image.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.docker.run(&args).await?;
        Ok(name)
    }

    fn node_config(&self, id: u64) -> NodeConfig {
        let members = if id <= self.spec.nodes {
            1..=self.spec.nodes
        } else {
            // A spare knows the members and itself; it joins through add-node.
            1..=id
        };
        let peers = members
            .filter(|&p| p <= self.spec.nodes || p == id)
            .map(|p| PeerConfig {
                id: p,
                addr: self.addr(p),
            })
            .collect();
        NodeConfig {
            id,
            bootstrap: id == 1,
            data_dir: "/data".into(),
            listen: ListenConfig {
                grpc: format!("0.0.0.0:{GRPC_PORT}")
                    .parse()
                    .expect("a socket address"),
                metrics: None,
            },
            peers,
            raft: RaftTimingConfig {
                heartbeat_interval_ms: 100,
                election_timeout_min_ms: 500,
                election_timeout_max_ms: 1_000,
                rpc_timeout_ms: 300,
            },
            snapshot: SnapshotPolicy {
                logs_since_last: 2_000,
                max_logs_kept_after_snapshot: 500,
                chunk_size_bytes: 256 * 1024,
            },
            sale: SaleConfig {
                hold_ttl_secs: self.spec.hold_ttl_secs,
            },
            tls: Some(TlsConfig {
                ca_file: format!("{PKI_MOUNT}/ca.pem").into(),
                cert_file: format!("{PKI_MOUNT}/node-{id}.pem").into(),
                key_file: format!("{PKI_MOUNT}/node-{id}.key").into(),
            }),
            insecure_dev: false,
        }
    }
}

/// Creates `name` on a free private /24 and returns its first three octets.
async fn create_network(docker: &Docker, name: &str) -> Result<String, ClusterError> {
    let start = std::process::id() % 200;
    let mut last = None;
    for attempt in 0..20 {
        let octet = 20 + (start + attempt * 7) % 200;
        let subnet = format!("172.31.{octet}");
        let cidr = format!("{subnet}.0/24");
        match docker
            .run(&[
                "network", "create", "--driver", "bridge", "--subnet", &cidr, name,
            ])
            .await
        {
            Ok(_) => return Ok(subnet),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .map(ClusterError::Docker)
        .unwrap_or(ClusterError::NoLeader(Duration::ZERO)))
}

fn write_file(path: &Path, text: &str) -> Result<(), ClusterError> {
    let fail = |e: std::io::Error| ClusterError::Files {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}
