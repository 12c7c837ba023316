//! Password hashing for registration, done on the caller's machine so the
//! plain password never reaches the cluster.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use thiserror::Error;

/// The algorithm identifier every accepted hash must carry.
const ARGON2ID: &str = "argon2id";

/// Why a password could not be hashed, or a hash is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    /// An empty password was given.
    #[error("the password is empty")]
    Empty,
    /// The text is not a PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
    #[error("not a PHC password hash: {0}")]
    Malformed(String),
    /// The PHC string names another algorithm.
    #[error("expected an argon2id hash, found {0}")]
    NotArgon2id(String),
    /// The hasher refused its input (should not happen with the defaults).
    #[error("hashing the password failed: {0}")]
    Hashing(String),
}

/// Hashes `password` with argon2id (the crate's default parameters) and a
/// fresh random salt, returning the PHC string to send as `password_hash`.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| PasswordError::Hashing(err.to_string()))
}

/// Checks that `phc` is an argon2id PHC string with a salt and a hash.
pub fn check_password_hash(phc: &str) -> Result<(), PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|err| PasswordError::Malformed(err.to_string()))?;
    if parsed.algorithm.as_str() != ARGON2ID {
        return Err(PasswordError::NotArgon2id(parsed.algorithm.to_string()));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(PasswordError::Malformed(
            "the salt or the hash is missing".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordVerifier;

    use super::*;

    #[test]
    fn a_hash_is_argon2id_salted_and_verifies() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        check_password_hash(&phc).unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong", &parsed)
            .is_err());
    }

    #[test]
    fn two_hashes_of_one_password_differ_by_salt() {
        assert_ne!(hash_password("x").unwrap(), hash_password("x").unwrap());
    }

    #[test]
    fn an_empty_password_is_refused() {
        assert_eq!(hash_password(""), Err(PasswordError::Empty));
    }

    #[test]
    fn other_strings_are_refused() {
        assert!(matches!(
            check_password_hash("hunter2"),
            Err(PasswordError::Malformed(_))
        ));
        let salt = SaltString::generate(&mut OsRng);
        let argon2i = Argon2::new(
            argon2::Algorithm::Argon2i,
            argon2::Version::V0x13,
            argon2::Params::default(),
        )
        .hash_password(b"pw", &salt)
        .unwrap()
        .to_string();
        assert!(matches!(
            check_password_hash(&argon2i),
            Err(PasswordError::NotArgon2id(found)) if found == "argon2i"
        ));
        assert!(matches!(
            check_password_hash("$argon2id$v=19$m=16,t=2,p=1"),
            Err(PasswordError::Malformed(_))
        ));
    }
}
