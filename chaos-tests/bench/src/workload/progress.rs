//! The live progress line on stderr: phase, elapsed time, current rate of
//! committed holds + purchases and of queue joins, tickets sold, failures.
//! Rewritten in place on a terminal, one line every two seconds otherwise.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::stats::LiveCounters;

/// Last values shown, to compute the current rate.
#[derive(Debug)]
struct Last {
    at: Instant,
    committed: u64,
    joins: u64,
    shown_line: bool,
}

/// The progress display of one system's run (cheap to clone).
#[derive(Debug, Clone)]
pub struct Progress {
    system: &'static str,
    enabled: bool,
    terminal: bool,
    capacity: u64,
    start: Instant,
    last: Arc<Mutex<Last>>,
}

impl Progress {
    /// A display for `system`; `quiet` turns it off.
    pub fn new(system: &'static str, quiet: bool, capacity: u64) -> Progress {
        let now = Instant::now();
        Progress {
            system,
            enabled: !quiet,
            terminal: std::io::stderr().is_terminal(),
            capacity,
            start: now,
            last: Arc::new(Mutex::new(Last {
                at: now,
                committed: 0,
                joins: 0,
                shown_line: false,
            })),
        }
    }

    /// Updates the line if enough time passed since the last update.
    pub fn tick(&self, phase: &str, live: &LiveCounters) {
        if !self.enabled {
            return;
        }
        let every = if self.terminal {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(2)
        };
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let secs = now.duration_since(last.at).as_secs_f64();
        if now.duration_since(last.at) < every {
            return;
        }
        let committed = LiveCounters::get(&live.committed);
        let joins = LiveCounters::get(&live.joins);
        let line = format!(
            "[{}] {phase} {:6.1}s  holds+purchases {:8.0}/s  joins {:8.0}/s  sold {}/{}  failed {}",
            self.system,
            now.duration_since(self.start).as_secs_f64(),
            (committed - last.committed) as f64 / secs,
            (joins - last.joins) as f64 / secs,
            LiveCounters::get(&live.tickets_sold),
            self.capacity,
            LiveCounters::get(&live.failed),
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
        *last = Last {
            at: now,
            committed,
            joins,
            shown_line: true,
        };
    }

    /// Ends the line (on a terminal) so the report starts on a fresh one.
    pub fn finish(&self) {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if self.enabled && self.terminal && last.shown_line {
            let _ = writeln!(std::io::stderr());
        }
    }
}
