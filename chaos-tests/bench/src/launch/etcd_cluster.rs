//! A fresh 3-member etcd cluster for one run, from Debian's `etcd-server`
//! package, on loopback ports with its data in a temporary directory.
//! etcd's defaults are kept: the WAL is fsynced before a write is answered.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::children::{launch_dir, Children};
use super::ports::ensure_free;
use crate::error::BenchError;
use crate::target::etcd::proto::RangeRequest;

/// Members in the cluster.
const MEMBERS: u16 = 3;
/// Longest wait for the cluster to answer.
const READY: Duration = Duration::from_secs(60);
/// How to get etcd on Debian.
pub const INSTALL: &str = "apt-get update && apt-get install -y etcd-server";

/// A running etcd cluster; stopped (and its directory removed) when dropped.
pub struct EtcdCluster {
    children: Children,
    dir: TempDir,
    /// The members' client addresses (`127.0.0.1:port`).
    pub addrs: Vec<String>,
}

/// The etcd binary: `explicit`, else `etcd` in PATH.
pub fn find_etcd(explicit: Option<&Path>) -> Result<PathBuf, BenchError> {
    let found = match explicit {
        Some(path) => path.is_file().then(|| path.to_path_buf()),
        None => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("etcd"))
                .find(|p| p.is_file())
        }),
    };
    found.ok_or_else(|| BenchError::NotInstalled {
        system: "etcd".into(),
        detail: match explicit {
            Some(p) => format!("no etcd binary at {}", p.display()),
            None => "no `etcd` in PATH".into(),
        },
        install: INSTALL.into(),
    })
}

impl EtcdCluster {
    /// Starts three members: member `i` (0-based) serves clients on
    /// `port_base + 2i` and peers on `port_base + 2i + 1`.
    pub async fn start(etcd: &Path, port_base: u16) -> Result<EtcdCluster, BenchError> {
        let client_port = |i: u16| port_base + 2 * i;
        let peer_port = |i: u16| port_base + 2 * i + 1;
        for i in 0..MEMBERS {
            ensure_free(
                client_port(i),
                &format!("etcd member {} (clients)", i + 1),
                "etcd-port-base",
            )?;
            ensure_free(
                peer_port(i),
                &format!("etcd member {} (peers)", i + 1),
                "etcd-port-base",
            )?;
        }
        let dir = launch_dir("ingressoja-bench-etcd-")?;
        let initial: Vec<String> = (0..MEMBERS)
            .map(|i| format!("m{i}=http://127.0.0.1:{}", peer_port(i)))
            .collect();
        let initial = initial.join(",");
        let mut children = Children::default();
        for i in 0..MEMBERS {
            let client_url = format!("http://127.0.0.1:{}", client_port(i));
            let peer_url = format!("http://127.0.0.1:{}", peer_port(i));
            let mut command = Command::new(etcd);
            command
                .arg("--name")
                .arg(format!("m{i}"))
                .arg("--data-dir")
                .arg(dir.path().join(format!("m{i}")))
                .args([
                    "--listen-client-urls",
                    &client_url,
                    "--advertise-client-urls",
                    &client_url,
                ])
                .args([
                    "--listen-peer-urls",
                    &peer_url,
                    "--initial-advertise-peer-urls",
                    &peer_url,
                ])
                .args([
                    "--initial-cluster",
                    &initial,
                    "--initial-cluster-state",
                    "new",
                ])
                .args(["--initial-cluster-token", "ingressoja-bench"])
                .args(["--log-level", "warn"]);
            children.spawn(
                &format!("etcd m{i}"),
                command,
                &dir.path().join(format!("m{i}.log")),
                "TERM",
            )?;
        }
        let addrs = (0..MEMBERS)
            .map(|i| format!("127.0.0.1:{}", client_port(i)))
            .collect();
        let mut cluster = EtcdCluster {
            children,
            dir,
            addrs,
        };
        cluster.wait_ready().await?;
        Ok(cluster)
    }

    async fn wait_ready(&mut self) -> Result<(), BenchError> {
        let addrs = &self.addrs;
        self.children
            .wait_until_ready(
                "the etcd cluster",
                "not ready",
                self.dir.path(),
                (READY, Duration::from_millis(200)),
                move || async move {
                    for addr in addrs {
                        if !answers(addr).await {
                            return false;
                        }
                    }
                    true
                },
            )
            .await
    }
}

/// Whether the member at `addr` serves a linearizable read (so a leader exists).
async fn answers(addr: &str) -> bool {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://{addr}")) else {
        return false;
    };
    let endpoint = endpoint
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(2));
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    if grpc.ready().await.is_err() {
        return false;
    }
    let codec =
        tonic_prost::ProstCodec::<RangeRequest, crate::target::etcd::proto::RangeResponse>::default(
        );
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/etcdserverpb.KV/Range");
    let request = RangeRequest {
        key: b"ready".to_vec(),
        range_end: Vec::new(),
    };
    grpc.unary(tonic::Request::new(request), path, codec)
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_etcd_gives_the_install_command() {
        let err = find_etcd(Some(Path::new("/nonexistent/etcd"))).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("apt-get install -y etcd-server"), "{text}");
    }
}
