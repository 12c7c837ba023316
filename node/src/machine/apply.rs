//! The apply pipeline: one Raft entry in, one answer per request and the entry's journal out.
//!
//! Every request goes through the same steps, at the entry's logical time:
//! housekeeping that only depends on time (expire holds, move the queues,
//! forget idle clients), the idempotency check (a retry gets its first
//! answer), validation, and the dispatch to the command's own file.

use sha2::{Digest, Sha256};

use super::command::{Command, Proposal, Request};
use super::idempotency::Remembered;
use super::journal::{domain_events_for, EntryJournal};
use super::outcome::{Answer, Effect, Outcome};
use super::rejection::Rejection;
use super::SaleMachine;

/// What applying one entry produced: the answers, in request order, and what
/// the entry adds to the journal, for the caller to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "the entry's journal (audit records, domain events) is lost unless recorded"]
pub struct AppliedEntry {
    pub answers: Vec<Answer>,
    pub journal: EntryJournal,
}

/// Who the audit chain names for requests without an idempotency key (ticks).
const SYSTEM_ACTOR: &str = "system";

impl SaleMachine {
    /// Applies one Raft entry: its requests in order, at the entry's logical time.
    ///
    /// Total: never panics, every request gets an answer (a rejection is an
    /// answer too). The audit records and domain events come back in the
    /// [`AppliedEntry`]; the machine keeps none of them.
    pub fn apply_entry(&mut self, log_index: u64, proposal: &Proposal) -> AppliedEntry {
        self.observe_time(proposal.ts_ms);
        let mut journal = EntryJournal::new(log_index, self.now_ms);
        let answers = proposal
            .requests
            .iter()
            .map(|r| self.apply_request(r, &mut journal))
            .collect();
        AppliedEntry { answers, journal }
    }

    /// Moves logical time forward (never back): `now = max(now, ts)`.
    fn observe_time(&mut self, ts_ms: u64) {
        self.now_ms = self.now_ms.max(ts_ms);
    }

    /// Applies one request of the entry `journal` belongs to.
    fn apply_request(&mut self, request: &Request, journal: &mut EntryJournal) -> Answer {
        let log_index = journal.log_index();
        self.last_index = self.last_index.max(log_index);
        let expired = self.expire_due_holds();
        journal.emit_all(expired);
        let admitted = self.advance_queues(log_index);
        journal.emit_all(admitted);
        self.outcomes.forget_idle(self.now_ms);
        let actor = request
            .key
            .as_ref()
            .map(|k| k.client_id.clone())
            .unwrap_or_else(|| SYSTEM_ACTOR.to_string());
        let fingerprint = request.key.as_ref().map(|_| fingerprint(&request.command));
        if let (Some(key), Some(fp)) = (&request.key, fingerprint) {
            if let Some(seen) = self.outcomes.get(key) {
                let answer = if seen.fingerprint == fp {
                    Answer {
                        log_index: seen.log_index,
                        outcome: seen.outcome.clone(),
                    }
                } else {
                    Answer {
                        log_index,
                        outcome: Err(Rejection::KeyReused {
                            client_id: key.client_id.clone(),
                            request_id: key.request_id,
                        }),
                    }
                };
                let action = format!("retry:{}", request.command.kind());
                let subject = self.subject(&request.command);
                journal.audit(actor, action, &subject, &answer.outcome);
                return answer;
            }
        }
        let outcome = self.execute(&request.command);
        let action = request.command.kind().to_string();
        let subject = self.subject(&request.command);
        journal.audit(actor, action, &subject, &outcome);
        journal.emit_all(domain_events_for(subject, &outcome));
        if let (Some(key), Some(fingerprint)) = (&request.key, fingerprint) {
            let remembered = Remembered {
                fingerprint,
                log_index,
                outcome: outcome.clone(),
            };
            self.outcomes.remember(key, remembered, self.now_ms);
        }
        Answer { log_index, outcome }
    }

    /// Validates `command` and hands it to its own file's rules.
    fn execute(&mut self, command: &Command) -> Outcome {
        command.validate()?;
        match command {
            Command::CreateEvent {
                event_id,
                name,
                categories,
                policy,
            } => self.create_event(event_id, name, categories, policy),
            Command::RegisterCustomer(r) => self.register(r),
            Command::JoinQueue {
                event_id,
                customer_id,
            } => self.join_queue(event_id, customer_id),
            Command::PaymentFailed {
                hold_id,
                customer_id,
                failure,
            } => self.payment_failed(*hold_id, customer_id, *failure),
            Command::PlaceHold {
                event_id,
                category_id,
                customer_id,
                quantity,
                ttl_ms,
            } => self.place_hold(event_id, category_id, customer_id, *quantity, *ttl_ms),
            Command::ReleaseHold {
                hold_id,
                customer_id,
            } => self.release_hold(*hold_id, customer_id),
            Command::Purchase {
                hold_id,
                customer_id,
                charge,
            } => self.purchase(*hold_id, customer_id, charge.as_ref()),
            Command::Tick => Ok(Effect::Ticked),
            Command::EnrolTotp {
                customer_id,
                secret,
                totp_step,
            } => self.enrol_totp(customer_id, secret, *totp_step),
            Command::RecordLogin {
                customer_id,
                outcome,
            } => self.record_login(customer_id, *outcome),
        }
    }
}

/// A digest of the command a key was first used for, so a key reused for
/// another command is refused instead of answered with the wrong outcome.
fn fingerprint(command: &Command) -> [u8; 32] {
    Sha256::digest(bincode::serialize(command).unwrap_or_default()).into()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn one_answer_per_request_in_order_at_the_entry_index() {
        let mut m = machine_with_event(5, 4);
        let proposal = Proposal {
            ts_ms: 2_000,
            requests: vec![
                Request {
                    key: Some(key("gw", 1)),
                    command: hold_cmd("ana", 1),
                },
                Request {
                    key: Some(key("gw", 2)),
                    command: hold_cmd("bia", 9),
                },
                Request {
                    key: None,
                    command: Command::Tick,
                },
            ],
        };
        let applied = m.machine.apply_entry(40, &proposal);
        assert_eq!(applied.answers.len(), 3);
        assert!(applied.answers.iter().all(|a| a.log_index == 40));
        assert!(matches!(
            applied.answers[0].outcome,
            Ok(Effect::HoldPlaced(_))
        ));
        assert!(matches!(
            applied.answers[1].outcome,
            Err(Rejection::LimitExceeded { .. })
        ));
        assert_eq!(applied.answers[2].outcome, Ok(Effect::Ticked));
        assert_eq!(m.now_ms(), 2_000);
        assert_eq!(m.last_index(), 40);
    }

    #[test]
    fn a_rejected_command_changes_no_sale_state() {
        let mut m = machine_with_event(5, 4);
        let before = m.machine.clone();
        let outcome = apply(&mut m, 30, 1_000, hold_cmd("nobody", 1));
        assert_eq!(outcome, Err(Rejection::UnknownCustomer("nobody".into())));
        // Only the bookkeeping of the entry moved on.
        let mut expected = before;
        expected.last_index = 30;
        assert_eq!(m.machine, expected);
    }
}
