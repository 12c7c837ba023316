//! Why a command failed, and how that is told to the operator: one line on
//! stderr and an exit code a script can branch on.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use ingressoja_client::membership::MembershipError;
use ingressoja_client::password::PasswordError;
use ingressoja_client::ClientError;
use ingressoja_node::backup::BackupError;
use ingressoja_node::restore::RestoreError;
use thiserror::Error;

/// Exit code when the cluster refused the request (a domain rejection).
pub const EXIT_REJECTED: u8 = 2;
/// Exit code when the cluster could not be reached, or anything else failed.
pub const EXIT_FAILED: u8 = 1;

/// A failed command.
#[derive(Debug, Error)]
pub enum Failure {
    /// The client call failed.
    #[error(transparent)]
    Client(#[from] ClientError),

    /// A mutating call ran out of time: it may or may not have happened.
    /// Carries the key that replays it safely.
    #[error("{source}")]
    OutcomeUnknown {
        source: ClientError,
        action: &'static str,
        client_id: String,
        request_id: u64,
    },

    /// Printing the answer failed.
    #[error("writing the output: {0}")]
    Output(#[from] io::Error),

    /// A file named on the command line could not be written.
    #[error("writing {}: {source}", path.display())]
    File { path: PathBuf, source: io::Error },

    /// A file named on the command line could not be read.
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },

    /// The arguments ask for something that would do harm (e.g. overwrite a file).
    #[error("{0}")]
    Refused(String),

    /// A backup file was refused: nothing was restored.
    #[error("{}: {source}; nothing was restored", path.display())]
    BadBackup { path: PathBuf, source: BackupError },

    /// The backup the leader sent did not check out; no file was written.
    #[error("the backup received from the cluster is inconsistent, no file was written: {0}")]
    Backup(#[from] BackupError),

    /// A data directory was not seeded.
    #[error(transparent)]
    Restore(#[from] RestoreError),

    /// The password could not be hashed.
    #[error(transparent)]
    Password(#[from] PasswordError),

    /// This process's certificates could not be made or loaded.
    #[error(
        "certificates: {0} (make them with `ingressoja pki init`, point --pki-dir at them, \
         or pass --insecure-dev to call nodes started with it)"
    )]
    Pki(#[from] ingressoja_pki::PkiError),

    /// A membership change was refused before anything changed (or its
    /// learner did not catch up).
    #[error(transparent)]
    Membership(#[from] MembershipError),
}

impl Failure {
    /// Prints the failure to stderr and picks the exit code.
    pub fn report(self) -> ExitCode {
        match &self {
            Failure::Client(ClientError::Rejected { code, message, .. })
            | Failure::Membership(MembershipError::Cluster(ClientError::Rejected {
                code,
                message,
                ..
            })) => {
                eprintln!("error: {code}: {message}");
                return ExitCode::from(EXIT_REJECTED);
            }
            Failure::Membership(
                refusal @ (MembershipError::IdInUse { .. }
                | MembershipError::UnknownNode(_)
                | MembershipError::WrongId { .. }
                | MembershipError::OtherCluster { .. }
                | MembershipError::TooFewVoters { .. }),
            ) => {
                eprintln!("error: {refusal}");
                return ExitCode::from(EXIT_REJECTED);
            }
            Failure::Refused(_)
            | Failure::BadBackup { .. }
            | Failure::Restore(
                RestoreError::DataDirNotEmpty { .. } | RestoreError::NotAPeer { .. },
            ) => {
                eprintln!("error: {self}");
                return ExitCode::from(EXIT_REJECTED);
            }
            Failure::OutcomeUnknown {
                source,
                action,
                client_id,
                request_id,
            } => {
                eprintln!("error: {source}");
                eprintln!(
                    "note: the {action} may or may not have happened; to retry it safely, rerun \
                     the same command with --client-id {client_id} --request-id {request_id}"
                );
            }
            other => eprintln!("error: {other}"),
        }
        ExitCode::from(EXIT_FAILED)
    }
}
