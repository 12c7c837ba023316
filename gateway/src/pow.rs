//! The anti-bot proof of work asked before joining a queue.
//!
//! The gateway hands out a challenge `event|customer|expires|nonce` signed
//! with the shared key (so any gateway can check it and none stores it).
//! The browser searches a counter such that SHA-256(`challenge:counter`)
//! starts with `difficulty` zero bits: about 2^difficulty hashes, a second
//! or two for a phone at the default, a real cost for a bot farm joining
//! with thousands of accounts. The per-CPF rules in the cluster stay the
//! fairness guarantee; this only raises the price of volume.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::auth::session::TokenSigner;
use crate::error::ApiError;

/// A challenge to show the browser.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Challenge {
    /// The opaque, signed challenge text.
    pub challenge: String,
    /// Leading zero bits the hash must have.
    pub difficulty_bits: u8,
    /// Unix seconds after which it is refused.
    pub expires_at: u64,
}

/// Issues a challenge for `customer_id` joining `event_id`.
pub fn issue(
    signer: &TokenSigner,
    event_id: &str,
    customer_id: &str,
    difficulty_bits: u8,
    expires_at: u64,
) -> Challenge {
    let nonce: u64 = rand::random();
    let body = format!("{event_id}|{customer_id}|{difficulty_bits}|{expires_at}|{nonce:016x}");
    let signature = URL_SAFE_NO_PAD.encode(signer.mac(format!("pow\n{body}").as_bytes()));
    Challenge {
        challenge: format!("{body}|{signature}"),
        difficulty_bits,
        expires_at,
    }
}

/// Checks that `solution` solves `challenge`, issued for this event and
/// customer, still valid at `now` (unix seconds).
pub fn verify(
    signer: &TokenSigner,
    challenge: &str,
    solution: &str,
    event_id: &str,
    customer_id: &str,
    now: u64,
) -> Result<(), ApiError> {
    let bad = |reason: &str| ApiError::ProofOfWork(reason.to_string());
    if challenge.is_empty() {
        return Err(bad("no challenge was solved (is JavaScript enabled?)"));
    }
    let (body, signature) = challenge
        .rsplit_once('|')
        .ok_or_else(|| bad("malformed challenge"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| bad("malformed challenge"))?;
    if !signer.check_mac(format!("pow\n{body}").as_bytes(), &signature) {
        return Err(bad("the challenge was not issued by this shop"));
    }
    let parts: Vec<&str> = body.split('|').collect();
    let [challenge_event, challenge_customer, difficulty, expires_at, _nonce] = parts[..] else {
        return Err(bad("malformed challenge"));
    };
    if challenge_event != event_id || challenge_customer != customer_id {
        return Err(bad("the challenge was issued for another event or account"));
    }
    let expires_at: u64 = expires_at.parse().map_err(|_| bad("malformed challenge"))?;
    if now >= expires_at {
        return Err(bad("the challenge expired; try again"));
    }
    let difficulty: u32 = difficulty.parse().map_err(|_| bad("malformed challenge"))?;
    if solution.is_empty() || solution.len() > 20 || !solution.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the solution must be a decimal counter"));
    }
    if leading_zero_bits(&Sha256::digest(format!("{challenge}:{solution}"))) < difficulty {
        return Err(bad("the solution does not solve the challenge"));
    }
    Ok(())
}

/// Leading zero bits of `hash`.
pub fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for &byte in hash {
        if byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

/// Solves a challenge by brute force (tests and the load generator).
pub fn solve(challenge: &Challenge) -> String {
    (0u64..)
        .find(|counter| {
            leading_zero_bits(&Sha256::digest(format!(
                "{}:{counter}",
                challenge.challenge
            ))) >= u32::from(challenge.difficulty_bits)
        })
        .map(|counter| counter.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TokenSigner {
        TokenSigner::new(vec![3; 32])
    }

    #[test]
    fn a_solved_challenge_passes_once_bound_to_event_and_customer() {
        let challenge = issue(&signer(), "rock", "ana", 8, 1_000);
        let solution = solve(&challenge);
        verify(
            &signer(),
            &challenge.challenge,
            &solution,
            "rock",
            "ana",
            999,
        )
        .unwrap();
        for (event, customer, now) in [
            ("rock", "bob", 999),
            ("jazz", "ana", 999),
            ("rock", "ana", 1_000),
        ] {
            assert!(verify(
                &signer(),
                &challenge.challenge,
                &solution,
                event,
                customer,
                now
            )
            .is_err());
        }
    }

    #[test]
    fn unsolved_forged_or_malformed_challenges_fail() {
        let challenge = issue(&signer(), "rock", "ana", 20, 1_000);
        // An arbitrary counter almost surely misses 20 zero bits.
        let wrong = (0..)
            .map(|n: u64| n.to_string())
            .find(|n| {
                leading_zero_bits(&Sha256::digest(format!("{}:{n}", challenge.challenge))) < 20
            })
            .unwrap();
        assert!(verify(&signer(), &challenge.challenge, &wrong, "rock", "ana", 1).is_err());
        let easier = challenge.challenge.replacen("|20|", "|0|", 1);
        assert!(verify(&signer(), &easier, "0", "rock", "ana", 1).is_err());
        for junk in ["", "x", "a|b", "a|b|c|d|e|f"] {
            assert!(verify(&signer(), junk, "1", "rock", "ana", 1).is_err());
        }
        assert!(verify(&signer(), &challenge.challenge, "-1", "rock", "ana", 1).is_err());
    }

    #[test]
    fn zero_bits_counts() {
        assert_eq!(leading_zero_bits(&[0, 0x0f, 0xff]), 12);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
    }
}
