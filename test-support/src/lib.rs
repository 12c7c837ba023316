//! Test helpers shared by every crate's integration tests: a cluster of real
//! nodes (RocksDB, gRPC, Raft) in the test process, on loopback ports, that a
//! test can kill, restart and wipe node by node; and [`fake_node`], fake
//! nodes speaking real gRPC with no Raft, for the client library's and the
//! CLI's tests of redirects, failures and what they send.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ingressoja_client::{Client, ClientOptions};
use ingressoja_cluster_config::{
    ListenConfig, NodeConfig, PeerConfig, RaftTimingConfig, SaleConfig, SnapshotPolicy, TlsConfig,
};
use ingressoja_node::machine::Cpf;
use ingressoja_node::NodeHandle;
use ingressoja_pki::{Bundle, Identity, Role};
use openraft::ServerState;
use tempfile::TempDir;

/// Knobs a test may turn.
#[derive(Clone)]
pub struct ClusterOptions {
    pub nodes: u64,
    pub snapshot: SnapshotPolicy,
    pub hold_ttl_secs: u64,
    /// Extra nodes configured (ids after `nodes`) but neither started nor
    /// members: for membership tests, start one with [`TestCluster::restart`]
    /// and add it with the client.
    pub spares: u64,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: 3,
            snapshot: SnapshotPolicy {
                logs_since_last: 100_000,
                max_logs_kept_after_snapshot: 1_000,
                chunk_size_bytes: 64 * 1024,
            },
            hold_ttl_secs: 300,
            spares: 0,
        }
    }
}

/// The cluster name in the test clusters' certificates.
pub const TEST_CLUSTER: &str = "test";

/// A cluster of in-process nodes, each with its own RocksDB directory,
/// speaking mutual TLS with certificates made for the test.
pub struct TestCluster {
    pub configs: BTreeMap<u64, NodeConfig>,
    /// The certificates: every node's, a gateway's (`web`) and an
    /// operator's (`admin`); [`client`](Self::client) is the operator.
    pub pki: Bundle,
    pub nodes: BTreeMap<u64, NodeHandle>,
    /// Ids of the spare nodes (configured, not initial members).
    pub spares: Vec<u64>,
    _dirs: TempDir,
}

/// A loopback port no other node of this test process was given.
///
/// Ports come from a per-process block below Linux's ephemeral range
/// (32768 and up), never from the OS's `:0` picks: a port picked with `:0`
/// and released could be handed to a gateway or client socket of a test
/// running in parallel before the node binds it, or, worse, to a node of
/// another test's cluster, which would then receive this cluster's Raft
/// messages.
fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = (std::process::id() % 60) * 200;
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(offset < 12_000, "ran out of test ports");
        let port = u16::try_from(20_000 + (start + offset) % 12_000).expect("a port below 32000");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub mod fake_node;
pub mod load;

/// Logs go to the test output when RUST_LOG is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

impl TestCluster {
    /// Starts `options.nodes` nodes; node 1 bootstraps the cluster.
    pub async fn start(options: ClusterOptions) -> TestCluster {
        let mut cluster = TestCluster::configure(options);
        let members: Vec<u64> = cluster
            .configs
            .keys()
            .copied()
            .filter(|id| !cluster.spares.contains(id))
            .collect();
        for id in &members {
            cluster.restart(*id).await;
        }
        cluster.wait_formed(&members, Duration::from_secs(30)).await;
        cluster
    }

