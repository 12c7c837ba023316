//! The login flow shared by the pages and the JSON API: password, then (if
//! enrolled) a TOTP code, with the failures and the used code recorded in
//! the cluster so that lockout and replay protection hold on every gateway.

use ingressoja_codes::RejectionCode;

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

/// Checks `login` (customer id or e-mail) and `password`.
pub async fn check_password(
    state: &AppState,
    login: &str,
    password: &str,
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
    ensure_not_locked(
        state,
        credentials.failed_logins,
        credentials.last_failed_login_ms,
    )?;
    let customer_id = credentials.customer_id;
    if !password::matches(password.to_string(), Some(credentials.password_hash)).await {
        state
            .cluster
            .record_login(&customer_id, false, None)
            .await?;
        tracing::info!(customer = %customer_id, "login refused: wrong password");
        return Err(ApiError::BadCredentials);
    }
    if credentials.totp_secret.is_empty() {
        state.cluster.record_login(&customer_id, true, None).await?;
        Ok(PasswordOutcome::SignedIn { customer_id })
    } else {
        Ok(PasswordOutcome::NeedsCode { customer_id })
    }
}

/// Checks the second-factor `code` of `customer_id` (who passed the
/// password step) and records its time step so it cannot be used again.
pub async fn check_code(state: &AppState, customer_id: &str, code: &str) -> Result<(), ApiError> {
    let credentials = state.cluster.get_credentials(customer_id).await?;
    ensure_not_locked(
        state,
        credentials.failed_logins,
        credentials.last_failed_login_ms,
    )?;
    let Some(step) = totp::verify(&credentials.totp_secret, code, clock::now_secs()) else {
        state.cluster.record_login(customer_id, false, None).await?;
        return Err(ApiError::BadCode);
    };
    match state
        .cluster
        .record_login(customer_id, true, Some(step))
        .await
    {
        Ok(_) => Ok(()),
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
