//! The applied sale state and its snapshots, behind [`RaftStateMachine`].
//!
//! The [`SaleMachine`] and the [`Journal`] of what its entries produced (the
//! domain events, and the audit chain's length and head) live in memory side
//! by side, shared with the gRPC services for reads; the audit chain's
//! records go to the `audit` column family ([`super::audit_store`]) as each
//! entry is applied. A snapshot holds the state and counts the records; the
//! one sent to a follower, and an installed one, carries them inline. Durability comes
//! from the fsync'd Raft log plus snapshots kept in RocksDB: after a restart
//! the node loads its latest snapshot and openraft re-applies the committed
//! entries after it, which gives the same bytes because the machine is
//! deterministic.
//!
//! Every snapshot is sealed in the envelope of [`super::snapshot_file`]
//! (magic, version, length, SHA-256) when it is written, and checked whole
//! when it is read at open and when a follower installs one: a damaged or
//! foreign snapshot is refused before anything is decoded or replaced.
//!
//! The last log id of the snapshot that is *durable* in the `snapshot`
//! column family is published on a [`watch`] channel, which the log store
//! reads before it makes a purge durable (see [`super::log_store`]): the
//! purge of entries a snapshot covers never reaches the disk before that
//! snapshot does.

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, StorageIOError};
use rocksdb::{WriteBatch, WriteOptions, DB};
use tokio::sync::watch;

use super::audit_store::AuditStore;
use super::snapshot_file::{self, SnapshotFileError};
use super::whole_state::WholeStateGate;
use super::CF_SNAPSHOT;
use crate::machine::{self, Answer, DomainEvent, Journal, SaleMachine};
use crate::raft_types::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};

const KEY_META: &[u8] = b"meta";
const KEY_DATA: &[u8] = b"data";

