//! Login support: enrolling a TOTP secret and recording login attempts (finding an
//! account's credentials by id or e-mail is a read: see `queries.rs`).
//!
//! The machine only records; the lockout policy (how many failures, for how
//! long) lives in the gateways, which read the counters. What must hold across
//! many stateless gateways is kept here: the failure counter and its time, and
//! the newest TOTP time step accepted, so a code is accepted at most once
//! cluster-wide. Secrets never appear in an outcome, an audit record or an event.

use serde::{Deserialize, Serialize};

use super::rejection::Rejection;
use super::{Effect, SaleMachine};

/// Shortest accepted TOTP secret, in base32 characters (80 bits).
pub const TOTP_SECRET_MIN: usize = 16;
/// Longest accepted TOTP secret, in base32 characters (320 bits).
pub const TOTP_SECRET_MAX: usize = 64;

/// What a login attempt came to, as the gateway that checked it saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginOutcome {
    /// Wrong password or wrong second-factor code.
    Failed,
    /// The password (and the TOTP code of `totp_step`, if one was asked) matched.
    Succeeded {
        /// The time step of the TOTP code accepted, `None` if no code was checked.
        totp_step: Option<u64>,
    },
}

/// Checks a TOTP secret: RFC 4648 base32 (`A-Z2-7`), upper case, no padding,
/// [`TOTP_SECRET_MIN`] to [`TOTP_SECRET_MAX`] characters. The message never
/// repeats the secret.
pub fn validate_totp_secret(secret: &str) -> Result<(), Rejection> {
    let ok = (TOTP_SECRET_MIN..=TOTP_SECRET_MAX).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Rejection::invalid(
            "totp_secret",
            format!(
                "must be {TOTP_SECRET_MIN} to {TOTP_SECRET_MAX} base32 characters \
                 (A-Z and 2-7, upper case, no padding)"
            ),
        ))
    }
}

/// Checks a TOTP time step: a verified code always has a positive one.
pub fn validate_totp_step(step: u64) -> Result<(), Rejection> {
    if step == 0 {
        return Err(Rejection::invalid(
            "totp_step",
            "must be the (positive) time step of the verified code",
        ));
    }
    Ok(())
}

impl SaleMachine {
    /// Applies [`super::Command::EnrolTotp`]: stores the secret and marks the step of
    /// the code that confirmed it as used, so that code cannot log in afterwards.
    pub(crate) fn enrol_totp(
        &mut self,
        customer_id: &str,
        secret: &str,
        totp_step: u64,
    ) -> Result<Effect, Rejection> {
        let customer = self.customers.require_mut(customer_id)?;
        if customer.totp_secret.is_some() {
            return Err(Rejection::TotpAlreadyEnrolled(customer_id.to_string()));
        }
        customer.totp_secret = Some(secret.to_string());
        customer.last_totp_step = customer.last_totp_step.max(totp_step);
        Ok(Effect::TotpEnrolled {
            customer_id: customer_id.to_string(),
        })
    }

