//! `export_audit` against a fake node: one node's audit records, page by
//! page, from the node asked (not the client's failover rotation). Checking
//! the chain is the CLI's (`ingressoja audit verify`), not the library's.

use std::sync::{Arc, Mutex};

use ingressoja_client::proto::admin::AuditRecord;
use ingressoja_test_support::fake_node::{client, closed_addr, serve, Fake};

/// `len` records, seqs 0.., each with a hash field naming its seq.
fn records(len: u64) -> Vec<AuditRecord> {
    (0..len)
        .map(|seq| AuditRecord {
            seq,
            log_index: seq + 1,
            action: "place_hold".into(),
            hash: format!("{seq:064x}"),
            ..AuditRecord::default()
        })
        .collect()
}

#[tokio::test]
async fn export_audit_pages_through_one_node() {
    let node = serve(
        Fake {
            audit: Arc::new(Mutex::new(records(25))),
            ..Fake::leader(1)
        },
        None,
    )
    .await;
    // The client knows only a dead node: the export goes to the node named.
    let client = client(vec![closed_addr()]);
    let page = client.export_audit(&node.addr, 20, 10).await.unwrap();
    let seqs: Vec<u64> = page.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![20, 21, 22, 23, 24]);
    assert_eq!(page.audit_len, 25);
    assert_eq!(page.audit_head, page.records[4].hash);
    assert_eq!(page.audit_head, format!("{:064x}", 24));
}
