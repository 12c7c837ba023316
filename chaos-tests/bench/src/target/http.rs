//! IngressoJá through its HTTP gateways' JSON API: the path a buyer's phone
//! takes — HTTP/1.1 to a gateway, session check, rate limits, load
//! shedding, then gRPC to the leader — so the figures include the
//! gateway's cost. The sale is set up (event, customers) and read back
//! through gRPC, as the box office would; only the customers' calls go
//! through HTTP.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ingressoja_gateway::auth::session::{Purpose, TokenSigner};
use serde_json::Value;

use super::grpc::GrpcTarget;
use super::{CategoryCount, HoldExpiry, HoldTicket, OpError, Payment, SystemProfile, Target};
use crate::error::BenchError;
use crate::plan::SalePlan;

/// Longest wait for one HTTP answer (the gateway's own deadline is shorter).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the benchmark's session tokens stay valid.
const SESSION_SECS: u64 = 24 * 3_600;

/// The gateways, a pooled HTTP/1.1 client, and every customer's session.
pub struct HttpTarget {
    setup: GrpcTarget,
    gateways: Vec<SocketAddr>,
    http: Client<HttpConnector, Full<Bytes>>,
    /// `Bearer <token>` of customer `n`, signed with the gateways' key.
    sessions: Vec<String>,
    plan: Arc<SalePlan>,
}

/// The address customer `n` connects from: a distinct one per customer
/// (10.0.0.0/8), passed on in `X-Forwarded-For` as a load balancer does,
/// so the gateways' per-IP limits apply per customer, not to the benchmark.
pub fn customer_ip(n: u64) -> Ipv4Addr {
    Ipv4Addr::from(0x0A00_0000 | (n as u32 & 0x00FF_FFFF))
}

/// Codes that say the benchmark's request was wrong, not that a rule refused it.
const REQUEST_FAULTS: [&str; 6] = [
    "invalid_field",
    "malformed_body",
    "unauthenticated",
    "not_found",
    "csrf_failed",
    "proof_of_work_failed",
];

/// A gateway's error answer as the report counts it: a refusal by the
/// sale's or the shop's rules (sold out, rate limited, ...) by its code;
/// a shed request or an unreachable cluster as unavailability.
pub fn http_error(status: StatusCode, body: &[u8]) -> OpError {
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string));
    match (status, code) {
        (StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT, _) => {
            OpError::Unavailable(format!("HTTP {status}"))
        }
        (s, Some(code)) if s.is_client_error() && !REQUEST_FAULTS.contains(&code.as_str()) => {
            OpError::Rejected(code)
        }
        (s, code) => OpError::Other(format!(
            "HTTP {s}: {}",
            code.unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect())
        )),
    }
}

impl HttpTarget {
    /// Connects to the cluster at `nodes` (for setup) and to the gateways
    /// at `gateways`, signing every customer's session with `session_key`.
    pub async fn connect(
        nodes: &[String],
        tls: Option<ingressoja_pki::TlsMaterial>,
        gateways: Vec<SocketAddr>,
        session_key: Vec<u8>,
        plan: Arc<SalePlan>,
    ) -> Result<HttpTarget, BenchError> {
        let setup = GrpcTarget::connect(nodes, tls, Arc::clone(&plan)).await?;
        let signer = TokenSigner::new(session_key);
        let expires_at = ingressoja_gateway::clock::now_secs() + SESSION_SECS;
        let sessions = (0..plan.customers)
            .map(|n| {
                let token = signer.issue(Purpose::Session, &plan.customer_id(n), expires_at);
                format!("Bearer {token}")
            })
            .collect();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(HttpTarget {
            setup,
            gateways,
            http,
            sessions,
            plan,
        })
    }

    /// One API call as customer `n`: the JSON answer, or the error as counted.
    async fn call(
        &self,
        n: u64,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, OpError> {
        let gateway = self.gateways[(n % self.gateways.len() as u64) as usize];
        let session = self
            .sessions
            .get(n as usize)
            .ok_or_else(|| OpError::Other(format!("customer {n} has no session")))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(format!("http://{gateway}{path}"))
            .header(AUTHORIZATION, session)
            .header("x-forwarded-for", customer_ip(n).to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| OpError::Other(format!("building the request: {e}")))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| OpError::Unavailable(format!("gateway {gateway}: {e}")))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| OpError::Unavailable(format!("gateway {gateway}: {e}")))?
                .to_bytes();
            Ok::<_, OpError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| OpError::Unavailable(format!("gateway {gateway}: no answer")))??;
        if !status.is_success() {
            return Err(http_error(status, &bytes));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| OpError::Other(format!("gateway {gateway}: answer is not JSON: {e}")))
    }
}

