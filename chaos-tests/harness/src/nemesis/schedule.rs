//! Which faults strike together: one at a time in turn, or, with an
//! overlap of two or more, the next one in turn plus others picked at random
//! among those that may overlap ([`NemesisKind::overlaps`]).
//!
//! Real outages rarely come alone: a node pauses while a link is flaky, the
//! leader loses a peer while another is slow. Faults one at a time never
//! show what two at once do to elections and retries.

use rand::seq::SliceRandom;
use rand::Rng;

use super::NemesisKind;

/// The indexes into `kinds` of the faults of round `round`: `kinds[round %
/// len]`, then, when it may overlap, up to `overlap - 1` other kinds that
/// may, chosen with `rng`. Empty when `kinds` is.
pub fn round(
    kinds: &[NemesisKind],
    round: usize,
    overlap: usize,
    rng: &mut impl Rng,
) -> Vec<usize> {
    if kinds.is_empty() {
        return Vec::new();
    }
    let first = round % kinds.len();
    let mut group = vec![first];
    if overlap <= 1 || !kinds[first].overlaps() {
        return group;
    }
    let mut others: Vec<usize> = (0..kinds.len())
        .filter(|&i| i != first && kinds[i].overlaps() && kinds[i] != kinds[first])
        .collect();
    others.shuffle(rng);
    group.extend(others.into_iter().take(overlap - 1));
    group
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const KINDS: [NemesisKind; 4] = [
        NemesisKind::Kill,
        NemesisKind::Wipe,
        NemesisKind::Flaky,
        NemesisKind::PauseLeader,
    ];

    #[test]
    fn one_at_a_time_takes_the_kinds_in_turn() {
        let mut rng = StdRng::seed_from_u64(1);
        let rounds: Vec<Vec<usize>> = (0..5).map(|r| round(&KINDS, r, 1, &mut rng)).collect();
        assert_eq!(rounds, vec![vec![0], vec![1], vec![2], vec![3], vec![0]]);
        assert!(round(&[], 0, 2, &mut rng).is_empty());
    }

    #[test]
    fn overlapping_rounds_add_distinct_kinds_that_may_overlap() {
        let mut rng = StdRng::seed_from_u64(7);
        for r in 0..40 {
            let group = round(&KINDS, r, 2, &mut rng);
            assert_eq!(group[0], r % KINDS.len(), "the turn's kind leads");
            if KINDS[group[0]] == NemesisKind::Wipe {
                assert_eq!(group.len(), 1, "a wipe runs alone");
                continue;
            }
            assert_eq!(group.len(), 2, "{group:?}");
            assert_ne!(group[0], group[1]);
            assert!(group.iter().all(|&i| KINDS[i].overlaps()), "{group:?}");
        }
    }

    #[test]
    fn an_overlap_larger_than_the_kinds_takes_them_all() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut group = round(&KINDS, 0, 9, &mut rng);
        group.sort();
        assert_eq!(group, vec![0, 2, 3], "every kind but the wipe");
    }
}
