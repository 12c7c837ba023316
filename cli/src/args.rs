//! What can be typed after `ingressoja`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use ingressoja_client::proto::ticketing::CategorySpec;

use crate::audit::AuditCommand;
use crate::category::parse_category;
use crate::events::EventsCommand;
use crate::policy::PolicyArgs;
use crate::queue::QueueCommand;
use crate::register::RegisterArgs;

/// Help heading of the options every command takes.
const GLOBAL: &str = "Global options";

/// Talk to an IngressoJá ticketing cluster: sell tickets, inspect and change
/// the cluster.
#[derive(Debug, Parser)]
#[command(name = "ingressoja", version, propagate_version = true)]
pub struct Args {
    /// gRPC addresses (host:port) of any cluster nodes, comma-separated; the
    /// leader is found from there.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "INGRESSOJA_NODES",
        value_delimiter = ',',
        default_value = "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"
    )]
    pub nodes: Vec<String>,

    /// Print replies as JSON instead of text.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Give up after this many seconds without an answer, retries included.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        default_value_t = 15,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub timeout_secs: u64,

    /// Client id of the idempotency key; with --request-id it makes a rerun
    /// of a command a safe replay. Default: a fresh UUID.
    #[arg(long, global = true, help_heading = GLOBAL, env = "INGRESSOJA_CLIENT_ID")]
    pub client_id: Option<String>,

    /// Log retries and leader redirects to stderr.
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub verbose: bool,

    /// Directory of the cluster's certificates (`ingressoja pki init` makes
    /// it; scripts/run-local.sh makes .data/pki/local-3): the CLI calls the
    /// nodes over mutual TLS as the operator named by --operator.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "INGRESSOJA_PKI_DIR",
        default_value = ".data/pki/local-3"
    )]
    pub pki_dir: PathBuf,

    /// Which operator certificate of --pki-dir to call with
    /// (operator-<NAME>.pem and .key).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "INGRESSOJA_OPERATOR",
        default_value = "admin"
    )]
    pub operator: String,

    /// Call the nodes in plaintext, with no certificate: only nodes started
    /// with --insecure-dev (a trusted dev machine) answer.
    #[arg(long, global = true, help_heading = GLOBAL, env = "INGRESSOJA_INSECURE_DEV")]
    pub insecure_dev: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The things the CLI can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a cluster's certificates (offline; no node is called).
    #[command(subcommand)]
    Pki(PkiCommand),

    /// Inspect or change the cluster's membership.
    #[command(subcommand)]
    Cluster(ClusterCommand),

    /// Manage events.
    #[command(subcommand)]
    Event(EventCommand),

    /// Show sold, held and available tickets per category of an event.
    Availability {
        /// Event id.
        #[arg(long)]
        event: String,
    },

    /// Hold tickets for a customer until they buy or the hold expires.
    Hold {
        /// Event id.
        #[arg(long)]
        event: String,
        /// Category id within the event.
        #[arg(long)]
        category: String,
        /// Customer id.
        #[arg(long)]
        customer: String,
        /// Number of tickets.
        #[arg(long)]
        quantity: u32,
        #[command(flatten)]
        key: RequestKey,
    },

    /// Give a hold's tickets back.
    Release {
        /// Hold id.
        #[arg(long)]
        hold: u64,
        /// Customer id (the hold's owner).
        #[arg(long)]
        customer: String,
        #[command(flatten)]
        key: RequestKey,
    },

    /// Buy the tickets of a live hold.
    Purchase {
        /// Hold id.
        #[arg(long)]
        hold: u64,
        /// Customer id (the hold's owner).
        #[arg(long)]
        customer: String,
        /// Payment token for the provider (the fake provider understands
        /// approve, decline, fail and timeout; default: approve).
        #[arg(long, value_name = "TOKEN")]
        payment_token: Option<String>,
        #[command(flatten)]
        key: RequestKey,
    },

    /// Register a customer (the password is hashed here, never sent).
    Register(RegisterArgs),

    /// Join an event's virtual queue, or see one's place in it.
    #[command(subcommand)]
    Queue(QueueCommand),

    /// Follow the cluster's domain events.
    #[command(subcommand)]
    Events(EventsCommand),

    /// Export or verify the nodes' hash-chained audit logs.
    #[command(subcommand)]
    Audit(AuditCommand),

    /// Write a consistent copy of the whole sale state (taken on the leader,
    /// at a known log index, without stopping the sale) to a backup file.
    Backup {
        /// The backup file to write (written whole or not at all).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },

    /// Seed new nodes' empty data directories from a backup file (offline:
    /// run it before starting them). The nodes' configured peers become the
    /// restored cluster's voters.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// A node configuration whose data directory to seed; repeat for each
        /// node of the new cluster on this host.
        #[arg(long = "config", value_name = "NODE.toml", required = true)]
        configs: Vec<PathBuf>,
    },

    /// List a customer's tickets.
    Tickets {
        /// Customer id.
        #[arg(long)]
        customer: String,
    },
}

