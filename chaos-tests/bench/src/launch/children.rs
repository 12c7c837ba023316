//! The processes a launcher started: asked to stop with SIGTERM (or SIGINT
//! for PostgreSQL's fast shutdown), killed if they linger, always reaped —
//! when stopped explicitly or when dropped on an error path.

use std::fs::File;
use std::future::Future;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use tempfile::TempDir;

use crate::error::BenchError;

/// How long a process may take to stop before it is killed.
const GRACE: Duration = Duration::from_secs(5);

/// One started process.
struct Started {
    name: String,
    log: std::path::PathBuf,
    child: Child,
    signal: &'static str,
}

/// Processes that are stopped together.
#[derive(Default)]
pub struct Children {
    started: Vec<Started>,
}

impl Children {
    /// Starts `command` with its output appended to `log`; `signal` (e.g.
    /// `TERM`) is what asks it to stop.
    pub fn spawn(
        &mut self,
        name: &str,
        mut command: Command,
        log: &Path,
        signal: &'static str,
    ) -> Result<(), BenchError> {
        let out = File::create(log).map_err(|e| BenchError::io(log, e))?;
        let err = out.try_clone().map_err(|e| BenchError::io(log, e))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| BenchError::StartFailed {
                what: name.to_string(),
                reason: format!("{}: {e}", command.get_program().to_string_lossy()),
            })?;
        self.started.push(Started {
            name: name.to_string(),
            log: log.to_path_buf(),
            child,
            signal,
        });
        Ok(())
    }

    /// Writes `config` as TOML to `<dir>/<file>.toml` and starts `program
    /// --config <that file>` (quiet logging), its output in `<dir>/<file>.log`:
    /// how the workspace's own binaries (nodes, gateways) are started.
    pub fn spawn_configured(
        &mut self,
        name: &str,
        program: &Path,
        config: &impl Serialize,
        dir: &Path,
        file: &str,
    ) -> Result<(), BenchError> {
        let text = toml::to_string(config).map_err(|e| BenchError::StartFailed {
            what: name.to_string(),
            reason: format!("config: {e}"),
        })?;
        let path = dir.join(format!("{file}.toml"));
        std::fs::write(&path, text).map_err(|e| BenchError::io(&path, e))?;
        let mut command = Command::new(program);
        // Warnings, plus the node's own few info lines (started, snapshot
        // built or installed, purge deferred): enough to place a stall or a
        // slow restart in a run's timeline without slowing the run.
        command
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "warn,ingressoja_node=info");
        self.spawn(name, command, &dir.join(format!("{file}.log")), "TERM")
    }

    /// Calls `ready` every `poll` until it says yes. Fails at once when a
    /// process exits (quoting its log), and after `within` with `what` is
    /// `not_ready` and where the logs are (`logs`).
    pub async fn wait_until_ready<F, Fut>(
        &mut self,
        what: &str,
        not_ready: &str,
        logs: &Path,
        (within, poll): (Duration, Duration),
        mut ready: F,
    ) -> Result<(), BenchError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let until = Instant::now() + within;
        loop {
            if let Some(failure) = self.start_failure() {
                return Err(failure);
            }
            if ready().await {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(BenchError::StartFailed {
                    what: what.to_string(),
                    reason: format!("{not_ready} within {within:?}; logs in {}", logs.display()),
                });
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// The process id of the running process named `name`, if any.
    pub fn pid(&mut self, name: &str) -> Option<u32> {
        let s = self.started.iter_mut().find(|s| s.name == name)?;
        matches!(s.child.try_wait(), Ok(None)).then(|| s.child.id())
    }

    /// Kills the process named `name` at once (SIGKILL: no flush, no
    /// goodbye, as a crash would) and reaps it; false if none was running.
    pub fn kill(&mut self, name: &str) -> bool {
        let Some(at) = self.started.iter().position(|s| s.name == name) else {
            return false;
        };
        let mut s = self.started.remove(at);
        let running = matches!(s.child.try_wait(), Ok(None));
        let _ = s.child.kill();
        let _ = s.child.wait();
        running
    }

    /// The first process that has exited, with its status, if any.
    pub fn exited(&mut self) -> Option<(String, String)> {
        for s in &mut self.started {
            if let Ok(Some(status)) = s.child.try_wait() {
                return Some((s.name.clone(), status.to_string()));
            }
        }
        None
    }

    /// The first process that has exited, as a start failure quoting the
    /// end of its log (for launchers waiting for their processes to be ready).
    pub fn start_failure(&mut self) -> Option<BenchError> {
        for s in &mut self.started {
            if let Ok(Some(status)) = s.child.try_wait() {
                return Some(BenchError::StartFailed {
                    what: s.name.clone(),
                    reason: format!(
                        "exited ({status}); its log ends with:\n{}",
                        tail(&s.log, 15)
                    ),
                });
            }
        }
        None
    }

    /// Asks every process to stop, waits up to a few seconds, kills the rest.
    pub fn stop(&mut self) {
        for s in &mut self.started {
            if let Ok(None) = s.child.try_wait() {
                let _ = Command::new("kill")
                    .arg(format!("-{}", s.signal))
                    .arg(s.child.id().to_string())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let until = Instant::now() + GRACE;
        for s in &mut self.started {
            loop {
                match s.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= until => {
                        let _ = s.child.kill();
                        let _ = s.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        self.started.clear();
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A fresh temporary directory named `prefix…` for one launch's configs,
/// data and logs; removed when dropped.
pub fn launch_dir(prefix: &str) -> Result<TempDir, BenchError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| BenchError::io(std::env::temp_dir(), e))
}

/// The last `lines` lines of a log file, for error messages.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `sleep 30` started, and the directory of its log.
    fn sleeper() -> (TempDir, Children) {
        let dir = tempfile::tempdir().unwrap();
        let mut children = Children::default();
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        children
            .spawn("sleeper", cmd, &dir.path().join("log"), "TERM")
            .unwrap();
        (dir, children)
    }

    #[test]
    fn stop_ends_a_process_and_reaps_it() {
        let (_dir, mut children) = sleeper();
        assert!(children.exited().is_none());
        let began = Instant::now();
        children.stop();
        assert!(began.elapsed() < GRACE, "SIGTERM should end sleep at once");
        assert!(children.started.is_empty());
    }

    #[test]
    fn dropping_stops_the_processes() {
        let (_dir, children) = sleeper();
        let pid = children.started[0].child.id().to_string();
        drop(children);
        // Reaped, so the pid no longer names a process of ours.
        let alive = Command::new("kill")
            .args(["-0", &pid])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(!alive.success(), "process {pid} survived the drop");
    }

    #[test]
    fn a_missing_program_is_a_start_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mut children = Children::default();
        let err = children
            .spawn(
                "ghost",
                Command::new("/nonexistent/ghost"),
                &dir.path().join("log"),
                "TERM",
            )
            .unwrap_err();
        assert!(matches!(err, BenchError::StartFailed { .. }), "{err}");
    }

    #[tokio::test]
    async fn waiting_ends_when_ready_and_names_what_never_was() {
        let dir = tempfile::tempdir().unwrap();
        let mut children = Children::default();
        let quick = (Duration::from_millis(200), Duration::from_millis(10));
        let mut polls = 0;
        let ready = children
            .wait_until_ready("thing", "not up", dir.path(), quick, || {
                polls += 1;
                std::future::ready(polls == 3)
            })
            .await;
        assert!(ready.is_ok());
        assert_eq!(polls, 3);
        let err = children
            .wait_until_ready("thing", "not up", dir.path(), quick, || {
                std::future::ready(false)
            })
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("thing") && err.contains("not up within"),
            "{err}"
        );
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
    }

    #[tokio::test]
    async fn waiting_stops_at_once_when_a_process_exits() {
        let dir = tempfile::tempdir().unwrap();
        let mut children = Children::default();
        children
            .spawn(
                "quitter",
                Command::new("false"),
                &dir.path().join("log"),
                "TERM",
            )
            .unwrap();
        let began = Instant::now();
        let err = children
            .wait_until_ready(
                "quitter",
                "not up",
                dir.path(),
                (Duration::from_secs(30), Duration::from_millis(20)),
                || std::future::ready(false),
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("exited"), "{err}");
        assert!(began.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn configured_programs_get_their_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut children = Children::default();
        let config = std::collections::BTreeMap::from([("answer", 42)]);
        children
            .spawn_configured("true", Path::new("true"), &config, dir.path(), "thing")
            .unwrap();
        let written = std::fs::read_to_string(dir.path().join("thing.toml")).unwrap();
        assert_eq!(written.trim(), "answer = 42");
        assert!(dir.path().join("thing.log").is_file());
    }
}
