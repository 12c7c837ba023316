//! In-process fake nodes speaking real gRPC, shared by the client library's
//! and the CLI's integration tests. No Raft here: each fake is told whether
//! it leads, which domain events it can stream and which audit chain it holds.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, Stream, StreamExt};
use ingressoja_client::proto::admin::admin_server::{Admin, AdminServer};
use ingressoja_client::proto::admin::{
    AddLearnerRequest, AuditPage, AuditRecord, AuditRequest, BackupChunk, BackupRequest,
    ChangeMembershipRequest, MembershipReply, NodeStatus, SaleExport, SaleExportRequest,
    SnapshotReply, SnapshotRequest, StatusRequest,
};
use ingressoja_client::proto::submit::answer_each;
use ingressoja_client::proto::ticketing::ticketing_server::{Ticketing, TicketingServer};
use ingressoja_client::proto::ticketing::*;
use ingressoja_client::proto::{ERROR_CODE_KEY, LEADER_ADDR_KEY};
use ingressoja_client::{Client, ClientOptions};
use tokio::sync::{broadcast, oneshot};
use tonic::metadata::MetadataValue;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status};

/// How a fake node's event stream ends after its events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamEnd {
    /// Stays open, sending nothing more.
    #[default]
    Open,
    /// Ends cleanly after this many events.
    EndAfter(usize),
    /// Fails with `unavailable` after this many events.
    FailAfter(usize),
}

/// One fake node's behaviour and what it saw.
#[derive(Clone, Default)]
pub struct Fake {
    /// The node id this fake reports in its status.
    pub id: u64,
    /// `None`: this node leads. `Some(addr)`: redirect there ("" = unknown).
    pub redirect_to: Option<String>,
    /// Purchases to stall (longer than the client's request timeout) first.
    pub stall_first: Arc<Mutex<u32>>,
    /// Idempotency keys of the purchases that reached this node.
    pub keys: Arc<Mutex<Vec<IdempotencyKey>>>,
    /// Payment tokens of the purchases that reached this node.
    pub tokens: Arc<Mutex<Vec<String>>>,
    /// The domain events this node can stream, by seq.
    pub events: Arc<Mutex<Vec<DomainEvent>>>,
    /// How each stream ends.
    pub stream_end: StreamEnd,
    /// Streams start this many events before the asked seq (replays).
    pub overlap: u64,
    /// The watch requests that reached this node.
    pub watches: Arc<Mutex<Vec<WatchEventsRequest>>>,
    /// This node's audit chain.
    pub audit: Arc<Mutex<Vec<AuditRecord>>>,
    /// The registrations that reached this node.
    pub registered: Arc<Mutex<Vec<RegisterRequest>>>,
    /// Whether this node serves `Submit` (a current node) or refuses it as
    /// unknown (a node of an older version, the default).
    pub serves_submit: Arc<AtomicBool>,
    /// The sizes of the `Submit` requests that reached this node.
    pub submits: Arc<Mutex<Vec<usize>>>,
    /// Events pushed while streams are open (see [`Fake::push_event`]).
    pub live: LiveEvents,
}

/// The live end of a fake node's event streams: what [`Fake::push_event`]
/// sends to every open `StreamEnd::Open` stream.
#[derive(Clone)]
pub struct LiveEvents(broadcast::Sender<DomainEvent>);

impl Default for LiveEvents {
    fn default() -> Self {
        LiveEvents(broadcast::channel(4096).0)
    }
}

impl Fake {
    /// A fake node `id` that leads: it serves every call itself.
    pub fn leader(id: u64) -> Fake {
        Fake {
            id,
            ..Fake::default()
        }
    }

    /// A fake node `id` that redirects writes to `leader_addr` ("" for a
    /// follower that knows no leader).
    pub fn follower(id: u64, leader_addr: &str) -> Fake {
        Fake {
            id,
            redirect_to: Some(leader_addr.to_string()),
            ..Fake::default()
        }
    }

    /// The idempotency keys of the purchases that reached this node so far.
    pub fn keys(&self) -> Vec<IdempotencyKey> {
        self.keys.lock().unwrap().clone()
    }

