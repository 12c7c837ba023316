//! Registration, login with password and TOTP, sessions and lockout.

use std::time::Duration;

use ingressoja_gateway::auth::totp;
use serde_json::json;

use crate::harness::{cpf, Buyer, Shop, ShopOptions};

fn code(secret: &str, step: u64) -> String {
    format!("{:06}", totp::code_at(secret, step).unwrap())
}

fn now_step() -> u64 {
    ingressoja_gateway::clock::now_secs() / totp::STEP_SECS
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_enrol_totp_and_log_in_with_each_code_once() {
    let shop = Shop::start(ShopOptions::default()).await;
    let mut ana = Buyer::new(shop.url());

    let created = ana.register("ana", &cpf(101)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert!(ana.token.is_some());

    // Bad input: each a typed error naming the field.
    let mut other = Buyer::new(shop.url());
    let dup = other.register("ana2", &cpf(101)).await;
    assert_eq!(
        (dup.status, dup.code()),
        (409, "duplicate_document"),
        "{:?}",
        dup.body
    );
    let bad_cpf = other.register("ana3", "123.456.789-00").await;
    assert_eq!(bad_cpf.status, 400, "{:?}", bad_cpf.body);
    assert!(bad_cpf.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cpf"));
    let short = other
        .post("/api/v1/register", json!({"customer_id": "bia", "email": "b@example.com", "cpf": cpf(102), "display_name": "Bia", "password": "short"}))
        .await;
    assert_eq!((short.status, short.code()), (400, "invalid_field"));
    assert_eq!(short.body["error"]["field"], "password");
    let long = other
        .post("/api/v1/register", json!({"customer_id": "x".repeat(65), "email": "b@example.com", "cpf": cpf(102), "display_name": "Bia", "password": "long enough"}))
        .await;
    assert_eq!(
        long.body["error"]["field"], "customer_id",
        "{:?}",
        long.body
    );
    let not_json = other
        .send(
            other
                .http
                .post(format!("{}/api/v1/register", shop.url()))
                .body("hello")
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!((not_json.status, not_json.code()), (400, "malformed_body"));
    let no_type = other
        .send(
            other
                .http
                .post(format!("{}/api/v1/register", shop.url()))
                .body("{}"),
        )
        .await;
    assert_eq!((no_type.status, no_type.code()), (400, "malformed_body"));

    // The session works; no session, a forged or garbled one do not.
    let account = ana.get("/api/v1/account").await;
    assert_eq!(account.status, 200);
    assert_eq!(account.body["totp_enrolled"], false);
    let anonymous = Buyer::new(shop.url()).get("/api/v1/account").await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (401, "unauthenticated")
    );
    let mut forged = Buyer::new(shop.url());
    let token = ana.token.clone().unwrap();
    let (payload, signature) = token.split_once('.').unwrap();
    forged.token = Some(format!(
        "{payload}.{}",
        signature.chars().rev().collect::<String>()
    ));
    assert_eq!(forged.get("/api/v1/account").await.status, 401);
    forged.token = Some("garbage".into());
    assert_eq!(
        forged.get("/api/v1/account").await.code(),
        "unauthenticated"
    );

    // Enrol TOTP: a wrong code is refused, the right one turns it on.
    let setup = ana.post("/api/v1/account/totp", json!({})).await;
    assert_eq!(setup.status, 200);
    let secret = setup.body["secret"].as_str().unwrap().to_string();
    assert!(setup.body["otpauth_uri"]
        .as_str()
        .unwrap()
        .contains(&secret));
    assert!(setup.body["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let step = now_step();
    let wrong = ana
        .post(
            "/api/v1/account/totp/confirm",
            json!({"secret": secret, "code": "000000"}),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, "bad_totp_code"));
    let enrolled = ana
        .post(
            "/api/v1/account/totp/confirm",
            json!({"secret": secret, "code": code(&secret, step)}),
        )
        .await;
    assert_eq!(enrolled.status, 204, "{:?}", enrolled.body);
    assert_eq!(ana.get("/api/v1/account").await.body["totp_enrolled"], true);

    // Log in: password, then a code; the enrolment's code cannot be reused.
    let fresh = Buyer::new(shop.url());
    let first = fresh
        .post(
            "/api/v1/login",
            json!({"login": "ana@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["second_factor_required"], true);
    let half = first.body["second_factor_token"]
        .as_str()
        .unwrap()
        .to_string();
    // The half-login token is not a session.
    let mut half_buyer = Buyer::new(shop.url());
    half_buyer.token = Some(half.clone());
    assert_eq!(
        half_buyer.get("/api/v1/account").await.code(),
        "unauthenticated"
    );

    let replayed = fresh
        .post(
            "/api/v1/login/totp",
            json!({"second_factor_token": half, "code": code(&secret, step)}),
        )
        .await;
    assert_eq!(
        (replayed.status, replayed.code()),
        (401, "totp_replayed"),
        "{:?}",
        replayed.body
    );
    let bad = fresh
        .post(
            "/api/v1/login/totp",
            json!({"second_factor_token": half, "code": "12345x"}),
        )
        .await;
    assert_eq!(bad.code(), "bad_totp_code");
    // The next step's code is accepted (one step of clock drift), once.
    let next = code(&secret, step + 1);
    let signed_in = fresh
        .post(
            "/api/v1/login/totp",
            json!({"second_factor_token": half, "code": next}),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert!(signed_in.body["token"].is_string());
    let again = fresh
        .post(
            "/api/v1/login/totp",
            json!({"second_factor_token": half, "code": next}),
        )
        .await;
    assert_eq!(again.code(), "totp_replayed");

    // Wrong password and unknown account read the same.
    let wrong_password = fresh
        .post(
            "/api/v1/login",
            json!({"login": "ana", "password": "nope nope"}),
        )
        .await;
    assert_eq!(
        (wrong_password.status, wrong_password.code()),
        (401, "bad_credentials")
    );
    let unknown = fresh
        .post(
            "/api/v1/login",
            json!({"login": "nobody", "password": "nope nope"}),
        )
        .await;
    assert_eq!((unknown.status, unknown.code()), (401, "bad_credentials"));
    assert_eq!(
        unknown.body["error"]["message"],
        wrong_password.body["error"]["message"]
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_failures_lock_the_account_on_every_gateway() {
    let mut shop = Shop::start(ShopOptions {
        gateways: 1,
        extra_toml: "[login]\nlockout_after = 3\nlockout_base_secs = 30\nlockout_max_secs = 60\n"
            .into(),
    })
    .await;
    shop.add_gateway("[login]\nlockout_after = 3\nlockout_base_secs = 30\nlockout_max_secs = 60\n")
        .await;
    let mut bia = Buyer::new(shop.url());
    assert_eq!(bia.register("bia", &cpf(201)).await.status, 201);
    let wrong = json!({"login": "bia", "password": "wrong password"});
    for attempt in 0..3 {
        let gateway = Buyer::new(&shop.gateways[attempt % 2].url);
        assert_eq!(
            gateway.post("/api/v1/login", wrong.clone()).await.code(),
            "bad_credentials"
        );
    }
    // Locked on both gateways, even with the right password.
    for gateway in &shop.gateways {
        let locked = Buyer::new(&gateway.url)
            .post(
                "/api/v1/login",
                json!({"login": "bia", "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(
            (locked.status, locked.code()),
            (429, "account_locked"),
            "{:?}",
            locked.body
        );
        let wait = locked.retry_after().expect("Retry-After");
        assert!((1..=30).contains(&wait), "{wait}");
    }
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_login_rate_limit_answers_429_and_its_retry_after_is_honoured() {
    let shop = Shop::start(ShopOptions {
        gateways: 1,
        extra_toml: "[rate_limits]\nlogin_per_ip = { per_minute = 60, burst = 2 }\n".into(),
    })
    .await;
    let buyer = Buyer::new(shop.url());
    let attempt = json!({"login": "nobody", "password": "whatever1"});
    assert_eq!(
        buyer.post("/api/v1/login", attempt.clone()).await.code(),
        "bad_credentials"
    );
    assert_eq!(
        buyer.post("/api/v1/login", attempt.clone()).await.code(),
        "bad_credentials"
    );
    let limited = buyer.post("/api/v1/login", attempt.clone()).await;
    assert_eq!(
        (limited.status, limited.code()),
        (429, "rate_limited"),
        "{:?}",
        limited.body
    );
    let wait = limited.retry_after().expect("Retry-After");
    assert_eq!(wait, 1, "one token a second at 60 per minute");
    // Another path is not limited by the login budget.
    assert_eq!(buyer.get("/api/v1/events").await.status, 200);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(
        buyer.post("/api/v1/login", attempt).await.code(),
        "bad_credentials"
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stranger_cannot_lock_the_owner_out_of_a_device_she_used_before() {
    // The attack: during the sale, type wrong passwords for a rival's
    // account until it locks (and its login budget is spent).
    let shop = Shop::start(ShopOptions {
        gateways: 1,
        extra_toml: "[login]\nlockout_after = 3\nlockout_base_secs = 60\nlockout_max_secs = 600\n\
                     [rate_limits]\nlogin_per_customer = { per_minute = 1, burst = 5 }\n"
            .into(),
    })
    .await;
    let mut cai = Buyer::new(shop.url());
    let signed_up = cai.register("cai", &cpf(202)).await;
    assert_eq!(signed_up.status, 201);
    let device = signed_up.body["device_token"]
        .as_str()
        .expect("a device token at sign-up")
        .to_string();
    let right = json!({"login": "cai", "password": "correct horse battery"});
    let wrong = json!({"login": "cai", "password": "wrong password"});

    // Sign-up spent one of the account's five login tokens; the stranger
    // spends three more and locks the account.
    let stranger = Buyer::new(shop.url());
    for _ in 0..3 {
        let refused = stranger.post("/api/v1/login", wrong.clone()).await;
        assert_eq!(refused.code(), "bad_credentials", "{:?}", refused.body);
    }
    // Locked and out of budget for anyone without cai's device, the right
    // password included: the lock still stops guessing.
    let locked = stranger.post("/api/v1/login", right.clone()).await;
    assert_eq!(locked.status, 429, "{:?}", locked.body);

    // cai, on the phone she signed up with, gets in.
    let mut with_device = right.clone();
    with_device["device_token"] = json!(device);
    let signed_in = Buyer::new(shop.url())
        .post("/api/v1/login", with_device)
        .await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["customer_id"], "cai");

    // Another account's device token opens nothing of cai's.
    let mut dan = Buyer::new(shop.url());
    let dan_signed_up = dan.register("dan", &cpf(203)).await;
    assert_eq!(dan_signed_up.status, 201);
    let mut borrowed = right.clone();
    borrowed["device_token"] = dan_signed_up.body["device_token"].clone();
    let still_locked = Buyer::new(shop.url()).post("/api/v1/login", borrowed).await;
    assert_eq!(still_locked.status, 429, "{:?}", still_locked.body);
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_certificate_is_rotated_under_load_with_no_failed_request() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let shop = Shop::start(ShopOptions {
        gateways: 1,
        extra_toml: "[rate_limits]\napi_per_ip = { per_minute = 600000, burst = 100000 }\n".into(),
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (url, stop) = (shop.url().to_string(), stop.clone());
            let (served, failed) = (served.clone(), failed.clone());
            tokio::spawn(async move {
                let buyer = Buyer::new(&url);
                while !stop.load(Ordering::Relaxed) {
                    let answer = buyer.get("/api/v1/events").await;
                    if answer.status == 200 {
                        served.fetch_add(1, Ordering::Relaxed);
                    } else {
                        eprintln!("failed: {} {:?}", answer.status, answer.body);
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A renewed certificate for the gateway, put in place, then reloaded.
    let pki = &shop.cluster.pki;
    let ca = ingressoja_pki::Authority::load(
        ingressoja_test_support::TEST_CLUSTER,
        &std::fs::read_to_string(pki.ca_file()).unwrap(),
        &std::fs::read_to_string(pki.dir().join("ca.key")).unwrap(),
    )
    .unwrap();
    let web = ingressoja_pki::Identity::new(
        ingressoja_test_support::TEST_CLUSTER,
        ingressoja_pki::Role::Gateway,
        "web",
    )
    .unwrap();
    let renewed = ca.issue(&web).unwrap();
    let (cert, key) = (pki.cert_file(&web), pki.key_file(&web));
    std::fs::write(key.with_extension("new"), &renewed.key_pem).unwrap();
    std::fs::rename(key.with_extension("new"), &key).unwrap();
    std::fs::write(cert.with_extension("new"), &renewed.cert_pem).unwrap();
    std::fs::rename(cert.with_extension("new"), &cert).unwrap();
    let state = shop.gateways[0].state.clone();
    assert_eq!(state.reload_tls().expect("reload"), Some(web));
    tokio::time::sleep(Duration::from_millis(800)).await;

    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    let (served, failed) = (
        served.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    assert!(served > 20, "only {served} requests served");
    assert_eq!(failed, 0, "{failed} requests failed during the rotation");
    shop.shutdown().await;
}
