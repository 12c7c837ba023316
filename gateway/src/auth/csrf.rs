//! CSRF protection for the HTML forms: a per-browser nonce in a cookie and,
//! in every form, a MAC of it under the gateways' shared key.
//!
//! A forged cross-site form cannot read the cookie to compute the field
//! (and SameSite=Lax keeps the cookie off cross-site POSTs anyway); a
//! cookie planted by a sibling domain is useless without the key. The JSON
//! API uses bearer tokens, which browsers never attach on their own, so it
//! needs no CSRF field.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::session::TokenSigner;

/// Name of the cookie holding the browser's CSRF nonce.
pub const COOKIE: &str = "ij_csrf";

/// A fresh nonce for a browser that has none yet.
pub fn new_nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The value forms must carry for the browser holding `nonce`.
pub fn form_token(signer: &TokenSigner, nonce: &str) -> String {
    URL_SAFE_NO_PAD.encode(signer.mac(format!("csrf\n{nonce}").as_bytes()))
}

/// True when `token` is the form value for `nonce`.
pub fn check(signer: &TokenSigner, nonce: &str, token: &str) -> bool {
    if nonce.is_empty() {
        return false;
    }
    let Ok(signature) = URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    signer.check_mac(format!("csrf\n{nonce}").as_bytes(), &signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_matching_token_passes() {
        let signer = TokenSigner::new(vec![1; 32]);
        let nonce = new_nonce();
        let token = form_token(&signer, &nonce);
        assert!(check(&signer, &nonce, &token));
        assert!(!check(&signer, &new_nonce(), &token));
        assert!(!check(&signer, &nonce, ""));
        assert!(!check(&signer, "", &form_token(&signer, "")));
        assert!(!check(&TokenSigner::new(vec![2; 32]), &nonce, &token));
    }
}
