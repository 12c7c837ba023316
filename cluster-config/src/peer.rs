//! The initial voter set.

use serde::{Deserialize, Serialize};

use crate::addr::check_host_port;
use crate::ConfigError;

/// One initial voter of the cluster: its Raft id and the gRPC address the
/// other nodes dial to reach it.
///
/// The address is advertised, not bound: it may be a DNS name that only
/// resolves inside the deployment network (`node1:7101`) or an IP literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Raft node id of this voter; > 0 and unique within `peers`.
    pub id: u64,
    /// Advertised gRPC address, `host:port` (`[v6]:port` for IPv6).
    pub addr: String,
}

/// Checks the voter list on its own: non-empty, ids > 0 and unique,
/// addresses dialable. Whether it contains the local node is checked by
/// [`crate::NodeConfig::validate`].
pub(crate) fn validate_peers(peers: &[PeerConfig]) -> Result<(), ConfigError> {
    if peers.is_empty() {
        return Err(ConfigError::invalid(
            "peers",
            "must list at least one voter ([[peers]] with id and addr)",
        ));
    }
    for (i, peer) in peers.iter().enumerate() {
        if peer.id == 0 {
            return Err(ConfigError::invalid(
                format!("peers[{i}].id"),
                "must be > 0",
            ));
        }
        if let Some(first) = peers[..i].iter().position(|p| p.id == peer.id) {
            return Err(ConfigError::invalid(
                format!("peers[{i}].id"),
                format!("duplicate id {} (also peers[{first}])", peer.id),
            ));
        }
        if let Err(why) = check_host_port(&peer.addr) {
            return Err(ConfigError::invalid(
                format!("peers[{i}].addr"),
                format!("invalid socket address {:?}: {why}", peer.addr),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::test_support::{error_of, full_with, FULL};

    #[test]
    fn peers_must_not_be_empty() {
        let text = "id = 1\ndata_dir = \"d\"\npeers = []\n[listen]\ngrpc = \"127.0.0.1:1\"\n";
        assert_eq!(
            error_of(text),
            "peers: must list at least one voter ([[peers]] with id and addr)"
        );
    }

    #[test]
    fn peers_are_required() {
        let text = "id = 1\ndata_dir = \"d\"\n[listen]\ngrpc = \"127.0.0.1:1\"\n";
        assert_eq!(error_of(text), "peers: missing field `peers`");
    }

    #[test]
    fn peer_id_must_be_positive() {
        let text = full_with("id = 3\n", "id = 0\n");
        assert_eq!(error_of(&text), "peers[2].id: must be > 0");
    }

    #[test]
    fn peer_ids_must_be_unique() {
        let text = format!("{FULL}\n[[peers]]\nid = 2\naddr = \"node4:7104\"\n");
        assert_eq!(
            error_of(&text),
            "peers[3].id: duplicate id 2 (also peers[1])"
        );
    }

    #[test]
    fn peer_addr_must_be_host_port() {
        let text = full_with(r#"addr = "node3:7103""#, r#"addr = "x:y""#);
        assert_eq!(
            error_of(&text),
            r#"peers[2].addr: invalid socket address "x:y": port is not a number"#
        );
    }

    #[test]
    fn peer_addr_port_must_be_in_range() {
        let text = full_with(r#"addr = "node1:7101""#, r#"addr = "node1:0""#);
        assert!(error_of(&text).starts_with(r#"peers[0].addr: invalid socket address "node1:0""#));
    }

    #[test]
    fn unknown_peer_key_names_the_entry() {
        let text = full_with("id = 3\n", "id = 3\nport = 7103\n");
        assert!(
            error_of(&text).starts_with("peers[2].port: unknown field `port`"),
            "{}",
            error_of(&text)
        );
    }

    #[test]
    fn peer_type_error_names_the_entry() {
        let text = full_with("id = 3\n", "id = \"three\"\n");
        assert_eq!(
            error_of(&text),
            r#"peers[2].id: invalid type: string "three", expected u64"#
        );
    }

    #[test]
    fn missing_peer_addr_names_the_entry() {
        let text = full_with("addr = \"node2:7102\"\n", "");
        assert_eq!(error_of(&text), "peers[1].addr: missing field `addr`");
    }

    #[test]
    fn inline_peer_list_errors_are_indexed_too() {
        let text = "id = 1\ndata_dir = \"d\"\npeers = [{ id = 1, addr = \"a:1\" }, { id = -2, addr = \"b:1\" }]\n[listen]\ngrpc = \"127.0.0.1:1\"\n";
        assert_eq!(
            error_of(text),
            "peers[1].id: invalid value: integer `-2`, expected u64"
        );
    }
}
