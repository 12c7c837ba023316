//! The web shop's pages over HTTP: CSRF, cookies, errors as pages, headers.

use crate::harness::{cpf, form_value, Buyer, Shop, ShopOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_and_sign_in_through_the_forms() {
    let shop = Shop::start(ShopOptions::default()).await;
    let browser = Buyer::new(shop.url());

    let page = browser.get("/register").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(r#"lang="pt-BR""#) && page.text.contains("Criar conta"));
    let set_cookie = page.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set_cookie.starts_with("ij_csrf=")
            && set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Lax")
    );
    for header in [
        "x-frame-options",
        "content-security-policy",
        "x-content-type-options",
    ] {
        assert!(page.headers.contains_key(header), "{header}");
    }
    let csrf = form_value(&page.text, "csrf").expect("csrf field");
    let cpf = cpf(601);
    let fields = |csrf: &str| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", csrf.to_string()),
            ("customer_id", "fabi".into()),
            ("display_name", "Fabiana".into()),
            ("email", "fabi@example.com".into()),
            ("cpf", cpf.clone()),
            ("password", "segredo123".into()),
        ]
    };
    fn as_refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        v.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    // Without the CSRF field, or with a wrong one: refused with a message, not a 500.
    let missing = browser.form("/register", &as_refs(&fields(""))[1..]).await;
    assert_eq!(missing.status, 403);
    assert!(missing.text.contains(r#"class="error""#));
    let wrong = browser.form("/register", &as_refs(&fields("bogus"))).await;
    assert_eq!(wrong.status, 403);
    // Another browser (no CSRF cookie) cannot replay this one's field.
    let stranger = Buyer::new(shop.url());
    let mut with_real = fields("");
    with_real[0].1 = csrf.clone();
    assert_eq!(
        stranger
            .form("/register", &as_refs(&with_real))
            .await
            .status,
        403
    );

    // Bad input shows on the form, the typed values kept.
    let mut bad_cpf = with_real.clone();
    bad_cpf[4].1 = "111.111.111-11".into();
    let refused = browser.form("/register", &as_refs(&bad_cpf)).await;
    assert_eq!(refused.status, 400);
    assert!(refused.text.contains("cpf") && refused.text.contains(r#"value="fabi""#));
    let not_form = browser
        .send(
            browser
                .http
                .post(format!("{}/register", shop.url()))
                .body("%%%")
                .header("content-type", "text/plain"),
        )
        .await;
    assert!(
        not_form.status == 400 || not_form.status == 415,
        "{}",
        not_form.status
    );

    let created = browser.form("/register", &as_refs(&with_real)).await;
    assert_eq!(created.status, 303, "{}", created.text);
    assert_eq!(created.headers["location"], "/account/2fa?welcome=1");
    let session = created
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("ij_session="))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));

    // Signed in: the enrolment page shows a QR code and a secret.
    let enrol = browser.get("/account/2fa?welcome=1").await;
    assert_eq!(enrol.status, 200);
    assert!(enrol.text.contains(r#"id="totp-qr""#) && enrol.text.contains("<svg"));
    assert!(enrol.text.contains(r#"id="totp-secret""#));
    let tickets = browser.get("/tickets").await;
    assert!(tickets.text.contains(r#"id="no-tickets""#));
    // The session cookie does not authorise API writes (only a bearer token does).
    let via_cookie = browser
        .post(
            "/api/v1/holds",
            serde_json::json!({"event_id": "show", "category_id": "pista", "quantity": 1}),
        )
        .await;
    assert_eq!(
        (via_cookie.status, via_cookie.code()),
        (401, "unauthenticated")
    );
    let event = browser.get("/events/show").await;
    assert!(event
        .text
        .contains(r#"class="hold-form" data-category="pista""#));

    // Log out, then a wrong password shows an error on the login page.
    let page = browser.get("/").await;
    let csrf = form_value(&page.text, "csrf").unwrap();
    let out = browser.form("/logout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(out.status, 303);
    assert_eq!(browser.get("/tickets").await.headers["location"], "/login");
    let login = browser.get("/login").await;
    let csrf = form_value(&login.text, "csrf").unwrap();
    let refused = browser
        .form(
            "/login",
            &[
                ("csrf", csrf.as_str()),
                ("login", "fabi"),
                ("password", "errada123"),
            ],
        )
        .await;
    assert_eq!(refused.status, 401);
    assert!(refused.text.contains("Usuário ou senha incorretos"));
    let ok = browser
        .form(
            "/login",
            &[
                ("csrf", csrf.as_str()),
                ("login", "fabi"),
                ("password", "segredo123"),
            ],
        )
        .await;
    assert_eq!(
        (ok.status, ok.headers["location"].to_str().unwrap()),
        (303, "/")
    );
    shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_show_errors_as_pages_and_speak_english_on_request() {
    let shop = Shop::start(ShopOptions::default()).await;
    let mut browser = Buyer::new(shop.url());
    assert_eq!(browser.register("gil", &cpf(701)).await.status, 201);
    browser.token = None; // pages use cookies
    let home = browser.get("/").await;
    assert!(home.text.contains(r#"href="/events/show""#) && home.text.contains("Show com Fila"));
    assert_eq!(browser.get("/events/nope").await.status, 404);
    assert_eq!(browser.get("/no/such/page").await.status, 404);
    // Unauthenticated checkout goes to the login page.
    assert_eq!(
        browser.get("/checkout/1").await.headers["location"],
        "/login"
    );
    let english = browser
        .send(
            browser
                .http
                .get(format!("{}/lang/en", shop.url()))
                .header("referer", format!("{}/events/show", shop.url())),
        )
        .await;
    assert_eq!(english.headers["location"], "/events/show");
    let page = browser.get("/events/show").await;
    assert!(
        page.text.contains(r#"lang="en""#) && page.text.contains("Available"),
        "{}",
        page.text
    );
    shop.shutdown().await;
}
