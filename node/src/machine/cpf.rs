//! Brazilian CPF numbers, as the machine reads them.
//!
//! The [`Cpf`] type itself lives in the dependency-free `ingressoja-codes`
//! crate (test fixtures, the chaos workload and the benchmark generate CPFs
//! without linking the node); this module turns its parse errors into the
//! machine's [`Rejection`].

pub use ingressoja_codes::Cpf;

use super::rejection::Rejection;

/// Parses the CPF in `text`; a refusal names `field` and says why.
pub fn parse_cpf(field: &str, text: &str) -> Result<Cpf, Rejection> {
    Cpf::parse(text).map_err(|error| Rejection::invalid(field, error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_cpf_parses_to_its_digits() {
        assert_eq!(
            parse_cpf("cpf", "529.982.247-25").unwrap().as_str(),
            "52998224725"
        );
    }

    #[test]
    fn an_invalid_cpf_is_an_invalid_field_naming_it() {
        let e = parse_cpf("cpf", "529.982.247-26").unwrap_err();
        assert_eq!(e.code(), "invalid_field");
        assert_eq!(e.to_string(), "cpf: check digits do not match");
        let e = parse_cpf("cpf", "1234").unwrap_err();
        assert_eq!(e.to_string(), "cpf: a CPF has 11 digits, got 4");
    }
}
