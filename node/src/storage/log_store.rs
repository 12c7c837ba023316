//! The Raft log and vote in RocksDB, behind [`RaftLogStorage`].
//!
//! **Purge waits for the snapshot it relies on.** openraft 0.9 queues a
//! snapshot install on the state-machine worker and then runs `PurgeLog` on
//! this store at once, waiting on nothing: written straight away, a purge
//! marker could reach the disk while the installed snapshot is still being
//! written, and a crash in between left the old snapshot, a log purged past
//! it and a node that could not start. So [`LogStore::purge`] only records
//! the request; the purge (marker and deletion, one atomic batch) is written
//! with the first write of this store once the state machine's *durable*
//! snapshot covers it — at once on a leader, whose snapshot is durable before
//! openraft asks to purge behind it; after the flush on a follower that
//! installs one. Until then the purged entries stay on disk and are hidden
//! from readers. `purge` does not wait for the snapshot instead: openraft
//! runs it inline in its core loop, which would then stop answering
//! heartbeats and votes for as long as a large snapshot takes to write.
//! The one write that waits is an append that would leave a gap on disk
//! behind such a pending purge (see [`LogStore::append_entries`]).
//!
//! At open, [`LogStore::open`] refuses a log purged past the stored snapshot
//! (or purged with no snapshot) with [`super::OpenError::PurgedPastSnapshot`],
//! and completes a purge a crash interrupted after the snapshot became
//! durable (see [`LogStore::open`]).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, OptionalSend, RaftLogReader, StorageIOError, Vote};
use rocksdb::{Direction, IteratorMode, WriteBatch, WriteOptions, DB};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;

use super::{OpenError, CF_LOG, CF_META};
use crate::raft_types::{Entry, LogId, NodeId, StorageError, TypeConfig};

pub(super) const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
pub(super) const KEY_PURGED: &[u8] = b"last_purged";

/// Longest an append waits for the snapshot a pending purge relies on (see
/// [`LogStore::append_entries`]): far above the write of the largest
/// snapshot seen (450 MB), short enough that a stuck install stops Raft with
/// a clear error instead of hanging it.
pub(crate) const SNAPSHOT_WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// What this process knows about purging (shared by all clones of a store).
#[derive(Debug, Default)]
struct PurgeState {
    /// The last purge openraft asked for.
    requested: Option<LogId>,
    /// The purge point on disk.
    durable: Option<LogId>,
}

impl PurgeState {
    /// Entries up to this one are gone, as far as openraft is concerned.
    fn floor(&self) -> Option<LogId> {
        self.requested.max(self.durable)
    }
}

/// The log store: cheap to clone, all clones share one database.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    /// The last log id covered by the state machine's durable snapshot.
    snapshot: watch::Receiver<Option<LogId>>,
    purge: Arc<Mutex<PurgeState>>,
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn key_index(key: &[u8]) -> Result<u64, StorageError> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| {
        StorageIOError::read_logs(openraft::AnyError::error("log key is not 8 bytes"))
    })?;
    Ok(u64::from_be_bytes(bytes))
}

fn synced() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}

fn covers(snapshot: Option<LogId>, purge: LogId) -> bool {
    snapshot.is_some_and(|s| s.index >= purge.index)
}

impl LogStore {
    /// Opens the log over `db`, beside a state machine whose durable snapshot
    /// `snapshot` reports. Refuses a log purged past that snapshot (its
    /// entries would be lost: openraft would fail re-applying them, or build
    /// an empty snapshot over them). If a crash interrupted the purge behind
    /// a durable installed snapshot — the log lacks the snapshot's own entry,
    /// so the entries before and after it do not meet — it completes it:
    /// exactly what openraft had asked, and the only way the log has no hole.
    pub(crate) fn open(
        db: Arc<DB>,
        snapshot: watch::Receiver<Option<LogId>>,
    ) -> Result<Self, OpenError> {
        let store = LogStore {
            db,
            snapshot,
            purge: Arc::default(),
        };
        // The path is filled in by `storage::open`.
        let read = |e: StorageError| OpenError::Log {
            path: String::new(),
            reason: e.to_string(),
        };
        let purged: Option<LogId> = store.get_meta(KEY_PURGED).map_err(read)?;
        let covered = *store.snapshot.borrow();
        if let Some(purged) = purged {
            if !covers(covered, purged) {
                return Err(OpenError::PurgedPastSnapshot {
                    path: String::new(),
                    purged: purged.index,
                    snapshot: covered.map(|s| s.index),
                });
            }
        }
        store.lock_purge().durable = purged;
        if let Some(s) = covered {
            if purged.is_none_or(|p| p.index < s.index)
                && store.entry_log_id(s.index).map_err(read)? != Some(s)
            {
                tracing::warn!(snapshot = %s, "completing a purge interrupted by a crash");
                store.lock_purge().requested = Some(s);
                store
                    .write_with_purge(WriteBatch::default(), true)
                    .map_err(read)?;
            }
        }
        Ok(store)
    }

