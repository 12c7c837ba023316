//! The results of a run: one [`SystemReport`] per system, the ratios to
//! ours, written as JSON ([`BenchReport`] is the file's schema) and printed
//! as a table ([`table`]).

mod model;
pub mod table;

pub use model::{
    BenchReport, Comparison, Machine, Outcome, SystemReport, Throughput, WorkloadSummary,
    REPORT_VERSION,
};
