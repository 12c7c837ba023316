//! Syntax check of advertised `host:port` addresses.
//!
//! Peer addresses are not resolved here (DNS names such as `node1` only exist
//! inside the deployment network); we only make sure they *can* be dialed.

/// Checks that `addr` is `host:port` with a plausible host and a port in
/// `1..=65535`. On failure returns why, in a few words.
///
/// Accepted hosts: DNS names / IPv4 literals made of letters, digits, `-`,
/// `_` and `.` (no empty label), and bracketed IPv6 literals (`[::1]`).
pub(crate) fn check_host_port(addr: &str) -> Result<(), &'static str> {
    if addr.contains("://") {
        return Err("expected host:port without a scheme such as http://");
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err("expected host:port");
    };
    check_host(host)?;
    check_port(port)
}

/// Checks a bare host: DNS name, IPv4 literal or bracketed IPv6 literal.
pub(crate) fn check_host(host: &str) -> Result<(), &'static str> {
    if host.is_empty() {
        return Err("host is empty");
    }
    if let Some(inner) = host.strip_prefix('[') {
        let Some(ip6) = inner.strip_suffix(']') else {
            return Err("unterminated [ in IPv6 host");
        };
        return match ip6.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => Err("invalid IPv6 address between [ ]"),
        };
    }
    if host.contains(':') {
        return Err("IPv6 hosts must be written in brackets, e.g. [::1]:7101");
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err("host contains characters not allowed in a hostname or IP");
    }
    if host.len() > 253 {
        return Err("host is longer than 253 characters");
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err("host has an empty label (stray '.')");
        }
        if label.len() > 63 {
            return Err("host has a label longer than 63 characters");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("host label starts or ends with '-'");
        }
    }
    Ok(())
}

fn check_port(port: &str) -> Result<(), &'static str> {
    if port.is_empty() {
        return Err("port is empty");
    }
    if !port.chars().all(|c| c.is_ascii_digit()) {
        return Err("port is not a number");
    }
    match port.parse::<u16>() {
        Ok(0) => Err("port must be in 1..=65535"),
        Ok(_) => Ok(()),
        Err(_) => Err("port must be in 1..=65535"),
    }
}

#[cfg(test)]
mod tests {
    use super::check_host_port;

    #[test]
    fn accepts_names_ipv4_and_bracketed_ipv6() {
        for ok in [
            "node1:7101",
            "127.0.0.1:7101",
            "ingressoja-node-3.cluster.local:1",
            "my_node:65535",
            "[::1]:7101",
            "[fe80::1]:80",
        ] {
            assert_eq!(check_host_port(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_addresses_with_a_reason() {
        let cases = [
            ("x:y", "port is not a number"),
            ("node1", "expected host:port"),
            (":7101", "host is empty"),
            ("node1:", "port is empty"),
            ("node1:0", "port must be in 1..=65535"),
            ("node1:65536", "port must be in 1..=65535"),
            ("node1:99999999999999999999", "port must be in 1..=65535"),
            ("node1:-1", "port is not a number"),
            (
                "::1:7101",
                "IPv6 hosts must be written in brackets, e.g. [::1]:7101",
            ),
            ("[::1:7101", "unterminated [ in IPv6 host"),
            ("[zz]:7101", "invalid IPv6 address between [ ]"),
            (
                "no de:1",
                "host contains characters not allowed in a hostname or IP",
            ),
            (
                "http://node1:1",
                "expected host:port without a scheme such as http://",
            ),
            ("node1..x:1", "host has an empty label (stray '.')"),
            ("-node:1", "host label starts or ends with '-'"),
        ];
        for (addr, why) in cases {
            assert_eq!(check_host_port(addr), Err(why), "{addr}");
        }
    }
}