    /// Waits until node 1 has formed the cluster: every member a voter
    /// (the others join as learners first, see the node's `formation`).
    async fn wait_formed(&self, members: &[u64], timeout: Duration) {
        let wanted: std::collections::BTreeSet<u64> = members.iter().copied().collect();
        let deadline = Instant::now() + timeout;
        loop {
            let formed = self.nodes.values().any(|n| {
                let m = n.raft.metrics().borrow().clone();
                m.state == ServerState::Leader
                    && m.membership_config
                        .membership()
                        .voter_ids()
                        .collect::<std::collections::BTreeSet<_>>()
                        == wanted
            });
            if formed {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not form within {timeout:?} (voters {wanted:?} wanted)"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Configures the nodes (ports, empty data directories) without starting
    /// any: for tests that prepare the directories first, e.g. from a backup.
    /// Start each with [`TestCluster::restart`].
    pub fn configure(options: ClusterOptions) -> TestCluster {
        init_tracing();
        let dirs = tempfile::tempdir().expect("temp dir");
        let all = options.nodes + options.spares;
        let ports: Vec<u16> = (0..all).map(|_| free_port()).collect();
        let metrics_ports: Vec<u16> = (0..all).map(|_| free_port()).collect();
        let peers: Vec<PeerConfig> = (1..=options.nodes)
            .map(|id| PeerConfig {
                id,
                addr: format!("127.0.0.1:{}", ports[(id - 1) as usize]),
            })
            .collect();
        let mut identities: Vec<Identity> = (1..=all)
            .map(|id| Identity::node(TEST_CLUSTER, id).expect("node identity"))
            .collect();
        identities.push(Identity::new(TEST_CLUSTER, Role::Gateway, "web").expect("gateway"));
        identities.push(Identity::new(TEST_CLUSTER, Role::Operator, "admin").expect("operator"));
        let pki = Bundle::ensure(&dirs.path().join("pki"), TEST_CLUSTER, &identities)
            .expect("test certificates");
        let mut configs = BTreeMap::new();
        for id in 1..=all {
            let identity = Identity::node(TEST_CLUSTER, id).expect("node identity");
            let mut own_peers = peers.clone();
            if id > options.nodes {
                own_peers.push(PeerConfig {
                    id,
                    addr: format!("127.0.0.1:{}", ports[(id - 1) as usize]),
                });
            }
            let config = NodeConfig {
                id,
                bootstrap: id == 1,
                data_dir: dirs.path().join(format!("node{id}")),
                listen: ListenConfig {
                    grpc: format!("127.0.0.1:{}", ports[(id - 1) as usize])
                        .parse()
                        .unwrap(),
                    metrics: Some(
                        format!("127.0.0.1:{}", metrics_ports[(id - 1) as usize])
                            .parse()
                            .unwrap(),
                    ),
                },
                peers: own_peers,
                raft: RaftTimingConfig {
                    heartbeat_interval_ms: 100,
                    election_timeout_min_ms: 600,
                    election_timeout_max_ms: 1_200,
                    rpc_timeout_ms: 500,
                },
                snapshot: options.snapshot.clone(),
                sale: SaleConfig {
                    hold_ttl_secs: options.hold_ttl_secs,
                },
                tls: Some(TlsConfig {
                    ca_file: pki.ca_file(),
                    cert_file: pki.cert_file(&identity),
                    key_file: pki.key_file(&identity),
                }),
                insecure_dev: false,
            };
            config.validate().expect("test config is valid");
            configs.insert(id, config);
        }
        TestCluster {
            configs,
            pki,
            nodes: BTreeMap::new(),
            spares: (options.nodes + 1..=all).collect(),
            _dirs: dirs,
        }
    }

    /// gRPC addresses of every configured node but the spares.
    pub fn addrs(&self) -> Vec<String> {
        self.configs
            .values()
            .filter(|c| !self.spares.contains(&c.id))
            .map(|c| c.advertise_addr().to_string())
            .collect()
    }

    /// What node `id` serves at `GET /metrics` (OpenMetrics text).
    pub async fn scrape_metrics(&self, id: u64) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.configs[&id].listen.metrics.expect("metrics address");
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("metrics port");
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: test\r\n\r\n")
            .await
            .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        assert!(
            response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"),
            "{response}"
        );
        response
    }

    /// The gRPC address of node `id`.
    pub fn addr(&self, id: u64) -> String {
        self.configs[&id].advertise_addr().to_string()
    }

    /// A client that knows every node, with a fixed client id if given,
    /// calling as the cluster's operator (every ticketing and admin call).
    pub fn client(&self, client_id: Option<&str>) -> Client {
        self.client_as(Role::Operator, "admin", client_id)
    }

    /// The `[tls]` section of a gateway config calling this cluster with
    /// the bundle's gateway certificate (`web`).
    pub fn gateway_tls_toml(&self) -> String {
        let (cert, key) = self.pki.files_of(Role::Gateway, "web");
        format!(
            "[tls]\nca_file = {:?}\ncert_file = {:?}\nkey_file = {:?}\n",
            self.pki.ca_file(),
            cert,
            key
        )
    }

    /// Client options calling as the cluster's operator (mutual TLS), for
    /// tests that make a client of their own (say, of one node only).
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            tls: Some(
                self.pki
                    .material_of(Role::Operator, "admin")
                    .expect("test certificate"),
            ),
            ..ClientOptions::default()
        }
    }

    /// A raw gRPC channel to node `id`, over mutual TLS as the operator:
    /// for tests that look at what a node answers, without the client
    /// library's retries.
    pub fn raw_channel(&self, id: u64) -> tonic::transport::Channel {
        let material = self
            .pki
            .material_of(Role::Operator, "admin")
            .expect("test certificate");
        tonic::transport::Endpoint::from_shared(format!("https://{}", self.addr(id)))
            .expect("an address")
            .tls_config(material.client_config())
            .expect("TLS settings")
            .connect_lazy()
    }

    /// A client calling with the certificate of `role` named `name` (one
    /// of the bundle's: any node id, `web` (gateway) or `admin` (operator)).
    pub fn client_as(&self, role: Role, name: &str, client_id: Option<&str>) -> Client {
        let identity = Identity::new(TEST_CLUSTER, role, name).expect("identity");
        let options = ClientOptions {
            client_id: client_id.map(str::to_string),
            overall_deadline: Duration::from_secs(30),
            tls: Some(self.pki.material(&identity).expect("test certificate")),
            ..ClientOptions::default()
        };
        Client::connect(self.addrs(), options).expect("client connects")
    }

