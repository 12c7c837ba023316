//! The login flow shared by the pages and the JSON API: password, then (if
//! enrolled) a TOTP code, with the failures and the used code recorded in
//! the cluster so that lockout and replay protection hold on every gateway.
//!
//! A lockout must not be a way to shut the owner out: anyone can type six
//! wrong passwords for someone else's account during the minutes of a sale.
//! So every successful login hands the browser or app a signed *device
//! token* (a cookie for the pages, `device_token` in the API). A login that
//! presents one of the same account is exempt from the account's lockout
//! and counted in a rate-limit bucket of its own: the owner on a device
//! they used before gets in with the right password (and code), while
//! strangers, who hold no such token, stay locked out. (OWASP's "device
//! cookies" defence against lockout denial of service.)

use ingressoja_client::proto::ticketing::CredentialsReply;
use ingressoja_codes::RejectionCode;

use super::session::Purpose;
use super::{password, totp};
use crate::clock;
use crate::error::ApiError;
use crate::state::AppState;

/// Where a login stands after the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordOutcome {
    /// No second factor enrolled: signed in.
    SignedIn {
        /// The account's id (the login may have been an e-mail).
        customer_id: String,
    },
    /// The password was right; a TOTP code is owed.
    NeedsCode {
        /// The account's id.
        customer_id: String,
    },
}

/// Failed logins per device token, on this gateway: a device that keeps
/// failing loses its exemption from the account's lockout (after as many
/// failures as lock an account), so a stolen device cookie buys a guesser
/// a few tries, not ten a minute for half a year. Bounded: when full it
/// starts afresh (a guesser then gets a few more tries, no more).
#[derive(Debug, Default)]
pub struct DeviceFailures {
    counts: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

/// Devices tracked at once before the table starts afresh.
const MAX_TRACKED_DEVICES: usize = 100_000;

impl DeviceFailures {
    fn key(token: &str) -> String {
        token[token.len().saturating_sub(22)..].to_string()
    }

    fn failures(&self, token: &str) -> u32 {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.get(&Self::key(token)).copied().unwrap_or(0)
    }

    fn failed(&self, token: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= MAX_TRACKED_DEVICES {
            counts.clear();
        }
        *counts.entry(Self::key(token)).or_default() += 1;
    }

    fn succeeded(&self, token: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.remove(&Self::key(token));
    }
}

/// The device token of this login if it may skip the account's lockout:
/// valid, of this account, and not worn out by failures of its own.
fn exempt<'a>(state: &AppState, device: Option<&'a str>, customer_id: &str) -> Option<&'a str> {
    device.filter(|token| {
        trusted_device(state, Some(token), customer_id)
            && state.device_failures.failures(token) < state.lockout.after
    })
}

/// How long a device token is good for: a device used in the last half year.
pub const DEVICE_TOKEN_SECS: u64 = 180 * 24 * 3600;

/// A device token for `customer_id`, handed out at each successful login.
pub fn device_token(state: &AppState, customer_id: &str) -> String {
    state.signer.issue(
        Purpose::Device,
        customer_id,
        clock::now_secs() + DEVICE_TOKEN_SECS,
    )
}

/// Whether `device` is a valid device token of `customer_id`.
pub fn trusted_device(state: &AppState, device: Option<&str>, customer_id: &str) -> bool {
    device
        .filter(|token| !token.is_empty())
        .and_then(|token| {
            state
                .signer
                .verify(token, Purpose::Device, clock::now_secs())
                .ok()
        })
        .is_some_and(|claims| claims.customer_id == customer_id)
}

/// The per-customer rate-limit key of a login attempt for `login`: the
/// login itself, or, from a device that logged in to that account before,
/// the device's own bucket (so strangers cannot spend it).
pub fn limit_key(state: &AppState, login: &str, device: Option<&str>) -> String {
    match device {
        Some(token) if trusted_device(state, device, login) => {
            let tail = &token[token.len().saturating_sub(22)..];
            format!("device:{login}:{tail}")
        }
        // An e-mail names the account in any case: one bucket for all its
        // spellings (ids are case-sensitive and stay exact).
        _ if login.contains('@') => login.trim().to_ascii_lowercase(),
        _ => login.to_string(),
    }
}

