//! Pairing each client invocation with its completion, into [`Operation`]s
//! the checkers reason about. An invocation still open at the end of the
//! history counts as `info`: its outcome is unknown.

use std::collections::HashMap;

use super::ops::{
    Call, HoldCall, HoldReply, JoinCall, JoinReply, OpKind, PurchaseCall, PurchaseReply, ReadCall,
    ReadReply, ReleaseCall, ReleaseReply, ReplayCall, ReplayReply, Reply,
};
use super::record::{Process, Record, RecordBody};

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<R> {
    /// Acknowledged with this reply: it happened.
    Ok(R),
    /// Definitely did not happen (the error code says why; some codes are
    /// observations of the state, e.g. `sold_out`).
    Fail(String),
    /// Unknown: it may have happened at any point after its invocation, or
    /// never. Carries the client's reason when it gave one.
    Info(Option<String>),
}

impl<R> Outcome<R> {
    /// The reply when acknowledged.
    pub fn ok(&self) -> Option<&R> {
        match self {
            Outcome::Ok(r) => Some(r),
            _ => None,
        }
    }

    /// The error code when it failed definitely.
    pub fn fail(&self) -> Option<&str> {
        match self {
            Outcome::Fail(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the outcome is unknown.
    pub fn is_info(&self) -> bool {
        matches!(self, Outcome::Info(_))
    }
}

/// When an operation was in flight, in history positions (the real-time
/// order) and harness nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Index of the invoke record.
    pub invoke_index: u64,
    /// Time of the invoke record.
    pub invoke_time_ns: u64,
    /// Index of the ok/fail record; `None` when the outcome is unknown (the
    /// operation may still take effect at any later point).
    pub complete_index: Option<u64>,
    /// Time of the ok/fail record, when there is one.
    pub complete_time_ns: Option<u64>,
}

impl Span {
    /// Whether this operation definitely finished before `later` started.
    pub fn precedes(&self, later: &Span) -> bool {
        self.complete_index
            .is_some_and(|done| done < later.invoke_index)
    }
}

/// A typed call and its typed outcome, one variant per operation kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpBody {
    /// A queue join.
    Join {
        /// What was asked.
        call: JoinCall,
        /// How it ended.
        outcome: Outcome<JoinReply>,
    },
    /// A hold.
    Hold {
        /// What was asked.
        call: HoldCall,
        /// How it ended.
        outcome: Outcome<HoldReply>,
    },
    /// A purchase.
    Purchase {
        /// What was asked.
        call: PurchaseCall,
        /// How it ended.
        outcome: Outcome<PurchaseReply>,
    },
    /// A release.
    Release {
        /// What was asked.
        call: ReleaseCall,
        /// How it ended.
        outcome: Outcome<ReleaseReply>,
    },
    /// A counters read.
    Read {
        /// What was asked.
        call: ReadCall,
        /// How it ended.
        outcome: Outcome<ReadReply>,
    },
    /// An acknowledged request sent again with its key.
    Replay {
        /// What was asked.
        call: ReplayCall,
        /// How it ended.
        outcome: Outcome<ReplayReply>,
    },
}

impl OpBody {
    /// The operation kind.
    pub fn kind(&self) -> OpKind {
        match self {
            OpBody::Join { .. } => OpKind::Join,
            OpBody::Hold { .. } => OpKind::Hold,
            OpBody::Purchase { .. } => OpKind::Purchase,
            OpBody::Release { .. } => OpKind::Release,
            OpBody::Read { .. } => OpKind::Read,
            OpBody::Replay { .. } => OpKind::Replay,
        }
    }

    /// `"ok"`, `"fail"` or `"info"`.
    pub fn outcome_name(&self) -> &'static str {
        fn name<R>(o: &Outcome<R>) -> &'static str {
            match o {
                Outcome::Ok(_) => "ok",
                Outcome::Fail(_) => "fail",
                Outcome::Info(_) => "info",
            }
        }
        match self {
            OpBody::Join { outcome, .. } => name(outcome),
            OpBody::Hold { outcome, .. } => name(outcome),
            OpBody::Purchase { outcome, .. } => name(outcome),
            OpBody::Release { outcome, .. } => name(outcome),
            OpBody::Read { outcome, .. } => name(outcome),
            OpBody::Replay { outcome, .. } => name(outcome),
        }
    }
}

