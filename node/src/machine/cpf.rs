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
        let check = |len: usize| {
            let sum: u32 = digits[..len]
                .iter()
                .enumerate()
                .map(|(i, d)| d * (len as u32 + 1 - i as u32))
                .sum();
            let rest = (sum * 10) % 11;
            if rest == 10 {
                0
            } else {
                rest
            }
        };
        if check(9) != digits[9] || check(10) != digits[10] {
            return Err(Rejection::invalid(field, "check digits do not match"));
        }
        Ok(Cpf(digits
            .iter()
            .map(|d| char::from(b'0' + *d as u8))
            .collect()))
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
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
