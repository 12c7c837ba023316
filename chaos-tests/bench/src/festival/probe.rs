//! Reading one node from outside, as an operator's tools would: its resident
//! memory from `/proc/<pid>/status`, its Raft progress and sale counters from
//! its Prometheus metrics endpoint.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Longest wait for one scrape (a stalled node answers late, not never:
/// the sampler counts the wait as part of the stall).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(30);

/// What one scrape of a node's metrics said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeProgress {
    /// `ingressoja_raft_last_log_index`.
    pub last_log: u64,
    /// `ingressoja_raft_applied_index`.
    pub applied: u64,
    /// `ingressoja_raft_is_leader` = 1.
    pub leader: bool,
    /// `ingressoja_raft_snapshot_index`.
    pub snapshot_index: u64,
    /// `ingressoja_raft_snapshot_bytes`: the last snapshot this node built.
    pub snapshot_bytes: u64,
    /// `ingressoja_raft_snapshot_duration_seconds_sum`, in milliseconds.
    pub snapshot_build_ms_sum: u64,
    /// `ingressoja_raft_snapshot_duration_seconds_count`.
    pub snapshots_built: u64,
    /// Tickets sold, summed over every `ingressoja_sale_tickets{state="sold"}` series.
    pub sold: u64,
}

impl NodeProgress {
    /// Reads the series it needs out of Prometheus' text format; unknown
    /// lines are skipped, a missing series reads as 0.
    pub fn parse(text: &str) -> NodeProgress {
        let mut p = NodeProgress::default();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let whole = if value.is_finite() && value > 0.0 {
                value as u64
            } else {
                0
            };
            match series {
                "ingressoja_raft_last_log_index" => p.last_log = whole,
                "ingressoja_raft_applied_index" => p.applied = whole,
                "ingressoja_raft_is_leader" => p.leader = whole == 1,
                "ingressoja_raft_snapshot_index" => p.snapshot_index = whole,
                "ingressoja_raft_snapshot_bytes" => p.snapshot_bytes = whole,
                "ingressoja_raft_snapshot_duration_seconds_sum" => {
                    p.snapshot_build_ms_sum = (value.max(0.0) * 1_000.0) as u64
                }
                "ingressoja_raft_snapshot_duration_seconds_count" => p.snapshots_built = whole,
                s if s.starts_with("ingressoja_sale_tickets{") && s.contains("state=\"sold\"") => {
                    p.sold += whole
                }
                _ => {}
            }
        }
        p
    }
}

/// Scrapes nodes' metrics endpoints over plain HTTP/1.1 on loopback.
#[derive(Clone)]
pub struct MetricsScraper {
    http: Client<HttpConnector, Empty<Bytes>>,
}

impl Default for MetricsScraper {
    fn default() -> Self {
        MetricsScraper {
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl MetricsScraper {
    /// The progress of the node whose metrics listen on `addr`; `None` when
    /// it does not answer (down, restarting) within [`SCRAPE_TIMEOUT`].
    pub async fn progress(&self, addr: &str) -> Option<NodeProgress> {
        let uri: hyper::Uri = format!("http://{addr}/metrics").parse().ok()?;
        let scrape = async {
            let response = self.http.get(uri).await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            let body = response.into_body().collect().await.ok()?.to_bytes();
            Some(NodeProgress::parse(&String::from_utf8_lossy(&body)))
        };
        tokio::time::timeout(SCRAPE_TIMEOUT, scrape).await.ok()?
    }
}

/// Resident memory of process `pid` in bytes: now (`VmRSS`) and its peak
/// over the process's life (`VmHWM`, which no sampling period can miss);
/// `None` if it is gone.
pub fn rss_bytes(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((parse_kib(&status, "VmRSS:")?, parse_kib(&status, "VmHWM:")?))
}

/// `<field>   123456 kB` out of a `/proc/<pid>/status` text, in bytes.
fn parse_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes in the files under `dir` (a node's data directory), 0 if unreadable.
pub fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_it_needs_are_read_and_the_rest_skipped() {
        let text = "\
# HELP ingressoja_raft_applied_index Index of the last applied entry
# TYPE ingressoja_raft_applied_index gauge
ingressoja_raft_applied_index 1234
ingressoja_raft_last_log_index 1240
ingressoja_raft_is_leader 1
ingressoja_raft_snapshot_index 1000
ingressoja_raft_snapshot_bytes 52428800
ingressoja_raft_snapshot_duration_seconds_sum 0.25
ingressoja_raft_snapshot_duration_seconds_count 2
ingressoja_sale_tickets{event=\"e\",category=\"hot0\",state=\"sold\"} 30
ingressoja_sale_tickets{event=\"e\",category=\"hot1\",state=\"sold\"} 12
ingressoja_sale_tickets{event=\"e\",category=\"hot1\",state=\"held\"} 7
ingressoja_raft_term 3
garbage line
";
        assert_eq!(
            NodeProgress::parse(text),
            NodeProgress {
                last_log: 1240,
                applied: 1234,
                leader: true,
                snapshot_index: 1000,
                snapshot_bytes: 52_428_800,
                snapshot_build_ms_sum: 250,
                snapshots_built: 2,
                sold: 42,
            }
        );
        assert_eq!(NodeProgress::parse(""), NodeProgress::default());
    }

    #[test]
    fn resident_memory_is_read_in_bytes() {
        let status = "Name:\tingressoja-node\nVmHWM:\t  4096 kB\nVmRSS:\t  2048 kB\nThreads:\t9\n";
        assert_eq!(parse_kib(status, "VmRSS:"), Some(2 * 1024 * 1024));
        assert_eq!(parse_kib(status, "VmHWM:"), Some(4 * 1024 * 1024));
        assert_eq!(parse_kib("Name: x\n", "VmRSS:"), None);
        assert!(rss_bytes(std::process::id()).is_some_and(|(now, peak)| now > 0 && peak >= now));
    }
}
