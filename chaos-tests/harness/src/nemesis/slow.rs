//! `slow`: limit every member's bandwidth with a `tbf` qdisc so packets
//! queue (delay and jitter; this kernel has no `netem`).

use super::{net, Applied, Fault, FaultFuture, FaultTarget, NemesisKind};
use crate::docker::in_netns;

/// Slows every member's link.
pub struct Slow;

impl Fault for Slow {
    fn kind(&self) -> NemesisKind {
        NemesisKind::Slow
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            for node in target.members() {
                let Some(pid) = net::running_pid(target, node).await? else {
                    continue;
                };
                in_netns(
                    pid,
                    "tc",
                    &[
                        "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", "1mbit", "burst",
                        "4kb", "latency", "200ms",
                    ],
                )
                .await?;
            }
            Ok(Applied::new(
                "1 Mbit/s per node (queueing delay up to 200 ms)",
            ))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(net::heal(target.cluster))
    }
}
