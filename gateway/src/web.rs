//! HTTP plumbing shared by pages and API: cookies, the caller's IP, the
//! signed-in buyer, request ids, and body extractors whose failures are
//! typed [`ApiError`]s instead of axum's plain-text rejections.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::auth::session::Purpose;
use crate::clock;
use crate::error::ApiError;
use crate::pages::i18n::Lang;
use crate::pages::layout::PageError;
use crate::state::AppState;

/// Cookie carrying the session token.
pub const SESSION_COOKIE: &str = "ij_session";
/// The device token of the last login on this browser (`auth::login`).
pub const DEVICE_COOKIE: &str = "ij_device";
/// Cookie carrying the half-login token (password checked, code owed).
pub const SECOND_FACTOR_COOKIE: &str = "ij_2fa";
/// Cookie carrying the chosen language.
pub const LANG_COOKIE: &str = "ij_lang";

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, and Secure when
/// configured (browsers accept Secure cookies on http://localhost).
pub fn set_cookie(name: &str, value: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}")
}

/// The caller's IP: the TCP peer, or, when the peer is a configured trusted
/// proxy (the load balancer), the last address it appended to `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// The caller's address: the TCP peer, or, when the peer is one of the
/// `trusted` proxies, the address that proxy wrote into `X-Forwarded-For`.
///
/// The proxy appends what it saw to the end of the header; anything before
/// is whatever the client sent, so only the last entry of the last
/// `X-Forwarded-For` line counts (a client that sends its own line must not
/// pick its address). IPv4 addresses seen as IPv6 (`::ffff:a.b.c.d`, from a
/// dual-stack socket) are the IPv4 address, so one client is one bucket.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.iter().any(|proxy| proxy.to_canonical() == peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|line| line.to_str().ok())
        .and_then(|line| line.rsplit(',').next())
        .and_then(|entry| forwarded_ip(entry.trim()))
        .map_or(peer, |ip| ip.to_canonical())
}

/// One `X-Forwarded-For` entry: an address, or an address with a port
/// (`203.0.113.9:4711`, `[2001:db8::1]:4711`), as some proxies write it.
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The signed-in buyer, from the session cookie or an `Authorization:
/// Bearer` token. Refused with 401 `unauthenticated` otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buyer {
    /// The customer id the session belongs to.
    pub customer_id: String,
    /// Whether it came from a cookie (forms must then carry a CSRF field).
    pub via_cookie: bool,
}

impl Buyer {
    /// The buyer of `headers`, if any valid session is presented.
    pub fn from_headers(headers: &HeaderMap, state: &AppState) -> Result<Buyer, ApiError> {
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let (token, via_cookie) = match bearer {
            Some(token) => (token.to_string(), false),
            None => match cookie(headers, SESSION_COOKIE) {
                Some(token) => (token, true),
                None => {
                    return Err(ApiError::Unauthenticated(
                        "sign in first (no session)".into(),
                    ))
                }
            },
        };
        let claims = state
            .signer
            .verify(&token, Purpose::Session, clock::now_secs())?;
        Ok(Buyer {
            customer_id: claims.customer_id,
            via_cookie,
        })
    }
}

/// As an extractor (the JSON API), the session cookie is accepted only for
/// reads (`GET`, e.g. the notification stream a page opens): a write must
/// carry a bearer token, which no cross-site page can make a browser send.
impl FromRequestParts<AppState> for Buyer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let buyer = Buyer::from_headers(&parts.headers, state)?;
        if buyer.via_cookie && parts.method != axum::http::Method::GET {
            return Err(ApiError::Unauthenticated(
                "API writes need an Authorization: Bearer token (from /api/v1/login)".into(),
            ));
        }
        Ok(buyer)
    }
}

/// A JSON body whose decoding errors become `malformed_body` JSON errors.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    ApiError::MalformedBody(rejection.body_text())
}

/// A form body whose decoding errors become an error page in the
/// visitor's language.
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &S) -> Result<Self, PageError> {
        let lang = Lang::of(request.headers());
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(PageForm(value)),
            Err(rejection) => Err(PageError {
                error: form_rejection(rejection),
                lang,
            }),
        }
    }
}

fn form_rejection(rejection: FormRejection) -> ApiError {
    ApiError::MalformedBody(rejection.body_text())
}

/// Checks a text field: trimmed, non-empty, at most `max` bytes.
pub fn text_field<'a>(name: &str, value: &'a str, max: usize) -> Result<&'a str, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(name, "must not be empty"));
    }
    if value.len() > max {
        return Err(ApiError::invalid(
            name,
            format!("too long ({} bytes, at most {max})", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            name,
            "must not contain control characters",
        ));
    }
    Ok(value)
}

