//! `ingressoja-bench` on bad input: a clear message and a non-zero exit for a
//! taken port, a cluster that is not running, a missing etcd or PostgreSQL
//! (with the install command), a node that dies at start, and bad options.

use std::net::TcpListener;
use std::process::Command;

fn bench(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ingressoja-bench"))
        .args(["--quiet", "--customers", "10", "--capacity", "5"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_taken_port_is_named_and_nothing_starts() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    // Any file will do as the node binary: the ports are checked before it runs.
    let (code, stderr) = bench(&[
        "--node-bin",
        "/bin/false",
        "--grpc-port-base",
        &port.to_string(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("already in use"),
        "{stderr}"
    );
    assert!(stderr.contains("--grpc-port-base"), "{stderr}");
}

#[test]
fn a_cluster_that_is_not_running_is_reported() {
    let port = free_port();
    let (code, stderr) = bench(&["--addrs", &format!("127.0.0.1:{port}"), "--insecure-dev"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not running or not reachable"), "{stderr}");
    assert!(stderr.contains(&port.to_string()), "{stderr}");
}

#[test]
fn a_running_cluster_without_certificates_names_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = bench(&[
        "--addrs",
        "127.0.0.1:1",
        "--pki-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no operator certificate"), "{stderr}");
    assert!(stderr.contains("--insecure-dev"), "{stderr}");
}

#[test]
fn a_missing_etcd_names_the_install_command() {
    let (code, stderr) = bench(&["--target", "etcd", "--etcd-bin", "/nonexistent/etcd"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("etcd is not installed"), "{stderr}");
    assert!(
        stderr.contains("apt-get install -y etcd-server"),
        "{stderr}"
    );
}

#[test]
fn a_missing_postgres_names_the_install_command() {
    // Checked before anything starts, even when it is only compared with.
    let (code, stderr) = bench(&[
        "--compare",
        "postgres",
        "--postgres-bin-dir",
        "/nonexistent",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("PostgreSQL is not installed"), "{stderr}");
    assert!(stderr.contains("apt-get install -y postgresql"), "{stderr}");
}

#[test]
fn a_node_that_dies_at_start_is_reported_and_reaped() {
    let base = free_port().min(u16::MAX - 3);
    let (code, stderr) = bench(&[
        "--node-bin",
        "/bin/false",
        "--grpc-port-base",
        &base.to_string(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("did not start") && stderr.contains("exited"),
        "{stderr}"
    );
}

#[test]
fn bad_options_are_refused() {
    let (code, stderr) = bench(&["--concurrency", "0"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--concurrency"), "{stderr}");
    let (code, stderr) = bench(&["--target", "nosuchdb"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("nosuchdb"), "{stderr}");
}

#[test]
fn sigterm_stops_the_cluster_the_benchmark_started() {
    let base = 27_121;
    let child = Command::new(env!("CARGO_BIN_EXE_ingressoja-bench"))
        .args([
            "--quiet",
            "--customers",
            "200000",
            "--grpc-port-base",
            &base.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the nodes listen (the benchmark then registers customers for a long while).
    let up = (0..300).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        (0..3).all(|i| std::net::TcpStream::connect(("127.0.0.1", base + i)).is_ok())
    });
    assert!(up, "the local cluster never listened");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("terminated"), "{stderr}");
    for i in 0..3 {
        assert!(
            TcpListener::bind(("127.0.0.1", base + i)).is_ok(),
            "node {} still listening after the benchmark ended",
            i + 1
        );
    }
}
