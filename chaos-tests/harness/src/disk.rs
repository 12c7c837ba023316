//! Each node's data directory on a disk that can fail: an
//! `ingressoja-faultfs` mount on the host, bind-mounted as the container's
//! `/data`, with its control socket beside it.
//!
//! Only runs with a disk nemesis (power loss, full disk, failing or slow
//! fsync) mount them; the others keep `/data` in the container. The mounts
//! live under the run directory (`disk-n<i>/{backing,mount,control.sock}`),
//! and whatever a killed run left mounted is unmounted by
//! `ingressoja-chaos --cleanup` (every mount named `ingressoja-faultfs`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};

/// The mounts' file-system name in /proc/mounts.
const FS_NAME: &str = "ingressoja-faultfs";
/// How long a mount may take to appear.
const MOUNT_DEADLINE: Duration = Duration::from_secs(10);
/// How long a control command may take (a power cut rewrites files).
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// Why a disk could not be mounted or told something.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error(
        "{binary}: not found; it is built with the workspace (cargo test --workspace --no-run)"
    )]
    MissingBinary { binary: String },
    #[error("starting {what}: {reason}")]
    Start { what: String, reason: String },
    #[error("disk of n{node}: `{command}` failed: {reason}")]
    Command {
        node: u64,
        command: String,
        reason: String,
    },
}

/// The faultfs binary: beside this harness's own executable.
pub fn faultfs_binary() -> Result<PathBuf, DiskError> {
    let exe = std::env::current_exe().map_err(|e| DiskError::Start {
        what: "the harness".into(),
        reason: e.to_string(),
    })?;
    let binary = exe.with_file_name("ingressoja-faultfs");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(DiskError::MissingBinary {
            binary: binary.display().to_string(),
        })
    }
}

/// One node's mounted disk.
pub struct NodeDisk {
    node: u64,
    /// The directory bind-mounted as the container's `/data`.
    pub mount: PathBuf,
    control: PathBuf,
    /// The faultfs process (killed with the cluster; the mount is then
    /// unmounted by [`unmount_all`]).
    _process: Child,
}

impl NodeDisk {
    /// Mounts node `node`'s disk under `dir` with `binary`.
    pub async fn mount(binary: &Path, dir: &Path, node: u64) -> Result<NodeDisk, DiskError> {
        let root = dir.join(format!("disk-n{node}"));
        let (backing, mount) = (root.join("backing"), root.join("mount"));
        let control = root.join("control.sock");
        // A new, empty disk: never an earlier run's data under the same name.
        if root.exists() {
            unmount_all(Some(&root)).await;
            std::fs::remove_dir_all(&root).map_err(|e| DiskError::Start {
                what: format!("emptying {}", root.display()),
                reason: e.to_string(),
            })?;
        }
        for d in [&backing, &mount] {
            std::fs::create_dir_all(d).map_err(|e| DiskError::Start {
                what: d.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let log =
            std::fs::File::create(root.join("faultfs.log")).map_err(|e| DiskError::Start {
                what: "the faultfs log".into(),
                reason: e.to_string(),
            })?;
        let process = Command::new(binary)
            .arg("--backing")
            .arg(&backing)
            .arg("--mount")
            .arg(&mount)
            .arg("--control")
            .arg(&control)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| DiskError::Start {
                what: binary.display().to_string(),
                reason: e.to_string(),
            })?;
        let disk = NodeDisk {
            node,
            mount,
            control,
            _process: process,
        };
        let deadline = Instant::now() + MOUNT_DEADLINE;
        while !(is_mounted(&disk.mount) && disk.control.exists()) {
            if Instant::now() > deadline {
                return Err(DiskError::Start {
                    what: format!("the disk of n{node}"),
                    reason: format!(
                        "not mounted within {MOUNT_DEADLINE:?} (needs /dev/fuse; see {})",
                        root.join("faultfs.log").display()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(disk)
    }

    /// Sends one control command (`power-loss`, `full on`, ...); its `ok` answer.
    pub async fn command(&self, line: &str) -> Result<String, DiskError> {
        let failed = |reason: String| DiskError::Command {
            node: self.node,
            command: line.to_string(),
            reason,
        };
        let exchange = async {
            let mut stream = UnixStream::connect(&self.control).await?;
            stream.write_all(format!("{line}\n").as_bytes()).await?;
            let mut reply = String::new();
            BufReader::new(stream).read_line(&mut reply).await?;
            Ok::<String, std::io::Error>(reply.trim_end().to_string())
        };
        let reply = tokio::time::timeout(COMMAND_DEADLINE, exchange)
            .await
            .map_err(|_| failed(format!("no answer within {COMMAND_DEADLINE:?}")))?
            .map_err(|e| failed(e.to_string()))?;
        match reply.strip_prefix("ok ") {
            Some(rest) => Ok(rest.to_string()),
            None => Err(failed(reply)),
        }
    }

    /// Empties the disk (a wiped node's new, empty one), through the mount
    /// so nothing unsynced of the old files lingers.
    pub fn wipe(&self) -> std::io::Result<()> {
        for entry in std::fs::read_dir(&self.mount)? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(())
    }
}

/// True when `path` is a mount point now.
fn is_mounted(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    // /proc/mounts names the real path (no symlink, no `..`).
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let path = path.to_string_lossy();
    mounts
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(path.as_ref()))
}

/// Lazily unmounts the faultfs mounts under `under` (a run's directory,
/// once its containers are gone), or every one on this host (`None`:
/// what killed runs left); how many there were.
pub async fn unmount_all(under: Option<&Path>) -> usize {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let under = under.map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
    let points: Vec<String> = mounts
        .lines()
        .filter(|l| l.split(' ').next() == Some(FS_NAME))
        .filter_map(|l| l.split(' ').nth(1).map(str::to_string))
        .filter(|p| under.as_ref().is_none_or(|u| Path::new(p).starts_with(u)))
        .collect();
    for point in &points {
        let _ = Command::new("umount")
            .args(["-l", point])
            .stdin(Stdio::null())
            .status()
            .await;
    }
    points.len()
}