/// One client operation: invocation and completion together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The client process that ran it.
    pub process: u64,
    /// When it was in flight.
    pub span: Span,
    /// The node that answered (or was asked), when recorded.
    pub node: Option<String>,
    /// What was asked and how it ended.
    pub body: OpBody,
}

impl std::fmt::Display for Operation {
    /// A one-line description for counterexamples, e.g.
    /// `p3 hold rir/pista c7 ×2 → ok hold 12 [#4..#9]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn end<R>(o: &Outcome<R>, ok: impl Fn(&R) -> String) -> String {
            match o {
                Outcome::Ok(r) => format!("ok {}", ok(r)),
                Outcome::Fail(e) => format!("fail {e}"),
                Outcome::Info(Some(e)) => format!("info ({e})"),
                Outcome::Info(None) => "info".to_string(),
            }
        }
        let text = match &self.body {
            OpBody::Join { call, outcome } => format!(
                "join {} {} → {}",
                call.event,
                call.customer,
                end(outcome, |r| format!("seq {}", r.seq))
            ),
            OpBody::Hold { call, outcome } => format!(
                "hold {}/{} {} ×{} → {}",
                call.event,
                call.category,
                call.customer,
                call.quantity,
                end(outcome, |r| format!("hold {}", r.hold_id))
            ),
            OpBody::Purchase { call, outcome } => format!(
                "purchase {}/{} {} hold {} ×{} ({:?}) → {}",
                call.event,
                call.category,
                call.customer,
                call.hold_id,
                call.quantity,
                call.payment,
                end(outcome, |r| format!("tickets {:?}", r.tickets))
            ),
            OpBody::Release { call, outcome } => format!(
                "release {}/{} {} hold {} ×{} → {}",
                call.event,
                call.category,
                call.customer,
                call.hold_id,
                call.quantity,
                end(outcome, |_| String::new())
            ),
            OpBody::Read { call, outcome } => format!(
                "read {}/{} → {}",
                call.event,
                call.category,
                end(outcome, |r| format!(
                    "capacity {} sold {} held {} available {}",
                    r.capacity, r.sold, r.held, r.available
                ))
            ),
            OpBody::Replay { call, outcome } => format!(
                "replay {} {} (first {}) → {}",
                call.of,
                call.key,
                call.first,
                end(outcome, |r| r.answer.to_string())
            ),
        };
        let done = match self.span.complete_index {
            Some(i) => format!("#{i}"),
            None => "…".to_string(),
        };
        write!(
            f,
            "p{} {} [#{}..{}]",
            self.process,
            text.trim_end(),
            self.span.invoke_index,
            done
        )
    }
}

/// Why a history is not a well-formed sequence of invocations and completions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    /// Indexes must strictly increase: they are the real-time order.
    #[error("record #{index} follows #{previous}: indexes must increase")]
    IndexNotIncreasing {
        /// The offending index.
        index: u64,
        /// The index before it.
        previous: u64,
    },
    /// A completion with no open invocation of that process.
    #[error("record #{index}: process {process} completes {f} but invoked nothing")]
    CompletionWithoutInvoke {
        /// The completion's index.
        index: u64,
        /// The process.
        process: u64,
        /// The operation kind completed.
        f: OpKind,
    },
    /// A completion of another kind than the open invocation.
    #[error("record #{index}: process {process} invoked {invoked} but completes {completed}")]
    KindMismatch {
        /// The completion's index.
        index: u64,
        /// The process.
        process: u64,
        /// What was invoked.
        invoked: OpKind,
        /// What the completion says.
        completed: OpKind,
    },
    /// A process invoked again before its previous operation completed; the
    /// earlier one is counted as info.
    #[error("record #{index}: process {process} invokes again while #{open} is open")]
    InvokeWhileOpen {
        /// The second invocation's index.
        index: u64,
        /// The process.
        process: u64,
        /// The open invocation's index.
        open: u64,
    },
}

/// The result of pairing: every operation that could be formed, and every
/// malformation found (a harness bug, reported rather than hidden).
#[derive(Debug, Clone, Default)]
pub struct Pairs {
    /// Operations in invocation order.
    pub operations: Vec<Operation>,
    /// Problems, in history order.
    pub problems: Vec<PairingError>,
}

