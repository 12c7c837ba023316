//! The collections the replicated state is made of, chosen so a snapshot never stops the sale.
//!
//! The large collections of the state (customers, holds, tickets, the
//! queue, remembered outcomes, the event feed) are persistent: a clone
//! shares their trees and costs a handful of pointer copies, whatever their
//! size, and a later change copies only the nodes on its path. The storage
//! layer clones the state under the state lock (microseconds) and encodes
//! the clone with the lock released, so applying goes on while a snapshot,
//! a backup or a state hash of a million fans is being encoded.
//!
//! They serialise exactly as the `std` collections they replace (a map as a
//! map of its entries in key order, a set and a list as a sequence), so the
//! snapshot bytes, the state hash and the backup format did not change.
//!
//! The small collections (an event's categories, the events themselves, a
//! customer's ticket ids) stay `std`: cloning them is cheap because what
//! they hold is.

/// An ordered map with structural sharing (a B-tree of shared nodes).
pub type Map<K, V> = imbl::OrdMap<K, V>;

/// An ordered set with structural sharing.
pub type Set<T> = imbl::OrdSet<T>;

/// A sequence with structural sharing (an RRB tree): O(1) clone, O(log n)
/// push at the back, index and pop at the front.
pub type List<T> = imbl::Vector<T>;

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, VecDeque};

    use super::*;

    #[test]
    fn they_encode_exactly_as_the_std_collections_they_replace() {
        let std_map: BTreeMap<String, u64> =
            [("b".into(), 2), ("a".into(), 1), ("c".into(), 3)].into();
        let map: Map<String, u64> = std_map.clone().into_iter().collect();
        assert_eq!(
            bincode::serialize(&map).unwrap(),
            bincode::serialize(&std_map).unwrap()
        );
        let std_set: BTreeSet<(u64, String)> = [(2, "x".into()), (1, "y".into())].into();
        let set: Set<(u64, String)> = std_set.iter().cloned().collect();
        assert_eq!(
            bincode::serialize(&set).unwrap(),
            bincode::serialize(&std_set).unwrap()
        );
        let std_list: VecDeque<String> = ["z".into(), "a".into()].into();
        let list: List<String> = std_list.iter().cloned().collect();
        assert_eq!(
            bincode::serialize(&list).unwrap(),
            bincode::serialize(&std_list).unwrap()
        );
        assert_eq!(
            bincode::serialize(&list).unwrap(),
            bincode::serialize(&std_list.iter().collect::<Vec<_>>()).unwrap()
        );
        let back: Map<String, u64> =
            bincode::deserialize(&bincode::serialize(&std_map).unwrap()).unwrap();
        assert_eq!(back, map);
    }

    #[test]
    fn a_clone_keeps_what_it_saw_while_the_original_changes() {
        let mut map: Map<u64, String> = (0..10_000u64).map(|i| (i, i.to_string())).collect();
        let seen = map.clone();
        let seen_bytes = bincode::serialize(&seen).unwrap();
        for i in 0..10_000u64 {
            if i % 3 == 0 {
                map.remove(&i);
            } else {
                map.insert(i, "changed".into());
            }
        }
        map.insert(20_000, "new".into());
        assert_eq!(bincode::serialize(&seen).unwrap(), seen_bytes);
        assert_eq!(seen.len(), 10_000);
        assert_eq!(seen.get(&3).map(String::as_str), Some("3"));
    }
}
