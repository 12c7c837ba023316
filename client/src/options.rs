//! Knobs of a [`Client`](crate::Client).

use std::time::Duration;

/// How patient a [`Client`](crate::Client) is and who it says it is.
///
/// Build with struct update syntax so new fields do not break callers:
/// `ClientOptions { overall_deadline: Duration::from_secs(5), ..Default::default() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Longest wait for one attempt on one node (default 2 s). A slow or
    /// stuck node costs this much before the client tries another.
    pub request_timeout: Duration,
    /// Longest wait for a whole call, retries included (default 15 s). After
    /// it the call fails with [`ClientError::Unavailable`](crate::ClientError::Unavailable).
    pub overall_deadline: Duration,
    /// The `client_id` half of every idempotency key. `None` picks a fresh
    /// UUID v4; pass a stable value to retry a call across process restarts.
    pub client_id: Option<String>,
    /// Mutual TLS to the nodes: this process's certificate (its role decides
    /// what the nodes let it do), key and the cluster's CA. `None` speaks
    /// plaintext, which only a node in `insecure_dev` accepts.
    pub tls: Option<ingressoja_pki::TlsMaterial>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(2),
            overall_deadline: Duration::from_secs(15),
            client_id: None,
            tls: None,
        }
    }
}
