//! When snapshots are taken and how they are shipped.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Smallest accepted snapshot chunk: below this, installing a snapshot on a
/// lagging follower is dominated by per-RPC overhead.
const MIN_CHUNK_BYTES: u64 = 1024;
/// Largest accepted snapshot chunk: stays well under gRPC message limits.
const MAX_CHUNK_BYTES: u64 = 64 * 1024 * 1024;

/// Snapshot and log-compaction policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotPolicy {
    /// Take a snapshot after this many log entries since the last one.
    pub logs_since_last: u64,
    /// Log entries kept behind a snapshot so slightly lagging followers can
    /// catch up by replication instead of a full snapshot install.
    pub max_logs_kept_after_snapshot: u64,
    /// Size of one chunk when streaming a snapshot to a follower.
    pub chunk_size_bytes: u64,
}

impl Default for SnapshotPolicy {
    /// Snapshot every 10 000 entries, keep as many behind it (a follower
    /// down for seconds catches up from the log, not from a snapshot of
    /// hundreds of MB), 1 MiB chunks.
    fn default() -> Self {
        SnapshotPolicy {
            logs_since_last: 10_000,
            max_logs_kept_after_snapshot: 10_000,
            chunk_size_bytes: 1024 * 1024,
        }
    }
}

impl SnapshotPolicy {
    /// Rejects a policy that never snapshots or ships absurd chunk sizes.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.logs_since_last == 0 {
            return Err(ConfigError::invalid(
                "snapshot.logs_since_last",
                "must be >= 1",
            ));
        }
        let chunk = self.chunk_size_bytes;
        if !(MIN_CHUNK_BYTES..=MAX_CHUNK_BYTES).contains(&chunk) {
            return Err(ConfigError::invalid(
                "snapshot.chunk_size_bytes",
                format!(
                    "must be between {MIN_CHUNK_BYTES} (1 KiB) and {MAX_CHUNK_BYTES} (64 MiB), got {chunk}"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::SnapshotPolicy;
    use crate::test_support::{error_of, full_with};
    use crate::NodeConfig;

    #[test]
    fn defaults_are_valid() {
        assert!(SnapshotPolicy::default().validate().is_ok());
        assert_eq!(SnapshotPolicy::default().chunk_size_bytes, 1 << 20);
    }

    #[test]
    fn logs_since_last_must_be_at_least_one() {
        let text = full_with("logs_since_last = 10000", "logs_since_last = 0");
        assert_eq!(error_of(&text), "snapshot.logs_since_last: must be >= 1");
    }

    #[test]
    fn chunk_size_bounds() {
        for bad in ["1023", "67108865"] {
            let text = full_with(
                "chunk_size_bytes = 1048576",
                &format!("chunk_size_bytes = {bad}"),
            );
            assert_eq!(
                error_of(&text),
                format!(
                    "snapshot.chunk_size_bytes: must be between 1024 (1 KiB) and 67108864 (64 MiB), got {bad}"
                )
            );
        }
        for good in ["1024", "67108864"] {
            let text = full_with(
                "chunk_size_bytes = 1048576",
                &format!("chunk_size_bytes = {good}"),
            );
            assert!(NodeConfig::from_toml_str(&text).is_ok());
        }
    }

    #[test]
    fn zero_logs_kept_is_allowed() {
        let text = full_with(
            "max_logs_kept_after_snapshot = 1000",
            "max_logs_kept_after_snapshot = 0",
        );
        assert!(NodeConfig::from_toml_str(&text).is_ok());
    }
}
