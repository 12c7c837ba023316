//! Starting the systems under test on loopback (the cluster, its gateways,
//! etcd, PostgreSQL), each in its own temporary
//! directory, and stopping every process again when the run ends — also on
//! an error or Ctrl-C, since each launcher stops its processes when dropped.
//! Dropping is the only way to stop one: each launcher declares its
//! [`Children`] before its directory, so the processes end before their
//! files are removed.

mod children;
mod etcd_cluster;
pub mod gateways;
mod local_cluster;
mod ports;
mod postgres_server;

pub use children::Children;
pub use etcd_cluster::EtcdCluster;
pub use gateways::LocalGateways;
pub use local_cluster::{operator_tls, ClusterPorts, LocalCluster, GATEWAY as GATEWAY_CERT};
pub use ports::ensure_free;
pub use postgres_server::PostgresServer;

pub use etcd_cluster::find_etcd as etcd_bin;
pub use local_cluster::find_built_bin;
pub use local_cluster::find_node_bin as local_cluster_bin;
pub use postgres_server::find_bin_dir as postgres_bin_dir;
