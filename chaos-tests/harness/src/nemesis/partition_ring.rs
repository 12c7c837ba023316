//! `partition-ring`: every member talks only to its two ring neighbours, so
//! majorities overlap and no node sees all of one. Three nodes in a ring all
//! see each other, so on three one link is cut instead: a line where the
//! middle node sees both ends.

use rand::seq::SliceRandom;

use super::{net, Applied, Fault, FaultFuture, FaultTarget, NemesisKind};

/// Cuts every link but the ring's (or one link, on three nodes).
pub struct PartitionRing;

impl Fault for PartitionRing {
    fn kind(&self) -> NemesisKind {
        NemesisKind::PartitionRing
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let mut ring = target.members();
            ring.shuffle(&mut rand::thread_rng());
            let n = ring.len();
            if n <= 3 {
                let (a, b) = (ring[0], ring[n - 1]);
                net::drop_between(target, a, &[b]).await?;
                net::drop_between(target, b, &[a]).await?;
                return Ok(Applied::new(format!(
                    "line {ring:?} (n{a} and n{b} cut apart)"
                )));
            }
            for (i, &node) in ring.iter().enumerate() {
                let neighbours = [ring[(i + 1) % n], ring[(i + n - 1) % n]];
                let cut: Vec<u64> = ring
                    .iter()
                    .copied()
                    .filter(|&o| o != node && !neighbours.contains(&o))
                    .collect();
                net::drop_between(target, node, &cut).await?;
            }
            Ok(Applied::new(format!("ring {ring:?}")))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(net::heal(target.cluster))
    }
}
