//! etcd as a ticket store, the way one would build it on etcd: a counter
//! key per category (`sold,held`), changed by compare-and-swap transactions
//! on its modification revision, retried when another client won the race
//! (each retry counted). A hold is a key; a purchase moves the hold's
//! tickets from held to sold, deletes the hold and writes one key per ticket
//! in the same transaction. The queue is a key per customer (its revision is
//! the place in line). etcd has no clock of its own for this, so the
//! benchmark expires abandoned holds with the same transaction as a release.

mod kv;
pub mod proto;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tonic::{Code, Status};

use self::kv::KvClient;
use self::proto::{
    absent, delete, exists, get, mod_revision_is, prefix_end, put, response_op, RequestOp,
    TxnRequest, TxnResponse,
};
use super::{CategoryCount, HoldExpiry, HoldTicket, OpError, Payment, SystemProfile, Target};
use crate::error::BenchError;
use crate::plan::SalePlan;

/// Conflicts in a row after which one operation gives up.
const MAX_CONFLICTS: u32 = 200;

/// `sold` and `held` of one category, as stored in its counter key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    sold: u64,
    held: u64,
}

impl Counts {
    /// A hold of `q` tickets ends with `sold` of them sold (all on a
    /// purchase, none on a release or expiry); the rest are on sale again.
    fn settle(self, q: u64, sold: u64) -> Counts {
        Counts {
            sold: self.sold + sold,
            held: self.held.saturating_sub(q),
        }
    }

    fn encode(self) -> Vec<u8> {
        format!("{},{}", self.sold, self.held).into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Counts> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (sold, held) = text.split_once(',')?;
        Some(Counts {
            sold: sold.parse().ok()?,
            held: held.parse().ok()?,
        })
    }
}

/// A counter as read: its value and the revision that last changed it.
#[derive(Debug, Clone, Copy)]
struct Versioned {
    counts: Counts,
    mod_revision: i64,
}

/// The sale on an etcd cluster.
pub struct EtcdTarget {
    kv: KvClient,
    plan: Arc<SalePlan>,
    prefix: String,
    next_hold: AtomicU64,
    retries: AtomicU64,
}

/// An etcd error as the report counts it.
fn op_error(status: Status) -> OpError {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
            OpError::Unavailable(status.message().to_string())
        }
        _ => OpError::Other(format!("{:?}: {}", status.code(), status.message())),
    }
}

/// The key-values of the `i`-th response of a transaction (empty if it was not a read).
fn kvs_of(response: &TxnResponse, i: usize) -> &[proto::KeyValue] {
    match response.responses.get(i).and_then(|r| r.response.as_ref()) {
        Some(response_op::Response::ResponseRange(range)) => &range.kvs,
        _ => &[],
    }
}

/// What a category change does to the counters, or why it cannot be done.
type Change<'a> = &'a (dyn Fn(Counts) -> Result<Counts, OpError> + Sync);

impl EtcdTarget {
    /// A target on the etcd members at `addrs` (client `host:port`s); checks one answers.
    pub async fn connect(addrs: &[String], plan: Arc<SalePlan>) -> Result<EtcdTarget, BenchError> {
        let unreachable = |reason: String| BenchError::TargetUnreachable {
            system: "etcd".into(),
            addrs: addrs.join(","),
            reason,
        };
        let kv = KvClient::new(addrs).map_err(unreachable)?;
        kv.range(0, b"probe".to_vec(), Vec::new())
            .await
            .map_err(|e| unreachable(e.message().to_string()))?;
        Ok(EtcdTarget {
            kv,
            prefix: format!("b/{}/", plan.tag),
            plan,
            next_hold: AtomicU64::new(1),
            retries: AtomicU64::new(0),
        })
    }

    fn key(&self, suffix: &str) -> Vec<u8> {
        format!("{}{suffix}", self.prefix).into_bytes()
    }

    fn category_key(&self, category: usize) -> Vec<u8> {
        self.key(&format!("cat/{category:03}"))
    }

    fn hold_key(&self, hold: u64) -> Vec<u8> {
        self.key(&format!("hold/{hold}"))
    }

