//! The knobs of a benchmark run, as command-line options (the binary parses
//! them with clap; tests build them with [`BenchOptions::parse_from`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};

use super::error::BenchError;

/// A system the flash sale can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum TargetKind {
    /// IngressoJá: a 3-node Raft cluster through the Rust client over gRPC.
    Grpc,
    /// IngressoJá through two HTTP gateways' JSON API (started by the benchmark).
    Http,
    /// IngressoJá as `grpc`, its local cluster in plaintext (`insecure_dev`):
    /// `--compare grpc-plain` puts what mutual TLS costs in the report.
    GrpcPlain,
    /// A 3-node etcd cluster: holds as compare-and-swap transactions on a counter per category.
    Etcd,
    /// A single PostgreSQL server: holds as a conditional `UPDATE`, fsync and synchronous commit on.
    Postgres,
}

impl TargetKind {
    /// The name used in tables, JSON and the plot.
    pub fn label(self) -> &'static str {
        match self {
            TargetKind::Grpc => "ingressoja",
            TargetKind::Http => "ingressoja-http",
            TargetKind::GrpcPlain => "ingressoja-plaintext",
            TargetKind::Etcd => "etcd",
            TargetKind::Postgres => "postgres",
        }
    }
}

/// How big a sale the run makes: the defaults of the sizing options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scale {
    /// A demo sale of a few thousand customers (each option's own default).
    Demo,
    /// The festival: a million fans register and join, 2 × 50 000 tickets
    /// sell out, and the run forces a snapshot on the leader and kills and
    /// restarts a follower mid-sale, sampling every node's memory and apply
    /// progress (see [`crate::festival`]). Options given explicitly win over
    /// the preset, so a small festival is `--scale festival --customers 20000`.
    Festival,
}

