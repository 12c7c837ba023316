//! TOML text -> typed value, with errors that name the key at fault.
//!
//! `toml` reports *where* a problem is as a byte span but only names the
//! key path without list indices (`peers.id`). We therefore parse the text
//! into toml's spanned document tree first and, on failure, map the error
//! span back to the exact path (`peers[2].id`) by looking for the deepest
//! key or value covering it.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

use crate::ConfigError;

/// Field name used when an error cannot be tied to a key.
const WHOLE_FILE: &str = "<file>";

/// The text of the config file at `path`.
pub(crate) fn read(path: &std::path::Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses `text` as TOML and decodes it into `T`; syntax and type errors
/// become [`ConfigError::Parse`] naming the key at fault.
pub(crate) fn decode<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(err) => return Err(syntax_error(text, &err)),
    };
    let root_span = doc.span();
    let nodes = nodes_of(doc.get_ref());
    T::deserialize(toml::de::Deserializer::from(doc))
        .map_err(|err| decode_error(text, &nodes, &root_span, &err))
}

/// A TOML document that is not even well-formed (unclosed table, missing
/// value, duplicate key, ...). Located via the partial tree the parser
/// recovers, falling back to the key written on the same line.
fn syntax_error(text: &str, err: &toml::de::Error) -> ConfigError {
    let (partial, _) = DeTable::parse_recoverable(text);
    let nodes = nodes_of(partial.get_ref());
    // Container spans of a recovered tree are unreliable: use leaves only.
    let leaves: Vec<Node> = nodes
        .into_iter()
        .filter(|n| matches!(n.kind, Kind::Key | Kind::Value))
        .collect();
    let field = err
        .span()
        .and_then(|span| {
            deepest_covering(&leaves, &span).or_else(|| key_on_same_line(text, &leaves, &span))
        })
        .map(|path| render(&path))
        .unwrap_or_else(|| WHOLE_FILE.to_string());
    let reason = match err.span().and_then(|span| line_col(text, span.start)) {
        Some((line, col)) => format!("{} at line {line}, column {col}", err.message()),
        None => err.message().to_string(),
    };
    ConfigError::Parse { field, reason }
}

/// A well-formed document whose content does not fit the typed structs
/// (wrong type, unknown key, missing key, bad socket address, ...).
fn decode_error(
    text: &str,
    nodes: &[Node],
    root_span: &Range<usize>,
    err: &toml::de::Error,
) -> ConfigError {
    let message = err.message();
    let path = match (err.span(), missing_field_name(message)) {
        // The span covers the table that lacks the key.
        (Some(span), Some(name)) => {
            let mut path = if span.is_empty() || span == *root_span {
                Vec::new()
            } else {
                deepest_table_covering(nodes, &span).unwrap_or_default()
            };
            path.push(Seg::Key(name.to_string()));
            Some(path)
        }
        // Unknown keys are spanned on the key, other errors on the value.
        (Some(span), None) => deepest_covering(nodes, &span),
        (None, _) => None,
    };
    let field = match path {
        Some(path) if !path.is_empty() => render(&path),
        _ => keys_without_indices(err).unwrap_or_else(|| WHOLE_FILE.to_string()),
    };
    let reason = match err.span().and_then(|span| line_col(text, span.start)) {
        Some((line, col)) if field == WHOLE_FILE => {
            format!("{message} at line {line}, column {col}")
        }
        _ => message.to_string(),
    };
    ConfigError::Parse { field, reason }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Renders a path as `a.b[2].c`.
fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// What a spanned node of the document is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Key,
    Value,
    Table,
    Array,
}

/// A key or value of the document with its full path and byte span.
#[derive(Debug)]
struct Node {
    path: Vec<Seg>,
    span: Range<usize>,
    kind: Kind,
}

/// Flattens the spanned tree into every key and value it holds.
fn nodes_of(root: &DeTable<'_>) -> Vec<Node> {
    let mut out = Vec::new();
    collect_table(root, &mut Vec::new(), &mut out);
    out
}

fn collect_table(table: &DeTable<'_>, prefix: &mut Vec<Seg>, out: &mut Vec<Node>) {
    for (key, value) in table.iter() {
        prefix.push(Seg::Key(key.get_ref().to_string()));
        out.push(Node {
            path: prefix.clone(),
            span: key.span(),
            kind: Kind::Key,
        });
        collect_value(value, prefix, out);
        prefix.pop();
    }
}

