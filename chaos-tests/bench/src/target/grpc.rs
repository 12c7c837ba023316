//! IngressoJá through its Rust client over gRPC: the real path a box office
//! or gateway takes (leader discovery, idempotency keys, retries), so the
//! figures include the client library's cost.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use ingressoja_client::proto::ticketing::{CategorySpec, SalePolicy};
use ingressoja_client::{Client, ClientError, ClientOptions};
use ingressoja_codes::Cpf;
use ingressoja_pki::TlsMaterial;

use super::{CategoryCount, HoldExpiry, HoldTicket, OpError, Payment, SystemProfile, Target};
use crate::error::BenchError;
use crate::plan::SalePlan;

/// Any well-formed argon2id PHC string: simulated customers never log in.
const PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

/// Independent client handles (each with its own connections), shared
/// round-robin by the customers so one HTTP/2 connection is not the bottleneck.
const CLIENTS: usize = 4;

/// The cluster, through [`CLIENTS`] client handles.
pub struct GrpcTarget {
    clients: Vec<Client>,
    plan: Arc<SalePlan>,
}

/// A client's failure as the report counts it.
fn op_error(error: ClientError) -> OpError {
    match error {
        ClientError::Rejected { code, .. } => OpError::Rejected(code),
        e if e.is_unavailable() => OpError::Unavailable(e.to_string()),
        e => OpError::Other(e.to_string()),
    }
}

impl GrpcTarget {
    /// Connects to the nodes at `addrs` and checks that one answers.
    /// Calls with the operator certificate `tls` (`None`: plaintext).
    pub async fn connect(
        addrs: &[String],
        tls: Option<TlsMaterial>,
        plan: Arc<SalePlan>,
    ) -> Result<GrpcTarget, BenchError> {
        let unreachable = |reason: String| BenchError::TargetUnreachable {
            system: "IngressoJá".into(),
            addrs: addrs.join(","),
            reason,
        };
        let options = ClientOptions {
            request_timeout: Duration::from_secs(2),
            overall_deadline: Duration::from_secs(10),
            client_id: None,
            tls: tls.clone(),
        };
        let clients = (0..CLIENTS)
            .map(|_| Client::connect(addrs.to_vec(), options.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unreachable(e.to_string()))?;
        let probe = Client::connect(
            addrs.to_vec(),
            ClientOptions {
                request_timeout: Duration::from_secs(1),
                overall_deadline: Duration::from_secs(3),
                client_id: None,
                tls,
            },
        )
        .map_err(|e| unreachable(e.to_string()))?;
        probe
            .list_events()
            .await
            .map_err(|e| unreachable(format!("no node answered ({e})")))?;
        Ok(GrpcTarget { clients, plan })
    }

    fn client(&self, customer: u64) -> &Client {
        &self.clients[(customer % self.clients.len() as u64) as usize]
    }

    async fn register(&self, n: u64) -> Result<(), BenchError> {
        let id = self.plan.customer_id(n);
        let cpf = Cpf::from_base(self.plan.cpf_base(n));
        self.client(n)
            .register(
                &id,
                &format!("{id}@bench.invalid"),
                cpf.as_str(),
                &id,
                PASSWORD_HASH,
                None,
            )
            .await
            .map(|_| ())
            .map_err(|e| BenchError::Setup {
                system: "IngressoJá".into(),
                reason: format!("registering customer {id}: {e}"),
            })
    }
}

impl Target for GrpcTarget {
    const PROFILE: SystemProfile = SystemProfile::new(
        "ingressoja",
        "Raft: committed on a majority of 3 nodes (RocksDB, fsync) before the answer",
        HoldExpiry::BySystem,
    );

    async fn prepare(&self) -> Result<(), BenchError> {
        let plan = &self.plan;
        let categories = plan
            .categories
            .iter()
            .map(|c| CategorySpec {
                category_id: c.id.clone(),
                name: c.id.to_uppercase(),
                capacity: c.capacity,
                price_cents: 45_000,
                per_customer_limit: plan.per_customer_limit,
            })
            .collect();
        let policy = SalePolicy {
            per_customer_event_limit: plan.per_customer_limit,
            max_per_hold: plan.per_customer_limit,
            one_live_hold: true,
            queue_enabled: true,
            max_active_shoppers: plan.max_active,
            release_hold_on_payment_failure: true,
            ..Default::default()
        };
        self.clients[0]
            .create_event_with_policy(&plan.event_id, "Flash sale benchmark", categories, policy)
            .await
            .map_err(|e| BenchError::Setup {
                system: "IngressoJá".into(),
                reason: format!("creating event {}: {e}", plan.event_id),
            })?;
        stream::iter(0..plan.customers)
            .map(|n| self.register(n))
            .buffer_unordered(plan.setup_concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn join_queue(&self, customer: u64) -> Result<(), OpError> {
        let id = self.plan.customer_id(customer);
        self.client(customer)
            .join_queue(&self.plan.event_id, &id)
            .await
            .map(|_| ())
            .map_err(op_error)
    }

    async fn admitted(&self, customer: u64) -> Result<bool, OpError> {
        let id = self.plan.customer_id(customer);
        let status = self
            .client(customer)
            .queue_status(&self.plan.event_id, &id)
            .await
            .map_err(op_error)?;
        Ok(status.admitted && !status.admission_over)
    }

    async fn hold(&self, customer: u64, category: usize, quantity: u32) -> Result<u64, OpError> {
        let id = self.plan.customer_id(customer);
        let category_id = &self.plan.categories[category].id;
        let reply = self
            .client(customer)
            .place_hold(&self.plan.event_id, category_id, &id, quantity)
            .await
            .map_err(op_error)?;
        reply
            .hold
            .map(|hold| hold.hold_id)
            .ok_or_else(|| OpError::Other("hold reply without a hold".into()))
    }

    async fn purchase(&self, hold: &HoldTicket, payment: Payment) -> Result<u64, OpError> {
        let customer = hold.customer;
        let id = self.plan.customer_id(customer);
        let reply = self
            .client(customer)
            .purchase_with_payment(hold.id, &id, payment.token())
            .await
            .map_err(op_error)?;
        Ok(reply.tickets.len() as u64)
    }

    async fn release(&self, hold: &HoldTicket) -> Result<(), OpError> {
        let customer = hold.customer;
        let id = self.plan.customer_id(customer);
        self.client(customer)
            .release_hold(hold.id, &id)
            .await
            .map(|_| ())
            .map_err(op_error)
    }

    async fn outcome(&self) -> Result<Vec<CategoryCount>, BenchError> {
        let reply = self.clients[0]
            .availability(&self.plan.event_id)
            .await
            .map_err(|e| BenchError::ReadBack {
                system: "IngressoJá".into(),
                reason: e.to_string(),
            })?;
        Ok(reply
            .categories
            .iter()
            .map(|c| CategoryCount {
                category: c.category_id.clone(),
                capacity: u64::from(c.capacity),
                sold: u64::from(c.sold),
                held: u64::from(c.held),
            })
            .collect())
    }
}
