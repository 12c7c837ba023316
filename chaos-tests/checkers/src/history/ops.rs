//! The typed operations a chaos client performs: what it asks (`Call`) and
//! what an acknowledged answer carries (`Reply`), one pair per `f`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Error codes of failed operations that the checkers interpret. Any other
/// code is kept verbatim and treated as "did not change the state".
pub mod codes {
    /// A hold was refused because the category had fewer tickets available
    /// than asked: an observation of the category's state.
    pub const SOLD_OUT: &str = "sold_out";
    /// A purchase was refused by the payment provider; the hold is released
    /// (the chaos workload runs with `release_hold_on_payment_failure`).
    pub const PAYMENT_DECLINED: &str = "payment_declined";
    /// A hold would take the customer over a per-category or per-event limit.
    pub const LIMIT_EXCEEDED: &str = "limit_exceeded";
    /// A hold was asked by a customer the virtual queue had not admitted.
    pub const NOT_ADMITTED: &str = "not_admitted";
    /// A purchase named a hold already bought. The workload buys each hold
    /// at most once (retries reuse the key), so this answers a retry that
    /// ran again instead of getting its first answer.
    pub const ALREADY_PURCHASED: &str = "already_purchased";
    /// A key came back with another command. The workload never does that:
    /// the node mistook a retry for a different request.
    pub const KEY_REUSED: &str = "idempotency_key_reused";
    /// A purchase or release named a hold the node does not know.
    pub const HOLD_NOT_FOUND: &str = "hold_not_found";
    /// A purchase or release named a hold that had expired: its tickets
    /// went back to the category at some point after it was placed.
    pub const HOLD_EXPIRED: &str = "hold_expired";
}

/// The kind of a client operation, written as the record's `f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Join an event's virtual queue.
    Join,
    /// Reserve tickets of a category for a while.
    Hold,
    /// Turn a hold into tickets after the payment step.
    Purchase,
    /// Give a hold's tickets back.
    Release,
    /// Read a category's counters (a linearizable read).
    Read,
    /// Send an acknowledged join, hold, purchase or release again with its
    /// idempotency key: the answer must be the first one. Changes nothing.
    Replay,
}

impl OpKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [OpKind; 6] = [
        OpKind::Join,
        OpKind::Hold,
        OpKind::Purchase,
        OpKind::Release,
        OpKind::Read,
        OpKind::Replay,
    ];

    /// The name written as `f` in a history line.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Join => "join",
            OpKind::Hold => "hold",
            OpKind::Purchase => "purchase",
            OpKind::Release => "release",
            OpKind::Read => "read",
            OpKind::Replay => "replay",
        }
    }

    /// The kind named by a history line's `f`, if it is a client operation.
    pub fn from_name(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the fake payment provider is told to do for one purchase, so that
/// both the success and the rollback path occur under faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payment {
    /// The payment goes through.
    Approve,
    /// The payment is declined (the hold is then released).
    Decline,
}

/// A customer asks for a place in an event's virtual queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinCall {
    /// The event whose queue is joined.
    pub event: String,
    /// Who joins.
    pub customer: String,
}

/// An acknowledged join: the place in line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinReply {
    /// The queue sequence number, 1-based, in commit order.
    pub seq: u64,
}

/// A customer asks to reserve `quantity` tickets of a category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldCall {
    /// The event.
    pub event: String,
    /// The ticket category within the event.
    pub category: String,
    /// Who holds.
    pub customer: String,
    /// How many tickets.
    pub quantity: u64,
}

/// An acknowledged hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldReply {
    /// The identifier a purchase or release names.
    pub hold_id: u64,
    /// How far ahead of the harness's clock the hold's expiry was when the
    /// reply arrived, in ms (see the `sale-clock` checker); absent in
    /// histories recorded before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_ms: Option<i64>,
}

/// A customer asks to buy the tickets of one of their holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseCall {
    /// The event.
    pub event: String,
    /// The category the hold is in.
    pub category: String,
    /// Who buys (the hold's owner).
    pub customer: String,
    /// The hold being bought.
    pub hold_id: u64,
    /// The hold's quantity, as the client knows it from the hold call.
    pub quantity: u64,
    /// What the fake payment provider does.
    pub payment: Payment,
}

/// An acknowledged purchase: the tickets now bound to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseReply {
    /// The ticket ids, one per ticket bought.
    pub tickets: Vec<String>,
}

/// A customer gives back the tickets of one of their holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseCall {
    /// The event.
    pub event: String,
    /// The category the hold is in.
    pub category: String,
    /// The hold's owner.
    pub customer: String,
    /// The hold being released.
    pub hold_id: u64,
    /// The hold's quantity, as the client knows it from the hold call.
    pub quantity: u64,
}

/// An acknowledged release carries nothing (`{}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseReply {}

/// A linearizable read of one category's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadCall {
    /// The event.
    pub event: String,
    /// The category read.
    pub category: String,
}

/// The counters an acknowledged read returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReply {
    /// The category's configured capacity.
    pub capacity: u64,
    /// Tickets bought.
    pub sold: u64,
    /// Tickets in live holds.
    pub held: u64,
    /// What the node says is left (should be capacity − sold − held).
    pub available: u64,
}

/// An acknowledged request sent again with the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayCall {
    /// The kind of the acknowledged operation (join, hold, purchase, release).
    pub of: OpKind,
    /// The idempotency key both sends carried (`client/request`).
    pub key: String,
    /// The first answer: the value of the acknowledged operation's ok record.
    pub first: Value,
}

