//! Account attacks a scalper would try against the cluster itself.

use ingressoja_test_support::{cpf, register, ClusterOptions, TestCluster};

use crate::ELECTION;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_id_that_looks_like_someones_email_cannot_be_registered() {
    // The attack: register ana's e-mail as a customer id, so that ana's
    // e-mail logins reach the attacker's account (or lock hers out).
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.wait_for_leader(ELECTION).await;
    let client = cluster.client(None);
    register(&client, "ana", 1).await;
    let hash = ingressoja_client::password::hash_password("mallory-password").unwrap();
    let refused = client
        .register(
            "ana@example.com",
            "mallory@example.com",
            &cpf(2),
            "Mallory",
            &hash,
            None,
        )
        .await
        .expect_err("an id with '@'");
    assert_eq!(
        refused.rejection_code(),
        Some("invalid_field"),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("customer_id"), "{refused}");
    // ana's e-mail still finds ana.
    let gateway = cluster.client_as(ingressoja_pki::Role::Gateway, "web", None);
    let found = gateway.get_credentials("ana@example.com").await.unwrap();
    assert_eq!(found.customer_id, "ana");
    cluster.shutdown().await;
}
