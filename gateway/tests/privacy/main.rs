//! Personal data stays out of the logs (LGPD): a whole sale — sign-up,
//! login, a hold, a purchase, the tickets page — is run through a gateway
//! and a 3-node cluster in this process with every IngressoJá log line on
//! (debug), and the captured logs are searched for the buyer's name,
//! e-mail and CPF (formatted and bare). Ids may appear; people may not.
//!
//! Its own test binary: it installs the process's log subscriber.

// The HTTP tests' harness, shared, not copied.
#[path = "../http/harness.rs"]
#[allow(dead_code, unused_imports)]
mod harness;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

use harness::{Buyer, Shop, ShopOptions};

/// Every log line, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sale_leaves_no_name_email_or_cpf_in_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,ingressoja_node=debug,ingressoja_gateway=debug,ingressoja_client=debug",
        ))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let shop = Shop::start(ShopOptions::default()).await;
    let (name, email, cpf) = (
        "Joana Privada Souza",
        "joana.privada@example.com",
        "529.982.247-25",
    );
    let buyer = Buyer::new(shop.url());
    let signed_up = buyer
        .post(
            "/api/v1/register",
            json!({"customer_id": "joana", "email": email, "cpf": cpf,
                   "display_name": name, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(signed_up.status, 201, "{:?}", signed_up.body);
    // A wrong password, then the right one, by e-mail.
    let wrong = buyer
        .post(
            "/api/v1/login",
            json!({"login": email, "password": "not it at all"}),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let login = buyer
        .post(
            "/api/v1/login",
            json!({"login": email, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let mut joana = Buyer::new(shop.url());
    joana.token = login.body["token"].as_str().map(str::to_string);
    let paid = joana.buy_one("show", "pista").await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
    assert_eq!(joana.get("/api/v1/tickets").await.status, 200);
    assert_eq!(joana.get("/api/v1/account").await.status, 200);
    shop.shutdown().await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("joana"),
        "the capture saw nothing of the sale"
    );
    let bare_cpf: String = cpf.chars().filter(char::is_ascii_digit).collect();
    for (what, text) in [
        ("name", name),
        ("surname", "Privada"),
        ("e-mail", email),
        ("e-mail (any case)", &email.to_uppercase()),
        ("CPF", cpf),
        ("CPF digits", &bare_cpf),
    ] {
        let line = logs
            .lines()
            .find(|l| l.to_lowercase().contains(&text.to_lowercase()));
        assert!(
            line.is_none(),
            "the {what} is in the logs: {}",
            line.unwrap_or_default()
        );
    }
}