/// What the replay was answered, in the shape of an ok record of its `of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayReply {
    /// The answer's value.
    pub answer: Value,
}

/// What a client asked: the value of an `invoke` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// See [`JoinCall`].
    Join(JoinCall),
    /// See [`HoldCall`].
    Hold(HoldCall),
    /// See [`PurchaseCall`].
    Purchase(PurchaseCall),
    /// See [`ReleaseCall`].
    Release(ReleaseCall),
    /// See [`ReadCall`].
    Read(ReadCall),
    /// See [`ReplayCall`].
    Replay(ReplayCall),
}

/// What an acknowledged operation returned: the value of an `ok` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// See [`JoinReply`].
    Join(JoinReply),
    /// See [`HoldReply`].
    Hold(HoldReply),
    /// See [`PurchaseReply`].
    Purchase(PurchaseReply),
    /// See [`ReleaseReply`].
    Release(ReleaseReply),
    /// See [`ReadReply`].
    Read(ReadReply),
    /// See [`ReplayReply`].
    Replay(ReplayReply),
}

impl Call {
    /// The operation kind (the record's `f`).
    pub fn kind(&self) -> OpKind {
        match self {
            Call::Join(_) => OpKind::Join,
            Call::Hold(_) => OpKind::Hold,
            Call::Purchase(_) => OpKind::Purchase,
            Call::Release(_) => OpKind::Release,
            Call::Read(_) => OpKind::Read,
            Call::Replay(_) => OpKind::Replay,
        }
    }

    /// The JSON `value` of the invoke record.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("plain structs of strings and integers always serialise")
    }

    /// Reads an invoke record's `value` for the kind `f` names.
    pub fn from_value(kind: OpKind, value: Value) -> Result<Call, serde_json::Error> {
        Ok(match kind {
            OpKind::Join => Call::Join(serde_json::from_value(value)?),
            OpKind::Hold => Call::Hold(serde_json::from_value(value)?),
            OpKind::Purchase => Call::Purchase(serde_json::from_value(value)?),
            OpKind::Release => Call::Release(serde_json::from_value(value)?),
            OpKind::Read => Call::Read(serde_json::from_value(value)?),
            OpKind::Replay => Call::Replay(serde_json::from_value(value)?),
        })
    }
}

impl Reply {
    /// The operation kind (the record's `f`).
    pub fn kind(&self) -> OpKind {
        match self {
            Reply::Join(_) => OpKind::Join,
            Reply::Hold(_) => OpKind::Hold,
            Reply::Purchase(_) => OpKind::Purchase,
            Reply::Release(_) => OpKind::Release,
            Reply::Read(_) => OpKind::Read,
            Reply::Replay(_) => OpKind::Replay,
        }
    }

    /// The JSON `value` of the ok record.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("plain structs of strings and integers always serialise")
    }

    /// Reads an ok record's `value` for the kind `f` names.
    pub fn from_value(kind: OpKind, value: Value) -> Result<Reply, serde_json::Error> {
        Ok(match kind {
            OpKind::Join => Reply::Join(serde_json::from_value(value)?),
            OpKind::Hold => Reply::Hold(serde_json::from_value(value)?),
            OpKind::Purchase => Reply::Purchase(serde_json::from_value(value)?),
            OpKind::Release => Reply::Release(serde_json::from_value(value)?),
            OpKind::Read => Reply::Read(serde_json::from_value(value)?),
            OpKind::Replay => Reply::Replay(serde_json::from_value(value)?),
        })
    }
}

/// Written as the bare value (the kind is the record's `f`), fields in
/// declaration order.
impl Serialize for Call {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Call::Join(c) => c.serialize(s),
            Call::Hold(c) => c.serialize(s),
            Call::Purchase(c) => c.serialize(s),
            Call::Release(c) => c.serialize(s),
            Call::Read(c) => c.serialize(s),
            Call::Replay(c) => c.serialize(s),
        }
    }
}

/// Written as the bare value (the kind is the record's `f`), fields in
/// declaration order.
impl Serialize for Reply {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Reply::Join(r) => r.serialize(s),
            Reply::Hold(r) => r.serialize(s),
            Reply::Purchase(r) => r.serialize(s),
            Reply::Release(r) => r.serialize(s),
            Reply::Read(r) => r.serialize(s),
            Reply::Replay(r) => r.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_replies_round_trip_through_their_json_values() {
        let call = Call::Purchase(PurchaseCall {
            event: "rir".into(),
            category: "pista".into(),
            customer: "c1".into(),
            hold_id: 7,
            quantity: 2,
            payment: Payment::Decline,
        });
        let value = call.to_value();
        assert_eq!(value["payment"], "decline");
        assert_eq!(Call::from_value(OpKind::Purchase, value).unwrap(), call);

        let reply = Reply::Release(ReleaseReply {});
        assert_eq!(reply.to_value(), serde_json::json!({}));
        assert_eq!(
            Reply::from_value(OpKind::Release, serde_json::json!({})).unwrap(),
            reply
        );
    }

    #[test]
    fn a_value_of_the_wrong_shape_is_refused() {
        let err = Call::from_value(OpKind::Hold, serde_json::json!({"event": "rir"})).unwrap_err();
        assert!(err.to_string().contains("category"), "{err}");
    }

    #[test]
    fn kinds_are_named_as_written_in_histories() {
        for kind in OpKind::ALL {
            assert_eq!(OpKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(OpKind::from_name("start-partition"), None);
    }
}
