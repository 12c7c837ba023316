//! Inode numbers for the paths under the backing directory: the kernel
//! names files by number, the backing directory by path.
//!
//! Numbers are handed out on first sight and kept while the file exists;
//! a rename moves the number (and those of everything under a directory)
//! to the new path, an unlink forgets it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The root directory's inode number (FUSE's).
pub const ROOT: u64 = 1;

/// The two-way map between inode numbers and paths relative to the backing
/// directory (the root is the empty path).
#[derive(Debug)]
pub struct Inodes {
    paths: HashMap<u64, PathBuf>,
    numbers: HashMap<PathBuf, u64>,
    next: u64,
}

impl Default for Inodes {
    fn default() -> Self {
        let mut inodes = Inodes {
            paths: HashMap::new(),
            numbers: HashMap::new(),
            next: ROOT + 1,
        };
        inodes.paths.insert(ROOT, PathBuf::new());
        inodes.numbers.insert(PathBuf::new(), ROOT);
        inodes
    }
}

impl Inodes {
    /// The path of inode `ino`, if it is known.
    pub fn path(&self, ino: u64) -> Option<&Path> {
        self.paths.get(&ino).map(PathBuf::as_path)
    }

    /// The number of `path`, handing out a new one on first sight.
    pub fn number(&mut self, path: &Path) -> u64 {
        if let Some(ino) = self.numbers.get(path) {
            return *ino;
        }
        let ino = self.next;
        self.next += 1;
        self.paths.insert(ino, path.to_path_buf());
        self.numbers.insert(path.to_path_buf(), ino);
        ino
    }

    /// The number of `path` if it has one.
    pub fn known(&self, path: &Path) -> Option<u64> {
        self.numbers.get(path).copied()
    }

    /// Forgets `path` (unlinked or removed); its number, if it had one.
    pub fn forget(&mut self, path: &Path) -> Option<u64> {
        let ino = self.numbers.remove(path)?;
        self.paths.remove(&ino);
        Some(ino)
    }

    /// Moves `from` (and everything under it) to `to`.
    pub fn rename(&mut self, from: &Path, to: &Path) {
        let moved: Vec<(PathBuf, u64)> = self
            .numbers
            .iter()
            .filter(|(p, _)| p.starts_with(from))
            .map(|(p, ino)| (p.clone(), *ino))
            .collect();
        for (old, ino) in moved {
            let Ok(rest) = old.strip_prefix(from) else {
                continue;
            };
            let new = if rest.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rest)
            };
            self.numbers.remove(&old);
            self.numbers.insert(new.clone(), ino);
            self.paths.insert(ino, new);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable_and_follow_renames() {
        let mut inodes = Inodes::default();
        assert_eq!(inodes.path(ROOT), Some(Path::new("")));
        let dir = inodes.number(Path::new("db"));
        let file = inodes.number(Path::new("db/000001.log"));
        assert_eq!(inodes.number(Path::new("db")), dir);
        inodes.rename(Path::new("db"), Path::new("old"));
        assert_eq!(inodes.path(file), Some(Path::new("old/000001.log")));
        assert_eq!(inodes.known(Path::new("old")), Some(dir));
        assert_eq!(inodes.known(Path::new("db/000001.log")), None);
        assert_eq!(inodes.forget(Path::new("old/000001.log")), Some(file));
        assert_eq!(inodes.path(file), None);
    }

    #[test]
    fn a_rename_does_not_move_a_sibling_sharing_a_prefix() {
        let mut inodes = Inodes::default();
        let a = inodes.number(Path::new("CURRENT"));
        let b = inodes.number(Path::new("CURRENT.tmp"));
        inodes.rename(Path::new("CURRENT.tmp"), Path::new("CURRENT2"));
        assert_eq!(inodes.path(a), Some(Path::new("CURRENT")));
        assert_eq!(inodes.path(b), Some(Path::new("CURRENT2")));
    }
}
