//! Comparing the audit chains of several nodes: which verify, which are
//! merely behind (still applying), and which diverge, and from where.
//!
//! Pure: the chains are fetched in `fetch.rs`.

use ingressoja_client::ClientError;

use super::chain::{ChainError, ZERO_HASH};

/// What one node's audit chain looks like next to the others'.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeAudit {
    /// The `host:port` the client asked.
    pub addr: String,
    /// How many records the node returned (0 if it was unreachable).
    pub records: u64,
    /// Hex hash of the last record the node returned (64 zeros for an empty
    /// chain, empty if the node was unreachable).
    pub head: String,
    /// How this chain compares.
    pub verdict: AuditVerdict,
}

/// The verdict on one node's audit chain.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditVerdict {
    /// The chain verifies and equals the reference chain.
    Ok,
    /// The chain verifies and is the reference chain less its last `by`
    /// records: the node is still applying, which is not a fault.
    Behind {
        /// How many records shorter it is.
        by: u64,
    },
    /// The chain verifies on its own, but its record at `seq` differs from
    /// the reference's: the replicas disagree about history.
    Diverges {
        /// The first seq whose record hashes differ.
        seq: u64,
    },
    /// The chain does not verify (tampered, corrupted or incomplete).
    Broken(ChainError),
    /// The node could not be asked.
    Unreachable(ClientError),
}

impl AuditVerdict {
    /// True for [`Ok`](Self::Ok) and [`Behind`](Self::Behind).
    pub fn is_healthy(&self) -> bool {
        matches!(self, AuditVerdict::Ok | AuditVerdict::Behind { .. })
    }
}

/// Every node's audit chain, verified and compared.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditReport {
    /// One entry per node, in the order [`Client::known_nodes`](ingressoja_client::Client::known_nodes) lists them.
    pub nodes: Vec<NodeAudit>,
    /// The node whose chain the others were compared with: among the chains
    /// that verify, the one the most nodes agree with (are a prefix of), the
    /// longest on a tie. `None` when no chain verified.
    pub reference: Option<String>,
}

impl AuditReport {
    /// True when every node was reached, every chain verifies and none
    /// diverges (nodes that are merely behind are fine).
    pub fn is_consistent(&self) -> bool {
        !self.nodes.is_empty() && self.nodes.iter().all(|n| n.verdict.is_healthy())
    }
}

/// One node's chain as fetched: the hashes of the records that verified,
/// and the first fault if any.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FetchedChain {
    /// Hashes of the verified records, by seq.
    pub hashes: Vec<[u8; 32]>,
    /// How many records the node returned (more than `hashes` if broken).
    pub records: u64,
    /// The `hash` field of the last record returned, as sent.
    pub last_hash: String,
    /// Why the chain does not verify, if it does not.
    pub broken: Option<ChainError>,
}

impl FetchedChain {
    /// The verified hashes, if the whole chain verified.
    fn verified(&self) -> Option<&[[u8; 32]]> {
        self.broken.is_none().then_some(self.hashes.as_slice())
    }
}

/// Compares the fetched chains, one per node (in report order).
pub(crate) fn compare(fetched: Vec<(String, Result<FetchedChain, ClientError>)>) -> AuditReport {
    let verified: Vec<Option<&[[u8; 32]]>> = fetched
        .iter()
        .map(|(_, chain)| chain.as_ref().ok().and_then(FetchedChain::verified))
        .collect();
    let reference = pick_reference(&verified);
    let nodes = fetched
        .iter()
        .map(|(addr, chain)| {
            let (records, head, verdict) = match chain {
                Err(error) => (0, String::new(), AuditVerdict::Unreachable(error.clone())),
                Ok(chain) => {
                    let verdict = match (&chain.broken, reference.map(|r| verified[r])) {
                        (Some(error), _) => AuditVerdict::Broken(error.clone()),
                        (None, Some(Some(reference))) => judge(&chain.hashes, reference),
                        (None, _) => AuditVerdict::Ok,
                    };
                    let head = match (&chain.broken, chain.hashes.last()) {
                        (None, Some(last)) => hex::encode(last),
                        (None, None) => hex::encode(ZERO_HASH),
                        (Some(_), _) => chain.last_hash.clone(),
                    };
                    (chain.records, head, verdict)
                }
            };
            NodeAudit {
                addr: addr.clone(),
                records,
                head,
                verdict,
            }
        })
        .collect();
    AuditReport {
        nodes,
        reference: reference.map(|r| fetched[r].0.clone()),
    }
}

/// The index of the reference chain among the verified ones: most nodes
/// are a prefix of it, then longest, then first.
fn pick_reference(verified: &[Option<&[[u8; 32]]>]) -> Option<usize> {
    let chains: Vec<(usize, &[[u8; 32]])> = verified
        .iter()
        .enumerate()
        .filter_map(|(i, chain)| chain.map(|c| (i, c)))
        .collect();
    chains
        .iter()
        .map(|&(i, candidate)| {
            let support = chains
                .iter()
                .filter(|(_, other)| candidate.starts_with(other))
                .count();
            (support, candidate.len(), std::cmp::Reverse(i))
        })
        .max()
        .map(|(_, _, std::cmp::Reverse(i))| i)
}