/// The applied state: the sale machine, the journal its entries produced,
/// and what Raft needs to know about them.
///
/// A clone is cheap whatever the size of the sale (the machine's large
/// collections are persistent, see `machine::Map`): whoever must encode,
/// hash or export the whole state (a snapshot, a backup, a state hash)
/// clones it under the read lock, drops the lock, and works on the copy,
/// so applying never waits for them.
#[derive(Debug, Default, Clone)]
pub struct AppliedState {
    /// The sale rules' state.
    pub machine: SaleMachine,
    /// The audit chain and domain events the applied entries produced.
    pub journal: Journal,
    /// The last log entry applied (or covered by the loaded snapshot).
    pub last_applied: Option<LogId>,
    /// The last membership applied.
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

/// A copy of the shared state, taken under the read lock in O(1) (see
/// [`AppliedState`]): encode, hash or export it once the lock is gone.
pub fn read_copy(state: &SharedMachine) -> AppliedState {
    state.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Told what each apply and snapshot did, so the node can count it (metrics)
/// without the storage layer knowing how it is exported.
pub trait ApplyObserver: Send + Sync {
    /// One domain event an `apply` call produced (called in order).
    fn event_applied(&self, event: &DomainEvent);
    /// A snapshot of `bytes` was built in `seconds`.
    fn snapshot_built(&self, seconds: f64, bytes: usize);
}

/// Why a snapshot was refused or could not be read, naming the snapshot and
/// what is wrong with it. At open it becomes [`super::OpenError::Snapshot`];
/// from an install or a build it reaches openraft inside a `StorageError`.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The envelope check failed: truncated, corrupt, foreign or unknown version.
    #[error("snapshot {id}: {source}")]
    Envelope {
        /// The snapshot's id (from its metadata), or `stored` when unknown.
        id: String,
        /// What the envelope check found.
        source: SnapshotFileError,
    },
    /// The payload passed its checksum but is not a sale state this build reads.
    #[error("snapshot {id}: its payload does not decode as the sale state: {reason}")]
    Payload {
        /// The snapshot's id.
        id: String,
        /// The decoder's message.
        reason: String,
    },
    /// The stored metadata (log id, membership) is unreadable.
    #[error("stored snapshot metadata does not decode: {0}")]
    Meta(String),
    /// One of the two keys of a stored snapshot is missing.
    #[error("stored snapshot is incomplete: it has `{present}` but no `{missing}`")]
    Incomplete {
        /// The key found.
        present: &'static str,
        /// The key missing.
        missing: &'static str,
    },
    /// A snapshot older than the stored one would replace it.
    #[error("snapshot {id} ends at {offered} but the stored snapshot already covers {stored}: refusing to go back")]
    Older {
        /// The offered snapshot's id.
        id: String,
        /// Its last log index.
        offered: String,
        /// The stored snapshot's last log index.
        stored: String,
    },
    /// The audit records the snapshot carries are not the whole chain it
    /// counts, or do not chain to its head.
    #[error("snapshot {id}: it counts {len} audit records but carries {carried} that do not form that chain")]
    AuditChain {
        /// The snapshot's id.
        id: String,
        /// Records carried inline.
        carried: u64,
        /// Records the chain counts.
        len: u64,
    },
    /// The snapshot counts audit records it does not carry and this node does not have.
    #[error("snapshot {id}: it counts {len} audit records, carries none, and this node does not have them; a leader of this build sends them inline (a node's own stored snapshot is only usable on that node)")]
    AuditMissing {
        /// The snapshot's id.
        id: String,
        /// Records the chain counts.
        len: u64,
    },
    /// The audit records the snapshot carries could not be stored.
    #[error("snapshot {id}: its audit records could not be stored: {reason}")]
    Audit {
        /// The snapshot's id.
        id: String,
        /// What failed.
        reason: String,
    },
    /// RocksDB failed reading or writing the column family.
    #[error("snapshot column family: {0}")]
    RocksDb(#[from] rocksdb::Error),
}

/// The steps of installing a snapshot, in order; tests stop a process
/// between them to show a crash anywhere leaves the old or the new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum InstallStep {
    /// The envelope was checked and the payload decoded; nothing written yet.
    Verified,
    /// Metadata and bytes are written, in one batch, but not flushed (not durable).
    Written,
    /// The column family is flushed: the new snapshot is durable.
    Flushed,
    /// The durable snapshot's log id is published to the log store.
    Published,
    /// The in-memory state is replaced: the install is complete.
    Swapped,
}

/// The state-machine store: cheap to clone, clones share state and database.
#[derive(Clone)]
pub struct StateMachineStore {
    db: Arc<DB>,
    state: SharedMachine,
    audit: AuditStore,
    observer: Option<Arc<dyn ApplyObserver>>,
    /// Last log id covered by the durable stored snapshot (None: no snapshot).
    durable: Arc<watch::Sender<Option<LogId>>>,
    /// Serialises snapshot writes: a build runs in its own task, beside installs.
    write_lock: Arc<Mutex<()>>,
    /// Held by [`StateMachineStore::starting`]'s guard while openraft starts.
    starting: Arc<AtomicBool>,
    /// Snapshot builds share the node's lane for whole-state work.
    whole_state: WholeStateGate,
}

/// While alive, openraft's start-up is running: see [`StateMachineStore::starting`].
pub struct StartupGuard(Arc<AtomicBool>);

impl Drop for StartupGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A snapshot as the state machine knows it: metadata and the encoded sale
/// state (the *payload*; it is sealed in the envelope when written).
pub struct StoredSnapshot {
    /// Log id, membership and id of the snapshot.
    pub meta: SnapshotMeta,
    /// `machine::encode_snapshot` of the state at `meta.last_log_id`.
    pub data: Vec<u8>,
}

/// A received or stored snapshot that passed every check, decoded, ready to
/// become the current one.
pub(crate) struct VerifiedSnapshot {
    meta: SnapshotMeta,
    sealed: Vec<u8>,
    machine: SaleMachine,
    journal: Journal,
}

/// Checks `sealed` (envelope, then payload) and decodes it; touches nothing.
fn verify(meta: &SnapshotMeta, sealed: Vec<u8>) -> Result<VerifiedSnapshot, SnapshotError> {
    let id = meta.snapshot_id.clone();
    let payload = snapshot_file::open(&sealed).map_err(|source| SnapshotError::Envelope {
        id: id.clone(),
        source,
    })?;
    let (machine, journal) =
        machine::decode_snapshot(payload).map_err(|e| SnapshotError::Payload {
            id: id.clone(),
            reason: e.to_string(),
        })?;
    // The label must cover the state: a state that applied past the log id
    // it is filed under would have entries applied twice after it.
    let labelled = meta.last_log_id.map_or(0, |l| l.index);
    if machine.last_index() > labelled {
        return Err(SnapshotError::Payload {
            id,
            reason: format!(
                "its state has applied up to index {} but it is labelled index {labelled}",
                machine.last_index()
            ),
        });
    }
    Ok(VerifiedSnapshot {
        meta: meta.clone(),
        sealed,
        machine,
        journal,
    })
}

/// A stored snapshot from before the envelope (state format 1, the audit
/// chain inline) is taken only if it decodes and re-encodes to exactly its
/// own bytes (see [`super::snapshot_file`]'s doc); it is sealed in today's
/// format.
fn convert_legacy(meta: &SnapshotMeta, raw: &[u8]) -> Option<VerifiedSnapshot> {
    let (machine, journal) = machine::decode_legacy_snapshot(raw).ok()?;
    if machine::encode_legacy_snapshot(&machine, &journal) != raw {
        return None;
    }
    Some(VerifiedSnapshot {
        meta: meta.clone(),
        sealed: snapshot_file::seal(&machine::encode_snapshot(&machine, &journal)),
        machine,
        journal,
    })
}

/// An entry whose apply takes longer than this is logged: every replica
/// applies it under the state lock, so it is a stall of the whole sale.
const SLOW_APPLY: std::time::Duration = std::time::Duration::from_millis(100);

/// Logs an entry that took [`SLOW_APPLY`] or longer to apply, with what it
/// carried, so a stall in a sale's timeline can be traced to its entry.
fn warn_if_slow(index: u64, proposal: &machine::Proposal, took: std::time::Duration) {
    if took < SLOW_APPLY {
        return;
    }
    let first = proposal.requests.first().map(|r| r.command.kind());
    tracing::warn!(
        index,
        requests = proposal.requests.len(),
        first_command = first.unwrap_or("none"),
        took_ms = took.as_millis() as u64,
        "slow apply: every replica stalls on this entry"
    );
}

/// A snapshot refused or not written, as openraft's error for writing it.
fn to_storage(meta: &SnapshotMeta, e: SnapshotError) -> StorageError {
    StorageIOError::write_snapshot(Some(meta.signature()), &e).into()
}

fn index_of(log_id: Option<LogId>) -> String {
    log_id.map_or_else(|| "nothing".into(), |l| format!("index {}", l.index))
}

impl StateMachineStore {
    /// Opens the store over `db`: loads and checks the stored snapshot, and
    /// returns the receiver of the durable snapshot's log id for the log store.
    pub(crate) fn open(
        db: Arc<DB>,
    ) -> Result<(Self, watch::Receiver<Option<LogId>>), SnapshotError> {
        let (durable, durable_rx) = watch::channel(None);
        let store = StateMachineStore {
            audit: AuditStore::new(db.clone()),
            db,
            state: SharedMachine::default(),
            observer: None,
            durable: Arc::new(durable),
            write_lock: Arc::new(Mutex::new(())),
            starting: Arc::new(AtomicBool::new(false)),
            whole_state: WholeStateGate::default(),
        };
        let started = std::time::Instant::now();
        if let Some((meta, bytes)) = store.read_stored()? {
            let (read_ms, bytes_len) = (started.elapsed().as_millis() as u64, bytes.len());
            let legacy = if bytes.starts_with(snapshot_file::MAGIC) {
                None
            } else {
                convert_legacy(&meta, &bytes)
            };
            let mut verified = match legacy {
                Some(mut v) => {
                    tracing::warn!(snapshot = %meta, "stored snapshot predates the envelope (state format 1): converting and sealing it");
                    store.take_inline_audit(&mut v)?;
                    store.persist(&v.meta, &v.sealed, |_| {})?;
                    v
                }
                None => verify(&meta, bytes)?,
            };
            let decoded_ms = started.elapsed().as_millis() as u64;
            store.take_inline_audit(&mut verified)?;
            store.durable.send_replace(verified.meta.last_log_id);
            store.swap(verified);
            // A restart's first cost: where it goes (read, check and decode,
            // inline audit records to disk) says what to make cheaper.
            tracing::info!(
                snapshot = %meta,
                bytes = bytes_len,
                read_ms,
                checked_and_decoded_ms = decoded_ms - read_ms,
                total_ms = started.elapsed().as_millis() as u64,
                "stored snapshot loaded"
            );
        }
        Ok((store, durable_rx))
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

    /// The node's lane for whole-state work, shared with the services that
    /// hash, back up or export the state (see [`WholeStateGate`]).
    pub fn whole_state(&self) -> WholeStateGate {
        self.whole_state.clone()
    }

    /// The audit chain's records on disk, for read paths (the chain's
    /// length and head are in the shared state).
    pub fn audit(&self) -> AuditStore {
        self.audit.clone()
    }

    /// Marks openraft's start-up (`Raft::new`) until the guard is dropped.
    ///
    /// openraft 0.9 reads the current snapshot at start only for its
    /// metadata (`StorageHelper::get_initial_state`); while this guard
    /// lives, [`RaftStateMachine::get_current_snapshot`] returns the stored
    /// bytes as they are instead of splicing every audit record back in
    /// (seconds and gigabytes at a million fans). Were such a snapshot ever
    /// sent, a follower without the records would refuse it by name
    /// ([`SnapshotError::AuditMissing`]), never install it short.
    pub fn starting(&self) -> StartupGuard {
        self.starting.store(true, Ordering::Release);
        StartupGuard(self.starting.clone())
    }

    /// The last log id the durable stored snapshot covers.
    pub(crate) fn durable_snapshot(&self) -> Option<LogId> {
        *self.durable.borrow()
    }

    fn cf(&self) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(CF_SNAPSHOT)
            .expect("column family `snapshot` is created at open")
    }