    async fn read_counter(&self, conn: usize, key: &[u8]) -> Result<Versioned, OpError> {
        let reply = self
            .kv
            .range(conn, key.to_vec(), Vec::new())
            .await
            .map_err(op_error)?;
        versioned(reply.kvs.first())
    }

    /// Changes a category's counters by compare-and-swap, adding `extra`
    /// operations (and, with `hold`, requiring that hold key to exist).
    async fn cas(
        &self,
        conn: usize,
        category: usize,
        hold: Option<&[u8]>,
        change: Change<'_>,
        extra: Vec<RequestOp>,
    ) -> Result<(), OpError> {
        let key = self.category_key(category);
        let mut current = self.read_counter(conn, &key).await?;
        for _ in 0..MAX_CONFLICTS {
            let next = change(current.counts)?;
            let mut compare = vec![mod_revision_is(&key, current.mod_revision)];
            let mut failure = vec![get(&key)];
            if let Some(hold) = hold {
                compare.push(exists(hold));
                failure.push(get(hold));
            }
            let mut success = vec![put(&key, &next.encode())];
            success.extend(extra.iter().cloned());
            let reply = self
                .kv
                .txn(
                    conn,
                    TxnRequest {
                        compare,
                        success,
                        failure,
                    },
                )
                .await
                .map_err(op_error)?;
            if reply.succeeded {
                return Ok(());
            }
            if hold.is_some() && kvs_of(&reply, 1).is_empty() {
                return Err(OpError::Rejected("hold_expired".into()));
            }
            current = versioned(kvs_of(&reply, 0).first())?;
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
        Err(OpError::Contention(MAX_CONFLICTS))
    }

    /// Gives a hold's tickets back and deletes it.
    async fn give_back(&self, hold: &HoldTicket) -> Result<(), OpError> {
        let hold_key = self.hold_key(hold.id);
        let q = u64::from(hold.quantity);
        let change = move |c: Counts| -> Result<Counts, OpError> { Ok(c.settle(q, 0)) };
        self.cas(
            conn_of(hold.customer),
            hold.category,
            Some(&hold_key),
            &change,
            vec![delete(&hold_key)],
        )
        .await
    }
}

/// The counter in `kv` (a missing key is an error: `prepare` wrote every one).
fn versioned(kv: Option<&proto::KeyValue>) -> Result<Versioned, OpError> {
    let kv = kv.ok_or_else(|| OpError::Other("category counter missing".into()))?;
    let counts = Counts::decode(&kv.value)
        .ok_or_else(|| OpError::Other("category counter unreadable".into()))?;
    Ok(Versioned {
        counts,
        mod_revision: kv.mod_revision,
    })
}

/// Which channel a customer's calls use.
fn conn_of(customer: u64) -> usize {
    customer as usize
}

impl Target for EtcdTarget {
    const PROFILE: SystemProfile = SystemProfile::new(
        "etcd",
        "Raft: committed on a majority of 3 members (WAL fsync) before the answer",
        HoldExpiry::ByBench,
    );

    fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    async fn prepare(&self) -> Result<(), BenchError> {
        for category in 0..self.plan.categories.len() {
            let key = self.category_key(category);
            let txn = TxnRequest {
                compare: vec![absent(&key)],
                success: vec![put(&key, &Counts { sold: 0, held: 0 }.encode())],
                failure: Vec::new(),
            };
            let reply = self.kv.txn(0, txn).await.map_err(|e| BenchError::Setup {
                system: "etcd".into(),
                reason: e.message().to_string(),
            })?;
            if !reply.succeeded {
                return Err(BenchError::Setup {
                    system: "etcd".into(),
                    reason: format!("counter {} already exists", String::from_utf8_lossy(&key)),
                });
            }
        }
        Ok(())
    }

    async fn join_queue(&self, customer: u64) -> Result<(), OpError> {
        let key = self.key(&format!("queue/{}", self.plan.customer_id(customer)));
        self.kv
            .put(conn_of(customer), key, b"waiting".to_vec())
            .await
            .map(|_| ())
            .map_err(op_error)
    }

