//! The FUSE side: every call passed through to the backing directory, with
//! the [`Disk`]'s bookkeeping (unsynced changes) and faults on the way.
//!
//! Attributes and entries are never cached by the kernel (a zero TTL): a
//! power cut changes files under it, and the node restarted on them must
//! see the disk as the cut left it.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    AccessFlags, BsdFileFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, LockOwner, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request,
    TimeOrNow, WriteFlags,
};

use crate::disk::{Disk, State};
use crate::unsynced::Unsynced;

/// Nothing is cached by the kernel (see the module docs).
const TTL: Duration = Duration::ZERO;

/// The FUSE file system over a [`Disk`].
pub struct FaultFs {
    disk: Arc<Disk>,
}

impl FaultFs {
    /// The file system over `disk` (shared with the control socket).
    pub fn new(disk: Arc<Disk>) -> FaultFs {
        FaultFs { disk }
    }

    /// The relative path of `ino`, or `ENOENT`.
    fn path_of(state: &State, ino: INodeNo) -> Result<PathBuf, Errno> {
        state
            .inodes
            .path(ino.0)
            .map(Path::to_path_buf)
            .ok_or(Errno::ENOENT)
    }

    /// `ino`'s attributes from the backing file's metadata.
    fn attr(&self, ino: u64, relative: &Path) -> Result<FileAttr, Errno> {
        let meta = fs::symlink_metadata(self.disk.backing(relative)).map_err(Errno::from)?;
        Ok(attr_of(ino, &meta))
    }

    /// Looks `name` up under `parent`: its number and attributes.
    fn entry(&self, state: &mut State, parent: INodeNo, name: &OsStr) -> Result<FileAttr, Errno> {
        let relative = Self::path_of(state, parent)?.join(name);
        let meta = fs::symlink_metadata(self.disk.backing(&relative)).map_err(Errno::from)?;
        let ino = state.inodes.number(&relative);
        Ok(attr_of(ino, &meta))
    }

    fn open_handle(state: &mut State, ino: u64, file: File) -> u64 {
        state.next_handle += 1;
        let fh = state.next_handle;
        state.handles.insert(fh, (ino, file));
        fh
    }

