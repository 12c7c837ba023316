//! Test-only helpers to write small histories and end states by hand: one
//! event `rir` with categories `pista` (capacity 10, limit 4) and `cadeira`
//! (capacity 5, limit 2), event-wide limit 4.

pub(crate) use crate::final_state::{CategoryState, FinalState, NodeState, QueueEntry, Ticket};
pub(crate) use crate::history::*;
pub(crate) use crate::spec::{CategorySpec, EventSpec, SaleSpec};

use super::Run;
use crate::watched::Watched;

/// The sale every fixture history runs against.
pub(crate) fn spec() -> SaleSpec {
    SaleSpec {
        events: vec![EventSpec {
            event: "rir".into(),
            customer_limit: Some(4),
            queue: None,
            categories: vec![
                CategorySpec {
                    category: "pista".into(),
                    capacity: 10,
                    customer_limit: 4,
                    holds_expire: false,
                },
                CategorySpec {
                    category: "cadeira".into(),
                    capacity: 5,
                    customer_limit: 2,
                    holds_expire: false,
                },
            ],
        }],
    }
}

/// Builds a history record by record, the clock ticking by one per record.
pub(crate) struct Script {
    pub(crate) history: History,
    time: u64,
}

impl Script {
    pub(crate) fn new() -> Script {
        Script {
            history: History::new(),
            time: 0,
        }
    }

    /// A script of records written elsewhere (e.g. edited copies).
    pub(crate) fn of(records: Vec<Record>) -> Script {
        let time = records.last().map_or(0, |r| r.time_ns);
        Script {
            history: History::from(records),
            time,
        }
    }

    /// The time of the last record written.
    pub(crate) fn now(&self) -> u64 {
        self.time
    }

    fn tick(&mut self) -> u64 {
        self.time += 1;
        self.time
    }

    pub(crate) fn call(&mut self, p: u64, call: Call) {
        let t = self.tick();
        self.history.push(Record::invoke(p, t, call));
    }

    pub(crate) fn ok(&mut self, p: u64, reply: Reply) {
        let t = self.tick();
        self.history.push(Record::ok(p, t, reply));
    }

    pub(crate) fn fail(&mut self, p: u64, f: OpKind, error: &str) {
        let t = self.tick();
        self.history.push(Record::fail(p, t, f, error));
    }

    pub(crate) fn info(&mut self, p: u64, f: OpKind) {
        let t = self.tick();
        self.history.push(Record::info(p, t, f, Some("timeout")));
    }

    pub(crate) fn ops(&self) -> Vec<Operation> {
        self.history
            .operations()
            .expect("fixture histories are well formed")
    }
}

/// A run over `ops` and `fin` against [`spec`].
pub(crate) fn run<'a>(ops: &'a [Operation], fin: &'a FinalState, spec: &'a SaleSpec) -> Run<'a> {
    /// No event consumer (the watch-stream tests set their own).
    static NO_WATCH: Watched = Watched {
        consumers: std::collections::BTreeMap::new(),
        caught_up: false,
    };
    Run {
        operations: ops,
        final_state: fin,
        watched: &NO_WATCH,
        spec,
    }
}

/// A run over `ops` and `fin` against `spec`, with the event feed `watched`.
pub(crate) fn run_watched<'a>(
    ops: &'a [Operation],
    fin: &'a FinalState,
    watched: &'a Watched,
    spec: &'a SaleSpec,
) -> Run<'a> {
    Run {
        watched,
        ..run(ops, fin, spec)
    }
}

/// The kinds of a result's anomalies, in the order found.
pub(crate) fn anomaly_kinds(result: &super::CheckResult) -> Vec<super::AnomalyKind> {
    result.anomalies.iter().map(|a| a.kind).collect()
}

pub(crate) fn join(customer: &str) -> Call {
    Call::Join(JoinCall {
        event: "rir".into(),
        customer: customer.into(),
    })
}

pub(crate) fn joined(seq: u64) -> Reply {
    Reply::Join(JoinReply { seq })
}

