//! `partition-bridge`: two halves joined by one bridge node that sees both,
//! the partition where a majority exists only through the bridge.

use rand::seq::SliceRandom;

use super::{net, Applied, Fault, FaultFuture, FaultTarget, NemesisKind};

/// Splits the members but one into halves that only the bridge joins.
pub struct PartitionBridge;

impl Fault for PartitionBridge {
    fn kind(&self) -> NemesisKind {
        NemesisKind::PartitionBridge
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let mut shuffled = target.members();
            shuffled.shuffle(&mut rand::thread_rng());
            let bridge = shuffled[0];
            let rest = &shuffled[1..];
            let (a, b) = rest.split_at(rest.len() / 2);
            for &x in a {
                net::drop_between(target, x, b).await?;
            }
            for &y in b {
                net::drop_between(target, y, a).await?;
            }
            Ok(Applied::new(format!("{a:?} | {b:?} bridged by n{bridge}")))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(net::heal(target.cluster))
    }
}
