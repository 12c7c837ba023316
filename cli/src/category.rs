//! Parsing `--category ID:NAME:CAPACITY:PRICE_CENTS:LIMIT`.
//!
//! The three numbers are taken from the right and the id from the left, so a
//! name may itself contain colons (`vip:VIP: Front Row:50:90000:2`).

use std::num::{IntErrorKind, ParseIntError};
use std::str::FromStr;

use ingressoja_client::proto::ticketing::CategorySpec;

/// The shape of a category spec, for error messages.
const SHAPE: &str = "ID:NAME:CAPACITY:PRICE_CENTS:LIMIT";

/// Parses one category spec; the error names the bad part.
pub fn parse_category(spec: &str) -> Result<CategorySpec, String> {
    let mut from_right = spec.rsplitn(4, ':');
    let limit = from_right.next();
    let price = from_right.next();
    let capacity = from_right.next();
    let id_and_name = from_right.next();
    let (Some(limit), Some(price), Some(capacity), Some(id_and_name)) =
        (limit, price, capacity, id_and_name)
    else {
        return Err(format!("expected {SHAPE}"));
    };
    let Some((id, name)) = id_and_name.split_once(':') else {
        return Err(format!("expected {SHAPE}"));
    };
    let id = id.trim();
    let name = name.trim();
    if id.is_empty() {
        return Err("the category id is empty".into());
    }
    if name.is_empty() {
        return Err("the category name is empty".into());
    }
    Ok(CategorySpec {
        category_id: id.to_string(),
        name: name.to_string(),
        capacity: number("capacity", capacity)?,
        price_cents: number("price", price)?,
        per_customer_limit: number("limit", limit)?,
    })
}

/// Parses one numeric part, naming it in the error.
fn number<N>(what: &str, text: &str) -> Result<N, String>
where
    N: FromStr<Err = ParseIntError>,
{
    text.trim()
        .parse()
        .map_err(|err: ParseIntError| match err.kind() {
            IntErrorKind::PosOverflow => format!("{what} {text:?} is too large"),
            IntErrorKind::Empty => format!("{what} is missing"),
            _ => format!("{what} {text:?} is not a number"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_spec_parses() {
        let spec = parse_category("pista:Pista Premium:1000:25000:4").unwrap();
        assert_eq!(
            spec,
            CategorySpec {
                category_id: "pista".into(),
                name: "Pista Premium".into(),
                capacity: 1000,
                price_cents: 25000,
                per_customer_limit: 4,
            }
        );
    }

    #[test]
    fn a_name_may_contain_colons() {
        let spec = parse_category("vip:VIP: Front Row:50:90000:2").unwrap();
        assert_eq!(spec.category_id, "vip");
        assert_eq!(spec.name, "VIP: Front Row");
        assert_eq!(spec.capacity, 50);
    }

    #[test]
    fn errors_name_the_bad_part() {
        let err = |s| parse_category(s).unwrap_err();
        assert_eq!(
            err("pista:Pista:x:100:4"),
            r#"capacity "x" is not a number"#
        );
        assert_eq!(
            err("pista:Pista:10:1.5:4"),
            r#"price "1.5" is not a number"#
        );
        assert_eq!(
            err("pista:Pista:10:100:-1"),
            r#"limit "-1" is not a number"#
        );
        assert_eq!(
            err("pista:Pista:99999999999:100:4"),
            r#"capacity "99999999999" is too large"#
        );
        assert_eq!(err("pista:Pista::100:4"), "capacity is missing");
        assert_eq!(err("pista:Pista:10:100"), format!("expected {SHAPE}"));
        assert_eq!(err("pista"), format!("expected {SHAPE}"));
        assert_eq!(err(":Pista:10:100:4"), "the category id is empty");
        assert_eq!(err("pista::10:100:4"), "the category name is empty");
    }
}
