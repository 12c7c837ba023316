//! Why a benchmark run could not be carried out, each with a message a user
//! can act on (which port, which command to install what).

use thiserror::Error;

/// Why the benchmark stopped before producing a report. Every variant is a
/// setup or environment problem; failures of single operations during the
/// sale are counted in the report instead (see [`super::target::OpError`]).
#[derive(Debug, Error)]
pub enum BenchError {
    /// An option is out of range or contradicts another one.
    #[error("invalid option --{option}: {reason}")]
    InvalidOption { option: String, reason: String },

    /// A system the benchmark should start is not installed.
    #[error("{system} is not installed ({detail}); install it with: {install}")]
    NotInstalled {
        system: String,
        detail: String,
        install: String,
    },

    /// A port the benchmark wants to listen on is taken.
    #[error("port 127.0.0.1:{port} (for {what}) is already in use: stop whatever listens there or pick other ports (--{option})")]
    PortInUse {
        port: u16,
        what: String,
        option: String,
    },

    /// The system to measure does not answer.
    #[error("{system} is not running or not reachable at {addrs}: {reason}")]
    TargetUnreachable {
        system: String,
        addrs: String,
        reason: String,
    },

    /// A process the benchmark started exited or never became ready.
    #[error("{what} did not start: {reason}")]
    StartFailed { what: String, reason: String },

    /// Creating the sale (event, categories, customers, tables) failed.
    #[error("setting up the sale on {system} failed: {reason}")]
    Setup { system: String, reason: String },

    /// Reading the sale's end state back from the system failed.
    #[error("reading the final state from {system} failed: {reason}")]
    ReadBack { system: String, reason: String },

    /// A file of the run (report, plot, config, data directory) could not be written.
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
}

impl BenchError {
    /// An [`BenchError::Io`] for `path`.
    pub fn io(path: impl AsRef<std::path::Path>, error: std::io::Error) -> BenchError {
        BenchError::Io {
            path: path.as_ref().display().to_string(),
            reason: error.to_string(),
        }
    }

    /// An [`BenchError::InvalidOption`].
    pub fn option(option: &str, reason: impl Into<String>) -> BenchError {
        BenchError::InvalidOption {
            option: option.to_string(),
            reason: reason.into(),
        }
    }
}
