//! `partition-halves`: split the members into two random halves (on an odd
//! count, one side keeps a majority).

use rand::seq::SliceRandom;

use super::{net, Applied, Fault, FaultFuture, FaultTarget, NemesisKind};

/// Splits the members into two halves.
pub struct PartitionHalves;

impl Fault for PartitionHalves {
    fn kind(&self) -> NemesisKind {
        NemesisKind::PartitionHalves
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let mut shuffled = target.members();
            shuffled.shuffle(&mut rand::thread_rng());
            let (a, b) = shuffled.split_at(shuffled.len() / 2);
            net::partition(target, &[a.to_vec(), b.to_vec()]).await?;
            Ok(Applied::new(format!("halves {a:?} | {b:?}")))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(net::heal(target.cluster))
    }
}
