//! Small range checks shared by the gateway validators, so that every
//! out-of-range value is reported in the same words.

use std::fmt::Display;
use std::ops::RangeInclusive;

use crate::ConfigError;

/// Fails with `field: must be between LO and HI UNIT, got V` when `value`
/// is outside `range`. `unit` may be empty (plain counts).
pub(crate) fn in_range<T: PartialOrd + Display>(
    field: &str,
    value: T,
    range: RangeInclusive<T>,
    unit: &str,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    Err(ConfigError::invalid(
        field,
        format!(
            "must be between {} and {}{unit}, got {value}",
            range.start(),
            range.end()
        ),
    ))
}

/// Fails with `field: must be >= MIN, got V` when `value < min`.
pub(crate) fn at_least<T: PartialOrd + Display>(
    field: &str,
    value: T,
    min: T,
) -> Result<(), ConfigError> {
    if value >= min {
        return Ok(());
    }
    Err(ConfigError::invalid(
        field,
        format!("must be >= {min}, got {value}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::{at_least, in_range};

    #[test]
    fn messages() {
        assert!(in_range("a", 5u32, 1..=10, "").is_ok());
        assert_eq!(
            in_range("a", 0u32, 1..=10, "").unwrap_err().to_string(),
            "a: must be between 1 and 10, got 0"
        );
        assert_eq!(
            in_range("b", 11u64, 1..=10, "seconds")
                .unwrap_err()
                .to_string(),
            "b: must be between 1 and 10 seconds, got 11"
        );
        assert!(at_least("c", 3u64, 3).is_ok());
        assert_eq!(
            at_least("c", 2u64, 3).unwrap_err().to_string(),
            "c: must be >= 3, got 2"
        );
    }
}
