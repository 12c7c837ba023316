//! Replies as short text for an operator: the answer first, the details after.

use ingressoja_client::proto::admin::{Member, MembershipReply};
use ingressoja_client::proto::ticketing::{
    AvailabilityReply, Hold, ListTicketsReply, PurchaseReply, ReleaseReply, Ticket,
};
use ingressoja_client::{ClientError, NodeReport};

use crate::format::{money, now_ms, relative, table, utc};
use crate::health;

/// How many hex characters of the state hash the status table shows.
const HASH_PREFIX: usize = 12;

/// `cluster status`: one row per node, then the leader and any divergence.
pub fn cluster_status(reports: &[NodeReport]) -> String {
    let header = [
        "NODE", "ADDR", "ROLE", "TERM", "LEADER", "LAST LOG", "APPLIED", "LAG", "HEALTH",
        "SNAPSHOT", "AUDIT", "STATE",
    ];
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|report| match &report.status {
            Ok(s) => vec![
                s.id.to_string(),
                report.addr.clone(),
                s.role.clone(),
                s.term.to_string(),
                if s.leader_id == 0 {
                    "-".to_string()
                } else {
                    s.leader_id.to_string()
                },
                s.last_log_index.to_string(),
                s.applied_index.to_string(),
                health::lag(reports, s)
                    .map(|lag| lag.to_string())
                    .unwrap_or_else(|| "-".into()),
                health::health(reports, s).to_string(),
                s.snapshot_index.to_string(),
                s.audit_len.to_string(),
                s.state_hash.chars().take(HASH_PREFIX).collect(),
            ],
            Err(error) => vec![
                "-".to_string(),
                report.addr.clone(),
                unreachable(&report.addr, error),
            ],
        })
        .collect();
    let mut out = table(&header, &rows, &[0, 3, 4, 5, 6, 7, 9, 10]);
    match health::leader(reports) {
        Some((id, addr)) => out.push_str(&format!("leader: node {id} at {addr}\n")),
        None => out.push_str("leader: none known (election in progress or quorum lost)\n"),
    }
    for index in health::divergences(reports) {
        out.push_str(&format!(
            "WARNING: replicas at applied index {index} report different state hashes\n"
        ));
    }
    for len in health::audit_divergences(reports) {
        out.push_str(&format!(
            "WARNING: replicas with {len} audit records report different audit heads \
             (run `ingressoja audit verify`)\n"
        ));
    }
    let statuses = || reports.iter().filter_map(|r| r.status.as_ref().ok());
    let clusters: std::collections::BTreeSet<&str> = statuses()
        .map(|s| s.cluster_id.as_str())
        .filter(|id| !id.is_empty())
        .collect();
    match clusters.len() {
        0 => {}
        1 => out.push_str(&format!(
            "cluster: {}\n",
            clusters.first().copied().unwrap_or_default()
        )),
        _ => out.push_str(&format!(
            "WARNING: these nodes belong to different clusters ({}): check their addresses\n",
            clusters.into_iter().collect::<Vec<_>>().join(", ")
        )),
    }
    for s in statuses().filter(|s| s.blank) {
        out.push_str(&format!(
            "node {} has a blank data directory: it votes for nobody until it is added as a \
             learner (if it lost its disk: `ingressoja cluster remove-node --id {} --force`, then \
             `ingressoja cluster add-node --id {} --addr ...`)\n",
            s.id, s.id, s.id
        ));
    }
    out
}

/// Why a node is missing from the table, without repeating its address.
pub fn unreachable(addr: &str, error: &ClientError) -> String {
    match error {
        ClientError::Transport(reason) => {
            let reason = reason
                .strip_prefix(addr)
                .and_then(|rest| rest.strip_prefix(": "))
                .unwrap_or(reason);
            format!("unreachable: {reason}")
        }
        other => format!("unreachable: {other}"),
    }
}

/// `hold`: the hold id and when it lapses.
pub fn placed_hold(hold: Option<&Hold>, log_index: u64) -> String {
    let Some(h) = hold else {
        return format!("hold placed (log index {log_index}), but the reply had no details\n");
    };
    format!(
        "hold {}: {} x {} of {} for {}\nexpires {} ({})\n",
        h.hold_id,
        h.quantity,
        h.category_id,
        h.event_id,
        h.customer_id,
        relative(h.expires_at_ms, now_ms()),
        utc(h.expires_at_ms),
    )
}

/// `release`: what went back on sale.
pub fn released(reply: &ReleaseReply) -> String {
    match &reply.hold {
        Some(h) => format!(
            "hold {} released: {} x {} of {} back on sale (status {}, log index {})\n",
            h.hold_id, h.quantity, h.category_id, h.event_id, h.status, reply.log_index
        ),
        None => format!("hold released (log index {})\n", reply.log_index),
    }
}

/// `purchase`: the charge, then every ticket id, one per line.
pub fn purchased(reply: &PurchaseReply) -> String {
    let charge = if reply.charge_id.is_empty() {
        String::new()
    } else {
        format!("charge {}, ", reply.charge_id)
    };
    let mut out = format!(
        "purchased {} ticket(s) ({charge}log index {}):\n",
        reply.tickets.len(),
        reply.log_index
    );
    out.push_str(&ticket_table(&reply.tickets));
    out
}

/// `tickets`: a customer's tickets.
pub fn tickets(customer: &str, reply: &ListTicketsReply) -> String {
    if reply.tickets.is_empty() {
        return format!(
            "{customer} owns no tickets (read at log index {})\n",
            reply.read_index
        );
    }
    let mut out = format!(
        "{customer} owns {} ticket(s) (read at log index {}):\n",
        reply.tickets.len(),
        reply.read_index
    );
    out.push_str(&ticket_table(&reply.tickets));
    out
}