impl Target for HttpTarget {
    const PROFILE: SystemProfile = SystemProfile::new(
        "ingressoja-http",
        "Raft: committed on a majority of 3 nodes (RocksDB, fsync) before the gateway answers",
        HoldExpiry::BySystem,
    );

    async fn prepare(&self) -> Result<(), BenchError> {
        self.setup.prepare().await
    }

    async fn join_queue(&self, customer: u64) -> Result<(), OpError> {
        let path = format!("/api/v1/events/{}/queue", self.plan.event_id);
        self.call(customer, Method::POST, &path, Some(serde_json::json!({})))
            .await
            .map(|_| ())
    }

    async fn admitted(&self, customer: u64) -> Result<bool, OpError> {
        let path = format!("/api/v1/events/{}/queue", self.plan.event_id);
        let status = self.call(customer, Method::GET, &path, None).await?;
        Ok(status["admitted"].as_bool() == Some(true)
            && status["admission_over"].as_bool() != Some(true))
    }

    async fn hold(&self, customer: u64, category: usize, quantity: u32) -> Result<u64, OpError> {
        let body = serde_json::json!({
            "event_id": self.plan.event_id,
            "category_id": self.plan.categories[category].id,
            "quantity": quantity,
        });
        let hold = self
            .call(customer, Method::POST, "/api/v1/holds", Some(body))
            .await?;
        hold["hold_id"]
            .as_u64()
            .ok_or_else(|| OpError::Other("hold answer without a hold_id".into()))
    }

    async fn purchase(&self, hold: &HoldTicket, payment: Payment) -> Result<u64, OpError> {
        let customer = hold.customer;
        let path = format!("/api/v1/holds/{}/purchase", hold.id);
        let body = serde_json::json!({ "payment_token": payment.token() });
        let reply = self.call(customer, Method::POST, &path, Some(body)).await?;
        reply["tickets"]
            .as_array()
            .map(|t| t.len() as u64)
            .ok_or_else(|| OpError::Other("purchase answer without tickets".into()))
    }

    async fn release(&self, hold: &HoldTicket) -> Result<(), OpError> {
        let customer = hold.customer;
        let path = format!("/api/v1/holds/{}", hold.id);
        self.call(customer, Method::DELETE, &path, None)
            .await
            .map(|_| ())
    }

    async fn outcome(&self) -> Result<Vec<CategoryCount>, BenchError> {
        self.setup.outcome().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_customer_comes_from_its_own_private_address() {
        assert_eq!(customer_ip(0), Ipv4Addr::new(10, 0, 0, 0));
        assert_eq!(customer_ip(258), Ipv4Addr::new(10, 0, 1, 2));
        assert_ne!(customer_ip(1), customer_ip(2));
    }

    #[test]
    fn gateway_errors_are_counted_by_code_or_class() {
        let body = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        assert_eq!(
            http_error(StatusCode::CONFLICT, body("sold_out").as_bytes()),
            OpError::Rejected("sold_out".into())
        );
        assert!(http_error(StatusCode::CONFLICT, body("sold_out").as_bytes()).is_sold_out());
        assert_eq!(
            http_error(
                StatusCode::TOO_MANY_REQUESTS,
                body("rate_limited").as_bytes()
            ),
            OpError::Rejected("rate_limited".into())
        );
        assert_eq!(
            http_error(StatusCode::NOT_FOUND, body("hold_not_found").as_bytes()),
            OpError::Rejected("hold_not_found".into())
        );
        assert!(matches!(
            http_error(
                StatusCode::SERVICE_UNAVAILABLE,
                body("overloaded").as_bytes()
            ),
            OpError::Unavailable(_)
        ));
        // A request the benchmark got wrong is not a sale rule.
        assert!(matches!(
            http_error(StatusCode::BAD_REQUEST, body("invalid_field").as_bytes()),
            OpError::Other(m) if m.contains("invalid_field")
        ));
        assert!(matches!(
            http_error(StatusCode::BAD_GATEWAY, b"not json"),
            OpError::Other(m) if m.contains("not json")
        ));
    }
}
