//! One line of a history: who did what, when, and with which outcome.
//!
//! On disk a record is the flat Jepsen shape
//! `{"index", "type", "process", "time_ns", "f", "value", "error"?, "node"?}`;
//! in memory the `value` is typed by `f` and `type` ([`RecordBody`]).

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ops::{Call, OpKind, Reply};

/// Who produced a record: a numbered client process, or the nemesis that
/// injects faults. Written as a number, or as the string `"nemesis"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client process; it has at most one operation in flight.
    Client(u64),
    /// The fault injector.
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ProcessVisitor;
        impl Visitor<'_> for ProcessVisitor {
            type Value = Process;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a client number or the string \"nemesis\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Process, E> {
                Ok(Process::Client(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Process, E> {
                u64::try_from(v)
                    .map(Process::Client)
                    .map_err(|_| E::custom(format!("negative process number {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Process, E> {
                if v == "nemesis" {
                    Ok(Process::Nemesis)
                } else {
                    Err(E::custom(format!("unknown process {v:?}")))
                }
            }
        }
        d.deserialize_any(ProcessVisitor)
    }
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Process::Client(p) => write!(f, "process {p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

/// The record's `type`: Jepsen's four outcomes of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    /// The operation starts.
    Invoke,
    /// It completed and was acknowledged.
    Ok,
    /// It definitely did not happen (with the error code saying why).
    Fail,
    /// Its outcome is unknown (a timeout, a lost connection).
    Info,
}

/// The typed content of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordBody {
    /// A client starts an operation.
    Invoke(Call),
    /// A client's operation was acknowledged with this reply.
    Ok(Reply),
    /// A client's operation failed definitely, with an error code.
    Fail {
        /// The operation kind.
        f: OpKind,
        /// The error code (see [`super::ops::codes`]).
        error: String,
    },
    /// A client's operation has an unknown outcome.
    Info {
        /// The operation kind.
        f: OpKind,
        /// Why the outcome is unknown, when the client knows.
        error: Option<String>,
    },
    /// A fault starts or stops. The value is free-form: the checkers do not
    /// interpret faults, the report shows them beside the anomalies.
    Nemesis {
        /// invoke/ok/info as the harness wrote it.
        kind: RecordType,
        /// The fault, e.g. `start-partition`, `stop-partition`, `kill`.
        f: String,
        /// What the fault did (nodes, grudge, …).
        value: Value,
        /// An error the nemesis reported, if any.
        error: Option<String>,
    },
}

/// One line of a history.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawRecord")]
pub struct Record {
    /// Position in the history; strictly increasing, it is the real-time order.
    pub index: u64,
    /// Who produced the record.
    pub process: Process,
    /// Harness clock (monotonic nanoseconds), for the report and latency.
    pub time_ns: u64,
    /// What happened.
    pub body: RecordBody,
    /// The node the client talked to, when known.
    pub node: Option<String>,
}

/// Why a well-formed JSON line is not a valid record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A client record's `f` is not one of the operation kinds.
    #[error("unknown operation {0:?} (expected join, hold, purchase, release, read or replay)")]
    UnknownOperation(String),
    /// The value does not have the shape `f` and `type` require.
    #[error("the value of a {kind:?} {f} does not fit: {source}")]
    BadValue {
        /// The operation kind.
        f: OpKind,
        /// The record type.
        kind: RecordType,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A `fail` record carries no error code.
    #[error("a fail record of {0} has no error code")]
    FailWithoutError(OpKind),
}

impl Record {
    /// A record to [`super::History::push`] (which numbers it).
    pub fn new(process: Process, time_ns: u64, body: RecordBody) -> Record {
        Record {
            index: 0,
            process,
            time_ns,
            body,
            node: None,
        }
    }

    /// A client starts `call`.
    pub fn invoke(process: u64, time_ns: u64, call: Call) -> Record {
        Record::new(Process::Client(process), time_ns, RecordBody::Invoke(call))
    }

    /// A client's operation was acknowledged with `reply`.
    pub fn ok(process: u64, time_ns: u64, reply: Reply) -> Record {
        Record::new(Process::Client(process), time_ns, RecordBody::Ok(reply))
    }

    /// A client's `f` definitely failed with `error`.
    pub fn fail(process: u64, time_ns: u64, f: OpKind, error: &str) -> Record {
        let error = error.to_string();
        Record::new(
            Process::Client(process),
            time_ns,
            RecordBody::Fail { f, error },
        )
    }

    /// A client's `f` has an unknown outcome.
    pub fn info(process: u64, time_ns: u64, f: OpKind, error: Option<&str>) -> Record {
        let error = error.map(str::to_string);
        Record::new(
            Process::Client(process),
            time_ns,
            RecordBody::Info { f, error },
        )
    }

    /// A nemesis event, e.g. `("start-partition", {"isolated": ["n1"]})`.
    pub fn nemesis(time_ns: u64, kind: RecordType, f: &str, value: Value) -> Record {
        let body = RecordBody::Nemesis {
            kind,
            f: f.to_string(),
            value,
            error: None,
        };
        Record::new(Process::Nemesis, time_ns, body)
    }

    /// The same record, noting the node the client talked to.
    pub fn at_node(mut self, node: &str) -> Record {
        self.node = Some(node.to_string());
        self
    }

    /// The record's `type`.
    pub fn kind(&self) -> RecordType {
        match &self.body {
            RecordBody::Invoke(_) => RecordType::Invoke,
            RecordBody::Ok(_) => RecordType::Ok,
            RecordBody::Fail { .. } => RecordType::Fail,
            RecordBody::Info { .. } => RecordType::Info,
            RecordBody::Nemesis { kind, .. } => *kind,
        }
    }
}

/// The flat on-disk shape, before `value` is typed.
#[derive(Deserialize)]
struct RawRecord {
    index: u64,
    #[serde(rename = "type")]
    kind: RecordType,
    process: Process,
    time_ns: u64,
    f: String,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    node: Option<String>,
}

impl TryFrom<RawRecord> for Record {
    type Error = RecordError;

    fn try_from(raw: RawRecord) -> Result<Record, RecordError> {
        let body = if raw.process == Process::Nemesis {
            RecordBody::Nemesis {
                kind: raw.kind,
                f: raw.f,
                value: raw.value,
                error: raw.error,
            }
        } else {
            let f = OpKind::from_name(&raw.f).ok_or(RecordError::UnknownOperation(raw.f))?;
            let bad = |source| RecordError::BadValue {
                f,
                kind: raw.kind,
                source,
            };
            match raw.kind {
                RecordType::Invoke => {
                    RecordBody::Invoke(Call::from_value(f, raw.value).map_err(bad)?)
                }
                RecordType::Ok => RecordBody::Ok(Reply::from_value(f, raw.value).map_err(bad)?),
                // A fail or info record's value is not interpreted: what was
                // asked is in the matching invocation.
                RecordType::Fail => RecordBody::Fail {
                    f,
                    error: raw.error.ok_or(RecordError::FailWithoutError(f))?,
                },
                RecordType::Info => RecordBody::Info {
                    f,
                    error: raw.error,
                },
            }
        };
        Ok(Record {
            index: raw.index,
            process: raw.process,
            time_ns: raw.time_ns,
            body,
            node: raw.node,
        })
    }
}

/// Written flat, in the documented field order, `value` typed by `f`;
/// `error` and `node` only when present.
impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let empty = empty();
        let (f, error): (&str, Option<&String>) = match &self.body {
            RecordBody::Invoke(call) => (call.kind().name(), None),
            RecordBody::Ok(reply) => (reply.kind().name(), None),
            RecordBody::Fail { f, error } => (f.name(), Some(error)),
            RecordBody::Info { f, error } => (f.name(), error.as_ref()),
            RecordBody::Nemesis { f, error, .. } => (f, error.as_ref()),
        };
        let fields = 6 + usize::from(error.is_some()) + usize::from(self.node.is_some());
        let mut st = s.serialize_struct("Record", fields)?;
        st.serialize_field("index", &self.index)?;
        st.serialize_field("type", &self.kind())?;
        st.serialize_field("process", &self.process)?;
        st.serialize_field("time_ns", &self.time_ns)?;
        st.serialize_field("f", f)?;
        match &self.body {
            RecordBody::Invoke(call) => st.serialize_field("value", call)?,
            RecordBody::Ok(reply) => st.serialize_field("value", reply)?,
            RecordBody::Nemesis { value, .. } => st.serialize_field("value", value)?,
            RecordBody::Fail { .. } | RecordBody::Info { .. } => {
                st.serialize_field("value", &empty)?
            }
        }
        if let Some(error) = error {
            st.serialize_field("error", error)?;
        }
        if let Some(node) = &self.node {
            st.serialize_field("node", node)?;
        }
        st.end()
    }
}

