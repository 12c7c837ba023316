//! What can go wrong making, reading or using certificates.

use std::path::PathBuf;

use crate::identity::IdentityError;

/// A certificate, key or CA file that cannot be made, read or used; each
/// names the file and the reason, never a key's content.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The file could not be read.
    #[error("cannot read the {what} file {path}: {source}")]
    Read {
        /// Which file it was meant to be (`CA certificate`, `certificate`, `key`).
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory being written.
        path: PathBuf,
        /// Why writing failed.
        source: std::io::Error,
    },
    /// The file does not hold what it should.
    #[error("the {what} file {path} is not usable: {reason}")]
    Invalid {
        /// Which file it was meant to be.
        what: &'static str,
        /// Where it is.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The material loaded but TLS cannot use it (a chain rustls refuses,
    /// a key type it does not take).
    #[error("the {what} cannot be used for TLS: {reason}")]
    Unusable {
        /// Which part (`CA certificate`, `certificate`, `key`).
        what: &'static str,
        /// What rustls said.
        reason: String,
    },
    /// The certificate does not carry the identity it must.
    #[error("the certificate {path} does not identify this process: {reason}")]
    WrongIdentity {
        /// The certificate file.
        path: PathBuf,
        /// What it says against what was expected.
        reason: String,
    },
    /// A cluster, role or name that cannot go into a certificate.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// `rcgen` refused to make a key or certificate.
    #[error("cannot issue a certificate: {0}")]
    Issue(String),
}

impl From<rcgen::Error> for PkiError {
    fn from(err: rcgen::Error) -> Self {
        PkiError::Issue(err.to_string())
    }
}
