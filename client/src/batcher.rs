//! Gathering buyers' calls into `Submit` requests.
//!
//! A gateway serving a flash sale makes thousands of the same few calls a
//! second (join the queue, read the queue, hold, pay, release). Sent one by
//! one, each costs an HTTP/2 request on both sides — for the leader, more
//! than the Raft work it asks for. Here calls of one kind to one node that
//! are made while earlier ones are in flight wait for a free slot and go
//! together as one `Submit`; the node answers each as if it came alone. Under
//! light load a call goes at once, alone; under a burst, up to
//! [`MAX_CALLS`] share a request.
//!
//! Kinds are batched apart so a quick read never waits for a purchase's
//! payment in the same reply. A node that does not know `Submit` (an older
//! version during a rolling upgrade) answers `Unimplemented` without doing
//! anything: until a node has answered one `Submit`, the batcher keeps a
//! copy of the calls, sends them one by one if it must, and from then on
//! sends that node every call alone.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ingressoja_proto::ticketing::submit_answer::Answer;
use ingressoja_proto::ticketing::submit_call::Call;
use ingressoja_proto::ticketing::ticketing_client::TicketingClient;
use ingressoja_proto::ticketing::{
    HoldReply, HoldRequest, JoinQueueRequest, PurchaseReply, PurchaseRequest, QueueStatus,
    QueueStatusRequest, ReleaseReply, ReleaseRequest, SubmitCall, SubmitRequest,
};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Most calls in one `Submit` the client sends (the node accepts up to 1 024).
pub(crate) const MAX_CALLS: usize = 256;
/// `Submit` requests of one kind in flight to one node at once.
const IN_FLIGHT: usize = 4;
/// Calls waiting for a slot before callers are pushed back.
const QUEUE_DEPTH: usize = 8_192;
/// The kinds of call that are batched (one queue each).
const KINDS: usize = 5;

type Reply = oneshot::Sender<Result<Answer, Status>>;

/// Whether the node is known to serve `Submit` (shared by a node's queues).
const SUBMIT_UNTRIED: u8 = 0;
const SUBMIT_SERVED: u8 = 1;
const SUBMIT_UNKNOWN_TO_NODE: u8 = 2;

/// The batching queues of one node's channel. Cheap to clone; the tasks
/// behind it stop when the last clone is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Batcher {
    queues: Arc<[mpsc::Sender<(Call, Reply)>; KINDS]>,
}

fn kind(call: &Call) -> usize {
    match call {
        Call::JoinQueue(_) => 0,
        Call::QueueStatus(_) => 1,
        Call::PlaceHold(_) => 2,
        Call::Purchase(_) => 3,
        Call::ReleaseHold(_) => 4,
    }
}

impl Batcher {
    /// Starts the queues for `channel`; each `Submit` may take `timeout`.
    /// Needs a tokio runtime.
    pub(crate) fn new(channel: Channel, timeout: Duration) -> Batcher {
        let submit = Arc::new(AtomicU8::new(SUBMIT_UNTRIED));
        let queues = std::array::from_fn(|_| {
            let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
            tokio::spawn(run(channel.clone(), timeout, Arc::clone(&submit), rx));
            tx
        });
        Batcher {
            queues: Arc::new(queues),
        }
    }

    /// Sends `call` with the others of its kind; its own answer or status.
    pub(crate) async fn call(&self, call: Call) -> Result<Answer, Status> {
        let (reply, answer) = oneshot::channel();
        self.queues[kind(&call)]
            .send((call, reply))
            .await
            .map_err(|_| Status::cancelled("the client is shutting down"))?;
        answer
            .await
            .map_err(|_| Status::cancelled("the client is shutting down"))?
    }

    /// `JoinQueue`, batched.
    pub(crate) async fn join_queue(&self, r: JoinQueueRequest) -> Result<QueueStatus, Status> {
        match self.call(Call::JoinQueue(r)).await? {
            Answer::JoinQueue(status) => Ok(status),
            other => Err(mismatch(&other)),
        }
    }