    /// The member marker beside this log (see [`crate::member`]).
    pub fn marker_store(&self) -> super::MarkerStore {
        super::MarkerStore::new(self.db.clone())
    }

    fn lock_purge(&self) -> std::sync::MutexGuard<'_, PurgeState> {
        self.purge.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cf_log(&self) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(CF_LOG)
            .expect("column family `log` is created at open")
    }

    fn cf_meta(&self) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(CF_META)
            .expect("column family `meta` is created at open")
    }

    fn get_meta<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StorageError> {
        let bytes = self
            .db
            .get_cf(self.cf_meta(), key)
            .map_err(|e| StorageIOError::read(&e))?;
        bytes
            .map(|b| serde_json::from_slice(&b).map_err(|e| StorageIOError::read(&e).into()))
            .transpose()
    }

    fn meta_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
        serde_json::to_vec(value).map_err(|e| StorageIOError::write(&e).into())
    }

    /// Writes `batch`, adding the requested purge to it if the durable
    /// snapshot now covers it, so the purge is as atomic as the batch.
    ///
    /// The purge lock is not held across the write: readers (replication
    /// on a leader) take it to learn the purge point and must not wait for
    /// an append's fsync. Only openraft's core writes, one call at a time,
    /// and writing the same purge twice is harmless.
    fn write_with_purge(&self, mut batch: WriteBatch, sync: bool) -> Result<(), StorageError> {
        let ready = {
            let purge = self.lock_purge();
            purge
                .requested
                .filter(|r| Some(*r) > purge.durable && covers(*self.snapshot.borrow(), *r))
        };
        if let Some(upto) = ready {
            batch.put_cf(self.cf_meta(), KEY_PURGED, Self::meta_bytes(&upto)?);
            batch.delete_range_cf(self.cf_log(), index_key(0), index_key(upto.index + 1));
        }
        if batch.is_empty() {
            return Ok(());
        }
        let opts = if sync || ready.is_some() {
            synced()
        } else {
            WriteOptions::default()
        };
        self.db
            .write_opt(batch, &opts)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        if ready.is_some() {
            let mut purge = self.lock_purge();
            purge.durable = purge.durable.max(ready);
        }
        Ok(())
    }

    /// Starts an empty log right after `snapshot` (taken from a backup): the
    /// entries up to it count as purged and committed, and `vote` is the term
    /// this node starts from, so its first election is for a later term.
    pub(crate) fn seed_after_snapshot(
        &self,
        snapshot: LogId,
        vote: &Vote<NodeId>,
    ) -> Result<(), StorageError> {
        if self.last_entry_log_id()?.is_some() {
            return Err(StorageIOError::write_logs(openraft::AnyError::error(
                "refusing to seed a log that already holds entries",
            ))
            .into());
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf_meta(), KEY_VOTE, Self::meta_bytes(vote)?);
        batch.put_cf(
            self.cf_meta(),
            KEY_COMMITTED,
            Self::meta_bytes(&Some(snapshot))?,
        );
        self.lock_purge().requested = Some(snapshot);
        self.write_with_purge(batch, true)?;
        if self.lock_purge().durable != Some(snapshot) {
            return Err(StorageIOError::write_logs(openraft::AnyError::error(
                "seeding after a snapshot that is not durable",
            ))
            .into());
        }
        Ok(())
    }

    /// Appends `entries` in one synced batch (with a purge that became ready).
    ///
    /// One case waits: entries that would leave a gap on disk after a purge
    /// still waiting for its snapshot (a follower that installs a snapshot
    /// past its log, then is sent the entries after it before the snapshot
    /// is durable — possible when a new leader takes over mid-install).
    /// Written at once, a crash would leave the old snapshot and a log with a
    /// hole that openraft takes for whole; so they wait until the snapshot is
    /// durable, then go in the same batch as the purge.
    pub(crate) async fn append_entries(
        &self,
        entries: impl IntoIterator<Item = Entry>,
    ) -> Result<(), StorageError> {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let Some(first) = entries.first().map(|e| e.log_id.index) else {
            return Ok(());
        };
        let pending = {
            let purge = self.lock_purge();
            purge
                .requested
                .filter(|r| Some(*r) > purge.durable && !covers(*self.snapshot.borrow(), *r))
        };
        if let Some(upto) = pending {
            let on_disk = self.last_entry_log_id()?.max(self.lock_purge().durable);
            let next = on_disk.map_or(0, |l| l.index + 1);
            if first > next {
                tracing::info!(purge = %upto, first, "append waits for the snapshot its purge relies on");
                self.wait_for_snapshot(upto).await?;
            }
        }
        let mut batch = WriteBatch::default();
        for entry in &entries {
            let bytes = serde_json::to_vec(entry).map_err(|e| StorageIOError::write_logs(&e))?;
            batch.put_cf(self.cf_log(), index_key(entry.log_id.index), bytes);
        }
        #[cfg(feature = "planted-bugs")]
        if crate::planted::storage::skips_append_sync() {
            return self.write_with_purge(batch, false);
        }
        self.write_with_purge(batch, true)
    }

    /// Waits until the durable snapshot covers `upto`, for at most [`SNAPSHOT_WAIT_LIMIT`].
    async fn wait_for_snapshot(&self, upto: LogId) -> Result<(), StorageError> {
        let mut snapshot = self.snapshot.clone();
        let waited =
            tokio::time::timeout(SNAPSHOT_WAIT_LIMIT, snapshot.wait_for(|s| covers(*s, upto)))
                .await;
        let reason = match waited {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(_)) => format!(
                "the state machine shut down before the snapshot covering {upto} became durable"
            ),
            Err(_) => format!(
                "the snapshot covering {upto} was not durable after {} s",
                SNAPSHOT_WAIT_LIMIT.as_secs()
            ),
        };
        Err(StorageIOError::write_logs(openraft::AnyError::error(reason)).into())
    }

    /// Records a purge up to `log_id`; it reaches the disk once a durable
    /// snapshot covers it (at once if one does).
    pub(crate) fn request_purge(&self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut purge = self.lock_purge();
            purge.requested = purge.requested.max(Some(log_id));
        }
        if !covers(*self.snapshot.borrow(), log_id) {
            tracing::info!(purge = %log_id, "purge deferred until the snapshot covering it is durable");
        }
        self.write_with_purge(WriteBatch::default(), true)
    }

    /// The purge point on disk (not the one requested), for the crash tests.
    #[cfg(test)]
    pub(crate) fn durable_purge(&self) -> Option<LogId> {
        self.lock_purge().durable
    }

    fn entry_log_id(&self, index: u64) -> Result<Option<LogId>, StorageError> {
        let bytes = self
            .db
            .get_cf(self.cf_log(), index_key(index))
            .map_err(|e| StorageIOError::read_logs(&e))?;
        bytes
            .map(|b| {
                serde_json::from_slice::<Entry>(&b)
                    .map(|e| e.log_id)
                    .map_err(|e| StorageIOError::read_logs(&e).into())
            })
            .transpose()
    }

    fn last_entry_log_id(&self) -> Result<Option<LogId>, StorageError> {
        let mut iter = self.db.iterator_cf(self.cf_log(), IteratorMode::End);
        match iter.next() {
            None => Ok(None),
            Some(Err(e)) => Err(StorageIOError::read_logs(&e).into()),
            Some(Ok((_, value))) => {
                let entry: Entry =
                    serde_json::from_slice(&value).map_err(|e| StorageIOError::read_logs(&e))?;
                Ok(Some(entry.log_id))
            }
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        // Purged entries may still be on disk (a deferred purge): never return them.
        let floor = self.lock_purge().floor();
        let start = start.max(floor.map_or(0, |f| f.index.saturating_add(1)));
        let mut entries = Vec::new();
        let mode = IteratorMode::From(&index_key(start), Direction::Forward);
        for item in self.db.iterator_cf(self.cf_log(), mode) {
            let (key, value) = item.map_err(|e| StorageIOError::read_logs(&e))?;
            let index = key_index(&key)?;
            if !range.contains(&index) {
                break;
            }
            let entry: Entry =
                serde_json::from_slice(&value).map_err(|e| StorageIOError::read_logs(&e))?;
            entries.push(entry);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged = self.lock_purge().floor();
        // Entries at or below the purge point may linger until a deferred
        // purge is written: the last log id is never below the purge point.
        let last = self.last_entry_log_id()?.max(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf_meta(), KEY_VOTE, Self::meta_bytes(vote)?);
        self.write_with_purge(batch, true)
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.get_meta(KEY_VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not synced: losing it only means re-learning the commit index from
        // the leader (a purge riding along is synced, see write_with_purge).
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf_meta(), KEY_COMMITTED, Self::meta_bytes(&committed)?);
        self.write_with_purge(batch, false)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.get_meta::<Option<LogId>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        match self.append_entries(entries).await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.cf_log(), index_key(log_id.index), index_key(u64::MAX));
        // delete_range excludes the end key.
        batch.delete_cf(self.cf_log(), index_key(u64::MAX));
        self.write_with_purge(batch, true)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.request_purge(log_id)
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload, RaftSnapshotBuilder};

    use super::*;
    use crate::storage::OpenError;

    fn id(index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(1, 1), index)
    }

    fn blanks(range: std::ops::Range<u64>) -> Vec<Entry> {
        range
            .map(|i| Entry {
                log_id: id(i),
                payload: EntryPayload::Blank,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_purge_is_written_only_once_a_durable_snapshot_covers_it() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (mut log, mut sm) = crate::storage::open(tmp.path()).expect("opens");
        log.append_entries(blanks(0..6)).await.expect("appends");
        log.purge(id(3)).await.expect("accepted");
        assert_eq!(log.durable_purge(), None, "no snapshot covers it yet");
        let read = log.try_get_log_entries(0..10).await.expect("reads");
        assert_eq!(read, blanks(4..6), "purged entries are hidden meanwhile");
        let state = log.get_log_state().await.expect("state");
        assert_eq!(state.last_purged_log_id, Some(id(3)));

        openraft::storage::RaftStateMachine::apply(&mut sm, blanks(0..4))
            .await
            .expect("applies");
        sm.build_snapshot().await.expect("builds");
        log.save_committed(Some(id(5))).await.expect("commits");
        assert_eq!(
            log.durable_purge(),
            Some(id(3)),
            "written with the next write"
        );
        drop((log, sm));
        let (mut log, _sm) = crate::storage::open(tmp.path()).expect("reopens");
        let state = log.get_log_state().await.expect("state");
        assert_eq!(state.last_purged_log_id, Some(id(3)));
        assert_eq!(state.last_log_id, Some(id(5)));
    }

    #[tokio::test]
    async fn an_append_past_a_pending_purge_fails_clearly_if_the_state_machine_is_gone() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (log, sm) = crate::storage::open(tmp.path()).expect("opens");
        log.append_entries(blanks(0..3)).await.expect("appends");
        log.request_purge(id(5)).expect("accepted");
        drop(sm);
        let err = log
            .append_entries(blanks(6..7))
            .await
            .expect_err("nothing will make the purge's snapshot durable");
        assert!(err.to_string().contains("shut down"), "{err}");
        // An append that leaves no gap does not wait.
        log.append_entries(blanks(3..4)).await.expect("appends");
    }

    #[tokio::test]
    async fn open_refuses_a_log_purged_past_its_snapshot() {
        let tmp = tempfile::tempdir().expect("temp dir");
        {
            let (log, _sm) = crate::storage::open(tmp.path()).expect("opens");
            // As the old code could leave it: the marker, and no snapshot.
            let bytes = serde_json::to_vec(&id(5)).expect("encodes");
            log.db
                .put_cf_opt(log.cf_meta(), KEY_PURGED, bytes, &synced())
                .expect("writes");
        }
        let err = match crate::storage::open(tmp.path()) {
            Ok(_) => panic!("a log purged past its snapshot opens"),
            Err(e) => e,
        };
        assert!(
            matches!(
                err,
                OpenError::PurgedPastSnapshot {
                    purged: 5,
                    snapshot: None,
                    ..
                }
            ),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains("up to index 5"), "{message}");
        assert!(message.contains("there is no snapshot"), "{message}");
        assert!(
            message.contains(&tmp.path().display().to_string()),
            "{message}"
        );
    }
}
