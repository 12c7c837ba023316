//! A shop for HTTP tests: a 3-node in-process cluster with demo events and
//! one or more real gateways on loopback ports, plus a small HTTP client.

use std::net::SocketAddr;
use std::time::Duration;

use ingressoja_client::proto::ticketing::{CategorySpec, SalePolicy};
use ingressoja_cluster_config::GatewayConfig;
use ingressoja_gateway::AppState;
use ingressoja_test_support::{ClusterOptions, TestCluster};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// Shared key of the test gateways (hex of 32 bytes).
pub const KEY_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Knobs for the gateways' config, as TOML snippets.
pub struct ShopOptions {
    pub gateways: usize,
    /// Extra TOML appended to each gateway's config.
    pub extra_toml: String,
}

impl Default for ShopOptions {
    fn default() -> Self {
        ShopOptions {
            gateways: 1,
            extra_toml: String::new(),
        }
    }
}

/// One running gateway.
pub struct Gateway {
    pub url: String,
    /// Its state (a clone): for what SIGHUP would do, say.
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Gateway {
    /// Stops the gateway (like a crash: in-flight requests are cut).
    pub async fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.stop.take();
    }
}

/// A cluster with events and gateways in front.
pub struct Shop {
    pub cluster: TestCluster,
    pub gateways: Vec<Gateway>,
}

/// `tls` ends the file: the cluster's `[tls]` section; `None` (fake nodes,
/// which speak plaintext) sets `insecure_dev = true` instead.
pub fn gateway_toml(
    listen: SocketAddr,
    nodes: &[String],
    extra: &str,
    tls: Option<&str>,
) -> String {
    let (insecure, tls) = match tls {
        Some(tls) => ("", tls),
        None => ("insecure_dev = true", ""),
    };
    let nodes: Vec<String> = nodes.iter().map(|n| format!("{n:?}")).collect();
    // Tests make many calls in a row: generous limits unless a test sets its own.
    let limits = if extra.contains("[rate_limits]") {
        ""
    } else {
        "[rate_limits]\nlogin_per_ip = { per_minute = 600, burst = 100 }\nlogin_per_customer = { per_minute = 600, burst = 100 }\npurchase_per_customer = { per_minute = 600, burst = 100 }\nqueue_join_per_customer = { per_minute = 600, burst = 100 }\n"
    };
    format!(
        r#"listen = "{listen}"
public_url = "http://{listen}"
nodes = [{nodes}]
trusted_proxies = ["127.0.0.1"]
{insecure}
{extra}
{limits}
[session]
key_hex = "{KEY_HEX}"
cookie_secure = false
{tls}
"#,
        nodes = nodes.join(", "),
    )
}

impl Shop {
    /// Starts the cluster, creates the events `show` (no queue, 10 per
    /// category, 4 per CPF) and `fila` (queue, fast admissions), and the gateways.
    pub async fn start(options: ShopOptions) -> Shop {
        let cluster = TestCluster::start(ClusterOptions::default()).await;
        cluster.wait_for_leader(Duration::from_secs(15)).await;
        let admin = cluster.client(None);
        let category = |id: &str, capacity| CategorySpec {
            category_id: id.into(),
            name: id.to_uppercase(),
            capacity,
            price_cents: 45_000,
            per_customer_limit: 4,
        };
        admin
            .create_event_with_policy(
                "show",
                "Show de Teste",
                vec![category("pista", 10), category("vip", 2)],
                SalePolicy {
                    per_customer_event_limit: 4,
                    one_live_hold: true,
                    ..SalePolicy::default()
                },
            )
            .await
            .expect("create show");
        admin
            .create_event_with_policy(
                "fila",
                "Show com Fila",
                vec![category("pista", 10)],
                SalePolicy {
                    per_customer_event_limit: 4,
                    queue_enabled: true,
                    admit_per_minute: 6_000,
                    max_active_shoppers: 100,
                    ..SalePolicy::default()
                },
            )
            .await
            .expect("create fila");
        let mut shop = Shop {
            cluster,
            gateways: Vec::new(),
        };
        for _ in 0..options.gateways {
            shop.add_gateway(&options.extra_toml).await;
        }
        shop
    }

    /// Starts one more gateway with `extra` TOML in its config.
    pub async fn add_gateway(&mut self, extra: &str) -> usize {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = GatewayConfig::from_toml_str(&gateway_toml(
            addr,
            &self.cluster.addrs(),
            extra,
            Some(&self.cluster.gateway_tls_toml()),
        ))
        .expect("test gateway config is valid");
        let state = AppState::new(config).expect("gateway state");
        let kept = state.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = ingressoja_gateway::serve(state, listener, async {
                let _ = stopped.await;
            })
            .await;
        });
        self.gateways.push(Gateway {
            url: format!("http://{addr}"),
            state: kept,
            stop: Some(stop),
            task: Some(task),
        });
        self.gateways.len() - 1
    }

    /// The first gateway's base URL.
    pub fn url(&self) -> &str {
        &self.gateways[0].url
    }

    /// Stops everything.
    pub async fn shutdown(mut self) {
        for gateway in &mut self.gateways {
            gateway.kill().await;
        }
        self.cluster.shutdown().await;
    }
}

/// An HTTP answer: status, headers, body as JSON (or text under "text").
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// The `error.code` of a JSON error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }
}

/// A browser-like client: keeps cookies, can carry a bearer token.
pub struct Buyer {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Buyer {
    pub fn new(base: &str) -> Buyer {
        Buyer {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: base.to_string(),
            token: None,
        }
    }

    pub fn at(&self, base: &str) -> Buyer {
        Buyer {
            http: self.http.clone(),
            base: base.to_string(),
            token: self.token.clone(),
        }
    }

    fn with_auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = self.with_auth(request).send().await.expect("HTTP request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    pub async fn post_with_key(&self, path: &str, body: Value, key: &str) -> Answer {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("idempotency-key", key)
                .json(&body),
        )
        .await
    }

    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.send(self.http.post(format!("{}{path}", self.base)).form(fields))
            .await
    }

    /// Holds one ticket of `event_id`/`category_id` and pays for it with
    /// the fake provider's approving token; the purchase's answer.
    pub async fn buy_one(&self, event_id: &str, category_id: &str) -> Answer {
        let hold = self
            .post(
                "/api/v1/holds",
                json!({"event_id": event_id, "category_id": category_id, "quantity": 1}),
            )
            .await;
        assert_eq!(hold.status, 201, "{:?}", hold.body);
        let hold_id = hold.body["hold_id"].as_u64().unwrap();
        self.post(
            &format!("/api/v1/holds/{hold_id}/purchase"),
            json!({"payment_token": "approve"}),
        )
        .await
    }

    /// Registers through the API and keeps the session token.
    pub async fn register(&mut self, customer_id: &str, cpf: &str) -> Answer {
        let answer = self
            .post(
                "/api/v1/register",
                json!({
                    "customer_id": customer_id,
                    "email": format!("{customer_id}@example.com"),
                    "cpf": cpf,
                    "display_name": customer_id,
                    "password": "correct horse battery",
                }),
            )
            .await;
        if answer.status == 201 {
            self.token = answer.body["token"].as_str().map(str::to_string);
        }
        answer
    }
}

pub use ingressoja_test_support::cpf;

/// The value of `name="<field>" value="..."` in an HTML page.
pub fn form_value(html: &str, field: &str) -> Option<String> {
    let marker = format!(r#"name="{field}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].replace("&amp;", "&"))
}
