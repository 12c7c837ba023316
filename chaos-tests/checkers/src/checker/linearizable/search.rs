//! The Wing–Gong search with Lowe's memoisation (as in Knossos' `wgl` and
//! Porcupine): walk the history's calls and returns as a linked list, try
//! to linearize each pending call in turn, backtrack when a return is
//! reached whose call could not be placed, and never revisit a
//! (linearized set, model state) pair.
//!
//! The linearized set is remembered as a 128-bit Zobrist hash (the XOR of a
//! fixed random key per operation), updated in O(1) per step; two different
//! sets collide with probability about 2⁻¹²⁸ per pair, which could only
//! prune a branch wrongly, never accept a wrong history.
//!
//! Symmetry reduction for unknown outcomes: two `info` operations with the
//! same effect are interchangeable (neither has a completion to respect),
//! so among them only linearizations that take them in invocation order are
//! explored. Without it, k timed-out holds of one size would cost up to 2ᵏ
//! states; with it, k + 1.
//!
//! Exclusive alternatives: an expiry that is the other fate of a hold whose
//! purchase timed out is paired with that purchase. Linearizing either one
//! also retires the other (it is lifted from the list and counted as done,
//! without effect), so at most one of them ever takes effect. This keeps
//! the symmetry reduction sound: were purchase i (invoked first) and j
//! interchangeable but j taken while i's hold expires later, the search
//! finds the same counters by taking i's purchase at j's place and j's
//! expiry at i's (j's hold was linearized before j's purchase began).

use std::collections::{HashMap, HashSet};

use super::model::{CategoryModel, Counters, Effect, ModelOp};
use crate::history::Operation;

/// How much searching a category's history may cost before the verdict
/// becomes "unknown" instead of the check hanging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchBudget {
    /// Most distinct (linearized set, state) pairs explored per category
    /// (each costs about 40 bytes of memory).
    pub max_states: u64,
}

impl Default for SearchBudget {
    fn default() -> SearchBudget {
        SearchBudget {
            max_states: 2_000_000,
        }
    }
}

/// The outcome of searching one category's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A linearization exists.
    Linearizable {
        /// Distinct states explored.
        explored: u64,
    },
    /// None exists; the deepest point the search reached.
    NotLinearizable(DeadEnd),
    /// The budget ran out first.
    Unknown {
        /// Distinct states explored.
        explored: u64,
    },
}

/// The longest linearizable prefix found, where every continuation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadEnd {
    /// Positions (in the searched slice) of the prefix's operations, in
    /// linearization order.
    pub prefix: Vec<usize>,
    /// The model state after the prefix.
    pub state: Counters,
    /// Distinct states explored.
    pub explored: u64,
}

const HEAD: usize = 0;
const NONE: usize = usize::MAX;

/// A call or return of operation `op`, as a node of the linked list.
#[derive(Clone, Copy)]
struct Entry {
    op: usize,
    is_call: bool,
}

/// The calls and returns not yet linearized, in real-time order.
struct EntryList {
    /// `entries[0]` is the head sentinel.
    entries: Vec<Entry>,
    next: Vec<usize>,
    prev: Vec<usize>,
    call_of: Vec<usize>,
    return_of: Vec<usize>,
}

impl EntryList {
    fn new(ops: &[ModelOp]) -> EntryList {
        // Unknown outcomes return "at infinity", after every definite return.
        let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
        for (i, m) in ops.iter().enumerate() {
            order.push((m.span.invoke_index, false, i));
            let done = if m.optional {
                u64::MAX
            } else {
                m.span.complete_index.unwrap_or(u64::MAX)
            };
            order.push((done, true, i));
        }
        order.sort_unstable();
        let n = order.len();
        let mut list = EntryList {
            entries: Vec::with_capacity(n + 1),
            // Slot i precedes slot i + 1; the last slot has no successor.
            next: (1..=n + 1).map(|i| if i <= n { i } else { NONE }).collect(),
            // Slot i follows slot i − 1; the head (slot 0) has no predecessor.
            prev: (0..=n).map(|i| i.checked_sub(1).unwrap_or(NONE)).collect(),
            call_of: vec![NONE; ops.len()],
            return_of: vec![NONE; ops.len()],
        };
        list.entries.push(Entry {
            op: NONE,
            is_call: false,
        });
        for (i, (_, is_return, op)) in order.into_iter().enumerate() {
            let slot = i + 1;
            if is_return {
                list.return_of[op] = slot;
            } else {
                list.call_of[op] = slot;
            }
            list.entries.push(Entry {
                op,
                is_call: !is_return,
            });
        }
        list
    }

    fn unlink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = n;
        if n != NONE {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = e;
        if n != NONE {
            self.prev[n] = e;
        }
    }

    /// Removes operation `op`'s call and return.
    fn lift(&mut self, op: usize) {
        self.unlink(self.call_of[op]);
        self.unlink(self.return_of[op]);
    }

    /// Puts operation `op`'s call and return back (undoes [`Self::lift`]).
    fn unlift(&mut self, op: usize) {
        self.relink(self.return_of[op]);
        self.relink(self.call_of[op]);
    }
}

/// A fixed pseudo-random 128-bit key per operation (SplitMix64).
fn zobrist(op: usize) -> u128 {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let i = op as u64;
    ((mix(2 * i) as u128) << 64) | mix(2 * i + 1) as u128
}

