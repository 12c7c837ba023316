//! A directory holding a whole cluster's certificates: what the local,
//! compose, test and chaos clusters make on their first start.
//!
//! Layout: `ca.pem` and `ca.key` (the authority), and for each identity
//! `<role>-<name>.pem` and `<role>-<name>.key`. Keys are written with mode
//! 0600 and every file appears whole (written aside, then renamed). Made by
//! one process at a time (the CLI's `pki init`, a harness), before the
//! processes that read it start.

use std::path::{Path, PathBuf};

use crate::authority::Authority;
use crate::error::PkiError;
use crate::identity::Identity;
use crate::material::TlsMaterial;

/// A cluster's certificate directory.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
}

fn write_file(path: &Path, contents: &str, secret: bool) -> Result<(), PkiError> {
    let failed = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    // `<name>.partial` beside it (a certificate and its key never share
    // one), made afresh with its mode: a leftover of a crash is replaced.
    let mut aside_name = path.file_name().unwrap_or_default().to_os_string();
    aside_name.push(".partial");
    let aside = path.with_file_name(aside_name);
    let _ = std::fs::remove_file(&aside);
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if secret { 0o600 } else { 0o644 });
        }
        let mut file = options.open(&aside).map_err(failed)?;
        file.write_all(contents.as_bytes()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
    }
    std::fs::rename(&aside, path).map_err(failed)
}

impl Bundle {
    /// The bundle in `dir`, as it is (nothing is read or made).
    pub fn at(dir: &Path) -> Bundle {
        Bundle {
            dir: dir.to_path_buf(),
        }
    }

