//! `membership`: add the spare node as a voter, or remove it again if it is
//! in: membership changes under load. The change itself is the fault, so
//! healing leaves it; the next churn reverses it. A step that fails is
//! described in the history, not raised: the cluster stays as it was, or
//! the spare stays a running voter to be removed next time.

use std::time::Duration;

use super::{Applied, Fault, FaultFuture, FaultTarget, NemesisKind};

/// How long a membership change may take.
const CHANGE_DEADLINE: Duration = Duration::from_secs(20);
/// How long a started spare gets before it must answer.
const SPARE_STARTUP: Duration = Duration::from_secs(10);

/// Adds or removes the spare node.
pub struct Membership;

impl Fault for Membership {
    fn kind(&self) -> NemesisKind {
        NemesisKind::Membership
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move { Ok(Applied::new(churn(target).await)) })
    }

    fn heal<'a>(&'a mut self, _target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// Adds the first spare as a voter, or removes it if it is in; says what happened.
async fn churn(target: &mut FaultTarget<'_>) -> String {
    let spec = &target.cluster.spec;
    let Some(spare) = (spec.nodes + 1..=spec.nodes + spec.spares).next() else {
        return "no spare node configured".into();
    };
    let client = target.cluster.client("nemesis-membership", CHANGE_DEADLINE);
    if target.spare_in.is_some() {
        return match client.remove_node(spare, false).await {
            Ok(_) => {
                // Stopped only once it is out: a stopped voter would
                // quietly shrink every later fault's margin.
                let _ = target.docker_on(&["stop", "-t", "1"], spare).await;
                target.spare_in = None;
                format!("removed n{spare}")
            }
            Err(e) => format!("removing n{spare} failed (it stays a running voter): {e}"),
        };
    }
    if let Err(e) = target.docker_on(&["start"], spare).await {
        return format!("starting n{spare} failed: {e}");
    }
    // The process needs a moment before it listens.
    let addr = target.cluster.addr(spare);
    let answering = tokio::time::Instant::now() + SPARE_STARTUP;
    while client.node_status(&addr).await.is_err() && tokio::time::Instant::now() < answering {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let added = client.add_node(spare, &addr, CHANGE_DEADLINE, |_| {}).await;
    // A timed-out add may still have committed: keep it running either
    // way, and let the next churn take it out again.
    target.spare_in = Some(spare);
    match added {
        Ok(_) => format!("added n{spare} as a voter"),
        Err(e) => format!("adding n{spare} failed (kept running; removed next time): {e}"),
    }
}
