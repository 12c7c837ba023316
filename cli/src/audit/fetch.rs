//! Fetching every node's audit chain page by page, verifying it on the way,
//! and comparing the nodes (see `report.rs`).

use ingressoja_client::{Client, ClientError};

use super::chain::ChainVerifier;
use super::report::{compare, AuditReport, FetchedChain};

/// Records asked for per page.
pub(crate) const AUDIT_PAGE: u32 = 1000;

/// Fetches the whole audit chain of every node `client` knows (pages of
/// 1000, all nodes at once), verifies each chain and compares them: each
/// node's length and head hash, and whether it is whole, behind, divergent
/// (from which seq) or broken (where and why).
///
/// A node's chain is fetched up to the length it reported on the first
/// page, so a node still applying does not keep the check running.
pub async fn audit_verify(client: &Client) -> AuditReport {
    let fetches: Vec<_> = client
        .known_nodes()
        .into_iter()
        .map(|addr| {
            let client = client.clone();
            tokio::spawn(async move {
                let chain = fetch_chain(&client, &addr).await;
                (addr, chain)
            })
        })
        .collect();
    let mut fetched = Vec::with_capacity(fetches.len());
    for fetch in fetches {
        match fetch.await {
            Ok(node) => fetched.push(node),
            Err(join_error) => tracing::warn!(%join_error, "audit fetch task failed"),
        }
    }
    compare(fetched)
}

/// One node's chain, verified as it arrives; stops at the first fault.
async fn fetch_chain(client: &Client, addr: &str) -> Result<FetchedChain, ClientError> {
    let mut verifier = ChainVerifier::new();
    let mut chain = FetchedChain::default();
    let mut target = None;
    loop {
        let page = client.export_audit(addr, chain.records, AUDIT_PAGE).await?;
        let target = *target.get_or_insert(page.audit_len);
        if page.records.is_empty() {
            break;
        }
        for record in &page.records {
            chain.records += 1;
            chain.last_hash.clone_from(&record.hash);
            if chain.broken.is_none() {
                match verifier.push(record) {
                    Ok(hash) => chain.hashes.push(hash),
                    Err(error) => chain.broken = Some(error),
                }
            }
        }
        if chain.broken.is_some() || chain.records >= target {
            break;
        }
    }
    Ok(chain)
}
