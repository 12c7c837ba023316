//! The customers' dice: how many tickets, which category first, and what
//! they do with a hold. Pure functions of a seeded RNG, so the mix is the
//! same for every system of a run.

use rand::Rng;

use crate::options::BenchOptions;
use crate::plan::PER_CUSTOMER_LIMIT;
use crate::target::Payment;

/// What a customer does with a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Pays (the payment may decline).
    Pay(Payment),
    /// Gives the hold back and may try again.
    Release,
    /// Walks away; the hold expires.
    Abandon,
}

/// The shares of each decision, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Payments declined.
    pub decline_pct: u32,
    /// Holds released instead of paid.
    pub release_pct: u32,
    /// Holds abandoned (left to expire).
    pub abandon_pct: u32,
}

impl Mix {
    /// The shares the options ask for.
    pub fn from_options(options: &BenchOptions) -> Mix {
        Mix {
            decline_pct: options.decline_pct,
            release_pct: options.release_pct,
            abandon_pct: options.abandon_pct,
        }
    }

    /// Tickets in the next hold: 1 to 4.
    pub fn quantity(&self, rng: &mut impl Rng) -> u32 {
        rng.gen_range(1..=PER_CUSTOMER_LIMIT)
    }

    /// The category tried first (the others follow in order when it is sold out).
    pub fn first_category(&self, rng: &mut impl Rng, categories: usize) -> usize {
        rng.gen_range(0..categories.max(1))
    }

    /// What to do with a hold.
    pub fn decide(&self, rng: &mut impl Rng) -> Decision {
        let roll = rng.gen_range(0..100u32);
        if roll < self.abandon_pct {
            Decision::Abandon
        } else if roll < self.abandon_pct + self.release_pct {
            Decision::Release
        } else if rng.gen_range(0..100u32) < self.decline_pct {
            Decision::Pay(Payment::Decline)
        } else {
            Decision::Pay(Payment::Approve)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn shares_match_the_options() {
        let mix = Mix {
            decline_pct: 10,
            release_pct: 10,
            abandon_pct: 5,
        };
        let mut rng = StdRng::seed_from_u64(7);
        let n = 100_000;
        let (mut abandon, mut release, mut decline, mut approve) = (0, 0, 0, 0);
        for _ in 0..n {
            match mix.decide(&mut rng) {
                Decision::Abandon => abandon += 1,
                Decision::Release => release += 1,
                Decision::Pay(Payment::Decline) => decline += 1,
                Decision::Pay(Payment::Approve) => approve += 1,
            }
        }
        let pct = |k: i32| f64::from(k) * 100.0 / f64::from(n);
        assert!((pct(abandon) - 5.0).abs() < 0.5);
        assert!((pct(release) - 10.0).abs() < 0.5);
        assert!((pct(decline) - 8.5).abs() < 0.5); // 10% of the remaining 85%
        assert!((pct(approve) - 76.5).abs() < 0.5);
    }

    #[test]
    fn quantities_and_categories_stay_in_range() {
        let mix = Mix {
            decline_pct: 0,
            release_pct: 0,
            abandon_pct: 0,
        };
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen = [false; 5];
        for _ in 0..1_000 {
            let q = mix.quantity(&mut rng);
            assert!((1..=4).contains(&q));
            seen[q as usize] = true;
            assert!(mix.first_category(&mut rng, 3) < 3);
            assert_eq!(mix.decide(&mut rng), Decision::Pay(Payment::Approve));
        }
        assert!(seen[1] && seen[4]);
    }
}
