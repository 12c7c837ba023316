//! The cluster's certificate authority: one key that signs every node's,
//! gateway's and operator's certificate.
//!
//! Its key signs identities, so it belongs offline in production; the local,
//! compose and test clusters keep it beside the certificates so that a
//! missing certificate (a node added later) can be issued on the next start.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::error::PkiError;
use crate::identity::Identity;
use crate::material::NODE_SERVER_NAME;

/// How long a CA certificate is valid.
const CA_VALIDITY: Duration = Duration::days(3650);
/// How long a certificate it issues is valid: rotate within a year.
const LEAF_VALIDITY: Duration = Duration::days(365);
/// Accepted clock skew between the issuer and the verifiers.
const BACKDATE: Duration = Duration::hours(1);

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct IssuedCertificate {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key: secret.
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A cluster's CA, able to issue identities.
pub struct Authority {
    cluster: String,
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl Authority {
    /// A new CA for `cluster` (a fresh P-256 key).
    pub fn generate(cluster: &str) -> Result<Authority, PkiError> {
        // Validates the cluster name the way every identity will.
        Identity::new(cluster, crate::Role::Operator, "ca")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "IngressoJá");
        name.push(
            DnType::CommonName,
            format!("IngressoJá CA of cluster {cluster}"),
        );
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_VALIDITY;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Authority {
            cluster: cluster.to_string(),
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA of `cluster` from its PEM certificate and key.
    pub fn load(cluster: &str, cert_pem: &str, key_pem: &str) -> Result<Authority, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Authority {
            cluster: cluster.to_string(),
            issuer,
            cert_pem: cert_pem.to_string(),
        })
    }

    /// The cluster this CA signs for.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The CA certificate every process trusts.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key, PEM: secret.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// A certificate for `identity` (of this CA's cluster), with a fresh key.
    /// Nodes' certificates serve TLS under [`NODE_SERVER_NAME`] and act as
    /// clients (Raft); the others are clients only.
    pub fn issue(&self, identity: &Identity) -> Result<IssuedCertificate, PkiError> {
        if identity.cluster() != self.cluster {
            return Err(PkiError::Issue(format!(
                "{identity} is not of cluster {}",
                self.cluster
            )));
        }
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "IngressoJá");
        name.push(DnType::CommonName, identity.uri());
        params.distinguished_name = name;
        let uri = identity
            .uri()
            .try_into()
            .map_err(|e: rcgen::Error| PkiError::Issue(e.to_string()))?;
        params.subject_alt_names.push(SanType::URI(uri));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if identity.role() == crate::Role::Node {
            let server = NODE_SERVER_NAME
                .try_into()
                .map_err(|e: rcgen::Error| PkiError::Issue(e.to_string()))?;
            params.subject_alt_names.push(SanType::DnsName(server));
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + LEAF_VALIDITY;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn der(pem: &str) -> Vec<u8> {
        crate::material::first_certificate(pem.as_bytes()).unwrap()
    }

    #[test]
    fn an_issued_certificate_carries_its_identity() {
        let ca = Authority::generate("festival").unwrap();
        for identity in [
            Identity::node("festival", 2).unwrap(),
            Identity::new("festival", Role::Gateway, "gw-1").unwrap(),
            Identity::new("festival", Role::Operator, "ops").unwrap(),
        ] {
            let issued = ca.issue(&identity).unwrap();
            assert_eq!(
                Identity::from_der(&der(&issued.cert_pem)).unwrap(),
                identity
            );
        }
    }

    #[test]
    fn a_loaded_ca_issues_like_the_original() {
        let ca = Authority::generate("festival").unwrap();
        let again = Authority::load("festival", ca.cert_pem(), &ca.key_pem()).unwrap();
        let node = Identity::node("festival", 9).unwrap();
        let issued = again.issue(&node).unwrap();
        assert_eq!(Identity::from_der(&der(&issued.cert_pem)).unwrap(), node);
    }

    #[test]
    fn a_ca_does_not_sign_for_another_cluster() {
        let ca = Authority::generate("festival").unwrap();
        let stranger = Identity::node("other", 1).unwrap();
        assert!(matches!(ca.issue(&stranger), Err(PkiError::Issue(_))));
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let ca = Authority::generate("festival").unwrap();
        let issued = ca.issue(&Identity::node("festival", 1).unwrap()).unwrap();
        assert!(!format!("{issued:?}").contains("PRIVATE KEY"));
    }
}