/// `ingressoja pki ...`
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Make sure a directory holds a CA for the cluster, a certificate for
    /// each node, gateway and operator named, and the gateways' session key
    /// (session.key): existing files are kept, missing ones are made (a
    /// certificate by the CA there, a new CA if there is none). Keys are
    /// written readable by their owner only; keep ca.key offline in
    /// production.
    Init {
        /// The directory (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// The cluster's name, written into every certificate
        /// (a-z, 0-9 and '-').
        #[arg(long)]
        cluster: String,
        /// Raft ids of the nodes, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        node_ids: Vec<u64>,
        /// Names of the gateways' certificates, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "web")]
        gateways: Vec<String>,
        /// Names of the operators' certificates, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "admin")]
        operators: Vec<String>,
        /// Also copy each holder's files (the CA certificate, its own
        /// certificate and key, and a gateway's session and ticket keys) to
        /// <EXPORT>/<role>-<name>/: what that process alone should mount.
        #[arg(long, value_name = "EXPORT")]
        export: Option<PathBuf>,
    },
}

/// `ingressoja cluster ...`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Show every node's role, term and log progress (exit 1 if no leader).
    Status,
    /// Add a node: it joins as a learner, catches up (progress shown), then
    /// becomes a voter. Start the node with its config first.
    AddNode {
        /// The new node's id (unused in the cluster).
        #[arg(long)]
        id: u64,
        /// The new node's gRPC address (host:port); it must answer as --id.
        #[arg(long)]
        addr: String,
        /// Give up (leaving it a learner) if it has not caught up by then.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// Remove a node from the cluster (the leader too: it steps down).
    /// Refuses to leave fewer than 3 voters unless --force.
    RemoveNode {
        /// The node's id.
        #[arg(long)]
        id: u64,
        /// Allow going below 3 voters.
        #[arg(long)]
        force: bool,
    },
    /// Restart every node one at a time (followers first, the leader last),
    /// waiting after each until it is back and caught up.
    RollingRestart {
        /// Shell command that stops and starts one node; `{id}` and `{addr}`
        /// are replaced (e.g. 'systemctl restart ingressoja-node@{id}').
        #[arg(long)]
        restart_command: String,
        /// Give up if a restarted node has not caught up by then.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// Add a node as a learner only (low level; prefer add-node).
    AddLearner {
        /// The new node's id.
        #[arg(long)]
        id: u64,
        /// The new node's gRPC address (host:port).
        #[arg(long)]
        addr: String,
    },
    /// Set the voting members (low level; prefer add-node / remove-node).
    ChangeMembership {
        /// Node ids of the voters, comma-separated (e.g. 1,2,3).
        #[arg(long, value_delimiter = ',', required = true)]
        voters: Vec<u64>,
    },
    /// Make one node snapshot its state now.
    Snapshot {
        /// The node's gRPC address (host:port).
        #[arg(long)]
        node: String,
    },
}

/// `ingressoja event ...`
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Create an event and its ticket categories.
    Create {
        /// Event id.
        #[arg(long)]
        event: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// A ticket category; repeat for each one.
        #[arg(
            long = "category",
            required = true,
            value_name = "ID:NAME:CAPACITY:PRICE_CENTS:LIMIT",
            value_parser = parse_category
        )]
        categories: Vec<CategorySpec>,
        #[command(flatten)]
        policy: PolicyArgs,
        #[command(flatten)]
        key: RequestKey,
    },
}

/// The request id of a mutating command's idempotency key.
#[derive(Debug, clap::Args)]
pub struct RequestKey {
    /// Request id of the idempotency key (default: a fresh one). Rerunning
    /// with the same --client-id and --request-id replays the first answer
    /// instead of acting twice.
    #[arg(long)]
    pub request_id: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_argument_definitions_are_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn nodes_default_to_the_local_three_node_cluster() {
        let args = Args::try_parse_from(["ingressoja", "tickets", "--customer", "alice"]).unwrap();
        if std::env::var_os("INGRESSOJA_NODES").is_none() {
            assert_eq!(
                args.nodes,
                vec!["127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"]
            );
        }
        assert_eq!(args.timeout_secs, 15);
    }

    #[test]
    fn nodes_are_comma_separated_and_flags_are_global() {
        let args = Args::try_parse_from([
            "ingressoja",
            "cluster",
            "status",
            "--nodes",
            "a:1,b:2",
            "--json",
        ])
        .unwrap();
        assert_eq!(args.nodes, vec!["a:1", "b:2"]);
        assert!(args.json);
    }

    #[test]
    fn voters_are_comma_separated() {
        let args = Args::try_parse_from([
            "ingressoja",
            "cluster",
            "change-membership",
            "--voters",
            "1,2,3",
        ])
        .unwrap();
        match args.command {
            Command::Cluster(ClusterCommand::ChangeMembership { voters }) => {
                assert_eq!(voters, vec![1, 2, 3])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn categories_repeat() {
        let args = Args::try_parse_from([
            "ingressoja",
            "event",
            "create",
            "--event",
            "rock",
            "--name",
            "Rock",
            "--category",
            "pista:Pista:100:25000:4",
            "--category",
            "vip:VIP:10:90000:2",
        ])
        .unwrap();
        match args.command {
            Command::Event(EventCommand::Create { categories, .. }) => {
                let ids: Vec<&str> = categories.iter().map(|c| c.category_id.as_str()).collect();
                assert_eq!(ids, vec!["pista", "vip"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        assert!(Args::try_parse_from([
            "ingressoja",
            "--timeout-secs",
            "0",
            "tickets",
            "--customer",
            "a"
        ])
        .is_err());
    }
}
