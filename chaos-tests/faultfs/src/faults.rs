//! The faults the disk shows on command, and the commands themselves: one
//! line each on the control socket (see [`crate::control`]).

use std::fmt;

/// What the disk does wrong right now; all off at mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// The disk is full: every write, create, mkdir and growth fails with
    /// `ENOSPC`, and `statfs` shows no free space.
    pub full: bool,
    /// Every fsync fails with `EIO`; what it should have made durable stays
    /// unsynced (a later power cut still loses it), as on Linux after a
    /// failed fsync.
    pub fsync_error: bool,
    /// Every fsync waits this long before answering (a slow or busy disk).
    pub fsync_delay_ms: u64,
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "full={} fsync-error={} fsync-delay={}ms",
            self.full, self.fsync_error, self.fsync_delay_ms
        )
    }
}

/// The longest fsync delay a command may ask for: longer would only hang
/// the run.
pub const MAX_FSYNC_DELAY_MS: u64 = 60_000;

/// One control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Lose everything not fsynced, as a power cut does. The process using
    /// the disk must be dead first: its open files are not told.
    PowerLoss,
    /// Turn the full disk on or off.
    Full(bool),
    /// Turn failing fsyncs on or off.
    FsyncError(bool),
    /// Make every fsync wait this many milliseconds (0: off).
    FsyncDelay(u64),
    /// Every fault off.
    Clear,
    /// Report the faults and the unsynced files.
    Status,
    /// Unmount and exit.
    Quit,
}

/// Why a control line is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No such command.
    #[error("unknown command {0:?} (power-loss, full on|off, fsync-error on|off, fsync-delay MS, clear, status, quit)")]
    Unknown(String),
    /// The command's argument is missing or wrong.
    #[error("{command}: {reason}")]
    BadArgument {
        /// The command.
        command: &'static str,
        /// What is wrong with its argument.
        reason: String,
    },
}

impl Command {
    /// Parses one control line, e.g. `full on` or `fsync-delay 200`.
    pub fn parse(line: &str) -> Result<Command, CommandError> {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or("");
        let arg = words.next();
        let switch = |command: &'static str| match arg {
            Some("on") => Ok(true),
            Some("off") => Ok(false),
            other => Err(CommandError::BadArgument {
                command,
                reason: format!("expected on or off, got {other:?}"),
            }),
        };
        match name {
            "power-loss" => Ok(Command::PowerLoss),
            "full" => switch("full").map(Command::Full),
            "fsync-error" => switch("fsync-error").map(Command::FsyncError),
            "fsync-delay" => {
                let ms = arg
                    .and_then(|a| a.parse::<u64>().ok())
                    .filter(|ms| *ms <= MAX_FSYNC_DELAY_MS)
                    .ok_or_else(|| CommandError::BadArgument {
                        command: "fsync-delay",
                        reason: format!(
                            "expected milliseconds from 0 to {MAX_FSYNC_DELAY_MS}, got {arg:?}"
                        ),
                    })?;
                Ok(Command::FsyncDelay(ms))
            }
            "clear" => Ok(Command::Clear),
            "status" => Ok(Command::Status),
            "quit" => Ok(Command::Quit),
            other => Err(CommandError::Unknown(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(Command::parse("power-loss"), Ok(Command::PowerLoss));
        assert_eq!(Command::parse("full on"), Ok(Command::Full(true)));
        assert_eq!(
            Command::parse(" fsync-error off\n"),
            Ok(Command::FsyncError(false))
        );
        assert_eq!(
            Command::parse("fsync-delay 250"),
            Ok(Command::FsyncDelay(250))
        );
        assert_eq!(Command::parse("clear"), Ok(Command::Clear));
    }

    #[test]
    fn bad_lines_name_the_command_and_the_reason() {
        let e = Command::parse("full maybe").unwrap_err();
        assert_eq!(
            e.to_string(),
            "full: expected on or off, got Some(\"maybe\")"
        );
        let e = Command::parse("fsync-delay 999999999").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("fsync-delay: expected milliseconds"),
            "{e}"
        );
        assert!(matches!(
            Command::parse("meteor"),
            Err(CommandError::Unknown(_))
        ));
        assert!(matches!(Command::parse(""), Err(CommandError::Unknown(_))));
    }
}