/// For each unknown-outcome operation, the one with the same effect invoked
/// just before it, which must be linearized first (see the module docs).
///
/// An expiry is not interchangeable with anything in general: it must
/// follow its own hold (the hold is the operation it was derived from), so
/// that hold is its predecessor instead — an expiry can never give back
/// tickets its hold did not take. Except when its hold completed before
/// the expiry's window opens (the hold is then linearized first anyway):
/// such certain expiries of one size with the same window are
/// interchangeable, and are chained like unknown outcomes. A burst of holds
/// expiring together after an outage would otherwise cost 2ᵏ states.
fn interchangeable_predecessors(ops: &[ModelOp]) -> Vec<Option<usize>> {
    let is_expiry = |i: usize| matches!(ops[i].effect, Effect::Expire(_));
    let mut by_invocation: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].optional && !is_expiry(i))
        .collect();
    by_invocation.sort_by_key(|&i| ops[i].span.invoke_index);
    let mut last: HashMap<Effect, usize> = HashMap::new();
    let mut before = vec![None; ops.len()];
    for i in by_invocation {
        before[i] = last.insert(ops[i].effect, i);
    }
    // Each hold's position, by the recorded operation it comes from.
    let holds: HashMap<*const Operation, usize> = (0..ops.len())
        .filter(|&h| matches!(ops[h].effect, Effect::Hold(_)))
        .map(|h| (ops[h].op as *const Operation, h))
        .collect();
    let hold_of = |i: usize| holds.get(&(ops[i].op as *const Operation)).copied();
    type Window = (Effect, u64, Option<u64>);
    let mut last_in_window: HashMap<Window, usize> = HashMap::new();
    for i in (0..ops.len()).filter(|&i| is_expiry(i)) {
        let hold = hold_of(i);
        let settled_before = hold.is_some_and(|h| {
            !ops[h].optional
                && ops[h]
                    .span
                    .complete_index
                    .is_some_and(|done| done < ops[i].span.invoke_index)
        });
        if settled_before && !ops[i].optional && ops[i].excludes.is_none() {
            let window = (
                ops[i].effect,
                ops[i].span.invoke_index,
                ops[i].span.complete_index,
            );
            before[i] = last_in_window.insert(window, i);
        } else {
            before[i] = hold;
        }
    }
    before
}

/// For each operation, the exclusive alternative it is paired with (see the
/// module docs): an expiry and the timed-out purchase it names.
pub fn exclusive_partners(ops: &[ModelOp]) -> Vec<Option<usize>> {
    // Operations that exclude nothing, by the recorded operation.
    let plain: HashMap<*const Operation, usize> = (0..ops.len())
        .filter(|&j| ops[j].excludes.is_none())
        .map(|j| (ops[j].op as *const Operation, j))
        .collect();
    let mut partner = vec![None; ops.len()];
    for i in 0..ops.len() {
        let Some(excluded) = ops[i].excludes else {
            continue;
        };
        // One to one: a purchase already paired (two expiries naming it,
        // which only a broken history gives) keeps its first partner.
        if let Some(&j) = plain.get(&(excluded as *const Operation)) {
            if partner[j].is_none() {
                partner[i] = Some(j);
                partner[j] = Some(i);
            }
        }
    }
    partner
}

/// Searches for a linearization of `ops` (one category's operations)
/// starting from empty counters.
pub fn search(model: CategoryModel, ops: &[ModelOp], budget: SearchBudget) -> Verdict {
    let keys: Vec<u128> = (0..ops.len()).map(zobrist).collect();
    let before = interchangeable_predecessors(ops);
    let partner = exclusive_partners(ops);
    let mut done = vec![false; ops.len()];
    let mut list = EntryList::new(ops);
    let mut state = Counters::default();
    let mut linearized: u128 = 0;
    let mut stack: Vec<(usize, Counters)> = Vec::new();
    let mut seen: HashSet<(u128, Counters)> = HashSet::new();
    seen.insert((linearized, state));
    let mut deepest = DeadEnd {
        prefix: Vec::new(),
        state,
        explored: 0,
    };
    let mut entry = list.next[HEAD];
    loop {
        if entry == NONE {
            return Verdict::Linearizable {
                explored: seen.len() as u64,
            };
        }
        let Entry { op, is_call } = list.entries[entry];
        if is_call {
            if before[op].is_some_and(|b| !done[b]) {
                entry = list.next[entry];
                continue;
            }
            let retired = partner[op].map_or(0, |p| keys[p]);
            let stepped = model.step(state, ops[op].effect).ok();
            let fresh = stepped.filter(|s| seen.insert((linearized ^ keys[op] ^ retired, *s)));
            match fresh {
                Some(next_state) => {
                    if seen.len() as u64 > budget.max_states {
                        return Verdict::Unknown {
                            explored: seen.len() as u64,
                        };
                    }
                    stack.push((op, state));
                    state = next_state;
                    linearized ^= keys[op] ^ retired;
                    done[op] = true;
                    list.lift(op);
                    if let Some(p) = partner[op] {
                        done[p] = true;
                        list.lift(p);
                    }
                    entry = list.next[HEAD];
                }
                None => entry = list.next[entry],
            }
        } else if ops[op].optional {
            // Unknown outcomes return last: reaching one means every
            // definite operation is linearized, and the rest may never
            // have happened.
            return Verdict::Linearizable {
                explored: seen.len() as u64,
            };
        } else {
            if stack.len() > deepest.prefix.len() {
                deepest.prefix = stack.iter().map(|(op, _)| *op).collect();
                deepest.state = state;
            }
            let Some((undone, state_before)) = stack.pop() else {
                deepest.explored = seen.len() as u64;
                return Verdict::NotLinearizable(deepest);
            };
            state = state_before;
            linearized ^= keys[undone];
            done[undone] = false;
            // Undo in the reverse order of the lifts.
            if let Some(p) = partner[undone] {
                linearized ^= keys[p];
                done[p] = false;
                list.unlift(p);
            }
            list.unlift(undone);
            entry = list.next[list.call_of[undone]];
        }
    }
}
