//! A node that would serve without TLS unless told in so many words.

use std::process::Command;

/// A node config with no `[tls]` section.
const WITHOUT_TLS: &str = r#"
id = 1
data_dir = "data"

[listen]
grpc = "127.0.0.1:1"

[[peers]]
id = 1
addr = "127.0.0.1:1"
"#;

/// Runs the node binary on `config` in `dir`; its exit and stderr.
fn start(dir: &std::path::Path, config: &str) -> (bool, String) {
    let path = dir.join("node.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ingressoja-node"))
        .arg("--config")
        .arg(&path)
        .env_remove("INGRESSOJA_INSECURE_DEV")
        .current_dir(dir)
        .output()
        .expect("the node binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_node_without_certificates_refuses_to_start_and_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (started, stderr) = start(dir.path(), WITHOUT_TLS);
    assert!(!started);
    assert!(stderr.contains("tls: missing"), "{stderr}");
    assert!(stderr.contains("--insecure-dev"), "{stderr}");
    // And no data directory was made: it stopped before touching storage.
    assert!(!dir.path().join("data").exists());
}

#[test]
fn a_node_with_certificate_files_that_are_not_there_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{WITHOUT_TLS}\n[tls]\nca_file = \"ca.pem\"\ncert_file = \"node-1.pem\"\nkey_file = \"node-1.key\"\n"
    );
    let (started, stderr) = start(dir.path(), &text);
    assert!(!started);
    assert!(
        stderr.contains("cannot read the CA certificate file ca.pem"),
        "{stderr}"
    );
    assert!(!dir.path().join("data").exists());
}
