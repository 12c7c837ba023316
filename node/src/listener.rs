//! The node's gRPC listener: accepts TCP connections, runs the TLS
//! handshake with the certificate of the moment, and hands tonic each
//! connection with the caller's certificate chain attached.
//!
//! Why not tonic's own TLS: its settings are fixed when the server starts,
//! so a renewed certificate would need a restart. Here the rustls settings
//! sit behind a lock: [`ServerTls::reload`] reads the files again and new
//! handshakes use them at once, while connections already open go on with
//! the certificate they were made with (still valid: a rotation overlaps).
//! A reload that fails (a half-written file, a key that is not the
//! certificate's) changes nothing and says why.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use ingressoja_cluster_config::TlsConfig;
use ingressoja_pki::{Identity, PkiError, Role, TlsMaterial};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take to finish its handshake: a connection that
/// opens and says nothing must not hold a task (and a descriptor) for long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);
/// Handshakes in flight at once: beyond it, new connections wait to be
/// accepted (in the kernel's backlog), so a flood of connections that never
/// finish a handshake cannot use up the node's file descriptors.
const HANDSHAKES_IN_FLIGHT: usize = 256;

/// The node's server-side TLS: its files, and the settings loaded from them.
pub struct ServerTls {
    files: TlsConfig,
    node_id: u64,
    current: RwLock<(Arc<rustls::ServerConfig>, TlsMaterial)>,
}

impl ServerTls {
    /// Loads node `node_id`'s material from `files`.
    pub fn load(files: &TlsConfig, node_id: u64) -> Result<ServerTls, PkiError> {
        let material = load_material(files, node_id)?;
        Ok(ServerTls {
            files: files.clone(),
            node_id,
            current: RwLock::new((material.server_config()?, material)),
        })
    }

    /// This node's material as last loaded.
    pub fn material(&self) -> TlsMaterial {
        self.read().1.clone()
    }

    /// Reads the files again; new handshakes use them from now on. On an
    /// error nothing changes.
    pub fn reload(&self) -> Result<Identity, PkiError> {
        let material = load_material(&self.files, self.node_id)?;
        let config = material.server_config()?;
        let identity = material.identity().clone();
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (config, material);
        Ok(identity)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (Arc<rustls::ServerConfig>, TlsMaterial)> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }

    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.read().0.clone())
    }
}

fn load_material(files: &TlsConfig, node_id: u64) -> Result<TlsMaterial, PkiError> {
    TlsMaterial::load_as(
        &files.ca_file,
        &files.cert_file,
        &files.key_file,
        Role::Node,
        Some(node_id),
    )
}

/// Who the caller is, read once per connection from the certificate it
/// presented (not per call: a parse per RPC would cost the hot path), as
/// tonic puts it in every request's extensions for the access layer.
#[derive(Debug, Clone)]
pub struct PeerIdentity(pub Arc<Result<Identity, String>>);

/// One accepted, handshaken connection.
pub struct TlsConnection(TlsStream<TcpStream>);

impl tonic::transport::server::Connected for TlsConnection {
    type ConnectInfo = PeerIdentity;

    fn connect_info(&self) -> PeerIdentity {
        let identity = match self.0.get_ref().1.peer_certificates() {
            Some([leaf, ..]) => Identity::from_der(leaf).map_err(|e| e.to_string()),
            _ => Err("no client certificate".to_string()),
        };
        PeerIdentity(Arc::new(identity))
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Accepts connections on `listener` and handshakes each (at once, each on
/// its own task, bounded by [`HANDSHAKE_TIMEOUT`], at most
/// [`HANDSHAKES_IN_FLIGHT`] at a time); what comes out is what
/// tonic serves. A failed handshake (no certificate, another CA) is logged
/// and dropped. Ends when the returned receiver is dropped.
pub fn accept(
    listener: TcpListener,
    tls: Arc<ServerTls>,
) -> (
    tokio_stream::wrappers::ReceiverStream<io::Result<TlsConnection>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel(64);
    let handshakes = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_IN_FLIGHT));
    let task = tokio::spawn(async move {
        loop {
            let slot = tokio::select! {
                slot = handshakes.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => return,
                },
                () = tx.closed() => return,
            };
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, go on.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = tx.closed() => return,
            };
            // Nagle would hold a reply's second frame until the peer's
            // delayed ACK (about 40 ms on Linux).
            let _ = tcp.set_nodelay(true);
            let acceptor = tls.acceptor();
            let tx = tx.clone();
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
                drop(slot);
                // Debug, not info: a stranger's failed handshakes must not
                // be a way to flood the node's log.
                match handshake {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(TlsConnection(stream))).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake refused"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    (tokio_stream::wrappers::ReceiverStream::new(rx), task)
}