    /// Starts (or restarts) node `id` from its data directory.
    pub async fn restart(&mut self, id: u64) {
        assert!(
            !self.nodes.contains_key(&id),
            "node {id} is already running"
        );
        let mut config = self.configs[&id].clone();
        // Only the very first start of node 1 initializes the cluster.
        config.bootstrap = config.bootstrap && !config.data_dir.exists();
        // In one process, the previous instance's storage may be released a
        // moment after its shutdown returns (openraft's workers finish on
        // their own); a real restart is a new process and never sees this.
        let deadline = Instant::now() + Duration::from_secs(10);
        let node = loop {
            match NodeHandle::start(&config).await {
                Ok(node) => break node,
                Err(error) if Instant::now() < deadline => {
                    eprintln!("test-support: node {id} did not start yet ({error}); retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("node {id} starts: {error}"),
            }
        };
        self.nodes.insert(id, node);
    }

    /// Stops node `id`, keeping its data directory.
    pub async fn kill(&mut self, id: u64) {
        let node = self.nodes.remove(&id).expect("node is running");
        node.shutdown().await;
    }

    /// Deletes node `id`'s data directory (the node must be stopped).
    pub fn wipe(&self, id: u64) -> PathBuf {
        assert!(
            !self.nodes.contains_key(&id),
            "stop node {id} before wiping it"
        );
        let dir = self.configs[&id].data_dir.clone();
        // As in `restart`: the stopped instance's last writes (RocksDB's
        // background work, a snapshot build finishing) may land a moment
        // after its shutdown returned, and make one removal pass fail.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("test-support: wiping node {id} again ({e})");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("wipe data dir {}: {e}", dir.display()),
            }
        }
        dir
    }

    /// Waits until the running nodes agree on one leader; returns its id.
    pub async fn wait_for_leader(&self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            for (id, node) in &self.nodes {
                let m = node.raft.metrics().borrow().clone();
                if m.state == ServerState::Leader && m.current_leader == Some(*id) {
                    let agreed = self
                        .nodes
                        .values()
                        .filter(|n| n.raft.metrics().borrow().current_leader == Some(*id))
                        .count();
                    if agreed * 2 > self.configs.len() - self.spares.len() {
                        return *id;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no leader within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every running node has applied at least the leader's last log index.
    pub async fn wait_converged(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let applied: Vec<u64> = self
                .nodes
                .values()
                .map(|n| {
                    n.raft
                        .metrics()
                        .borrow()
                        .last_applied
                        .map(|l| l.index)
                        .unwrap_or(0)
                })
                .collect();
            let last: Vec<u64> = self
                .nodes
                .values()
                .map(|n| n.raft.metrics().borrow().last_log_index.unwrap_or(0))
                .collect();
            let target = last.iter().copied().max().unwrap_or(0);
            if applied.iter().all(|&a| a == target) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nodes did not converge within {timeout:?}: applied {applied:?}, last log {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asserts that every running node holds byte-identical sale state at the same applied index.
    ///
    /// The leader's expiry ticker may commit while we look, so the hashes are
    /// compared only once every node reports the same applied index (read
    /// together with the hash, under the state lock).
    pub async fn assert_same_state(&self) {
        self.wait_converged(Duration::from_secs(20)).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen: BTreeMap<u64, (u64, [u8; 32])> = self
                .nodes
                .iter()
                .map(|(id, n)| {
                    let s = n.state.read().unwrap();
                    let applied = s.last_applied.map(|l| l.index).unwrap_or(0);
                    (*id, (applied, s.state_hash()))
                })
                .collect();
            let first = seen.values().next().copied();
            if seen
                .values()
                .all(|(applied, _)| Some(*applied) == first.map(|f| f.0))
            {
                assert!(
                    seen.values().all(|v| Some(*v) == first),
                    "replicas diverged at applied index {:?}: {:?}",
                    first.map(|f| f.0),
                    seen.iter()
                        .map(|(id, (_, h))| (id, hex::encode(&h[..6])))
                        .collect::<Vec<_>>()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nodes never reached the same applied index: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops every node.
    pub async fn shutdown(mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.kill(id).await;
        }
    }
}

/// Registers `customer` (CPF derived from `n`).
pub async fn register(client: &Client, customer: &str, n: u64) {
    client
        .register(
            customer,
            &format!("{customer}@example.com"),
            Cpf::from_base(n).as_str(),
            customer,
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("register {customer}: {e}"));
}

/// A valid CPF (check digits computed) for test customer number `n`.
pub fn cpf(n: u64) -> String {
    Cpf::from_base(n).as_str().to_string()
}