fn collect_value(value: &toml::Spanned<DeValue<'_>>, prefix: &mut Vec<Seg>, out: &mut Vec<Node>) {
    let kind = match value.get_ref() {
        DeValue::Table(_) => Kind::Table,
        DeValue::Array(_) => Kind::Array,
        _ => Kind::Value,
    };
    out.push(Node {
        path: prefix.clone(),
        span: value.span(),
        kind,
    });
    match value.get_ref() {
        DeValue::Table(table) => collect_table(table, prefix, out),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                prefix.push(Seg::Index(i));
                collect_value(item, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The deepest (then tightest) node among `candidates`.
fn deepest<'a>(candidates: impl Iterator<Item = &'a Node>) -> Option<Vec<Seg>> {
    candidates
        .max_by(|a, b| {
            a.path
                .len()
                .cmp(&b.path.len())
                .then(b.span.len().cmp(&a.span.len()))
        })
        .map(|node| node.path.clone())
}

/// Path of the deepest key or value whose span covers `span`.
fn deepest_covering(nodes: &[Node], span: &Range<usize>) -> Option<Vec<Seg>> {
    deepest(nodes.iter().filter(|n| covers(&n.span, span)))
}

/// Path of the deepest table whose span covers `span`.
fn deepest_table_covering(nodes: &[Node], span: &Range<usize>) -> Option<Vec<Seg>> {
    deepest(
        nodes
            .iter()
            .filter(|n| n.kind == Kind::Table && covers(&n.span, span)),
    )
}

/// For syntax errors after a key (`id = ` with no value): the last key
/// written on the error's line before it.
fn key_on_same_line(text: &str, nodes: &[Node], span: &Range<usize>) -> Option<Vec<Seg>> {
    let (line, _) = line_col(text, span.start)?;
    nodes
        .iter()
        .filter(|n| n.kind == Kind::Key && n.span.start <= span.start)
        .filter(|n| line_col(text, n.span.start).map(|(l, _)| l) == Some(line))
        .max_by_key(|n| n.span.start)
        .map(|n| n.path.clone())
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> Option<(usize, usize)> {
    let before = text.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..)?.chars().count() + 1;
    Some((line, col))
}

/// `missing field `x`` -> `x`.
fn missing_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().filter(|name| !name.is_empty())
}

/// Last resort: the dotted key path toml tracked itself (no list indices).
/// It is only exposed through `Display` when no input is attached.
fn keys_without_indices(err: &toml::de::Error) -> Option<String> {
    let mut bare = err.clone();
    bare.set_input(None);
    let shown = bare.to_string();
    shown
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("in `")?.strip_suffix('`'))
        .filter(|keys| !keys.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::{line_col, render, Seg};
    use crate::test_support::{error_of, full_with, FULL, MINIMAL};

    #[test]
    fn renders_indices_after_keys() {
        let path = [
            Seg::Key("peers".into()),
            Seg::Index(2),
            Seg::Key("addr".into()),
        ];
        assert_eq!(render(&path), "peers[2].addr");
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("a\nçb", 4), Some((2, 2)));
        assert_eq!(line_col("a", 5), None);
    }

    #[test]
    fn unknown_top_level_key_is_named() {
        let err = error_of(&format!("colour = \"blue\"\n{MINIMAL}"));
        assert!(err.starts_with("colour: unknown field `colour`"), "{err}");
    }

    #[test]
    fn unknown_section_is_named() {
        let err = error_of(&format!("{MINIMAL}\n[metrics]\nport = 1\n"));
        assert!(err.starts_with("metrics: unknown field `metrics`"), "{err}");
    }

    #[test]
    fn unknown_key_in_section_is_named() {
        let err = error_of(&full_with("hold_ttl_secs = 300", "hold_ttl = 300"));
        assert_eq!(
            err,
            "sale.hold_ttl: unknown field `hold_ttl`, expected `hold_ttl_secs`"
        );
    }

    #[test]
    fn type_error_names_the_field() {
        let err = error_of(&full_with("hold_ttl_secs = 300", "hold_ttl_secs = \"5m\""));
        assert_eq!(
            err,
            r#"sale.hold_ttl_secs: invalid type: string "5m", expected u64"#
        );
        let err = error_of(&MINIMAL.replace("id = 1\ndata", "id = 1\nbootstrap = \"yes\"\ndata"));
        assert_eq!(
            err,
            r#"bootstrap: invalid type: string "yes", expected a boolean"#
        );
    }

    #[test]
    fn dotted_keys_are_located() {
        let text = MINIMAL.replace("[listen]\ngrpc = \"127.0.0.1:7101\"\n", "listen.grpc = 7\n");
        assert_eq!(
            error_of(&text),
            "listen.grpc: invalid type: integer `7`, expected socket address"
        );
    }

    #[test]
    fn missing_top_level_key_is_named() {
        let text = MINIMAL.replace("data_dir = \"/var/lib/ingressoja\"\n", "");
        assert_eq!(error_of(&text), "data_dir: missing field `data_dir`");
        let text = MINIMAL.replace("id = 1\ndata", "data");
        assert_eq!(error_of(&text), "id: missing field `id`");
    }

    #[test]
    fn missing_key_in_section_is_named() {
        let text = MINIMAL.replace(r#"grpc = "127.0.0.1:7101""#, r#"metrics = "127.0.0.1:9""#);
        assert_eq!(error_of(&text), "listen.grpc: missing field `grpc`");
    }

    #[test]
    fn missing_value_is_a_syntax_error_on_its_key() {
        let text = MINIMAL.replace("id = 1\ndata", "id = \ndata");
        let err = error_of(&text);
        assert!(err.starts_with("id: "), "{err}");
        assert!(err.ends_with("at line 2, column 6"), "{err}");
    }

    #[test]
    fn unlocatable_syntax_error_blames_the_file() {
        let err = error_of(&MINIMAL.replace("[listen]", "[listen"));
        assert!(err.starts_with("<file>: "), "{err}");
        assert!(err.contains("line 5"), "{err}");
    }

    #[test]
    fn empty_text_reports_missing_id() {
        assert_eq!(error_of(""), "id: missing field `id`");
    }

    #[test]
    fn missing_key_when_file_starts_with_a_table() {
        let text = "[listen]\ngrpc = \"127.0.0.1:1\"\n[[peers]]\nid = 1\naddr = \"a:1\"\n";
        assert_eq!(error_of(text), "id: missing field `id`");
    }

    #[test]
    fn section_of_the_wrong_type_is_named() {
        let text = MINIMAL.replace("[listen]", "sale = 3\n[listen]");
        assert_eq!(
            error_of(&text),
            "sale: invalid type: integer `3`, expected struct SaleConfig"
        );
    }

    #[test]
    fn no_prefix_of_a_valid_file_panics() {
        for (end, _) in FULL.char_indices() {
            let _ = crate::NodeConfig::from_toml_str(&FULL[..end]);
        }
        for (start, _) in FULL.char_indices() {
            let _ = crate::NodeConfig::from_toml_str(&FULL[start..]);
        }
    }
}
