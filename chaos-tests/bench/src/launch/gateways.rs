//! Two HTTP gateways (`ingressoja-gateway`) in front of a cluster, for the
//! benchmark's HTTP target: the path a buyer's phone takes (JSON API,
//! sessions, rate limits, leader routing), started on loopback with a
//! config written into a temporary directory.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use ingressoja_cluster_config::{
    AntiBotConfig, GatewayConfig, KeySource, SessionConfig, TlsConfig,
};
use tempfile::TempDir;

use super::children::{launch_dir, Children};
use super::ports::ensure_free;
use crate::error::BenchError;

/// Gateways started: customers are spread over them, as a load balancer would.
pub const GATEWAYS: u16 = 2;
/// Longest wait for a gateway to answer `/healthz`.
const READY: Duration = Duration::from_secs(30);

/// Running gateways; stopped (and their directory removed) when dropped.
pub struct LocalGateways {
    children: Children,
    dir: TempDir,
    /// Each gateway's `host:port`.
    pub addrs: Vec<SocketAddr>,
    /// The session signing key every gateway shares: the benchmark signs its
    /// customers' sessions with it instead of logging each one in (argon2
    /// and two-factor logins are not part of the flash sale measured).
    pub session_key: Vec<u8>,
}

/// The config of gateway `index`: the shipped defaults (rate limits, load
/// shedding, sessions) except two things a load generator on one machine
/// needs — the benchmark is the trusted load balancer, so each simulated
/// customer's own address (in `X-Forwarded-For`) meets the per-IP limits;
/// and the proof-of-work is off, since simulated customers have no browser
/// to solve it (its cost is the client's, not the server's).
pub fn gateway_config(
    port: u16,
    nodes: &[String],
    session_key: Vec<u8>,
    tls: Option<TlsConfig>,
) -> GatewayConfig {
    let listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    GatewayConfig {
        listen,
        public_url: format!("http://{listen}"),
        nodes: nodes.to_vec(),
        session: SessionConfig {
            key: session_key,
            key_source: KeySource::Inline,
            ttl_secs: 3_600,
            cookie_secure: false,
        },
        login: Default::default(),
        rate_limits: Default::default(),
        max_in_flight: 512,
        anti_bot: AntiBotConfig {
            pow_difficulty_bits: 0,
            ..Default::default()
        },
        notifications: Default::default(),
        webhooks: Vec::new(),
        trusted_proxies: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        header_read_timeout_secs: 10,
        tickets: None,
        insecure_dev: tls.is_none(),
        tls,
    }
}

impl LocalGateways {
    /// Starts [`GATEWAYS`] gateways on `port_base`.. in front of `nodes` and
    /// waits until each answers.
    /// `tls`: the gateways' certificate files (`None`: the nodes run
    /// `insecure_dev`).
    pub async fn start(
        gateway_bin: &Path,
        nodes: &[String],
        port_base: u16,
        tls: Option<TlsConfig>,
    ) -> Result<LocalGateways, BenchError> {
        for i in 0..GATEWAYS {
            ensure_free(
                port_base + i,
                &format!("IngressoJá gateway {} (HTTP)", i + 1),
                "gateway-port-base",
            )?;
        }
        let dir = launch_dir("ingressoja-bench-gateways-")?;
        let session_key: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
        let mut children = Children::default();
        let mut addrs = Vec::new();
        for i in 0..GATEWAYS {
            let config = gateway_config(port_base + i, nodes, session_key.clone(), tls.clone());
            config.validate().map_err(|e| BenchError::StartFailed {
                what: format!("gateway {}", i + 1),
                reason: format!("config: {e}"),
            })?;
            addrs.push(config.listen);
            children.spawn_configured(
                &format!("IngressoJá gateway {}", i + 1),
                gateway_bin,
                &config,
                dir.path(),
                &format!("gateway{}", i + 1),
            )?;
        }
        let mut gateways = LocalGateways {
            children,
            dir,
            addrs,
            session_key,
        };
        gateways.wait_until_healthy().await?;
        Ok(gateways)
    }

    async fn wait_until_healthy(&mut self) -> Result<(), BenchError> {
        let addrs = &self.addrs;
        self.children
            .wait_until_ready(
                &format!("the IngressoJá gateways at {addrs:?}"),
                "not every one answered on /healthz",
                self.dir.path(),
                (READY, Duration::from_millis(100)),
                move || async move {
                    for &addr in addrs {
                        if !healthy(addr).await {
                            return false;
                        }
                    }
                    true
                },
            )
            .await
    }
}

/// Whether `GET /healthz` at `addr` answers 200.
async fn healthy(addr: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(Ok(mut stream)) = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    else {
        return false;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_millis(500), stream.read_to_end(&mut answer)).await;
    matches!(read, Ok(Ok(_))) && answer.starts_with(b"HTTP/1.1 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_valid_trust_the_benchmark_and_skip_the_puzzle() {
        let nodes = vec!["127.0.0.1:17101".to_string()];
        let config = gateway_config(18_081, &nodes, vec![7; 32], None);
        config.validate().unwrap();
        assert_eq!(
            config.trusted_proxies,
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
        );
        assert_eq!(config.anti_bot.pow_difficulty_bits, 0);
        // The shop's own limits stay as shipped.
        assert_eq!(config.rate_limits, Default::default());
        let text = toml::to_string(&config).unwrap();
        assert_eq!(GatewayConfig::from_toml_str(&text).unwrap(), config);
    }
}