    /// The watch requests that reached this node so far.
    pub fn watches(&self) -> Vec<WatchEventsRequest> {
        self.watches.lock().unwrap().clone()
    }

    /// Appends `event` to this node's events and sends it to every open
    /// stream that wants it, as a node does when it applies an entry.
    pub fn push_event(&self, event: DomainEvent) {
        self.events.lock().unwrap().push(event.clone());
        let _ = self.live.0.send(event);
    }

    fn refuse_unless_leader(&self) -> Result<(), Status> {
        match &self.redirect_to {
            None => Ok(()),
            Some(leader) => {
                let mut status = Status::failed_precondition("not the leader");
                let meta = status.metadata_mut();
                meta.insert(ERROR_CODE_KEY, MetadataValue::from_static("not_leader"));
                meta.insert(
                    LEADER_ADDR_KEY,
                    MetadataValue::try_from(leader.as_str()).unwrap(),
                );
                Err(status)
            }
        }
    }
}

/// A domain refusal as a node sends it: `failed_precondition` carrying
/// `code` in the error-code metadata.
pub fn rejection(code: &'static str, message: &str) -> Status {
    let mut status = Status::failed_precondition(message);
    status
        .metadata_mut()
        .insert(ERROR_CODE_KEY, MetadataValue::from_static(code));
    status
}

/// `count` domain events, seq 0.., alternating between two customers.
pub fn domain_events(count: u64) -> Vec<DomainEvent> {
    (0..count)
        .map(|seq| DomainEvent {
            seq,
            log_index: 100 + seq,
            kind: "hold_created".into(),
            event_id: "rock".into(),
            customer_id: if seq % 2 == 0 { "alice" } else { "bob" }.into(),
            hold_id: seq + 1,
            ..DomainEvent::default()
        })
        .collect()
}