    /// The file behind handle `fh`, or the backing file of `ino` opened for writing.
    fn file_for(&self, state: &State, ino: INodeNo, fh: Option<FileHandle>) -> Result<File, Errno> {
        if let Some((_, file)) = fh.and_then(|fh| state.handles.get(&fh.0)) {
            return file.try_clone().map_err(Errno::from);
        }
        let relative = Self::path_of(state, ino)?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.disk.backing(&relative))
            .map_err(Errno::from)
    }

    fn set_len(
        &self,
        state: &mut State,
        ino: INodeNo,
        fh: Option<FileHandle>,
        size: u64,
    ) -> Result<(), Errno> {
        let file = self.file_for(state, ino, fh)?;
        let len = file.metadata().map_err(Errno::from)?.len();
        if size > len && state.faults.full {
            return Err(Errno::ENOSPC);
        }
        let unsynced = state.unsynced_of(ino.0, &file).map_err(Errno::from)?;
        unsynced.before_truncate(&file, size).map_err(Errno::from)?;
        file.set_len(size).map_err(Errno::from)
    }

    fn setattr_inner(
        &self,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        fh: Option<FileHandle>,
    ) -> Result<FileAttr, Errno> {
        let mut state = self.disk.lock();
        let relative = Self::path_of(&state, ino)?;
        let path = self.disk.backing(&relative);
        if let Some(mode) = mode {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o7777))
                .map_err(Errno::from)?;
        }
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(&path, uid, gid).map_err(Errno::from)?;
        }
        if let Some(size) = size {
            self.set_len(&mut state, ino, fh, size)?;
        }
        self.attr(ino.0, &relative)
    }

    fn create_inner(
        &self,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
    ) -> Result<(FileAttr, u64), Errno> {
        let mut state = self.disk.lock();
        if state.faults.full {
            return Err(Errno::ENOSPC);
        }
        let relative = Self::path_of(&state, parent)?.join(name);
        let path = self.disk.backing(&relative);
        let existed = path.exists();
        let mut options = open_options(OpenFlags(flags));
        options.create(true).mode(mode & !umask & 0o7777);
        if flags & libc::O_EXCL != 0 {
            options.create_new(true);
        }
        let file = options.open(&path).map_err(Errno::from)?;
        let ino = state.inodes.number(&relative);
        if !existed {
            state.unsynced.insert(ino, Unsynced::created());
        } else if flags & libc::O_TRUNC != 0 {
            // `open_options` leaves O_TRUNC out so the cut is journalled.
            let unsynced = state.unsynced_of(ino, &file).map_err(Errno::from)?;
            unsynced.before_truncate(&file, 0).map_err(Errno::from)?;
            file.set_len(0).map_err(Errno::from)?;
        }
        let fh = Self::open_handle(&mut state, ino, file);
        Ok((self.attr(ino, &relative)?, fh))
    }

    fn open_inner(&self, ino: INodeNo, flags: OpenFlags) -> Result<u64, Errno> {
        let mut state = self.disk.lock();
        let relative = Self::path_of(&state, ino)?;
        let file = open_options(flags)
            .open(self.disk.backing(&relative))
            .map_err(Errno::from)?;
        if flags.0 & libc::O_TRUNC != 0 {
            let unsynced = state.unsynced_of(ino.0, &file).map_err(Errno::from)?;
            unsynced.before_truncate(&file, 0).map_err(Errno::from)?;
            file.set_len(0).map_err(Errno::from)?;
        }
        Ok(Self::open_handle(&mut state, ino.0, file))
    }

    fn write_inner(
        &self,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
    ) -> Result<u32, Errno> {
        let mut state = self.disk.lock();
        if state.faults.full {
            return Err(Errno::ENOSPC);
        }
        let file = self.file_for(&state, ino, Some(fh))?;
        let unsynced = state.unsynced_of(ino.0, &file).map_err(Errno::from)?;
        unsynced
            .before_write(&file, offset, data.len() as u64)
            .map_err(Errno::from)?;
        file.write_all_at(data, offset).map_err(Errno::from)?;
        u32::try_from(data.len()).map_err(|_| Errno::EINVAL)
    }

    fn fsync_inner(&self, ino: INodeNo) -> Result<(), Errno> {
        let delay = self.disk.lock().faults.fsync_delay_ms;
        if delay > 0 {
            // Outside the lock: a slow disk delays its syncs, not every read.
            std::thread::sleep(Duration::from_millis(delay));
        }
        let mut state = self.disk.lock();
        if state.faults.fsync_error {
            if let Some(unsynced) = state.unsynced.get_mut(&ino.0) {
                unsynced.sync_failed();
            }
            return Err(Errno::EIO);
        }
        // Everything written is on the disk now, and a created file survives
        // too; unless an earlier fsync of it failed (see `Unsynced`).
        if state
            .unsynced
            .get(&ino.0)
            .is_some_and(|u| u.clears_on_sync())
        {
            state.unsynced.remove(&ino.0);
        }
        Ok(())
    }

    /// The entries of directory `ino` now: `.`, `..`, then by name.
    fn listing(
        &self,
        state: &mut State,
        ino: INodeNo,
    ) -> Result<Vec<(u64, FileType, String)>, Errno> {
        let relative = Self::path_of(state, ino)?;
        let mut names: Vec<(String, FileType)> = Vec::new();
        for entry in fs::read_dir(self.disk.backing(&relative)).map_err(Errno::from)? {
            let entry = entry.map_err(Errno::from)?;
            let kind = entry
                .file_type()
                .ok()
                .and_then(FileType::from_std)
                .unwrap_or(FileType::RegularFile);
            names.push((entry.file_name().to_string_lossy().into_owned(), kind));
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let parent = relative.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut entries = vec![
            (ino.0, FileType::Directory, ".".to_string()),
            (
                state.inodes.number(&parent),
                FileType::Directory,
                "..".to_string(),
            ),
        ];
        for (name, kind) in names {
            let child = state.inodes.number(&relative.join(&name));
            entries.push((child, kind, name));
        }
        Ok(entries)
    }

    fn readdir_inner(
        &self,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: &mut ReplyDirectory,
    ) -> Result<(), Errno> {
        let mut state = self.disk.lock();
        let entries = match state.listings.get(&fh.0) {
            Some(listed) => listed.clone(),
            None => self.listing(&mut state, ino)?,
        };
        for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, name) {
                break;
            }
        }
        Ok(())
    }

    fn fallocate_inner(
        &self,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Result<(), Errno> {
        let mut state = self.disk.lock();
        if state.faults.full {
            return Err(Errno::ENOSPC);
        }
        let file = self.file_for(&state, ino, Some(fh))?;
        // Journalled at the length before, so growth is cut by a power loss.
        state.unsynced_of(ino.0, &file).map_err(Errno::from)?;
        let (Ok(offset), Ok(length)) = (i64::try_from(offset), i64::try_from(length)) else {
            return Err(Errno::EINVAL);
        };
        // SAFETY: a valid open descriptor and plain integers.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), mode, offset, length) };
        if rc != 0 {
            return Err(Errno::from(io::Error::last_os_error()));
        }
        Ok(())
    }
}

