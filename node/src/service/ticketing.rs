//! The buyer-facing `Ticketing` gRPC service.
//!
//! Writes are proposed to Raft (followers answer "not leader" with the
//! leader's address); reads wait for a linearizable read index first, so an
//! answer never shows a state older than an acknowledged write. Purchases
//! are run by [`crate::checkout`]; this adapter only converts to and from
//! the wire.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use ingressoja_proto::ticketing as pb;
use ingressoja_proto::ticketing::ticketing_server::Ticketing;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::access::{rule_of, Caller, Rule};
use super::convert;
use crate::checkout::{Checkout, NodeLedger, Purchase, PurchaseOrder};
use crate::error::ServiceError;
use crate::machine::{self, Command, Effect, Registration};
use crate::payment::PaymentProvider;
#[cfg(feature = "planted-bugs")]
use crate::planted::PlantedBugs;
use crate::proposer::Proposer;
use crate::raft_types::Raft;
use crate::read_barrier::ReadBarrier;
use crate::storage::SharedMachine;

/// Serves buyers: registration, queue, holds, payment and purchases, linearizable reads
/// and the domain event stream; and gateways: credentials, TOTP enrolment and login records.
pub struct TicketingService {
    raft: Raft,
    proposer: Proposer,
    reads: ReadBarrier,
    state: SharedMachine,
    hold_ttl: Duration,
    /// Shared with each purchase's own task (see [`Checkout::purchase_detached`]).
    checkout: Arc<Checkout<NodeLedger>>,
    metrics: Arc<crate::metrics::NodeMetrics>,
    /// Bugs planted on purpose for the chaos checkers' own tests; none in service.
    #[cfg(feature = "planted-bugs")]
    planted: PlantedBugs,
}

/// Most events sent per read of the feed.
const EVENT_PAGE: usize = 1_000;
/// Longest accepted login (a customer id or an e-mail), in bytes.
const MAX_LOGIN_LEN: usize = 254;

impl TicketingService {
    /// A service over this node's Raft and applied state; holds last `hold_ttl`.
    pub fn new(
        raft: Raft,
        proposer: Proposer,
        state: SharedMachine,
        hold_ttl: Duration,
        payments: Arc<dyn PaymentProvider>,
        metrics: Arc<crate::metrics::NodeMetrics>,
    ) -> Self {
        let reads = ReadBarrier::new(raft.clone());
        let ledger = NodeLedger::new(proposer.clone(), reads.clone(), state.clone());
        TicketingService {
            checkout: Arc::new(Checkout::new(ledger, payments, metrics.clone())),
            proposer,
            reads,
            raft,
            state,
            hold_ttl,
            metrics,
            #[cfg(feature = "planted-bugs")]
            planted: PlantedBugs::default(),
        }
    }

    /// Turns on the planted bugs (see [`crate::planted`]): tests of the checkers only.
    #[cfg(feature = "planted-bugs")]
    pub fn with_planted_bugs(mut self, planted: PlantedBugs) -> Self {
        self.planted = planted;
        self
    }

    async fn write(
        &self,
        key: Option<pb::IdempotencyKey>,
        command: Command,
    ) -> Result<(Effect, u64), ServiceError> {
        let request = machine::Request {
            key: Some(convert::key(key)?),
            command,
        };
        let committed = self.proposer.propose(request).await?;
        Ok((committed.effect, committed.log_index))
    }

    /// Waits until this node may serve a linearizable read; returns the read
    /// index. Concurrent reads share one leadership check (see [`ReadBarrier`]).
    async fn read_barrier(&self) -> Result<u64, ServiceError> {
        self.reads.wait().await
    }

    fn read<T>(&self, f: impl FnOnce(&machine::SaleMachine) -> T) -> T {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        f(&state.machine)
    }
}

fn unexpected(outcome: Effect) -> ServiceError {
    ServiceError::Internal(format!("unexpected outcome {outcome:?}"))
}