    /// `GetQueueStatus`, batched.
    pub(crate) async fn queue_status(&self, r: QueueStatusRequest) -> Result<QueueStatus, Status> {
        match self.call(Call::QueueStatus(r)).await? {
            Answer::QueueStatus(status) => Ok(status),
            other => Err(mismatch(&other)),
        }
    }

    /// `PlaceHold`, batched.
    pub(crate) async fn place_hold(&self, r: HoldRequest) -> Result<HoldReply, Status> {
        match self.call(Call::PlaceHold(r)).await? {
            Answer::PlaceHold(reply) => Ok(reply),
            other => Err(mismatch(&other)),
        }
    }

    /// `Purchase`, batched.
    pub(crate) async fn purchase(&self, r: PurchaseRequest) -> Result<PurchaseReply, Status> {
        match self.call(Call::Purchase(r)).await? {
            Answer::Purchase(reply) => Ok(reply),
            other => Err(mismatch(&other)),
        }
    }

    /// `ReleaseHold`, batched.
    pub(crate) async fn release_hold(&self, r: ReleaseRequest) -> Result<ReleaseReply, Status> {
        match self.call(Call::ReleaseHold(r)).await? {
            Answer::ReleaseHold(reply) => Ok(reply),
            other => Err(mismatch(&other)),
        }
    }
}

fn mismatch(answer: &Answer) -> Status {
    let what = match answer {
        Answer::JoinQueue(_) => "join_queue",
        Answer::QueueStatus(_) => "queue_status",
        Answer::PlaceHold(_) => "place_hold",
        Answer::Purchase(_) => "purchase",
        Answer::ReleaseHold(_) => "release_hold",
        Answer::Error(_) => "error",
    };
    Status::internal(format!("the node answered a call with a {what} answer"))
}

async fn run(
    channel: Channel,
    timeout: Duration,
    submit: Arc<AtomicU8>,
    mut rx: mpsc::Receiver<(Call, Reply)>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Wait for a slot first: calls made meanwhile join this request.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        // Calls whose caller gave up while queued (its attempt timed out and
        // was retried elsewhere) are not sent: an overloaded node would
        // otherwise get them on top of the retries.
        let mut pending = Vec::new();
        if !first.1.is_closed() {
            pending.push(first);
        }
        while pending.len() < MAX_CALLS {
            match rx.try_recv() {
                Ok(p) if p.1.is_closed() => {}
                Ok(p) => pending.push(p),
                Err(_) => break,
            }
        }
        if pending.is_empty() {
            continue;
        }
        let channel = channel.clone();
        let submit = Arc::clone(&submit);
        tokio::spawn(async move {
            match submit.load(Ordering::Relaxed) {
                SUBMIT_SERVED => send_batch(channel, timeout, &submit, pending).await,
                SUBMIT_UNKNOWN_TO_NODE => one_by_one(channel, timeout, pending).await,
                _ => try_batch(channel, timeout, &submit, pending).await,
            }
            drop(slot);
        });
    }
}

/// The first `Submit`s to a node: kept copies of the calls go one by one
/// if the node does not know `Submit`; the first answer settles it.
async fn try_batch(
    channel: Channel,
    timeout: Duration,
    submit: &AtomicU8,
    pending: Vec<(Call, Reply)>,
) {
    let copies: Vec<Call> = pending.iter().map(|(call, _)| call.clone()).collect();
    match send(channel.clone(), timeout, pending).await {
        Sent::Answered => {
            submit.store(SUBMIT_SERVED, Ordering::Relaxed);
        }
        Sent::Failed => {}
        Sent::Unimplemented(replies) => {
            tracing::info!(
                "node does not know Submit (an older version): sending calls one by one"
            );
            submit.store(SUBMIT_UNKNOWN_TO_NODE, Ordering::Relaxed);
            one_by_one(channel, timeout, copies.into_iter().zip(replies).collect()).await;
        }
    }
}

