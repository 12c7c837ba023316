//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30-second
//! steps), the second factor any authenticator app speaks.
//!
//! Verification returns the time step that matched so the cluster can
//! refuse a code that was already used (replay), whichever gateway sees it.

use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::base32;

/// Seconds per code.
pub const STEP_SECS: u64 = 30;
const DIGITS: u32 = 6;

/// A fresh 160-bit secret, base32 as apps expect it.
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::random();
    base32::encode(&bytes)
}

/// The code for `step` (unix seconds / 30), or `None` if the secret is not base32.
pub fn code_at(secret: &str, step: u64) -> Option<u32> {
    let key = base32::decode(secret)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).ok()?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    Some(binary % 10u32.pow(DIGITS))
}

/// The step whose code is `code` among the previous, current and next step
/// at `unix_secs` (tolerating a phone clock 30 s off), if any.
pub fn verify(secret: &str, code: &str, unix_secs: u64) -> Option<u64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let now = unix_secs / STEP_SECS;
    [now, now.saturating_sub(1), now + 1]
        .into_iter()
        .find(|&step| code_at(secret, step) == Some(wanted))
}

/// The `otpauth://` URI an authenticator app reads from the QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &str) -> String {
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        issuer = percent(issuer),
        account = percent(account),
    )
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, truncated to our 6 digits.
    #[test]
    fn rfc6238_vectors() {
        let secret = base32::encode(b"12345678901234567890");
        for (time, eight_digits) in [
            (59u64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
        ] {
            assert_eq!(
                code_at(&secret, time / STEP_SECS),
                Some(eight_digits % 1_000_000)
            );
        }
    }

    #[test]
    fn verify_accepts_one_step_of_drift_and_names_the_step() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let step = now / STEP_SECS;
        let code = |s| format!("{:06}", code_at(&secret, s).unwrap());
        assert_eq!(verify(&secret, &code(step), now), Some(step));
        assert_eq!(verify(&secret, &code(step - 1), now), Some(step - 1));
        assert_eq!(verify(&secret, &code(step + 1), now), Some(step + 1));
        assert_eq!(verify(&secret, &code(step - 2), now), None);
        for junk in ["", "12345", "1234567", "abcdef", "12 34 5x"] {
            assert_eq!(verify(&secret, junk, now), None, "{junk}");
        }
    }

    #[test]
    fn the_uri_names_issuer_account_and_secret() {
        let uri = otpauth_uri("IngressoJá", "ana@example.com", "ABC");
        assert!(uri.starts_with("otpauth://totp/IngressoJ%C3%A1:ana%40example.com?secret=ABC"));
    }
}
