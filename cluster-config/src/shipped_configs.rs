//! Every config file shipped in `configs/` must load and validate, and each
//! cluster layout must be internally consistent.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::NodeConfig;

fn configs_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// All `*.toml` files of one layout directory, sorted by name.
fn layout_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
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
    let mut count = 0;
    for dir in layouts() {
        for file in layout_files(&dir) {
            if let Err(e) = NodeConfig::load(&file) {
                panic!("{}: {e}", file.display());
            }
            count += 1;
        }
    }
    assert_eq!(count, 3 + 5);
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
            assert_eq!(c.advertise_addr(), c.listen.grpc.to_string());
        }
        let bootstrappers = configs.iter().filter(|c| c.bootstrap).count();
        assert_eq!(bootstrappers, 1, "{where_}: exactly one node bootstraps");
        let dirs: BTreeSet<_> = configs.iter().map(|c| c.data_dir.clone()).collect();
        assert_eq!(dirs.len(), configs.len(), "{where_}: data dirs shared");
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
