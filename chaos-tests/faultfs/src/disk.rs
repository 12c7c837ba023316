//! The disk's state behind the FUSE calls and the control socket: the
//! inode map, the open files, the unsynced changes of every file, and the
//! faults switched on.
//!
//! One lock guards it all: the chaos workload is a few hundred writes a
//! second, and one order for every change keeps a power cut exact.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::faults::Faults;
use crate::inodes::Inodes;
use crate::unsynced::{Loss, Unsynced};

/// What a power cut did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PowerLossReport {
    /// Files cut back to their last fsync.
    pub reverted: usize,
    /// Files created and never synced, removed.
    pub removed: usize,
}

/// Everything the lock guards.
#[derive(Debug, Default)]
pub struct State {
    /// Inode numbers of the backing paths.
    pub inodes: Inodes,
    /// Open files by handle: the inode and the backing file.
    pub handles: HashMap<u64, (u64, File)>,
    /// Open directories by handle: their entries as listed at `opendir`,
    /// so a listing is stable while files are removed under it.
    pub listings: HashMap<u64, Vec<(u64, fuser::FileType, String)>>,
    /// The next handle number.
    pub next_handle: u64,
    /// Unsynced changes by inode.
    pub unsynced: HashMap<u64, Unsynced>,
    /// The faults switched on.
    pub faults: Faults,
}

/// The disk: a backing directory and the [`State`] over it.
#[derive(Debug)]
pub struct Disk {
    backing: PathBuf,
    state: Mutex<State>,
}

impl Disk {
    /// A disk over `backing`, which must exist.
    pub fn new(backing: PathBuf) -> Disk {
        Disk {
            backing,
            state: Mutex::new(State::default()),
        }
    }

    /// The backing path of `relative`.
    pub fn backing(&self, relative: &Path) -> PathBuf {
        if relative.as_os_str().is_empty() {
            self.backing.clone()
        } else {
            self.backing.join(relative)
        }
    }

    /// The state, locked (a panic elsewhere does not poison the disk).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loses everything not fsynced: every file with unsynced changes is
    /// reverted to its last fsync, or removed if it never had one. A file
    /// that cannot be put back does not stop the others; the first such
    /// error is returned after all were tried.
    pub fn power_loss(&self) -> io::Result<PowerLossReport> {
        let mut state = self.lock();
        let mut report = PowerLossReport::default();
        let mut first_error = None;
        let unsynced: Vec<(u64, Unsynced)> = state.unsynced.drain().collect();
        // The process that had them open is dead: its handles are stale.
        state.handles.clear();
        for (ino, changes) in unsynced {
            let Some(relative) = state.inodes.path(ino).map(Path::to_path_buf) else {
                continue; // unlinked since: gone either way
            };
            let path = self.backing(&relative);
            let lost = match changes.loss() {
                Loss::Remove => match std::fs::remove_file(&path) {
                    Ok(()) => {
                        report.removed += 1;
                        state.inodes.forget(&relative);
                        Ok(())
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e),
                },
                Loss::Revert => OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .and_then(|file| changes.revert(&file))
                    .map(|()| report.reverted += 1),
            };
            if let Err(e) = lost {
                first_error.get_or_insert(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", relative.display()),
                ));
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// The directory `dir` (relative) was fsynced: the files created in it
    /// keep their entries through a power cut.
    pub fn entries_synced(&self, dir: &Path) {
        let mut state = self.lock();
        let state = &mut *state;
        for (ino, changes) in state.unsynced.iter_mut() {
            let in_dir = state
                .inodes
                .path(*ino)
                .is_some_and(|p| p.parent() == Some(dir));
            if in_dir {
                changes.entry_synced();
            }
        }
    }
}

impl State {
    /// The unsynced changes of `ino`, starting a journal for a file that
    /// was in sync at `file`'s current length.
    pub fn unsynced_of(&mut self, ino: u64, file: &File) -> io::Result<&mut Unsynced> {
        Ok(match self.unsynced.entry(ino) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert(Unsynced::from_synced(file.metadata()?.len())),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileExt;

    use super::*;

    #[test]
    fn a_power_loss_reverts_written_files_and_removes_created_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old"), b"synced").unwrap();
        std::fs::write(dir.path().join("new"), b"never synced").unwrap();
        std::fs::write(dir.path().join("clean"), b"untouched").unwrap();
        let disk = Disk::new(dir.path().to_path_buf());
        {
            let mut state = disk.lock();
            let old = state.inodes.number(Path::new("old"));
            let new = state.inodes.number(Path::new("new"));
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(dir.path().join("old"))
                .unwrap();
            state
                .unsynced_of(old, &file)
                .unwrap()
                .before_write(&file, 6, 5)
                .unwrap();
            file.write_all_at(b" more", 6).unwrap();
            state.unsynced.insert(new, Unsynced::created());
        }
        let report = disk.power_loss().unwrap();
        assert_eq!(
            report,
            PowerLossReport {
                reverted: 1,
                removed: 1
            }
        );
        assert_eq!(std::fs::read(dir.path().join("old")).unwrap(), b"synced");
        assert!(!dir.path().join("new").exists());
        assert_eq!(
            std::fs::read(dir.path().join("clean")).unwrap(),
            b"untouched"
        );
        assert_eq!(
            disk.power_loss().unwrap(),
            PowerLossReport::default(),
            "nothing left to lose"
        );
    }
}