/// Every option of `ingressoja-bench`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ingressoja-bench",
    about = "Flash-sale load generator for IngressoJá, side by side with etcd and PostgreSQL",
    long_about = "Simulated customers join the virtual queue (all at once: the burst), wait for \
                  admission, hold 1-4 tickets of a hot category, pay (a share declines), release, \
                  or walk away and let the hold expire, until the sale sells out. Prints latency \
                  percentiles per operation, throughput, errors and the sale's outcome; \
                  --compare runs the same workload against etcd and PostgreSQL in the same run."
)]
pub struct BenchOptions {
    /// The size of the sale: `demo`, or `festival` (a million fans, with a
    /// snapshot and a follower restart mid-sale and each node's resources
    /// in the report); explicit options override the preset's values.
    #[arg(long, value_enum, default_value = "demo")]
    pub scale: Scale,
    /// Simulated customers; each joins the queue once and shops once.
    #[arg(long, default_value_t = 5_000)]
    pub customers: u64,
    /// Customers shopping at the same time (concurrent clients).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Customers joining the queue at the same time in the burst (a sale's
    /// opening is not limited to the shoppers' concurrency); default: `--concurrency`.
    #[arg(long)]
    pub burst_concurrency: Option<usize>,
    /// Registrations in flight while the sale is prepared (every customer
    /// registers through the cluster, as in the shop).
    #[arg(long, default_value_t = 64)]
    pub setup_concurrency: usize,
    /// Pause between two reads of a waiting customer's queue status, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub status_poll_ms: u64,
    /// Longest sale phase, in seconds; the sale usually ends earlier, when it sells out.
    #[arg(long, default_value_t = 60.0)]
    pub duration_secs: f64,
    /// Stop after this many sale operations (holds, purchases, releases, queue reads); 0: no limit.
    #[arg(long, default_value_t = 0)]
    pub total_ops: u64,
    /// Hot ticket categories of the event.
    #[arg(long, default_value_t = 2)]
    pub categories: u32,
    /// Tickets in each category.
    #[arg(long, default_value_t = 2_000)]
    pub capacity: u32,
    /// A customer thinks up to this many milliseconds (uniformly) between steps.
    #[arg(long, default_value_t = 0)]
    pub think_ms: u64,
    /// Percent of payments that decline (the hold is released).
    #[arg(long, default_value_t = 10)]
    pub decline_pct: u32,
    /// Percent of holds released by the customer instead of paid.
    #[arg(long, default_value_t = 10)]
    pub release_pct: u32,
    /// Percent of holds abandoned: the customer walks away and the hold expires.
    #[arg(long, default_value_t = 5)]
    pub abandon_pct: u32,
    /// Hold lifetime in seconds for the systems the benchmark starts (etcd and
    /// PostgreSQL have no clock of their own: the benchmark expires their holds).
    #[arg(long, default_value_t = 3)]
    pub hold_ttl_secs: u64,
    /// Most admitted shoppers at once in IngressoJá's queue; 0: one per customer (no waiting).
    #[arg(long, default_value_t = 0)]
    pub max_active: u32,
    /// The system measured as "ours" (the others are compared with it).
    #[arg(long, value_enum, default_value = "grpc")]
    pub target: TargetKind,
    /// Also run the same workload against these systems, e.g. `--compare etcd,postgres`.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub compare: Vec<TargetKind>,
    /// gRPC addresses of a running IngressoJá cluster; without it the benchmark starts a local 3-node one.
    #[arg(long, value_delimiter = ',')]
    pub addrs: Vec<String>,
    /// Run the local cluster (and gateways) without TLS (`insecure_dev`), or
    /// call the `--addrs` cluster in plaintext: to measure what TLS costs.
    #[arg(long)]
    pub insecure_dev: bool,
    /// With `--addrs`: the cluster's certificate directory (what
    /// `ingressoja pki init` made; run-local.sh's by default).
    #[arg(long, default_value = ".data/pki/local-3")]
    pub pki_dir: PathBuf,
    /// With `--addrs`: the operator certificate of `--pki-dir` to call with.
    #[arg(long, default_value = "admin")]
    pub operator: String,
    /// The `ingressoja-node` binary for the local cluster (default: next to this binary).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// First of the three gRPC ports of the local cluster.
    #[arg(long, default_value_t = 17_101)]
    pub grpc_port_base: u16,
    /// First of the three metrics ports of the local cluster, which serves
    /// metrics only for the festival run (it scrapes each node's apply
    /// progress); default there: `--grpc-port-base` + 100.
    #[arg(long)]
    pub metrics_port_base: Option<u16>,
    /// The `ingressoja-gateway` binary for the HTTP target (default: next to this binary).
    #[arg(long)]
    pub gateway_bin: Option<PathBuf>,
    /// First of the two HTTP ports of the gateways the HTTP target starts.
    #[arg(long, default_value_t = 18_081)]
    pub gateway_port_base: u16,
    /// The `etcd` binary (default: found in PATH, from Debian's etcd-server).
    #[arg(long)]
    pub etcd_bin: Option<PathBuf>,
    /// First of the six ports of the etcd cluster (client and peer port per member).
    #[arg(long, default_value_t = 12_379)]
    pub etcd_port_base: u16,
    /// Directory with PostgreSQL's `initdb` and `postgres` (default: newest /usr/lib/postgresql/*/bin).
    #[arg(long)]
    pub postgres_bin_dir: Option<PathBuf>,
    /// Port of the PostgreSQL server the benchmark starts.
    #[arg(long, default_value_t = 15_432)]
    pub postgres_port: u16,
    /// Connections to PostgreSQL (customers share them).
    #[arg(long, default_value_t = 32)]
    pub postgres_pool: usize,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// Write an SVG plot of throughput and p99 latency over time here.
    #[arg(long)]
    pub plot_out: Option<PathBuf>,
    /// Width of one point of the timeline, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    pub bucket_ms: u64,
    /// Seed of the customers' dice (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// No live progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

impl BenchOptions {
    /// Parses `args` (the program name first) and applies the `--scale`
    /// preset to every sizing option not given explicitly.
    pub fn parse_scaled_from<I, T>(args: I) -> Result<BenchOptions, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = BenchOptions::command().try_get_matches_from(args)?;
        let mut options = BenchOptions::from_arg_matches(&matches)?;
        if options.scale == Scale::Festival {
            options.apply_festival_preset(|id| {
                matches.value_source(id) == Some(ValueSource::CommandLine)
            });
        }
        Ok(options)
    }

    /// The festival's sizes, for every option `given` says was not on the command line.
    fn apply_festival_preset(&mut self, given: impl Fn(&str) -> bool) {
        if !given("customers") {
            self.customers = 1_000_000;
        }
        if !given("categories") {
            self.categories = 2;
        }
        if !given("capacity") {
            self.capacity = 50_000;
        }
        if !given("concurrency") {
            self.concurrency = 256;
        }
        if !given("burst_concurrency") {
            self.burst_concurrency = Some(1_024);
        }
        if !given("setup_concurrency") {
            self.setup_concurrency = 1_024;
        }
        if !given("max_active") {
            self.max_active = 4_096;
        }
        if !given("duration_secs") {
            self.duration_secs = 1_200.0;
        }
        if !given("status_poll_ms") {
            self.status_poll_ms = 1_000;
        }
    }

