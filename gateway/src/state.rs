//! What every request handler shares: the cluster handle, the config, the
//! signing key and the limiters. Nothing here is per-buyer state: the
//! gateway can die at any moment and another serves the same buyer.

use std::sync::Arc;

use ingressoja_client::{Client, ClientOptions};
use ingressoja_cluster_config::GatewayConfig;
use ingressoja_codes::ids::ClientIdScope;
use ingressoja_pki::{Role, TlsMaterial};
use tokio::sync::Semaphore;

use crate::auth::lockout::LockoutPolicy;
use crate::auth::session::TokenSigner;
use crate::limits::RateLimiters;
use crate::metrics::GatewayMetrics;
use crate::notify::stream_caps::StreamCaps;
use crate::notify::tail::EventTail;

/// Why the gateway's state could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The node addresses are unusable.
    #[error(transparent)]
    Client(#[from] ingressoja_client::ClientError),
    /// The `[tls]` files are missing, unreadable or not a gateway's.
    #[error("TLS: {0}")]
    Tls(#[from] ingressoja_pki::PkiError),
}

/// The key of the tickets' QR codes: `[tickets]`'s, or else derived from
/// the session key one way (HMAC), so it opens no session.
pub fn ticket_key(config: &GatewayConfig) -> Vec<u8> {
    match &config.tickets {
        Some(tickets) => tickets.key.clone(),
        None => TokenSigner::new(config.session.key.clone()).mac(b"ingressoja ticket key v1"),
    }
}

/// The gateway's certificate for its calls to the nodes; `None` (with a
/// warning) in `insecure_dev`.
fn load_tls(config: &GatewayConfig) -> Result<Option<TlsMaterial>, StateError> {
    let Some(files) = &config.tls else {
        tracing::warn!(
            "insecure_dev: calling the nodes in plaintext with no certificate; \
             never run a real sale like this"
        );
        return Ok(None);
    };
    let material = TlsMaterial::load_as(
        &files.ca_file,
        &files.cert_file,
        &files.key_file,
        Role::Gateway,
        None,
    )?;
    tracing::info!(identity = %material.identity(), "mutual TLS to the nodes");
    Ok(Some(material))
}

/// The gateway's shared, immutable-after-start state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<GatewayConfig>,
    /// The cluster, for reads and for writes that need no buyer-scoped key.
    pub cluster: Client,
    /// Signs and checks sessions, CSRF fields and challenges.
    pub signer: TokenSigner,
    /// Signs the tickets' QR codes: its own key, which a gate scanner may
    /// hold without being able to sign sessions.
    pub ticket_signer: TokenSigner,
    /// Per-IP and per-customer rate limits.
    pub limits: Arc<RateLimiters>,
    /// The global concurrency limit.
    pub in_flight: Arc<Semaphore>,
    /// When repeated failed logins lock an account.
    pub lockout: LockoutPolicy,
    /// Prometheus metrics.
    pub metrics: Arc<GatewayMetrics>,
    /// The one shared tail of the cluster's events every SSE stream reads.
    pub events: EventTail,
    /// Open notification streams per customer and per address.
    pub stream_caps: Arc<StreamCaps>,
    /// Failed logins per device token (a worn-out device loses its
    /// exemption from the account's lockout).
    pub device_failures: Arc<crate::auth::login::DeviceFailures>,
}

impl AppState {
    /// Builds the state for `config`. Connects lazily: no node needs to be up.
    pub fn new(config: GatewayConfig) -> Result<AppState, StateError> {
        let cluster = Client::connect(
            config.nodes.clone(),
            ClientOptions {
                client_id: Some(format!("gateway-{}", uuid_like())),
                tls: load_tls(&config)?,
                ..ClientOptions::default()
            },
        )?;
        let metrics = Arc::new(GatewayMetrics::default());
        let events = EventTail::new(
            cluster.clone(),
            metrics.clone(),
            config.notifications.queue_poll(),
        );
        Ok(AppState {
            events,
            device_failures: Arc::default(),
            stream_caps: Arc::new(StreamCaps::new(
                config.notifications.max_streams_per_customer,
                config.notifications.max_streams_per_ip,
            )),
            signer: TokenSigner::new(config.session.key.clone()),
            ticket_signer: TokenSigner::new(ticket_key(&config)),
            limits: Arc::new(RateLimiters::new(
                &config.rate_limits,
                metrics.rate_limited.clone(),
            )),
            metrics,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            lockout: LockoutPolicy {
                after: config.login.lockout_after,
                base: config.login.lockout_base(),
                max: config.login.lockout_max(),
            },
            cluster,
            config: Arc::new(config),
        })
    }

    /// Reads the `[tls]` files again (what SIGHUP does): calls to the nodes
    /// use the renewed certificate from the next connection on. A failed
    /// reload changes nothing. `None` without TLS (`insecure_dev`).
    pub fn reload_tls(&self) -> Result<Option<ingressoja_pki::Identity>, StateError> {
        let Some(material) = load_tls(&self.config)? else {
            return Ok(None);
        };
        let identity = material.identity().clone();
        self.cluster.set_tls(Some(material))?;
        Ok(Some(identity))
    }

    /// The cluster handle whose idempotency keys belong to `customer_id`:
    /// a request id the buyer's page carries then means the same request on
    /// every gateway, so a retry after a gateway or leader failure is
    /// answered, never executed twice.
    pub fn cluster_for(&self, customer_id: &str) -> Client {
        self.cluster
            .with_client_id(WEB_CLIENTS.client_id(customer_id))
    }
}

/// The scope of the client ids the gateway uses on a buyer's behalf
/// (`web:<customer id>`); bounded, so any valid customer id fits the node's limit.
const WEB_CLIENTS: ClientIdScope = ClientIdScope::new("web");

fn uuid_like() -> String {
    format!("{:016x}", rand::random::<u64>())
}
