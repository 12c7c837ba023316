//! Turning the addresses operators type (`host:port`) into gRPC endpoints.
//!
//! Addresses are kept in one canonical form, `host:port`, so that the same
//! node named as `127.0.0.1:7101` on the command line and as
//! `http://127.0.0.1:7101` in a leader hint is recognised as one node.

use std::time::Duration;

use tonic::transport::{ClientTlsConfig, Endpoint, Uri};

use crate::error::ClientError;

/// How long connecting to a node may take before it counts as down.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A validated node address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Address {
    /// Canonical `host:port`, the node's identity inside the client.
    pub addr: String,
    /// The `http://host:port` URI tonic dials.
    pub uri: String,
}

/// Validates `raw` (`host:port`, optionally with an `http://` prefix and a
/// trailing slash) and returns its canonical form.
pub(crate) fn normalise(raw: &str) -> Result<Address, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidEndpoint {
        endpoint: raw.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid("the address is empty"));
    }
    let rest = match trimmed.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some(_) => return Err(invalid("only plain http:// (or no scheme) is supported")),
        None => trimmed,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err(invalid("expected host:port, found a path"));
    }
    let uri: Uri = format!("http://{rest}")
        .parse()
        .map_err(|_| invalid("expected host:port"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| invalid("expected host:port"))?;
    if authority.as_str().contains('@') {
        return Err(invalid("user info is not supported"));
    }
    if authority.host().is_empty() {
        return Err(invalid("the host is missing"));
    }
    match authority.port_u16() {
        None => return Err(invalid("the port is missing (expected host:port)")),
        Some(0) => return Err(invalid("port 0 is not a valid port")),
        Some(_) => {}
    }
    let addr = authority.as_str().to_string();
    Ok(Address {
        uri: format!("http://{addr}"),
        addr,
    })
}

/// The endpoint both kinds of call start from: a valid URI, mutual TLS when
/// `tls` is given, and a bounded connect.
fn base_endpoint(
    address: &Address,
    request_timeout: Duration,
    tls: Option<&ClientTlsConfig>,
) -> Result<Endpoint, ClientError> {
    let invalid = |err: tonic::transport::Error| ClientError::InvalidEndpoint {
        endpoint: address.addr.clone(),
        reason: err.to_string(),
    };
    let endpoint = match tls {
        None => Endpoint::from_shared(address.uri.clone()).map_err(invalid)?,
        Some(tls) => Endpoint::from_shared(format!("https://{}", address.addr))
            .and_then(|e| e.tls_config(tls.clone()))
            .map_err(invalid)?,
    };
    Ok(endpoint
        .connect_timeout(CONNECT_TIMEOUT.min(request_timeout))
        .tcp_nodelay(true))
}

/// Builds the tonic endpoint for `address`: a dead node costs at most
/// [`CONNECT_TIMEOUT`] to connect and `request_timeout` per call, never a hang.
pub(crate) fn endpoint(
    address: &Address,
    request_timeout: Duration,
    tls: Option<&ClientTlsConfig>,
) -> Result<Endpoint, ClientError> {
    Ok(base_endpoint(address, request_timeout, tls)?.timeout(request_timeout))
}

/// How often an idle event stream is pinged to tell a dead node from a quiet one.
pub(crate) const STREAM_KEEPALIVE: Duration = Duration::from_secs(5);

/// Builds the tonic endpoint for a long-lived server stream to `address`:
/// connecting is bounded like [`endpoint`], but the call is not (a quiet
/// stream is fine). HTTP/2 pings, answered within `request_timeout`, tell a
/// dead or frozen node from a quiet one.
pub(crate) fn stream_endpoint(
    address: &Address,
    request_timeout: Duration,
    tls: Option<&ClientTlsConfig>,
) -> Result<Endpoint, ClientError> {
    Ok(base_endpoint(address, request_timeout, tls)?
        .http2_keep_alive_interval(STREAM_KEEPALIVE)
        .keep_alive_timeout(request_timeout.max(Duration::from_secs(1)))
        .keep_alive_while_idle(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        normalise(raw)
            .unwrap_or_else(|e| panic!("{raw:?}: {e}"))
            .addr
    }

    fn reason(raw: &str) -> String {
        match normalise(raw) {
            Err(ClientError::InvalidEndpoint { endpoint, reason }) => {
                assert_eq!(endpoint, raw);
                reason
            }
            other => panic!("{raw:?} gave {other:?}"),
        }
    }

    #[test]
    fn plain_host_port_is_kept() {
        assert_eq!(ok("127.0.0.1:7101"), "127.0.0.1:7101");
        assert_eq!(ok("node-2.internal:7102"), "node-2.internal:7102");
        assert_eq!(ok("[::1]:7103"), "[::1]:7103");
    }

    #[test]
    fn scheme_whitespace_and_trailing_slash_are_dropped() {
        assert_eq!(ok(" http://127.0.0.1:7101/ "), "127.0.0.1:7101");
        assert_eq!(ok("HTTP://localhost:7101"), "localhost:7101");
    }

    #[test]
    fn the_uri_has_the_http_scheme() {
        assert_eq!(
            normalise("127.0.0.1:7101").unwrap().uri,
            "http://127.0.0.1:7101"
        );
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        assert!(reason("").contains("empty"));
        assert!(reason("   ").contains("empty"));
        assert!(reason("127.0.0.1").contains("port is missing"));
        assert!(reason("127.0.0.1:0").contains("port 0"));
        assert!(reason("https://127.0.0.1:7101").contains("http://"));
        assert!(reason("127.0.0.1:7101/admin").contains("path"));
        assert!(reason(":7101").contains("host"));
        assert!(reason("127.0.0.1:notaport").contains("host:port"));
        assert!(reason("user@host:7101").contains("user info"));
    }

    #[test]
    fn endpoint_builds_without_a_runtime() {
        let address = normalise("127.0.0.1:7101").unwrap();
        let endpoint = endpoint(&address, Duration::from_secs(2), None).unwrap();
        assert_eq!(endpoint.uri().to_string(), "http://127.0.0.1:7101/");
    }
}
