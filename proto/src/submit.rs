//! Serving a `Submit` with any [`Ticketing`] implementation: each call goes
//! to the handler of its own RPC, all at once, and its answer (or its
//! status, as a [`CallError`]) takes the call's place. The node serves
//! `Submit` this way, and so do the client's test fakes.

use tonic::{Request, Status};

use crate::ticketing::submit_answer::Answer;
use crate::ticketing::submit_call::Call;
use crate::ticketing::ticketing_server::Ticketing;
use crate::ticketing::{CallError, SubmitAnswer, SubmitCall};

/// Answers every call of a `Submit` through `service`'s own handlers, in the
/// calls' order; a call naming no operation is answered with `empty_call`.
pub async fn answer_each<T: Ticketing>(
    service: &T,
    calls: Vec<SubmitCall>,
    empty_call: &Status,
) -> Vec<SubmitAnswer> {
    let answers = calls
        .into_iter()
        .map(|call| answer(service, call.call, empty_call));
    futures::future::join_all(answers).await
}

async fn answer<T: Ticketing>(
    service: &T,
    call: Option<Call>,
    empty_call: &Status,
) -> SubmitAnswer {
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
        None => Err(empty_call.clone()),
    };
    SubmitAnswer {
        answer: Some(result.unwrap_or_else(|status| Answer::Error(CallError::from(&status)))),
    }
}