fn empty() -> Value {
    Value::Object(Default::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ops::{HoldCall, HoldReply};

    #[test]
    fn processes_are_numbers_or_the_nemesis() {
        assert_eq!(serde_json::to_string(&Process::Client(3)).unwrap(), "3");
        assert_eq!(
            serde_json::to_string(&Process::Nemesis).unwrap(),
            "\"nemesis\""
        );
        let p: Process = serde_json::from_str("\"nemesis\"").unwrap();
        assert_eq!(p, Process::Nemesis);
        assert!(serde_json::from_str::<Process>("\"chaos\"").is_err());
        assert!(serde_json::from_str::<Process>("-1").is_err());
    }

    #[test]
    fn a_record_is_written_in_the_flat_jepsen_shape() {
        let call = Call::Hold(HoldCall {
            event: "rir".into(),
            category: "pista".into(),
            customer: "c1".into(),
            quantity: 2,
        });
        let mut r = Record::invoke(4, 100, call).at_node("n2");
        r.index = 9;
        let json: Value = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"index": 9, "type": "invoke", "process": 4, "time_ns": 100,
                "f": "hold", "node": "n2",
                "value": {"event": "rir", "category": "pista", "customer": "c1", "quantity": 2}})
        );
        assert_eq!(serde_json::from_value::<Record>(json).unwrap(), r);

        let ok = Record::ok(
            4,
            200,
            Reply::Hold(HoldReply {
                hold_id: 12,
                expires_in_ms: None,
            }),
        );
        let back: Record = serde_json::from_str(&serde_json::to_string(&ok).unwrap()).unwrap();
        assert_eq!(back, ok);
    }

    #[test]
    fn fail_records_need_an_error_code_and_info_records_do_not() {
        let line = r#"{"index":1,"type":"fail","process":1,"time_ns":5,"f":"hold","value":{}}"#;
        let err = serde_json::from_str::<Record>(line).unwrap_err();
        assert!(err.to_string().contains("no error code"), "{err}");

        let line = r#"{"index":1,"type":"info","process":1,"time_ns":5,"f":"hold","value":{}}"#;
        let r: Record = serde_json::from_str(line).unwrap();
        assert_eq!(
            r.body,
            RecordBody::Info {
                f: OpKind::Hold,
                error: None
            }
        );
    }

    #[test]
    fn nemesis_records_keep_their_free_form_value() {
        let line = r#"{"index":3,"type":"info","process":"nemesis","time_ns":5,"f":"start-partition","value":{"isolated":["n1"]}}"#;
        let r: Record = serde_json::from_str(line).unwrap();
        assert_eq!(r.kind(), RecordType::Info);
        match &r.body {
            RecordBody::Nemesis { f, value, .. } => {
                assert_eq!(f, "start-partition");
                assert_eq!(value["isolated"][0], "n1");
            }
            other => panic!("not a nemesis body: {other:?}"),
        }
        let back: Record = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn an_unknown_client_operation_is_named() {
        let line = r#"{"index":1,"type":"invoke","process":1,"time_ns":5,"f":"refund","value":{}}"#;
        let err = serde_json::from_str::<Record>(line).unwrap_err();
        assert!(
            err.to_string().contains("unknown operation \"refund\""),
            "{err}"
        );
    }
}
