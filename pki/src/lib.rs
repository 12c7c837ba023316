//! Who is calling: the certificates of an IngressoJá cluster and the roles
//! they carry.
//!
//! Every process speaks mutual TLS to the nodes. A certificate says who its
//! holder is with one URI subject-alternative name,
//! `ingressoja://<cluster>/<role>/<name>` ([`Identity`]): a node (named by its
//! Raft id), a gateway or an operator (the CLI, the benchmark, the chaos
//! harness). The cluster's own certificate authority signs them all, so a
//! certificate from another cluster or another CA never gets past the
//! handshake; what a verified caller may do is the node's rule table's
//! business (`node/src/service/access.rs`).
//!
//! - [`identity`]: roles and identities, and reading one out of a certificate;
//! - [`authority`]: the cluster's CA, issuing certificates (with `rcgen`);
//! - [`bundle`]: a directory of certificates for a whole local cluster, made
//!   on first start and reused after;
//! - [`material`]: a process's own certificate, key and CA loaded from files,
//!   turned into tonic's server and client TLS settings.

pub mod authority;
pub mod bundle;
pub mod error;
pub mod identity;
pub mod material;

pub use authority::{Authority, IssuedCertificate};
pub use bundle::Bundle;
pub use error::PkiError;
pub use identity::{Identity, IdentityError, Role};
pub use material::{TlsMaterial, NODE_SERVER_NAME};