/// Checks `login` (customer id or e-mail) and `password`; `device` is the
/// device token the caller presented, if any.
pub async fn check_password(
    state: &AppState,
    login: &str,
    password: &str,
    device: Option<&str>,
) -> Result<PasswordOutcome, ApiError> {
    if login.trim().is_empty() {
        return Err(ApiError::invalid("login", "must not be empty"));
    }
    if password.is_empty() {
        return Err(ApiError::invalid("password", "must not be empty"));
    }
    if password.len() > password::MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid(
            "password",
            format!("at most {} bytes", password::MAX_PASSWORD_BYTES),
        ));
    }
    let credentials = match state.cluster.get_credentials(login.trim()).await {
        Ok(credentials) => credentials,
        Err(error)
            if matches!(
                error.rejection(),
                Some(RejectionCode::UnknownCustomer | RejectionCode::InvalidField)
            ) =>
        {
            // Same work, same answer as a wrong password: no account probing.
            password::matches(password.to_string(), None).await;
            return Err(ApiError::BadCredentials);
        }
        Err(error) => return Err(error.into()),
    };
    let exempt = lock_or_exempt(state, device, &credentials)?;
    let customer_id = credentials.customer_id;
    if !password::matches(password.to_string(), Some(credentials.password_hash)).await {
        if let Some(token) = exempt {
            state.device_failures.failed(token);
        }
        state
            .cluster
            .record_login(&customer_id, false, None)
            .await?;
        tracing::info!(customer = %customer_id, "login refused: wrong password");
        return Err(ApiError::BadCredentials);
    }
    if credentials.totp_secret.is_empty() {
        state.cluster.record_login(&customer_id, true, None).await?;
        if let Some(token) = exempt {
            state.device_failures.succeeded(token);
        }
        Ok(PasswordOutcome::SignedIn { customer_id })
    } else {
        Ok(PasswordOutcome::NeedsCode { customer_id })
    }
}

/// Checks the second-factor `code` of `customer_id` (who passed the
/// password step) and records its time step so it cannot be used again.
pub async fn check_code(
    state: &AppState,
    customer_id: &str,
    code: &str,
    device: Option<&str>,
) -> Result<(), ApiError> {
    let credentials = state.cluster.get_credentials(customer_id).await?;
    let exempt = lock_or_exempt(state, device, &credentials)?;
    let Some(step) = totp::verify(&credentials.totp_secret, code, clock::now_secs()) else {
        if let Some(token) = exempt {
            state.device_failures.failed(token);
        }
        state.cluster.record_login(customer_id, false, None).await?;
        return Err(ApiError::BadCode);
    };
    match state
        .cluster
        .record_login(customer_id, true, Some(step))
        .await
    {
        Ok(_) => {
            if let Some(token) = exempt {
                state.device_failures.succeeded(token);
            }
            Ok(())
        }
        Err(error) if error.rejection() == Some(RejectionCode::TotpReplayed) => {
            Err(ApiError::CodeReplayed)
        }
        Err(error) => Err(error.into()),
    }
}

/// Confirms a TOTP enrolment: `code` must match `secret` now; the cluster
/// stores the secret and the code's step (so the same code cannot log in).
pub async fn enrol(
    state: &AppState,
    customer_id: &str,
    secret: &str,
    code: &str,
) -> Result<(), ApiError> {
    if super::base32::decode(secret).is_none_or(|bytes| bytes.len() < 10) {
        return Err(ApiError::invalid("secret", "not a base32 TOTP secret"));
    }
    let step = totp::verify(secret, code, clock::now_secs()).ok_or(ApiError::BadCode)?;
    state.cluster.enrol_totp(customer_id, secret, step).await?;
    Ok(())
}

/// Refuses a locked account unless this login comes from a device exempt
/// from its lock; returns that device's token, if so.
fn lock_or_exempt<'a>(
    state: &AppState,
    device: Option<&'a str>,
    credentials: &CredentialsReply,
) -> Result<Option<&'a str>, ApiError> {
    let exempt = exempt(state, device, &credentials.customer_id);
    if exempt.is_none() {
        ensure_not_locked(
            state,
            credentials.failed_logins,
            credentials.last_failed_login_ms,
        )?;
    }
    Ok(exempt)
}

fn ensure_not_locked(
    state: &AppState,
    failures: u32,
    last_failure_ms: u64,
) -> Result<(), ApiError> {
    match state
        .lockout
        .remaining(failures, last_failure_ms, clock::now_ms())
    {
        Some(retry_after) => Err(ApiError::AccountLocked { retry_after }),
        None => Ok(()),
    }
}
