//! Roles and identities: what a certificate says about its holder.

use std::fmt;

/// The scheme of the URI name that carries an [`Identity`] in a certificate.
pub const URI_SCHEME: &str = "ingressoja://";

/// What a certificate's holder is allowed to be. The node's rule table says
/// which RPCs each role may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A Raft node of the cluster: the only role that may send Raft RPCs.
    Node,
    /// A stateless gateway: the shop's calls and the credential RPCs.
    Gateway,
    /// A person or tool operating the cluster: the CLI, the benchmark, the
    /// chaos harness. Admin RPCs (membership, snapshots, backups, exports).
    Operator,
}

impl Role {
    /// Every role, for tables and tests that must cover them all.
    pub const ALL: [Role; 3] = [Role::Node, Role::Gateway, Role::Operator];

    /// The role's name as written in certificates and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Node => "node",
            Role::Gateway => "gateway",
            Role::Operator => "operator",
        }
    }

    /// The role named `text`, if any.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a cluster, role or name cannot make an identity, or a certificate
/// does not carry one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A field of the identity breaks its rule.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidField {
        /// `cluster`, `role` or `name`.
        field: &'static str,
        /// The value given.
        value: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The certificate could not be parsed.
    #[error("the certificate cannot be parsed: {0}")]
    Unparsable(String),
    /// The certificate has no `ingressoja://` URI name (or more than one).
    #[error("the certificate carries {0} ingressoja:// identities, expected exactly one")]
    NotOne(usize),
}

/// Who holds a certificate: `ingressoja://<cluster>/<role>/<name>`.
///
/// A node's name is its Raft id, so a Raft call can be checked against the
/// sender the message claims to be.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    cluster: String,
    role: Role,
    name: String,
}

fn check_label(field: &'static str, value: &str, max: usize) -> Result<(), IdentityError> {
    let invalid = |reason| IdentityError::InvalidField {
        field,
        value: value.to_string(),
        reason,
    };
    if value.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if value.len() > max {
        return Err(invalid("is too long"));
    }
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if !value.chars().all(ok) {
        return Err(invalid("may hold only a-z, 0-9 and '-'"));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err(invalid("must not start or end with '-'"));
    }
    Ok(())
}

impl Identity {
    /// An identity, validated: cluster and name are 1 to 63 characters of
    /// `a-z`, `0-9` and `-`; a node's name is its Raft id (> 0).
    pub fn new(cluster: &str, role: Role, name: &str) -> Result<Identity, IdentityError> {
        check_label("cluster", cluster, 63)?;
        check_label("name", name, 63)?;
        // Canonical: "01" would name node 1 under another spelling.
        if role == Role::Node
            && !matches!(name.parse::<u64>(), Ok(id) if id > 0 && id.to_string() == name)
        {
            return Err(IdentityError::InvalidField {
                field: "name",
                value: name.to_string(),
                reason: "a node is named by its Raft id, a number > 0",
            });
        }
        Ok(Identity {
            cluster: cluster.to_string(),
            role,
            name: name.to_string(),
        })
    }

    /// Node `id` of `cluster`.
    pub fn node(cluster: &str, id: u64) -> Result<Identity, IdentityError> {
        Identity::new(cluster, Role::Node, &id.to_string())
    }

    /// The cluster the holder belongs to.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// What the holder may do.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The holder's name within its role.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Raft id of a node's identity; `None` for other roles.
    pub fn node_id(&self) -> Option<u64> {
        match self.role {
            Role::Node => self.name.parse().ok(),
            _ => None,
        }
    }

    /// The URI written into the certificate.
    pub fn uri(&self) -> String {
        format!("{URI_SCHEME}{}/{}/{}", self.cluster, self.role, self.name)
    }

    /// Parses the URI written by [`uri`](Self::uri).
    pub fn from_uri(uri: &str) -> Result<Identity, IdentityError> {
        let invalid = |reason| IdentityError::InvalidField {
            field: "uri",
            value: uri.to_string(),
            reason,
        };
        let rest = uri
            .strip_prefix(URI_SCHEME)
            .ok_or_else(|| invalid("does not start with ingressoja://"))?;
        let mut parts = rest.split('/');
        let (Some(cluster), Some(role), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("expected ingressoja://<cluster>/<role>/<name>"));
        };
        let role = Role::parse(role).ok_or_else(|| invalid("unknown role"))?;
        Identity::new(cluster, role, name)
    }

    /// The identity a DER certificate carries: its one `ingressoja://` URI
    /// name. The certificate's signature is not checked here: the TLS
    /// handshake already did, against the cluster's CA.
    pub fn from_der(der: &[u8]) -> Result<Identity, IdentityError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| IdentityError::Unparsable(e.to_string()))?;
        let names = cert
            .subject_alternative_name()
            .map_err(|e| IdentityError::Unparsable(e.to_string()))?;
        let uris: Vec<&str> = names
            .iter()
            .flat_map(|ext| ext.value.general_names.iter())
            .filter_map(|name| match name {
                x509_parser::extensions::GeneralName::URI(uri) if uri.starts_with(URI_SCHEME) => {
                    Some(*uri)
                }
                _ => None,
            })
            .collect();
        match uris.as_slice() {
            [uri] => Identity::from_uri(uri),
            other => Err(IdentityError::NotOne(other.len())),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_round_trips_through_its_uri() {
        for role in Role::ALL {
            let id = Identity::new("festival", role, "7").unwrap();
            assert_eq!(Identity::from_uri(&id.uri()).unwrap(), id);
        }
        let node = Identity::node("festival", 3).unwrap();
        assert_eq!(node.uri(), "ingressoja://festival/node/3");
        assert_eq!(node.node_id(), Some(3));
        let gateway = Identity::new("festival", Role::Gateway, "gw-1").unwrap();
        assert_eq!(gateway.node_id(), None);
    }

    #[test]
    fn bad_identities_name_the_field() {
        let field = |r: Result<Identity, IdentityError>| match r {
            Err(IdentityError::InvalidField { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(Identity::new("", Role::Gateway, "a")), "cluster");
        assert_eq!(field(Identity::new("Fest", Role::Gateway, "a")), "cluster");
        assert_eq!(field(Identity::new("f/x", Role::Gateway, "a")), "cluster");
        assert_eq!(field(Identity::new("f", Role::Gateway, "-a")), "name");
        assert_eq!(field(Identity::new("f", Role::Node, "gw")), "name");
        assert_eq!(field(Identity::new("f", Role::Node, "0")), "name");
        assert_eq!(field(Identity::new("f", Role::Node, "01")), "name");
        assert_eq!(field(Identity::from_uri("https://f/node/1")), "uri");
        assert_eq!(field(Identity::from_uri("ingressoja://f/admin/1")), "uri");
        assert_eq!(field(Identity::from_uri("ingressoja://f/node/1/x")), "uri");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(matches!(
            Identity::from_der(b"not a certificate"),
            Err(IdentityError::Unparsable(_))
        ));
    }
}
