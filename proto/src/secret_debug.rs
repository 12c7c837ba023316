//! `Debug` for the messages that carry a password hash or a TOTP secret: every
//! field is shown except those, which print as `<redacted>` (or `""` when empty),
//! so a stray `{:?}` in a log never leaks a credential.

use std::fmt;

use crate::ticketing::{CredentialsReply, EnrolTotpRequest, RegisterRequest};

/// Shows whether a secret is set, never what it is.
struct Redacted<'a>(&'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("<redacted>")
        }
    }
}

impl fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterRequest")
            .field("key", &self.key)
            .field("customer_id", &self.customer_id)
            .field("email", &self.email)
            .field("cpf", &self.cpf)
            .field("display_name", &self.display_name)
            .field("password_hash", &Redacted(&self.password_hash))
            .field("totp_secret", &Redacted(&self.totp_secret))
            .finish()
    }
}

impl fmt::Debug for CredentialsReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsReply")
            .field("customer_id", &self.customer_id)
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("password_hash", &Redacted(&self.password_hash))
            .field("totp_secret", &Redacted(&self.totp_secret))
            .field("failed_logins", &self.failed_logins)
            .field("last_failed_login_ms", &self.last_failed_login_ms)
            .field("last_totp_step", &self.last_totp_step)
            .field("read_index", &self.read_index)
            .finish()
    }
}

impl fmt::Debug for EnrolTotpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrolTotpRequest")
            .field("key", &self.key)
            .field("customer_id", &self.customer_id)
            .field("totp_secret", &Redacted(&self.totp_secret))
            .field("totp_step", &self.totp_step)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_the_rest_is_shown() {
        let reply = CredentialsReply {
            customer_id: "ana".into(),
            password_hash: "$argon2id$v=19$secret-hash".into(),
            totp_secret: "JBSWY3DPEHPK3PXP".into(),
            failed_logins: 3,
            ..Default::default()
        };
        let shown = format!("{reply:?}");
        assert!(!shown.contains("secret-hash") && !shown.contains("JBSWY3DPEHPK3PXP"));
        assert!(shown.contains("\"ana\"") && shown.contains("failed_logins: 3"));
        assert!(shown.contains("<redacted>"));
        let enrol = EnrolTotpRequest {
            totp_secret: "JBSWY3DPEHPK3PXP".into(),
            ..Default::default()
        };
        assert!(!format!("{enrol:?}").contains("JBSWY3DPEHPK3PXP"));
        let register = RegisterRequest {
            password_hash: "$argon2id$v=19$secret-hash".into(),
            ..Default::default()
        };
        let shown = format!("{register:?}");
        assert!(!shown.contains("secret-hash"));
        assert!(shown.contains("totp_secret: \"\""), "{shown}");
    }
}
