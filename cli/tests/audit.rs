//! `audit_verify` against fake nodes holding whole, shorter, divergent and
//! tampered audit chains.

use std::sync::{Arc, Mutex};

use ingressoja_cli::audit::audit_verify;
use ingressoja_cli::audit::chain::{record_hash, ChainFault, ZERO_HASH};
use ingressoja_cli::audit::report::AuditVerdict;
use ingressoja_client::proto::admin::AuditRecord;
use ingressoja_client::{Client, ClientOptions};
use ingressoja_test_support::fake_node::{client, closed_addr, serve, Fake};

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

    let report = audit_verify(&client).await;
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
    let report = audit_verify(&client).await;
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!(report.nodes[2].verdict, AuditVerdict::Behind { by: 30 });
}

#[test]
fn audit_verify_can_be_spawned() {
    fn assert_send<T: Send>(_: T) {}
    let client = Client::connect(vec!["127.0.0.1:1".into()], ClientOptions::default()).unwrap();
    assert_send(audit_verify(&client));
}