    /// Makes sure `dir` holds a CA for `cluster` and a certificate for each
    /// of `identities`: what exists is kept, what is missing is issued by
    /// the CA found there (or a new one when there is none).
    pub fn ensure(dir: &Path, cluster: &str, identities: &[Identity]) -> Result<Bundle, PkiError> {
        let bundle = Bundle::at(dir);
        std::fs::create_dir_all(dir).map_err(|source| PkiError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let (ca_cert, ca_key) = (bundle.ca_file(), dir.join("ca.key"));
        if ca_cert.exists() && !ca_key.exists() {
            // The key kept offline, as it should be in production: issuing
            // here would replace the CA every certificate trusts.
            return Err(PkiError::Invalid {
                what: "CA key",
                path: ca_key,
                reason: "missing beside ca.pem: issue with the CA's key where it is kept \
                         (a new CA would invalidate every certificate)"
                    .into(),
            });
        }
        let authority = if ca_cert.exists() && ca_key.exists() {
            let read = |what, path: &Path| {
                std::fs::read_to_string(path).map_err(|source| PkiError::Read {
                    what,
                    path: path.to_path_buf(),
                    source,
                })
            };
            Authority::load(
                cluster,
                &read("CA certificate", &ca_cert)?,
                &read("key", &ca_key)?,
            )?
        } else {
            let authority = Authority::generate(cluster)?;
            write_file(&ca_key, &authority.key_pem(), true)?;
            write_file(&ca_cert, authority.cert_pem(), false)?;
            authority
        };
        for identity in identities {
            let (cert, key) = (bundle.cert_file(identity), bundle.key_file(identity));
            if cert.exists() && key.exists() {
                continue;
            }
            let issued = authority.issue(identity)?;
            write_file(&key, &issued.key_pem, true)?;
            write_file(&cert, &issued.cert_pem, false)?;
        }
        Ok(bundle)
    }

    /// Makes sure the directory holds `session.key`, the gateways' shared
    /// session-signing key (32 random bytes, hex, mode 0600), and returns
    /// its path. Kept here so the compose file's one-shot `pki` service, the
    /// only process that writes secrets, makes it too.
    pub fn ensure_session_key(&self) -> Result<PathBuf, PkiError> {
        self.ensure_secret("session.key")
    }

    /// Makes sure the directory holds `ticket.key`, the key signing the
    /// tickets' QR codes (what a gate scanner holds; not the session key).
    pub fn ensure_ticket_key(&self) -> Result<PathBuf, PkiError> {
        self.ensure_secret("ticket.key")
    }

    fn ensure_secret(&self, name: &str) -> Result<PathBuf, PkiError> {
        let path = self.dir.join(name);
        if !path.exists() {
            let key: [u8; 32] = rand::random();
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            write_file(&path, &format!("{hex}\n"), true)?;
        }
        Ok(path)
    }

    /// Copies what `identity` needs, and nothing else, into `dest`: the CA
    /// certificate, its own certificate and key (same names as here), and
    /// for a gateway the session and ticket keys. What a container mounts,
    /// so a broken-into gateway holds no CA key, no operator's key and no
    /// other process's key.
    pub fn export(&self, identity: &Identity, dest: &Path) -> Result<(), PkiError> {
        std::fs::create_dir_all(dest).map_err(|source| PkiError::Write {
            path: dest.to_path_buf(),
            source,
        })?;
        let mut files = vec![(self.ca_file(), false)];
        files.push((self.cert_file(identity), false));
        files.push((self.key_file(identity), true));
        if identity.role() == crate::Role::Gateway {
            files.push((self.ensure_session_key()?, true));
            files.push((self.ensure_ticket_key()?, true));
        }
        for (file, secret) in files {
            let text = std::fs::read_to_string(&file).map_err(|source| PkiError::Read {
                what: if secret { "key" } else { "certificate" },
                path: file.clone(),
                source,
            })?;
            let name = file.file_name().unwrap_or_default();
            write_file(&dest.join(name), &text, secret)?;
        }
        Ok(())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate every process trusts.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Where `identity`'s certificate is.
    pub fn cert_file(&self, identity: &Identity) -> PathBuf {
        self.files_of(identity.role(), identity.name()).0
    }

    /// Where `identity`'s private key is.
    pub fn key_file(&self, identity: &Identity) -> PathBuf {
        self.files_of(identity.role(), identity.name()).1
    }

    /// The certificate and key files of the holder `name` of `role`.
    pub fn files_of(&self, role: crate::Role, name: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{role}-{name}.pem")),
            self.dir.join(format!("{role}-{name}.key")),
        )
    }

    /// The material of the holder `name` of `role`, whatever its cluster
    /// (the CA decides that): what a tool that knows only the directory uses.
    pub fn material_of(&self, role: crate::Role, name: &str) -> Result<TlsMaterial, PkiError> {
        let (cert, key) = self.files_of(role, name);
        TlsMaterial::load_as(&self.ca_file(), &cert, &key, role, None)
    }

    /// `identity`'s material, loaded and checked.
    pub fn material(&self, identity: &Identity) -> Result<TlsMaterial, PkiError> {
        TlsMaterial::load_as(
            &self.ca_file(),
            &self.cert_file(identity),
            &self.key_file(identity),
            identity.role(),
            identity.node_id(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn identities() -> Vec<Identity> {
        vec![
            Identity::node("local", 1).unwrap(),
            Identity::node("local", 2).unwrap(),
            Identity::new("local", Role::Gateway, "gateway").unwrap(),
            Identity::new("local", Role::Operator, "operator").unwrap(),
        ]
    }

    #[test]
    fn a_bundle_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = Bundle::ensure(dir.path(), "local", &identities()).unwrap();
        for identity in identities() {
            assert_eq!(bundle.material(&identity).unwrap().identity(), &identity);
        }
        let ca = std::fs::read(bundle.ca_file()).unwrap();
        let node1 = std::fs::read(bundle.cert_file(&identities()[0])).unwrap();
        let mut more = identities();
        more.push(Identity::node("local", 3).unwrap());
        let again = Bundle::ensure(dir.path(), "local", &more).unwrap();
        assert_eq!(std::fs::read(again.ca_file()).unwrap(), ca);
        assert_eq!(std::fs::read(again.cert_file(&more[0])).unwrap(), node1);
        again.material(&more[4]).unwrap();
    }

    #[test]
    fn a_ca_whose_key_is_kept_elsewhere_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        Bundle::ensure(dir.path(), "local", &identities()).unwrap();
        let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
        std::fs::remove_file(dir.path().join("ca.key")).unwrap();
        let mut more = identities();
        more.push(Identity::node("local", 3).unwrap());
        let refused = Bundle::ensure(dir.path(), "local", &more).unwrap_err();
        assert!(
            matches!(refused, PkiError::Invalid { what: "CA key", .. }),
            "{refused}"
        );
        assert_eq!(std::fs::read(dir.path().join("ca.pem")).unwrap(), ca);
    }

    #[test]
    fn an_export_holds_only_what_its_holder_needs() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = Bundle::ensure(dir.path(), "local", &identities()).unwrap();
        let node1 = dir.path().join("export-node-1");
        bundle.export(&identities()[0], &node1).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&node1)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["ca.pem", "node-1.key", "node-1.pem"]);
        Bundle::at(&node1).material(&identities()[0]).unwrap();
        let web = dir.path().join("export-gateway");
        bundle.export(&identities()[2], &web).unwrap();
        for file in [
            "ca.pem",
            "gateway-gateway.pem",
            "gateway-gateway.key",
            "session.key",
            "ticket.key",
        ] {
            assert!(web.join(file).is_file(), "{file}");
        }
        assert!(!web.join("ca.key").exists());
    }

    #[test]
    fn the_session_key_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = Bundle::ensure(dir.path(), "local", &identities()).unwrap();
        let path = bundle.ensure_session_key().unwrap();
        let key = std::fs::read_to_string(&path).unwrap();
        assert_eq!(key.trim().len(), 64);
        assert!(key.trim().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(bundle.ensure_session_key().unwrap(), path);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), key);
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bundle = Bundle::ensure(dir.path(), "local", &identities()).unwrap();
        let session = bundle.ensure_session_key().unwrap();
        for path in [
            dir.path().join("ca.key"),
            bundle.key_file(&identities()[0]),
            session,
        ] {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
    }

    #[test]
    fn material_of_the_wrong_role_or_node_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = Bundle::ensure(dir.path(), "local", &identities()).unwrap();
        let gateway = &identities()[2];
        let as_operator = TlsMaterial::load_as(
            &bundle.ca_file(),
            &bundle.cert_file(gateway),
            &bundle.key_file(gateway),
            Role::Operator,
            None,
        );
        assert!(matches!(as_operator, Err(PkiError::WrongIdentity { .. })));
        let node1 = &identities()[0];
        let as_node2 = TlsMaterial::load_as(
            &bundle.ca_file(),
            &bundle.cert_file(node1),
            &bundle.key_file(node1),
            Role::Node,
            Some(2),
        );
        assert!(matches!(as_node2, Err(PkiError::WrongIdentity { .. })));
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = Bundle::ensure(dir.path(), "local", &identities()).unwrap();
        let (node1, node2) = (&identities()[0], &identities()[1]);
        let mixed = TlsMaterial::load(
            &bundle.ca_file(),
            &bundle.cert_file(node1),
            &bundle.key_file(node2),
        );
        match mixed {
            Err(PkiError::Invalid {
                what: "key",
                reason,
                ..
            }) => {
                assert!(reason.contains("not the key"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let missing = TlsMaterial::load(
            &dir.path().join("nope.pem"),
            &bundle.cert_file(node1),
            &bundle.key_file(node1),
        );
        assert!(matches!(
            missing,
            Err(PkiError::Read {
                what: "CA certificate",
                ..
            })
        ));
    }
}
