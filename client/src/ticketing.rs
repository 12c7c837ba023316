//! The buyer-facing calls: events, holds and the reads about them.
//! Purchases are in `purchase.rs`, customers in `customer.rs`, the virtual
//! queue in `queue.rs`.
//!
//! Each mutating call comes in two forms: `x(..)` takes a fresh request id
//! from [`Client::next_request_id`], `x_with_request_id(.., request_id)`
//! forces one (to replay a call whose outcome is unknown, or to test
//! deduplication). Either way the one key is reused on every retry. All
//! calls, reads included, go to the leader.

use ingressoja_proto::ticketing::ticketing_client::TicketingClient;
use ingressoja_proto::ticketing::{
    AvailabilityReply, AvailabilityRequest, CategorySpec, CreateEventReply, CreateEventRequest,
    GetHoldReply, GetHoldRequest, HoldReply, HoldRequest, ListEventsReply, ListEventsRequest,
    ListTicketsReply, ListTicketsRequest, ReleaseReply, ReleaseRequest, SalePolicy,
};
use tonic::Response;

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// Creates an event with its ticket categories.
    pub async fn create_event(
        &self,
        event_id: &str,
        name: &str,
        categories: Vec<CategorySpec>,
    ) -> Result<CreateEventReply, ClientError> {
        let request_id = self.next_request_id();
        self.create_event_with_request_id(event_id, name, categories, request_id)
            .await
    }

    /// [`create_event`](Self::create_event) with a forced request id.
    pub async fn create_event_with_request_id(
        &self,
        event_id: &str,
        name: &str,
        categories: Vec<CategorySpec>,
        request_id: u64,
    ) -> Result<CreateEventReply, ClientError> {
        self.send_create_event(event_id, name, categories, None, request_id)
            .await
    }

    /// Creates an event with its ticket categories and sale rules (limits
    /// per customer and per hold, opening time, virtual queue, what a failed
    /// payment does to the hold).
    pub async fn create_event_with_policy(
        &self,
        event_id: &str,
        name: &str,
        categories: Vec<CategorySpec>,
        policy: SalePolicy,
    ) -> Result<CreateEventReply, ClientError> {
        let request_id = self.next_request_id();
        self.create_event_with_policy_and_request_id(event_id, name, categories, policy, request_id)
            .await
    }

    /// [`create_event_with_policy`](Self::create_event_with_policy) with a
    /// forced request id.
    pub async fn create_event_with_policy_and_request_id(
        &self,
        event_id: &str,
        name: &str,
        categories: Vec<CategorySpec>,
        policy: SalePolicy,
        request_id: u64,
    ) -> Result<CreateEventReply, ClientError> {
        self.send_create_event(event_id, name, categories, Some(policy), request_id)
            .await
    }

    /// Sends one `CreateEvent` (no policy: no limits beyond the categories', no queue).
    async fn send_create_event(
        &self,
        event_id: &str,
        name: &str,
        categories: Vec<CategorySpec>,
        policy: Option<SalePolicy>,
        request_id: u64,
    ) -> Result<CreateEventReply, ClientError> {
        self.with_key(request_id, |key, target| {
            let request = CreateEventRequest {
                key: Some(key),
                event_id: event_id.to_string(),
                name: name.to_string(),
                categories: categories.clone(),
                policy,
            };
            async move {
                TicketingClient::new(target.channel)
                    .create_event(request)
                    .await
                    .map(Response::into_inner)
            }
        })
        .await
    }

    /// Reserves `quantity` tickets of a category for a customer for a while;
    /// the reply's hold says until when (`expires_at_ms`).
    pub async fn place_hold(
        &self,
        event_id: &str,
        category_id: &str,
        customer_id: &str,
        quantity: u32,
    ) -> Result<HoldReply, ClientError> {
        let request_id = self.next_request_id();
        self.place_hold_with_request_id(event_id, category_id, customer_id, quantity, request_id)
            .await
    }

    /// [`place_hold`](Self::place_hold) with a forced request id.
    pub async fn place_hold_with_request_id(
        &self,
        event_id: &str,
        category_id: &str,
        customer_id: &str,
        quantity: u32,
        request_id: u64,
    ) -> Result<HoldReply, ClientError> {
        self.with_key(request_id, |key, target| {
            let request = HoldRequest {
                key: Some(key),
                event_id: event_id.to_string(),
                category_id: category_id.to_string(),
                customer_id: customer_id.to_string(),
                quantity,
            };
            async move { target.batcher.place_hold(request).await }
        })
        .await
    }

    /// Gives a live hold's tickets back before it expires.
    pub async fn release_hold(
        &self,
        hold_id: u64,
        customer_id: &str,
    ) -> Result<ReleaseReply, ClientError> {
        let request_id = self.next_request_id();
        self.release_hold_with_request_id(hold_id, customer_id, request_id)
            .await
    }

    /// [`release_hold`](Self::release_hold) with a forced request id.
    pub async fn release_hold_with_request_id(
        &self,
        hold_id: u64,
        customer_id: &str,
        request_id: u64,
    ) -> Result<ReleaseReply, ClientError> {
        self.with_key(request_id, |key, target| {
            let request = ReleaseRequest {
                key: Some(key),
                hold_id,
                customer_id: customer_id.to_string(),
            };
            async move { target.batcher.release_hold(request).await }
        })
        .await
    }

    /// How many tickets of each category of an event are sold, held and left.
    pub async fn availability(&self, event_id: &str) -> Result<AvailabilityReply, ClientError> {
        self.with_failover(|target| {
            let request = AvailabilityRequest {
                event_id: event_id.to_string(),
            };
            async move {
                TicketingClient::new(target.channel)
                    .availability(request)
                    .await
                    .map(Response::into_inner)
            }
        })
        .await
    }

    /// Every event, ordered by id, with whether it sells through a queue.
    pub async fn list_events(&self) -> Result<ListEventsReply, ClientError> {
        self.with_failover(|target| async move {
            TicketingClient::new(target.channel)
                .list_events(ListEventsRequest {})
                .await
                .map(Response::into_inner)
        })
        .await
    }

    /// One hold as the cluster sees it now (status, expiry).
    pub async fn get_hold(&self, hold_id: u64) -> Result<GetHoldReply, ClientError> {
        self.with_failover(|target| async move {
            TicketingClient::new(target.channel)
                .get_hold(GetHoldRequest { hold_id })
                .await
                .map(Response::into_inner)
        })
        .await
    }

    /// Every ticket a customer owns.
    pub async fn list_tickets(&self, customer_id: &str) -> Result<ListTicketsReply, ClientError> {
        self.with_failover(|target| {
            let request = ListTicketsRequest {
                customer_id: customer_id.to_string(),
            };
            async move {
                TicketingClient::new(target.channel)
                    .list_tickets(request)
                    .await
                    .map(Response::into_inner)
            }
        })
        .await
    }
}
