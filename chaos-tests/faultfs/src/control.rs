//! The control socket: a Unix socket beside the mount, one command per
//! line, one answer per line (`ok ...` or `error ...`). The chaos harness
//! kills a node, sends `power-loss`, and starts the node again.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use crate::disk::Disk;
use crate::faults::Command;

/// Serves `listener` until a `quit`, which it reports on `quit`.
pub fn serve(listener: UnixListener, disk: Arc<Disk>, quit: Sender<()>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if answer(stream, &disk) {
            let _ = quit.send(());
            return;
        }
    }
}

/// Answers one connection's commands; true when one was `quit`.
fn answer(stream: UnixStream, disk: &Disk) -> bool {
    let Ok(mut out) = stream.try_clone() else {
        return false;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return false };
        let (reply, quit) = run(&line, disk);
        if writeln!(out, "{reply}").is_err() || quit {
            return quit;
        }
    }
    false
}

/// Runs one command line: the answer, and whether it was `quit`.
pub fn run(line: &str, disk: &Disk) -> (String, bool) {
    let command = match Command::parse(line) {
        Ok(c) => c,
        Err(e) => return (format!("error {e}"), false),
    };
    let reply = match command {
        Command::PowerLoss => match disk.power_loss() {
            Ok(r) => format!(
                "ok power loss: {} files cut back to their last fsync, {} never synced removed",
                r.reverted, r.removed
            ),
            Err(e) => format!("error power loss: {e}"),
        },
        Command::Quit => return ("ok quitting".into(), true),
        other => {
            let mut state = disk.lock();
            match other {
                Command::Full(on) => state.faults.full = on,
                Command::FsyncError(on) => state.faults.fsync_error = on,
                Command::FsyncDelay(ms) => state.faults.fsync_delay_ms = ms,
                Command::Clear => state.faults = Default::default(),
                Command::Status | Command::PowerLoss | Command::Quit => {}
            }
            let kept: usize = state.unsynced.values().map(|u| u.kept_bytes()).sum();
            format!(
                "ok {}; {} files unsynced ({kept} overwritten bytes kept)",
                state.faults,
                state.unsynced.len()
            )
        }
    };
    (reply, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_switch_faults_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::new(dir.path().to_path_buf());
        assert_eq!(
            run("full on", &disk).0,
            "ok full=true fsync-error=false fsync-delay=0ms; 0 files unsynced (0 overwritten bytes kept)"
        );
        assert!(run("fsync-delay 20", &disk).0.contains("fsync-delay=20ms"));
        assert!(run("clear", &disk).0.contains("full=false"));
        let (reply, quit) = run("full sideways", &disk);
        assert!(reply.starts_with("error full:"), "{reply}");
        assert!(!quit);
        assert!(run("power-loss", &disk)
            .0
            .starts_with("ok power loss: 0 files"));
        assert_eq!(run("quit", &disk), ("ok quitting".to_string(), true));
    }
}
