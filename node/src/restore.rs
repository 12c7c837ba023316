//! Seeding a new node's data directory from a [`Backup`].
//!
//! Each node of the new cluster gets the backup's state as its only snapshot,
//! at the backup's log id, with the new cluster's voters (the node's
//! configured peers) as the membership. The log starts empty right after
//! that snapshot, and the vote at the backup's term, so the first election of
//! the new cluster is for a later term and every entry it writes follows the
//! restored state. Started on these directories, the nodes elect a leader and
//! serve exactly the backup's state: same state hash, same audit chain head.
//! The snapshot is written sealed in the envelope every stored snapshot
//! carries ([`crate::storage::snapshot_file`]).
//!
//! The directory is built beside the target under a temporary name and
//! renamed into place only when complete, so a failure leaves nothing that a
//! node could start from half-restored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ingressoja_cluster_config::NodeConfig;
use openraft::{BasicNode, CommittedLeaderId, Membership, SnapshotMeta, Vote};

use crate::backup::Backup;
use crate::member::{restored_cluster_id, MemberMarker};
use crate::raft_types::{LogId, NodeId, StoredMembership};
use crate::storage::{self, StoredSnapshot};

/// Why a data directory was not seeded. Nothing is left behind in any case.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("data directory {path} is not empty: restore only seeds a new node; stop the node and move the directory away first")]
    DataDirNotEmpty { path: String },
    #[error("cannot use data directory {path}: {reason}")]
    DataDir { path: String, reason: String },
    #[error("node {id} is not among its configured peers ({peers}): the peers are the restored cluster's voters and must include it")]
    NotAPeer { id: NodeId, peers: String },
    #[error("cannot seed {path}: {reason}")]
    Seed { path: String, reason: String },
}

/// What was restored where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub node_id: NodeId,
    /// The new cluster's id (see [`crate::member`]).
    pub cluster_id: String,
    pub data_dir: PathBuf,
    pub log_index: u64,
    pub voters: BTreeSet<NodeId>,
}

/// Seeds `config.data_dir` (absent or empty) from `backup` for node `config.id`.
pub fn seed(config: &NodeConfig, backup: &Backup) -> Result<Restored, RestoreError> {
    let target = &config.data_dir;
    let display = target.display().to_string();
    ensure_empty(target)?;
    let nodes: BTreeMap<NodeId, BasicNode> = config
        .peers
        .iter()
        .map(|p| {
            (
                p.id,
                BasicNode {
                    addr: p.addr.clone(),
                },
            )
        })
        .collect();
    let voters: BTreeSet<NodeId> = nodes.keys().copied().collect();
    if !voters.contains(&config.id) {
        return Err(RestoreError::NotAPeer {
            id: config.id,
            peers: voters
                .iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let h = &backup.header;
    let log_id = LogId::new(
        CommittedLeaderId::new(h.log_term, h.log_leader),
        h.log_index,
    );
    let membership = Membership::new(vec![voters.clone()], nodes);
    let snapshot = StoredSnapshot {
        meta: SnapshotMeta {
            last_log_id: Some(log_id),
            last_membership: StoredMembership::new(Some(log_id), membership),
            snapshot_id: format!("restored-{}-{}-{}", h.log_term, h.log_leader, h.log_index),
        },
        data: backup.data.clone(),
    };
    let vote = Vote::new(h.log_term, config.id);
    // A new cluster: its nodes refuse the old cluster's messages (and the
    // old cluster theirs), and every host restoring this file agrees on it.
    let marker = MemberMarker {
        cluster_id: restored_cluster_id(&h.state_hash, h.log_index),
        node_id: config.id,
    };

    let staging = staging_dir(target);
    let seeded = storage::seed(&staging, &snapshot, &vote, &marker)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            if target.exists() {
                std::fs::remove_dir(target).map_err(|e| e.to_string())?;
            }
            std::fs::rename(&staging, target).map_err(|e| e.to_string())
        });
    if let Err(reason) = seeded {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(RestoreError::Seed {
            path: display,
            reason,
        });
    }
    Ok(Restored {
        node_id: config.id,
        cluster_id: marker.cluster_id,
        data_dir: target.clone(),
        log_index: h.log_index,
        voters,
    })
}

fn ensure_empty(dir: &Path) -> Result<(), RestoreError> {
    let path = dir.display().to_string();
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(RestoreError::DataDirNotEmpty { path }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RestoreError::DataDir {
            path,
            reason: e.to_string(),
        }),
    }
}