    /// The stored snapshot's metadata and sealed bytes, unchecked.
    ///
    /// Both keys are read through one RocksDB snapshot: a build runs in a
    /// task of its own and may write a newer snapshot between two plain
    /// reads, which would pair one snapshot's label with another's state (a
    /// follower would then re-apply or skip entries).
    fn read_stored(&self) -> Result<Option<(SnapshotMeta, Vec<u8>)>, SnapshotError> {
        let view = self.db.snapshot();
        let meta = view.get_cf(self.cf(), KEY_META)?;
        let data = view.get_cf(self.cf(), KEY_DATA)?;
        drop(view);
        let (meta, data) = match (meta, data) {
            (None, None) => return Ok(None),
            (Some(meta), Some(data)) => (meta, data),
            (Some(_), None) => {
                return Err(SnapshotError::Incomplete {
                    present: "meta",
                    missing: "data",
                })
            }
            (None, Some(_)) => {
                return Err(SnapshotError::Incomplete {
                    present: "data",
                    missing: "meta",
                })
            }
        };
        let meta: SnapshotMeta =
            serde_json::from_slice(&meta).map_err(|e| SnapshotError::Meta(e.to_string()))?;
        Ok(Some((meta, data)))
    }

    /// The latest stored snapshot, checked, with its payload (not the envelope).
    pub fn read_snapshot(&self) -> Result<Option<StoredSnapshot>, SnapshotError> {
        let Some((meta, sealed)) = self.read_stored()? else {
            return Ok(None);
        };
        let payload = snapshot_file::open(&sealed)
            .map_err(|source| SnapshotError::Envelope {
                id: meta.snapshot_id.clone(),
                source,
            })?
            .to_vec();
        Ok(Some(StoredSnapshot {
            meta,
            data: payload,
        }))
    }

