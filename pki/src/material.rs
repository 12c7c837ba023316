//! A process's TLS material: its certificate and key and the cluster's CA,
//! read from files, checked, and turned into tonic's settings.

use std::path::Path;

use std::sync::Arc;

use tonic::transport::{Certificate, ClientTlsConfig, Identity as TlsIdentity};

use crate::error::PkiError;
use crate::identity::{Identity, Role};

/// The DNS name every node's certificate serves under, and the name clients
/// check. One name for all nodes: the addresses clients dial (loopback,
/// container names, leader hints) vary, the cluster's CA does not, and the
/// role inside the certificate says the rest.
pub const NODE_SERVER_NAME: &str = "ingressoja-node";

/// Certificate, key and CA of one process, loaded and checked.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    identity: Identity,
    ca_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("identity", &self.identity)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, PkiError> {
    std::fs::read(path).map_err(|source| PkiError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// The DER of the first certificate in a PEM text.
pub(crate) fn first_certificate(pem: &[u8]) -> Result<Vec<u8>, String> {
    for item in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let item = item.map_err(|e| format!("not PEM: {e}"))?;
        if item.label == "CERTIFICATE" {
            return Ok(item.contents);
        }
    }
    Err("holds no PEM CERTIFICATE".into())
}

impl TlsMaterial {
    /// Reads and checks the CA certificate, this process's certificate and
    /// its private key: each parses, the certificate carries one identity,
    /// and the key is the certificate's.
    pub fn load(
        ca_file: &Path,
        cert_file: &Path,
        key_file: &Path,
    ) -> Result<TlsMaterial, PkiError> {
        let ca_pem = read("CA certificate", ca_file)?;
        let cert_pem = read("certificate", cert_file)?;
        let key_pem = read("key", key_file)?;
        let invalid = |what, path: &Path, reason| PkiError::Invalid {
            what,
            path: path.to_path_buf(),
            reason,
        };
        first_certificate(&ca_pem).map_err(|r| invalid("CA certificate", ca_file, r))?;
        let cert_der =
            first_certificate(&cert_pem).map_err(|r| invalid("certificate", cert_file, r))?;
        let identity = Identity::from_der(&cert_der).map_err(|e| PkiError::WrongIdentity {
            path: cert_file.to_path_buf(),
            reason: e.to_string(),
        })?;
        let key_text = String::from_utf8(key_pem.clone())
            .map_err(|_| invalid("key", key_file, "not PEM text".into()))?;
        let key = rcgen::KeyPair::from_pem(&key_text)
            .map_err(|e| invalid("key", key_file, format!("not a private key: {e}")))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| invalid("certificate", cert_file, e.to_string()))?;
        if cert.public_key().raw != rcgen::PublicKeyData::subject_public_key_info(&key).as_slice() {
            return Err(invalid(
                "key",
                key_file,
                format!(
                    "it is not the key of the certificate {}",
                    cert_file.display()
                ),
            ));
        }
        Ok(TlsMaterial {
            identity,
            ca_pem,
            cert_pem,
            key_pem,
        })
    }

    /// Loads like [`load`](Self::load) and requires the certificate to be of
    /// `role` (and, for a node, of node `node_id`).
    pub fn load_as(
        ca_file: &Path,
        cert_file: &Path,
        key_file: &Path,
        role: Role,
        node_id: Option<u64>,
    ) -> Result<TlsMaterial, PkiError> {
        let material = TlsMaterial::load(ca_file, cert_file, key_file)?;
        let identity = material.identity();
        let wrong = |reason: String| PkiError::WrongIdentity {
            path: cert_file.to_path_buf(),
            reason,
        };
        if identity.role() != role {
            return Err(wrong(format!(
                "it names {identity}, a {} certificate, where a {role} certificate is needed",
                identity.role()
            )));
        }
        if let Some(id) = node_id {
            if identity.node_id() != Some(id) {
                return Err(wrong(format!("it names {identity}, not node {id}")));
            }
        }
        Ok(material)
    }

    /// Who this process is.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// TLS for a node's listener (rustls, `ring`): serve this certificate
    /// over HTTP/2, and require every caller to present one signed by the
    /// cluster's CA. The node builds a new one on reload and swaps it in.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let invalid = |what, reason: String| PkiError::Unusable { what, reason };
        // The process's provider: `ring`, the only one compiled in (aws-lc
        // would add a long C build).
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(&self.ca_pem) {
            let ca = ca.map_err(|e| invalid("CA certificate", e.to_string()))?;
            roots
                .add(ca)
                .map_err(|e| invalid("CA certificate", e.to_string()))?;
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .map_err(|e| invalid("CA certificate", e.to_string()))?;
        let chain = CertificateDer::pem_slice_iter(&self.cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("certificate", e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem)
            .map_err(|e| invalid("key", e.to_string()))?;
        let mut config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| invalid("certificate", e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// TLS for calls to nodes: trust only the cluster's CA, check the node
    /// name, and present this certificate.
    pub fn client_config(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(TlsIdentity::from_pem(&self.cert_pem, &self.key_pem))
            .domain_name(NODE_SERVER_NAME)
    }
}