/// A verified chain against the reference.
fn judge(chain: &[[u8; 32]], reference: &[[u8; 32]]) -> AuditVerdict {
    if let Some(seq) = chain.iter().zip(reference).position(|(a, b)| a != b) {
        return AuditVerdict::Diverges { seq: seq as u64 };
    }
    if chain.len() > reference.len() {
        // Longer and agreeing with all of the reference: not behind, and not
        // a divergence either. Only possible when the reference won on support.
        return AuditVerdict::Ok;
    }
    match reference.len() - chain.len() {
        0 => AuditVerdict::Ok,
        by => AuditVerdict::Behind { by: by as u64 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::ChainFault;

    /// A verified chain whose record `i` hashes to `[tag(i); 32]`.
    fn chain(tags: &[u8]) -> Result<FetchedChain, ClientError> {
        Ok(FetchedChain {
            hashes: tags.iter().map(|t| [*t; 32]).collect(),
            records: tags.len() as u64,
            last_hash: String::new(),
            broken: None,
        })
    }

    fn verdicts(report: &AuditReport) -> Vec<AuditVerdict> {
        report.nodes.iter().map(|n| n.verdict.clone()).collect()
    }

    fn nodes(chains: Vec<Result<FetchedChain, ClientError>>) -> AuditReport {
        compare(
            chains
                .into_iter()
                .enumerate()
                .map(|(i, c)| (format!("n{i}:1"), c))
                .collect(),
        )
    }

    #[test]
    fn equal_chains_are_ok() {
        let report = nodes(vec![chain(&[1, 2, 3]), chain(&[1, 2, 3])]);
        assert_eq!(verdicts(&report), vec![AuditVerdict::Ok, AuditVerdict::Ok]);
        assert!(report.is_consistent());
        assert_eq!(report.nodes[0].head, hex::encode([3u8; 32]));
        assert_eq!(report.nodes[0].records, 3);
    }

    #[test]
    fn a_shorter_prefix_is_behind() {
        let report = nodes(vec![chain(&[1, 2]), chain(&[1, 2, 3, 4]), chain(&[])]);
        assert_eq!(
            verdicts(&report),
            vec![
                AuditVerdict::Behind { by: 2 },
                AuditVerdict::Ok,
                AuditVerdict::Behind { by: 4 }
            ]
        );
        assert_eq!(report.reference.as_deref(), Some("n1:1"));
        assert_eq!(report.nodes[2].head, "0".repeat(64));
        assert!(report.is_consistent());
    }

    #[test]
    fn a_different_record_is_a_divergence_at_its_seq() {
        let report = nodes(vec![
            chain(&[1, 2, 3]),
            chain(&[1, 2, 3]),
            chain(&[1, 9, 3]),
        ]);
        assert_eq!(
            verdicts(&report),
            vec![
                AuditVerdict::Ok,
                AuditVerdict::Ok,
                AuditVerdict::Diverges { seq: 1 }
            ]
        );
        assert!(!report.is_consistent());
    }

    #[test]
    fn the_majority_wins_over_a_longer_odd_one_out() {
        let report = nodes(vec![
            chain(&[1, 7, 7, 7]),
            chain(&[1, 2, 3]),
            chain(&[1, 2]),
        ]);
        assert_eq!(report.reference.as_deref(), Some("n1:1"));
        assert_eq!(
            verdicts(&report),
            vec![
                AuditVerdict::Diverges { seq: 1 },
                AuditVerdict::Ok,
                AuditVerdict::Behind { by: 1 }
            ]
        );
    }

    #[test]
    fn broken_and_unreachable_nodes_are_reported_and_not_compared() {
        let broken = ChainError {
            seq: 1,
            fault: ChainFault::HashMismatch,
        };
        let report = nodes(vec![
            Ok(FetchedChain {
                hashes: vec![[1; 32]],
                records: 3,
                last_hash: "ab".into(),
                broken: Some(broken.clone()),
            }),
            Err(ClientError::Transport("refused".into())),
            chain(&[1, 2, 3]),
        ]);
        assert_eq!(
            verdicts(&report),
            vec![
                AuditVerdict::Broken(broken),
                AuditVerdict::Unreachable(ClientError::Transport("refused".into())),
                AuditVerdict::Ok,
            ]
        );
        assert_eq!(report.nodes[0].head, "ab");
        assert_eq!(report.nodes[0].records, 3);
        assert_eq!(report.nodes[1].head, "");
        assert_eq!(report.reference.as_deref(), Some("n2:1"));
        assert!(!report.is_consistent());
    }

    #[test]
    fn nothing_verified_means_no_reference_and_not_consistent() {
        let report = nodes(vec![Err(ClientError::Transport("refused".into()))]);
        assert_eq!(report.reference, None);
        assert!(!report.is_consistent());
        assert!(!nodes(vec![]).is_consistent());
    }
}
