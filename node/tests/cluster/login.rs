//! Cluster tests of login support: TOTP enrolment, login counters and replay
//! refusal, read back through the client and checked on every replica.

use ingressoja_client::ClientError;
use ingressoja_pki::Role;

use crate::ELECTION;
use ingressoja_test_support::{register, ClusterOptions, TestCluster};

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn code(e: &ClientError) -> Option<&str> {
    e.rejection_code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_counters_and_totp_replay_protection_are_replicated() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let leader = cluster.wait_for_leader(ELECTION).await;
    // The credential calls are the gateways' alone.
    let client = cluster.client_as(Role::Gateway, "web", Some("gateway-a"));
    // A second stateless gateway: the same cluster, its own idempotency keys.
    let other_gateway = cluster.client_as(Role::Gateway, "web", Some("gateway-b"));
    register(&client, "ana", 1).await;

    // Enrol with the code of step 1000: that code can never log in.
    client
        .enrol_totp("ana", SECRET, 1_000)
        .await
        .expect("enrolled");
    let e = client
        .enrol_totp("ana", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 1_001)
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some("totp_already_enrolled"), "{e}");
    let e = client
        .enrol_totp("ana", "not-base32", 1_001)
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some("invalid_field"), "{e}");
    assert!(e.to_string().contains("totp_secret"), "{e}");
    let e = client.enrol_totp("nobody", SECRET, 1).await.unwrap_err();
    assert_eq!(code(&e), Some("unknown_customer"), "{e}");

    // A failed login, recorded by one gateway and retried with the same key.
    let request_id = client.next_request_id();
    let failed = client
        .record_login_with_request_id("ana", false, None, request_id)
        .await
        .expect("failure recorded");
    assert_eq!(failed.failed_logins, 1);
    assert!(failed.last_failed_login_ms > 0);
    let retried = client
        .record_login_with_request_id("ana", false, None, request_id)
        .await
        .expect("retry answered");
    assert_eq!(retried, failed, "a retry must get the first answer");
    let second = other_gateway
        .record_login("ana", false, None)
        .await
        .expect("second failure recorded");
    assert_eq!(second.failed_logins, 2);
    assert!(second.last_failed_login_ms >= failed.last_failed_login_ms);

    // Any gateway reads the same counters, by id or by e-mail in any case.
    for login in ["ana", "ANA@Example.com"] {
        let creds = other_gateway
            .get_credentials(login)
            .await
            .unwrap_or_else(|e| panic!("credentials of {login}: {e}"));
        assert_eq!(creds.customer_id, "ana");
        assert_eq!(creds.email, "ana@example.com");
        assert!(creds.password_hash.starts_with("$argon2id$"));
        assert_eq!(creds.totp_secret, SECRET);
        assert_eq!(creds.failed_logins, 2);
        assert_eq!(creds.last_failed_login_ms, second.last_failed_login_ms);
        assert_eq!(creds.last_totp_step, 1_000);
        assert!(creds.read_index >= second.log_index);
        assert!(
            !format!("{creds:?}").contains(SECRET),
            "Debug leaks the secret"
        );
    }
    let e = client
        .get_credentials("nobody@example.com")
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some("unknown_customer"), "{e}");

    // The enrolment code is refused as a replay, and nothing changes.
    let e = client
        .record_login("ana", true, Some(1_000))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some("totp_replayed"), "{e}");
    assert_eq!(
        client
            .get_credentials("ana")
            .await
            .expect("read")
            .failed_logins,
        2
    );
    // A newer code logs in and resets the count; reusing it through the other gateway fails.
    let ok = client
        .record_login("ana", true, Some(1_001))
        .await
        .expect("login recorded");
    assert_eq!(ok.failed_logins, 0);
    assert_eq!(ok.last_failed_login_ms, second.last_failed_login_ms);
    let e = other_gateway
        .record_login("ana", true, Some(1_001))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some("totp_replayed"), "{e}");

    // Every replica holds the same counters (and the same state hash).
    cluster.assert_same_state().await;
    for (id, node) in &cluster.nodes {
        let state = node.state.read().unwrap();
        let ana = state.machine.credentials("ana@example.com").expect("ana");
        assert_eq!(
            (ana.failed_logins, ana.last_totp_step),
            (0, 1_001),
            "node {id} (leader {leader})"
        );
        assert_eq!(ana.last_failed_login_ms, second.last_failed_login_ms);
    }
    cluster.shutdown().await;
}