/// Open options for FUSE open flags; `O_TRUNC` is left to the caller, who
/// journals the cut.
fn open_options(flags: OpenFlags) -> OpenOptions {
    let mut options = OpenOptions::new();
    // Write-only opens are read-write here: a write first reads the bytes
    // it overwrites (the kernel has checked the caller's access already).
    match flags.acc_mode() {
        OpenAccMode::O_RDONLY => options.read(true),
        OpenAccMode::O_WRONLY | OpenAccMode::O_RDWR => options.read(true).write(true),
    };
    // Writes come with their offsets: the backing file is written at them.
    let passed = flags.0
        & !(libc::O_ACCMODE | libc::O_TRUNC | libc::O_APPEND | libc::O_CREAT | libc::O_EXCL);
    options.custom_flags(passed & (libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_DIRECTORY));
    options
}

fn time(secs: i64, nsecs: i64) -> SystemTime {
    let nanos = u32::try_from(nsecs).unwrap_or(0);
    match u64::try_from(secs) {
        Ok(secs) => UNIX_EPOCH + Duration::new(secs, nanos),
        Err(_) => UNIX_EPOCH,
    }
}

/// The FUSE attributes of a backing file, under our inode number.
fn attr_of(ino: u64, meta: &fs::Metadata) -> FileAttr {
    let kind = FileType::from_std(meta.file_type()).unwrap_or(FileType::RegularFile);
    FileAttr {
        ino: INodeNo(ino),
        size: meta.len(),
        blocks: meta.blocks(),
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        crtime: time(meta.ctime(), meta.ctime_nsec()),
        kind,
        perm: (meta.mode() & 0o7777) as u16,
        nlink: u32::try_from(meta.nlink()).unwrap_or(u32::MAX),
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: u32::try_from(meta.rdev()).unwrap_or(0),
        blksize: u32::try_from(meta.blksize()).unwrap_or(4096),
        flags: 0,
    }
}

