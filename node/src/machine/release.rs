//! Releasing a hold: the customer gives the tickets back before the TTL runs out.

use super::hold::HoldStatus;
use super::ids::HoldId;
use super::rejection::Rejection;
use super::{Effect, SaleMachine};

impl SaleMachine {
    /// Applies [`super::Command::ReleaseHold`]: only the owner's live hold can be released.
    pub(crate) fn release_hold(
        &mut self,
        hold_id: HoldId,
        customer_id: &str,
    ) -> Result<Effect, Rejection> {
        self.live_hold_of(hold_id, customer_id)?;
        let hold = self
            .end_hold(hold_id, HoldStatus::Released)
            .ok_or(Rejection::HoldNotFound(hold_id))?;
        Ok(Effect::HoldReleased(hold))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::machine::Command;

    #[test]
    fn release_returns_tickets_once() {
        let mut m = machine_with_event(5, 4);
        let hold = hold_ok(&mut m, 2, "ana", 3);
        let release = |who: &str| Command::ReleaseHold {
            hold_id: hold.hold_id,
            customer_id: who.into(),
        };
        assert_eq!(
            apply(&mut m, 3, 1_000, release("bia")),
            Err(Rejection::HoldNotYours(hold.hold_id))
        );
        assert!(apply(&mut m, 4, 1_000, release("ana")).is_ok());
        assert_eq!(category(&m).available(), 5);
        assert_eq!(category(&m).customer("ana").held, 0);
        assert_eq!(
            apply(&mut m, 5, 1_000, release("ana")),
            Err(Rejection::HoldReleased(hold.hold_id))
        );
    }
}
