//! `Submit`: many buyers' calls in one request (see the client's batcher).
//!
//! Each call is served by the same handler as its own RPC — same checks,
//! same idempotency key, same typed errors — and all of them run at once,
//! so the writes among them meet in the proposer and share Raft entries.
//! A failed call becomes a [`pb::CallError`] at its position; the others
//! are not affected.

use futures::future::join_all;
use ingressoja_proto::ticketing as pb;
use ingressoja_proto::ticketing::submit_answer::Answer;
use ingressoja_proto::ticketing::submit_call::Call;
use ingressoja_proto::ticketing::ticketing_server::Ticketing;
use tonic::{Request, Status};

use super::ticketing::TicketingService;
use crate::error::ServiceError;

/// Most calls in one `Submit`.
pub const MAX_CALLS: usize = 1_024;

/// Serves every call of a `Submit`, answers in the calls' order.
pub(super) async fn serve(
    service: &TicketingService,
    calls: Vec<pb::SubmitCall>,
) -> Result<pb::SubmitReply, Status> {
    if calls.is_empty() || calls.len() > MAX_CALLS {
        return Err(ServiceError::bad_request(
            "calls",
            format!(
                "a Submit carries 1 to {MAX_CALLS} calls, got {}",
                calls.len()
            ),
        )
        .into());
    }
    let answers = join_all(calls.into_iter().map(|c| answer(service, c.call))).await;
    Ok(pb::SubmitReply { answers })
}

async fn answer(service: &TicketingService, call: Option<Call>) -> pb::SubmitAnswer {
    let result = match call {
        Some(Call::JoinQueue(r)) => service
            .join_queue(Request::new(r))
            .await
            .map(|r| Answer::JoinQueue(r.into_inner())),
        Some(Call::QueueStatus(r)) => service
            .get_queue_status(Request::new(r))
            .await
            .map(|r| Answer::QueueStatus(r.into_inner())),
        Some(Call::PlaceHold(r)) => service
            .place_hold(Request::new(r))
            .await
            .map(|r| Answer::PlaceHold(r.into_inner())),
        Some(Call::Purchase(r)) => service
            .purchase(Request::new(r))
            .await
            .map(|r| Answer::Purchase(r.into_inner())),
        Some(Call::ReleaseHold(r)) => service
            .release_hold(Request::new(r))
            .await
            .map(|r| Answer::ReleaseHold(r.into_inner())),
        None => {
            Err(ServiceError::bad_request("call", "empty: name one of the batched calls").into())
        }
    };
    pb::SubmitAnswer {
        answer: Some(result.unwrap_or_else(|status| Answer::Error(pb::CallError::from(&status)))),
    }
}
