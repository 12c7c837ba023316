//! Account pages: registration, login (password, then TOTP code when
//! enrolled), two-factor enrolment with a QR code, logout, language.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::layout::{error_box, esc, PageError, Visitor};
use crate::actions::{self, SignUp};
use crate::auth::login::{self, PasswordOutcome};
use crate::auth::session::Purpose;
use crate::auth::totp;
use crate::clock;
use crate::error::ApiError;
use crate::limits::Guarded;
use crate::qr;
use crate::state::AppState;
use crate::web::{
    cookie, set_cookie, ClientIp, PageForm, DEVICE_COOKIE, LANG_COOKIE, SECOND_FACTOR_COOKIE,
    SESSION_COOKIE,
};

/// How long a half-finished login (password checked, code owed) lasts.
const SECOND_FACTOR_TTL_SECS: u64 = 300;

/// A redirect that also sets (or clears) cookies.
fn redirect_with_cookies(to: &str, cookies: &[String]) -> Response {
    let mut response = Redirect::to(to).into_response();
    for value in cookies {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

fn session_cookie(state: &AppState, customer_id: &str) -> String {
    let ttl = state.config.session.ttl().as_secs();
    let token = state
        .signer
        .issue(Purpose::Session, customer_id, clock::now_secs() + ttl);
    set_cookie(
        SESSION_COOKIE,
        &token,
        ttl,
        state.config.session.cookie_secure,
    )
}

/// The device cookie handed out with each session: see `auth::login`.
fn device_cookie(state: &AppState, customer_id: &str) -> String {
    set_cookie(
        DEVICE_COOKIE,
        &login::device_token(state, customer_id),
        login::DEVICE_TOKEN_SECS,
        state.config.session.cookie_secure,
    )
}

fn cleared(state: &AppState, name: &str) -> String {
    set_cookie(name, "", 0, state.config.session.cookie_secure)
}

fn register_form(visitor: &Visitor, sign_up: &SignUp, error: Option<&ApiError>) -> String {
    let field = |name: &str, label: &str, kind: &str, value: &str, extra: &str| {
        format!(
            r#"<label>{label}<input name="{name}" type="{kind}" value="{value}" {extra}></label>"#,
            value = esc(value)
        )
    };
    format!(
        r#"{error}<form method="post" action="/register" class="card">{csrf}
{id}{name}{email}{cpf}{password}
<button id="register-submit" type="submit">{submit}</button></form>"#,
        error = error
            .map(|e| error_box(visitor.lang, e))
            .unwrap_or_default(),
        csrf = visitor.csrf_field(),
        id = field(
            "customer_id",
            visitor.t("customer_id"),
            "text",
            &sign_up.customer_id,
            r#"required maxlength="64" autocomplete="username" autocapitalize="none""#
        ),
        name = field(
            "display_name",
            visitor.t("display_name"),
            "text",
            &sign_up.display_name,
            r#"required maxlength="200" autocomplete="name""#
        ),
        email = field(
            "email",
            visitor.t("email"),
            "email",
            &sign_up.email,
            r#"required maxlength="254" autocomplete="email""#
        ),
        cpf = field(
            "cpf",
            visitor.t("cpf"),
            "text",
            &sign_up.cpf,
            r#"required maxlength="32" inputmode="numeric" placeholder="000.000.000-00""#
        ),
        password = field(
            "password",
            visitor.t("password"),
            "password",
            "",
            r#"required minlength="8" maxlength="256" autocomplete="new-password""#
        ),
        submit = visitor.t("register"),
    )
}

/// `GET /register`.
pub async fn register_page(visitor: Visitor) -> Response {
    let body = register_form(&visitor, &SignUp::default(), None);
    visitor.page(StatusCode::OK, visitor.t("register"), &body)
}

/// A registration form post.
#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    sign_up: SignUp,
}

/// `POST /register`: creates the account, signs in, offers 2FA enrolment.
pub async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    PageForm(form): PageForm<RegisterForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf, &state)?;
    match actions::register(&state, ip, &form.sign_up).await {
        Ok(reply) => Ok(redirect_with_cookies(
            "/account/2fa?welcome=1",
            &[session_cookie(&state, &reply.customer_id)],
        )),
        Err(error) => {
            let status = error.status();
            let body = register_form(&visitor, &form.sign_up, Some(&error));
            Ok(visitor.page(status, visitor.t("register"), &body))
        }
    }
}

