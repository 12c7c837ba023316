//! The buyer-facing `Ticketing` gRPC service.
//!
//! Writes are proposed to Raft (followers answer "not leader" with the
//! leader's address); reads wait for a linearizable read index first, so an
//! answer never shows a state older than an acknowledged write.

use std::time::Duration;

use ingressoja_proto::ticketing as pb;
use ingressoja_proto::ticketing::ticketing_server::Ticketing;
use tonic::{Request, Response, Status};

use super::convert;
use crate::error::ServiceError;
use crate::machine::{self, Command, Outcome};
use crate::proposer::Proposer;
use crate::raft_types::Raft;
use crate::storage::SharedMachine;

/// Serves buyers: holds, releases, purchases and linearizable reads.
pub struct TicketingService {
    raft: Raft,
    proposer: Proposer,
    state: SharedMachine,
    hold_ttl: Duration,
}

impl TicketingService {
    /// A service over this node's Raft and applied state; holds last `hold_ttl`.
    pub fn new(raft: Raft, state: SharedMachine, hold_ttl: Duration) -> Self {
        TicketingService {
            proposer: Proposer::new(raft.clone()),
            raft,
            state,
            hold_ttl,
        }
    }

    async fn write(
        &self,
        key: Option<pb::IdempotencyKey>,
        command: Command,
    ) -> Result<(Outcome, u64), ServiceError> {
        let request = machine::Request {
            key: Some(convert::key(key)?),
            command,
        };
        let committed = self.proposer.propose(request).await?;
        Ok((committed.outcome, committed.log_index))
    }

    /// Waits until this node may serve a linearizable read; returns the read index.
    async fn read_barrier(&self) -> Result<u64, ServiceError> {
        let log_id = self.raft.ensure_linearizable().await?;
        Ok(log_id.map(|l| l.index).unwrap_or(0))
    }

    fn read<T>(&self, f: impl FnOnce(&machine::SaleMachine) -> T) -> T {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        f(&state.machine)
    }
}

fn unexpected(outcome: Outcome) -> ServiceError {
    ServiceError::Internal(format!("unexpected outcome {outcome:?}"))
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
        };
        match self.write(r.key, command).await? {
            (Outcome::EventCreated { event_id }, log_index) => {
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
            (Outcome::HoldPlaced(hold), log_index) => Ok(Response::new(pb::HoldReply {
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
            (Outcome::HoldReleased(hold), log_index) => Ok(Response::new(pb::ReleaseReply {
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
        let command = Command::Purchase {
            hold_id: r.hold_id,
            customer_id: r.customer_id,
        };
        match self.write(r.key, command).await? {
            (Outcome::Purchased(tickets), log_index) => Ok(Response::new(pb::PurchaseReply {
                tickets: tickets.iter().map(convert::ticket).collect(),
                log_index,
            })),
            (other, _) => Err(unexpected(other).into()),
        }
    }

    async fn availability(
        &self,
        request: Request<pb::AvailabilityRequest>,
    ) -> Result<Response<pb::AvailabilityReply>, Status> {
        let event_id = request.into_inner().event_id;
        machine::validate_id("event_id", &event_id).map_err(ServiceError::from)?;
        let read_index = self.read_barrier().await?;
        let reply = self.read(|m| {
            m.event(&event_id).map(|event| pb::AvailabilityReply {
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
            })
        });
        Ok(Response::new(reply.map_err(ServiceError::from)?))
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
}