    /// Seals `snapshot` and makes it the durable stored snapshot (restore's seeding).
    pub(crate) fn write_snapshot(&self, snapshot: &StoredSnapshot) -> Result<(), StorageError> {
        let sealed = snapshot_file::seal(&snapshot.data);
        let mut verified =
            verify(&snapshot.meta, sealed).map_err(|e| to_storage(&snapshot.meta, e))?;
        self.take_inline_audit(&mut verified)
            .map_err(|e| to_storage(&snapshot.meta, e))?;
        self.persist(&verified.meta, &verified.sealed, |_| {})
            .map_err(|e| to_storage(&snapshot.meta, e))?;
        self.swap(verified);
        Ok(())
    }

    /// Writes `sealed` under `meta` as the stored snapshot and flushes it,
    /// then publishes its log id as durable; `at` is told after each step.
    /// Refuses (with [`SnapshotError::Older`]) a snapshot older than the
    /// stored one: openraft builds in a task of its own, beside installs, and
    /// a build of the state before an install can finish after it.
    fn persist(
        &self,
        meta: &SnapshotMeta,
        sealed: &[u8],
        mut at: impl FnMut(InstallStep),
    ) -> Result<(), SnapshotError> {
        let _writing = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let stored = self.durable_snapshot();
        if meta.last_log_id < stored {
            return Err(SnapshotError::Older {
                id: meta.snapshot_id.clone(),
                offered: index_of(meta.last_log_id),
                stored: index_of(stored),
            });
        }
        let meta_bytes =
            serde_json::to_vec(meta).map_err(|e| SnapshotError::Meta(e.to_string()))?;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(), KEY_META, meta_bytes);
        batch.put_cf(self.cf(), KEY_DATA, sealed);
        // Not through the write-ahead log: the Raft log's appends share it,
        // and each fsync'd append would wait behind a snapshot of a hundred
        // megabytes (seen as one-second stalls in a 100 000-ticket sale).
        // Flushing the snapshot's column family makes it durable instead
        // (an SST file, synced, with the manifest), both keys together; a
        // crash before the flush loses the batch whole, never half of it.
        let mut opts = WriteOptions::default();
        opts.disable_wal(true);
        self.db.write_opt(batch, &opts)?;
        at(InstallStep::Written);
        self.db.flush_cf(self.cf())?;
        at(InstallStep::Flushed);
        self.durable.send_replace(meta.last_log_id);
        at(InstallStep::Published);
        Ok(())
    }

