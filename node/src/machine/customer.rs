//! Customer accounts: one per person (unique CPF), the identity holds and tickets are bound to.

use serde::{Deserialize, Serialize};

use super::cpf::{parse_cpf, Cpf};
use super::ids::{validate_id, validate_name, CustomerId};
use super::persistent::Map;
use super::rejection::Rejection;
use super::{Effect, SaleMachine};

/// A registered customer. The password hash is computed outside the machine (argon2id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub customer_id: CustomerId,
    pub email: String,
    pub cpf: Cpf,
    pub display_name: String,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub registered_at_ms: u64,
    /// Failed logins since the last successful one (the gateway's lockout policy reads it).
    #[serde(default)]
    pub failed_logins: u32,
    /// Logical time of the last failed login (0: none yet).
    #[serde(default)]
    pub last_failed_login_ms: u64,
    /// The newest TOTP time step accepted (at enrolment or login); 0 = none used yet.
    /// A code of this step or an older one is refused as a replay.
    #[serde(default)]
    pub last_totp_step: u64,
}

/// What a registration asks for, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub customer_id: CustomerId,
    pub email: String,
    pub cpf: String,
    pub display_name: String,
    pub password_hash: String,
    pub totp_secret: Option<String>,
}

/// Accounts and their unique indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customers {
    by_id: Map<CustomerId, Customer>,
    by_cpf: Map<Cpf, CustomerId>,
    by_email: Map<String, CustomerId>,
}

impl Customers {
    /// A customer by id.
    pub fn get(&self, id: &str) -> Option<&Customer> {
        self.by_id.get(id)
    }

    /// Fails with `unknown_customer` unless `id` is registered.
    pub fn require(&self, id: &str) -> Result<&Customer, Rejection> {
        self.get(id)
            .ok_or_else(|| Rejection::UnknownCustomer(id.to_string()))
    }

    /// The account with id `id`, for the commands that update it.
    pub(crate) fn require_mut(&mut self, id: &str) -> Result<&mut Customer, Rejection> {
        self.by_id
            .get_mut(id)
            .ok_or_else(|| Rejection::UnknownCustomer(id.to_string()))
    }

    /// A customer by e-mail, matched case-insensitively (e-mails are stored lower-cased).
    pub fn by_email(&self, email: &str) -> Option<&Customer> {
        let id = self.by_email.get(&email.trim().to_ascii_lowercase())?;
        self.by_id.get(id)
    }

    /// How many accounts exist.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when nobody registered yet.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

fn validate_email(email: &str) -> Result<String, Rejection> {
    let email = email.trim().to_ascii_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(Rejection::invalid("email", "not a valid e-mail address"))
    }
}

/// Field checks for a registration; returns the normalised email and CPF.
pub fn validate_registration(r: &Registration) -> Result<(String, Cpf), Rejection> {
    validate_id("customer_id", &r.customer_id)?;
    let email = validate_email(&r.email)?;
    let cpf = parse_cpf("cpf", &r.cpf)?;
    validate_name("display_name", &r.display_name)?;
    if !r.password_hash.starts_with("$argon2id$") || r.password_hash.len() > 512 {
        return Err(Rejection::invalid(
            "password_hash",
            "must be an argon2id PHC string ($argon2id$...), computed before sending",
        ));
    }
    if let Some(secret) = &r.totp_secret {
        let ok = (16..=128).contains(&secret.len())
            && secret
                .chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c) || c == '=');
        if !ok {
            return Err(Rejection::invalid(
                "totp_secret",
                "must be 16 to 128 base32 characters",
            ));
        }
    }
    Ok((email, cpf))
}

impl SaleMachine {
    /// Applies [`super::Command::RegisterCustomer`].
    pub(crate) fn register(&mut self, r: &Registration) -> Result<Effect, Rejection> {
        let (email, cpf) = validate_registration(r)?;
        let customers = &mut self.customers;
        if customers.by_id.contains_key(&r.customer_id) {
            return Err(Rejection::CustomerExists(r.customer_id.clone()));
        }
        if customers.by_cpf.contains_key(&cpf) {
            return Err(Rejection::DuplicateDocument);
        }
        if customers.by_email.contains_key(&email) {
            return Err(Rejection::DuplicateEmail);
        }
        let customer = Customer {
            customer_id: r.customer_id.clone(),
            email: email.clone(),
            cpf: cpf.clone(),
            display_name: r.display_name.clone(),
            password_hash: r.password_hash.clone(),
            totp_secret: r.totp_secret.clone(),
            registered_at_ms: self.now_ms,
            failed_logins: 0,
            last_failed_login_ms: 0,
            last_totp_step: 0,
        };
        customers.by_cpf.insert(cpf, r.customer_id.clone());
        customers.by_email.insert(email, r.customer_id.clone());
        customers.by_id.insert(r.customer_id.clone(), customer);
        Ok(Effect::Registered {
            customer_id: r.customer_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::machine::Command;

    #[test]
    fn one_account_per_cpf_and_email() {
        let mut m = Sale::default();
        assert!(apply(&mut m, 1, 1_000, register_cmd("ana", "529.982.247-25")).is_ok());
        assert_eq!(
            apply(&mut m, 2, 1_000, register_cmd("ana", "111.444.777-35")),
            Err(Rejection::CustomerExists("ana".into()))
        );
        assert_eq!(
            apply(&mut m, 3, 1_000, register_cmd("ana2", "52998224725")),
            Err(Rejection::DuplicateDocument)
        );
        let mut same_email = registration("bia", "111.444.777-35");
        same_email.email = "ANA@example.com".into();
        assert_eq!(
            apply(&mut m, 4, 1_000, Command::RegisterCustomer(same_email)),
            Err(Rejection::DuplicateEmail)
        );
        assert_eq!(m.customers.len(), 1);
    }

    #[test]
    fn bad_fields_are_named() {
        let mut r = registration("ana", "529.982.247-26");
        let e = validate_registration(&r).unwrap_err();
        assert_eq!(e.to_string(), "cpf: check digits do not match");
        r.cpf = "529.982.247-25".into();
        r.email = "no-at-sign".into();
        assert!(validate_registration(&r)
            .unwrap_err()
            .to_string()
            .starts_with("email:"));
        r.email = "ana@example.com".into();
        r.password_hash = "hunter2".into();
        assert!(validate_registration(&r)
            .unwrap_err()
            .to_string()
            .starts_with("password_hash:"));
    }
}
