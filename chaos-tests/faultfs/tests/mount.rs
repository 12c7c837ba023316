//! The pass-through mounted for real (needs /dev/fuse and root, as the
//! chaos tests do): what was fsynced survives a power cut, what was not is
//! lost, and the full disk and failing fsync show as the errors a node sees.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A mounted faultfs, unmounted and stopped on drop.
struct Mounted {
    _dir: tempfile::TempDir,
    mount: PathBuf,
    control: PathBuf,
    child: Child,
}

impl Mounted {
    fn new() -> Mounted {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (backing, mount) = (dir.path().join("backing"), dir.path().join("mount"));
        fs::create_dir(&backing).unwrap();
        fs::create_dir(&mount).unwrap();
        let control = dir.path().join("control.sock");
        let child = Command::new(env!("CARGO_BIN_EXE_ingressoja-faultfs"))
            .args(["--backing", backing.to_str().unwrap()])
            .args(["--mount", mount.to_str().unwrap()])
            .args(["--control", control.to_str().unwrap()])
            .spawn()
            .expect("ingressoja-faultfs starts");
        let mounted = Mounted {
            _dir: dir,
            mount,
            control,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !mounted.is_mounted() {
            assert!(
                Instant::now() < deadline,
                "faultfs did not mount within 10 s (this test needs /dev/fuse and root)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        mounted
    }

    fn is_mounted(&self) -> bool {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mount = self.mount.to_string_lossy();
        mounts.lines().any(|l| l.split(' ').nth(1) == Some(&*mount)) && self.control.exists()
    }

    fn command(&self, line: &str) -> String {
        let mut stream = UnixStream::connect(&self.control).expect("the control socket answers");
        writeln!(stream, "{line}").unwrap();
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).unwrap();
        reply.trim_end().to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.mount.join(name)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.control.exists() {
            let _ = self.command("quit");
        }
        let _ = self.child.wait();
    }
}

fn append(path: &Path, bytes: &[u8], sync: bool) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(bytes).unwrap();
    if sync {
        file.sync_data().unwrap();
    }
}

#[test]
fn a_power_cut_keeps_what_was_fsynced_and_loses_the_rest() {
    let disk = Mounted::new();
    append(&disk.path("wal"), b"acknowledged", true);
    append(&disk.path("wal"), b"+unsynced", false);
    append(&disk.path("scratch"), b"never synced", false);
    fs::create_dir(disk.path("db")).unwrap();
    append(&disk.path("db/CURRENT.tmp"), b"MANIFEST-2", true);
    fs::rename(disk.path("db/CURRENT.tmp"), disk.path("db/CURRENT")).unwrap();
    assert_eq!(
        fs::read(disk.path("wal")).unwrap(),
        b"acknowledged+unsynced"
    );

    let reply = disk.command("power-loss");
    assert_eq!(
        reply,
        "ok power loss: 1 files cut back to their last fsync, 1 never synced removed"
    );
    assert_eq!(fs::read(disk.path("wal")).unwrap(), b"acknowledged");
    assert!(
        !disk.path("scratch").exists(),
        "a file never synced is gone"
    );
    assert_eq!(fs::read(disk.path("db/CURRENT")).unwrap(), b"MANIFEST-2");
}

#[test]
fn an_overwrite_through_a_write_only_handle_is_undone_by_a_power_cut() {
    let disk = Mounted::new();
    append(&disk.path("config"), b"version 1", true);
    // Truncates and rewrites through an O_WRONLY handle.
    fs::write(disk.path("config"), b"version 2, longer").unwrap();
    assert_eq!(fs::read(disk.path("config")).unwrap(), b"version 2, longer");
    disk.command("power-loss");
    assert_eq!(fs::read(disk.path("config")).unwrap(), b"version 1");
}

#[test]
fn a_file_renamed_or_listed_in_a_synced_directory_survives_empty_not_gone() {
    let disk = Mounted::new();
    append(&disk.path("CURRENT"), b"MANIFEST-1", true);
    append(&disk.path("CURRENT.tmp"), b"MANIFEST-2", false);
    fs::rename(disk.path("CURRENT.tmp"), disk.path("CURRENT")).unwrap();
    append(&disk.path("IDENTITY"), b"id", false);
    File::open(&disk.mount).unwrap().sync_all().unwrap();
    append(&disk.path("LOG"), b"never synced, nor its directory", false);
    disk.command("power-loss");
    assert_eq!(
        fs::read(disk.path("CURRENT")).unwrap(),
        b"",
        "the rename is kept, its data is not"
    );
    assert_eq!(
        fs::read(disk.path("IDENTITY")).unwrap(),
        b"",
        "its directory was synced"
    );
    assert!(!disk.path("LOG").exists());
}

#[test]
fn after_a_failed_fsync_a_later_successful_one_does_not_save_the_data() {
    let disk = Mounted::new();
    append(&disk.path("wal"), b"synced", true);
    let mut file = OpenOptions::new()
        .append(true)
        .open(disk.path("wal"))
        .unwrap();
    file.write_all(b"+dropped").unwrap();
    disk.command("fsync-error on");
    assert!(file.sync_data().is_err());
    disk.command("fsync-error off");
    file.sync_data().expect("the retry succeeds, as on Linux");
    disk.command("power-loss");
    assert_eq!(
        fs::read(disk.path("wal")).unwrap(),
        b"synced",
        "the pages were dropped at the failure"
    );
}

#[test]
fn a_full_disk_refuses_writes_until_cleared() {
    let disk = Mounted::new();
    append(&disk.path("wal"), b"before", true);
    assert!(disk.command("full on").starts_with("ok full=true"));
    let mut file = OpenOptions::new()
        .append(true)
        .open(disk.path("wal"))
        .unwrap();
    let err = file
        .write_all(b"after")
        .and_then(|()| file.sync_data())
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    let err = fs::write(disk.path("new"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    disk.command("full off");
    append(&disk.path("wal"), b"+again", true);
    assert_eq!(fs::read(disk.path("wal")).unwrap(), b"before+again");
}

#[test]
fn a_failed_fsync_leaves_the_data_unsynced() {
    let disk = Mounted::new();
    append(&disk.path("wal"), b"synced", true);
    disk.command("fsync-error on");
    let mut file = OpenOptions::new()
        .append(true)
        .open(disk.path("wal"))
        .unwrap();
    file.write_all(b"+not").unwrap();
    let err = file.sync_data().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    disk.command("fsync-error off");
    disk.command("power-loss");
    assert_eq!(fs::read(disk.path("wal")).unwrap(), b"synced");
}

#[test]
fn a_bad_command_is_refused_with_the_reason() {
    let disk = Mounted::new();
    let reply = disk.command("fsync-delay forever");
    assert!(
        reply.starts_with("error fsync-delay: expected milliseconds"),
        "{reply}"
    );
}
