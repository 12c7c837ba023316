//! Syntax check of the few HTTP URLs a gateway config holds (its own public
//! URL, webhook targets). No URL crate: we only need scheme, authority and
//! path, and want failures explained in a few words like [`crate::addr`].

use crate::addr::{check_host, check_host_port};

/// An `http(s)://authority/path` URL split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HttpUrl<'a> {
    /// `http` or `https`.
    pub(crate) scheme: &'a str,
    /// `host` or `host:port` (`[v6]` / `[v6]:port` for IPv6).
    pub(crate) authority: &'a str,
    /// Everything after the authority, query included; empty or starting
    /// with `/`.
    pub(crate) path: &'a str,
}

impl HttpUrl<'_> {
    /// Whether the authority carries an explicit port.
    pub(crate) fn has_port(&self) -> bool {
        !self.authority.ends_with(']') && self.authority.contains(':')
    }
}

/// Splits `url` and checks its syntax: scheme `http` or `https` (lower
/// case), a valid host with an optional port, no credentials, no fragment,
/// no whitespace. On failure returns why, in a few words.
pub(crate) fn parse_http_url(url: &str) -> Result<HttpUrl<'_>, &'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("must start with http:// or https://");
    };
    if scheme != "http" && scheme != "https" {
        return Err("must start with http:// or https://");
    }
    if url.chars().any(char::is_whitespace) {
        return Err("must not contain whitespace");
    }
    if url.contains('#') {
        return Err("must not contain a fragment (#...)");
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if path.starts_with('?') {
        return Err("a query must follow a path starting with /");
    }
    if authority.contains('@') {
        return Err("must not contain credentials (user@host)");
    }
    let parsed = HttpUrl {
        scheme,
        authority,
        path,
    };
    if parsed.has_port() {
        check_host_port(authority)?;
    } else {
        check_host(authority)?;
    }
    Ok(parsed)
}

/// `url` without trailing slashes after its authority
/// (`http://h:1/` -> `http://h:1`), so paths can be appended with `/x`.
/// Text that is not a URL is returned unchanged for validation to reject.
pub(crate) fn strip_trailing_slashes(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.trim_end_matches('/')),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_http_url, strip_trailing_slashes, HttpUrl};

    #[test]
    fn splits_valid_urls() {
        let url = parse_http_url("http://hooks.local:9000/in/x?a=1").unwrap();
        assert_eq!(
            url,
            HttpUrl {
                scheme: "http",
                authority: "hooks.local:9000",
                path: "/in/x?a=1"
            }
        );
        assert!(url.has_port());
        let url = parse_http_url("https://[::1]").unwrap();
        assert_eq!(url.authority, "[::1]");
        assert_eq!(url.path, "");
        assert!(!url.has_port());
        assert!(parse_http_url("http://[::1]:8080/").unwrap().has_port());
    }

    #[test]
    fn rejects_malformed_urls_with_a_reason() {
        let cases = [
            ("localhost:8080", "must start with http:// or https://"),
            ("ftp://x", "must start with http:// or https://"),
            ("HTTP://x", "must start with http:// or https://"),
            ("http://", "host is empty"),
            ("http:///x", "host is empty"),
            ("http://x:y", "port is not a number"),
            ("http://x:0", "port must be in 1..=65535"),
            ("http://a b", "must not contain whitespace"),
            ("http://x/#top", "must not contain a fragment (#...)"),
            ("http://u:p@x", "must not contain credentials (user@host)"),
            ("http://x?a=1", "a query must follow a path starting with /"),
        ];
        for (url, why) in cases {
            assert_eq!(parse_http_url(url), Err(why), "{url}");
        }
    }

    #[test]
    fn strips_only_trailing_slashes() {
        assert_eq!(strip_trailing_slashes("http://h:1/"), "http://h:1");
        assert_eq!(strip_trailing_slashes("http://h/a//"), "http://h/a");
        assert_eq!(strip_trailing_slashes("http://"), "http://");
        assert_eq!(strip_trailing_slashes("h/"), "h/");
    }
}
