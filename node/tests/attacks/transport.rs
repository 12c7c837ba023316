//! Getting to a node without a certificate of its cluster, or posing as
//! another node.

use ingressoja_pki::{Authority, Identity, Role, TlsMaterial};
use ingressoja_proto::raft::raft_transport_client::RaftTransportClient;
use ingressoja_proto::raft::RaftPayload;
use ingressoja_proto::rpcs::RPCS;
use ingressoja_test_support::{ClusterOptions, TestCluster, TEST_CLUSTER};
use tonic::Code;

use crate::{call, channel, plaintext_channel, refused, ELECTION};

const GET_CREDENTIALS: &str = "/ingressoja.ticketing.v1.Ticketing/GetCredentials";

fn rpc(path: &str) -> &'static ingressoja_proto::rpcs::Rpc {
    RPCS.iter().find(|r| r.path == path).expect("an RPC")
}

/// The call got no answer from any service: the connection was refused at
/// the handshake (how that shows depends on when TLS gave up).
fn assert_no_answer(outcome: &Result<(), tonic::Status>) {
    assert!(
        matches!(outcome, Err(s) if matches!(
            s.code(),
            Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled
        ) && s.metadata().get(ingressoja_proto::ERROR_CODE_KEY).is_none()),
        "{outcome:?}"
    );
}

/// Material for `identity` signed by `authority`, trusting the CA in
/// `trusted_ca_pem` for the server, written to `dir`.
fn issued(
    dir: &std::path::Path,
    authority: &Authority,
    identity: &Identity,
    trusted_ca_pem: &str,
) -> TlsMaterial {
    let cert = authority.issue(identity).expect("issue");
    let (ca, crt, key) = (dir.join("ca.pem"), dir.join("x.pem"), dir.join("x.key"));
    std::fs::write(&ca, trusted_ca_pem).unwrap();
    std::fs::write(&crt, cert.cert_pem).unwrap();
    std::fs::write(&key, cert.key_pem).unwrap();
    TlsMaterial::load(&ca, &crt, &key).expect("material")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_certificate_another_ca_or_another_cluster_gets_nothing() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.wait_for_leader(ELECTION).await;
    let addr = cluster.addr(1);
    let scratch = tempfile::tempdir().unwrap();

    // Plaintext, as the attack on the old cluster did: the connection is
    // dropped at the handshake, no answer at all.
    let plain = call(plaintext_channel(&addr), rpc(GET_CREDENTIALS)).await;
    assert_no_answer(&plain);

    // A certificate that says "gateway of cluster test", signed by a CA of
    // the attacker's own making (the attacker trusts the real node): the
    // node refuses the handshake.
    let real_ca = std::fs::read_to_string(cluster.pki.ca_file()).unwrap();
    let forger = Authority::generate(TEST_CLUSTER).unwrap();
    let forged_gateway = Identity::new(TEST_CLUSTER, Role::Gateway, "web").unwrap();
    let forged = issued(scratch.path(), &forger, &forged_gateway, &real_ca);
    let outcome = call(channel(&addr, &forged), rpc(GET_CREDENTIALS)).await;
    assert_no_answer(&outcome);

    // TLS with no client certificate at all: refused at the handshake.
    let anonymous = tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(&real_ca))
                .domain_name(ingressoja_pki::NODE_SERVER_NAME),
        )
        .unwrap()
        .connect_lazy();
    let outcome = call(anonymous, rpc(GET_CREDENTIALS)).await;
    assert_no_answer(&outcome);

    // The cluster's own CA (shared, say, with a staging cluster) signing a
    // gateway of another cluster: past the handshake, refused by name.
    let ca_key = std::fs::read_to_string(cluster.pki.dir().join("ca.key")).unwrap();
    let ca_cert = std::fs::read_to_string(cluster.pki.ca_file()).unwrap();
    let staging = Authority::load("staging", &ca_cert, &ca_key).unwrap();
    let staging_gateway = Identity::new("staging", Role::Gateway, "web").unwrap();
    let other = issued(scratch.path(), &staging, &staging_gateway, &ca_cert);
    let outcome = call(channel(&addr, &other), rpc(GET_CREDENTIALS)).await;
    assert!(refused(&outcome), "{outcome:?}");
    let message = outcome.unwrap_err().message().to_string();
    assert!(message.contains("not of cluster test"), "{message}");
    cluster.shutdown().await;
}

/// A vote request from candidate `claimed`, serialised as the nodes send it.
fn vote_from(claimed: u64) -> RaftPayload {
    let vote = openraft::Vote::new(0, claimed);
    let request = openraft::raft::VoteRequest::<u64>::new(vote, None);
    RaftPayload {
        data: serde_json::to_vec(&request).unwrap(),
        ..RaftPayload::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_cannot_speak_for_another_node() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.wait_for_leader(ELECTION).await;
    let addr = cluster.addr(1);
    let node3 = cluster.pki.material_of(Role::Node, "3").unwrap();
    let mut raft = RaftTransportClient::new(channel(&addr, &node3));

    // Node 3's key asking for votes as node 2: refused, naming both.
    let posing = raft.vote(vote_from(2)).await;
    let status = posing.expect_err("a vote in another node's name");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().contains("claims to come from node 2")
            && status.message().contains("ingressoja://test/node/3"),
        "{}",
        status.message()
    );
    // In its own name (term 0, so it changes nothing) it is heard.
    raft.vote(vote_from(3))
        .await
        .expect("a vote in its own name");
    cluster.shutdown().await;
}
