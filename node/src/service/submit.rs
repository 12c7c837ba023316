//! `Submit`: many buyers' calls in one request (a gateway's client gathers them).
//!
//! Each call is served by the same handler as its own RPC (through
//! [`answer_each`]) — same checks, same idempotency key, same typed
//! errors — and all of them run at once,
//! so the writes among them meet in the proposer and share Raft entries.
//! A failed call becomes a [`pb::CallError`] at its position; the others
//! are not affected.

use ingressoja_proto::submit::answer_each;
use ingressoja_proto::ticketing as pb;
use tonic::Status;

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
    let empty_call = ServiceError::bad_request("call", "empty: name one of the Submit calls");
    let answers = answer_each(service, calls, &empty_call.into()).await;
    Ok(pb::SubmitReply { answers })
}
