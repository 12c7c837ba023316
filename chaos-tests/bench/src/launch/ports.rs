//! Refusing to start on a port that is taken, with a message naming it,
//! instead of a system that half starts and a confusing failure later.

use std::io::ErrorKind;
use std::net::TcpListener;

use crate::error::BenchError;

/// Fails with [`BenchError::PortInUse`] unless 127.0.0.1:`port` is free.
/// `what` names the listener and `option` the flag that moves it.
pub fn ensure_free(port: u16, what: &str, option: &str) -> Result<(), BenchError> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => {
            drop(listener);
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AddrInUse => Err(BenchError::PortInUse {
            port,
            what: what.to_string(),
            option: option.to_string(),
        }),
        Err(e) => Err(BenchError::StartFailed {
            what: what.to_string(),
            reason: format!("cannot bind 127.0.0.1:{port}: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_named() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = ensure_free(port, "node 1 (gRPC)", "grpc-port-base").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&port.to_string()) && text.contains("already in use"),
            "{text}"
        );
        assert!(text.contains("--grpc-port-base"), "{text}");
        drop(listener);
        ensure_free(port, "node 1 (gRPC)", "grpc-port-base").unwrap();
    }
}
