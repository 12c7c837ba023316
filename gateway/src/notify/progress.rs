//! How far a virtual queue has admitted, worked out once per gateway from
//! the shared event tail, so every waiting page of that queue gets its
//! place without a cluster read of its own.
//!
//! The cluster's `admitted` events name the customer admitted but not their
//! place in line, so the count is built from two sources, each a lower
//! bound of the truth (admissions only ever grow):
//!
//! - **reads**: every `queue_status` a waiting page makes (once, when it
//!   opens) reports `admitted_up_to`; the book keeps the largest.
//! - **anchors**: when an `admitted` event names a customer whose page is
//!   open on this gateway, that customer's place *is* `admitted_up_to` at
//!   that event (the machine admits in line order). From an anchor on, each
//!   further `admitted` event of the queue adds one, exactly.
//!
//! A gap in the tail (events the node no longer kept) drops the anchor
//! until the next one; the reads' floor stays, so the value never goes
//! backwards and never runs ahead of the cluster.

use std::collections::VecDeque;

/// Admissions remembered to estimate the rate.
const RATE_WINDOW: usize = 64;

/// One queue's progress, as every waiting page of it needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueProgress {
    /// Everyone with a place `<=` this has been admitted (a lower bound).
    pub admitted_up_to: u64,
    /// The sale has opened: the pre-queue was shuffled into the line.
    pub opened: bool,
    /// Recent milliseconds per admission (0: not known yet).
    pub ms_per_admission: u64,
}

/// The accounting behind one queue's [`QueueProgress`].
#[derive(Debug, Default)]
pub struct ProgressBook {
    /// The largest `admitted_up_to` a read reported.
    read_floor: u64,
    /// The exact count at the tail's position, once anchored.
    anchored: Option<u64>,
    opened: bool,
    /// Timestamps (ms) of the latest admissions, oldest first.
    recent: VecDeque<u64>,
}

impl ProgressBook {
    /// An `admitted` event of this queue at `ts_ms`; `anchor` is the
    /// admitted customer's place when a page of theirs told it.
    pub fn on_admitted(&mut self, ts_ms: u64, anchor: Option<u64>) {
        self.opened = true;
        self.anchored = match (anchor, self.anchored) {
            (Some(place), _) => Some(place),
            (None, Some(count)) => Some(count.saturating_add(1)),
            (None, None) => None,
        };
        if self.recent.len() == RATE_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(ts_ms);
    }

    /// The queue's sale opened (`sale_opened`).
    pub fn on_opened(&mut self) {
        self.opened = true;
    }

    /// A page's `queue_status` read: `admitted_up_to` and whether the
    /// reader was still in the pre-queue.
    pub fn on_read(&mut self, admitted_up_to: u64, in_pre_queue: bool) {
        self.read_floor = self.read_floor.max(admitted_up_to);
        if !in_pre_queue {
            self.opened = true;
        }
    }

    /// The tail skipped events: the anchored count is no longer exact.
    pub fn on_gap(&mut self) {
        self.anchored = None;
    }

    /// The progress to publish.
    pub fn progress(&self) -> QueueProgress {
        let rate = match (self.recent.front(), self.recent.back()) {
            (Some(first), Some(last)) if self.recent.len() >= 2 && last > first => {
                (last - first) / (self.recent.len() as u64 - 1)
            }
            _ => 0,
        };
        QueueProgress {
            admitted_up_to: self.read_floor.max(self.anchored.unwrap_or(0)),
            opened: self.opened,
            ms_per_admission: rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admissions_count_only_from_an_anchor() {
        let mut book = ProgressBook::default();
        book.on_admitted(1_000, None);
        assert_eq!(book.progress().admitted_up_to, 0, "no anchor yet");
        book.on_read(3, false);
        assert_eq!(book.progress().admitted_up_to, 3);
        book.on_admitted(1_100, Some(5));
        book.on_admitted(1_200, None);
        book.on_admitted(1_300, None);
        assert_eq!(book.progress().admitted_up_to, 7);
        // An older read never lowers it.
        book.on_read(4, false);
        assert_eq!(book.progress().admitted_up_to, 7);
        assert!(book.progress().opened);
    }

    #[test]
    fn a_gap_drops_the_anchor_but_keeps_the_floor() {
        let mut book = ProgressBook::default();
        book.on_read(2, false);
        book.on_admitted(0, Some(10));
        book.on_gap();
        book.on_admitted(0, None);
        assert_eq!(book.progress().admitted_up_to, 2);
        book.on_admitted(0, Some(20));
        assert_eq!(book.progress().admitted_up_to, 20);
    }

    #[test]
    fn a_later_anchor_corrects_the_count() {
        let mut book = ProgressBook::default();
        book.on_admitted(0, Some(10));
        book.on_admitted(0, None);
        // The tail's count said 11; the customer's own place says 12.
        book.on_admitted(0, Some(12));
        assert_eq!(book.progress().admitted_up_to, 12);
    }

    #[test]
    fn the_rate_comes_from_recent_admissions() {
        let mut book = ProgressBook::default();
        assert_eq!(book.progress().ms_per_admission, 0);
        for i in 0..100 {
            book.on_admitted(10_000 + i * 50, None);
        }
        assert_eq!(book.progress().ms_per_admission, 50);
    }

    #[test]
    fn opening_is_learnt_from_events_and_reads() {
        let mut book = ProgressBook::default();
        book.on_read(0, true);
        assert!(!book.progress().opened);
        book.on_opened();
        assert!(book.progress().opened);
        let mut other = ProgressBook::default();
        other.on_read(0, false);
        assert!(other.progress().opened);
    }
}