    async fn admitted(&self, customer: u64) -> Result<bool, OpError> {
        let key = self.key(&format!("queue/{}", self.plan.customer_id(customer)));
        let reply = self
            .kv
            .range(conn_of(customer), key, Vec::new())
            .await
            .map_err(op_error)?;
        // No admission controller: whoever is in line may shop.
        Ok(!reply.kvs.is_empty())
    }

    async fn hold(&self, customer: u64, category: usize, quantity: u32) -> Result<u64, OpError> {
        let capacity = u64::from(self.plan.categories[category].capacity);
        let id = self.next_hold.fetch_add(1, Ordering::Relaxed);
        let hold_key = self.hold_key(id);
        let value = format!("{},{category},{quantity}", self.plan.customer_id(customer));
        let q = u64::from(quantity);
        let change = move |c: Counts| {
            if c.sold + c.held + q > capacity {
                Err(OpError::Rejected("sold_out".into()))
            } else {
                Ok(Counts {
                    sold: c.sold,
                    held: c.held + q,
                })
            }
        };
        self.cas(
            conn_of(customer),
            category,
            None,
            &change,
            vec![put(&hold_key, value.as_bytes())],
        )
        .await?;
        Ok(id)
    }

    async fn purchase(&self, hold: &HoldTicket, payment: Payment) -> Result<u64, OpError> {
        let customer = hold.customer;
        if payment == Payment::Decline {
            self.give_back(hold).await?;
            return Err(OpError::Rejected("payment_declined".into()));
        }
        let hold_key = self.hold_key(hold.id);
        let q = u64::from(hold.quantity);
        let owner = self.plan.customer_id(customer);
        let mut extra = vec![delete(&hold_key)];
        for i in 0..hold.quantity {
            extra.push(put(
                &self.key(&format!("ticket/{}/{i}", hold.id)),
                owner.as_bytes(),
            ));
        }
        let change = move |c: Counts| -> Result<Counts, OpError> { Ok(c.settle(q, q)) };
        self.cas(
            conn_of(customer),
            hold.category,
            Some(&hold_key),
            &change,
            extra,
        )
        .await?;
        Ok(q)
    }

    async fn release(&self, hold: &HoldTicket) -> Result<(), OpError> {
        self.give_back(hold).await
    }

    async fn expire(&self, hold: &HoldTicket) -> Result<(), OpError> {
        match self.give_back(hold).await {
            Err(OpError::Rejected(code)) if code == "hold_expired" => Ok(()),
            other => other,
        }
    }

    async fn outcome(&self) -> Result<Vec<CategoryCount>, BenchError> {
        let prefix = self.key("cat/");
        let reply = self
            .kv
            .range(0, prefix.clone(), prefix_end(&prefix))
            .await
            .map_err(|e| BenchError::ReadBack {
                system: "etcd".into(),
                reason: e.message().to_string(),
            })?;
        let mut counts = Vec::new();
        for (kv, plan) in reply.kvs.iter().zip(&self.plan.categories) {
            let c = Counts::decode(&kv.value).ok_or_else(|| BenchError::ReadBack {
                system: "etcd".into(),
                reason: format!("unreadable counter {}", String::from_utf8_lossy(&kv.key)),
            })?;
            counts.push(CategoryCount {
                category: plan.id.clone(),
                capacity: u64::from(plan.capacity),
                sold: c.sold,
                held: c.held,
            });
        }
        if counts.len() != self.plan.categories.len() {
            return Err(BenchError::ReadBack {
                system: "etcd".into(),
                reason: format!(
                    "{} counters found, {} expected",
                    counts.len(),
                    self.plan.categories.len()
                ),
            });
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_round_trip_and_reject_garbage() {
        let c = Counts { sold: 12, held: 3 };
        assert_eq!(Counts::decode(&c.encode()), Some(c));
        assert_eq!(Counts::decode(b"12"), None);
        assert_eq!(Counts::decode(b"a,b"), None);
    }

    #[test]
    fn a_settled_hold_leaves_held_for_sold_or_for_sale() {
        let c = Counts { sold: 10, held: 4 };
        assert_eq!(c.settle(3, 3), Counts { sold: 13, held: 1 });
        assert_eq!(c.settle(3, 0), Counts { sold: 10, held: 1 });
        assert_eq!(c.settle(9, 0), Counts { sold: 10, held: 0 });
    }
}
