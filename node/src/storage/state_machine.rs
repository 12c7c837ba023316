//! The applied sale state and its snapshots, behind [`RaftStateMachine`].
//!
//! The [`SaleMachine`] and the [`Journal`] of what its entries produced (the
//! audit chain and the domain events) live in memory side by side, shared
//! with the gRPC services for reads. Applying an entry returns its journal
//! part, which this layer records; a snapshot holds both. Durability comes from the fsync'd Raft log plus snapshots kept
//! in RocksDB: after a restart the node loads its latest snapshot and openraft
//! re-applies the committed entries after it, which gives the same bytes
//! because the machine is deterministic.

use std::io::Cursor;
use std::sync::{Arc, RwLock};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, StorageIOError};
use rocksdb::{WriteBatch, WriteOptions, DB};

use super::audit_store::AuditStore;
use super::CF_SNAPSHOT;
use crate::machine::{self, Answer, DomainEvent, Journal, SaleMachine};
use crate::raft_types::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};

const KEY_META: &[u8] = b"meta";
const KEY_DATA: &[u8] = b"data";

/// The applied state: the sale machine, the journal its entries produced,
/// and what Raft needs to know about them.
#[derive(Debug, Default)]
pub struct AppliedState {
    pub machine: SaleMachine,
    pub journal: Journal,
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

impl AppliedState {
    /// The canonical bytes of machine and journal, as a snapshot or backup stores them.
    pub fn encode(&self) -> Vec<u8> {
        machine::encode_snapshot(&self.machine, &self.journal)
    }

    /// The state hash replicas compare: SHA-256 of [`AppliedState::encode`].
    pub fn state_hash(&self) -> [u8; 32] {
        machine::state_hash(&self.machine, &self.journal)
    }
}

/// Shared handle on the applied state, read by the services, written by apply.
pub type SharedMachine = Arc<RwLock<AppliedState>>;

/// Told what each apply and snapshot did, so the node can count it (metrics)
/// without the storage layer knowing how it is exported.
pub trait ApplyObserver: Send + Sync {
    /// One domain event an `apply` call produced (called in order).
    fn event_applied(&self, event: &DomainEvent);
    /// A snapshot of `bytes` was built in `seconds`.
    fn snapshot_built(&self, seconds: f64, bytes: usize);
}

/// The state-machine store: cheap to clone, clones share state and database.
#[derive(Clone)]
pub struct StateMachineStore {
    db: Arc<DB>,
    state: SharedMachine,
    audit: AuditStore,
    observer: Option<Arc<dyn ApplyObserver>>,
}

/// A snapshot as kept in RocksDB.
pub struct StoredSnapshot {
    pub meta: SnapshotMeta,
    pub data: Vec<u8>,
}

impl StateMachineStore {
    pub(crate) fn open(db: Arc<DB>) -> Result<Self, StorageError> {
        let store = StateMachineStore {
            audit: AuditStore::new(db.clone()),
            db,
            state: SharedMachine::default(),
            observer: None,
        };
        if let Some(snapshot) = store.read_snapshot()? {
            store.load(&snapshot)?;
        }
        Ok(store)
    }

    /// Reports what later applies and snapshots do to `observer`.
    pub fn observed_by(mut self, observer: Arc<dyn ApplyObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The shared applied state, for read paths.
    pub fn shared(&self) -> SharedMachine {
        self.state.clone()
    }

    /// The audit chain's records on disk, for read paths (the chain's
    /// length and head are in the shared state).
    pub fn audit(&self) -> AuditStore {
        self.audit.clone()
    }

    /// The state in `payload` (a drained stored snapshot) with its audit
    /// records inline: what a follower or a backup needs.
    pub fn with_audit_records(&self, payload: &[u8]) -> Result<Vec<u8>, StorageError> {
        let failed = |e: machine::DecodeError| -> StorageError {
            StorageIOError::read_snapshot(None, &e).into()
        };
        let len = machine::drained_audit_len(payload).map_err(failed)?;
        let records = self.audit.encoded_up_to(len)?;
        machine::with_audit_records(payload, len, &records).map_err(failed)
    }

    /// Loads `snapshot` (its records inline or not) and stores it, drained,
    /// as this node's latest: how an installed or restored snapshot lands.
    pub(crate) fn install_stored(&self, snapshot: &StoredSnapshot) -> Result<(), StorageError> {
        // Decode before persisting, so a corrupt transfer never replaces a good snapshot.
        self.load(snapshot)?;
        let data = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            state.encode()
        };
        self.write_snapshot(&StoredSnapshot {
            meta: snapshot.meta.clone(),
            data,
        })
    }

    fn cf(&self) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(CF_SNAPSHOT)
            .expect("column family `snapshot` is created at open")
    }

