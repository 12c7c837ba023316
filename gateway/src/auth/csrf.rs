//! CSRF protection for the HTML forms: a per-browser nonce in a cookie and,
//! in every form, a MAC of it under the gateways' shared key.
//!
//! A forged cross-site form cannot read the cookie to compute the field
//! (and SameSite=Lax keeps the cookie off cross-site POSTs anyway). The
//! field is also bound to the signed-in customer, so a cookie planted by a
//! sibling domain, with a field fetched under the attacker's own session,
//! does not pass for the victim's. The JSON API takes writes only with
//! bearer tokens, which browsers never attach on their own.

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

/// The value forms must carry for the browser holding `nonce`, signed in
/// as `customer_id` ("" before login). Binding it to the session means a
/// token fetched with a planted cookie but another session is worthless.
pub fn form_token(signer: &TokenSigner, nonce: &str, customer_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(signer.mac(format!("csrf\n{nonce}\n{customer_id}").as_bytes()))
}

/// True when `token` is the form value for `nonce` and `customer_id`.
pub fn check(signer: &TokenSigner, nonce: &str, customer_id: &str, token: &str) -> bool {
    if nonce.is_empty() {
        return false;
    }
    let Ok(signature) = URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    signer.check_mac(
        format!("csrf\n{nonce}\n{customer_id}").as_bytes(),
        &signature,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_matching_token_passes() {
        let signer = TokenSigner::new(vec![1; 32]);
        let nonce = new_nonce();
        let token = form_token(&signer, &nonce, "ana");
        assert!(check(&signer, &nonce, "ana", &token));
        assert!(!check(&signer, &nonce, "bob", &token));
        assert!(!check(&signer, &nonce, "", &token));
        assert!(!check(&signer, &new_nonce(), "ana", &token));
        assert!(!check(&signer, &nonce, "ana", ""));
        assert!(!check(&signer, "", "", &form_token(&signer, "", "")));
        assert!(!check(
            &TokenSigner::new(vec![2; 32]),
            &nonce,
            "ana",
            &token
        ));
    }
}