/// Pairs `records` per process; see [`Pairs`].
pub(super) fn pair(records: &[Record]) -> Pairs {
    let mut out = Pairs::default();
    let mut open: HashMap<u64, &Record> = HashMap::new();
    let mut previous: Option<u64> = None;
    for r in records {
        if let Some(prev) = previous {
            if r.index <= prev {
                out.problems.push(PairingError::IndexNotIncreasing {
                    index: r.index,
                    previous: prev,
                });
            }
        }
        previous = Some(r.index);
        let Process::Client(process) = r.process else {
            continue;
        };
        match &r.body {
            RecordBody::Nemesis { .. } => {}
            RecordBody::Invoke(_) => {
                if let Some(earlier) = open.insert(process, r) {
                    out.problems.push(PairingError::InvokeWhileOpen {
                        index: r.index,
                        process,
                        open: earlier.index,
                    });
                    out.operations.push(unfinished(process, earlier));
                }
            }
            RecordBody::Ok(_) | RecordBody::Fail { .. } | RecordBody::Info { .. } => {
                let completed = completion_kind(&r.body);
                let Some(invoke) = open.remove(&process) else {
                    out.problems.push(PairingError::CompletionWithoutInvoke {
                        index: r.index,
                        process,
                        f: completed,
                    });
                    continue;
                };
                let RecordBody::Invoke(call) = &invoke.body else {
                    unreachable!("only invocations are kept open");
                };
                if call.kind() != completed {
                    out.problems.push(PairingError::KindMismatch {
                        index: r.index,
                        process,
                        invoked: call.kind(),
                        completed,
                    });
                    out.operations.push(unfinished(process, invoke));
                    continue;
                }
                out.operations.push(complete(process, invoke, call, r));
            }
        }
    }
    let mut still_open: Vec<&Record> = open.into_values().collect();
    still_open.sort_by_key(|r| r.index);
    for r in still_open {
        let Process::Client(process) = r.process else {
            unreachable!("only client invocations are kept open");
        };
        out.operations.push(unfinished(process, r));
    }
    out.operations.sort_by_key(|op| op.span.invoke_index);
    out
}

fn completion_kind(body: &RecordBody) -> OpKind {
    match body {
        RecordBody::Ok(reply) => reply.kind(),
        RecordBody::Fail { f, .. } | RecordBody::Info { f, .. } => *f,
        RecordBody::Invoke(_) | RecordBody::Nemesis { .. } => {
            unreachable!("called on completions only")
        }
    }
}

/// An invocation that never got a definite completion: info.
fn unfinished(process: u64, invoke: &Record) -> Operation {
    let RecordBody::Invoke(call) = &invoke.body else {
        unreachable!("only invocations are kept open");
    };
    Operation {
        process,
        span: Span {
            invoke_index: invoke.index,
            invoke_time_ns: invoke.time_ns,
            complete_index: None,
            complete_time_ns: None,
        },
        node: invoke.node.clone(),
        body: body(call.clone(), Completion::Info(None)),
    }
}

fn complete(process: u64, invoke: &Record, call: &Call, done: &Record) -> Operation {
    let (completion, definite) = match &done.body {
        RecordBody::Ok(reply) => (Completion::Ok(reply.clone()), true),
        RecordBody::Fail { error, .. } => (Completion::Fail(error.clone()), true),
        RecordBody::Info { error, .. } => (Completion::Info(error.clone()), false),
        RecordBody::Invoke(_) | RecordBody::Nemesis { .. } => {
            unreachable!("called on completions only")
        }
    };
    Operation {
        process,
        span: Span {
            invoke_index: invoke.index,
            invoke_time_ns: invoke.time_ns,
            complete_index: definite.then_some(done.index),
            complete_time_ns: definite.then_some(done.time_ns),
        },
        node: done.node.clone().or_else(|| invoke.node.clone()),
        body: body(call.clone(), completion),
    }
}

/// An untyped completion, before it is matched to its call's kind.
enum Completion {
    Ok(Reply),
    Fail(String),
    Info(Option<String>),
}

