//! The client against in-process fake nodes speaking real gRPC: leader
//! redirects through status metadata, dead and slow nodes, node restarts.
//! No Raft here; each fake node is told whether it leads.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ingressoja_client::proto::admin::admin_server::{Admin, AdminServer};
use ingressoja_client::proto::admin::{
    AddLearnerRequest, ChangeMembershipRequest, MembershipReply, NodeStatus, SnapshotReply,
    SnapshotRequest, StatusRequest,
};
use ingressoja_client::proto::ticketing::ticketing_server::{Ticketing, TicketingServer};
use ingressoja_client::proto::ticketing::*;
use ingressoja_client::proto::{ERROR_CODE_KEY, LEADER_ADDR_KEY};
use ingressoja_client::{Client, ClientError, ClientOptions};
use tokio::sync::oneshot;
use tonic::metadata::MetadataValue;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status};

/// One fake node's behaviour and what it saw.
#[derive(Clone, Default)]
struct Fake {
    id: u64,
    /// `None`: this node leads. `Some(addr)`: redirect there ("" = unknown).
    redirect_to: Option<String>,
    /// Purchases to stall (longer than the client's request timeout) first.
    stall_first: Arc<Mutex<u32>>,
    /// Idempotency keys of the purchases that reached this node.
    keys: Arc<Mutex<Vec<IdempotencyKey>>>,
}

impl Fake {
    fn leader(id: u64) -> Fake {
        Fake {
            id,
            ..Fake::default()
        }
    }

    fn follower(id: u64, leader_addr: &str) -> Fake {
        Fake {
            id,
            redirect_to: Some(leader_addr.to_string()),
            ..Fake::default()
        }
    }

