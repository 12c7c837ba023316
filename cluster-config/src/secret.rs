//! Serde helpers for secret values (the session HMAC key, webhook secrets).
//!
//! Secrets must never end up in logs: neither in `Debug` output (the structs
//! holding them implement it by hand with [`REDACTED`]) nor in error
//! messages. Serde's stock "invalid type" errors quote the offending value
//! (`invalid type: integer `1234`, ...`), so these helpers deserialize by
//! hand and only ever describe *what kind* of value was wrong.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;

/// What `Debug` prints in place of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Accepts a string; any other value is rejected without quoting it.
struct SecretStr;

impl SecretStr {
    fn wrong<E: de::Error>(what: &str) -> E {
        E::custom(format!("invalid type: {what}, expected a string"))
    }
}

impl<'de> Visitor<'de> for SecretStr {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<String, E> {
        Err(Self::wrong("boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<String, E> {
        Err(Self::wrong("integer"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<String, E> {
        Err(Self::wrong("integer"))
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<String, E> {
        Err(Self::wrong("integer"))
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<String, E> {
        Err(Self::wrong("integer"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<String, E> {
        Err(Self::wrong("float"))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(Self::wrong("array"))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(Self::wrong("table"))
    }
}

/// `serde(deserialize_with)` for secret strings.
pub(crate) fn deserialize_secret<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(SecretStr)
}

/// `serde(deserialize_with)` for a key written as hex: decodes it, and
/// explains bad digits by position only.
pub(crate) fn deserialize_hex<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = d.deserialize_any(SecretStr)?;
    decode_hex(&text).map_err(de::Error::custom)
}

/// `serde(serialize_with)` for a key kept as bytes and written as hex.
pub(crate) fn serialize_hex<S: Serializer>(key: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(key))
}

/// Hex -> bytes with messages that never contain the input.
pub(crate) fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    hex::decode(text).map_err(|err| match err {
        hex::FromHexError::InvalidHexCharacter { index, .. } => {
            format!("is not valid hex: non-hex character at position {index}")
        }
        hex::FromHexError::OddLength => format!(
            "is not valid hex: odd number of digits ({})",
            text.chars().count()
        ),
        hex::FromHexError::InvalidStringLength => "is not valid hex".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::decode_hex;

    #[test]
    fn hex_errors_do_not_quote_the_input() {
        assert_eq!(decode_hex("0aFF"), Ok(vec![0x0a, 0xff]));
        let err = decode_hex("00zq").unwrap_err();
        assert_eq!(err, "is not valid hex: non-hex character at position 2");
        assert_eq!(
            decode_hex("abc").unwrap_err(),
            "is not valid hex: odd number of digits (3)"
        );
    }
}
