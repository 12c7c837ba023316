//! Measures how many waiting-room SSE connections one gateway process holds
//! and what each costs in memory (issue 14, item 6).
//!
//! It starts a one-node in-process cluster, creates a queued event that
//! admits almost nobody, registers and queues `--connections` fans (with one
//! precomputed password hash), starts the gateway binary given by
//! `--gateway-bin` as a child process, then opens one
//! `GET /api/v1/notifications?queue=<event>` per fan from several loopback
//! source addresses (127.0.0.2, .3, ...: each has only ~28 000 ephemeral
//! ports), waits until every page received its first `queue` frame, and
//! prints the gateway's RSS before and after and the KiB per connection.
//!
//! Run by `scripts/waitroom-load.sh` (release build, raised `ulimit -n`).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures::StreamExt;
use ingressoja_client::proto::ticketing::{CategorySpec, SalePolicy};
use ingressoja_gateway::auth::session::{Purpose, TokenSigner};
use ingressoja_test_support::{cpf, ClusterOptions, TestCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The session key of the measured gateway (hex of 32 bytes).
const KEY_HEX: &str = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";

/// The queued event the fans wait in.
const EVENT: &str = "festa";

#[derive(Parser)]
struct Args {
    /// The gateway binary to measure (a release build).
    #[arg(long)]
    gateway_bin: PathBuf,
    /// Waiting pages to open.
    #[arg(long, default_value_t = 19_000)]
    connections: usize,
    /// Loopback source addresses to spread them over (127.0.0.2 and up).
    #[arg(long, default_value_t = 4)]
    sources: u8,
    /// Connections opened at once.
    #[arg(long, default_value_t = 256)]
    parallel: usize,
    /// The gateway's port.
    #[arg(long, default_value_t = 18_080)]
    port: u16,
    /// Keep the pages open this long after measuring, then count them again.
    #[arg(long, default_value_t = 0)]
    hold_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let cluster = TestCluster::start(ClusterOptions {
        nodes: 1,
        ..ClusterOptions::default()
    })
    .await;
    cluster.wait_for_leader(Duration::from_secs(30)).await;
    let admin = cluster.client(Some("waitroom-load"));
    admin
        .create_event_with_policy(
            EVENT,
            "Festa",
            vec![CategorySpec {
                category_id: "pista".into(),
                name: "PISTA".into(),
                capacity: 100_000,
                price_cents: 10_000,
                per_customer_limit: 4,
            }],
            SalePolicy {
                per_customer_event_limit: 4,
                queue_enabled: true,
                admit_per_minute: 1,
                max_active_shoppers: 1,
                ..SalePolicy::default()
            },
        )
        .await
        .context("create the event")?;

    let hash = ingressoja_client::password::hash_password("waiting-fan-1")?;
    let fans: Vec<String> = (0..args.connections)
        .map(|i| format!("fan{i:06}"))
        .collect();
    let joined = futures::stream::iter(fans.iter().enumerate())
        .map(|(i, fan)| {
            let (admin, hash) = (admin.clone(), hash.clone());
            async move {
                let email = format!("{fan}@example.com");
                admin
                    .register(fan, &email, &cpf(10_000 + i as u64), fan, &hash, None)
                    .await?;
                admin.join_queue(EVENT, fan).await
            }
        })
        .buffer_unordered(512)
        .filter(|r| futures::future::ready(r.is_ok()))
        .count()
        .await;
    if joined != fans.len() {
        bail!("only {joined} of {} fans joined the queue", fans.len());
    }
    println!(
        "{} fans registered and queued in {:.0} s",
        joined,
        started.elapsed().as_secs_f64()
    );

    let config = std::env::temp_dir().join(format!("waitroom-load-{}.toml", std::process::id()));
    let node = cluster.addrs().join("\", \"");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
nodes = ["{node}"]
max_in_flight = 4096
[notifications]
max_streams_per_ip = 1000000
[rate_limits]
api_per_ip = {{ per_minute = 6000000, burst = 1000000 }}
[session]
key_hex = "{KEY_HEX}"
cookie_secure = false
{tls}
"#,
            port = args.port,
            tls = cluster.gateway_tls_toml(),
        ),
    )?;
    let mut gateway = tokio::process::Command::new(&args.gateway_bin)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", args.gateway_bin.display()))?;
    let pid = gateway.id().context("gateway pid")?;
    let target = SocketAddr::from(([127, 0, 0, 1], args.port));
    wait_healthy(target).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss_kib(pid)?;

    let signer = TokenSigner::new(hex::decode(KEY_HEX)?);
    let expires = ingressoja_gateway::clock::now_secs() + 24 * 3600;
    // Two waves: the second one's growth is the cost of a connection once
    // the gateway's one-time allocations (tail, buffers, pools) are made.
    let half = fans.len() / 2;
    let opening = Instant::now();
    let mut pages = open_wave(&fans[..half], 0, &signer, expires, &args, target).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let middle = rss_kib(pid)?;
    pages.extend(open_wave(&fans[half..], half, &signer, expires, &args, target).await);
    let open_secs = opening.elapsed().as_secs_f64();
    let opened = pages.iter().filter(|r| r.is_ok()).count();
    if let Some(Err(error)) = pages.iter().find(|r| r.is_err()) {
        println!("first failure: {error:#}");
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = rss_kib(pid)?;
    let gauge = metric(target, "ingressoja_sse_connections").await?;
    let per = after.saturating_sub(before) as f64 / opened.max(1) as f64;
    let second_wave = fans.len() - half;
    let marginal = after.saturating_sub(middle) as f64 / second_wave.max(1) as f64;
    println!(
        "connections opened: {opened} of {} in {open_secs:.1} s (each got its first `queue` frame)",
        fans.len()
    );
    println!("ingressoja_sse_connections: {gauge}");
    println!(
        "gateway RSS before:           {before} KiB ({:.1} MiB)",
        before as f64 / 1024.0
    );
    println!(
        "gateway RSS at {half:>6} open:  {middle} KiB ({:.1} MiB)",
        middle as f64 / 1024.0
    );
    println!(
        "gateway RSS at {opened:>6} open:  {after} KiB ({:.1} MiB)",
        after as f64 / 1024.0
    );
    println!("per connection (all):         {per:.1} KiB");
    println!("per connection (second wave): {marginal:.1} KiB");
    if args.hold_secs > 0 {
        tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
        let still = metric(target, "ingressoja_sse_connections").await?;
        println!(
            "ingressoja_sse_connections after {} s more: {still}",
            args.hold_secs
        );
    }
    let results = pages;
    drop(results);
    gateway.kill().await.ok();
    let _ = std::fs::remove_file(&config);
    cluster.shutdown().await;
    Ok(())
}

