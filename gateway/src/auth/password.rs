//! Checking a password against the argon2id hash the cluster stores.
//!
//! argon2id is deliberately slow (tens of milliseconds), so it runs on the
//! blocking pool, never on the async workers serving other buyers.

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;

/// A valid argon2id hash of a random password nobody knows: checked when the
/// login names no account, so "no such user" takes as long as "wrong password".
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Y2aT3qJ0bW5bqk3w0lGk3cQb4xJ2cVtQ0mS8m1b1VdY";

/// True when `password` matches `phc`; false on a mismatch or an unusable hash.
pub async fn matches(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DECOY_HASH.to_string());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && ok
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn right_wrong_and_missing() {
        let phc = ingressoja_client::password::hash_password("s3cret").unwrap();
        assert!(matches("s3cret".into(), Some(phc.clone())).await);
        assert!(!matches("S3cret".into(), Some(phc)).await);
        assert!(!matches("s3cret".into(), None).await);
        assert!(!matches("x".into(), Some("not a hash".into())).await);
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
    }
}