/// Checks an id field (customer, event, category): trimmed, then the rule the
/// node applies (`ingressoja_codes::validate_id`: 1 to 64 of
/// `[A-Za-z0-9._@+-]`), so an id the gateway accepts is one the cluster
/// accepts, and the gateway's client id for it fits the node's limit.
pub fn id_field<'a>(name: &str, value: &'a str) -> Result<&'a str, ApiError> {
    let value = value.trim();
    ingressoja_codes::validate_id(value)
        .map_err(|error| ApiError::invalid(name, error.to_string()))?;
    Ok(value)
}

/// The request id of a mutating call: from the page's hidden `request_id`
/// field or the API's `Idempotency-Key` header (a number, or any text,
/// hashed), else a fresh one. The same id through any gateway is the same request.
pub fn request_id(given: Option<&str>) -> Result<u64, ApiError> {
    match given.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(rand::random::<u64>() >> 1),
        Some(text) if text.len() > 128 => Err(ApiError::invalid(
            "Idempotency-Key",
            "at most 128 characters",
        )),
        Some(text) => Ok(text.parse::<u64>().unwrap_or_else(|_| {
            use sha2::{Digest, Sha256};
            let digest = Sha256::digest(text.as_bytes());
            u64::from_be_bytes(digest[..8].try_into().unwrap_or_default()) >> 1
        })),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn forwarded(lines: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", HeaderValue::from_static(line));
        }
        headers
    }

    #[test]
    fn a_client_cannot_pick_its_address_with_a_header_line_of_its_own() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        // The client's own line first, the proxy's line after it.
        let headers = forwarded(&["6.6.6.6", "203.0.113.9"]);
        assert_eq!(
            client_ip(proxy, &headers, &[proxy]),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // One line, the client's entries first and the proxy's appended.
        let headers = forwarded(&["6.6.6.6, 7.7.7.7, 203.0.113.9"]);
        assert_eq!(
            client_ip(proxy, &headers, &[proxy]),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // Not from the proxy: the header is the client's word, ignored.
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(stranger, &headers, &[proxy]), stranger);
    }

    #[test]
    fn a_forwarded_address_with_a_port_is_the_address() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        for (line, expected) in [
            ("203.0.113.9:4711", "203.0.113.9"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
        ] {
            let headers = forwarded(&[line]);
            assert_eq!(
                client_ip(proxy, &headers, &[proxy]),
                expected.parse::<IpAddr>().unwrap()
            );
        }
    }

    #[test]
    fn an_ipv4_client_seen_over_ipv6_is_the_ipv4_client() {
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        let plain: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(client_ip(mapped, &HeaderMap::new(), &[]), plain);
        // A proxy listed as IPv4 but connecting over a dual-stack socket.
        let proxy_v4: IpAddr = "10.0.0.2".parse().unwrap();
        let proxy_mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        let headers = forwarded(&["::ffff:203.0.113.9"]);
        assert_eq!(
            client_ip(proxy_mapped, &headers, &[proxy_v4]),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; ij_session=tok; b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn set_cookie_has_the_safe_flags() {
        let value = set_cookie("ij_session", "t", 60, true);
        for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Max-Age=60", "Path=/"] {
            assert!(value.contains(flag), "{value}");
        }
        assert!(!set_cookie("x", "y", 1, false).contains("Secure"));
    }

    #[test]
    fn text_fields_and_request_ids() {
        assert_eq!(text_field("name", "  Ana ", 10).unwrap(), "Ana");
        assert!(
            matches!(text_field("name", " ", 10), Err(ApiError::Invalid { field, .. }) if field == "name")
        );
        assert!(text_field("name", "abcdefghijk", 10).is_err());
        assert!(text_field("name", "a\u{7}b", 10).is_err());
        assert_eq!(id_field("event_id", " rock-2026 ").unwrap(), "rock-2026");
        assert_eq!(id_field("customer_id", &"a".repeat(64)).unwrap().len(), 64);
        let long = id_field("customer_id", &"a".repeat(65)).unwrap_err();
        assert_eq!(
            long.to_string(),
            "customer_id: longer than 64 bytes (65 bytes)"
        );
        assert!(id_field("customer_id", "joão").is_err());
        assert!(id_field("customer_id", "  ").is_err());
        assert_eq!(request_id(Some("42")).unwrap(), 42);
        assert_eq!(
            request_id(Some("abc")).unwrap(),
            request_id(Some("abc")).unwrap()
        );
        assert!(request_id(Some(&"x".repeat(129))).is_err());
        assert_ne!(request_id(None).unwrap(), request_id(None).unwrap());
    }
}
