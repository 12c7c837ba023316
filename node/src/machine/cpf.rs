//! Brazilian CPF numbers: the document that makes "one account per person" enforceable.

use super::rejection::Rejection;

/// A CPF in canonical form: 11 digits, check digits verified.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Cpf(String);

impl Cpf {
    /// Parses `123.456.789-09` or `12345678909`; rejects wrong length, repeated digits and bad check digits.
    pub fn parse(field: &str, text: &str) -> Result<Cpf, Rejection> {
        let digits: Vec<u32> = text
            .chars()
            .filter(|c| !matches!(c, '.' | '-' | ' '))
            .map(|c| c.to_digit(10).ok_or(c))
            .collect::<Result<_, _>>()
            .map_err(|c| Rejection::invalid(field, format!("character {c:?} is not a digit")))?;
        if digits.len() != 11 {
            return Err(Rejection::invalid(
                field,
                format!("a CPF has 11 digits, got {}", digits.len()),
            ));
        }
        if digits.iter().all(|&d| d == digits[0]) {
            return Err(Rejection::invalid(field, "a CPF cannot repeat one digit"));
        }
        if check_digit(&digits[..9]) != digits[9] || check_digit(&digits[..10]) != digits[10] {
            return Err(Rejection::invalid(field, "check digits do not match"));
        }
        Ok(Cpf(digits
            .iter()
            .map(|d| char::from(b'0' + *d as u8))
            .collect()))
    }

    /// The valid CPF whose first nine digits are `base` (mod 10^9), check digits computed.
    ///
    /// For demos, load tests and test fixtures that need many distinct valid CPFs.
    pub fn from_base(base: u64) -> Cpf {
        let mut digits: Vec<u32> = format!("{:09}", base % 1_000_000_000)
            .chars()
            .filter_map(|c| c.to_digit(10))
            .collect();
        if digits.iter().all(|&d| d == digits[0]) {
            // Repeated digits are never valid: nudge the last base digit.
            digits[8] = (digits[8] + 1) % 10;
        }
        for len in [9usize, 10] {
            digits.push(check_digit(&digits[..len]));
        }
        Cpf(digits.iter().map(|d| char::from(b'0' + *d as u8)).collect())
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The check digit that follows `digits` (9 or 10 of them), by the CPF rule.
fn check_digit(digits: &[u32]) -> u32 {
    let weight = digits.len() as u32 + 1;
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| d * (weight - i as u32))
        .sum();
    let rest = (sum * 10) % 11;
    if rest == 10 {
        0
    } else {
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_cpfs_parse_in_any_punctuation() {
        let a = Cpf::parse("cpf", "529.982.247-25").unwrap();
        let b = Cpf::parse("cpf", "52998224725").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "52998224725");
        assert!(Cpf::parse("cpf", "111.444.777-35").is_ok());
    }

    #[test]
    fn generated_cpfs_are_valid_and_distinct() {
        let a = Cpf::from_base(1);
        assert_eq!(Cpf::parse("cpf", a.as_str()).unwrap(), a);
        assert_ne!(Cpf::from_base(2), a);
        assert_eq!(Cpf::from_base(529_982_247).as_str(), "52998224725");
        assert!(Cpf::parse("cpf", Cpf::from_base(111_111_111).as_str()).is_ok());
    }

    #[test]
    fn invalid_cpfs_say_why() {
        let e = Cpf::parse("cpf", "529.982.247-26").unwrap_err();
        assert_eq!(e.to_string(), "cpf: check digits do not match");
        let e = Cpf::parse("cpf", "1234").unwrap_err();
        assert_eq!(e.to_string(), "cpf: a CPF has 11 digits, got 4");
        let e = Cpf::parse("cpf", "111.111.111-11").unwrap_err();
        assert!(e.to_string().contains("repeat"));
        let e = Cpf::parse("cpf", "52998224a25").unwrap_err();
        assert!(e.to_string().contains("'a'"));
    }
}