    /// The local cluster's first metrics port: given, or next to the gRPC
    /// ports for the festival (which reads them), or none.
    pub fn metrics_ports(&self) -> Option<u16> {
        self.metrics_port_base.or_else(|| {
            self.festival()
                .then(|| self.grpc_port_base.saturating_add(100))
        })
    }

    /// Whether this run is the festival (resources sampled, faults mid-sale).
    pub fn festival(&self) -> bool {
        self.scale == Scale::Festival
    }

    /// The systems to run, ours first, each once.
    pub fn systems(&self) -> Vec<TargetKind> {
        let mut systems = vec![self.target];
        for kind in &self.compare {
            if !systems.contains(kind) {
                systems.push(*kind);
            }
        }
        systems
    }

    /// Joins in flight during the burst.
    pub fn burst_concurrency(&self) -> usize {
        self.burst_concurrency.unwrap_or(self.concurrency)
    }

    /// Longest sale phase.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_secs)
    }

    /// Tickets on sale over all categories.
    pub fn total_capacity(&self) -> u64 {
        u64::from(self.categories) * u64::from(self.capacity)
    }

    /// Refuses options that cannot make a sale, before anything is started.
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.customers == 0 {
            return Err(BenchError::option("customers", "must be at least 1"));
        }
        if self.concurrency == 0 || self.concurrency > 100_000 {
            return Err(BenchError::option(
                "concurrency",
                "must be between 1 and 100000",
            ));
        }
        if self
            .burst_concurrency
            .is_some_and(|b| b == 0 || b > 100_000)
        {
            return Err(BenchError::option(
                "burst-concurrency",
                "must be between 1 and 100000",
            ));
        }
        if !(self.duration_secs.is_finite()
            && self.duration_secs > 0.0
            && self.duration_secs <= 86_400.0)
        {
            return Err(BenchError::option(
                "duration-secs",
                "must be between 0 and 86400 seconds",
            ));
        }
        if !(1..=64).contains(&self.categories) {
            return Err(BenchError::option("categories", "must be between 1 and 64"));
        }
        if self.capacity == 0 || self.capacity > 10_000_000 {
            return Err(BenchError::option(
                "capacity",
                "must be between 1 and 10000000",
            ));
        }
        if self.think_ms > 60_000 {
            return Err(BenchError::option("think-ms", "at most 60000"));
        }
        for (name, pct) in [
            ("decline-pct", self.decline_pct),
            ("release-pct", self.release_pct),
            ("abandon-pct", self.abandon_pct),
        ] {
            if pct > 100 {
                return Err(BenchError::option(name, "is a percentage (0-100)"));
            }
        }
        if self.release_pct + self.abandon_pct > 90 {
            return Err(BenchError::option(
                "release-pct",
                "release and abandon shares add up to more than 90%: the sale would hardly sell",
            ));
        }
        if self.decline_pct == 100 {
            return Err(BenchError::option(
                "decline-pct",
                "below 100, or nothing is ever sold",
            ));
        }
        if !(1..=3600).contains(&self.hold_ttl_secs) {
            return Err(BenchError::option(
                "hold-ttl-secs",
                "must be between 1 and 3600",
            ));
        }
        if self.grpc_port_base == 0 || self.grpc_port_base > u16::MAX - 3 {
            return Err(BenchError::option(
                "grpc-port-base",
                "must leave room for 3 ports",
            ));
        }
        if self.gateway_port_base == 0 || self.gateway_port_base > u16::MAX - 2 {
            return Err(BenchError::option(
                "gateway-port-base",
                "must leave room for 2 ports",
            ));
        }
        if self.etcd_port_base == 0 || self.etcd_port_base > u16::MAX - 6 {
            return Err(BenchError::option(
                "etcd-port-base",
                "must leave room for 6 ports",
            ));
        }
        if self.postgres_port == 0 {
            return Err(BenchError::option("postgres-port", "must not be 0"));
        }
        if !(1..=500).contains(&self.postgres_pool) {
            return Err(BenchError::option(
                "postgres-pool",
                "must be between 1 and 500",
            ));
        }
        if !(10..=60_000).contains(&self.bucket_ms) {
            return Err(BenchError::option(
                "bucket-ms",
                "must be between 10 and 60000",
            ));
        }
        if !(1..=10_000).contains(&self.setup_concurrency) {
            return Err(BenchError::option(
                "setup-concurrency",
                "must be between 1 and 10000",
            ));
        }
        if !(1..=60_000).contains(&self.status_poll_ms) {
            return Err(BenchError::option(
                "status-poll-ms",
                "must be between 1 and 60000",
            ));
        }
        if self
            .metrics_port_base
            .is_some_and(|p| p == 0 || p > u16::MAX - 3)
        {
            return Err(BenchError::option(
                "metrics-port-base",
                "must leave room for 3 ports",
            ));
        }
        if self.festival()
            && self.metrics_port_base.is_none()
            && self.grpc_port_base > u16::MAX - 103
        {
            return Err(BenchError::option(
                "metrics-port-base",
                "the festival's default metrics ports (--grpc-port-base + 100) would pass 65535: give --metrics-port-base",
            ));
        }
        if self.festival() && (!self.addrs.is_empty() || self.target != TargetKind::Grpc) {
            return Err(BenchError::option(
                "scale",
                "festival kills and restarts a node of the local cluster it starts: \
                 it runs with --target grpc and without --addrs",
            ));
        }
        let ours = |k| self.systems().contains(&k);
        if !self.addrs.is_empty() && ours(TargetKind::GrpcPlain) {
            return Err(BenchError::option(
                "compare",
                "grpc-plain starts its own plaintext cluster: it runs without --addrs",
            ));
        }
        if !self.addrs.is_empty() && !ours(TargetKind::Grpc) && !ours(TargetKind::Http) {
            return Err(BenchError::option(
                "addrs",
                "names an IngressoJá cluster, but neither grpc nor http is --target or in --compare",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> BenchOptions {
        let mut all = vec!["ingressoja-bench"];
        all.extend_from_slice(args);
        BenchOptions::parse_from(all)
    }

    #[test]
    fn defaults_are_valid_and_ours_comes_first() {
        let options = parse(&["--compare", "postgres,etcd,grpc,http"]);
        options.validate().unwrap();
        assert_eq!(
            options.systems(),
            vec![
                TargetKind::Grpc,
                TargetKind::Postgres,
                TargetKind::Etcd,
                TargetKind::Http
            ]
        );
        assert_eq!(options.total_capacity(), 4_000);
    }

    #[test]
    fn bad_values_name_their_option() {
        for (args, option) in [
            (vec!["--customers", "0"], "customers"),
            (vec!["--concurrency", "0"], "concurrency"),
            (vec!["--burst-concurrency", "0"], "burst-concurrency"),
            (vec!["--duration-secs", "0"], "duration-secs"),
            (vec!["--categories", "0"], "categories"),
            (vec!["--decline-pct", "101"], "decline-pct"),
            (
                vec!["--release-pct", "60", "--abandon-pct", "40"],
                "release-pct",
            ),
            (vec!["--hold-ttl-secs", "0"], "hold-ttl-secs"),
            (vec!["--grpc-port-base", "65534"], "grpc-port-base"),
            (vec!["--gateway-port-base", "65535"], "gateway-port-base"),
            (vec!["--setup-concurrency", "0"], "setup-concurrency"),
            (vec!["--status-poll-ms", "0"], "status-poll-ms"),
            (vec!["--metrics-port-base", "65534"], "metrics-port-base"),
            (
                vec!["--scale", "festival", "--grpc-port-base", "65500"],
                "metrics-port-base",
            ),
            (vec!["--scale", "festival", "--target", "http"], "scale"),
            (
                vec!["--scale", "festival", "--addrs", "127.0.0.1:7101"],
                "scale",
            ),
            (
                vec!["--target", "etcd", "--addrs", "127.0.0.1:7101"],
                "addrs",
            ),
        ] {
            let mut all = vec!["ingressoja-bench"];
            all.extend_from_slice(&args);
            match BenchOptions::parse_scaled_from(all).unwrap().validate() {
                Err(BenchError::InvalidOption { option: got, .. }) => {
                    assert_eq!(got, option, "{args:?}")
                }
                other => panic!("{args:?}: expected an invalid --{option}, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_festival_preset_fills_what_was_not_given() {
        let festival =
            BenchOptions::parse_scaled_from(["b", "--scale", "festival", "--customers", "5000"])
                .unwrap();
        festival.validate().unwrap();
        assert!(festival.festival());
        // Given explicitly (even the demo's default value): kept.
        assert_eq!(festival.customers, 5_000);
        assert_eq!(festival.total_capacity(), 100_000);
        assert_eq!(festival.burst_concurrency(), 1_024);
        assert_eq!(festival.setup_concurrency, 1_024);
        assert_eq!(festival.status_poll_ms, 1_000);
        let demo = BenchOptions::parse_scaled_from(["b"]).unwrap();
        assert!(!demo.festival());
        assert_eq!(demo.customers, 5_000);
        assert_eq!(demo.total_capacity(), 4_000);
        assert_eq!(demo.setup_concurrency, 64);
    }
}
