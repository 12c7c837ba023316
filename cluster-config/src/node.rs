//! The whole configuration of one node, and how to obtain a valid one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::peer::validate_peers;
use crate::tls::validate_transport;
use crate::{
    ConfigError, ListenConfig, PeerConfig, RaftTimingConfig, SaleConfig, SnapshotPolicy, TlsConfig,
};

/// Returned by [`NodeConfig::own_peer`] when the config was never validated
/// and lacks our entry. Id 0 and an empty address can never pass
/// validation, so callers can tell it apart from a real peer.
static NO_OWN_PEER: PeerConfig = PeerConfig {
    id: 0,
    addr: String::new(),
};

/// Everything a node needs to know at start-up, as read from its TOML file.
///
/// Obtain it with [`NodeConfig::load`] or [`NodeConfig::from_toml_str`],
/// which both validate; a value built by hand should go through
/// [`NodeConfig::validate`] before use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's Raft id; > 0 and present in `peers`.
    pub id: u64,
    /// If true and the storage is blank, this node forms the cluster once
    /// every peer answers and none belongs to a cluster yet: itself as the
    /// only voter, then every other peer added as a learner and made a
    /// voter once it holds the log (see the node's `formation`). Exactly
    /// one node should set it; on a blank directory whose peers already
    /// form a cluster it forms nothing and waits to be added back.
    #[serde(default)]
    pub bootstrap: bool,
    /// RocksDB directory. A relative path is kept as written and resolved
    /// against the node's working directory.
    pub data_dir: PathBuf,
    /// Local bind addresses.
    pub listen: ListenConfig,
    /// Initial voters, including this node.
    pub peers: Vec<PeerConfig>,
    /// Raft timers; defaults when the section is absent.
    #[serde(default)]
    pub raft: RaftTimingConfig,
    /// Snapshot policy; defaults when the section is absent.
    #[serde(default)]
    pub snapshot: SnapshotPolicy,
    /// Sale flow parameters; defaults when the section is absent.
    #[serde(default)]
    pub sale: SaleConfig,
    /// This node's certificate, key and the cluster's CA: every peer, gateway
    /// and operator talks to it over mutual TLS. Required unless `insecure_dev`.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Serve plaintext gRPC and let any caller do anything: for a trusted dev
    /// machine only; the node logs a warning. Exclusive with `tls`.
    #[serde(default)]
    pub insecure_dev: bool,
}

impl NodeConfig {
    /// Parses and validates the TOML text of a node config.
    pub fn from_toml_str(text: &str) -> Result<NodeConfig, ConfigError> {
        let config: NodeConfig = crate::parse::decode(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates the config file at `path`. A relative
    /// `data_dir` is returned as written, not resolved against the file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = crate::parse::read(path)?;
        NodeConfig::from_toml_str(&text)
    }

    /// Loads like [`load`](Self::load), running without TLS as if the file
    /// said `insecure_dev = true` (the binaries' `--insecure-dev`). A file
    /// with a `[tls]` section is refused: the two contradict each other.
    pub fn load_insecure_dev(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = crate::parse::read(path)?;
        let mut config: NodeConfig = crate::parse::decode(&text)?;
        config.insecure_dev = true;
        config.validate()?;
        Ok(config)
    }

    /// Checks every rule of the configuration and reports the first broken
    /// one, naming the field at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == 0 {
            return Err(ConfigError::invalid("id", "must be > 0"));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        self.listen.validate()?;
        validate_peers(&self.peers)?;
        if !self.peers.iter().any(|p| p.id == self.id) {
            return Err(ConfigError::invalid(
                "peers",
                format!("no entry for this node's id {}", self.id),
            ));
        }
        self.raft.validate()?;
        self.snapshot.validate()?;
        self.sale.validate()?;
        validate_transport(self.tls.as_ref(), self.insecure_dev)?;
        Ok(())
    }

    /// The `peers` entry describing this node.
    ///
    /// Always present once [`validate`](Self::validate) succeeded. On an
    /// unvalidated config lacking it, returns a placeholder with id 0 and an
    /// empty address instead of panicking.
    pub fn own_peer(&self) -> &PeerConfig {
        self.peers
            .iter()
            .find(|p| p.id == self.id)
            .unwrap_or(&NO_OWN_PEER)
    }

