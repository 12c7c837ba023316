//! The sale every system runs: one event, its hot categories, the customers
//! and their names. Derived from the options and a run tag, so two runs
//! against the same long-lived cluster never collide.

use super::options::BenchOptions;

/// One hot category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryPlan {
    /// The id sent to the system (`hot0`, `hot1`, ...).
    pub id: String,
    /// Tickets on sale.
    pub capacity: u32,
}

/// The sale of one run.
#[derive(Debug, Clone)]
pub struct SalePlan {
    /// Distinguishes this run's event, customers and keys from earlier runs.
    pub tag: u64,
    /// The event (one virtual queue, all categories).
    pub event_id: String,
    /// The hot categories.
    pub categories: Vec<CategoryPlan>,
    /// How many customers exist.
    pub customers: u64,
    /// Most tickets a customer may hold plus own (and most in one hold).
    pub per_customer_limit: u32,
    /// Hold lifetime, for systems whose holds the benchmark expires.
    pub hold_ttl_secs: u64,
    /// Most admitted shoppers at once (IngressoJá's queue policy).
    pub max_active: u32,
    /// Registrations in flight while the sale is prepared.
    pub setup_concurrency: usize,
}

/// Most tickets in one hold, and per customer: the Rock in Rio rule.
pub const PER_CUSTOMER_LIMIT: u32 = 4;

impl SalePlan {
    /// The plan for `options`, with `tag` keeping its names apart from other runs.
    pub fn new(options: &BenchOptions, tag: u64) -> SalePlan {
        let max_active = if options.max_active == 0 {
            u32::try_from(options.customers).unwrap_or(u32::MAX)
        } else {
            options.max_active
        };
        SalePlan {
            tag,
            event_id: format!("bench-{tag}"),
            categories: (0..options.categories)
                .map(|k| CategoryPlan {
                    id: format!("hot{k}"),
                    capacity: options.capacity,
                })
                .collect(),
            customers: options.customers,
            per_customer_limit: PER_CUSTOMER_LIMIT,
            hold_ttl_secs: options.hold_ttl_secs,
            max_active,
            setup_concurrency: options.setup_concurrency,
        }
    }

    /// The id of customer `n` (0-based).
    pub fn customer_id(&self, n: u64) -> String {
        format!("b{}c{n}", self.tag)
    }

    /// The nine-digit base of customer `n`'s CPF: a window of a million
    /// numbers per run tag, so customers of different runs differ.
    pub fn cpf_base(&self, n: u64) -> u64 {
        100_000_000 + (self.tag % 800) * 1_000_000 + n % 1_000_000
    }

    /// Tickets on sale in all categories.
    pub fn total_capacity(&self) -> u64 {
        self.categories.iter().map(|c| u64::from(c.capacity)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn names_and_capacity_follow_the_options() {
        let options = BenchOptions::parse_from([
            "b",
            "--categories",
            "3",
            "--capacity",
            "7",
            "--customers",
            "10",
        ]);
        let plan = SalePlan::new(&options, 42);
        assert_eq!(plan.event_id, "bench-42");
        assert_eq!(plan.categories[2].id, "hot2");
        assert_eq!(plan.total_capacity(), 21);
        assert_eq!(plan.customer_id(3), "b42c3");
        assert_eq!(plan.max_active, 10);
        assert_ne!(plan.cpf_base(1), SalePlan::new(&options, 43).cpf_base(1));
        assert!(plan.cpf_base(999_999) < 1_000_000_000);
    }
}
