//! Raft timing knobs.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Raft timers, in milliseconds.
///
/// They must be ordered `heartbeat < election_min < election_max` (otherwise
/// followers start elections against a healthy leader) and an RPC must be
/// allowed to time out before an election would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftTimingConfig {
    /// How often the leader sends heartbeats/appends to followers.
    pub heartbeat_interval_ms: u64,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the randomized election timeout.
    pub election_timeout_max_ms: u64,
    /// Deadline of a single Raft RPC to a peer.
    pub rpc_timeout_ms: u64,
}

impl Default for RaftTimingConfig {
    /// Timings suited to a LAN / single host: 100 ms heartbeats, 400-800 ms
    /// elections, 300 ms RPC deadline.
    fn default() -> Self {
        RaftTimingConfig {
            heartbeat_interval_ms: 100,
            election_timeout_min_ms: 400,
            election_timeout_max_ms: 800,
            rpc_timeout_ms: 300,
        }
    }
}

impl RaftTimingConfig {
    /// Enforces the ordering between the timers.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let hb = self.heartbeat_interval_ms;
        let min = self.election_timeout_min_ms;
        let max = self.election_timeout_max_ms;
        let rpc = self.rpc_timeout_ms;
        if hb == 0 {
            return Err(ConfigError::invalid(
                "raft.heartbeat_interval_ms",
                "must be > 0",
            ));
        }
        if hb >= min {
            return Err(ConfigError::invalid(
                "raft.heartbeat_interval_ms",
                format!("must be less than raft.election_timeout_min_ms ({min}), got {hb}"),
            ));
        }
        if min >= max {
            return Err(ConfigError::invalid(
                "raft.election_timeout_min_ms",
                format!("must be less than raft.election_timeout_max_ms ({max}), got {min}"),
            ));
        }
        if rpc == 0 {
            return Err(ConfigError::invalid("raft.rpc_timeout_ms", "must be > 0"));
        }
        if rpc >= max {
            return Err(ConfigError::invalid(
                "raft.rpc_timeout_ms",
                format!("must be less than raft.election_timeout_max_ms ({max}), got {rpc}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::RaftTimingConfig;
    use crate::test_support::{error_of, full_with, MINIMAL};
    use crate::NodeConfig;

    #[test]
    fn defaults_are_valid() {
        assert!(RaftTimingConfig::default().validate().is_ok());
    }

    #[test]
    fn partial_section_keeps_other_defaults() {
        let cfg = NodeConfig::from_toml_str(&format!("{MINIMAL}\n[raft]\nrpc_timeout_ms = 50\n"))
            .unwrap();
        assert_eq!(
            cfg.raft,
            RaftTimingConfig {
                rpc_timeout_ms: 50,
                ..RaftTimingConfig::default()
            }
        );
    }

    #[test]
    fn heartbeat_must_be_positive() {
        let text = full_with("heartbeat_interval_ms = 100", "heartbeat_interval_ms = 0");
        assert_eq!(error_of(&text), "raft.heartbeat_interval_ms: must be > 0");
    }

    #[test]
    fn heartbeat_must_be_below_election_min() {
        let text = full_with("heartbeat_interval_ms = 100", "heartbeat_interval_ms = 400");
        assert_eq!(
            error_of(&text),
            "raft.heartbeat_interval_ms: must be less than raft.election_timeout_min_ms (400), got 400"
        );
    }

    #[test]
    fn election_min_must_be_below_max() {
        let text = full_with(
            "election_timeout_min_ms = 400",
            "election_timeout_min_ms = 800",
        );
        assert_eq!(
            error_of(&text),
            "raft.election_timeout_min_ms: must be less than raft.election_timeout_max_ms (800), got 800"
        );
    }

    #[test]
    fn rpc_timeout_must_be_positive() {
        let text = full_with("rpc_timeout_ms = 300", "rpc_timeout_ms = 0");
        assert_eq!(error_of(&text), "raft.rpc_timeout_ms: must be > 0");
    }

    #[test]
    fn rpc_timeout_must_be_below_election_max() {
        let text = full_with("rpc_timeout_ms = 300", "rpc_timeout_ms = 900");
        assert_eq!(
            error_of(&text),
            "raft.rpc_timeout_ms: must be less than raft.election_timeout_max_ms (800), got 900"
        );
    }

    #[test]
    fn unknown_raft_key_is_rejected() {
        let text = full_with(
            "rpc_timeout_ms = 300",
            "rpc_timeout_ms = 300\nheartbeat_ms = 5",
        );
        assert_eq!(
            error_of(&text),
            "raft.heartbeat_ms: unknown field `heartbeat_ms`, expected one of `heartbeat_interval_ms`, `election_timeout_min_ms`, `election_timeout_max_ms`, `rpc_timeout_ms`"
        );
    }
}
