//! `partition-leader`: cut the leader off from every other node (clients
//! still reach it), so it must step down and the rest elect a new one.

use super::{net, Applied, Fault, FaultFuture, FaultTarget, NemesisKind};

/// Isolates the leader from the other members.
pub struct PartitionLeader;

impl Fault for PartitionLeader {
    fn kind(&self) -> NemesisKind {
        NemesisKind::PartitionLeader
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let members = target.members();
            let leader = target.leader().await.unwrap_or(members[0]);
            let rest: Vec<u64> = members.iter().copied().filter(|&m| m != leader).collect();
            net::partition(target, &[vec![leader], rest.clone()]).await?;
            Ok(Applied::new(format!(
                "isolated leader n{leader} from {rest:?}"
            )))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(net::heal(target.cluster))
    }
}
