//! `ingressoja backup` and `ingressoja restore`: a copy of the whole sale
//! state taken during the sale, and new nodes seeded from it.
//!
//! `backup` asks the leader (after a read barrier) for its state, checks it
//! against the header the leader sent (length, state hash, audit head) and
//! writes the backup file under a temporary name, synced, then renames it: a
//! crash leaves either no file or a whole one.
//!
//! `restore` is offline: it reads and checks the whole file first, then
//! checks that every target data directory is empty, and only then seeds them
//! one by one (see `ingressoja_node::restore`).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ingressoja_client::Client;
use ingressoja_cluster_config::NodeConfig;
use ingressoja_node::backup::{Backup, BackupHeader};
use ingressoja_node::restore;
use serde_json::{json, Value};

use crate::commands::Output;
use crate::failure::Failure;

/// `ingressoja backup --out FILE`.
pub async fn backup(
    client: &Client,
    out: Output,
    path: PathBuf,
    overwrite: bool,
) -> Result<ExitCode, Failure> {
    if path.exists() && !overwrite {
        return Err(Failure::Refused(format!(
            "{} already exists; pass --force to replace it",
            path.display()
        )));
    }
    let copy = client.backup().await?;
    let backup = Backup::from_parts(BackupHeader::from(copy.header), copy.data)?;
    let bytes = backup.to_bytes();
    write_atomically(&path, &bytes).map_err(|source| Failure::File {
        path: path.clone(),
        source,
    })?;
    out.emit(
        || {
            let mut v = summary(&backup);
            v["file"] = json!(path.display().to_string());
            v["bytes"] = json!(bytes.len());
            v
        },
        || {
            format!(
                "backup written to {} ({} bytes)\n{}",
                path.display(),
                bytes.len(),
                describe(&backup)
            )
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `ingressoja restore FILE --config node.toml ...`.
pub fn restore(out: Output, file: PathBuf, configs: Vec<PathBuf>) -> Result<ExitCode, Failure> {
    let bytes = std::fs::read(&file).map_err(|source| Failure::Read {
        path: file.clone(),
        source,
    })?;
    let backup = Backup::from_bytes(&bytes).map_err(|e| Failure::BadBackup {
        path: file.clone(),
        source: e,
    })?;
    let configs = configs
        .iter()
        .map(|path| {
            NodeConfig::load(path).map_err(|e| Failure::Refused(format!("{}: {e}", path.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Every directory is checked before any is written: a restore of several
    // nodes either seeds them all or refuses before touching one.
    for config in &configs {
        let dir = &config.data_dir;
        let empty = match std::fs::read_dir(dir) {
            Ok(mut entries) => entries.next().is_none(),
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        };
        if !empty {
            return Err(restore::RestoreError::DataDirNotEmpty {
                path: dir.display().to_string(),
            }
            .into());
        }
    }
    let mut seeded = Vec::new();
    for config in &configs {
        seeded.push(restore::seed(config, &backup)?);
    }
    out.emit(
        || {
            let mut v = summary(&backup);
            v["file"] = json!(file.display().to_string());
            v["seeded"] = seeded
                .iter()
                .map(|s| {
                    json!({
                        "node_id": s.node_id,
                        "data_dir": s.data_dir.display().to_string(),
                        "voters": s.voters,
                    })
                })
                .collect::<Value>();
            v
        },
        || {
            let mut text = format!("restored from {}\n{}", file.display(), describe(&backup));
            for s in &seeded {
                let voters: Vec<String> = s.voters.iter().map(u64::to_string).collect();
                text.push_str(&format!(
                    "seeded node {} in {} (voters {})\n",
                    s.node_id,
                    s.data_dir.display(),
                    voters.join(", ")
                ));
            }
            text.push_str("start the nodes: they elect a leader and serve the backup's state\n");
            text
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

fn summary(backup: &Backup) -> Value {
    let h = &backup.header;
    json!({
        "log_index": h.log_index,
        "log_term": h.log_term,
        "node_id": h.node_id,
        "state_hash": h.state_hash,
        "audit_head": h.audit_head,
        "audit_len": h.audit_len,
        "created_ms": h.created_ms,
        "tickets_sold": backup.machine.tickets().count(),
    })
}

fn describe(backup: &Backup) -> String {
    let h = &backup.header;
    format!(
        "log index {} (term {}, taken on node {})\nstate hash {}\naudit head {} ({} records)\ntickets sold {}\n",
        h.log_index,
        h.log_term,
        h.node_id,
        h.state_hash,
        h.audit_head,
        h.audit_len,
        backup.machine.tickets().count()
    )
}

/// Writes `bytes` to `path.partial`, syncs it, renames it to `path` and syncs the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = (|| {
        let mut file = File::create(&partial)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&partial, path)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}
