//! What the harness's event consumers received from the cluster's
//! `WatchEvents` streams: one consumer per node (failing over to the others
//! when its node goes), each event as delivered, stored as JSON lines
//! (`watch.jsonl`) beside the history.
//!
//! Only what the watch-stream and queue-admission checkers compare is
//! kept: the sequence number, the kind, the sale's time, the customer, and
//! for purchases the hold and the tickets.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::history::HistoryError;

/// One domain event as a consumer received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedEvent {
    /// The consumer that received it (`w1` starts on node 1, …).
    pub consumer: String,
    /// The node that sent it.
    pub node: String,
    /// Its number in the cluster's event feed (the same on every replica).
    pub seq: u64,
    /// `hold_created`, `purchase_confirmed`, `admitted`, …
    pub kind: String,
    /// The sale's time of the entry that produced it (the cluster's clock).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ts_ms: u64,
    /// The customer it is about (empty for none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub customer: String,
    /// The sale event it belongs to (empty for events of no sale).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event: String,
    /// The category it is about (empty for none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
    /// How many tickets it is about (holds; 0 for none, or a feed recorded
    /// before events named it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub quantity: u64,
    /// The hold it is about (0 for none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hold_id: u64,
    /// The tickets it names (purchases).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ticket_ids: Vec<String>,
    /// When the consumer received it, on the history's clock (`time_ns`):
    /// the event's entry was applied, hence committed, by then.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub received_ns: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What every consumer received, in the order each received it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watched {
    /// Per consumer name, its events in delivery order.
    pub consumers: BTreeMap<String, Vec<WatchedEvent>>,
    /// Whether the consumers went quiet at one last seq once the cluster had
    /// settled: the feed is then whole, and what is not in it did not
    /// happen. A feed cut short says only what is in it.
    pub caught_up: bool,
}

impl Watched {
    /// Appends an event to its consumer's stream.
    pub fn push(&mut self, event: WatchedEvent) {
        self.consumers
            .entry(event.consumer.clone())
            .or_default()
            .push(event);
    }

    /// Adds a consumer that may have received nothing (so that a consumer
    /// that never got an event is still judged).
    pub fn add_consumer(&mut self, name: &str) {
        self.consumers.entry(name.to_string()).or_default();
    }

    /// Reads `watch.jsonl`: one [`WatchedEvent`] per line; a line
    /// `{"consumer": name}` alone declares a consumer, and `{"caught_up":
    /// true}` says the feed is whole.
    pub fn read_jsonl(input: impl std::io::Read) -> Result<Watched, HistoryError> {
        /// A declaration: exactly the consumer's name, so that a broken
        /// event line is an error rather than read as one.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Declaration {
            consumer: String,
        }
        /// Whether the consumers caught up.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct CaughtUp {
            caught_up: bool,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Line {
            Event(WatchedEvent),
            Consumer(Declaration),
            CaughtUp(CaughtUp),
        }
        let mut watched = Watched::default();
        for (i, line) in std::io::BufReader::new(input).lines().enumerate() {
            let line = line.map_err(|source| HistoryError::Io {
                line: i + 1,
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(&line).map_err(|source| HistoryError::Json {
                line: i + 1,
                source,
            })? {
                Line::Event(event) => watched.push(event),
                Line::Consumer(d) => watched.add_consumer(&d.consumer),
                Line::CaughtUp(c) => watched.caught_up = c.caught_up,
            }
        }
        Ok(watched)
    }

    /// Every seq once, in seq order (which is log order), as the first
    /// consumer to list it received it: the feed, whichever consumer had a
    /// gap or a repeat.
    pub fn in_feed_order(&self) -> Vec<&WatchedEvent> {
        let mut by_seq: BTreeMap<u64, &WatchedEvent> = BTreeMap::new();
        for e in self.consumers.values().flatten() {
            by_seq.entry(e.seq).or_insert(e);
        }
        by_seq.into_values().collect()
    }

    /// When each hold's `hold_expired` event first reached a consumer
    /// (history clock), by `(event, hold id)`.
    pub fn expiries_received(&self) -> std::collections::HashMap<(&str, u64), u64> {
        let mut first = std::collections::HashMap::new();
        for e in self.consumers.values().flatten() {
            if e.kind == "hold_expired" && e.hold_id != 0 {
                let at = first
                    .entry((e.event.as_str(), e.hold_id))
                    .or_insert(u64::MAX);
                *at = (*at).min(e.received_ns);
            }
        }
        first
    }

    /// Writes what [`Self::read_jsonl`] reads.
    pub fn write_jsonl(&self, mut out: impl Write) -> Result<(), HistoryError> {
        let mut line = 1;
        writeln!(
            out,
            "{}",
            serde_json::json!({ "caught_up": self.caught_up })
        )
        .map_err(|source| HistoryError::Io { line, source })?;
        for (name, events) in &self.consumers {
            line += 1;
            let io = |source| HistoryError::Io { line, source };
            writeln!(out, "{}", serde_json::json!({ "consumer": name })).map_err(io)?;
            for event in events {
                line += 1;
                let text = serde_json::to_string(event)
                    .map_err(|source| HistoryError::Json { line, source })?;
                writeln!(out, "{text}").map_err(|source| HistoryError::Io { line, source })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_events_round_trip_through_json_lines() {
        let mut watched = Watched {
            caught_up: true,
            ..Watched::default()
        };
        watched.add_consumer("w2");
        watched.push(WatchedEvent {
            consumer: "w1".into(),
            node: "n1".into(),
            seq: 7,
            kind: "purchase_confirmed".into(),
            ts_ms: 1_000,
            customer: "ana".into(),
            category: "pista".into(),
            quantity: 1,
            event: "fest".into(),
            hold_id: 3,
            ticket_ids: vec!["t1".into()],
            received_ns: 5_000,
        });
        let mut text = Vec::new();
        watched.write_jsonl(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains(r#""consumer":"w2""#), "{text}");
        assert_eq!(Watched::read_jsonl(text.as_bytes()).unwrap(), watched);
    }

    #[test]
    fn a_bad_line_is_named() {
        let input = b"{\"consumer\":\"w1\"}\n{\"consumer\":\"w1\",\"seq\":\"x\"}\n";
        let err = Watched::read_jsonl(&input[..]).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
