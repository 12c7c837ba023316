//! What a file lost to a power cut: everything written since its last
//! fsync.
//!
//! A write goes to the backing file at once (so reads see it, as they
//! would see the page cache), but first the bytes it overwrites inside the
//! part that was synced are kept, with the length the file had when it was
//! last synced. A power cut puts those bytes back and cuts the file to that
//! length; an fsync forgets them (the data is on the platter). A file
//! created and never synced does not survive at all.
//!
//! This is the LazyFS idea (unsynced data kept apart, dropped on command)
//! turned around: the backing file is always the page cache's view, and the
//! journal is what it takes to get back to the disk's. Directory changes
//! (create aside, rename, unlink) are kept as done: more durable than a real
//! disk, so the layer can miss a bug there but never invents one.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The unsynced changes of one file, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsynced {
    /// The file's length at its last fsync (0 for a file never synced).
    synced_len: u64,
    /// Synced bytes overwritten since: where, and what was there.
    overwritten: Vec<(u64, Vec<u8>)>,
    /// Created since and never synced: a power cut removes it.
    created: bool,
    /// An fsync of it failed. As on Linux, what that fsync should have
    /// written is lost for good (the kernel drops the dirty pages), so a
    /// later fsync that succeeds does not make it durable: only a power
    /// cut ends this journal.
    failed_sync: bool,
}

/// What a power cut does to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// The file never reached the disk: remove it.
    Remove,
    /// Put back what was overwritten and cut to the synced length.
    Revert,
}

impl Unsynced {
    /// A file that was in sync at `len` bytes before this change.
    pub fn from_synced(len: u64) -> Unsynced {
        Unsynced {
            synced_len: len,
            overwritten: Vec::new(),
            created: false,
            failed_sync: false,
        }
    }

    /// A file created now: nothing of it is on the disk.
    pub fn created() -> Unsynced {
        Unsynced {
            synced_len: 0,
            overwritten: Vec::new(),
            created: true,
            failed_sync: false,
        }
    }

    /// The file's directory entry became durable (a rename of it, or an
    /// fsync of its directory): a power cut leaves it, cut to what was
    /// synced (nothing yet), instead of removing it.
    pub fn entry_synced(&mut self) {
        self.created = false;
    }

    /// An fsync of the file failed (see the field's docs).
    pub fn sync_failed(&mut self) {
        self.failed_sync = true;
    }

    /// Whether a successful fsync makes the journal's changes durable (not
    /// after a failed one).
    pub fn clears_on_sync(&self) -> bool {
        !self.failed_sync
    }

    /// What a power cut does to this file.
    pub fn loss(&self) -> Loss {
        if self.created {
            Loss::Remove
        } else {
            Loss::Revert
        }
    }

    /// Bytes kept to undo overwrites (what this journal costs in memory).
    pub fn kept_bytes(&self) -> usize {
        self.overwritten.iter().map(|(_, b)| b.len()).sum()
    }

    /// Call before writing `len` bytes at `offset` of `file`: keeps the
    /// synced bytes the write is about to cover.
    pub fn before_write(&mut self, file: &File, offset: u64, len: u64) -> io::Result<()> {
        let end = offset.saturating_add(len).min(self.synced_len);
        self.keep(file, offset, end)
    }

    /// Call before cutting `file` to `new_len`: keeps the synced bytes the
    /// cut removes.
    pub fn before_truncate(&mut self, file: &File, new_len: u64) -> io::Result<()> {
        self.keep(file, new_len, self.synced_len)
    }

    /// Keeps the bytes of `start..end` that the file still has (bytes past
    /// its end were kept by the cut that removed them).
    fn keep(&mut self, file: &File, start: u64, end: u64) -> io::Result<()> {
        let end = end.min(file.metadata()?.len());
        if start >= end {
            return Ok(());
        }
        let len = usize::try_from(end - start)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "range too large"))?;
        let mut old = vec![0; len];
        file.read_exact_at(&mut old, start)?;
        self.overwritten.push((start, old));
        Ok(())
    }

    /// Takes `file` back to what its last fsync made durable (only for
    /// [`Loss::Revert`]; a created file is removed instead).
    pub fn revert(&self, file: &File) -> io::Result<()> {
        // Extend first if a cut made it shorter, so the kept bytes fit.
        if file.metadata()?.len() < self.synced_len {
            file.set_len(self.synced_len)?;
        }
        for (offset, bytes) in self.overwritten.iter().rev() {
            file.write_all_at(bytes, *offset)?;
        }
        file.set_len(self.synced_len)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        (dir, path, file)
    }

    fn contents(path: &std::path::Path) -> Vec<u8> {
        let mut out = Vec::new();
        File::open(path).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn appends_since_the_sync_are_cut_off() {
        let (_dir, path, file) = file_with(b"synced");
        let mut unsynced = Unsynced::from_synced(6);
        unsynced.before_write(&file, 6, 4).unwrap();
        file.write_all_at(b"+new", 6).unwrap();
        assert_eq!(contents(&path), b"synced+new");
        assert_eq!(
            unsynced.kept_bytes(),
            0,
            "an append overwrites nothing synced"
        );
        unsynced.revert(&file).unwrap();
        assert_eq!(contents(&path), b"synced");
    }

    #[test]
    fn overwrites_of_synced_bytes_are_put_back_in_order() {
        let (_dir, path, file) = file_with(b"abcdef");
        let mut unsynced = Unsynced::from_synced(6);
        unsynced.before_write(&file, 1, 2).unwrap();
        file.write_all_at(b"XY", 1).unwrap();
        unsynced.before_write(&file, 2, 6).unwrap();
        file.write_all_at(b"123456", 2).unwrap();
        assert_eq!(contents(&path), b"aX123456");
        unsynced.revert(&file).unwrap();
        assert_eq!(contents(&path), b"abcdef");
    }

    #[test]
    fn a_cut_below_the_synced_length_is_undone() {
        let (_dir, path, file) = file_with(b"abcdef");
        let mut unsynced = Unsynced::from_synced(6);
        unsynced.before_truncate(&file, 2).unwrap();
        file.set_len(2).unwrap();
        unsynced.before_write(&file, 2, 3).unwrap();
        file.write_all_at(b"zzz", 2).unwrap();
        unsynced.revert(&file).unwrap();
        assert_eq!(contents(&path), b"abcdef");
    }

    #[test]
    fn a_created_file_is_removed_and_a_synced_one_reverted() {
        assert_eq!(Unsynced::created().loss(), Loss::Remove);
        assert_eq!(Unsynced::from_synced(0).loss(), Loss::Revert);
        let mut renamed = Unsynced::created();
        renamed.entry_synced();
        assert_eq!(
            renamed.loss(),
            Loss::Revert,
            "its entry is durable: kept, empty"
        );
    }

    #[test]
    fn after_a_failed_fsync_a_later_one_does_not_make_the_data_durable() {
        let mut unsynced = Unsynced::from_synced(3);
        assert!(unsynced.clears_on_sync());
        unsynced.sync_failed();
        assert!(!unsynced.clears_on_sync());
    }
}