fn login_form(visitor: &Visitor, login_name: &str, error: Option<&ApiError>) -> String {
    format!(
        r#"{error}<form method="post" action="/login" class="card">{csrf}
<label>{login_label}<input name="login" type="text" value="{login}" required maxlength="254" autocomplete="username" autocapitalize="none"></label>
<label>{password_label}<input name="password" type="password" required maxlength="256" autocomplete="current-password"></label>
<button id="login-submit" type="submit">{submit}</button></form>
<p><a href="/register">{register}</a></p>"#,
        error = error
            .map(|e| error_box(visitor.lang, e))
            .unwrap_or_default(),
        csrf = visitor.csrf_field(),
        login_label = visitor.t("login_name"),
        login = esc(login_name),
        password_label = visitor.t("password_plain"),
        submit = visitor.t("login"),
        register = visitor.t("register"),
    )
}

/// `GET /login`.
pub async fn login_page(visitor: Visitor) -> Response {
    let body = login_form(&visitor, "", None);
    visitor.page(StatusCode::OK, visitor.t("login"), &body)
}

/// A login form post.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`: checks the password; asks for the code if enrolled.
pub async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    PageForm(form): PageForm<LoginForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf, &state)?;
    let device = cookie(&headers, DEVICE_COOKIE);
    let outcome = async {
        let login_name = crate::web::text_field("login", &form.login, 254)?;
        let limit_key = login::limit_key(&state, login_name, device.as_deref());
        state.limits.check(Guarded::Login, ip, &limit_key)?;
        login::check_password(&state, login_name, &form.password, device.as_deref()).await
    }
    .await;
    match outcome {
        Ok(PasswordOutcome::SignedIn { customer_id }) => Ok(redirect_with_cookies(
            "/",
            &[
                session_cookie(&state, &customer_id),
                device_cookie(&state, &customer_id),
            ],
        )),
        Ok(PasswordOutcome::NeedsCode { customer_id }) => {
            let token = state.signer.issue(
                Purpose::SecondFactor,
                &customer_id,
                clock::now_secs() + SECOND_FACTOR_TTL_SECS,
            );
            let cookie = set_cookie(
                SECOND_FACTOR_COOKIE,
                &token,
                SECOND_FACTOR_TTL_SECS,
                state.config.session.cookie_secure,
            );
            Ok(redirect_with_cookies("/login/2fa", &[cookie]))
        }
        Err(error) => {
            let status = error.status();
            let body = login_form(&visitor, &form.login, Some(&error));
            let mut response = visitor.page(status, visitor.t("login"), &body);
            if let Some(wait) = error.retry_after() {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(crate::error::retry_after_secs(wait)),
                );
            }
            Ok(response)
        }
    }
}

fn code_form(
    visitor: &Visitor,
    action: &str,
    hidden: &str,
    submit_id: &str,
    submit: &str,
    error: Option<&ApiError>,
) -> String {
    format!(
        r#"{error}<form method="post" action="{action}" class="card">{csrf}{hidden}
<label>{label}<input name="code" type="text" inputmode="numeric" pattern="[0-9 ]*" maxlength="8" autocomplete="one-time-code" required autofocus></label>
<button id="{submit_id}" type="submit">{submit}</button></form>"#,
        error = error
            .map(|e| error_box(visitor.lang, e))
            .unwrap_or_default(),
        csrf = visitor.csrf_field(),
        label = visitor.t("code"),
    )
}

/// `GET /login/2fa`.
pub async fn second_factor_page(visitor: Visitor, headers: HeaderMap) -> Response {
    if cookie(&headers, SECOND_FACTOR_COOKIE).is_none() {
        return Redirect::to("/login").into_response();
    }
    let body = format!(
        "<p>{}</p>{}",
        visitor.t("twofa_login"),
        code_form(
            &visitor,
            "/login/2fa",
            "",
            "code-submit",
            visitor.t("continue"),
            None
        )
    );
    visitor.page(StatusCode::OK, visitor.t("twofa_title"), &body)
}

/// A code form post.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    secret: String,
}

/// `POST /login/2fa`: checks the code, then signs in.
pub async fn second_factor(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    PageForm(form): PageForm<CodeForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf, &state)?;
    let token = cookie(&headers, SECOND_FACTOR_COOKIE).unwrap_or_default();
    let claims = match state
        .signer
        .verify(&token, Purpose::SecondFactor, clock::now_secs())
    {
        Ok(claims) => claims,
        Err(_) => return Ok(Redirect::to("/login").into_response()),
    };
    let device = cookie(&headers, DEVICE_COOKIE);
    let outcome = async {
        let limit_key = login::limit_key(&state, &claims.customer_id, device.as_deref());
        state.limits.check(Guarded::Login, ip, &limit_key)?;
        login::check_code(&state, &claims.customer_id, &form.code, device.as_deref()).await
    }
    .await;
    match outcome {
        Ok(()) => Ok(redirect_with_cookies(
            "/?signed_in=1",
            &[
                session_cookie(&state, &claims.customer_id),
                device_cookie(&state, &claims.customer_id),
                cleared(&state, SECOND_FACTOR_COOKIE),
            ],
        )),
        Err(error) => {
            let body = format!(
                "<p>{}</p>{}",
                visitor.t("twofa_login"),
                code_form(
                    &visitor,
                    "/login/2fa",
                    "",
                    "code-submit",
                    visitor.t("continue"),
                    Some(&error)
                )
            );
            Ok(visitor.page(error.status(), visitor.t("twofa_title"), &body))
        }
    }
}

