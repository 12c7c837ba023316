//! Slowloris: connections that send a request's headers a byte at a time
//! (or stop halfway) must be cut off, not held open for as long as the
//! attacker likes.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Shop, ShopOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_whose_headers_never_end_is_cut_off() {
    let shop = Shop::start(ShopOptions {
        gateways: 1,
        extra_toml: "header_read_timeout_secs = 1\n".into(),
    })
    .await;
    let addr = shop.gateways[0]
        .url
        .trim_start_matches("http://")
        .to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\nX-Slow: ")
        .await
        .unwrap();
    // Keep dribbling: a byte every 200 ms, never the end of the headers.
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(5) {
        if tcp.write_all(b"a").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut buf)).await {
            // The gateway closed the connection (an answer or none).
            Ok(Ok(_)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    let held = started.elapsed();
    assert!(
        closed,
        "the half-sent request was still open after {held:?}"
    );
    assert!(held < Duration::from_secs(3), "cut off only after {held:?}");
    // A normal request on a fresh connection is served.
    let ok = reqwest::get(format!("{}/healthz", shop.gateways[0].url))
        .await
        .unwrap();
    assert!(ok.status().is_success());
    shop.shutdown().await;
}
