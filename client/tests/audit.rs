//! `audit_verify` and `export_audit` against fake nodes holding whole,
//! shorter, divergent and tampered audit chains.

mod fake;

use std::sync::{Arc, Mutex};

use fake::{client, closed_addr, serve, Fake};
use ingressoja_client::audit::{record_hash, ZERO_HASH};
use ingressoja_client::proto::admin::AuditRecord;
use ingressoja_client::{AuditVerdict, ChainFault};

/// A valid chain of `len` records; records from `fork_at` on have another actor.
fn chain(len: u64, fork_at: Option<u64>) -> Vec<AuditRecord> {
    let mut prev = ZERO_HASH;
    (0..len)
        .map(|seq| {
            let forked = fork_at.is_some_and(|at| seq >= at);
            let mut record = AuditRecord {
                seq,
                log_index: seq + 1,
                ts_ms: 1_700_000_000_000 + seq,
                actor: if forked { "mallory" } else { "client" }.into(),
                action: "place_hold".into(),
                outcome: "ok".into(),
                ids: vec![format!("hold:{seq}")],
                prev_hash: hex::encode(prev),
                hash: String::new(),
            };
            prev = record_hash(&prev, &record);
            record.hash = hex::encode(prev);
            record
        })
        .collect()
}

fn holding(records: Vec<AuditRecord>) -> Fake {
    Fake {
        audit: Arc::new(Mutex::new(records)),
        ..Fake::leader(1)
    }
}

#[tokio::test]
async fn every_node_is_fetched_page_by_page_verified_and_compared() {
    let mut tampered = chain(1200, None);
    tampered[10].outcome = "sold_out".into();
    let whole = serve(holding(chain(2500, None)), None).await;
    let behind = serve(holding(chain(2400, None)), None).await;
    let forked = serve(holding(chain(2500, Some(1500))), None).await;
    let broken = serve(holding(tampered), None).await;
    let down = closed_addr();
    let client = client(vec![
        whole.addr.clone(),
        behind.addr.clone(),
        forked.addr.clone(),
        broken.addr.clone(),
        down.clone(),
    ]);

    let report = client.audit_verify().await;
    let verdicts: Vec<&AuditVerdict> = report.nodes.iter().map(|n| &n.verdict).collect();
    assert_eq!(verdicts[0], &AuditVerdict::Ok);
    assert_eq!(verdicts[1], &AuditVerdict::Behind { by: 100 });
    assert_eq!(verdicts[2], &AuditVerdict::Diverges { seq: 1500 });
    match verdicts[3] {
        AuditVerdict::Broken(error) => {
            assert_eq!(error.seq, 10);
            assert_eq!(error.fault, ChainFault::HashMismatch);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(verdicts[4], AuditVerdict::Unreachable(_)));
    assert_eq!(report.reference.as_deref(), Some(whole.addr.as_str()));
    assert_eq!(report.nodes[0].records, 2500);
    assert_eq!(report.nodes[0].head, chain(2500, None)[2499].hash);
    assert!(!report.is_consistent());
}

#[tokio::test]
async fn nodes_merely_behind_are_consistent() {
    let a = serve(holding(chain(30, None)), None).await;
    let b = serve(holding(chain(28, None)), None).await;
    let empty = serve(holding(vec![]), None).await;
    let client = client(vec![a.addr.clone(), b.addr.clone(), empty.addr.clone()]);
    let report = client.audit_verify().await;
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!(report.nodes[2].verdict, AuditVerdict::Behind { by: 30 });
}

#[tokio::test]
async fn export_audit_pages_through_one_node() {
    let node = serve(holding(chain(25, None)), None).await;
    let client = client(vec![closed_addr()]);
    let page = client.export_audit(&node.addr, 20, 10).await.unwrap();
    let seqs: Vec<u64> = page.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![20, 21, 22, 23, 24]);
    assert_eq!(page.audit_len, 25);
    assert_eq!(page.audit_head, page.records[4].hash);
}
