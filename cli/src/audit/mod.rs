//! `ingressoja audit ...`: exporting a node's audit chain, and verifying
//! and comparing every node's: the chain's hashing and checks
//! ([`chain`]), fetching every node's chain ([`audit_verify`]) and the
//! comparison ([`report`]).

pub mod chain;
mod fetch;
pub mod report;

pub use fetch::audit_verify;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use ingressoja_client::proto::admin::AuditRecord;
use ingressoja_client::Client;
use serde_json::{json, Value};

use crate::commands::Output;
use crate::failure::Failure;
use crate::format::table;
use crate::text;
use fetch::AUDIT_PAGE;
use report::{AuditReport, AuditVerdict, NodeAudit};

/// How many hex characters of a head hash the table shows.
const HASH_PREFIX: usize = 12;

/// `ingressoja audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write one node's audit records as JSON lines (hashes in hex).
    Export {
        /// The node's gRPC address (host:port).
        #[arg(long)]
        node: String,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// First record to export.
        #[arg(long, value_name = "N", default_value_t = 0)]
        from_seq: u64,
    },
    /// Fetch every node's audit chain, verify each and compare them (exit 0
    /// only if every node answered, every chain verifies and none diverges).
    Verify,
}

/// Runs an `audit` command.
pub(crate) async fn run(
    client: &Client,
    out: Output,
    command: AuditCommand,
) -> Result<ExitCode, Failure> {
    match command {
        AuditCommand::Export {
            node,
            out: path,
            from_seq,
        } => {
            let written = match &path {
                Some(path) => {
                    let file = File::create(path).map_err(|source| Failure::File {
                        path: path.clone(),
                        source,
                    })?;
                    let mut sink = BufWriter::new(file);
                    let written = export(client, &node, from_seq, &mut sink).await;
                    let flushed = sink.flush().map_err(|source| Failure::File {
                        path: path.clone(),
                        source,
                    });
                    let written = written?;
                    flushed?;
                    eprintln!(
                        "exported {written} record(s) from {node} to {}",
                        path.display()
                    );
                    written
                }
                None => export(client, &node, from_seq, &mut io::stdout().lock()).await?,
            };
            tracing::debug!(written, "audit export done");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify => {
            let report = audit_verify(client).await;
            out.emit(|| report_json(&report), || report_text(&report))?;
            Ok(if report.is_consistent() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Writes the node's records from `from_seq` up to the length it reported
/// at the start; returns how many were written.
async fn export(
    client: &Client,
    node: &str,
    from_seq: u64,
    sink: &mut impl Write,
) -> Result<u64, Failure> {
    let mut next = from_seq;
    let mut target = None;
    let mut written = 0;
    loop {
        let page = client.export_audit(node, next, AUDIT_PAGE).await?;
        let target = *target.get_or_insert(page.audit_len);
        if page.records.is_empty() {
            break;
        }
        for record in &page.records {
            let line = format!("{}\n", record_json(record));
            match sink.write_all(line.as_bytes()) {
                Err(err) if err.kind() == io::ErrorKind::BrokenPipe => return Ok(written),
                other => other?,
            }
            written += 1;
        }
        next = next.saturating_add(page.records.len() as u64);
        if next >= target {
            break;
        }
    }
    match sink.flush() {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(Failure::Output(err)),
        _ => Ok(written),
    }
}

/// One record as a JSON line.
fn record_json(r: &AuditRecord) -> Value {
    json!({
        "seq": r.seq,
        "log_index": r.log_index,
        "ts_ms": r.ts_ms,
        "actor": r.actor,
        "action": r.action,
        "outcome": r.outcome,
        "ids": r.ids,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    })
}

/// A verdict as an operator reads it.
fn verdict_text(addr: &str, verdict: &AuditVerdict) -> String {
    match verdict {
        AuditVerdict::Ok => "ok".to_string(),
        AuditVerdict::Behind { by } => format!("behind by {by}"),
        AuditVerdict::Diverges { seq } => format!("DIVERGES at seq {seq}"),
        AuditVerdict::Broken(error) => {
            format!("chain broken at seq {}: {}", error.seq, error.fault)
        }
        AuditVerdict::Unreachable(error) => text::unreachable(addr, error),
    }
}

/// `audit verify` as a table and a conclusion.
fn report_text(report: &AuditReport) -> String {
    let rows: Vec<Vec<String>> = report
        .nodes
        .iter()
        .map(|n| match n.verdict {
            AuditVerdict::Unreachable(_) => vec![
                n.addr.clone(),
                "-".into(),
                "-".into(),
                verdict_text(&n.addr, &n.verdict),
            ],
            _ => vec![
                n.addr.clone(),
                n.records.to_string(),
                n.head.chars().take(HASH_PREFIX).collect(),
                verdict_text(&n.addr, &n.verdict),
            ],
        })
        .collect();
    let mut out = table(&["NODE", "RECORDS", "HEAD", "VERDICT"], &rows, &[1]);
    if let Some(reference) = &report.reference {
        out.push_str(&format!("compared with: {reference}\n"));
    }
    out.push_str(if report.is_consistent() {
        "audit chains verify and agree\n"
    } else {
        "AUDIT CHECK FAILED\n"
    });
    out
}

/// One node's verdict as JSON.
fn node_json(n: &NodeAudit) -> Value {
    let mut value = json!({
        "addr": n.addr,
        "records": n.records,
        "head": n.head,
        "healthy": n.verdict.is_healthy(),
    });
    let detail = match &n.verdict {
        AuditVerdict::Ok => json!({ "verdict": "ok" }),
        AuditVerdict::Behind { by } => json!({ "verdict": "behind", "behind_by": by }),
        AuditVerdict::Diverges { seq } => json!({ "verdict": "diverges", "diverges_at": seq }),
        AuditVerdict::Broken(error) => json!({
            "verdict": "broken",
            "broken_at": error.seq,
            "reason": error.fault.to_string(),
        }),
        AuditVerdict::Unreachable(error) => json!({
            "verdict": "unreachable",
            "error": error.to_string(),
        }),
    };
    if let (Some(object), Value::Object(extra)) = (value.as_object_mut(), detail) {
        object.extend(extra);
    }
    value
}

/// `audit verify --json`.
fn report_json(report: &AuditReport) -> Value {
    json!({
        "consistent": report.is_consistent(),
        "reference": report.reference,
        "nodes": report.nodes.iter().map(node_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chain::{ChainError, ChainFault};
    use ingressoja_client::ClientError;

    fn node(addr: &str, records: u64, verdict: AuditVerdict) -> NodeAudit {
        NodeAudit {
            addr: addr.into(),
            records,
            head: "4a3df255b3d280dcd2995d50563bbeb7e8b8a2e37680a7350b922010c8e9a8b6".into(),
            verdict,
        }
    }

    fn report() -> AuditReport {
        AuditReport {
            nodes: vec![
                node("a:1", 10, AuditVerdict::Ok),
                node("b:2", 8, AuditVerdict::Behind { by: 2 }),
                node("c:3", 10, AuditVerdict::Diverges { seq: 4 }),
                node(
                    "d:4",
                    3,
                    AuditVerdict::Broken(ChainError {
                        seq: 2,
                        fault: ChainFault::HashMismatch,
                    }),
                ),
                node(
                    "e:5",
                    0,
                    AuditVerdict::Unreachable(ClientError::Transport("e:5: refused".into())),
                ),
            ],
            reference: Some("a:1".into()),
        }
    }

    #[test]
    fn every_verdict_reads_as_specified() {
        let out = report_text(&report());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "NODE  RECORDS  HEAD          VERDICT");
        assert_eq!(lines[1], "a:1        10  4a3df255b3d2  ok");
        assert!(lines[2].ends_with("behind by 2"), "{out}");
        assert!(lines[3].ends_with("DIVERGES at seq 4"), "{out}");
        assert!(
            lines[4].ends_with("chain broken at seq 2: hash does not match the record's contents"),
            "{out}"
        );
        assert_eq!(
            lines[5],
            "e:5         -  -             unreachable: refused"
        );
        assert_eq!(lines[6], "compared with: a:1");
        assert_eq!(lines[7], "AUDIT CHECK FAILED");
    }

    #[test]
    fn json_names_the_verdict_and_its_detail() {
        let value = report_json(&report());
        assert_eq!(value["consistent"], false);
        assert_eq!(value["nodes"][1]["verdict"], "behind");
        assert_eq!(value["nodes"][1]["behind_by"], 2);
        assert_eq!(value["nodes"][2]["diverges_at"], 4);
        assert_eq!(value["nodes"][3]["broken_at"], 2);
        assert_eq!(value["nodes"][4]["healthy"], false);
    }
}