/// Sends `pending` as one `Submit` to a node known to serve it.
async fn send_batch(
    channel: Channel,
    timeout: Duration,
    submit: &AtomicU8,
    pending: Vec<(Call, Reply)>,
) {
    if let Sent::Unimplemented(replies) = send(channel, timeout, pending).await {
        // The node was replaced by an older one (a rollback): nothing was
        // done; the callers retry, and the next batch finds out again.
        submit.store(SUBMIT_UNTRIED, Ordering::Relaxed);
        let status = Status::unavailable("the node no longer knows Submit");
        fail_all(replies, &status);
    }
}

/// What became of one `Submit`.
enum Sent {
    /// Every caller got its answer.
    Answered,
    /// Every caller got the request's failure.
    Failed,
    /// The node does not know `Submit`: nothing was done, no caller answered.
    Unimplemented(Vec<Reply>),
}

/// Sends `pending` as one `Submit` and hands each caller its answer.
async fn send(channel: Channel, timeout: Duration, pending: Vec<(Call, Reply)>) -> Sent {
    let (calls, replies): (Vec<SubmitCall>, Vec<Reply>) = pending
        .into_iter()
        .map(|(call, reply)| (SubmitCall { call: Some(call) }, reply))
        .unzip();
    let sent = tokio::time::timeout(
        timeout,
        TicketingClient::new(channel).submit(SubmitRequest { calls }),
    )
    .await;
    let answers = match sent {
        Ok(Ok(reply)) => reply.into_inner().answers,
        Ok(Err(status)) if status.code() == Code::Unimplemented => {
            return Sent::Unimplemented(replies)
        }
        Ok(Err(status)) => {
            fail_all(replies, &status);
            return Sent::Failed;
        }
        Err(_) => {
            let status = Status::deadline_exceeded(format!(
                "no answer to a batch of {} calls within {timeout:?}",
                replies.len()
            ));
            fail_all(replies, &status);
            return Sent::Failed;
        }
    };
    if answers.len() != replies.len() {
        let status = Status::internal(format!(
            "the node answered {} of {} calls",
            answers.len(),
            replies.len()
        ));
        fail_all(replies, &status);
        return Sent::Failed;
    }
    for (reply, answer) in replies.into_iter().zip(answers) {
        let result = match answer.answer {
            Some(Answer::Error(error)) => Err(Status::from(error)),
            Some(answer) => Ok(answer),
            None => Err(Status::internal("the node sent an empty answer")),
        };
        let _ = reply.send(result);
    }
    Sent::Answered
}

fn fail_all(replies: Vec<Reply>, status: &Status) {
    for reply in replies {
        let _ = reply.send(Err(status.clone()));
    }
}

/// The calls as separate RPCs, for a node without `Submit`.
async fn one_by_one(channel: Channel, timeout: Duration, pending: Vec<(Call, Reply)>) {
    let sends = pending.into_iter().map(|(call, reply)| {
        let mut client = TicketingClient::new(channel.clone());
        async move {
            let answer = async {
                Ok(match call {
                    Call::JoinQueue(r) => {
                        Answer::JoinQueue(client.join_queue(r).await?.into_inner())
                    }
                    Call::QueueStatus(r) => {
                        Answer::QueueStatus(client.get_queue_status(r).await?.into_inner())
                    }
                    Call::PlaceHold(r) => {
                        Answer::PlaceHold(client.place_hold(r).await?.into_inner())
                    }
                    Call::Purchase(r) => Answer::Purchase(client.purchase(r).await?.into_inner()),
                    Call::ReleaseHold(r) => {
                        Answer::ReleaseHold(client.release_hold(r).await?.into_inner())
                    }
                })
            };
            let result = tokio::time::timeout(timeout, answer)
                .await
                .unwrap_or_else(|_| Err(Status::deadline_exceeded("no answer")));
            let _ = reply.send(result);
        }
    });
    futures::future::join_all(sends).await;
}
