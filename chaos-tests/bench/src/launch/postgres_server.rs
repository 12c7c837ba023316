//! A fresh PostgreSQL server for one run, from Debian's package: `initdb`
//! in a temporary directory, then `postgres` on a loopback port with
//! `fsync = on` and `synchronous_commit = on`. PostgreSQL refuses to run as
//! root, so as root both run as the `postgres` user (directory chowned).

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::children::{launch_dir, Children};
use super::ports::ensure_free;
use crate::error::BenchError;

/// Longest wait for the server to accept connections.
const READY: Duration = Duration::from_secs(60);
/// How to get PostgreSQL on Debian.
pub const INSTALL: &str = "apt-get update && apt-get install -y postgresql";

/// A running PostgreSQL server; stopped (and its directory removed) when dropped.
pub struct PostgresServer {
    children: Children,
    dir: TempDir,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

/// The directory with `initdb` and `postgres`: `explicit`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
pub fn find_bin_dir(explicit: Option<&Path>) -> Result<PathBuf, BenchError> {
    let complete = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    let found = match explicit {
        Some(dir) => complete(dir).then(|| dir.to_path_buf()),
        None => {
            let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((version, e.path().join("bin")))
                })
                .filter(|(_, d)| complete(d))
                .collect();
            versions.sort();
            versions.pop().map(|(_, d)| d)
        }
    };
    found.ok_or_else(|| BenchError::NotInstalled {
        system: "PostgreSQL".into(),
        detail: match explicit {
            Some(d) => format!("no initdb and postgres in {}", d.display()),
            None => "no /usr/lib/postgresql/<version>/bin with initdb and postgres".into(),
        },
        install: INSTALL.into(),
    })
}

/// The uid and gid to run PostgreSQL as: the `postgres` user when this
/// process is root, nobody else's otherwise.
fn run_as() -> Result<Option<(u32, u32)>, BenchError> {
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if me != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == "postgres")
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .map(Some)
        .ok_or_else(|| BenchError::NotInstalled {
            system: "PostgreSQL".into(),
            detail: "it refuses to run as root and there is no `postgres` user to run it as".into(),
            install: INSTALL.into(),
        })
}

fn as_user(command: &mut Command, user: Option<(u32, u32)>) {
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
}

impl PostgresServer {
    /// Initialises a cluster in a temporary directory and starts the server
    /// on 127.0.0.1:`port` for up to `connections` clients.
    pub async fn start(
        bin_dir: &Path,
        port: u16,
        connections: usize,
    ) -> Result<PostgresServer, BenchError> {
        ensure_free(port, "PostgreSQL", "postgres-port")?;
        let user = run_as()?;
        let dir = launch_dir("ingressoja-bench-pg-")?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| BenchError::io(dir.path(), e))?;
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin_dir.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .current_dir(dir.path());
        as_user(&mut initdb, user);
        let out = initdb.output().map_err(|e| BenchError::StartFailed {
            what: "PostgreSQL initdb".into(),
            reason: e.to_string(),
        })?;
        if !out.status.success() {
            return Err(BenchError::StartFailed {
                what: "PostgreSQL initdb".into(),
                reason: format!(
                    "{}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        let mut server = Command::new(bin_dir.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=on",
                "-c",
                "synchronous_commit=on",
            ])
            .args([
                "-c",
                "full_page_writes=on",
                "-c",
                "wal_sync_method=fdatasync",
            ])
            .args(["-c", &format!("max_connections={}", connections + 10)])
            .current_dir(dir.path());
        as_user(&mut server, user);
        let log = dir.path().join("postgres.log");
        let mut children = Children::default();
        // SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for clients).
        children.spawn("PostgreSQL", server, &log, "INT")?;
        let mut pg = PostgresServer {
            children,
            dir,
            port,
        };
        pg.wait_ready().await?;
        Ok(pg)
    }

    async fn wait_ready(&mut self) -> Result<(), BenchError> {
        let config = format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=2",
            self.port
        );
        let config = config.as_str();
        self.children
            .wait_until_ready(
                "PostgreSQL",
                "not accepting connections",
                self.dir.path(),
                (READY, Duration::from_millis(200)),
                move || async move {
                    tokio_postgres::connect(config, tokio_postgres::NoTls)
                        .await
                        .is_ok()
                },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_postgres_gives_the_install_command() {
        let err = find_bin_dir(Some(Path::new("/nonexistent"))).unwrap_err();
        assert!(
            err.to_string().contains("apt-get install -y postgresql"),
            "{err}"
        );
    }
}