/// A committed purchase as the wire's reply.
fn purchase_reply(purchase: &Purchase) -> pb::PurchaseReply {
    pb::PurchaseReply {
        charge_id: purchase.charge_id().to_string(),
        tickets: purchase.tickets.iter().map(convert::ticket).collect(),
        log_index: purchase.log_index,
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::DomainEvent, Status>> + Send>>;

/// The rule and path of a call inside a `Submit`: the same as the call
/// made on its own, so a batch opens nothing its calls' RPCs do not.
fn submitted_rule(call: &pb::submit_call::Call) -> (Rule, &'static str) {
    use pb::submit_call::Call;
    let path = match call {
        Call::JoinQueue(_) => "/ingressoja.ticketing.v1.Ticketing/JoinQueue",
        Call::QueueStatus(_) => "/ingressoja.ticketing.v1.Ticketing/GetQueueStatus",
        Call::PlaceHold(_) => "/ingressoja.ticketing.v1.Ticketing/PlaceHold",
        Call::Purchase(_) => "/ingressoja.ticketing.v1.Ticketing/Purchase",
        Call::ReleaseHold(_) => "/ingressoja.ticketing.v1.Ticketing/ReleaseHold",
    };
    // Every path above is in the table (a unit test holds it to that).
    (rule_of(path).unwrap_or(Rule::Admin), path)
}

#[tonic::async_trait]
impl Ticketing for TicketingService {
    async fn create_event(
        &self,
        request: Request<pb::CreateEventRequest>,
    ) -> Result<Response<pb::CreateEventReply>, Status> {
        let r = request.into_inner();
        let command = Command::CreateEvent {
            event_id: r.event_id,
            name: r.name,
            categories: r
                .categories
                .into_iter()
                .map(convert::category_spec)
                .collect(),
            policy: convert::sale_policy(r.policy),
        };
        match self.write(r.key, command).await? {
            (Effect::EventCreated { event_id }, log_index) => {
                Ok(Response::new(pb::CreateEventReply {
                    event_id,
                    log_index,
                }))
            }
            (other, _) => Err(unexpected(other).into()),
        }
    }

    async fn place_hold(
        &self,
        request: Request<pb::HoldRequest>,
    ) -> Result<Response<pb::HoldReply>, Status> {
        let r = request.into_inner();
        let command = Command::PlaceHold {
            event_id: r.event_id,
            category_id: r.category_id,
            customer_id: r.customer_id,
            quantity: r.quantity,
            ttl_ms: self.hold_ttl.as_millis() as u64,
        };
        match self.write(r.key, command).await? {
            (Effect::HoldPlaced(hold), log_index) => Ok(Response::new(pb::HoldReply {
                hold: Some(convert::hold(&hold)),
                log_index,
            })),
            (other, _) => Err(unexpected(other).into()),
        }
    }

    async fn release_hold(
        &self,
        request: Request<pb::ReleaseRequest>,
    ) -> Result<Response<pb::ReleaseReply>, Status> {
        let r = request.into_inner();
        let command = Command::ReleaseHold {
            hold_id: r.hold_id,
            customer_id: r.customer_id,
        };
        match self.write(r.key, command).await? {
            (Effect::HoldReleased(hold), log_index) => Ok(Response::new(pb::ReleaseReply {
                hold: Some(convert::hold(&hold)),
                log_index,
            })),
            (other, _) => Err(unexpected(other).into()),
        }
    }

    async fn purchase(
        &self,
        request: Request<pb::PurchaseRequest>,
    ) -> Result<Response<pb::PurchaseReply>, Status> {
        let r = request.into_inner();
        let key = convert::key(r.key)?;
        machine::validate_id("customer_id", &r.customer_id).map_err(ServiceError::from)?;
        #[cfg(feature = "planted-bugs")]
        if let Some(fake) = self.planted.fake_purchase(r.hold_id, &r.customer_id) {
            return Ok(Response::new(fake));
        }
        let order = PurchaseOrder {
            key,
            hold_id: r.hold_id,
            customer_id: r.customer_id,
            payment_token: r.payment_token,
        };
        let purchase = self
            .checkout
            .purchase_detached(order)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(purchase_reply(&purchase)))
    }

    async fn availability(
        &self,
        request: Request<pb::AvailabilityRequest>,
    ) -> Result<Response<pb::AvailabilityReply>, Status> {
        let event_id = request.into_inner().event_id;
        machine::validate_id("event_id", &event_id).map_err(ServiceError::from)?;
        #[cfg(feature = "planted-bugs")]
        if let Some(copy) = self.planted.stale_availability(&event_id) {
            return Ok(Response::new(copy));
        }
        let read_index = self.read_barrier().await?;
        let reply = self.read(|m| {
            m.sale_event(&event_id).map(|event| pb::AvailabilityReply {
                event_id: event.event_id.clone(),
                name: event.name.clone(),
                categories: event
                    .categories
                    .values()
                    .map(|c| pb::CategoryAvailability {
                        category_id: c.spec.category_id.clone(),
                        name: c.spec.name.clone(),
                        capacity: c.spec.capacity,
                        sold: c.sold,
                        held: c.held,
                        available: c.available(),
                        price_cents: c.spec.price_cents,
                        per_customer_limit: c.spec.per_customer_limit,
                    })
                    .collect(),
                read_index,
                queue_enabled: event.policy.queue.is_some(),
            })
        });
        let reply = reply.map_err(ServiceError::from)?;
        #[cfg(feature = "planted-bugs")]
        self.planted.keep_availability(&event_id, &reply);
        Ok(Response::new(reply))
    }

    async fn list_events(
        &self,
        _request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsReply>, Status> {
        let read_index = self.read_barrier().await?;
        let events = self.read(|m| {
            m.sale_events()
                .map(|event| pb::EventSummary {
                    event_id: event.event_id.clone(),
                    name: event.name.clone(),
                    queue_enabled: event.policy.queue.is_some(),
                    sale_opens_at_ms: event.policy.sale_opens_at_ms,
                    available: event
                        .categories
                        .values()
                        .map(|c| u64::from(c.available()))
                        .sum(),
                })
                .collect()
        });
        Ok(Response::new(pb::ListEventsReply { events, read_index }))
    }

    async fn get_hold(
        &self,
        request: Request<pb::GetHoldRequest>,
    ) -> Result<Response<pb::GetHoldReply>, Status> {
        let hold_id = request.into_inner().hold_id;
        let read_index = self.read_barrier().await?;
        let hold =
            self.read(|m| m.hold(hold_id).map(convert::hold))
                .ok_or(ServiceError::Rejected(machine::Rejection::HoldNotFound(
                    hold_id,
                )))?;
        Ok(Response::new(pb::GetHoldReply {
            hold: Some(hold),
            read_index,
        }))
    }

    async fn list_tickets(
        &self,
        request: Request<pb::ListTicketsRequest>,
    ) -> Result<Response<pb::ListTicketsReply>, Status> {
        let customer_id = request.into_inner().customer_id;
        machine::validate_id("customer_id", &customer_id).map_err(ServiceError::from)?;
        let read_index = self.read_barrier().await?;
        let tickets = self.read(|m| {
            m.tickets_of(&customer_id)
                .into_iter()
                .map(convert::ticket)
                .collect()
        });
        Ok(Response::new(pb::ListTicketsReply {
            tickets,
            read_index,
        }))
    }

    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterReply>, Status> {
        let r = request.into_inner();
        // Checked here, before proposing, not in the state machine: a rule
        // added to apply would replay differently over old log entries.
        if r.customer_id.contains('@') {
            return Err(ServiceError::bad_request(
                "customer_id",
                "must not contain '@': a login with '@' is an e-mail, and an id that \
                 looked like one could shadow another account's e-mail (or be shadowed)",
            )
            .into());
        }
        let command = Command::RegisterCustomer(Registration {
            customer_id: r.customer_id,
            email: r.email,
            cpf: r.cpf,
            display_name: r.display_name,
            password_hash: r.password_hash,
            totp_secret: (!r.totp_secret.is_empty()).then_some(r.totp_secret),
        });
        match self.write(r.key, command).await? {
            (Effect::Registered { customer_id }, log_index) => {
                Ok(Response::new(pb::RegisterReply {
                    customer_id,
                    log_index,
                }))
            }
            (other, _) => Err(unexpected(other).into()),
        }
    }

    async fn join_queue(
        &self,
        request: Request<pb::JoinQueueRequest>,
    ) -> Result<Response<pb::QueueStatus>, Status> {
        let r = request.into_inner();
        let command = Command::JoinQueue {
            event_id: r.event_id,
            customer_id: r.customer_id,
        };
        match self.write(r.key, command).await? {
            (Effect::Queued(position), log_index) => {
                Ok(Response::new(convert::queue_status(&position, log_index)))
            }
            (other, _) => Err(unexpected(other).into()),
        }
    }

    async fn submit(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitReply>, Status> {
        let caller = Caller::of(&request);
        let calls = request.into_inner().calls;
        for call in calls.iter().filter_map(|c| c.call.as_ref()) {
            let (rule, path) = submitted_rule(call);
            caller.check(rule, &format!("Submit: {path}"))?;
        }
        self.metrics.submit_calls.observe(calls.len() as f64);
        super::submit::serve(self, calls).await.map(Response::new)
    }

    async fn get_queue_status(
        &self,
        request: Request<pb::QueueStatusRequest>,
    ) -> Result<Response<pb::QueueStatus>, Status> {
        let r = request.into_inner();
        machine::validate_id("event_id", &r.event_id).map_err(ServiceError::from)?;
        machine::validate_id("customer_id", &r.customer_id).map_err(ServiceError::from)?;
        let read_index = self.read_barrier().await?;
        let position = self
            .read(|m| m.queue_position(&r.event_id, &r.customer_id))
            .map_err(ServiceError::from)?;
        Ok(Response::new(convert::queue_status(&position, read_index)))
    }

    async fn get_credentials(
        &self,
        request: Request<pb::GetCredentialsRequest>,
    ) -> Result<Response<pb::CredentialsReply>, Status> {
        let login = request.into_inner().login;
        if login.trim().is_empty() || login.len() > MAX_LOGIN_LEN {
            return Err(ServiceError::bad_request(
                "login",
                format!("must be a customer id or an e-mail of 1 to {MAX_LOGIN_LEN} bytes"),
            )
            .into());
        }
        let read_index = self.read_barrier().await?;
        let reply = self
            .read(|m| {
                m.credentials(&login)
                    .map(|c| convert::credentials(c, read_index))
            })
            .map_err(ServiceError::from)?;
        Ok(Response::new(reply))
    }

    async fn enrol_totp(
        &self,
        request: Request<pb::EnrolTotpRequest>,
    ) -> Result<Response<pb::EnrolTotpReply>, Status> {
        let r = request.into_inner();
        let command = Command::EnrolTotp {
            customer_id: r.customer_id,
            secret: r.totp_secret,
            totp_step: r.totp_step,
        };
        match self.write(r.key, command).await? {
            (Effect::TotpEnrolled { .. }, log_index) => {
                Ok(Response::new(pb::EnrolTotpReply { log_index }))
            }
            (other, _) => Err(unexpected(other).into()),
        }
    }

    async fn record_login(
        &self,
        request: Request<pb::RecordLoginRequest>,
    ) -> Result<Response<pb::RecordLoginReply>, Status> {
        let r = request.into_inner();
        let command = Command::RecordLogin {
            outcome: convert::login_outcome(&r),
            customer_id: r.customer_id,
        };
        match self.write(r.key, command).await? {
            (
                Effect::LoginRecorded {
                    failed_logins,
                    last_failed_login_ms,
                    ..
                },
                log_index,
            ) => Ok(Response::new(pb::RecordLoginReply {
                log_index,
                failed_logins,
                last_failed_login_ms,
            })),
            (other, _) => Err(unexpected(other).into()),
        }
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let r = request.into_inner();
        let customer = (!r.customer_id.is_empty()).then_some(r.customer_id);
        let state = self.state.clone();
        let mut applied = self.raft.metrics();
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        #[cfg(feature = "planted-bugs")]
        let planted = self.planted.bug();
        tokio::spawn(async move {
            let mut next = r.from_seq;
            // `from_seq == 0` means "from the oldest kept", but only at the start:
            // falling behind the kept window later is an error, never a silent gap.
            let mut from_oldest = r.from_seq == 0;
            loop {
                let (events, oldest) = {
                    let s = state.read().unwrap_or_else(|p| p.into_inner());
                    (
                        s.journal.domain_events_since(next, EVENT_PAGE),
                        s.journal.oldest_event_seq(),
                    )
                };
                if next < oldest {
                    if from_oldest {
                        next = oldest;
                        from_oldest = false;
                        continue;
                    }
                    let gone = Status::out_of_range(format!(
                        "events before seq {oldest} are no longer kept (asked from {next})"
                    ));
                    let _ = tx.send(Err(gone)).await;
                    return;
                }
                from_oldest = false;
                let full = events.len() == EVENT_PAGE;
                for e in events {
                    next = e.seq + 1;
                    if customer.as_ref().is_some_and(|c| c != &e.customer_id) {
                        continue;
                    }
                    let event = convert::domain_event(&e);
                    #[cfg(feature = "planted-bugs")]
                    if crate::planted::PlantedBug::drops_watch_event(
                        planted,
                        &event.kind,
                        event.hold_id,
                    ) {
                        continue;
                    }
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
                if full {
                    continue;
                }
                tokio::select! {
                    changed = applied.changed() => if changed.is_err() { return },
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingressoja_pki::{Identity, Role};

    #[test]
    fn a_submitted_call_needs_what_its_own_rpc_needs() {
        use pb::submit_call::Call;
        let calls = [
            Call::JoinQueue(Default::default()),
            Call::QueueStatus(Default::default()),
            Call::PlaceHold(Default::default()),
            Call::Purchase(Default::default()),
            Call::ReleaseHold(Default::default()),
        ];
        let node = Caller::Verified(Identity::node("c", 1).unwrap());
        let gateway = Caller::Verified(Identity::new("c", Role::Gateway, "web").unwrap());
        for call in &calls {
            let (rule, path) = submitted_rule(call);
            assert_eq!(rule_of(path), Some(rule), "{path}");
            assert!(gateway.check(rule, path).is_ok(), "{path}");
            let refused = node.check(rule, path).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{path}");
        }
    }
}
