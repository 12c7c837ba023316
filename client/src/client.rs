//! The [`Client`] handle: shared state and idempotency keys.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use ingressoja_proto::ticketing::IdempotencyKey;

use crate::cluster::Cluster;
use crate::error::ClientError;
use crate::options::ClientOptions;

/// A handle on an IngressoJá cluster that finds the leader, retries on other
/// nodes and never buys twice. Cheap to clone: clones share the known nodes,
/// the current leader and the request-id counter.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// State shared by all clones of a [`Client`].
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) options: ClientOptions,
    pub(crate) client_id: String,
    next_request_id: AtomicU64,
    cluster: Arc<Mutex<Cluster>>,
}

impl Client {
    /// Prepares a client for the nodes at `endpoints` (`host:port` gRPC
    /// addresses of any members; an `http://` prefix is accepted).
    ///
    /// Nothing is dialled yet: connections open on first use, so this only
    /// fails on an empty list or a malformed address. It needs no runtime.
    pub fn connect(endpoints: Vec<String>, options: ClientOptions) -> Result<Client, ClientError> {
        let tls = options
            .tls
            .as_ref()
            .map(ingressoja_pki::TlsMaterial::client_config);
        let cluster = Cluster::new(&endpoints, options.request_timeout, tls)?;
        let client_id = options
            .client_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Ok(Client {
            inner: Arc::new(Inner {
                options,
                client_id,
                next_request_id: AtomicU64::new(first_request_id()),
                cluster: Arc::new(Mutex::new(cluster)),
            }),
        })
    }

    /// A handle on the same cluster view (known nodes, leader, channels)
    /// whose idempotency keys carry `client_id` instead.
    ///
    /// A stateless front end uses it to key each buyer's requests by the
    /// buyer, so that a retry through another process of the front end (or
    /// after a restart) is recognised by the cluster as the same request.
    pub fn with_client_id(&self, client_id: impl Into<String>) -> Client {
        Client {
            inner: Arc::new(Inner {
                options: self.inner.options.clone(),
                client_id: client_id.into(),
                next_request_id: AtomicU64::new(first_request_id()),
                cluster: Arc::clone(&self.inner.cluster),
            }),
        }
    }

    /// Calls the nodes with `tls` from now on (a renewed certificate, read
    /// again after SIGHUP): new connections use it, calls in flight finish
    /// on theirs. Shared by every clone of this client.
    pub fn set_tls(&self, tls: Option<ingressoja_pki::TlsMaterial>) -> Result<(), ClientError> {
        let config = tls.as_ref().map(ingressoja_pki::TlsMaterial::client_config);
        self.cluster().set_tls(config)
    }

    /// Adds node addresses (e.g. the members a status reply listed) to the
    /// failover rotation. Invalid or already known addresses are skipped;
    /// returns how many were new.
    pub fn learn_nodes(&self, addrs: &[String]) -> usize {
        let mut cluster = self.cluster();
        addrs.iter().filter(|addr| cluster.learn(addr)).count()
    }

    /// The `client_id` half of this client's idempotency keys.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Reserves a fresh request id. Useful to pass the same id to two
    /// `*_with_request_id` calls, e.g. to check that a replay is recognised.
    pub fn next_request_id(&self) -> u64 {
        self.inner.next_request_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The address (`host:port`) of the node believed to be the leader: the
    /// last one that served a call, or the one a follower pointed to. `None`
    /// until then, or after it failed.
    pub fn leader_hint(&self) -> Option<String> {
        self.cluster().leader()
    }

    /// Every node address the client knows: the ones it was given plus the
    /// ones learnt from leader hints.
    pub fn known_nodes(&self) -> Vec<String> {
        self.cluster().addrs()
    }

    /// The idempotency key of one call of this client.
    pub(crate) fn idempotency_key(&self, request_id: u64) -> IdempotencyKey {
        IdempotencyKey {
            client_id: self.inner.client_id.clone(),
            request_id,
        }
    }

    /// The shared cluster view. A panic while it was held cannot leave it
    /// inconsistent (every update is a single assignment), so poisoning is ignored.
    pub(crate) fn cluster(&self) -> MutexGuard<'_, Cluster> {
        self.inner
            .cluster
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The first request id of this process: the current time in microseconds,
/// so a restarted process reusing its client id does not reuse request ids
/// (it would have to issue a million requests a second to catch up).
fn first_request_id() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX / 2))
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::connect(vec!["127.0.0.1:7101".into()], ClientOptions::default()).unwrap()
    }

    #[test]
    fn connect_needs_no_runtime_and_no_server() {
        let client = client();
        assert_eq!(client.known_nodes(), vec!["127.0.0.1:7101"]);
        assert_eq!(client.leader_hint(), None);
    }

    #[test]
    fn connect_rejects_bad_endpoints() {
        assert!(matches!(
            Client::connect(vec![], ClientOptions::default()),
            Err(ClientError::InvalidEndpoint { .. })
        ));
        assert!(matches!(
            Client::connect(vec!["localhost".into()], ClientOptions::default()),
            Err(ClientError::InvalidEndpoint { .. })
        ));
    }

    #[test]
    fn default_client_id_is_a_fresh_uuid() {
        let a = client();
        let b = client();
        assert_ne!(a.client_id(), b.client_id());
        assert!(uuid::Uuid::parse_str(a.client_id()).is_ok());
    }

    #[test]
    fn a_given_client_id_is_used() {
        let options = ClientOptions {
            client_id: Some("box-office-7".into()),
            ..Default::default()
        };
        let client = Client::connect(vec!["127.0.0.1:7101".into()], options).unwrap();
        assert_eq!(client.idempotency_key(1).client_id, "box-office-7");
    }

    #[test]
    fn request_ids_increase_and_start_from_the_clock() {
        let before = first_request_id();
        let client = client();
        let first = client.next_request_id();
        let second = client.next_request_id();
        assert!(first >= before);
        assert_eq!(second, first + 1);
    }

    #[test]
    fn a_view_with_another_client_id_shares_the_cluster() {
        let client = client();
        let view = client.with_client_id("web:ana");
        assert_eq!(view.client_id(), "web:ana");
        assert_eq!(
            view.learn_nodes(&["127.0.0.1:7102".into(), "bad".into()]),
            1
        );
        assert_eq!(
            client.known_nodes(),
            vec!["127.0.0.1:7101", "127.0.0.1:7102"]
        );
        assert_eq!(client.learn_nodes(&["127.0.0.1:7102".into()]), 0);
    }

    #[test]
    fn clones_share_the_counter() {
        let client = client();
        let clone = client.clone();
        let a = client.next_request_id();
        let b = clone.next_request_id();
        assert_eq!(b, a + 1);
    }
}
