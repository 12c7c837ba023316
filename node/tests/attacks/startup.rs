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

#[test]
fn a_node_without_certificates_refuses_to_start_and_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(&config, WITHOUT_TLS).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ingressoja-node"))
        .arg("--config")
        .arg(&config)
        .env_remove("INGRESSOJA_INSECURE_DEV")
        .current_dir(dir.path())
        .output()
        .expect("the node binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tls: missing"), "{stderr}");
    assert!(stderr.contains("--insecure-dev"), "{stderr}");
    // And no data directory was made: it stopped before touching storage.
    assert!(!dir.path().join("data").exists());
}

#[test]
fn a_node_with_certificate_files_that_are_not_there_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    let text = format!(
        "{WITHOUT_TLS}\n[tls]\nca_file = \"ca.pem\"\ncert_file = \"node-1.pem\"\nkey_file = \"node-1.key\"\n"
    );
    std::fs::write(&config, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ingressoja-node"))
        .arg("--config")
        .arg(&config)
        .env_remove("INGRESSOJA_INSECURE_DEV")
        .current_dir(dir.path())
        .output()
        .expect("the node binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the CA certificate file ca.pem"),
        "{stderr}"
    );
    assert!(!dir.path().join("data").exists());
}