/// A sibling of `target` that no other restore of it uses at the same time.
fn staging_dir(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    target.with_file_name(format!(".{name}.restoring-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{BackupHeader, MACHINE_FORMAT};
    use crate::machine::testing::{hold_ok, machine_with_event, Sale};
    use ingressoja_cluster_config::{
        ListenConfig, PeerConfig, RaftTimingConfig, SaleConfig, SnapshotPolicy,
    };

    fn backup_of(sale: &Sale) -> Backup {
        let data = crate::machine::encode_snapshot(&sale.machine, &sale.journal);
        let header = BackupHeader {
            node_id: 1,
            log_index: 30,
            log_term: 4,
            log_leader: 2,
            state_hash: hex::encode(crate::machine::drained_state_hash(
                &sale.machine,
                &sale.journal,
            )),
            audit_head: hex::encode(sale.journal.audit().head()),
            audit_len: sale.journal.audit().len(),
            data_len: data.len() as u64,
            machine_format: MACHINE_FORMAT,
            created_ms: 0,
        };
        Backup::from_parts(header, data).unwrap()
    }

    fn config(id: NodeId, dir: PathBuf, peers: &[NodeId]) -> NodeConfig {
        NodeConfig {
            id,
            bootstrap: false,
            data_dir: dir,
            listen: ListenConfig {
                grpc: "127.0.0.1:7001".parse().unwrap(),
                metrics: None,
            },
            peers: peers
                .iter()
                .map(|&p| PeerConfig {
                    id: p,
                    addr: format!("127.0.0.1:{}", 7000 + p),
                })
                .collect(),
            raft: RaftTimingConfig {
                heartbeat_interval_ms: 100,
                election_timeout_min_ms: 600,
                election_timeout_max_ms: 1_200,
                rpc_timeout_ms: 500,
            },
            snapshot: SnapshotPolicy {
                logs_since_last: 1_000,
                max_logs_kept_after_snapshot: 100,
                chunk_size_bytes: 64 * 1024,
            },
            sale: SaleConfig { hold_ttl_secs: 60 },
            tls: None,
            insecure_dev: true,
        }
    }

    #[test]
    fn seeds_a_directory_that_opens_at_the_backup() {
        let mut m = machine_with_event(10, 4);
        hold_ok(&mut m, 20, "ana", 2);
        let backup = backup_of(&m);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("node1");
        let restored = seed(&config(1, dir.clone(), &[1, 2, 3]), &backup).unwrap();
        assert_eq!(restored.log_index, 30);
        assert_eq!(restored.voters, BTreeSet::from([1, 2, 3]));

        let (_log, sm) = storage::open(&dir).unwrap();
        let state = sm.shared();
        let state = state.read().unwrap();
        // The node keeps the chain's records on disk, not in its state.
        let records = m.journal.take_new_audit_records();
        assert_eq!(state.state_hash(), m.state_hash());
        let len = records.len() as u64;
        assert_eq!(sm.audit().page(0, 1_000, len).unwrap(), records);
        assert_eq!(state.last_applied.map(|l| l.index), Some(30));
        let voters: Vec<_> = state.membership.membership().voter_ids().collect();
        assert_eq!(voters, vec![1, 2, 3]);
        // Nothing but the target is left in the parent directory.
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("node1")]);
    }

    #[test]
    fn refuses_a_non_empty_directory_and_leaves_it_alone() {
        let backup = backup_of(&machine_with_event(10, 4));
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("node1");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("CURRENT"), b"live data").unwrap();
        let err = seed(&config(1, dir.clone(), &[1, 2, 3]), &backup).unwrap_err();
        assert!(matches!(err, RestoreError::DataDirNotEmpty { .. }), "{err}");
        assert!(err.to_string().contains("not empty"));
        assert_eq!(std::fs::read(dir.join("CURRENT")).unwrap(), b"live data");
    }

    #[test]
    fn an_empty_directory_is_accepted() {
        let backup = backup_of(&machine_with_event(10, 4));
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("node2");
        std::fs::create_dir(&dir).unwrap();
        seed(&config(2, dir.clone(), &[1, 2, 3]), &backup).unwrap();
        assert!(storage::open(&dir).is_ok());
    }

    #[test]
    fn refuses_a_node_outside_its_peers() {
        let backup = backup_of(&machine_with_event(10, 4));
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("node4");
        let err = seed(&config(4, dir.clone(), &[1, 2, 3]), &backup).unwrap_err();
        assert!(matches!(err, RestoreError::NotAPeer { id: 4, .. }), "{err}");
        assert!(!dir.exists());
    }
}