pub(crate) fn hold(customer: &str, quantity: u64) -> Call {
    hold_in("pista", customer, quantity)
}

pub(crate) fn hold_in(category: &str, customer: &str, quantity: u64) -> Call {
    Call::Hold(HoldCall {
        event: "rir".into(),
        category: category.into(),
        customer: customer.into(),
        quantity,
    })
}

pub(crate) fn held(hold_id: u64) -> Reply {
    Reply::Hold(HoldReply {
        hold_id,
        expires_in_ms: None,
    })
}

pub(crate) fn purchase(customer: &str, hold_id: u64, quantity: u64) -> Call {
    purchase_paying(customer, hold_id, quantity, Payment::Approve)
}

pub(crate) fn purchase_paying(
    customer: &str,
    hold_id: u64,
    quantity: u64,
    payment: Payment,
) -> Call {
    Call::Purchase(PurchaseCall {
        event: "rir".into(),
        category: "pista".into(),
        customer: customer.into(),
        hold_id,
        quantity,
        payment,
    })
}

pub(crate) fn bought(tickets: &[&str]) -> Reply {
    Reply::Purchase(PurchaseReply {
        tickets: tickets.iter().map(|t| t.to_string()).collect(),
    })
}

pub(crate) fn release(customer: &str, hold_id: u64, quantity: u64) -> Call {
    Call::Release(ReleaseCall {
        event: "rir".into(),
        category: "pista".into(),
        customer: customer.into(),
        hold_id,
        quantity,
    })
}

pub(crate) fn released() -> Reply {
    Reply::Release(ReleaseReply {})
}

/// `first`, acknowledged under key `key`, sent again.
pub(crate) fn replay(key: &str, first: Reply) -> Call {
    Call::Replay(ReplayCall {
        of: first.kind(),
        key: key.into(),
        first: first.to_value(),
    })
}

/// A replay answered with `answer`.
pub(crate) fn replayed(answer: Reply) -> Reply {
    Reply::Replay(ReplayReply {
        answer: answer.to_value(),
    })
}

pub(crate) fn read() -> Call {
    Call::Read(ReadCall {
        event: "rir".into(),
        category: "pista".into(),
    })
}

/// A consistent read of `pista` (capacity 10).
pub(crate) fn counters(sold: u64, held: u64) -> Reply {
    Reply::Read(ReadReply {
        capacity: 10,
        sold,
        held,
        available: 10u64.saturating_sub(sold + held),
    })
}

/// A `pista` ticket.
pub(crate) fn ticket(id: &str, customer: &str, hold_id: u64) -> Ticket {
    Ticket {
        ticket_id: id.into(),
        event: "rir".into(),
        category: "pista".into(),
        customer: customer.into(),
        hold_id,
    }
}

/// A node whose `pista` counters are `(sold, held)` (`cadeira` untouched).
pub(crate) fn node_state(
    name: &str,
    pista: (u64, u64),
    tickets: Vec<Ticket>,
    queue: &[(&str, u64)],
) -> NodeState {
    NodeState {
        node: name.into(),
        state_hash: "5eed".into(),
        audit_head: "a0d1".into(),
        categories: vec![
            CategoryState {
                event: "rir".into(),
                category: "pista".into(),
                capacity: 10,
                sold: pista.0,
                held: pista.1,
            },
            CategoryState {
                event: "rir".into(),
                category: "cadeira".into(),
                capacity: 5,
                sold: 0,
                held: 0,
            },
        ],
        tickets,
        queue: queue
            .iter()
            .map(|(customer, seq)| QueueEntry {
                event: "rir".into(),
                customer: customer.to_string(),
                seq: *seq,
            })
            .collect(),
        admitted_up_to: [("rir".to_string(), 0)].into_iter().collect(),
    }
}

/// The same end state on nodes `n1`, `n2`, `n3`.
pub(crate) fn everywhere(node: NodeState) -> FinalState {
    FinalState {
        nodes: ["n1", "n2", "n3"]
            .iter()
            .map(|n| NodeState {
                node: n.to_string(),
                ..node.clone()
            })
            .collect(),
    }
}
