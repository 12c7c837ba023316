//! `flaky`: every node drops 30% of the packets from every other node, at
//! random: lost and retried messages, elections on a bad network.

use super::{net, Applied, Fault, FaultFuture, FaultTarget, NemesisKind};
use crate::docker::in_netns;

/// The share of packets between nodes dropped, as iptables' `--probability`.
const DROP_PROBABILITY: &str = "0.3";

/// Drops a share of the packets between nodes.
pub struct Flaky;

impl Fault for Flaky {
    fn kind(&self) -> NemesisKind {
        NemesisKind::Flaky
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let members = target.members();
            for &node in &members {
                let Some(pid) = net::running_pid(target, node).await? else {
                    continue;
                };
                for &other in members.iter().filter(|&&o| o != node) {
                    let ip = target.cluster.ip(other);
                    let rule = [
                        "-A",
                        "INPUT",
                        "-s",
                        &ip,
                        "-m",
                        "statistic",
                        "--mode",
                        "random",
                        "--probability",
                        DROP_PROBABILITY,
                        "-j",
                        "DROP",
                    ];
                    in_netns(pid, "iptables", &rule).await?;
                }
            }
            Ok(Applied::new("30% of packets between nodes dropped"))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(net::heal(target.cluster))
    }
}
