//! The attack suite: what someone on the network with nothing but the
//! repository would try against a node, each tried against a real cluster
//! (in-process nodes, RocksDB, mutual TLS on) and refused.
//!
//! - [`roles`]: every RPC of the contract, called with each role's
//!   certificate the RPC is not open to: `permission_denied`, naming the
//!   role it needs; and the right role gets past the gate.
//! - [`transport`]: no certificate, a certificate of another CA, of another
//!   cluster, a node posing as another in Raft: refused.
//! - [`startup`]: a node started without certificates and without
//!   `--insecure-dev` exits non-zero, naming the flag.
//! - [`accounts`]: an account id made to shadow someone's e-mail.

mod accounts;
mod roles;
mod startup;
mod transport;

use std::time::Duration;

use ingressoja_pki::TlsMaterial;
use ingressoja_proto::rpcs::Rpc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

/// Longest wait for a leader.
pub const ELECTION: Duration = Duration::from_secs(15);

/// A TLS channel to `addr` presenting `material`.
pub fn channel(addr: &str, material: &TlsMaterial) -> Channel {
    Endpoint::from_shared(format!("https://{addr}"))
        .expect("an address")
        .tls_config(material.client_config())
        .expect("TLS settings")
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect_lazy()
}

/// A plaintext channel to `addr`.
pub fn plaintext_channel(addr: &str) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("an address")
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect_lazy()
}

/// Calls `rpc` on `channel` with an empty request (every field at its
/// default) and returns how it ended: `Ok` if the node served it (a reply,
/// or the first message of a stream), else the status. The access check
/// comes before any decoding, so an empty request is enough to be refused.
pub async fn call(channel: Channel, rpc: &Rpc) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("not ready: {e}")))?;
    let path = PathAndQuery::from_static(rpc.path);
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    if rpc.server_streaming {
        let mut stream = grpc
            .server_streaming(Request::new(()), path, codec)
            .await?
            .into_inner();
        // A stream that was let through may stay quiet: that is served.
        match tokio::time::timeout(Duration::from_secs(2), stream.message()).await {
            Ok(first) => first.map(|_| ()),
            Err(_) => Ok(()),
        }
    } else {
        grpc.unary(Request::new(()), path, codec).await.map(|_| ())
    }
}

/// Whether a call's outcome is the access check's refusal.
pub fn refused(outcome: &Result<(), Status>) -> bool {
    matches!(outcome, Err(s) if s.code() == Code::PermissionDenied)
}