fn body(call: Call, completion: Completion) -> OpBody {
    fn outcome<R>(c: Completion, pick: impl FnOnce(Reply) -> Option<R>) -> Outcome<R> {
        match c {
            Completion::Ok(reply) => {
                Outcome::Ok(pick(reply).expect("pair() checks the reply's kind first"))
            }
            Completion::Fail(e) => Outcome::Fail(e),
            Completion::Info(e) => Outcome::Info(e),
        }
    }
    match call {
        Call::Join(call) => OpBody::Join {
            call,
            outcome: outcome(completion, |r| match r {
                Reply::Join(r) => Some(r),
                _ => None,
            }),
        },
        Call::Hold(call) => OpBody::Hold {
            call,
            outcome: outcome(completion, |r| match r {
                Reply::Hold(r) => Some(r),
                _ => None,
            }),
        },
        Call::Purchase(call) => OpBody::Purchase {
            call,
            outcome: outcome(completion, |r| match r {
                Reply::Purchase(r) => Some(r),
                _ => None,
            }),
        },
        Call::Release(call) => OpBody::Release {
            call,
            outcome: outcome(completion, |r| match r {
                Reply::Release(r) => Some(r),
                _ => None,
            }),
        },
        Call::Read(call) => OpBody::Read {
            call,
            outcome: outcome(completion, |r| match r {
                Reply::Read(r) => Some(r),
                _ => None,
            }),
        },
        Call::Replay(call) => OpBody::Replay {
            call,
            outcome: outcome(completion, |r| match r {
                Reply::Replay(r) => Some(r),
                _ => None,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::History;

    fn join(customer: &str) -> Call {
        Call::Join(JoinCall {
            event: "rir".into(),
            customer: customer.into(),
        })
    }

    #[test]
    fn invocations_pair_with_their_completions_per_process() {
        let mut h = History::new();
        h.push(Record::invoke(1, 10, join("a")));
        h.push(Record::invoke(2, 11, join("b")));
        h.push(Record::ok(2, 20, Reply::Join(JoinReply { seq: 1 })));
        h.push(Record::fail(1, 21, OpKind::Join, "not_open"));
        h.push(Record::invoke(1, 30, join("a")));
        h.push(Record::info(1, 40, OpKind::Join, Some("timeout")));
        h.push(Record::invoke(3, 50, join("c")));
        let ops = h.operations().unwrap();
        assert_eq!(ops.len(), 4);
        let outcomes: Vec<(u64, &str, Option<u64>)> = ops
            .iter()
            .map(|o| (o.process, o.body.outcome_name(), o.span.complete_index))
            .collect();
        assert_eq!(
            outcomes,
            vec![
                (1, "fail", Some(3)),
                (2, "ok", Some(2)),
                (1, "info", None),
                (3, "info", None)
            ]
        );
        assert!(ops[1].span.precedes(&ops[2].span));
        assert!(!ops[0].span.precedes(&ops[1].span));
        assert!(
            !ops[2].span.precedes(&ops[3].span),
            "an info op never precedes anything"
        );
    }

    #[test]
    fn malformed_histories_are_reported() {
        let mut h = History::new();
        h.push(Record::ok(1, 10, Reply::Join(JoinReply { seq: 1 })));
        h.push(Record::invoke(2, 11, join("b")));
        h.push(Record::invoke(2, 12, join("b")));
        h.push(Record::fail(2, 13, OpKind::Hold, "sold_out"));
        let pairs = h.pairs();
        assert_eq!(
            pairs.problems,
            vec![
                PairingError::CompletionWithoutInvoke {
                    index: 0,
                    process: 1,
                    f: OpKind::Join
                },
                PairingError::InvokeWhileOpen {
                    index: 2,
                    process: 2,
                    open: 1
                },
                PairingError::KindMismatch {
                    index: 3,
                    process: 2,
                    invoked: OpKind::Join,
                    completed: OpKind::Hold
                },
            ]
        );
        assert_eq!(pairs.operations.len(), 2, "both joins are kept as info");
        assert!(pairs
            .operations
            .iter()
            .all(|o| o.body.outcome_name() == "info"));
        assert!(h.operations().is_err());
    }

    #[test]
    fn decreasing_indexes_are_reported() {
        let mut a = Record::invoke(1, 10, join("a"));
        a.index = 5;
        let mut b = Record::ok(1, 11, Reply::Join(JoinReply { seq: 1 }));
        b.index = 4;
        let pairs = History::from(vec![a, b]).pairs();
        assert_eq!(
            pairs.problems,
            vec![PairingError::IndexNotIncreasing {
                index: 4,
                previous: 5
            }]
        );
    }

    #[test]
    fn operations_print_on_one_line() {
        let mut h = History::new();
        h.push(Record::invoke(7, 10, join("ana")));
        h.push(Record::ok(7, 20, Reply::Join(JoinReply { seq: 3 })));
        let op = &h.operations().unwrap()[0];
        assert_eq!(op.to_string(), "p7 join rir ana → ok seq 3 [#0..#1]");
    }
}
