//! Brazilian CPF numbers: the document that makes "one account per person"
//! enforceable. Here because the machine validates them and the test
//! fixtures, chaos workloads and benchmark generate them.

use core::fmt;

/// A CPF in canonical form: 11 digits, check digits verified.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Cpf(String);

/// Why a text is not a valid CPF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpfError {
    /// A character other than a digit or the `.`, `-`, space punctuation.
    NotADigit(char),
    /// Not 11 digits (the count found).
    WrongLength(usize),
    /// All 11 digits are the same, which the check digits would accept.
    RepeatedDigit,
    /// The two check digits do not follow from the first nine.
    CheckDigits,
}

impl fmt::Display for CpfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpfError::NotADigit(c) => write!(f, "character {c:?} is not a digit"),
            CpfError::WrongLength(n) => write!(f, "a CPF has 11 digits, got {n}"),
            CpfError::RepeatedDigit => f.write_str("a CPF cannot repeat one digit"),
            CpfError::CheckDigits => f.write_str("check digits do not match"),
        }
    }
}

impl std::error::Error for CpfError {}

impl Cpf {
    /// Parses `123.456.789-09` or `12345678909`; rejects wrong length,
    /// repeated digits and bad check digits.
    pub fn parse(text: &str) -> Result<Cpf, CpfError> {
        let digits: Vec<u32> = text
            .chars()
            .filter(|c| !matches!(c, '.' | '-' | ' '))
            .map(|c| c.to_digit(10).ok_or(CpfError::NotADigit(c)))
            .collect::<Result<_, _>>()?;
        if digits.len() != 11 {
            return Err(CpfError::WrongLength(digits.len()));
        }
        if digits.iter().all(|&d| d == digits[0]) {
            return Err(CpfError::RepeatedDigit);
        }
        if check_digit(&digits[..9]) != digits[9] || check_digit(&digits[..10]) != digits[10] {
            return Err(CpfError::CheckDigits);
        }
        Ok(Cpf(to_text(&digits)))
    }

    /// The valid CPF whose first nine digits are `base` (mod 10^9), check
    /// digits computed.
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
        Cpf(to_text(&digits))
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn to_text(digits: &[u32]) -> String {
    digits
        .iter()
        .filter_map(|&d| char::from_digit(d, 10))
        .collect()
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
        let a = Cpf::parse("529.982.247-25").unwrap();
        let b = Cpf::parse("52998224725").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "52998224725");
        assert!(Cpf::parse("111.444.777-35").is_ok());
        assert!(Cpf::parse("529 982 247 25").is_ok());
    }

    #[test]
    fn generated_cpfs_are_valid_and_distinct() {
        let a = Cpf::from_base(1);
        assert_eq!(Cpf::parse(a.as_str()).unwrap(), a);
        assert_ne!(Cpf::from_base(2), a);
        assert_eq!(Cpf::from_base(529_982_247).as_str(), "52998224725");
        assert!(Cpf::parse(Cpf::from_base(111_111_111).as_str()).is_ok());
        assert!(Cpf::parse(Cpf::from_base(u64::MAX).as_str()).is_ok());
    }

    #[test]
    fn invalid_cpfs_say_why() {
        assert_eq!(
            Cpf::parse("529.982.247-26").unwrap_err().to_string(),
            "check digits do not match"
        );
        assert_eq!(
            Cpf::parse("1234").unwrap_err().to_string(),
            "a CPF has 11 digits, got 4"
        );
        assert_eq!(
            Cpf::parse("111.111.111-11").unwrap_err(),
            CpfError::RepeatedDigit
        );
        assert_eq!(
            Cpf::parse("52998224a25").unwrap_err().to_string(),
            "character 'a' is not a digit"
        );
        // A non-ASCII digit is not a CPF digit.
        assert_eq!(
            Cpf::parse("52998224٧25").unwrap_err(),
            CpfError::NotADigit('٧')
        );
        assert_eq!(Cpf::parse("").unwrap_err(), CpfError::WrongLength(0));
    }
}