    /// Applies [`super::Command::RecordLogin`].
    ///
    /// A failure counts and is stamped with the entry's logical time. A success
    /// resets the count, unless its TOTP step is not newer than the last one
    /// accepted: then it is refused as a replay and nothing changes.
    pub(crate) fn record_login(
        &mut self,
        customer_id: &str,
        outcome: LoginOutcome,
    ) -> Result<Effect, Rejection> {
        let now = self.now_ms;
        let customer = self.customers.require_mut(customer_id)?;
        let succeeded = match outcome {
            LoginOutcome::Failed => {
                customer.failed_logins = customer.failed_logins.saturating_add(1);
                customer.last_failed_login_ms = now;
                false
            }
            LoginOutcome::Succeeded { totp_step } => {
                if let Some(step) = totp_step {
                    if step <= customer.last_totp_step {
                        return Err(Rejection::TotpReplayed {
                            step,
                            last_step: customer.last_totp_step,
                        });
                    }
                    customer.last_totp_step = step;
                }
                customer.failed_logins = 0;
                true
            }
        };
        Ok(Effect::LoginRecorded {
            customer_id: customer_id.to_string(),
            succeeded,
            failed_logins: customer.failed_logins,
            last_failed_login_ms: customer.last_failed_login_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::machine::{Command, Cpf, Customer, DomainEventKind, Request};

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    fn enrol_cmd(customer: &str, secret: &str, step: u64) -> Command {
        Command::EnrolTotp {
            customer_id: customer.into(),
            secret: secret.into(),
            totp_step: step,
        }
    }

    fn login_cmd(customer: &str, outcome: LoginOutcome) -> Command {
        Command::RecordLogin {
            customer_id: customer.into(),
            outcome,
        }
    }

    fn succeeded(step: Option<u64>) -> LoginOutcome {
        LoginOutcome::Succeeded { totp_step: step }
    }

    fn ana(m: &SaleMachine) -> &Customer {
        m.customers().get("ana").expect("ana registered")
    }

    #[test]
    fn enrol_stores_the_secret_and_the_confirming_step() {
        let mut m = machine_with_event(5, 4);
        let outcome = apply(&mut m, 10, 2_000, enrol_cmd("ana", SECRET, 100));
        assert_eq!(
            outcome,
            Ok(Effect::TotpEnrolled {
                customer_id: "ana".into()
            })
        );
        assert_eq!(ana(&m).totp_secret.as_deref(), Some(SECRET));
        assert_eq!(ana(&m).last_totp_step, 100);
        let last = m
            .journal
            .domain_events_since(0, usize::MAX)
            .pop()
            .expect("an event");
        assert_eq!(last.kind, Some(DomainEventKind::TotpEnrolled));
        assert_eq!(last.customer_id, "ana");
        let record = m.journal.audit().pending().last().expect("audited");
        assert_eq!(
            (record.action.as_str(), record.outcome.as_str()),
            ("enrol_totp", "ok")
        );
        assert_eq!(record.ids, vec!["customer:ana".to_string()]);
        assert!(!format!("{record:?}").contains(SECRET));
    }

    #[test]
    fn enrol_refuses_a_bad_secret_naming_the_field() {
        let mut m = machine_with_event(5, 4);
        for bad in [
            "",
            "JBSWY3DPEHPK3PX",                // 15 characters
            "jbswy3dpehpk3pxp",               // lower case
            "JBSWY3DPEHPK3PX1",               // 1 is not base32
            "JBSWY3DPEHPK3PXP====",           // padding
            "JBSWY3DP EHPK3PXP",              // space
            &"A".repeat(TOTP_SECRET_MAX + 1), // too long
        ] {
            let e = apply(&mut m, 10, 2_000, enrol_cmd("ana", bad, 1)).unwrap_err();
            assert!(
                matches!(&e, Rejection::InvalidField { field, .. } if field == "totp_secret"),
                "{bad:?}: {e:?}"
            );
            assert_eq!(e.code(), "invalid_field");
            if bad.len() > 3 {
                assert!(!e.to_string().contains(bad), "the secret was echoed: {e}");
            }
        }
        assert!(validate_totp_secret(&"A".repeat(TOTP_SECRET_MIN)).is_ok());
        assert!(validate_totp_secret(&"7".repeat(TOTP_SECRET_MAX)).is_ok());
        let e = apply(&mut m, 11, 2_000, enrol_cmd("ana", SECRET, 0)).unwrap_err();
        assert!(e.to_string().starts_with("totp_step:"), "{e}");
        assert_eq!(ana(&m).totp_secret, None);
    }

    #[test]
    fn enrol_needs_a_known_customer_and_happens_once() {
        let mut m = machine_with_event(5, 4);
        assert_eq!(
            apply(&mut m, 10, 2_000, enrol_cmd("nobody", SECRET, 1)),
            Err(Rejection::UnknownCustomer("nobody".into()))
        );
        apply(&mut m, 11, 2_000, enrol_cmd("ana", SECRET, 5)).unwrap();
        let other = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let e = apply(&mut m, 12, 2_000, enrol_cmd("ana", other, 9)).unwrap_err();
        assert_eq!(e, Rejection::TotpAlreadyEnrolled("ana".into()));
        assert_eq!(e.code(), "totp_already_enrolled");
        assert_eq!(ana(&m).totp_secret.as_deref(), Some(SECRET));
        assert_eq!(ana(&m).last_totp_step, 5);
    }

    #[test]
    fn a_failed_login_counts_and_is_stamped_with_log_time() {
        let mut m = machine_with_event(5, 4);
        let before = m.state_hash();
        let outcome = apply(&mut m, 10, 5_000, login_cmd("ana", LoginOutcome::Failed));
        assert_eq!(
            outcome,
            Ok(Effect::LoginRecorded {
                customer_id: "ana".into(),
                succeeded: false,
                failed_logins: 1,
                last_failed_login_ms: 5_000,
            })
        );
        assert_ne!(m.state_hash(), before, "the state hash covers the counters");
        // Logical time never runs back: an older leader stamp keeps 5_000.
        apply(&mut m, 11, 4_000, login_cmd("ana", LoginOutcome::Failed)).unwrap();
        assert_eq!(
            (ana(&m).failed_logins, ana(&m).last_failed_login_ms),
            (2, 5_000)
        );
        apply(&mut m, 12, 7_000, login_cmd("ana", LoginOutcome::Failed)).unwrap();
        assert_eq!(
            (ana(&m).failed_logins, ana(&m).last_failed_login_ms),
            (3, 7_000)
        );
        assert_eq!(m.customers().get("bia").unwrap().failed_logins, 0);
        let events = m.journal.domain_events_since(0, usize::MAX);
        assert_eq!(
            events.last().unwrap().kind,
            Some(DomainEventKind::LoginFailed)
        );
        let record = m.journal.audit().pending().last().unwrap();
        assert_eq!(record.action, "record_login_failed");
        assert_eq!(
            apply(&mut m, 13, 7_000, login_cmd("nobody", LoginOutcome::Failed)),
            Err(Rejection::UnknownCustomer("nobody".into()))
        );
    }

    #[test]
    fn a_success_resets_the_count_but_keeps_the_last_failure_time() {
        let mut m = machine_with_event(5, 4);
        apply(&mut m, 10, 5_000, login_cmd("ana", LoginOutcome::Failed)).unwrap();
        apply(&mut m, 11, 6_000, login_cmd("ana", LoginOutcome::Failed)).unwrap();
        let outcome = apply(&mut m, 12, 7_000, login_cmd("ana", succeeded(None)));
        assert_eq!(
            outcome,
            Ok(Effect::LoginRecorded {
                customer_id: "ana".into(),
                succeeded: true,
                failed_logins: 0,
                last_failed_login_ms: 6_000,
            })
        );
        assert_eq!(ana(&m).last_totp_step, 0);
        let events = m.journal.domain_events_since(0, usize::MAX);
        assert_eq!(
            events.last().unwrap().kind,
            Some(DomainEventKind::LoginSucceeded)
        );
    }

    #[test]
    fn a_replayed_totp_step_is_refused_and_changes_nothing() {
        let mut m = machine_with_event(5, 4);
        apply(&mut m, 10, 5_000, login_cmd("ana", LoginOutcome::Failed)).unwrap();
        apply(&mut m, 11, 5_000, login_cmd("ana", succeeded(Some(50)))).unwrap();
        assert_eq!(ana(&m).last_totp_step, 50);
        apply(&mut m, 12, 5_000, login_cmd("ana", LoginOutcome::Failed)).unwrap();
        let before = ana(&m).clone();
        for step in [50, 49, 1] {
            let e = apply(&mut m, 13, 6_000, login_cmd("ana", succeeded(Some(step)))).unwrap_err();
            assert_eq!(
                e,
                Rejection::TotpReplayed {
                    step,
                    last_step: 50
                }
            );
            assert_eq!(e.code(), "totp_replayed");
            assert_eq!(ana(&m), &before, "a replay changed the account");
        }
        let record = m.journal.audit().pending().last().unwrap();
        assert_eq!(
            (record.action.as_str(), record.outcome.as_str()),
            ("record_login_succeeded", "totp_replayed")
        );
        // A newer step is accepted and resets the count.
        apply(&mut m, 14, 6_000, login_cmd("ana", succeeded(Some(51)))).unwrap();
        assert_eq!((ana(&m).last_totp_step, ana(&m).failed_logins), (51, 0));
        apply(&mut m, 15, 6_000, login_cmd("ana", succeeded(Some(1_000)))).unwrap();
        assert_eq!(ana(&m).last_totp_step, 1_000);
        // A success without a code leaves the step alone.
        apply(&mut m, 16, 6_000, login_cmd("ana", succeeded(None))).unwrap();
        assert_eq!(ana(&m).last_totp_step, 1_000);
        let e = apply(&mut m, 17, 6_000, login_cmd("ana", succeeded(Some(0)))).unwrap_err();
        assert!(e.to_string().starts_with("totp_step:"), "{e}");
    }

    #[test]
    fn the_enrolment_code_cannot_be_used_to_log_in() {
        let mut m = machine_with_event(5, 4);
        apply(&mut m, 10, 5_000, enrol_cmd("ana", SECRET, 1_000)).unwrap();
        assert!(matches!(
            apply(&mut m, 11, 5_000, login_cmd("ana", succeeded(Some(1_000)))),
            Err(Rejection::TotpReplayed { step: 1_000, .. })
        ));
        assert!(apply(&mut m, 12, 35_000, login_cmd("ana", succeeded(Some(1_001)))).is_ok());
    }

    #[test]
    fn credentials_by_id_or_by_email_in_any_case() {
        let mut m = machine_with_event(5, 4);
        apply(&mut m, 10, 5_000, enrol_cmd("ana", SECRET, 7)).unwrap();
        apply(&mut m, 11, 5_000, login_cmd("ana", LoginOutcome::Failed)).unwrap();
        for login in [
            "ana",
            "ana@example.com",
            "ANA@Example.COM",
            " Ana@example.com ",
        ] {
            let c = m
                .credentials(login)
                .unwrap_or_else(|e| panic!("{login}: {e}"));
            assert_eq!(c.customer_id, "ana");
            assert_eq!(c.totp_secret.as_deref(), Some(SECRET));
            assert_eq!(
                (c.failed_logins, c.last_failed_login_ms, c.last_totp_step),
                (1, 5_000, 7)
            );
        }
        assert_eq!(m.credentials("bia@EXAMPLE.com").unwrap().customer_id, "bia");
        for unknown in ["nobody", "nobody@example.com", "ANA", ""] {
            assert_eq!(
                m.credentials(unknown),
                Err(Rejection::UnknownCustomer(unknown.into()))
            );
        }
    }

    #[test]
    fn an_account_whose_id_looks_like_an_email_keeps_its_own_login() {
        // New ids cannot hold '@' (the service refuses them before
        // proposing), but accounts registered before may: such an account
        // must not be shadowed by another account's e-mail, or it could
        // never log in again. The exact id wins; the other account logs in
        // by its own id.
        let mut m = machine_with_event(5, 4);
        let mut r = registration("ana@example.com", Cpf::from_base(4_242).as_str());
        r.email = "other@example.com".into();
        apply(&mut m, 10, 5_000, Command::RegisterCustomer(r)).unwrap();
        assert_eq!(
            m.credentials("ana@example.com").unwrap().customer_id,
            "ana@example.com"
        );
        assert_eq!(
            m.credentials("other@example.com").unwrap().customer_id,
            "ana@example.com"
        );
        assert_eq!(m.credentials("ana").unwrap().customer_id, "ana");
        assert_eq!(m.credentials("ANA@example.com").unwrap().customer_id, "ana");
    }

    #[test]
    fn a_retried_record_login_gets_its_first_answer_and_counts_once() {
        let mut m = machine_with_event(5, 4);
        let request = Request {
            key: Some(key("gw-1", 42)),
            command: login_cmd("ana", LoginOutcome::Failed),
        };
        let entry = |ts| crate::machine::Proposal {
            ts_ms: ts,
            requests: vec![request.clone()],
        };
        let first = m.apply(10, &entry(5_000)).remove(0);
        let again = m.apply(11, &entry(9_000)).remove(0);
        assert_eq!(first, again);
        assert_eq!(again.log_index, 10);
        assert_eq!(
            (ana(&m).failed_logins, ana(&m).last_failed_login_ms),
            (1, 5_000)
        );
        let record = m.journal.audit().pending().last().unwrap();
        assert_eq!(record.action, "retry:record_login_failed");
        // A retried success is not refused as a replay of its own step.
        let login = Request {
            key: Some(key("gw-1", 43)),
            command: login_cmd("ana", succeeded(Some(3))),
        };
        let ok = send(&mut m, 12, 9_000, login.clone());
        assert!(ok.outcome.is_ok());
        assert_eq!(send(&mut m, 13, 9_000, login), ok);
        assert_eq!(ana(&m).last_totp_step, 3);
    }
}
