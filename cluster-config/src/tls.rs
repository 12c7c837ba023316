//! `[tls]`: the files of a process's mutual-TLS material, and the one way to
//! go without (`insecure_dev`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Where this process's certificate, its key and the cluster's CA are.
/// Relative paths are resolved against the process's working directory.
/// `ingressoja pki init` makes a cluster's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The cluster's CA certificate (PEM): the only issuer trusted.
    pub ca_file: PathBuf,
    /// This process's certificate (PEM), naming its role.
    pub cert_file: PathBuf,
    /// Its private key (PEM). Secret: keep it readable by the process only.
    pub key_file: PathBuf,
}

impl TlsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (field, path) in [
            ("tls.ca_file", &self.ca_file),
            ("tls.cert_file", &self.cert_file),
            ("tls.key_file", &self.key_file),
        ] {
            if path.as_os_str().is_empty() {
                return Err(ConfigError::invalid(field, "must not be empty"));
            }
        }
        Ok(())
    }
}

/// A process runs with TLS, or — only when asked in so many words — without:
/// exactly one of `[tls]` and `insecure_dev = true`.
pub(crate) fn validate_transport(
    tls: Option<&TlsConfig>,
    insecure_dev: bool,
) -> Result<(), ConfigError> {
    match (tls, insecure_dev) {
        (Some(tls), false) => tls.validate(),
        (None, true) => Ok(()),
        (None, false) => Err(ConfigError::invalid(
            "tls",
            "missing: give the [tls] section (ca_file, cert_file, key_file; \
             `ingressoja pki init` makes them), or run without TLS on a \
             trusted dev machine with insecure_dev = true (--insecure-dev)",
        )),
        (Some(_), true) => Err(ConfigError::invalid(
            "insecure_dev",
            "set together with [tls]: choose one",
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{error_of, full_with, FULL};
    use crate::NodeConfig;

    /// FULL without its `[tls]` section (the last one in the fixture).
    fn without_tls() -> String {
        FULL[..FULL.find("[tls]").unwrap()].to_string()
    }

    #[test]
    fn a_node_without_tls_is_refused_and_told_the_flag() {
        let error = error_of(&without_tls());
        assert!(error.starts_with("tls: missing"), "{error}");
        assert!(error.contains("insecure_dev = true"), "{error}");
        assert!(error.contains("--insecure-dev"), "{error}");
    }

    #[test]
    fn insecure_dev_alone_is_accepted() {
        let text = format!("insecure_dev = true\n{}", without_tls());
        let config = NodeConfig::from_toml_str(&text).unwrap();
        assert!(config.insecure_dev && config.tls.is_none());
    }

    #[test]
    fn tls_and_insecure_dev_together_are_refused() {
        let error = error_of(&format!("insecure_dev = true\n{FULL}"));
        assert!(error.starts_with("insecure_dev: set together"), "{error}");
    }

    #[test]
    fn an_empty_tls_path_names_its_field() {
        let text = full_with(
            r#"key_file = "/etc/ingressoja/pki/node-2.key""#,
            r#"key_file = """#,
        );
        assert_eq!(error_of(&text), "tls.key_file: must not be empty");
    }

    #[test]
    fn the_dev_flag_loads_a_file_without_tls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, without_tls()).unwrap();
        assert!(NodeConfig::load(&path).is_err());
        assert!(NodeConfig::load_insecure_dev(&path).unwrap().insecure_dev);
        std::fs::write(&path, FULL).unwrap();
        let both = NodeConfig::load_insecure_dev(&path)
            .unwrap_err()
            .to_string();
        assert!(both.starts_with("insecure_dev:"), "{both}");
    }
}
