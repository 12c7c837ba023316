//! Every RPC from every role it is not open to.

use ingressoja_pki::Role;
use ingressoja_proto::rpcs::RPCS;
use ingressoja_test_support::{ClusterOptions, TestCluster};

use crate::{call, channel, refused, ELECTION};

/// Who may call what, written out from the security brief (issue 15), not
/// read from the node's table: this is what the table is held to.
fn open_to(path: &str) -> &'static [Role] {
    let (service, method) = path.rsplit_once('/').expect("a path");
    match (service, method) {
        ("/ingressoja.raft.v1.RaftTransport", _) => &[Role::Node],
        ("/ingressoja.ticketing.v1.Ticketing", "GetCredentials" | "RecordLogin" | "EnrolTotp") => {
            &[Role::Gateway]
        }
        ("/ingressoja.ticketing.v1.Ticketing", "CreateEvent") => &[Role::Operator],
        ("/ingressoja.ticketing.v1.Ticketing", _) => &[Role::Gateway, Role::Operator],
        ("/ingressoja.admin.v1.Admin", "Status") => &[Role::Node, Role::Gateway, Role::Operator],
        ("/ingressoja.admin.v1.Admin", _) => &[Role::Operator],
        _ => panic!("{path}: a new service; say here who may call it"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rpc_is_refused_to_every_role_it_is_not_open_to() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.wait_for_leader(ELECTION).await;
    let addr = cluster.addr(1);
    let callers = [
        (Role::Node, "2"),
        (Role::Gateway, "web"),
        (Role::Operator, "admin"),
    ];
    let mut tried = 0;
    for rpc in RPCS {
        for (role, name) in callers {
            if open_to(rpc.path).contains(&role) {
                continue;
            }
            let material = cluster.pki.material_of(role, name).expect("certificate");
            let outcome = call(channel(&addr, &material), rpc).await;
            assert!(refused(&outcome), "{} from a {role}: {outcome:?}", rpc.path);
            let message = outcome.unwrap_err().message().to_string();
            let needed: Vec<&str> = open_to(rpc.path).iter().map(|r| r.as_str()).collect();
            assert!(
                message.contains(&format!("needs the {} role", needed.join(" or "))),
                "{}: {message}",
                rpc.path
            );
            tried += 1;
        }
    }
    assert!(tried >= 38, "only {tried} refusals tried");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_right_role_gets_past_the_gate() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.wait_for_leader(ELECTION).await;
    let addr = cluster.addr(1);
    // Calls that change nothing, each by a role it is open to.
    for (path, role, name) in [
        ("/ingressoja.admin.v1.Admin/Status", Role::Node, "2"),
        ("/ingressoja.admin.v1.Admin/Status", Role::Gateway, "web"),
        ("/ingressoja.admin.v1.Admin/Status", Role::Operator, "admin"),
        (
            "/ingressoja.ticketing.v1.Ticketing/ListEvents",
            Role::Gateway,
            "web",
        ),
        (
            "/ingressoja.ticketing.v1.Ticketing/ListEvents",
            Role::Operator,
            "admin",
        ),
        (
            "/ingressoja.ticketing.v1.Ticketing/GetCredentials",
            Role::Gateway,
            "web",
        ),
        (
            "/ingressoja.admin.v1.Admin/ExportAudit",
            Role::Operator,
            "admin",
        ),
    ] {
        let rpc = RPCS.iter().find(|r| r.path == path).expect("an RPC");
        let material = cluster.pki.material_of(role, name).expect("certificate");
        let outcome = call(channel(&addr, &material), rpc).await;
        assert!(!refused(&outcome), "{path} from a {role}: {outcome:?}");
        if let Err(status) = &outcome {
            assert_ne!(
                status.code(),
                tonic::Code::Unauthenticated,
                "{path}: {status:?}"
            );
            assert_ne!(
                status.code(),
                tonic::Code::Unavailable,
                "{path}: {status:?}"
            );
        }
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stolen_gateway_certificate_still_cannot_administer_or_replicate() {
    // The gateway is the most exposed process: its key is the likeliest to
    // leak. With it, an attacker can make the shop's calls, and no more.
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.wait_for_leader(ELECTION).await;
    let stolen = cluster.client_as(Role::Gateway, "web", Some("mallory"));
    let backup = stolen.backup().await.map(|_| ());
    assert!(
        matches!(&backup, Err(e) if e.rejection_code() == Some("permission_denied")),
        "{backup:?}"
    );
    let join = stolen.add_learner(9, "127.0.0.1:1").await;
    assert!(
        matches!(&join, Err(e) if e.rejection_code() == Some("permission_denied")),
        "{join:?}"
    );
    cluster.shutdown().await;
}
