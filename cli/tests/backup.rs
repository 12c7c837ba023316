//! `ingressoja backup` taken while buyers keep buying, and `ingressoja
//! restore` into a fresh 3-node cluster: the restored cluster serves exactly
//! the state recorded in the backup (same state hash, same audit chain head)
//! and keeps selling. Damaged files and non-empty directories are refused
//! before anything is written.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use ingressoja_client::proto::ticketing::CategorySpec;
use ingressoja_test_support::load::{assert_stored, PurchaseLoad};
use ingressoja_test_support::{ClusterOptions, TestCluster};
use serde_json::Value;

const ELECTION: Duration = Duration::from_secs(15);

async fn cli(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_ingressoja"))
        .args(args)
        .output()
        .await
        .expect("the CLI runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `restore` for every node config in `configs`; returns its output.
async fn restore(file: &Path, configs: &[PathBuf]) -> Output {
    let mut args = vec!["restore".to_string(), file.display().to_string()];
    for c in configs {
        args.push("--config".into());
        args.push(c.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli(&args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_under_load_restores_into_a_fresh_cluster() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("sale.ijb");

    // The original cluster, selling.
    let original = TestCluster::start(ClusterOptions::default()).await;
    original.wait_for_leader(ELECTION).await;
    let ops = original.client(Some("ops"));
    ops.create_event(
        "rock",
        "Rock Festival",
        vec![CategorySpec {
            category_id: "pista".into(),
            name: "Pista".into(),
            capacity: 100_000,
            price_cents: 45_000,
            per_customer_limit: 100_000,
        }],
    )
    .await
    .expect("event created");
    let load = PurchaseLoad::start(&original.client(Some("load")), 4);
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let before_backup = load.acknowledged();
    let nodes = original.addrs().join(",");
    let pki = original.pki.dir().to_str().unwrap().to_string();
    let out = cli(&[
        "--nodes",
        &nodes,
        "--pki-dir",
        &pki,
        "--json",
        "backup",
        "--out",
        file.to_str().unwrap(),
    ])
    .await;
    assert!(out.status.success(), "backup failed: {}", stderr(&out));
    let taken: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sold = load.stop().await;
    assert!(
        !before_backup.is_empty() && sold.len() > before_backup.len(),
        "the sale went on before ({}) and after ({}) the backup",
        before_backup.len(),
        sold.len()
    );
    // Overwriting a backup needs --force.
    let again = cli(&[
        "--nodes",
        &nodes,
        "--pki-dir",
        &pki,
        "backup",
        "--out",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    original.shutdown().await;

    // A fresh cluster, configured but not started; its configs as files.
    let mut restored = TestCluster::configure(ClusterOptions::default());
    let configs: Vec<PathBuf> = restored
        .configs
        .iter()
        .map(|(id, config)| {
            let path = work.path().join(format!("node{id}.toml"));
            std::fs::write(&path, toml::to_string(config).unwrap()).unwrap();
            path
        })
        .collect();
    let dirs: Vec<PathBuf> = restored
        .configs
        .values()
        .map(|c| c.data_dir.clone())
        .collect();
    let bytes = std::fs::read(&file).unwrap();

    // Refusals: nothing is written anywhere.
    let truncated = work.path().join("truncated.ijb");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = restore(&truncated, &configs).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("truncated"), "{}", stderr(&out));

    let corrupt = work.path().join("corrupt.ijb");
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    std::fs::write(&corrupt, &flipped).unwrap();
    let out = restore(&corrupt, &configs).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));

    let future = work.path().join("future.ijb");
    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(&future, &newer).unwrap();
    let out = restore(&future, &configs).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not supported"), "{}", stderr(&out));
    assert!(
        dirs.iter().all(|d| !d.exists()),
        "a refused restore wrote nothing"
    );

    std::fs::create_dir_all(&dirs[2]).unwrap();
    std::fs::write(dirs[2].join("LOCK"), b"someone's data").unwrap();
    let out = restore(&file, &configs).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    assert!(!dirs[0].exists() && !dirs[1].exists(), "no node was seeded");
    std::fs::remove_file(dirs[2].join("LOCK")).unwrap();

    // The real restore, then the nodes start from it.
    let out = restore(&file, &configs).await;
    assert!(out.status.success(), "restore failed: {}", stderr(&out));
    for id in 1..=3 {
        restored.restart(id).await;
    }
    restored.wait_for_leader(ELECTION).await;
    let log_index = taken["log_index"].as_u64().unwrap();
    for id in 1..=3 {
        let status = restored
            .client(None)
            .node_status(&restored.addr(id))
            .await
            .expect("status");
        assert_eq!(
            status.state_hash,
            taken["state_hash"].as_str().unwrap(),
            "node {id}"
        );
        assert_eq!(
            status.audit_head,
            taken["audit_head"].as_str().unwrap(),
            "node {id}"
        );
        assert_eq!(
            status.audit_len,
            taken["audit_len"].as_u64().unwrap(),
            "node {id}"
        );
        assert!(status.applied_index >= log_index, "node {id}: {status:?}");
        // A progress poll leaves the hash out (it stalls a big node), and
        // says the rest the same.
        let progress = restored
            .client(None)
            .node_progress(&restored.addr(id))
            .await
            .expect("progress");
        assert_eq!(progress.state_hash, "", "node {id}");
        assert_eq!(progress.audit_len, status.audit_len, "node {id}");
    }
    // Everything acknowledged before the backup began is there.
    let reader = restored.client(Some("reader"));
    let stored = assert_stored(&reader, 4, &before_backup).await;
    assert_eq!(
        stored.len() as u64,
        taken["tickets_sold"].as_u64().unwrap(),
        "the restored cluster holds exactly the backup's tickets"
    );
    // And the restored cluster sells.
    let buyer = PurchaseLoad::customer(0);
    let hold = reader
        .place_hold("rock", "pista", &buyer, 1)
        .await
        .expect("hold on the restored cluster");
    reader
        .purchase(hold.hold.unwrap().hold_id, &buyer)
        .await
        .expect("purchase on the restored cluster");
    restored.wait_converged(ELECTION).await;
    restored.assert_same_state().await;
    restored.shutdown().await;
}
