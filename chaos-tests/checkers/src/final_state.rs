//! What the harness read from every node after the faults healed and the
//! cluster settled: the end state the checkers compare with the history and
//! with each other.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The end state of every node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalState {
    /// One entry per node that answered.
    pub nodes: Vec<NodeState>,
}

/// One node's end state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// The node's name (as in the cluster config).
    pub node: String,
    /// The state machine's hash; equal on every converged replica.
    pub state_hash: String,
    /// The audit chain's head hash; equal on every converged replica.
    pub audit_head: String,
    /// Counters of every category.
    pub categories: Vec<CategoryState>,
    /// Every ticket sold.
    pub tickets: Vec<Ticket>,
    /// Every queue entry, in sequence order per event.
    pub queue: Vec<QueueEntry>,
    /// Per event, the highest queue sequence number admitted.
    #[serde(default)]
    pub admitted_up_to: BTreeMap<String, u64>,
}

/// The counters of one category on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryState {
    /// The event.
    pub event: String,
    /// The category.
    pub category: String,
    /// Capacity as the node knows it.
    pub capacity: u64,
    /// Tickets bought.
    pub sold: u64,
    /// Tickets in live holds.
    pub held: u64,
}

/// One ticket, bound to the customer who bought it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ticket {
    /// The ticket's unique id.
    pub ticket_id: String,
    /// The event.
    pub event: String,
    /// The category.
    pub category: String,
    /// The owner.
    pub customer: String,
    /// The hold it was bought from.
    pub hold_id: u64,
}

/// A customer's place in an event's virtual queue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The event.
    pub event: String,
    /// Who is in line.
    pub customer: String,
    /// The sequence number (1-based).
    pub seq: u64,
}

impl NodeState {
    /// The counters of `event`/`category`, if the node has that category.
    pub fn category(&self, event: &str, category: &str) -> Option<&CategoryState> {
        self.categories
            .iter()
            .find(|c| c.event == event && c.category == category)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_final_state_reads_from_the_harness_json() {
        let json = r#"{"nodes":[{"node":"n1","state_hash":"ab","audit_head":"cd",
            "categories":[{"event":"rir","category":"pista","capacity":10,"sold":2,"held":1}],
            "tickets":[{"ticket_id":"t1","event":"rir","category":"pista","customer":"c1","hold_id":3}],
            "queue":[{"event":"rir","customer":"c1","seq":1}],
            "admitted_up_to":{"rir":1}}]}"#;
        let state: FinalState = serde_json::from_str(json).unwrap();
        let node = &state.nodes[0];
        assert_eq!(node.category("rir", "pista").unwrap().sold, 2);
        assert!(node.category("rir", "cadeira").is_none());
        assert_eq!(node.tickets[0].hold_id, 3);
        assert_eq!(node.admitted_up_to["rir"], 1);
    }
}
