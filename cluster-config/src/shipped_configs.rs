//! Every config file shipped in `configs/` must load and validate, and each
//! cluster layout must be internally consistent. A layout holds node files
//! (`node*.toml`) and optionally gateway files (`gateway*.toml`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::{GatewayConfig, NodeConfig};

fn configs_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// All `*.toml` files of one layout directory, sorted by name.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap()
}

/// The node config files of one layout directory, sorted by name.
fn layout_files(dir: &Path) -> Vec<PathBuf> {
    toml_files(dir)
        .into_iter()
        .filter(|p| file_name(p).starts_with("node"))
        .collect()
}

/// The gateway config files of one layout directory, sorted by name.
fn gateway_files(dir: &Path) -> Vec<PathBuf> {
    toml_files(dir)
        .into_iter()
        .filter(|p| file_name(p).starts_with("gateway"))
        .collect()
}

/// Loads a shipped gateway file as its gateway would, the session key file
/// it names (made by `ingressoja pki init` where the cluster runs) stood in
/// for by a test key.
fn load_gateway(path: &Path) -> Result<GatewayConfig, crate::ConfigError> {
    let key = std::env::temp_dir().join(format!("ingressoja-shipped-{}.key", std::process::id()));
    if !key.exists() {
        std::fs::write(&key, crate::test_support::GATEWAY_KEY_HEX).unwrap();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let text: String = text
        .lines()
        .map(|line| {
            if line.starts_with("key_file = ")
                && (line.ends_with("/session.key\"") || line.ends_with("/ticket.key\""))
            {
                format!("key_file = {:?}\n", key.display().to_string())
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    GatewayConfig::from_toml_str(&text)
}

fn layouts() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(configs_root())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_shipped_file_loads_and_validates() {
    let (mut nodes, mut gateways) = (0, 0);
    for dir in layouts() {
        for file in toml_files(&dir) {
            let name = file_name(&file);
            let loaded = if name.starts_with("node") {
                nodes += 1;
                NodeConfig::load(&file).map(drop)
            } else if name.starts_with("gateway") {
                gateways += 1;
                load_gateway(&file).map(drop)
            } else {
                panic!("{}: neither node*.toml nor gateway*.toml", file.display());
            };
            if let Err(e) = loaded {
                panic!("{}: {e}", file.display());
            }
        }
    }
    assert_eq!(nodes, 3 + 5 + 3, "local-3, local-5, compose");
    assert_eq!(gateways, 2 + 2, "local-3, compose");
}

#[test]
fn gateways_reach_their_layout_and_share_a_session_key() {
    for dir in layouts() {
        let gateways: Vec<GatewayConfig> = gateway_files(&dir)
            .iter()
            .map(|f| load_gateway(f).unwrap())
            .collect();
        let where_ = dir.display();
        let node_addrs: BTreeSet<String> = layout_files(&dir)
            .iter()
            .map(|f| NodeConfig::load(f).unwrap().advertise_addr().to_string())
            .collect();
        // In containers (wildcard binds) each gateway has its own host and
        // its published port is the compose file's business.
        let containerized = gateways.iter().any(|g| g.listen.ip().is_unspecified());
        let binds: BTreeSet<_> = gateways.iter().map(|g| g.listen).collect();
        if !containerized {
            assert_eq!(
                binds.len(),
                gateways.len(),
                "{where_}: gateways share a port"
            );
        }
        for g in &gateways {
            let nodes: BTreeSet<String> = g.nodes.iter().cloned().collect();
            assert_eq!(nodes, node_addrs, "{where_}: gateway nodes != layout nodes");
            assert_eq!(g.session, gateways[0].session, "{where_}: session differs");
            assert!(
                containerized || g.public_url.ends_with(&format!(":{}", g.listen.port())),
                "{where_}: public_url {} does not match listen {}",
                g.public_url,
                g.listen
            );
        }
    }
}

#[test]
fn local_3_gateways_match_the_documented_ports() {
    let dir = configs_root().join("local-3");
    for n in 1..=2u16 {
        let cfg = load_gateway(&dir.join(format!("gateway{n}.toml"))).unwrap();
        let port = 8079 + n;
        assert_eq!(cfg.listen.to_string(), format!("127.0.0.1:{port}"));
        assert_eq!(cfg.public_url, format!("http://localhost:{port}"));
        assert_eq!(
            cfg.nodes,
            ["127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"]
        );
        assert_eq!(cfg.session.key.len(), 32);
        assert!(cfg.session.cookie_secure);
        assert_eq!(cfg.anti_bot.pow_difficulty_bits, 14);
        assert!(cfg.webhooks.is_empty());
    }
}

#[test]
fn each_layout_is_one_consistent_cluster() {
    for dir in layouts() {
        let configs: Vec<NodeConfig> = layout_files(&dir)
            .iter()
            .map(|f| NodeConfig::load(f).unwrap())
            .collect();
        let where_ = dir.display();
        let ids: BTreeSet<u64> = configs.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), configs.len(), "{where_}: node ids repeat");
        for c in &configs {
            assert_eq!(c.peers, configs[0].peers, "{where_}: peer lists differ");
            assert_eq!(c.sale, configs[0].sale, "{where_}: sale settings differ");
            let peer_ids: BTreeSet<u64> = c.peers.iter().map(|p| p.id).collect();
            assert_eq!(peer_ids, ids, "{where_}: peers != set of nodes");
            if c.listen.grpc.ip().is_unspecified() {
                // One node per container: advertised by name, bound on all interfaces.
                assert!(
                    c.advertise_addr()
                        .ends_with(&format!(":{}", c.listen.grpc.port())),
                    "{where_}: node {} advertises another port than it binds",
                    c.id
                );
            } else {
                assert_eq!(c.advertise_addr(), c.listen.grpc.to_string());
            }
        }
        let containerized = configs.iter().any(|c| c.listen.grpc.ip().is_unspecified());
        let bootstrappers = configs.iter().filter(|c| c.bootstrap).count();
        assert_eq!(bootstrappers, 1, "{where_}: exactly one node bootstraps");
        let dirs: BTreeSet<_> = configs.iter().map(|c| c.data_dir.clone()).collect();
        if !containerized {
            assert_eq!(dirs.len(), configs.len(), "{where_}: data dirs shared");
        }
    }
}

#[test]
fn local_3_matches_the_documented_ports() {
    let dir = configs_root().join("local-3");
    for n in 1..=3u64 {
        let cfg = NodeConfig::load(&dir.join(format!("node{n}.toml"))).unwrap();
        assert_eq!(cfg.id, n);
        assert_eq!(cfg.bootstrap, n == 1);
        assert_eq!(cfg.data_dir, PathBuf::from(format!(".data/node{n}")));
        assert_eq!(
            cfg.listen.grpc.to_string(),
            format!("127.0.0.1:{}", 7100 + n)
        );
        assert_eq!(
            cfg.listen.metrics.map(|m| m.to_string()),
            Some(format!("127.0.0.1:{}", 9100 + n))
        );
        assert_eq!(cfg.sale.hold_ttl_secs, 300);
    }
}

#[test]
fn local_3_spares_can_join_it() {
    let layout = configs_root().join("local-3");
    let members: Vec<NodeConfig> = layout_files(&layout)
        .iter()
        .map(|f| NodeConfig::load(f).unwrap())
        .collect();
    let spares = layout_files(&layout.join("spare"));
    assert_eq!(spares.len(), 2, "node4 and node5");
    for file in spares {
        let spare = NodeConfig::load(&file).unwrap();
        assert!(
            !spare.bootstrap,
            "{}: a joining node never bootstraps",
            file.display()
        );
        for member in &members {
            assert_ne!(spare.id, member.id, "{}: id in use", file.display());
            assert_ne!(
                spare.listen.grpc,
                member.listen.grpc,
                "{}: port in use",
                file.display()
            );
            assert_ne!(
                spare.data_dir,
                member.data_dir,
                "{}: data dir in use",
                file.display()
            );
            assert_eq!(
                spare.raft,
                member.raft,
                "{}: same Raft timers",
                file.display()
            );
            assert_eq!(spare.sale, member.sale, "{}: same hold TTL", file.display());
        }
    }
}

#[test]
fn no_shipped_file_holds_a_secret() {
    // Keys, secrets and certificates are read from files or the environment
    // named in the configs; a shipped config that carried one would be a
    // working secret for anyone with the repository.
    for dir in layouts() {
        let mut files = toml_files(&dir);
        if dir.join("spare").is_dir() {
            files.extend(toml_files(&dir.join("spare")));
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.starts_with('#') {
                    continue;
                }
                let key = line.split('=').next().unwrap_or("").trim();
                assert!(
                    !matches!(key, "key_hex" | "secret") && !line.contains("PRIVATE KEY"),
                    "{}:{}: a secret written in the file: {key}",
                    file.display(),
                    n + 1
                );
            }
            if file_name(&file).starts_with("gateway") {
                assert!(
                    text.contains("\nkey_file = "),
                    "{}: no session key_file",
                    file.display()
                );
            }
            assert!(
                text.contains("\n[tls]\n"),
                "{}: no [tls] section",
                file.display()
            );
        }
    }
}
