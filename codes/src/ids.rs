//! The rules for ids that people choose (customers, events, categories) and
//! for idempotency client ids, in one place.
//!
//! The gateway, the client library and the node used to each carry their own
//! limits, and they disagreed: a 61–64-byte customer id passed the gateway,
//! registered, and then every write failed because the gateway's client id
//! `web:<id>` was over the node's 64-byte client-id limit. Now the client-id
//! limit is derived from the id limit plus a bounded [`ClientIdScope`], so a
//! valid id always makes a valid client id.

use core::fmt;

/// Longest accepted id chosen by a person, in bytes (ids are ASCII, so also
/// in characters).
pub const MAX_ID_LEN: usize = 64;

/// Longest [`ClientIdScope`] name, in bytes.
pub const MAX_CLIENT_ID_SCOPE_LEN: usize = 15;

/// Longest idempotency client id the node accepts, in bytes: room for a
/// scope, its `:` and a full-length id.
pub const MAX_CLIENT_ID_LEN: usize = MAX_CLIENT_ID_SCOPE_LEN + 1 + MAX_ID_LEN;

/// Why an id or client id is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    /// Empty.
    Empty,
    /// Over the limit: `len` bytes where at most `max` are allowed.
    TooLong {
        /// The length found, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },
    /// A character outside `[A-Za-z0-9._@+-]`.
    NotAllowed(char),
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Empty => f.write_str("must not be empty"),
            IdError::TooLong { len, max } => write!(f, "longer than {max} bytes ({len} bytes)"),
            IdError::NotAllowed(c) => write!(
                f,
                "character {c:?} not allowed (use letters, digits and . _ @ + -)"
            ),
        }
    }
}

impl std::error::Error for IdError {}

/// Checks an id chosen by a person: 1..=[`MAX_ID_LEN`] of `[A-Za-z0-9._@+-]`.
///
/// Every id that enters the log is then printable, bounded, safe as a storage
/// key or in a URL, and short enough to be scoped into a client id.
pub fn validate_id(value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty);
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '-')))
    {
        return Err(IdError::NotAllowed(c));
    }
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            len: value.len(),
            max: MAX_ID_LEN,
        });
    }
    Ok(())
}

/// Checks the `client_id` half of an idempotency key: 1..=[`MAX_CLIENT_ID_LEN`] bytes.
pub fn validate_client_id(value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty);
    }
    if value.len() > MAX_CLIENT_ID_LEN {
        return Err(IdError::TooLong {
            len: value.len(),
            max: MAX_CLIENT_ID_LEN,
        });
    }
    Ok(())
}

/// A front end's prefix for the client ids it uses on a person's behalf
/// (the gateway's `web:<customer id>`), bounded so that any valid id fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIdScope(&'static str);

impl ClientIdScope {
    /// A scope named `name`; meant for a `const`, so a bad name fails the build.
    ///
    /// # Panics
    ///
    /// When `name` is empty or longer than [`MAX_CLIENT_ID_SCOPE_LEN`] bytes
    /// (at compile time when used in a `const`).
    pub const fn new(name: &'static str) -> ClientIdScope {
        assert!(
            !name.is_empty() && name.len() <= MAX_CLIENT_ID_SCOPE_LEN,
            "a client id scope has 1 to MAX_CLIENT_ID_SCOPE_LEN bytes"
        );
        ClientIdScope(name)
    }

    /// The client id `<scope>:<id>`; within [`MAX_CLIENT_ID_LEN`] whenever
    /// `id` passes [`validate_id`].
    pub fn client_id(self, id: &str) -> String {
        format!("{}:{id}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: ClientIdScope = ClientIdScope::new("web");

    #[test]
    fn ids_at_the_edges() {
        assert_eq!(validate_id("rock-2026"), Ok(()));
        assert_eq!(validate_id(""), Err(IdError::Empty));
        assert_eq!(validate_id(&"a".repeat(MAX_ID_LEN)), Ok(()));
        assert_eq!(
            validate_id(&"a".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong { len: 65, max: 64 })
        );
        assert_eq!(
            validate_id("a b").unwrap_err().to_string(),
            "character ' ' not allowed (use letters, digits and . _ @ + -)"
        );
    }

    #[test]
    fn non_ascii_ids_are_refused_by_character_not_by_length() {
        // 32 characters, 64 bytes: refused for the character, whatever the count.
        let accented = "ç".repeat(32);
        assert_eq!(accented.len(), 64);
        assert_eq!(validate_id(&accented), Err(IdError::NotAllowed('ç')));
        assert_eq!(validate_id("joão"), Err(IdError::NotAllowed('ã')));
        assert_eq!(validate_id("ana🎸"), Err(IdError::NotAllowed('🎸')));
    }

    #[test]
    fn every_valid_id_makes_a_valid_scoped_client_id() {
        let longest = "z".repeat(MAX_ID_LEN);
        let client_id = WEB.client_id(&longest);
        assert_eq!(client_id.len(), "web:".len() + MAX_ID_LEN);
        assert_eq!(validate_client_id(&client_id), Ok(()));
        let widest = ClientIdScope::new("abcdefghijklmno").client_id(&longest);
        assert_eq!(widest.len(), MAX_CLIENT_ID_LEN);
        assert_eq!(validate_client_id(&widest), Ok(()));
    }

    #[test]
    fn client_ids_at_the_edges() {
        assert_eq!(validate_client_id(""), Err(IdError::Empty));
        assert_eq!(validate_client_id(&"c".repeat(MAX_CLIENT_ID_LEN)), Ok(()));
        assert_eq!(
            validate_client_id(&"c".repeat(MAX_CLIENT_ID_LEN + 1)),
            Err(IdError::TooLong { len: 81, max: 80 })
        );
        // A default client id is a UUID.
        assert_eq!(
            validate_client_id("0b5c2f7e-6d1a-4c3b-9e8f-1a2b3c4d5e6f"),
            Ok(())
        );
    }
}
