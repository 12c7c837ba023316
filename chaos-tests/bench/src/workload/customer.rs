//! One simulated customer's turn: wait for the queue's admission, hold
//! tickets (another category when one is sold out; when all are, keep
//! refreshing like a fan would, since released and expired holds come
//! back), then pay, release or walk away. A customer tries up to
//! [`ATTEMPTS`] holds and leaves after buying once.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;

use super::mix::Decision;
use super::Sale;
use crate::stats::{LiveCounters, OpKind};
use crate::target::{HoldTicket, OpError, Payment, Target};

/// Holds a customer tries (after a release or a declined payment) before leaving.
pub const ATTEMPTS: u32 = 3;
/// Times a customer tries to join the queue while the system is unavailable.
pub const JOIN_ATTEMPTS: u32 = 5;
/// Longest wait for the queue's admission.
const ADMISSION_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause (plus jitter of the same length) before trying again when every category is sold out.
const SOLD_OUT_PAUSE_MS: u64 = 50;

/// Joins the queue for customer `n`. A fan whose join was shed or lost
/// (the system was unavailable, e.g. a gateway answering 503 at the
/// opening's peak) presses "join" again, up to [`JOIN_ATTEMPTS`] times; a
/// refusal by the rules is final.
pub(super) async fn join<T: Target>(sale: &Sale<T>, n: u64, rng: &mut StdRng) {
    for attempt in 1..=JOIN_ATTEMPTS {
        match sale
            .recorder
            .timed(OpKind::Join, sale.target.join_queue(n))
            .await
        {
            Err(OpError::Unavailable(_)) if attempt < JOIN_ATTEMPTS => {
                pause(rng, SOLD_OUT_PAUSE_MS).await;
            }
            _ => return,
        }
    }
}

/// Runs customer `n`'s turn.
pub(super) async fn shop<T: Target>(sale: &Sale<T>, n: u64, rng: &mut StdRng) {
    if !wait_for_admission(sale, n).await {
        return;
    }
    let categories = sale.plan.categories.len();
    let mut attempts = 0;
    while attempts < ATTEMPTS && !sale.stop.load(Ordering::Relaxed) {
        let quantity = sale.mix.quantity(rng);
        let first = sale.mix.first_category(rng, categories);
        let hold = match hold_any(sale, n, first, quantity).await {
            Ok(hold) => hold,
            Err(Refused::SoldOut) => {
                pause(rng, SOLD_OUT_PAUSE_MS).await;
                continue;
            }
            Err(Refused::Failed) => {
                attempts += 1;
                pause(rng, SOLD_OUT_PAUSE_MS).await;
                continue;
            }
        };
        think(sale, rng).await;
        match sale.mix.decide(rng) {
            Decision::Abandon => {
                sale.abandon(hold);
                return;
            }
            Decision::Release => {
                let released = sale
                    .recorder
                    .timed(OpKind::Release, sale.target.release(&hold))
                    .await;
                if released.as_ref().is_err_and(may_leave_hold_live) {
                    sale.expire_later(hold);
                }
            }
            Decision::Pay(payment) => {
                let paid = sale
                    .recorder
                    .timed(OpKind::Purchase, sale.target.purchase(&hold, payment))
                    .await;
                match paid {
                    Ok(tickets) => {
                        LiveCounters::add(&sale.recorder.live.tickets_sold, tickets);
                        if payment == Payment::Approve {
                            return;
                        }
                    }
                    Err(e) if may_leave_hold_live(&e) => sale.expire_later(hold),
                    Err(_) => {}
                }
            }
        }
        attempts += 1;
        think(sale, rng).await;
    }
}

/// Reads the queue status until the customer is admitted; false if they
/// gave up (timeout) or the sale ended.
async fn wait_for_admission<T: Target>(sale: &Sale<T>, n: u64) -> bool {
    let until = Instant::now() + ADMISSION_TIMEOUT;
    loop {
        if sale.stop.load(Ordering::Relaxed) {
            return false;
        }
        match sale
            .recorder
            .timed(OpKind::QueueStatus, sale.target.admitted(n))
            .await
        {
            Ok(true) => return true,
            // Not in the queue (every join failed): nothing to wait for.
            Err(OpError::Rejected(_)) => return false,
            _ => {}
        }
        if Instant::now() >= until {
            sale.recorder.error("admission_timeout");
            return false;
        }
        tokio::time::sleep(sale.status_poll).await;
    }
}

/// Whether a failed purchase or release may have left the hold live: any
/// failure but a refusal by the rules (a declined payment releases the hold;
/// an expired or unknown hold is gone).
fn may_leave_hold_live(error: &OpError) -> bool {
    !matches!(error, OpError::Rejected(_))
}

/// Why no hold was taken.
enum Refused {
    /// Every category was sold out (for now: holds may come back).
    SoldOut,
    /// A hold failed for another reason (counted as an attempt).
    Failed,
}

/// Holds `quantity` tickets of the first category that has them, starting at `first`.
async fn hold_any<T: Target>(
    sale: &Sale<T>,
    n: u64,
    first: usize,
    quantity: u32,
) -> Result<HoldTicket, Refused> {
    let categories = sale.plan.categories.len();
    for i in 0..categories {
        if sale.stop.load(Ordering::Relaxed) {
            return Err(Refused::SoldOut);
        }
        let category = (first + i) % categories;
        match sale
            .recorder
            .timed(OpKind::Hold, sale.target.hold(n, category, quantity))
            .await
        {
            Ok(id) => {
                return Ok(HoldTicket {
                    customer: n,
                    id,
                    category,
                    quantity,
                })
            }
            Err(e) if e.is_sold_out() => continue,
            Err(_) => return Err(Refused::Failed),
        }
    }
    Err(Refused::SoldOut)
}

/// The customer's think time between steps.
async fn think<T: Target>(sale: &Sale<T>, rng: &mut StdRng) {
    if sale.think_ms > 0 {
        let ms = rng.gen_range(0..=sale.think_ms);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// Sleeps `base` to `2 × base` milliseconds.
async fn pause(rng: &mut StdRng, base: u64) {
    let ms = base + rng.gen_range(0..=base);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}
