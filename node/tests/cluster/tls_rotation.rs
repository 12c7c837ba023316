//! Rotating a node's certificate while the sale goes on: the node reloads
//! its files (SIGHUP in the binary, `reload_tls` here), new connections get
//! the new certificate, open ones finish with the old, and no buyer sees a
//! failed call. A reload of broken files changes nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ingressoja_pki::{Authority, Identity, Role};
use ingressoja_test_support::{register, ClusterOptions, TestCluster, TEST_CLUSTER};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::{create_event, ELECTION};

/// The certificate node `id` serves to a new connection right now.
async fn served_certificate(cluster: &TestCluster, id: u64) -> Vec<u8> {
    let ca = std::fs::read(cluster.pki.ca_file()).unwrap();
    let (cert, key) = cluster.pki.files_of(Role::Operator, "admin");
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(&ca) {
        roots.add(ca.unwrap()).unwrap();
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(cluster.addr(id))
        .await
        .unwrap();
    let name = ServerName::try_from(ingressoja_pki::NODE_SERVER_NAME).unwrap();
    let tls = connector.connect(name, tcp).await.expect("handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// Writes `text` to `path` whole (aside, then renamed), as a deploy would.
fn replace(path: &std::path::Path, text: &str) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_certificate_is_rotated_under_load_with_no_failed_call() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    create_event(&client, 100_000, 100_000).await;
    for b in 0..4 {
        register(&client, &format!("rot{b}"), 7_000 + b).await;
    }

    // Buyers hold and release all through the rotation; any error counts.
    let stop = Arc::new(AtomicBool::new(false));
    let (calls, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let buyers: Vec<_> = (0..4)
        .map(|b| {
            let (client, stop) = (cluster.client(None), stop.clone());
            let (calls, failures) = (calls.clone(), failures.clone());
            tokio::spawn(async move {
                let customer = format!("rot{b}");
                while !stop.load(Ordering::Relaxed) {
                    let held = client.place_hold("rock", "pista", &customer, 1).await;
                    let released = match &held {
                        Ok(reply) => match &reply.hold {
                            Some(hold) => {
                                client.release_hold(hold.hold_id, &customer).await.map(drop)
                            }
                            None => Ok(()),
                        },
                        Err(_) => Ok(()),
                    };
                    calls.fetch_add(2, Ordering::Relaxed);
                    if let Err(e) = held.map(drop).and(released) {
                        eprintln!("failed call: {e}");
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let node1 = Identity::node(TEST_CLUSTER, 1).unwrap();
    let before = served_certificate(&cluster, 1).await;
    let ca = Authority::load(
        TEST_CLUSTER,
        &std::fs::read_to_string(cluster.pki.ca_file()).unwrap(),
        &std::fs::read_to_string(cluster.pki.dir().join("ca.key")).unwrap(),
    )
    .unwrap();
    let renewed = ca.issue(&node1).unwrap();
    replace(&cluster.pki.key_file(&node1), &renewed.key_pem);
    replace(&cluster.pki.cert_file(&node1), &renewed.cert_pem);
    let reloaded = cluster.nodes[&1].reload_tls().expect("reload");
    assert_eq!(reloaded, Some(node1.clone()));
    let after = served_certificate(&cluster, 1).await;
    assert_ne!(before, after, "node 1 still serves its old certificate");
    let renewed_der = CertificateDer::from_pem_slice(renewed.cert_pem.as_bytes()).unwrap();
    assert_eq!(after, renewed_der.to_vec());
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A half-deployed rotation (a new key, the old certificate): refused,
    // and the node serves on with what it had.
    let stray = ca.issue(&node1).unwrap();
    let good_key = std::fs::read_to_string(cluster.pki.key_file(&node1)).unwrap();
    replace(&cluster.pki.key_file(&node1), &stray.key_pem);
    let refused = cluster.nodes[&1].reload_tls().unwrap_err().to_string();
    assert!(
        refused.contains("not the key of the certificate"),
        "{refused}"
    );
    assert_eq!(served_certificate(&cluster, 1).await, after);
    replace(&cluster.pki.key_file(&node1), &good_key);
    tokio::time::sleep(Duration::from_millis(500)).await;

    stop.store(true, Ordering::Relaxed);
    for buyer in buyers {
        buyer.await.unwrap();
    }
    let (calls, failures) = (
        calls.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
    );
    assert!(calls > 20, "only {calls} calls made");
    assert_eq!(
        failures, 0,
        "{failures} of {calls} calls failed during the rotation"
    );
    cluster.assert_same_state().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_given_new_material_calls_with_it_from_the_next_connection() {
    // What a gateway's SIGHUP does: the client's certificate is replaced
    // while it is in use. Switching identity shows on the node's side: the
    // credential calls are the gateways' alone.
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    register(&client, "ana", 1).await;
    let refused = client.get_credentials("ana").await.unwrap_err();
    assert_eq!(
        refused.rejection_code(),
        Some("permission_denied"),
        "{refused:?}"
    );
    let gateway = cluster.pki.material_of(Role::Gateway, "web").unwrap();
    client.set_tls(Some(gateway)).unwrap();
    let found = client.get_credentials("ana").await.expect("as the gateway");
    assert_eq!(found.customer_id, "ana");
    // Clones share it.
    let clone = client.with_client_id("another");
    clone.get_credentials("ana").await.expect("the clone too");
    cluster.shutdown().await;
}
