//! Signed tokens: the session every gateway accepts, with no shared store.
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`,
//! the payload being `purpose \n customer_id \n expires_at \n nonce`. Any
//! gateway holding the shared key (from config) can check it, so a buyer
//! whose gateway dies carries on through another. Tokens are not revocable
//! before they expire: logging out deletes the cookie, and the TTL bounds
//! what a stolen token is worth.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// What a token lets its bearer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A signed-in customer.
    Session,
    /// Password checked, second factor still owed: only `/login/2fa` accepts it.
    SecondFactor,
    /// This browser or app logged in to the account before: a lockout
    /// caused by strangers does not shut it out (see `auth::login`).
    Device,
}

impl Purpose {
    fn tag(self) -> &'static str {
        match self {
            Purpose::Session => "s1",
            Purpose::SecondFactor => "m1",
            Purpose::Device => "d1",
        }
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Whose token it is.
    pub customer_id: String,
    /// Unix seconds after which the token is refused.
    pub expires_at: u64,
}

/// Why a token was refused. The messages are safe to show: they never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// Not two base64url parts, or a payload that does not decode.
    #[error("the session token is malformed")]
    Malformed,
    /// Signed with another key, or altered.
    #[error("the session token's signature is not valid")]
    BadSignature,
    /// Valid but past its expiry.
    #[error("the session has expired; please sign in again")]
    Expired,
    /// A token made for something else (e.g. a half-finished login).
    #[error("this token cannot be used here")]
    WrongPurpose,
}

/// The HMAC key shared by all gateways, and the code that signs and checks tokens.
#[derive(Clone)]
pub struct TokenSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(<redacted>)")
    }
}

impl TokenSigner {
    /// A signer for `key` (config guarantees at least 32 bytes).
    pub fn new(key: Vec<u8>) -> TokenSigner {
        TokenSigner { key }
    }

    /// A token for `customer_id`, valid until `expires_at` (unix seconds).
    pub fn issue(&self, purpose: Purpose, customer_id: &str, expires_at: u64) -> String {
        let nonce: u64 = rand::random();
        let payload = format!(
            "{}\n{customer_id}\n{expires_at}\n{nonce:016x}",
            purpose.tag()
        );
        let signature = self.mac(payload.as_bytes());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// Checks `token` for `purpose` at `now` (unix seconds).
    pub fn verify(&self, token: &str, purpose: Purpose, now: u64) -> Result<Claims, TokenError> {
        let (payload_b64, signature_b64) = token.split_once('.').ok_or(TokenError::Malformed)?;
        if token.len() > 1024 {
            return Err(TokenError::Malformed);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.hmac();
        mac.update(&payload);
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
        let mut parts = payload.split('\n');
        let (Some(tag), Some(customer_id), Some(expires_at), Some(_nonce), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        if tag != purpose.tag() {
            return Err(TokenError::WrongPurpose);
        }
        let expires_at: u64 = expires_at.parse().map_err(|_| TokenError::Malformed)?;
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        Ok(Claims {
            customer_id: customer_id.to_string(),
            expires_at,
        })
    }

    /// HMAC-SHA256 of `data` under the shared key (also used for CSRF and
    /// proof-of-work challenges, each with its own prefix).
    pub fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = self.hmac();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// True when `signature` is the MAC of `data`, compared in constant time.
    pub fn check_mac(&self, data: &[u8], signature: &[u8]) -> bool {
        let mut mac = self.hmac();
        mac.update(data);
        mac.verify_slice(signature).is_ok()
    }

    fn hmac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; this cannot fail.
        HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TokenSigner {
        TokenSigner::new(vec![7; 32])
    }

    #[test]
    fn a_token_verifies_on_any_gateway_with_the_key() {
        let token = signer().issue(Purpose::Session, "ana", 1_000);
        let claims = TokenSigner::new(vec![7; 32])
            .verify(&token, Purpose::Session, 999)
            .unwrap();
        assert_eq!(claims.customer_id, "ana");
        assert_eq!(claims.expires_at, 1_000);
    }

    #[test]
    fn expired_forged_and_misused_tokens_are_refused() {
        let token = signer().issue(Purpose::Session, "ana", 1_000);
        assert_eq!(
            signer().verify(&token, Purpose::Session, 1_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            TokenSigner::new(vec![8; 32]).verify(&token, Purpose::Session, 1),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            signer().verify(&token, Purpose::SecondFactor, 1),
            Err(TokenError::WrongPurpose)
        );
        // Swap in another customer's payload, keep the signature.
        let other = signer().issue(Purpose::Session, "bob", 1_000);
        let forged = format!(
            "{}.{}",
            other.split_once('.').unwrap().0,
            token.split_once('.').unwrap().1
        );
        assert_eq!(
            signer().verify(&forged, Purpose::Session, 1),
            Err(TokenError::BadSignature)
        );
        for junk in ["", "abc", "a.b", "!!.!!", &"x.".repeat(600)] {
            assert!(
                signer().verify(junk, Purpose::Session, 1).is_err(),
                "{junk}"
            );
        }
    }

    #[test]
    fn the_key_is_not_printed() {
        assert_eq!(format!("{:?}", signer()), "TokenSigner(<redacted>)");
    }
}
