//! The Jepsen-style history of a chaos run: every invocation and completion
//! of every client operation and every fault, in real-time order, stored as
//! JSON lines so a run can be checked again (or by hand) after the fact.

mod ops;
mod pairing;
mod record;

use std::io::{BufRead, Write};

pub use ops::{
    codes, Call, HoldCall, HoldReply, JoinCall, JoinReply, OpKind, Payment, PurchaseCall,
    PurchaseReply, ReadCall, ReadReply, ReleaseCall, ReleaseReply, ReplayCall, ReplayReply, Reply,
};
pub use pairing::{OpBody, Operation, Outcome, PairingError, Pairs, Span};
pub use record::{Process, Record, RecordBody, RecordError, RecordType};

/// Why a history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A line is not JSON of the record shape.
    #[error("history line {line}: {source}")]
    Json {
        /// 1-based line number.
        line: usize,
        /// What serde said (including a bad value for its `f`).
        source: serde_json::Error,
    },
    /// Reading or writing the underlying stream failed.
    #[error("history I/O at line {line}: {source}")]
    Io {
        /// 1-based line number being read or written.
        line: usize,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A whole history, records in the order they happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    records: Vec<Record>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// Appends a record, numbering it with the next index: the history owns
    /// the real-time order, so the caller's `index` is overwritten.
    pub fn push(&mut self, mut record: Record) -> u64 {
        let index = self.records.len() as u64;
        record.index = index;
        self.records.push(record);
        index
    }

    /// The records, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Pairs every client invocation with its completion (see [`Pairs`]).
    pub fn pairs(&self) -> Pairs {
        pairing::pair(&self.records)
    }

    /// The client operations, or the first reason the history is malformed.
    pub fn operations(&self) -> Result<Vec<Operation>, PairingError> {
        let pairs = self.pairs();
        match pairs.problems.into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(pairs.operations),
        }
    }

    /// The history as JSON lines, one record per line.
    pub fn to_jsonl(&self) -> String {
        let mut out = Vec::new();
        self.write_jsonl(&mut out)
            .expect("writing to a Vec cannot fail and records always serialise");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// Writes the history as JSON lines.
    pub fn write_jsonl(&self, mut out: impl Write) -> Result<(), HistoryError> {
        for (i, record) in self.records.iter().enumerate() {
            let line = i + 1;
            serde_json::to_writer(&mut out, record)
                .map_err(|source| HistoryError::Json { line, source })?;
            out.write_all(b"\n")
                .map_err(|source| HistoryError::Io { line, source })?;
        }
        out.flush().map_err(|source| HistoryError::Io {
            line: self.records.len(),
            source,
        })
    }

    /// Reads JSON lines (blank lines are skipped), keeping each record's index.
    pub fn read_jsonl(input: impl BufRead) -> Result<History, HistoryError> {
        let mut records = Vec::new();
        for (i, text) in input.lines().enumerate() {
            let line = i + 1;
            let text = text.map_err(|source| HistoryError::Io { line, source })?;
            if text.trim().is_empty() {
                continue;
            }
            let record = serde_json::from_str(&text)
                .map_err(|source| HistoryError::Json { line, source })?;
            records.push(record);
        }
        Ok(History { records })
    }
}

impl From<Vec<Record>> for History {
    /// Takes records as they are, indexes included (as read from elsewhere).
    fn from(records: Vec<Record>) -> History {
        History { records }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> History {
        let mut h = History::new();
        h.push(Record::invoke(
            1,
            10,
            Call::Read(ReadCall {
                event: "rir".into(),
                category: "pista".into(),
            }),
        ));
        h.push(Record::nemesis(
            15,
            RecordType::Info,
            "start-partition",
            serde_json::json!({"isolated": ["n1"]}),
        ));
        h.push(Record::info(1, 20, OpKind::Read, Some("timeout")).at_node("n1"));
        h
    }

    #[test]
    fn push_numbers_records_in_order() {
        let h = sample();
        let indexes: Vec<u64> = h.records().iter().map(|r| r.index).collect();
        assert_eq!(indexes, vec![0, 1, 2]);
    }

    #[test]
    fn jsonl_round_trips() {
        let h = sample();
        let text = h.to_jsonl();
        assert_eq!(text.lines().count(), 3);
        let back = History::read_jsonl(text.as_bytes()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number() {
        let mut text = sample().to_jsonl();
        text.push_str("\n{\"index\":3,\"type\":\"ok\",\"process\":1,\"time_ns\":30,\"f\":\"hold\",\"value\":{}}\n");
        let err = History::read_jsonl(text.as_bytes()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, HistoryError::Json { line: 5, .. }), "{msg}");
        assert!(msg.contains("hold_id"), "{msg}");
    }
}