    /// The gRPC address other nodes and clients should dial to reach this
    /// node (`own_peer().addr`), as opposed to the local bind address.
    pub fn advertise_addr(&self) -> &str {
        &self.own_peer().addr
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::NodeConfig;
    use crate::test_support::{error_of, full_with, FULL, MINIMAL};
    use crate::{ConfigError, PeerConfig, RaftTimingConfig, SaleConfig, SnapshotPolicy};

    #[test]
    fn minimal_file_gets_defaults() {
        let cfg = NodeConfig::from_toml_str(MINIMAL).unwrap();
        assert_eq!(cfg.id, 1);
        assert!(!cfg.bootstrap);
        assert_eq!(cfg.data_dir, PathBuf::from("/var/lib/ingressoja"));
        assert_eq!(cfg.listen.grpc, "127.0.0.1:7101".parse().unwrap());
        assert_eq!(cfg.listen.metrics, None);
        assert_eq!(
            cfg.peers,
            vec![PeerConfig {
                id: 1,
                addr: "127.0.0.1:7101".into()
            }]
        );
        assert_eq!(cfg.raft, RaftTimingConfig::default());
        assert_eq!(cfg.raft.heartbeat_interval_ms, 100);
        assert_eq!(cfg.raft.election_timeout_min_ms, 400);
        assert_eq!(cfg.raft.election_timeout_max_ms, 800);
        assert_eq!(cfg.raft.rpc_timeout_ms, 300);
        assert_eq!(cfg.snapshot, SnapshotPolicy::default());
        assert_eq!(cfg.snapshot.logs_since_last, 10_000);
        assert_eq!(cfg.snapshot.max_logs_kept_after_snapshot, 10_000);
        assert_eq!(cfg.snapshot.chunk_size_bytes, 1024 * 1024);
        assert_eq!(cfg.sale, SaleConfig::default());
        assert_eq!(cfg.sale.hold_ttl_secs, 300);
    }

    #[test]
    fn full_file_parses_and_finds_own_peer() {
        let cfg = NodeConfig::from_toml_str(FULL).unwrap();
        assert!(cfg.bootstrap);
        assert_eq!(cfg.own_peer().id, 2);
        assert_eq!(cfg.advertise_addr(), "node2:7102");
        assert_eq!(cfg.peers.len(), 3);
    }

    #[test]
    fn id_must_be_positive() {
        assert_eq!(
            error_of(&full_with("id = 2\nbootstrap", "id = 0\nbootstrap")),
            "id: must be > 0"
        );
    }

    #[test]
    fn data_dir_must_not_be_empty() {
        let text = full_with(r#"data_dir = ".data/node2""#, r#"data_dir = """#);
        assert_eq!(error_of(&text), "data_dir: must not be empty");
    }

    #[test]
    fn peers_must_contain_own_id() {
        let text = full_with("id = 2\nbootstrap", "id = 4\nbootstrap");
        assert_eq!(error_of(&text), "peers: no entry for this node's id 4");
    }

    #[test]
    fn own_peer_on_unvalidated_config_does_not_panic() {
        let mut cfg = NodeConfig::from_toml_str(FULL).unwrap();
        cfg.id = 9;
        assert!(cfg.validate().is_err());
        assert_eq!(cfg.own_peer().id, 0);
        assert_eq!(cfg.advertise_addr(), "");
    }

    #[test]
    fn serializes_back_to_an_equal_config() {
        for text in [MINIMAL, FULL] {
            let cfg = NodeConfig::from_toml_str(text).unwrap();
            let again = toml::to_string(&cfg).unwrap();
            assert_eq!(NodeConfig::from_toml_str(&again).unwrap(), cfg, "{again}");
        }
    }

    #[test]
    fn load_reads_and_validates_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, FULL).unwrap();
        let cfg = NodeConfig::load(&path).unwrap();
        assert_eq!(
            cfg.data_dir,
            Path::new(".data/node2"),
            "relative data_dir kept as written"
        );

        std::fs::write(&path, full_with("id = 2\nbootstrap", "id = 0\nbootstrap")).unwrap();
        assert_eq!(
            NodeConfig::load(&path).unwrap_err().to_string(),
            "id: must be > 0"
        );
    }

    #[test]
    fn load_of_missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.toml");
        let err = NodeConfig::load(&path).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Io { path: p, .. } if *p == path),
            "{err:?}"
        );
        let shown = err.to_string();
        let prefix = format!("cannot read config file {}: ", path.display());
        assert!(shown.starts_with(&prefix), "{shown}");
    }

    #[test]
    fn load_of_non_utf8_file_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("binary.toml");
        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            NodeConfig::load(&path),
            Err(ConfigError::Io { .. })
        ));
    }
}