    /// Moves the audit records `v` carries inline (a snapshot from the
    /// leader, a backup, an older format) to the audit store, durably: they
    /// are on disk before the snapshot that counts them is stored, and the
    /// in-memory state never holds them.
    fn take_inline_audit(&self, v: &mut VerifiedSnapshot) -> Result<(), SnapshotError> {
        let inline = v.journal.take_new_audit_records();
        let id = v.meta.snapshot_id.clone();
        let (len, head) = (v.journal.audit().len(), v.journal.audit().head());
        let audit_failed = |e: StorageError| SnapshotError::Audit {
            id: id.clone(),
            reason: e.to_string(),
        };
        if !inline.is_empty() {
            // Carried records are the whole chain, and it must verify: a
            // record at a given seq is the same on every replica, and one
            // written here is never written again.
            let whole =
                inline.len() as u64 == len && machine::verify_chain(&inline).ok() == Some(head);
            if !whole {
                return Err(SnapshotError::AuditChain {
                    id,
                    carried: inline.len() as u64,
                    len,
                });
            }
            self.audit.append(&inline).map_err(audit_failed)?;
            self.audit.flush().map_err(audit_failed)?;
        } else if len > 0 && self.audit.page(len - 1, 1, len).is_err() {
            // A snapshot that counts records it does not carry is only
            // usable where they already are (this node's own, at open).
            return Err(SnapshotError::AuditMissing { id, len });
        }
        Ok(())
    }

    /// Makes `v` the in-memory state.
    fn swap(&self, v: VerifiedSnapshot) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.machine = v.machine;
        state.journal = v.journal;
        state.last_applied = v.meta.last_log_id;
        state.membership = v.meta.last_membership;
    }

    /// Installs a snapshot received from the leader, step by step, telling
    /// `at` after each [`InstallStep`]. Nothing is written before the
    /// envelope and the payload check out, and the in-memory state changes
    /// only after the new snapshot is durable: a refusal leaves the old state
    /// and the old snapshot, a crash at any step the old or the new one.
    pub(crate) fn install_stepwise(
        &self,
        meta: &SnapshotMeta,
        sealed: Vec<u8>,
        mut at: impl FnMut(InstallStep),
    ) -> Result<(), SnapshotError> {
        let mut verified = verify(meta, sealed)?;
        at(InstallStep::Verified);
        self.take_inline_audit(&mut verified)?;
        self.persist(&verified.meta, &verified.sealed, &mut at)?;
        self.swap(verified);
        at(InstallStep::Swapped);
        Ok(())
    }
}

#[cfg(test)]
impl StateMachineStore {
    /// Builds a snapshot and returns what openraft would stream of it to a
    /// follower (the stored snapshot, its audit records inline): the
    /// leader's side of the install tests here and in `crash_tests`.
    pub(crate) async fn build_and_stream(&mut self) -> (SnapshotMeta, Vec<u8>) {
        self.build_snapshot().await.expect("builds");
        let s = self
            .get_current_snapshot()
            .await
            .expect("reads")
            .expect("there is one");
        (s.meta, s.snapshot.into_inner())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        // The lock is held for the copy only: apply goes on while it is
        // encoded, in the node's lane for whole-state work.
        let copy = read_copy(&self.state);
        let store = self.clone();
        self.whole_state
            .run(move || store.build_snapshot_of(copy))
            .await
            .map_err(|e| {
                StorageError::from(StorageIOError::write_snapshot(
                    None,
                    openraft::AnyError::error(e.to_string()),
                ))
            })?
    }
}