/// Opens waiting pages for `fans` (the first being fan number `first`),
/// `--parallel` at a time.
async fn open_wave(
    fans: &[String],
    first: usize,
    signer: &TokenSigner,
    expires: u64,
    args: &Args,
    target: SocketAddr,
) -> Vec<anyhow::Result<TcpStream>> {
    futures::stream::iter(fans.iter().enumerate())
        .map(|(i, fan)| {
            let token = signer.issue(Purpose::Session, fan, expires);
            let n = first + i;
            let source = Ipv4Addr::new(127, 0, 0, 2 + (n % usize::from(args.sources)) as u8);
            open_waiting_page(source, target, token)
        })
        .buffer_unordered(args.parallel)
        .collect()
        .await
}

/// Opens one waiting page from `source` and waits for its first `queue` frame.
async fn open_waiting_page(
    source: Ipv4Addr,
    target: SocketAddr,
    token: String,
) -> anyhow::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::V4(SocketAddrV4::new(source, 0)))?;
    let mut stream = socket.connect(target).await?;
    let request = format!(
        "GET /api/v1/notifications?queue={EVENT} HTTP/1.1\r\nHost: {target}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut seen = Vec::new();
    let mut chunk = [0u8; 2048];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !contains(&seen, b"event: queue") {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .context("no queue frame in 120 s")??;
        if n == 0 {
            bail!(
                "closed: {}",
                String::from_utf8_lossy(&seen[..seen.len().min(300)])
            );
        }
        seen.extend_from_slice(&chunk[..n]);
    }
    if !seen.starts_with(b"HTTP/1.1 200") {
        bail!("{}", String::from_utf8_lossy(&seen[..seen.len().min(300)]));
    }
    Ok(stream)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

async fn wait_healthy(target: SocketAddr) -> anyhow::Result<()> {
    for _ in 0..100 {
        if get(target, "/healthz")
            .await
            .is_ok_and(|b| b.contains("ok"))
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the gateway did not become healthy at {target}")
}

async fn metric(target: SocketAddr, name: &str) -> anyhow::Result<String> {
    let body = get(target, "/metrics").await?;
    Ok(body
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or("?")
        .to_string())
}

/// A plain HTTP/1.0 GET, body as text.
async fn get(target: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(target).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {target}\r\n\r\n").as_bytes())
        .await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    Ok(body)
}
