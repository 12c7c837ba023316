//! The page shell (header, notifications area, footer), HTML escaping, the
//! per-request [`Visitor`] (language, session, CSRF) and how errors show on a page.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use ingressoja_codes::RejectionCode;

use super::i18n::Lang;
use crate::auth::csrf;
use crate::error::{retry_after_secs, ApiError};
use crate::state::AppState;
use crate::web::{cookie, set_cookie, Buyer};

/// Escapes text for HTML element content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Centavos as `R$ 1.234,56`.
pub fn brl(cents: u64) -> String {
    let reais = cents / 100;
    let mut digits = reais.to_string();
    let mut grouped = String::new();
    while digits.len() > 3 {
        let tail = digits.split_off(digits.len() - 3);
        grouped = format!(".{tail}{grouped}");
    }
    format!("R$ {digits}{grouped},{:02}", cents % 100)
}

/// Who is looking at a page: language, session (if any) and CSRF nonce.
pub struct Visitor {
    /// The page language.
    pub lang: Lang,
    /// The signed-in customer, if the session cookie is valid.
    pub customer_id: Option<String>,
    csrf_nonce: String,
    fresh_nonce: bool,
    secure_cookies: bool,
    csrf_token: String,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let lang = Lang::of(&parts.headers);
        let customer_id = Buyer::from_headers(&parts.headers, state)
            .ok()
            .filter(|buyer| buyer.via_cookie)
            .map(|buyer| buyer.customer_id);
        let existing =
            cookie(&parts.headers, csrf::COOKIE).filter(|n| !n.is_empty() && n.len() <= 64);
        let fresh_nonce = existing.is_none();
        let csrf_nonce = existing.unwrap_or_else(csrf::new_nonce);
        let csrf_token = csrf::form_token(
            &state.signer,
            &csrf_nonce,
            customer_id.as_deref().unwrap_or(""),
        );
        Ok(Visitor {
            lang,
            customer_id,
            csrf_token,
            csrf_nonce,
            fresh_nonce,
            secure_cookies: state.config.session.cookie_secure,
        })
    }
}

impl Visitor {
    /// The text for `key` in the visitor's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The hidden CSRF field every form carries.
    pub fn csrf_field(&self) -> String {
        format!(
            r#"<input type="hidden" name="csrf" value="{}">"#,
            esc(&self.csrf_token)
        )
    }

    /// Refuses a form whose CSRF field does not match this browser.
    pub fn check_csrf(&self, token: &str, state: &AppState) -> Result<(), PageError> {
        let customer_id = self.customer_id.as_deref().unwrap_or("");
        if self.fresh_nonce || !csrf::check(&state.signer, &self.csrf_nonce, customer_id, token) {
            return Err(self.error(ApiError::Csrf));
        }
        Ok(())
    }

    /// The signed-in customer, or a redirect to the login page.
    pub fn buyer(&self) -> Result<&str, PageError> {
        self.customer_id
            .as_deref()
            .ok_or_else(|| self.error(ApiError::Unauthenticated("no session".into())))
    }

    /// `error` as it should show on a page for this visitor.
    pub fn error(&self, error: ApiError) -> PageError {
        PageError {
            error,
            lang: self.lang,
        }
    }

    /// A full page.
    pub fn page(&self, status: StatusCode, title: &str, body: &str) -> Response {
        let nav_account = match &self.customer_id {
            Some(customer_id) => format!(
                r#"<a href="/tickets">{tickets}</a>
<form method="post" action="/logout" class="inline">{csrf}<button id="logout" type="submit" class="link">{logout} ({who})</button></form>"#,
                tickets = self.t("my_tickets"),
                csrf = self.csrf_field(),
                logout = self.t("logout"),
                who = esc(customer_id),
            ),
            None => format!(
                r#"<a href="/login">{}</a> <a href="/register">{}</a>"#,
                self.t("login"),
                self.t("register")
            ),
        };
        let html = shell(
            self.lang,
            title,
            &nav_account,
            self.customer_id.as_deref().unwrap_or(""),
            body,
        );
        let mut response = (status, Html(html)).into_response();
        // Forms carry one-time request ids: never show a cached copy.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.fresh_nonce {
            let value = set_cookie(
                csrf::COOKIE,
                &self.csrf_nonce,
                86_400 * 30,
                self.secure_cookies,
            );
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }
}

