//! Keys read from where the config says: a file (`key_file`), an
//! environment variable (`key_env`), or, for tests and generated configs
//! only, inline (`key_hex`). Shared by `[session]` and `[tickets]`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::secret::{decode_hex, deserialize_hex, serialize_hex};

/// The three ways to give a key, as written in a section that holds
/// nothing else (`[tickets]`); `[session]` has them beside its own fields.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyFields {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_some_hex",
        serialize_with = "serialize_some_hex"
    )]
    pub key_hex: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
}

/// `serde(deserialize_with)` for an optional inline hex key.
pub(crate) fn deserialize_some_hex<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<u8>>, D::Error> {
    deserialize_hex(d).map(Some)
}

/// `serde(serialize_with)` for an optional inline hex key.
pub(crate) fn serialize_some_hex<S: serde::Serializer>(
    key: &Option<Vec<u8>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    serialize_hex(key.as_deref().unwrap_or_default(), s)
}

/// Where a key was read from, named in the errors about it and written
/// back (instead of the key) when a config is serialised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KeySource {
    /// Written in the file as `key_hex`: for tests and generated configs;
    /// the shipped configs never do it.
    #[default]
    Inline,
    /// `key_file`: a file holding the key in hex (what `ingressoja pki init`
    /// writes).
    File(PathBuf),
    /// `key_env`: an environment variable holding the key in hex.
    Env(String),
}

impl KeySource {
    /// The config field the key of `section` came from (`session.key_file`).
    pub fn field(&self, section: &str) -> String {
        let key = match self {
            KeySource::Inline => "key_hex",
            KeySource::File(_) => "key_file",
            KeySource::Env(_) => "key_env",
        };
        format!("{section}.{key}")
    }
}

/// The key given by exactly one of the three fields, read and decoded;
/// `made_as` names the file `ingressoja pki init` writes for it.
pub(crate) fn resolve_key(
    key_hex: Option<Vec<u8>>,
    key_file: Option<PathBuf>,
    key_env: Option<String>,
    made_as: &str,
) -> Result<(Vec<u8>, KeySource), String> {
    match (key_hex, key_file, key_env) {
        (Some(key), None, None) => Ok((key, KeySource::Inline)),
        (None, Some(path), None) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("key_file {}: cannot read it: {e}", path.display()))?;
            let key = decode_hex(text.trim())
                .map_err(|why| format!("key_file {}: the key {why}", path.display()))?;
            Ok((key, KeySource::File(path)))
        }
        (None, None, Some(var)) => {
            let text = std::env::var(&var)
                .map_err(|e| format!("key_env {var}: cannot read the environment variable: {e}"))?;
            let key =
                decode_hex(text.trim()).map_err(|why| format!("key_env {var}: the key {why}"))?;
            Ok((key, KeySource::Env(var)))
        }
        (None, None, None) => Err(format!(
            "no key: give key_file (a file holding the key in hex; `ingressoja pki init` \
             writes one as {made_as}) or key_env (an environment variable holding it)"
        )),
        _ => Err("give only one of key_hex, key_file and key_env".into()),
    }
}

/// The three fields that say where `key` came from (the key itself only
/// when it was inline).
pub(crate) fn key_fields(
    key: Vec<u8>,
    source: KeySource,
) -> (Option<Vec<u8>>, Option<PathBuf>, Option<String>) {
    match source {
        KeySource::Inline => (Some(key), None, None),
        KeySource::File(path) => (None, Some(path), None),
        KeySource::Env(var) => (None, None, Some(var)),
    }
}