type EventStream = Pin<Box<dyn Stream<Item = Result<DomainEvent, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Ticketing for Fake {
    type WatchEventsStream = EventStream;

    async fn create_event(
        &self,
        request: Request<CreateEventRequest>,
    ) -> Result<Response<CreateEventReply>, Status> {
        self.refuse_unless_leader()?;
        let request = request.into_inner();
        // The log index tells the test whether a policy arrived.
        let log_index = request
            .policy
            .map_or(0, |p| u64::from(p.per_customer_event_limit));
        Ok(Response::new(CreateEventReply {
            event_id: request.event_id,
            log_index,
        }))
    }

    async fn place_hold(
        &self,
        request: Request<HoldRequest>,
    ) -> Result<Response<HoldReply>, Status> {
        self.refuse_unless_leader()?;
        let request = request.into_inner();
        if request.quantity > 10 {
            return Err(rejection(
                "sold_out",
                "sold out: 11 requested, 10 available",
            ));
        }
        Ok(Response::new(HoldReply {
            hold: Some(Hold {
                hold_id: 1,
                event_id: request.event_id,
                category_id: request.category_id,
                customer_id: request.customer_id,
                quantity: request.quantity,
                expires_at_ms: 0,
                status: "live".into(),
                created_at_ms: 0,
            }),
            log_index: 1,
        }))
    }

    async fn release_hold(
        &self,
        _: Request<ReleaseRequest>,
    ) -> Result<Response<ReleaseReply>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn purchase(
        &self,
        request: Request<PurchaseRequest>,
    ) -> Result<Response<PurchaseReply>, Status> {
        self.refuse_unless_leader()?;
        let request = request.into_inner();
        self.keys
            .lock()
            .unwrap()
            .push(request.key.clone().unwrap_or_default());
        self.tokens
            .lock()
            .unwrap()
            .push(request.payment_token.clone());
        let stall = {
            let mut stall = self.stall_first.lock().unwrap();
            let now = *stall > 0;
            *stall = stall.saturating_sub(1);
            now
        };
        if stall {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        if request.payment_token == "decline" {
            return Err(rejection("payment_declined", "payment declined"));
        }
        Ok(Response::new(PurchaseReply {
            tickets: vec![Ticket {
                ticket_id: "TKT-00000001".into(),
                hold_id: request.hold_id,
                customer_id: request.customer_id,
                ..Ticket::default()
            }],
            log_index: 2,
            charge_id: "ch_1".into(),
        }))
    }

    async fn availability(
        &self,
        request: Request<AvailabilityRequest>,
    ) -> Result<Response<AvailabilityReply>, Status> {
        self.refuse_unless_leader()?;
        Ok(Response::new(AvailabilityReply {
            event_id: request.into_inner().event_id,
            ..AvailabilityReply::default()
        }))
    }

    async fn get_hold(&self, _: Request<GetHoldRequest>) -> Result<Response<GetHoldReply>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn list_events(
        &self,
        _: Request<ListEventsRequest>,
    ) -> Result<Response<ListEventsReply>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn list_tickets(
        &self,
        _: Request<ListTicketsRequest>,
    ) -> Result<Response<ListTicketsReply>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterReply>, Status> {
        self.refuse_unless_leader()?;
        let request = request.into_inner();
        self.registered.lock().unwrap().push(request.clone());
        if request.customer_id == "taken" {
            return Err(rejection("customer_exists", "customer taken exists"));
        }
        Ok(Response::new(RegisterReply {
            customer_id: request.customer_id,
            log_index: request.totp_secret.len() as u64,
        }))
    }

    async fn join_queue(
        &self,
        request: Request<JoinQueueRequest>,
    ) -> Result<Response<QueueStatus>, Status> {
        self.refuse_unless_leader()?;
        let request = request.into_inner();
        Ok(Response::new(QueueStatus {
            event_id: request.event_id,
            customer_id: request.customer_id,
            seq: 7,
            people_ahead: 6,
            ..QueueStatus::default()
        }))
    }

    /// Unless `serves_submit`, the fake plays a node of a version before
    /// `Submit`, so the client must fall back to one call per request.
    async fn submit(&self, r: Request<SubmitRequest>) -> Result<Response<SubmitReply>, Status> {
        let calls = r.into_inner().calls;
        self.submits.lock().unwrap().push(calls.len());
        if !self.serves_submit.load(Ordering::Relaxed) {
            return Err(Status::unimplemented("Submit is not served by this fake"));
        }
        let empty_call = Status::invalid_argument("empty call");
        Ok(Response::new(SubmitReply {
            answers: answer_each(self, calls, &empty_call).await,
        }))
    }

    async fn get_queue_status(
        &self,
        request: Request<QueueStatusRequest>,
    ) -> Result<Response<QueueStatus>, Status> {
        self.refuse_unless_leader()?;
        let request = request.into_inner();
        Ok(Response::new(QueueStatus {
            event_id: request.event_id,
            customer_id: request.customer_id,
            seq: 7,
            admitted: true,
            ..QueueStatus::default()
        }))
    }

    async fn watch_events(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let request = request.into_inner();
        self.watches.lock().unwrap().push(request.clone());
        if request.customer_id.contains('!') {
            return Err(Status::invalid_argument("customer_id: not a valid id"));
        }
        let start = request.from_seq.saturating_sub(self.overlap);
        // Subscribed before the kept events are read: nothing pushed in between is lost.
        let live = self.live.0.subscribe();
        let events: Vec<DomainEvent> = self
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.seq >= start)
            .filter(|e| request.customer_id.is_empty() || e.customer_id == request.customer_id)
            .cloned()
            .collect();
        let after = events.last().map_or(start, |e| e.seq + 1);
        let customer = request.customer_id.clone();
        let live = stream::unfold(live, |mut live| async move {
            live.recv().await.ok().map(|event| (event, live))
        })
        .filter(move |e| {
            let wanted = e.seq >= after && (customer.is_empty() || e.customer_id == customer);
            async move { wanted }
        })
        .map(Ok)
        .chain(stream::pending());
        let (events, tail): (Vec<_>, EventStream) = match self.stream_end {
            StreamEnd::Open => (events, live.boxed()),
            StreamEnd::EndAfter(n) => (
                events.into_iter().take(n).collect(),
                stream::empty().boxed(),
            ),
            StreamEnd::FailAfter(n) => (
                events.into_iter().take(n).collect(),
                stream::once(async { Err(Status::unavailable("node going away")) }).boxed(),
            ),
        };
        let stream = stream::iter(events.into_iter().map(Ok)).chain(tail);
        Ok(Response::new(stream.boxed()))
    }

    async fn get_credentials(
        &self,
        _: Request<GetCredentialsRequest>,
    ) -> Result<Response<CredentialsReply>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn enrol_totp(
        &self,
        _: Request<EnrolTotpRequest>,
    ) -> Result<Response<EnrolTotpReply>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn record_login(
        &self,
        _: Request<RecordLoginRequest>,
    ) -> Result<Response<RecordLoginReply>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

#[tonic::async_trait]
impl Admin for Fake {
    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<NodeStatus>, Status> {
        Ok(Response::new(NodeStatus {
            id: self.id,
            role: if self.redirect_to.is_none() {
                "leader"
            } else {
                "follower"
            }
            .into(),
            audit_len: self.audit.lock().unwrap().len() as u64,
            ..NodeStatus::default()
        }))
    }

    async fn add_learner(
        &self,
        _: Request<AddLearnerRequest>,
    ) -> Result<Response<MembershipReply>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn change_membership(
        &self,
        request: Request<ChangeMembershipRequest>,
    ) -> Result<Response<MembershipReply>, Status> {
        self.refuse_unless_leader()?;
        Ok(Response::new(MembershipReply {
            members: vec![],
            log_index: request.into_inner().voters.len() as u64,
        }))
    }

    async fn trigger_snapshot(
        &self,
        _: Request<SnapshotRequest>,
    ) -> Result<Response<SnapshotReply>, Status> {
        Ok(Response::new(SnapshotReply { snapshot_index: 7 }))
    }

    async fn export_audit(
        &self,
        request: Request<AuditRequest>,
    ) -> Result<Response<AuditPage>, Status> {
        let request = request.into_inner();
        let audit = self.audit.lock().unwrap();
        let limit = if request.limit == 0 {
            1000
        } else {
            request.limit
        } as usize;
        let start = (request.from_seq as usize).min(audit.len());
        let end = start.saturating_add(limit).min(audit.len());
        Ok(Response::new(AuditPage {
            records: audit[start..end].to_vec(),
            audit_len: audit.len() as u64,
            audit_head: audit.last().map(|r| r.hash.clone()).unwrap_or_default(),
            applied_index: 0,
        }))
    }

    type BackupStream = futures::stream::Empty<Result<BackupChunk, Status>>;

    async fn backup(
        &self,
        _: Request<BackupRequest>,
    ) -> Result<Response<Self::BackupStream>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn export_sale(
        &self,
        _: Request<SaleExportRequest>,
    ) -> Result<Response<SaleExport>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

/// A running fake node; dropping it does not stop it, `stop` does.
pub struct Running {
    /// The `host:port` it listens on.
    pub addr: String,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops serving and waits (up to 5 s) until the server has shut down.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.done).await;
    }
}

/// Serves `fake`'s Ticketing and Admin services at `at` (a free loopback
/// port when `None`) until [`Running::stop`].
pub async fn serve(fake: Fake, at: Option<SocketAddr>) -> Running {
    let bind = at.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
    let incoming = TcpIncoming::bind(bind).expect("bind fake node");
    let addr = incoming.local_addr().unwrap().to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        Server::builder()
            .add_service(TicketingServer::new(fake.clone()))
            .add_service(AdminServer::new(fake))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await
            .expect("fake node serves");
    });
    Running {
        addr,
        stop: Some(stop),
        done,
    }
}

/// An address where nothing listens.
pub fn closed_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A client of `endpoints` with short timeouts (300 ms per request, 5 s per
/// call) and client id `test`, as the tests against fakes expect.
pub fn client(endpoints: Vec<String>) -> Client {
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        overall_deadline: Duration::from_secs(5),
        client_id: Some("test".into()),
        tls: None,
    };
    Client::connect(endpoints, options).unwrap()
}
