//! What the benchmark's integration tests share: a small sale's options,
//! running the built `ingressoja-bench` and reading its JSON report, and
//! checks on what a run leaves behind.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// A sale small enough to sell out in seconds: two categories, holds that
/// expire after a second, a 90 s limit it must never reach.
pub struct SmallSale {
    /// Simulated customers.
    pub customers: u32,
    /// Customers shopping at once.
    pub concurrency: u32,
    /// Tickets per category.
    pub capacity: u32,
    /// The workload's seed.
    pub seed: u64,
}

impl SmallSale {
    /// The command-line options of this sale (progress lines off).
    fn args(&self) -> Vec<String> {
        let options = [
            ("--customers", self.customers.to_string()),
            ("--concurrency", self.concurrency.to_string()),
            ("--categories", "2".to_string()),
            ("--capacity", self.capacity.to_string()),
            ("--hold-ttl-secs", "1".to_string()),
            ("--duration-secs", "90".to_string()),
            ("--bucket-ms", "250".to_string()),
            ("--seed", self.seed.to_string()),
        ];
        let mut args: Vec<String> = options
            .into_iter()
            .flat_map(|(flag, value)| [flag.to_string(), value])
            .collect();
        args.push("--quiet".into());
        args
    }
}

/// Runs the benchmark on `sale` with `extra` options and `--json-out json`;
/// it must succeed. Returns its stdout and the JSON report.
pub fn run_bench(sale: &SmallSale, extra: &[&str], json: &Path) -> (String, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_ingressoja-bench"))
        .args(sale.args())
        .args(extra)
        .arg("--json-out")
        .arg(json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let report = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    (stdout, report)
}

/// A report field that must be an unsigned integer.
pub fn u(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {value}"))
}

/// Whether `port` on loopback can be bound (nothing of a run still listens).
pub fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}
