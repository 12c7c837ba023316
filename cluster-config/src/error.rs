//! The single error type of the crate.

use std::path::PathBuf;

/// Why a node or gateway configuration could not be obtained.
///
/// Every variant that concerns the content of the file carries the path of
/// the field at fault (`listen.grpc`, `peers[1].id`, ...) so that an operator
/// can fix the file without guessing.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8, ...).
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        /// The file we tried to read, as given by the caller.
        path: PathBuf,
        /// The underlying I/O failure.
        source: std::io::Error,
    },

    /// The text is not TOML, or a value has the wrong type/shape for its key
    /// (including unknown and missing keys). `field` is `<file>` when the
    /// location cannot be tied to a key.
    #[error("{field}: {reason}")]
    Parse {
        /// Dotted path of the key at fault, with list indices (`peers[0].id`).
        field: String,
        /// What the TOML parser or the typed decoding complained about.
        reason: String,
    },

    /// The file decoded fine but breaks a rule of the configuration
    /// (out-of-range value, inconsistent timings, duplicate peer, weak
    /// session key, ...). Never quotes a secret.
    #[error("{field}: {reason}")]
    Invalid {
        /// Dotted path of the field at fault, with list indices.
        field: String,
        /// The rule that was broken, with the offending value.
        reason: String,
    },
}

impl ConfigError {
    /// Shorthand used by the validators.
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