fn ticket_table(tickets: &[Ticket]) -> String {
    let rows: Vec<Vec<String>> = tickets
        .iter()
        .map(|t| {
            vec![
                t.ticket_id.clone(),
                t.event_id.clone(),
                t.category_id.clone(),
                money(t.price_cents),
                t.hold_id.to_string(),
                utc(t.sold_at_ms),
            ]
        })
        .collect();
    table(
        &["TICKET", "EVENT", "CATEGORY", "PRICE", "HOLD", "SOLD AT"],
        &rows,
        &[3, 4],
    )
}

/// `availability`: one row per category.
pub fn availability(reply: &AvailabilityReply) -> String {
    let mut out = format!(
        "event {} {:?} (read at log index {})\n",
        reply.event_id, reply.name, reply.read_index
    );
    let rows: Vec<Vec<String>> = reply
        .categories
        .iter()
        .map(|c| {
            vec![
                c.category_id.clone(),
                c.name.clone(),
                money(c.price_cents),
                c.capacity.to_string(),
                c.sold.to_string(),
                c.held.to_string(),
                c.available.to_string(),
                c.per_customer_limit.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "CATEGORY",
            "NAME",
            "PRICE",
            "CAPACITY",
            "SOLD",
            "HELD",
            "AVAILABLE",
            "LIMIT",
        ],
        &rows,
        &[2, 3, 4, 5, 6, 7],
    ));
    out
}

/// `cluster add-learner` / `change-membership`: the resulting members.
pub fn membership(what: &str, reply: &MembershipReply) -> String {
    let mut out = format!("{what} (log index {}); members now:\n", reply.log_index);
    let rows: Vec<Vec<String>> = reply.members.iter().map(member_row).collect();
    out.push_str(&table(&["NODE", "ADDR", "KIND"], &rows, &[0]));
    out
}

fn member_row(m: &Member) -> Vec<String> {
    vec![
        m.id.to_string(),
        m.addr.clone(),
        if m.voter { "voter" } else { "learner" }.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingressoja_client::proto::admin::NodeStatus;

    #[test]
    fn cluster_status_shows_every_node_and_the_leader() {
        let reports = vec![
            NodeReport {
                addr: "127.0.0.1:7101".into(),
                status: Ok(NodeStatus {
                    id: 1,
                    addr: "127.0.0.1:7101".into(),
                    role: "leader".into(),
                    term: 3,
                    leader_id: 1,
                    last_log_index: 120,
                    applied_index: 120,
                    snapshot_index: 100,
                    state_hash: "0123456789abcdef0123".into(),
                    ..Default::default()
                }),
            },
            NodeReport {
                addr: "127.0.0.1:7102".into(),
                status: Err(ClientError::Transport(
                    "127.0.0.1:7102: unavailable: connection refused".into(),
                )),
            },
        ];
        let out = cluster_status(&reports);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("NODE  ADDR"), "{out}");
        assert!(
            lines[1].contains("leader") && lines[1].ends_with("0123456789ab"),
            "{out}"
        );
        assert!(
            lines[2].ends_with("127.0.0.1:7102  unreachable: unavailable: connection refused"),
            "{out}"
        );
        assert_eq!(lines[3], "leader: node 1 at 127.0.0.1:7101");
    }

    #[test]
    fn cluster_status_names_the_cluster_and_a_blank_node_with_its_runbook() {
        let status = |id: u64, cluster: &str, blank: bool| NodeReport {
            addr: format!("127.0.0.1:710{id}"),
            status: Ok(NodeStatus {
                id,
                role: if id == 1 { "leader" } else { "follower" }.into(),
                leader_id: 1,
                cluster_id: cluster.into(),
                blank,
                ..Default::default()
            }),
        };
        let out = cluster_status(&[status(1, "c0ffee", false), status(2, "", true)]);
        assert!(out.contains("cluster: c0ffee\n"), "{out}");
        assert!(
            out.contains("node 2 has a blank data directory")
                && out.contains("cluster remove-node --id 2"),
            "{out}"
        );
        let out = cluster_status(&[status(1, "c0ffee", false), status(2, "beef", false)]);
        assert!(
            out.contains("WARNING: these nodes belong to different clusters (beef, c0ffee)"),
            "{out}"
        );
    }

    #[test]
    fn a_hold_shows_its_id_and_expiry() {
        let hold = Hold {
            hold_id: 17,
            event_id: "rock".into(),
            category_id: "pista".into(),
            customer_id: "alice".into(),
            quantity: 2,
            expires_at_ms: 1_748_781_296_789,
            status: "live".into(),
            created_at_ms: 0,
        };
        let out = placed_hold(Some(&hold), 5);
        assert!(
            out.starts_with("hold 17: 2 x pista of rock for alice\n"),
            "{out}"
        );
        assert!(out.contains("2025-06-01 12:34:56 UTC"), "{out}");
    }

    #[test]
    fn a_purchase_lists_each_ticket_id() {
        let ticket = |id: &str| Ticket {
            ticket_id: id.into(),
            event_id: "rock".into(),
            category_id: "pista".into(),
            customer_id: "alice".into(),
            hold_id: 17,
            price_cents: 25000,
            sold_at_ms: 0,
        };
        let reply = PurchaseReply {
            tickets: vec![ticket("TKT-00000001"), ticket("TKT-00000002")],
            log_index: 9,
            charge_id: "ch_42".into(),
        };
        let out = purchased(&reply);
        assert!(
            out.starts_with("purchased 2 ticket(s) (charge ch_42, log index 9):\n"),
            "{out}"
        );
        assert!(out.contains("\nTKT-00000001  rock"), "{out}");
        assert!(out.contains("\nTKT-00000002  rock"), "{out}");
        assert!(out.contains("250.00"), "{out}");
    }
}