    /// The latest stored snapshot, if any.
    pub fn read_snapshot(&self) -> Result<Option<StoredSnapshot>, StorageError> {
        let read = |key| {
            self.db
                .get_cf(self.cf(), key)
                .map_err(|e| StorageError::from(StorageIOError::read_snapshot(None, &e)))
        };
        let (Some(meta), Some(data)) = (read(KEY_META)?, read(KEY_DATA)?) else {
            return Ok(None);
        };
        let meta: SnapshotMeta =
            serde_json::from_slice(&meta).map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(Some(StoredSnapshot { meta, data }))
    }

    pub(crate) fn write_snapshot(&self, snapshot: &StoredSnapshot) -> Result<(), StorageError> {
        let meta = serde_json::to_vec(&snapshot.meta)
            .map_err(|e| StorageIOError::write_snapshot(Some(snapshot.meta.signature()), &e))?;
        let failed = |e: rocksdb::Error| -> StorageError {
            StorageIOError::write_snapshot(Some(snapshot.meta.signature()), &e).into()
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(), KEY_META, meta);
        batch.put_cf(self.cf(), KEY_DATA, &snapshot.data);
        // Not through the write-ahead log: the Raft log's appends share it,
        // and each fsync'd append would wait behind a snapshot of a hundred
        // megabytes (seen as one-second stalls in a 100 000-ticket sale).
        // Flushing the snapshot's column family makes it durable instead
        // (an SST file, synced, with the manifest), both keys together.
        let mut opts = WriteOptions::default();
        opts.disable_wal(true);
        self.db.write_opt(batch, &opts).map_err(failed)?;
        self.db.flush_cf(self.cf()).map_err(failed)
    }

