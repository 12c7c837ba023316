//! What the benchmark measures while the sale runs: a latency histogram per
//! operation, counts of outcomes and errors, a per-interval timeline for the
//! plot, and lock-free counters for the live progress line.

mod latency;
mod live;
mod recorder;
mod timeline;

pub use latency::{LatencySummary, OpKind, OpLatency};
pub use live::LiveCounters;
pub use recorder::{Recorder, RecorderSnapshot};
pub use timeline::{Timeline, TimelinePoint};