fn shell(lang: Lang, title: &str, nav_account: &str, customer_id: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="{lang_tag}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · IngressoJá</title>
<link rel="stylesheet" href="/static/shop.css">
</head>
<body data-customer="{customer}" data-lang="{lang_tag}">
<header><a class="brand" href="/">IngressoJá</a><nav><a href="/">{events}</a> {nav_account}</nav></header>
<div id="notifications" aria-live="polite"></div>
<main>
<h1>{title}</h1>
{body}
</main>
<footer><a href="/lang/pt">Português</a> · <a href="/lang/en">English</a></footer>
<script id="texts" type="application/json">{texts}</script>
<script src="/static/shop.js"></script>
</body>
</html>"#,
        lang_tag = lang.html_tag(),
        title = esc(title),
        customer = esc(customer_id),
        events = lang.t("events"),
        texts = notification_texts(lang),
    )
}

/// The notification texts the page script needs, as JSON.
fn notification_texts(lang: Lang) -> String {
    let map: serde_json::Map<String, serde_json::Value> = super::i18n::TEXTS
        .iter()
        .filter(|(key, _, _)| {
            key.starts_with("n.")
                || key.starts_with("err.")
                || matches!(*key, "hold_expired_now" | "admitted" | "seconds")
        })
        .map(|(key, _, _)| (key.to_string(), lang.t(key)))
        .chain(super::i18n::code_keys(lang))
        .map(|(key, text)| (key, serde_json::Value::from(text)))
        .collect();
    // `</` cannot appear in the texts, but keep the script block unbreakable anyway.
    serde_json::Value::Object(map)
        .to_string()
        .replace("</", "<\\/")
}

/// An error shown as a page (or, for a missing session, a redirect to login).
#[derive(Debug)]
pub struct PageError {
    /// What went wrong.
    pub error: ApiError,
    /// In which language to say it.
    pub lang: Lang,
}

/// The buyer-facing sentence for `error`.
pub fn describe(lang: Lang, error: &ApiError) -> String {
    let key = format!("err.{}", error.code());
    let known = lang.t(&key);
    let mut text = if known == "?" {
        error.to_string()
    } else {
        known.to_string()
    };
    if let ApiError::Invalid { field, reason } = error {
        text = format!("{field}: {reason}");
    }
    // The cluster's own message names the field and what is wrong with it.
    if let ApiError::Rejected {
        refusal, message, ..
    } = error
    {
        if refusal.rejection() == Some(RejectionCode::InvalidField) {
            text = message.clone();
        }
    }
    if let Some(wait) = error.retry_after() {
        text = format!(
            "{text} ({} {}{})",
            lang.t("retry_in"),
            retry_after_secs(wait),
            lang.t("seconds")
        );
    }
    text
}

/// An error paragraph for a form.
pub fn error_box(lang: Lang, error: &ApiError) -> String {
    format!(
        r#"<p class="error" role="alert" data-code="{}">{}</p>"#,
        esc(error.code()),
        esc(&describe(lang, error))
    )
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if matches!(self.error, ApiError::Unauthenticated(_)) {
            return Redirect::to("/login").into_response();
        }
        if matches!(self.error, ApiError::Unavailable(_) | ApiError::Cluster(_)) {
            tracing::warn!(error = %self.error, "page failed on a cluster call");
        }
        let body = format!(
            r#"{}<p><a href="/">{}</a></p>"#,
            error_box(self.lang, &self.error),
            self.lang.t("back")
        );
        let html = shell(self.lang, self.lang.t("error_title"), "", "", &body);
        let mut response = (self.error.status(), Html(html)).into_response();
        if let Some(wait) = self.error.retry_after() {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs(wait)),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_money() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(brl(45_000), "R$ 450,00");
        assert_eq!(brl(123_456_789), "R$ 1.234.567,89");
        assert_eq!(brl(5), "R$ 0,05");
    }

    #[test]
    fn errors_read_as_sentences() {
        let sold_out = ApiError::from(ingressoja_client::ClientError::refused(
            RejectionCode::SoldOut,
            "x",
        ));
        assert!(describe(Lang::Pt, &sold_out).starts_with("Esgotado"));
        let bad_id = ApiError::from(ingressoja_client::ClientError::refused(
            RejectionCode::InvalidField,
            "customer_id: character 'ã' not allowed",
        ));
        assert_eq!(
            describe(Lang::En, &bad_id),
            "customer_id: character 'ã' not allowed"
        );
        let limited = ApiError::RateLimited {
            limit: "login per IP",
            retry_after: std::time::Duration::from_millis(1500),
        };
        assert!(describe(Lang::En, &limited).ends_with("(Try again in 2s)"));
        let field = ApiError::invalid("cpf", "check digits do not match");
        assert_eq!(describe(Lang::Pt, &field), "cpf: check digits do not match");
    }
}
