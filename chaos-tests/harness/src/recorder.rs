//! The history as it happens: every invocation and completion, stamped with
//! the time since the run began, in the JSON-lines shape of
//! [`ingressoja_checkers::history`] (Jepsen's: `invoke`, then `ok`, `fail` or `info`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

/// Who performed an operation: a client process or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Client(u64),
    Nemesis,
}

impl Actor {
    fn to_json(self) -> Value {
        match self {
            Actor::Client(p) => json!(p),
            Actor::Nemesis => json!("nemesis"),
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// It happened; the value is what it returned.
    Ok(Value),
    /// It certainly did not happen (or, for `sold_out`, was refused by the rules).
    Fail(String),
    /// Unknown: it may or may not have happened (timeout, lost connection).
    Info(String),
}

/// Shared, append-only history of one run; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    started: Instant,
    records: Arc<Mutex<Vec<Value>>>,
    counts: Arc<[AtomicU64; 3]>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// An empty history whose clock starts now.
    pub fn new() -> Self {
        Recorder {
            started: Instant::now(),
            records: Arc::new(Mutex::new(Vec::new())),
            counts: Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]),
        }
    }

    /// Nanoseconds since the run began.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn push(&self, mut record: Value) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        record["index"] = json!(records.len());
        records.push(record);
    }

    /// Records the invocation of `f` with `value`.
    pub fn invoke(&self, actor: Actor, f: &str, value: Value) {
        self.push(json!({
            "type": "invoke",
            "process": actor.to_json(),
            "time_ns": self.now_ns(),
            "f": f,
            "value": value,
        }));
    }

    /// Records how `f` of `actor` completed.
    pub fn complete(&self, actor: Actor, f: &str, completion: Completion) {
        let (kind, value, error, slot) = match completion {
            Completion::Ok(v) => ("ok", v, None, 0),
            Completion::Fail(e) => ("fail", Value::Null, Some(e), 1),
            Completion::Info(e) => ("info", Value::Null, Some(e), 2),
        };
        if actor != Actor::Nemesis {
            self.counts[slot].fetch_add(1, Ordering::Relaxed);
        }
        let mut record = json!({
            "type": kind,
            "process": actor.to_json(),
            "time_ns": self.now_ns(),
            "f": f,
            "value": value,
        });
        if let Some(e) = error {
            record["error"] = json!(e);
        }
        self.push(record);
    }

    /// Client operations completed so far: (ok, fail, info).
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.counts[0].load(Ordering::Relaxed),
            self.counts[1].load(Ordering::Relaxed),
            self.counts[2].load(Ordering::Relaxed),
        )
    }

    /// The history as JSON lines.
    pub fn to_jsonl(&self) -> String {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for r in records.iter() {
            out.push_str(&r.to_string());
            out.push('\n');
        }
        out
    }

    /// A copy of every record so far.
    pub fn records(&self) -> Vec<Value> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_numbered_and_counted() {
        let r = Recorder::new();
        r.invoke(Actor::Client(3), "hold", json!({"quantity": 2}));
        r.complete(
            Actor::Client(3),
            "hold",
            Completion::Ok(json!({"hold_id": 7})),
        );
        r.invoke(Actor::Nemesis, "start-kill", json!("killed n2"));
        r.complete(
            Actor::Nemesis,
            "start-kill",
            Completion::Ok(json!("killed n2")),
        );
        r.invoke(Actor::Client(4), "read", json!({}));
        r.complete(Actor::Client(4), "read", Completion::Info("timeout".into()));
        let lines: Vec<Value> = r
            .to_jsonl()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[1]["index"], 1);
        assert_eq!(lines[1]["type"], "ok");
        assert_eq!(lines[2]["process"], "nemesis");
        assert_eq!(lines[5]["error"], "timeout");
        assert_eq!(r.counts(), (1, 0, 1), "nemesis records are not client ops");
    }
}