/// A form post with only the CSRF field.
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    PageForm(form): PageForm<CsrfOnly>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf, &state)?;
    Ok(redirect_with_cookies(
        "/",
        &[
            cleared(&state, SESSION_COOKIE),
            cleared(&state, SECOND_FACTOR_COOKIE),
        ],
    ))
}

fn enrol_body(
    visitor: &Visitor,
    customer_id: &str,
    secret: &str,
    error: Option<&ApiError>,
    welcome: bool,
) -> String {
    let uri = totp::otpauth_uri("IngressoJá", customer_id, secret);
    let hidden = format!(
        r#"<input type="hidden" name="secret" value="{}">"#,
        esc(secret)
    );
    format!(
        r#"{welcome}<p>{scan}</p>
<div id="totp-qr" class="qr">{qr}</div>
<p>{manual} <code id="totp-secret">{secret}</code></p>
{form}
<p><a href="/">{skip}</a></p>"#,
        welcome = if welcome {
            format!(r#"<p class="notice">{}</p>"#, visitor.t("welcome"))
        } else {
            String::new()
        },
        scan = visitor.t("twofa_scan"),
        qr = qr::svg(&uri),
        manual = visitor.t("twofa_manual"),
        secret = esc(secret),
        form = code_form(
            visitor,
            "/account/2fa",
            &hidden,
            "totp-submit",
            visitor.t("twofa_activate"),
            error
        ),
        skip = visitor.t("twofa_skip"),
    )
}

/// `?welcome=1` after registration.
#[derive(Deserialize)]
pub struct WelcomeQuery {
    welcome: Option<String>,
}

/// `GET /account/2fa`: a fresh secret and its QR code to scan.
pub async fn enrol_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<WelcomeQuery>,
) -> Result<Response, PageError> {
    let customer_id = visitor.buyer()?.to_string();
    let credentials = state
        .cluster
        .get_credentials(&customer_id)
        .await
        .map_err(|e| visitor.error(e.into()))?;
    if !credentials.totp_secret.is_empty() {
        let body = format!(r#"<p class="notice">{}</p>"#, visitor.t("twofa_already"));
        return Ok(visitor.page(StatusCode::OK, visitor.t("twofa_title"), &body));
    }
    let body = enrol_body(
        &visitor,
        &customer_id,
        &totp::new_secret(),
        None,
        query.welcome.is_some(),
    );
    Ok(visitor.page(StatusCode::OK, visitor.t("twofa_title"), &body))
}

/// `POST /account/2fa`: confirms the code and turns 2FA on.
pub async fn enrol(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    PageForm(form): PageForm<CodeForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf, &state)?;
    let customer_id = visitor.buyer()?.to_string();
    let outcome = async {
        state.limits.check(Guarded::Login, ip, &customer_id)?;
        login::enrol(&state, &customer_id, form.secret.trim(), &form.code).await
    }
    .await;
    match outcome {
        Ok(()) => {
            let body = format!(
                r#"<p class="notice" id="totp-enabled">{}</p><p><a href="/">{}</a></p>"#,
                visitor.t("twofa_on"),
                visitor.t("events")
            );
            Ok(visitor.page(StatusCode::OK, visitor.t("twofa_title"), &body))
        }
        Err(error) => {
            let body = enrol_body(
                &visitor,
                &customer_id,
                form.secret.trim(),
                Some(&error),
                false,
            );
            Ok(visitor.page(error.status(), visitor.t("twofa_title"), &body))
        }
    }
}

/// `GET /lang/{pt|en}`: remembers the language and goes back.
pub async fn language(
    State(state): State<AppState>,
    Path(lang): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = if lang == "en" { "en" } else { "pt" };
    let back = headers
        .get("referer")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.find("://")
                .and_then(|i| r[i + 3..].find('/').map(|j| r[i + 3 + j..].to_string()))
        })
        .filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    redirect_with_cookies(
        &back,
        &[set_cookie(
            LANG_COOKIE,
            lang,
            86_400 * 365,
            state.config.session.cookie_secure,
        )],
    )
}
