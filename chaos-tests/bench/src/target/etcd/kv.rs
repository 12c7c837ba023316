//! A minimal client of etcd's `etcdserverpb.KV` service over the workspace's
//! tonic: unary `Range`, `Put` and `Txn` calls, spread over channels to every
//! member (like etcd's own client balancer).

use std::time::Duration;

use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic::Status;

use super::proto::{PutRequest, PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse};

/// HTTP/2 connections opened to each member.
const CHANNELS_PER_MEMBER: usize = 2;

/// Channels to the members of an etcd cluster.
#[derive(Debug, Clone)]
pub struct KvClient {
    channels: Vec<Channel>,
}

impl KvClient {
    /// Lazily connecting channels to `host:port` client addresses.
    pub fn new(addrs: &[String]) -> Result<KvClient, String> {
        let mut channels = Vec::new();
        for addr in addrs {
            let endpoint = Endpoint::from_shared(format!("http://{addr}"))
                .map_err(|e| format!("{addr}: {e}"))?
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(10));
            for _ in 0..CHANNELS_PER_MEMBER {
                channels.push(endpoint.connect_lazy());
            }
        }
        if channels.is_empty() {
            return Err("no etcd address".into());
        }
        Ok(KvClient { channels })
    }

    async fn unary<Req, Resp>(
        &self,
        conn: usize,
        path: &'static str,
        request: Req,
    ) -> Result<Resp, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let channel = self.channels[conn % self.channels.len()].clone();
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(format!("etcd not ready: {e}")))?;
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        grpc.unary(
            tonic::Request::new(request),
            PathAndQuery::from_static(path),
            codec,
        )
        .await
        .map(tonic::Response::into_inner)
    }

    /// A linearizable read of `key` (or of `[key, range_end)` when `range_end` is not empty).
    pub async fn range(
        &self,
        conn: usize,
        key: Vec<u8>,
        range_end: Vec<u8>,
    ) -> Result<RangeResponse, Status> {
        self.unary(
            conn,
            "/etcdserverpb.KV/Range",
            RangeRequest { key, range_end },
        )
        .await
    }

    /// Writes `value` at `key`.
    pub async fn put(
        &self,
        conn: usize,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<PutResponse, Status> {
        self.unary(conn, "/etcdserverpb.KV/Put", PutRequest { key, value })
            .await
    }

    /// Runs a transaction.
    pub async fn txn(&self, conn: usize, txn: TxnRequest) -> Result<TxnResponse, Status> {
        self.unary(conn, "/etcdserverpb.KV/Txn", txn).await
    }
}