    /// Makes `snapshot` the applied state; the audit records it carries
    /// inline (a transfer, a backup, an older format) go to the audit store,
    /// durably, before the state changes.
    fn load(&self, snapshot: &StoredSnapshot) -> Result<(), StorageError> {
        let (machine, mut journal) = machine::decode_snapshot(&snapshot.data)
            .map_err(|e| StorageIOError::read_snapshot(Some(snapshot.meta.signature()), &e))?;
        let inline = journal.take_new_audit_records();
        if !inline.is_empty() {
            self.audit.append(&inline)?;
            self.audit.flush()?;
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.machine = machine;
        state.journal = journal;
        state.last_applied = snapshot.meta.last_log_id;
        state.membership = snapshot.meta.last_membership.clone();
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let started = std::time::Instant::now();
        let (data, last_applied, membership) = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            (state.encode(), state.last_applied, state.membership.clone())
        };
        // The snapshot counts the chain's records: they must be on disk first.
        self.audit.flush()?;
        let snapshot_id = match last_applied {
            Some(id) => format!(
                "{}-{}-{}",
                id.leader_id.term, id.leader_id.node_id, id.index
            ),
            None => "empty".to_string(),
        };
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id,
        };
        let stored = StoredSnapshot { meta, data };
        self.write_snapshot(&stored)?;
        tracing::info!(snapshot = %stored.meta, bytes = stored.data.len(), "snapshot built");
        if let Some(observer) = &self.observer {
            observer.snapshot_built(started.elapsed().as_secs_f64(), stored.data.len());
        }
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<Answer>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let first_event = state.journal.next_event_seq();
        let mut answers = Vec::new();
        for entry in entries {
            state.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => answers.push(Vec::new()),
                EntryPayload::Normal(proposal) => {
                    let applied = state.machine.apply_entry(entry.log_id.index, &proposal);
                    state.journal.record(applied.journal);
                    answers.push(applied.answers);
                }
                EntryPayload::Membership(membership) => {
                    state.membership = StoredMembership::new(Some(entry.log_id), membership);
                    answers.push(Vec::new());
                }
            }
        }
        // Under the lock: whoever reads the chain's length finds its records.
        let records = state.journal.take_new_audit_records();
        self.audit.append(&records)?;
        if let Some(observer) = &self.observer {
            for event in state.journal.iter_domain_events_since(first_event) {
                observer.event_applied(event);
            }
        }
        Ok(answers)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: snapshot.into_inner(),
        };
        self.install_stored(&stored)?;
        tracing::info!(snapshot = %meta, "snapshot installed");
        Ok(())
    }

    /// The latest snapshot with its audit records inline: openraft sends
    /// this to a follower that needs a snapshot (and reads its meta at start).
    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some(stored) = self.read_snapshot()? else {
            return Ok(None);
        };
        let data = self.with_audit_records(&stored.data)?;
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::machine::testing::{create_event_cmd, hold_cmd, register_cmd, CUSTOMERS};
    use crate::machine::{verify_chain, Command, DomainEventKind, Proposal, Request};

    fn entry(index: u64, ts_ms: u64, commands: Vec<Command>) -> Entry {
        let requests = commands
            .into_iter()
            .map(|command| Request { key: None, command })
            .collect();
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Proposal { ts_ms, requests }),
        }
    }

    #[tokio::test]
    async fn apply_keeps_the_journal_and_a_reopened_store_gets_it_back_from_the_snapshot() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (log, mut store) = crate::storage::open(tmp.path()).expect("opens");
        let answers = store
            .apply(vec![
                entry(
                    1,
                    1_000,
                    vec![
                        create_event_cmd("rock", 5, 4),
                        register_cmd("ana", CUSTOMERS[0].1),
                    ],
                ),
                entry(2, 1_500, vec![hold_cmd("ana", 2)]),
            ])
            .await
            .expect("applies");
        assert_eq!(answers.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        assert!(answers.iter().flatten().all(|a| a.outcome.is_ok()));
        let hash = {
            let shared = store.shared();
            let state = shared.read().expect("not poisoned");
            let kinds: Vec<_> = state
                .journal
                .iter_domain_events_since(0)
                .map(|e| (e.seq, e.log_index, e.kind))
                .collect();
            assert_eq!(
                kinds,
                [
                    (0, 1, Some(DomainEventKind::EventCreated)),
                    (1, 1, Some(DomainEventKind::CustomerRegistered)),
                    (2, 2, Some(DomainEventKind::HoldCreated)),
                ]
            );
            let audit = state.journal.audit();
            assert_eq!(audit.len(), 3);
            // Taken out of memory into the audit column family by apply.
            assert!(audit.pending().is_empty());
            let records = store.audit().page(0, 10, audit.len()).expect("reads");
            assert_eq!(verify_chain(&records), Ok(audit.head()));
            state.state_hash()
        };
        let snapshot = store.build_snapshot().await.expect("snapshot built");
        let data = snapshot.snapshot.into_inner();
        assert_eq!(<[u8; 32]>::from(Sha256::digest(&data)), hash);
        drop((log, store));

        let (_log, store) = crate::storage::open(tmp.path()).expect("reopens");
        let shared = store.shared();
        let state = shared.read().expect("not poisoned");
        assert_eq!(state.state_hash(), hash);
        assert_eq!(state.journal.audit().len(), 3);
        assert_eq!(state.journal.next_event_seq(), 3);
        assert_eq!(state.last_applied.map(|l| l.index), Some(2));
        // The snapshot flushed the records it counts: they survived the reopen.
        let records = store.audit().page(0, 10, 3).expect("reads");
        assert_eq!(verify_chain(&records), Ok(state.journal.audit().head()));
    }

    #[tokio::test]
    async fn a_follower_gets_the_chain_inline_and_keeps_it_on_disk_not_in_memory() {
        let leader_dir = tempfile::tempdir().expect("temp dir");
        let (_log, mut leader) = crate::storage::open(leader_dir.path()).expect("opens");
        leader
            .apply(vec![
                entry(
                    1,
                    1_000,
                    vec![
                        create_event_cmd("rock", 5, 4),
                        register_cmd("ana", CUSTOMERS[0].1),
                        register_cmd("bia", CUSTOMERS[1].1),
                    ],
                ),
                entry(2, 1_500, vec![hold_cmd("ana", 2), hold_cmd("bia", 9)]),
            ])
            .await
            .expect("applies");
        let built = leader.build_snapshot().await.expect("built");
        let stored_len = leader.read_snapshot().unwrap().unwrap().data.len();
        let sent = leader
            .get_current_snapshot()
            .await
            .expect("reads")
            .expect("there is one");
        let sent_data = sent.snapshot.into_inner();
        // What is sent carries the five records the stored snapshot only counts.
        assert!(sent_data.len() > stored_len);
        let (_, journal) = crate::machine::decode_snapshot(&sent_data).expect("decodes");
        assert_eq!(journal.audit().pending().len(), 5);

        let follower_dir = tempfile::tempdir().expect("temp dir");
        let (_log, mut follower) = crate::storage::open(follower_dir.path()).expect("opens");
        follower
            .install_snapshot(&built.meta, Box::new(Cursor::new(sent_data)))
            .await
            .expect("installs");
        let leader_hash = leader.shared().read().unwrap().state_hash();
        {
            let shared = follower.shared();
            let state = shared.read().unwrap();
            assert_eq!(state.state_hash(), leader_hash);
            assert!(state.journal.audit().pending().is_empty());
        }
        let on_disk = follower.audit().page(0, 100, 5).expect("reads");
        assert_eq!(on_disk, leader.audit().page(0, 100, 5).unwrap());
        // A follower that lost its records (or was sent a snapshot without
        // them) cannot serve its chain: say so rather than answer short.
        assert!(follower.audit().page(0, 100, 6).is_err());
    }
}