    fn keys(&self) -> Vec<IdempotencyKey> {
        self.keys.lock().unwrap().clone()
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

fn rejection(code: &'static str, message: &str) -> Status {
    let mut status = Status::failed_precondition(message);
    status
        .metadata_mut()
        .insert(ERROR_CODE_KEY, MetadataValue::from_static(code));
    status
}

#[tonic::async_trait]
impl Ticketing for Fake {
    async fn create_event(
        &self,
        _: Request<CreateEventRequest>,
    ) -> Result<Response<CreateEventReply>, Status> {
        Err(Status::unimplemented("fake"))
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
        let stall = {
            let mut stall = self.stall_first.lock().unwrap();
            let now = *stall > 0;
            *stall = stall.saturating_sub(1);
            now
        };
        if stall {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        Ok(Response::new(PurchaseReply {
            tickets: vec![Ticket {
                ticket_id: "TKT-00000001".into(),
                hold_id: request.hold_id,
                customer_id: request.customer_id,
                ..Ticket::default()
            }],
            log_index: 2,
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

    async fn list_tickets(
        &self,
        _: Request<ListTicketsRequest>,
    ) -> Result<Response<ListTicketsReply>, Status> {
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
}

/// A running fake node; dropping it does not stop it, `stop` does.
struct Running {
    addr: String,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.done).await;
    }
}

async fn serve(fake: Fake, at: Option<SocketAddr>) -> Running {
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
fn closed_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn client(endpoints: Vec<String>) -> Client {
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        overall_deadline: Duration::from_secs(5),
        client_id: Some("test".into()),
    };
    Client::connect(endpoints, options).unwrap()
}

#[tokio::test]
async fn a_follower_redirects_to_the_leader() {
    let leader_fake = Fake::leader(1);
    let leader = serve(leader_fake.clone(), None).await;
    let follower = serve(Fake::follower(2, &leader.addr), None).await;

    let client = client(vec![follower.addr.clone()]);
    let reply = client.purchase(9, "alice").await.unwrap();
    assert_eq!(reply.tickets[0].hold_id, 9);
    assert_eq!(client.leader_hint(), Some(leader.addr.clone()));
    assert_eq!(
        client.known_nodes(),
        vec![follower.addr.clone(), leader.addr.clone()]
    );
    assert_eq!(leader_fake.keys().len(), 1);
    assert_eq!(leader_fake.keys()[0].client_id, "test");

    // Reads follow the leader too, and the next call goes straight there.
    let availability = client.availability("rock").await.unwrap();
    assert_eq!(availability.event_id, "rock");
}

#[tokio::test]
async fn an_unknown_leader_means_trying_the_next_node() {
    let leader = serve(Fake::leader(1), None).await;
    let lost = serve(Fake::follower(2, ""), None).await;
    let client = client(vec![lost.addr.clone(), leader.addr.clone()]);
    client.purchase(1, "alice").await.unwrap();
    assert_eq!(client.leader_hint(), Some(leader.addr.clone()));
}

#[tokio::test]
async fn a_dead_node_is_skipped() {
    let leader = serve(Fake::leader(1), None).await;
    let client = client(vec![closed_addr(), leader.addr.clone()]);
    let started = Instant::now();
    client.purchase(1, "alice").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(client.leader_hint(), Some(leader.addr.clone()));
}

#[tokio::test]
async fn a_rejection_carries_its_code_and_is_not_retried() {
    let leader = serve(Fake::leader(1), None).await;
    let client = client(vec![leader.addr.clone()]);
    let error = client
        .place_hold("rock", "pista", "alice", 11)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ClientError::Rejected {
            code: "sold_out".into(),
            message: "sold out: 11 requested, 10 available".into()
        }
    );
}

#[tokio::test]
async fn a_stalled_purchase_is_retried_with_the_same_key() {
    let leader_fake = Fake::leader(1);
    *leader_fake.stall_first.lock().unwrap() = 1;
    let leader = serve(leader_fake.clone(), None).await;
    let client = client(vec![leader.addr.clone()]);

    client
        .purchase_with_request_id(5, "alice", 77)
        .await
        .unwrap();
    let keys = leader_fake.keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0].request_id, 77);
}

#[tokio::test]
async fn nothing_reachable_fails_with_unavailable_at_the_deadline() {
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        overall_deadline: Duration::from_secs(1),
        client_id: None,
    };
    let client = Client::connect(vec![closed_addr(), closed_addr()], options).unwrap();
    let started = Instant::now();
    match client.purchase(1, "alice").await {
        Err(ClientError::Unavailable {
            attempts,
            last_error,
        }) => {
            assert!(attempts >= 2, "{attempts}");
            assert!(last_error.contains("unavailable"), "{last_error}");
        }
        other => panic!("{other:?}"),
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

#[tokio::test]
async fn a_restarted_node_is_reached_again() {
    let first = serve(Fake::leader(1), None).await;
    let addr = first.addr.clone();
    let client = client(vec![addr.clone()]);
    client.purchase(1, "alice").await.unwrap();

    first.stop().await;
    assert!(matches!(
        client.node_status(&addr).await,
        Err(ClientError::Transport(_))
    ));

    let _second = serve(Fake::leader(1), Some(addr.parse().unwrap())).await;
    client.purchase(2, "alice").await.unwrap();
}

#[tokio::test]
async fn cluster_status_asks_every_node() {
    let leader = serve(Fake::leader(1), None).await;
    let follower = serve(Fake::follower(2, &leader.addr), None).await;
    let dead = closed_addr();
    let client = client(vec![
        leader.addr.clone(),
        follower.addr.clone(),
        dead.clone(),
    ]);

    let reports = client.cluster_status().await;
    let addrs: Vec<&str> = reports.iter().map(|r| r.addr.as_str()).collect();
    assert_eq!(
        addrs,
        vec![leader.addr.as_str(), follower.addr.as_str(), dead.as_str()]
    );
    assert_eq!(reports[0].status.as_ref().unwrap().role, "leader");
    assert_eq!(reports[1].status.as_ref().unwrap().id, 2);
    assert!(matches!(reports[2].status, Err(ClientError::Transport(_))));
}

#[tokio::test]
async fn admin_calls_reach_the_right_node() {
    let leader = serve(Fake::leader(1), None).await;
    let follower = serve(Fake::follower(2, &leader.addr), None).await;
    let client = client(vec![follower.addr.clone()]);

    let membership = client.change_membership(vec![1, 2, 3]).await.unwrap();
    assert_eq!(membership.log_index, 3);
    let snapshot = client.trigger_snapshot(&follower.addr).await.unwrap();
    assert_eq!(snapshot.snapshot_index, 7);
    // A node asked about directly is not added to the failover rotation.
    let other = serve(Fake::leader(3), None).await;
    assert_eq!(client.node_status(&other.addr).await.unwrap().id, 3);
    assert!(!client.known_nodes().contains(&other.addr));
}

#[test]
fn client_futures_can_be_spawned() {
    fn assert_send<T: Send>(_: T) {}
    let client = client_without_runtime();
    assert_send(client.purchase(1, "a"));
    assert_send(client.place_hold("e", "c", "a", 1));
    assert_send(client.availability("e"));
    assert_send(client.cluster_status());
    assert_send(client.node_status("127.0.0.1:1"));
}

fn client_without_runtime() -> Client {
    Client::connect(vec!["127.0.0.1:1".into()], ClientOptions::default()).unwrap()
}
