//! What the nodes' status reports say about the cluster as a whole: who
//! leads, and whether any replicas disagree about the sale state.

use std::collections::BTreeMap;

use ingressoja_client::proto::admin::NodeStatus;
use ingressoja_client::NodeReport;

/// The leader as `(node id, address)`: a reachable node that says it leads
/// (highest term wins), else the leader the reachable nodes point to.
pub fn leader(reports: &[NodeReport]) -> Option<(u64, String)> {
    let reachable = || {
        reports
            .iter()
            .filter_map(|r| r.status.as_ref().ok().map(|s| (r, s)))
    };
    let claimed = reachable()
        .filter(|(_, s)| s.role == "leader")
        .max_by_key(|(_, s)| s.term)
        .map(|(r, s)| (s.id, addr_of(s, &r.addr)));
    claimed.or_else(|| {
        reachable()
            .filter(|(_, s)| s.leader_id != 0)
            .max_by_key(|(_, s)| s.term)
            .map(|(_, s)| (s.leader_id, s.leader_addr.clone()))
    })
}

/// How far each reachable node's applied index trails the leader's last
/// log index (`None` when no reachable node leads), for the lag column.
pub fn lag(reports: &[NodeReport], status: &NodeStatus) -> Option<u64> {
    let leader_log = reports
        .iter()
        .filter_map(|r| r.status.as_ref().ok())
        .filter(|s| s.role == "leader")
        .max_by_key(|s| s.term)?
        .last_log_index;
    Some(leader_log.saturating_sub(status.applied_index))
}

/// A node's health in one word: `ok`, `lagging` (more than
/// [`CAUGHT_UP_LAG`](ingressoja_client::membership::CAUGHT_UP_LAG) entries
/// behind the leader) or `no-leader`.
pub fn health(reports: &[NodeReport], status: &NodeStatus) -> &'static str {
    match lag(reports, status) {
        None => "no-leader",
        Some(lag) if lag > ingressoja_client::membership::CAUGHT_UP_LAG => "lagging",
        Some(_) => "ok",
    }
}

/// Applied indexes at which reachable nodes report different state hashes:
/// replicas that diverged, which must never happen.
pub fn divergences(reports: &[NodeReport]) -> Vec<u64> {
    let mut hashes: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for status in reports.iter().filter_map(|r| r.status.as_ref().ok()) {
        if !status.state_hash.is_empty() {
            hashes
                .entry(status.applied_index)
                .or_default()
                .push(&status.state_hash);
        }
    }
    hashes
        .into_iter()
        .filter(|(_, hs)| hs.windows(2).any(|pair| pair[0] != pair[1]))
        .map(|(index, _)| index)
        .collect()
}

/// Audit chain lengths at which reachable nodes report different head
/// hashes: audit logs that diverged, which must never happen.
pub fn audit_divergences(reports: &[NodeReport]) -> Vec<u64> {
    let mut heads: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for status in reports.iter().filter_map(|r| r.status.as_ref().ok()) {
        if !status.audit_head.is_empty() {
            heads
                .entry(status.audit_len)
                .or_default()
                .push(&status.audit_head);
        }
    }
    heads
        .into_iter()
        .filter(|(_, hs)| hs.windows(2).any(|pair| pair[0] != pair[1]))
        .map(|(len, _)| len)
        .collect()
}

/// The node's advertised address, or the one it was reached at.
fn addr_of(status: &NodeStatus, reached_at: &str) -> String {
    if status.addr.is_empty() {
        reached_at.to_string()
    } else {
        status.addr.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingressoja_client::ClientError;

    fn node(
        id: u64,
        role: &str,
        term: u64,
        leader_id: u64,
        applied: u64,
        hash: &str,
    ) -> NodeReport {
        NodeReport {
            addr: format!("n{id}:7100"),
            status: Ok(NodeStatus {
                id,
                addr: format!("n{id}:7100"),
                role: role.into(),
                term,
                leader_id,
                leader_addr: format!("n{leader_id}:7100"),
                applied_index: applied,
                state_hash: hash.into(),
                ..Default::default()
            }),
        }
    }

    fn down(addr: &str) -> NodeReport {
        NodeReport {
            addr: addr.into(),
            status: Err(ClientError::Transport("refused".into())),
        }
    }

    #[test]
    fn the_node_claiming_leadership_in_the_highest_term_leads() {
        let reports = vec![
            node(1, "leader", 3, 1, 10, "aa"),
            node(2, "leader", 4, 2, 10, "aa"),
            down("n3:7100"),
        ];
        assert_eq!(leader(&reports), Some((2, "n2:7100".into())));
    }

    #[test]
    fn followers_pointing_at_an_unreachable_leader_still_name_it() {
        let reports = vec![node(2, "follower", 4, 1, 10, "aa"), down("n1:7100")];
        assert_eq!(leader(&reports), Some((1, "n1:7100".into())));
    }

    #[test]
    fn no_leader_when_nobody_knows_one() {
        let reports = vec![node(2, "candidate", 4, 0, 10, "aa"), down("n1:7100")];
        assert_eq!(leader(&reports), None);
        assert_eq!(leader(&[down("n1:7100")]), None);
    }

    #[test]
    fn equal_index_different_hash_is_a_divergence() {
        let reports = vec![
            node(1, "leader", 3, 1, 10, "aa"),
            node(2, "follower", 3, 1, 10, "bb"),
            node(3, "follower", 3, 1, 9, "cc"),
        ];
        assert_eq!(divergences(&reports), vec![10]);
    }

    #[test]
    fn equal_audit_length_different_head_is_a_divergence() {
        let mut reports = vec![
            node(1, "leader", 3, 1, 10, "aa"),
            node(2, "follower", 3, 1, 10, "aa"),
            node(3, "follower", 3, 1, 9, "aa"),
        ];
        for (report, (len, head)) in reports.iter_mut().zip([(5, "h1"), (5, "h2"), (4, "h3")]) {
            if let Ok(status) = report.status.as_mut() {
                status.audit_len = len;
                status.audit_head = head.into();
            }
        }
        assert_eq!(audit_divergences(&reports), vec![5]);
    }

    #[test]
    fn different_indexes_are_not_compared() {
        let reports = vec![
            node(1, "leader", 3, 1, 10, "aa"),
            node(2, "follower", 3, 1, 9, "bb"),
            node(3, "follower", 3, 1, 10, ""),
        ];
        assert!(divergences(&reports).is_empty());
    }
}
