//! Crash-shaped tests: each write kind, and each step of a snapshot install,
//! is done by a child process (this test binary, run again on one scenario)
//! that is killed with SIGKILL right after it; the parent then reopens the
//! database and checks what came back, as a restarted node would find it.
//!
//! SIGKILL keeps the page cache, so this is a process crash, not a power
//! loss: writes RocksDB made to its files survive even unsynced, and what it
//! kept only in memory (the snapshot column family's memtable, written past
//! the write-ahead log until its flush) is lost — the window the snapshot
//! and purge ordering must survive. Power loss needs the FUSE layer of issue
//! 16; synced writes are all this code relies on for that.

use std::io::{BufRead, BufReader, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use openraft::storage::{RaftLogStorage, RaftStateMachine, StorageHelper};
use openraft::{CommittedLeaderId, EntryPayload, RaftLogReader, RaftSnapshotBuilder, Vote};

use super::state_machine::InstallStep;
use super::{snapshot_file, LogStore, StateMachineStore};
use crate::machine::testing::{create_event_cmd, hold_cmd, register_cmd, CUSTOMERS};
use crate::machine::{Command, Proposal, Request};
use crate::raft_types::{Entry, LogId, SnapshotMeta};

const SCENARIO_ENV: &str = "INGRESSOJA_STORAGE_CRASH_SCENARIO";
const DIR_ENV: &str = "INGRESSOJA_STORAGE_CRASH_DIR";
const REACHED: &str = "INGRESSOJA-CRASH-POINT-REACHED";

fn id(index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

/// Entry `i` of a small sale: a blank first entry, an event and three
/// customers, then one single-ticket hold per entry.
fn sale_entry(i: u64) -> Entry {
    let commands: Vec<Command> = match i {
        0 => {
            return Entry {
                log_id: id(0),
                payload: EntryPayload::Blank,
            }
        }
        1 => {
            let mut c = vec![create_event_cmd("rock", 10, 4)];
            c.extend(CUSTOMERS[..3].iter().map(|(n, cpf)| register_cmd(n, cpf)));
            c
        }
        _ => vec![hold_cmd(CUSTOMERS[(i as usize - 2) % 3].0, 1)],
    };
    Entry {
        log_id: id(i),
        payload: EntryPayload::Normal(Proposal {
            ts_ms: 1_000 + i * 100,
            requests: commands
                .into_iter()
                .map(|command| Request { key: None, command })
                .collect(),
        }),
    }
}

fn entries(range: Range<u64>) -> Vec<Entry> {
    range.map(sale_entry).collect()
}

fn hash_of(sm: &StateMachineStore) -> [u8; 32] {
    sm.shared().read().expect("not poisoned").state_hash()
}

/// The state hash after applying `range` to an empty machine.
async fn expected_hash(range: Range<u64>) -> [u8; 32] {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (_log, mut sm) = super::open(tmp.path()).expect("opens");
    sm.apply(entries(range)).await.expect("applies");
    hash_of(&sm)
}

/// The snapshot of the sale after `range`, built in a scratch directory, as
/// a leader would stream it: metadata and sealed bytes.
async fn snapshot_after(range: Range<u64>) -> (SnapshotMeta, Vec<u8>) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (_log, mut sm) = super::open(tmp.path()).expect("opens");
    sm.apply(entries(range)).await.expect("applies");
    sm.build_and_stream().await
}

/// The old state every install scenario starts from: entries 0..=3 in the
/// log, committed, applied, and a snapshot at 3.
async fn old_state(log: &mut LogStore, sm: &mut StateMachineStore) {
    log.append_entries(entries(0..4)).await.expect("appends");
    log.save_committed(Some(id(3))).await.expect("commits");
    sm.apply(entries(0..4)).await.expect("applies");
    sm.build_snapshot().await.expect("builds");
}

/// Tells the parent to kill this process now, and waits for it.
fn crash_here() -> ! {
    println!("{REACHED}");
    let _ = std::io::stdout().flush();
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// The scenarios' child side. Does nothing unless the parent set the
/// environment; never returns when it did.
#[test]
#[ignore = "the crash tests run it in a child process, which they kill"]
fn child() {
    let Ok(scenario) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).expect("the parent sets the directory"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run_child(&scenario, &dir));
    crash_here();
}

async fn run_child(scenario: &str, dir: &Path) {
    let (mut log, mut sm) = super::open(dir).expect("the child opens the database");
    match scenario {
        "append" => log.append_entries(entries(0..4)).await.expect("appends"),
        "vote" => log.save_vote(&Vote::new(5, 2)).await.expect("votes"),
        "committed" => {
            log.append_entries(entries(0..4)).await.expect("appends");
            log.save_committed(Some(id(2))).await.expect("commits");
        }
        "truncate" => {
            log.append_entries(entries(0..6)).await.expect("appends");
            log.truncate(id(3)).await.expect("truncates");
        }
        "purge" => {
            log.append_entries(entries(0..6)).await.expect("appends");
            log.save_committed(Some(id(5))).await.expect("commits");
            sm.apply(entries(0..6)).await.expect("applies");
            sm.build_snapshot().await.expect("builds");
            log.purge(id(4)).await.expect("purges");
        }
        "purge-ahead-of-snapshot" => {
            // openraft's order on install: PurgeLog while the snapshot it
            // relies on is not durable yet (here: never written at all).
            log.append_entries(entries(0..6)).await.expect("appends");
            log.save_committed(Some(id(5))).await.expect("commits");
            sm.apply(entries(0..4)).await.expect("applies");
            sm.build_snapshot().await.expect("builds");
            log.purge(id(5)).await.expect("purge is accepted");
            log.save_committed(Some(id(5))).await.expect("commits");
        }
        "apply" => {
            log.append_entries(entries(0..4)).await.expect("appends");
            log.save_committed(Some(id(3))).await.expect("commits");
            sm.apply(entries(0..4)).await.expect("applies");
        }
        "build-snapshot" => old_state(&mut log, &mut sm).await,
        "install-snapshot" => {
            old_state(&mut log, &mut sm).await;
            let (meta, sealed) = snapshot_after(0..7).await;
            let mut received = sm.begin_receiving_snapshot().await.expect("begins");
            *received = std::io::Cursor::new(sealed);
            sm.install_snapshot(&meta, received)
                .await
                .expect("installs");
        }
        other => {
            let step = install_step(other).expect("a known scenario");
            old_state(&mut log, &mut sm).await;
            let (meta, sealed) = snapshot_after(0..7).await;
            let runtime = tokio::runtime::Handle::current();
            sm.install_stepwise(&meta, sealed, |at| {
                if at != step {
                    return;
                }
                // What openraft does beside the install: purge up to the
                // snapshot (queued right after it), and the next append from
                // a leader that does not wait for the install's answer.
                let (done, finished) = mpsc::channel();
                let log = log.clone();
                runtime.spawn(async move {
                    log.request_purge(id(6)).expect("purge is accepted");
                    log.append_entries([sale_entry(7)]).await.expect("appends");
                    let _ = done.send(());
                });
                if at >= InstallStep::Published {
                    finished
                        .recv_timeout(Duration::from_secs(10))
                        .expect("the append goes through once the snapshot is durable");
                } else {
                    assert!(
                        finished.recv_timeout(Duration::from_millis(300)).is_err(),
                        "the append past the purge waits for the snapshot"
                    );
                }
                crash_here();
            })
            .expect("installs");
        }
    }
}

fn install_step(scenario: &str) -> Option<InstallStep> {
    Some(match scenario {
        "install-at-verified" => InstallStep::Verified,
        "install-at-written" => InstallStep::Written,
        "install-at-flushed" => InstallStep::Flushed,
        "install-at-published" => InstallStep::Published,
        "install-at-swapped" => InstallStep::Swapped,
        _ => return None,
    })
}

/// Runs `scenario` in a child process on a fresh directory, kills it at its
/// crash point, and returns the directory (kept alive by the guard).
fn crash(scenario: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    // /proc/self/exe, not current_exe(): it still runs this very binary if
    // a build in the shared target directory has replaced the file since.
    let exe = Path::new("/proc/self/exe");
    let mut child = Process::new(exe)
        .args([
            "--exact",
            "storage::crash_tests::child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO_ENV, scenario)
        .env(DIR_ENV, tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let reached = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains(REACHED));
        let _ = tx.send(reached);
    });
    let reached = rx.recv_timeout(Duration::from_secs(60)).unwrap_or(false);
    let _ = child.kill(); // SIGKILL, by the child's own id
    let output = child.wait_with_output().expect("child is reaped");
    assert!(
        reached,
        "scenario {scenario}: the child never reached its crash point\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    tmp
}

/// Reopens like a restarted node: the stores, then openraft's own start-up
/// (re-apply, log ids, membership); both must succeed. Checks the log reads
/// back without a hole from the purge point to its end.
async fn restart(
    dir: &Path,
) -> (
    LogStore,
    StateMachineStore,
    openraft::RaftState<u64, openraft::BasicNode, tokio::time::Instant>,
) {
    let (mut log, mut sm) = super::open(dir).unwrap_or_else(|e| panic!("reopens: {e}"));
    let state = StorageHelper::new(&mut log, &mut sm)
        .get_initial_state()
        .await
        .unwrap_or_else(|e| panic!("openraft starts on it: {e}"));
    let log_state = log.get_log_state().await.expect("log state");
    let from = log_state.last_purged_log_id.map_or(0, |l| l.index + 1);
    let to = log_state.last_log_id.map_or(0, |l| l.index + 1);
    let read = log.try_get_log_entries(from..to).await.expect("reads");
    let indexes: Vec<u64> = read.iter().map(|e| e.log_id.index).collect();
    assert_eq!(
        indexes,
        (from..to).collect::<Vec<_>>(),
        "the log has no hole"
    );
    (log, sm, state)
}

fn stored_index(sm: &StateMachineStore) -> Option<u64> {
    let stored = sm.read_snapshot().expect("stored snapshot reads");
    stored.and_then(|s| s.meta.last_log_id).map(|l| l.index)
}

#[tokio::test]
async fn append_survives() {
    let dir = crash("append");
    let (mut log, _sm, _) = restart(dir.path()).await;
    let back = log.try_get_log_entries(0..10).await.expect("reads");
    assert_eq!(back, entries(0..4));
}

#[tokio::test]
async fn vote_survives() {
    let dir = crash("vote");
    let (mut log, _sm, _) = restart(dir.path()).await;
    assert_eq!(log.read_vote().await.expect("reads"), Some(Vote::new(5, 2)));
}

#[tokio::test]
async fn committed_survives_a_process_crash() {
    // Written unsynced: a power loss may lose it (the leader re-sends it);
    // a process crash does not.
    let dir = crash("committed");
    let (mut log, sm, state) = restart(dir.path()).await;
    assert_eq!(log.read_committed().await.expect("reads"), Some(id(2)));
    // openraft re-applied up to it at start.
    assert_eq!(state.committed, Some(id(2)));
    assert_eq!(hash_of(&sm), expected_hash(0..3).await);
}

#[tokio::test]
async fn truncate_survives() {
    let dir = crash("truncate");
    let (mut log, _sm, _) = restart(dir.path()).await;
    assert_eq!(
        log.try_get_log_entries(0..10).await.expect("reads"),
        entries(0..3)
    );
    assert_eq!(
        log.get_log_state().await.expect("state").last_log_id,
        Some(id(2))
    );
}

#[tokio::test]
async fn purge_behind_a_durable_snapshot_survives() {
    let dir = crash("purge");
    let (mut log, sm, state) = restart(dir.path()).await;
    assert_eq!(log.durable_purge(), Some(id(4)));
    assert_eq!(
        log.try_get_log_entries(0..10).await.expect("reads"),
        entries(5..6)
    );
    assert_eq!(stored_index(&sm), Some(5));
    assert_eq!(state.committed, Some(id(5)));
    assert_eq!(hash_of(&sm), expected_hash(0..6).await);
}

#[tokio::test]
async fn a_purge_ahead_of_the_snapshot_never_reaches_the_disk() {
    // The failure of issue 16, point 2: before, the purge marker was synced
    // at once and this directory could not start.
    let dir = crash("purge-ahead-of-snapshot");
    let (mut log, sm, state) = restart(dir.path()).await;
    assert_eq!(log.durable_purge(), None);
    assert_eq!(
        log.try_get_log_entries(0..10).await.expect("reads"),
        entries(0..6)
    );
    assert_eq!(stored_index(&sm), Some(3));
    assert_eq!(state.committed, Some(id(5)));
    assert_eq!(
        hash_of(&sm),
        expected_hash(0..6).await,
        "re-applied from the log"
    );
}

#[tokio::test]
async fn applied_state_comes_back_by_re_applying_the_log() {
    let dir = crash("apply");
    let (_log, sm, state) = restart(dir.path()).await;
    assert_eq!(stored_index(&sm), None, "apply alone writes no snapshot");
    assert_eq!(state.committed, Some(id(3)));
    assert_eq!(hash_of(&sm), expected_hash(0..4).await);
}

#[tokio::test]
async fn a_built_snapshot_survives_sealed() {
    let dir = crash("build-snapshot");
    let (_log, mut sm, _) = restart(dir.path()).await;
    assert_eq!(stored_index(&sm), Some(3));
    assert_eq!(hash_of(&sm), expected_hash(0..4).await);
    let current = sm
        .get_current_snapshot()
        .await
        .expect("reads")
        .expect("present");
    let sealed = current.snapshot.into_inner();
    assert!(snapshot_file::open(&sealed).is_ok(), "stored sealed");
}

#[tokio::test]
async fn an_installed_snapshot_survives() {
    let dir = crash("install-snapshot");
    let (_log, sm, _) = restart(dir.path()).await;
    assert_eq!(stored_index(&sm), Some(6));
    assert_eq!(hash_of(&sm), expected_hash(0..7).await);
}

/// A crash at `step` of an install leaves the old state or the new one,
/// whole, and a node that starts; returns which (true: the new one).
async fn install_interrupted_at(scenario: &str, step: InstallStep) -> bool {
    let dir = crash(scenario);
    let (mut log, sm, _) = restart(dir.path()).await;
    let hash = hash_of(&sm);
    let (old, new) = (expected_hash(0..4).await, expected_hash(0..7).await);
    let last = log.get_log_state().await.expect("state").last_log_id;
    if hash == old {
        assert!(
            step <= InstallStep::Written,
            "{step:?}: the new snapshot was durable"
        );
        assert_eq!(stored_index(&sm), Some(3), "old state, old snapshot");
        assert_eq!(log.durable_purge(), None, "no purge past the old snapshot");
        assert_eq!(last, Some(id(3)), "the append past the hole never happened");
        false
    } else {
        assert_eq!(hash, new, "{step:?}: neither the old state nor the new one");
        assert!(
            step >= InstallStep::Written,
            "{step:?}: nothing was written yet"
        );
        assert_eq!(stored_index(&sm), Some(6), "new state, new snapshot");
        assert_eq!(
            log.durable_purge(),
            Some(id(6)),
            "the purge is done, at open if need be"
        );
        if step >= InstallStep::Published {
            assert_eq!(last, Some(id(7)), "the append went in with the purge");
        }
        true
    }
}

#[tokio::test]
async fn install_interrupted_after_verifying_keeps_the_old_state() {
    assert!(!install_interrupted_at("install-at-verified", InstallStep::Verified).await);
}

#[tokio::test]
async fn install_interrupted_before_the_flush_keeps_one_whole_state() {
    // The batch is only in RocksDB's memory: lost whole with the process.
    let new = install_interrupted_at("install-at-written", InstallStep::Written).await;
    assert!(!new, "an unflushed snapshot is expected to be lost");
}

#[tokio::test]
async fn install_interrupted_after_the_flush_has_the_new_state() {
    assert!(install_interrupted_at("install-at-flushed", InstallStep::Flushed).await);
}

#[tokio::test]
async fn install_interrupted_after_publishing_has_the_new_state() {
    assert!(install_interrupted_at("install-at-published", InstallStep::Published).await);
}

#[tokio::test]
async fn install_interrupted_after_the_swap_has_the_new_state() {
    assert!(install_interrupted_at("install-at-swapped", InstallStep::Swapped).await);
}