impl Filesystem for FaultFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let mut state = self.disk.lock();
        match self.entry(&mut state, parent, name) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let state = self.disk.lock();
        // Through the handle when there is one: an open file may be unlinked.
        let open = fh.and_then(|fh| state.handles.get(&fh.0));
        let result = match open {
            Some((_, file)) => file
                .metadata()
                .map(|meta| attr_of(ino.0, &meta))
                .map_err(Errno::from),
            None => Self::path_of(&state, ino).and_then(|p| self.attr(ino.0, &p)),
        };
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self.setattr_inner(ino, mode, uid, gid, size, fh) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut state = self.disk.lock();
        if state.faults.full {
            return reply.error(Errno::ENOSPC);
        }
        let result = Self::path_of(&state, parent).and_then(|p| {
            let path = self.disk.backing(&p.join(name));
            fs::create_dir(&path).map_err(Errno::from)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode & !umask & 0o7777))
                .map_err(Errno::from)
        });
        match result.and_then(|()| self.entry(&mut state, parent, name)) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.disk.lock();
        let result = Self::path_of(&state, parent).and_then(|p| {
            let relative = p.join(name);
            fs::remove_file(self.disk.backing(&relative)).map_err(Errno::from)?;
            if let Some(ino) = state.inodes.forget(&relative) {
                state.unsynced.remove(&ino);
            }
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.disk.lock();
        let result = Self::path_of(&state, parent).and_then(|p| {
            let relative = p.join(name);
            fs::remove_dir(self.disk.backing(&relative)).map_err(Errno::from)?;
            state.inodes.forget(&relative);
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !flags.is_empty() {
            return reply.error(Errno::EINVAL);
        }
        let mut state = self.disk.lock();
        let result = Self::path_of(&state, parent).and_then(|from_dir| {
            let to_dir = Self::path_of(&state, newparent)?;
            let (from, to) = (from_dir.join(name), to_dir.join(newname));
            fs::rename(self.disk.backing(&from), self.disk.backing(&to)).map_err(Errno::from)?;
            // The file replaced is gone, with whatever it had unsynced.
            if let Some(replaced) = state.inodes.forget(&to) {
                state.unsynced.remove(&replaced);
            }
            state.inodes.rename(&from, &to);
            // The rename is kept as done, so the file's entry is durable: a
            // power cut leaves it (cut to what was synced), never no file
            // where a real disk shows the old one or the new.
            if let Some(moved) = state.inodes.known(&to) {
                if let Some(unsynced) = state.unsynced.get_mut(&moved) {
                    unsynced.entry_synced();
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let mut state = self.disk.lock();
        let result = Self::path_of(&state, ino).and_then(|from| {
            let to = Self::path_of(&state, newparent)?.join(newname);
            fs::hard_link(self.disk.backing(&from), self.disk.backing(&to)).map_err(Errno::from)
        });
        match result.and_then(|()| self.entry(&mut state, newparent, newname)) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.open_inner(ino, flags) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let file = {
            let state = self.disk.lock();
            self.file_for(&state, ino, Some(fh))
        };
        let result = file.and_then(|file| {
            let mut buf = vec![0; size as usize];
            let mut filled = 0;
            while filled < buf.len() {
                match file.read_at(&mut buf[filled..], offset + filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Errno::from(e)),
                }
            }
            buf.truncate(filled);
            Ok(buf)
        });
        match result {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.write_inner(ino, fh, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.disk.lock().handles.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.fsync_inner(ino) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut state = self.disk.lock();
        match self.listing(&mut state, ino) {
            Ok(entries) => {
                state.next_handle += 1;
                let fh = state.next_handle;
                state.listings.insert(fh, entries);
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        match self.readdir_inner(ino, fh, offset, &mut reply) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.disk.lock().listings.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Renames and unlinks are kept as done (see `unsynced`); what an
        // fsync of the directory adds is the entries of files created in it.
        let relative = Self::path_of(&self.disk.lock(), ino);
        match relative {
            Ok(dir) => {
                self.disk.entries_synced(&dir);
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let full = self.disk.lock().faults.full;
        let path = self.disk.backing(Path::new(""));
        let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
            return reply.error(Errno::EINVAL);
        };
        // SAFETY: a NUL-terminated path and a zeroed out-struct of the right type.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c_path.as_ptr(), &mut st) } != 0 {
            return reply.error(Errno::from(io::Error::last_os_error()));
        }
        let (bfree, bavail) = if full {
            (0, 0)
        } else {
            (st.f_bfree, st.f_bavail)
        };
        reply.statfs(
            st.f_blocks,
            bfree,
            bavail,
            st.f_files,
            st.f_ffree,
            u32::try_from(st.f_bsize).unwrap_or(4096),
            u32::try_from(st.f_namemax).unwrap_or(255),
            u32::try_from(st.f_frsize).unwrap_or(4096),
        );
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.create_inner(parent, name, mode, umask, flags) {
            Ok((attr, fh)) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(e),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        match self.fallocate_inner(ino, fh, offset, length, mode) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }
}