impl StateMachineStore {
    /// Encodes, seals and stores a snapshot of `copy` (a [`read_copy`] of
    /// the state), holding no lock on the live state meanwhile.
    fn build_snapshot_of(&self, copy: AppliedState) -> Result<Snapshot<TypeConfig>, StorageError> {
        let started = std::time::Instant::now();
        let (data, last_applied, membership) = (copy.encode(), copy.last_applied, copy.membership);
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
        let sealed = snapshot_file::seal(&data);
        drop(data);
        let bytes = sealed.len();
        match self.persist(&meta, &sealed, |_| {}) {
            Ok(()) => {
                tracing::info!(snapshot = %meta, bytes, "snapshot built");
            }
            // An install finished first: the stored snapshot is newer, keep it.
            // openraft ignores a built snapshot older than the one it knows.
            Err(e @ SnapshotError::Older { .. }) => {
                tracing::info!(snapshot = %meta, reason = %e, "built snapshot not stored");
            }
            Err(e) => return Err(to_storage(&meta, e)),
        }
        if let Some(observer) = &self.observer {
            observer.snapshot_built(started.elapsed().as_secs_f64(), bytes);
        }
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(sealed)),
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
                    let started = std::time::Instant::now();
                    let applied = state.machine.apply_entry(entry.log_id.index, &proposal);
                    warn_if_slow(entry.log_id.index, &proposal, started.elapsed());
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
        // openraft treats an error here as fatal and stops Raft; the node then
        // still has its old state and its old snapshot, in memory and on disk.
        self.install_stepwise(meta, snapshot.into_inner(), |_| {})
            .map_err(|e| {
                tracing::error!(snapshot = %meta, error = %e, "snapshot refused");
                to_storage(meta, e)
            })?;
        tracing::info!(snapshot = %meta, "snapshot installed");
        Ok(())
    }

    /// The latest snapshot with its audit records inline: openraft sends
    /// this to a follower that needs a snapshot (and reads its meta at start).
    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some((meta, sealed)) = self
            .read_stored()
            .map_err(|e| StorageError::from(StorageIOError::read_snapshot(None, &e)))?
        else {
            return Ok(None);
        };
        let failed = |e: String| -> StorageError {
            StorageIOError::read_snapshot(Some(meta.signature()), openraft::AnyError::error(e))
                .into()
        };
        if self.starting.load(Ordering::Acquire) {
            return Ok(Some(Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(sealed)),
            }));
        }
        let payload = snapshot_file::open(&sealed).map_err(|e| failed(e.to_string()))?;
        // A snapshot this node built counts the chain's records but holds
        // none: the follower gets them inline, read from disk, written
        // straight after the payload into one buffer. One installed from a
        // leader (or restored) still has them, and goes as it is.
        let sealed = match machine::drained_audit_len(payload) {
            Ok(len) => {
                let mut out = snapshot_file::with_header_room(payload.len());
                machine::start_with_audit_records(payload, len, &mut out)
                    .map_err(|e| failed(e.to_string()))?;
                self.audit.append_encoded_up_to(len, &mut out)?;
                drop(sealed);
                snapshot_file::seal_reserved(out)
            }
            Err(_) => sealed,
        };
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(sealed)),
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
    use crate::storage::snapshot_file;

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
        let sealed = snapshot.snapshot.into_inner();
        let payload = snapshot_file::open(&sealed).expect("a built snapshot is sealed");
        assert_eq!(<[u8; 32]>::from(Sha256::digest(payload)), hash);
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
    async fn a_snapshot_is_encoded_from_a_copy_while_apply_goes_on() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (_log, mut store) = crate::storage::open(tmp.path()).expect("opens");
        let mut commands = vec![create_event_cmd("rock", 50, 4)];
        commands.extend(CUSTOMERS.iter().map(|(id, cpf)| register_cmd(id, cpf)));
        store
            .apply(vec![entry(1, 1_000, commands)])
            .await
            .expect("applies");
        store
            .apply(vec![entry(2, 1_500, vec![hold_cmd("ana", 2)])])
            .await
            .expect("applies");
        let copy = read_copy(&store.shared());
        let copied_hash = copy.state_hash();
        // Apply takes the write lock: it runs while the copy waits to be
        // encoded (it would deadlock here were the read lock still held).
        let later: Vec<Entry> = (3..40)
            .map(|i| {
                entry(
                    i,
                    1_500 + i * 10,
                    vec![hold_cmd(CUSTOMERS[(i % 4) as usize].0, 1)],
                )
            })
            .collect();
        store
            .apply(later)
            .await
            .expect("applies while a copy is alive");
        let live_hash = store.shared().read().expect("not poisoned").state_hash();
        assert_ne!(
            live_hash, copied_hash,
            "the later entries changed the live state"
        );
        // The snapshot is the state at the copy, untouched by what came after.
        let snapshot = store.build_snapshot_of(copy).expect("snapshot built");
        assert_eq!(snapshot.meta.last_log_id.map(|l| l.index), Some(2));
        let sealed = snapshot.snapshot.into_inner();
        let payload = snapshot_file::open(&sealed).expect("sealed");
        assert_eq!(<[u8; 32]>::from(Sha256::digest(payload)), copied_hash);
        assert_eq!(
            store.shared().read().expect("not poisoned").state_hash(),
            live_hash,
            "building the snapshot did not touch the live state"
        );
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
        let payload = snapshot_file::open(&sent_data).expect("sealed");
        let (_, journal) = crate::machine::decode_snapshot(payload).expect("decodes");
        assert_eq!(journal.audit().pending().len(), 5);

        let follower_dir = tempfile::tempdir().expect("temp dir");
        let (_log, mut follower) = crate::storage::open(follower_dir.path()).expect("opens");
        follower
            .install_snapshot(&built.meta, Box::new(Cursor::new(sent_data.clone())))
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
        // While openraft starts (it reads only the metadata) the stored bytes
        // go as they are; after, the records are spliced in again.
        {
            let _starting = leader.starting();
            let at_start = leader.get_current_snapshot().await.unwrap().unwrap();
            let bytes = at_start.snapshot.into_inner();
            assert_eq!(bytes.len(), snapshot_file::HEADER_LEN + stored_len);
            assert_eq!(at_start.meta, built.meta);
        }
        let again = leader.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(again.snapshot.into_inner(), sent_data);

        // Asking past the chain's records is an error, not a short answer.
        assert!(follower.audit().page(0, 100, 6).is_err());

        // The stored snapshot as built (the records only counted) is refused
        // by a node that does not have them, and leaves it as it was.
        let empty_dir = tempfile::tempdir().expect("temp dir");
        let (_log, mut empty) = crate::storage::open(empty_dir.path()).expect("opens");
        let drained = built.snapshot.into_inner();
        let err = empty
            .install_snapshot(&built.meta, Box::new(Cursor::new(drained)))
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("carries none"), "{err}");
        assert!(empty.read_snapshot().unwrap().is_none());
        assert_eq!(empty.shared().read().unwrap().last_applied, None);

        // Carried records that do not chain to the head are refused too.
        let payload = snapshot_file::open(&sent_data).unwrap().to_vec();
        let mut tampered = payload.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let err = empty
            .install_snapshot(
                &built.meta,
                Box::new(Cursor::new(snapshot_file::seal(&tampered))),
            )
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("do not form that chain"), "{err}");
    }

    fn sale(indexes: std::ops::Range<u64>) -> Vec<Entry> {
        indexes
            .map(|i| match i {
                1 => entry(
                    1,
                    1_000,
                    vec![
                        create_event_cmd("rock", 5, 4),
                        register_cmd("ana", CUSTOMERS[0].1),
                    ],
                ),
                i => entry(i, 1_000 + i * 100, vec![hold_cmd("ana", 1)]),
            })
            .collect()
    }

    /// A store at `dir` with entries 1..=2 applied and snapshotted.
    async fn old_store(dir: &std::path::Path) -> StateMachineStore {
        let (_log, mut sm) = crate::storage::open(dir).expect("opens");
        sm.apply(sale(1..3)).await.expect("applies");
        sm.build_snapshot().await.expect("builds");
        sm
    }

    /// A leader's snapshot after entries 1..=4: metadata and sealed bytes.
    async fn newer_snapshot() -> (SnapshotMeta, Vec<u8>) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (_log, mut sm) = crate::storage::open(tmp.path()).expect("opens");
        sm.apply(sale(1..5)).await.expect("applies");
        sm.build_and_stream().await
    }

    fn damaged(sealed: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
        let mut flipped = sealed.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        let mut magic = sealed.to_vec();
        magic[0] = b'X';
        let mut version = sealed.to_vec();
        version[8..12].copy_from_slice(&9u32.to_be_bytes());
        vec![
            ("truncated", sealed[..sealed.len() - 10].to_vec()),
            ("only 0 present", Vec::new()),
            ("corrupt", flipped),
            ("not an IngressoJá snapshot", magic),
            ("version 9", version),
        ]
    }

    #[tokio::test]
    async fn install_refuses_a_damaged_snapshot_and_keeps_the_old_state_and_snapshot() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut sm = old_store(tmp.path()).await;
        let old_hash = sm.shared().read().unwrap().state_hash();
        let old_bytes = sm.read_stored().unwrap().expect("stored").1;
        let (meta, sealed) = newer_snapshot().await;
        for (expected, bytes) in damaged(&sealed) {
            let mut received = sm.begin_receiving_snapshot().await.unwrap();
            *received = Cursor::new(bytes);
            let err = sm
                .install_snapshot(&meta, received)
                .await
                .expect_err("a damaged snapshot is refused");
            assert!(err.to_string().contains(expected), "{expected}: {err}");
            assert_eq!(
                sm.shared().read().unwrap().state_hash(),
                old_hash,
                "{expected}"
            );
            let (stored_meta, stored) = sm.read_stored().unwrap().expect("still stored");
            assert_eq!(stored, old_bytes, "{expected}: the old snapshot stays");
            assert_eq!(stored_meta.last_log_id.map(|l| l.index), Some(2));
            assert_eq!(sm.durable_snapshot().map(|l| l.index), Some(2));
        }
        drop(sm);
        let (_log, mut sm) = crate::storage::open(tmp.path()).expect("reopens");
        assert_eq!(sm.shared().read().unwrap().state_hash(), old_hash);
        // The sound copy still installs.
        let mut received = sm.begin_receiving_snapshot().await.unwrap();
        *received = Cursor::new(sealed);
        sm.install_snapshot(&meta, received)
            .await
            .expect("installs");
        assert_eq!(sm.durable_snapshot().map(|l| l.index), Some(4));
    }

    /// Replaces the stored snapshot's bytes behind the store's back.
    fn overwrite_stored(dir: &std::path::Path, bytes: &[u8]) {
        let (_log, sm) = crate::storage::open(dir).expect("opens");
        sm.db.put_cf(sm.cf(), KEY_DATA, bytes).expect("writes");
        sm.db.flush_cf(sm.cf()).expect("flushes");
    }

    #[tokio::test]
    async fn open_refuses_a_damaged_stored_snapshot_naming_what_is_wrong() {
        let (_, sealed) = newer_snapshot().await;
        for (expected, bytes) in damaged(&sealed) {
            let tmp = tempfile::tempdir().expect("temp dir");
            drop(old_store(tmp.path()).await);
            overwrite_stored(tmp.path(), &bytes);
            let err = match crate::storage::open(tmp.path()) {
                Ok(_) => panic!("{expected}: a damaged stored snapshot opens"),
                Err(e) => e,
            };
            assert!(
                matches!(
                    err,
                    crate::storage::OpenError::Snapshot {
                        source: SnapshotError::Envelope { .. },
                        ..
                    }
                ),
                "{expected}: {err}"
            );
            assert!(err.to_string().contains(expected), "{expected}: {err}");
        }
    }

    #[tokio::test]
    async fn a_stored_snapshot_from_before_the_envelope_is_sealed_at_open() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let sm = old_store(tmp.path()).await;
        let hash = sm.shared().read().unwrap().state_hash();
        // The same state as an older build stored it: format 1, unsealed,
        // every audit record inline (and none in the audit column family).
        let (machine, whole_journal) = {
            let state = sm.shared();
            let state = state.read().unwrap();
            let len = state.journal.audit().len();
            let records = sm.audit().page(0, 100, len).unwrap();
            let chain = crate::machine::AuditLog::resume(0, [0; 32], records).unwrap();
            (
                state.machine.clone(),
                state.journal.clone().with_audit(chain),
            )
        };
        let payload = crate::machine::encode_legacy_snapshot(&machine, &whole_journal);
        drop(sm);
        overwrite_stored(tmp.path(), &payload);
        {
            let (_log, sm) = crate::storage::open(tmp.path()).expect("opens");
            let cf = sm.db.cf_handle(crate::storage::CF_AUDIT).expect("audit cf");
            sm.db
                .delete_range_cf(cf, [0u8; 8], [0xffu8; 8])
                .expect("empties the audit column family");
        }
        let (log, sm) = crate::storage::open(tmp.path()).expect("a legacy snapshot converts");
        assert_eq!(sm.shared().read().unwrap().state_hash(), hash);
        let len = whole_journal.audit().len();
        assert_eq!(
            sm.audit().page(0, 100, len).unwrap(),
            whole_journal.audit().pending(),
            "the records moved to the audit column family"
        );
        let (_, stored) = sm.read_stored().unwrap().expect("stored");
        let converted = crate::machine::encode_snapshot(&machine, &whole_journal);
        assert_eq!(
            snapshot_file::open(&stored),
            Ok(&converted[..]),
            "sealed in place, in today's format"
        );

        // Unsealed bytes that are not a canonical sale state stay refused.
        drop((log, sm));
        let mut garbage = payload.clone();
        garbage.push(0);
        overwrite_stored(tmp.path(), &garbage);
        let err = crate::storage::open(tmp.path()).err().expect("refused");
        assert!(
            err.to_string().contains("not an IngressoJá snapshot"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_snapshot_older_than_the_stored_one_is_not_written() {
        // openraft builds in a task of its own: a build of the state before
        // an install may finish after it, and must not replace it.
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut sm = old_store(tmp.path()).await;
        let (old_meta, old_sealed) = sm.read_stored().unwrap().expect("stored");
        let (meta, sealed) = newer_snapshot().await;
        let mut received = sm.begin_receiving_snapshot().await.unwrap();
        *received = Cursor::new(sealed.clone());
        sm.install_snapshot(&meta, received)
            .await
            .expect("installs");
        let err = sm
            .persist(&old_meta, &old_sealed, |_| {})
            .expect_err("an older snapshot is refused");
        assert!(matches!(err, SnapshotError::Older { .. }), "{err}");
        assert_eq!(sm.read_stored().unwrap().expect("stored").1, sealed);
        assert_eq!(sm.durable_snapshot().map(|l| l.index), Some(4));
    }
}
