//! Where a key sits in a TOML document (byte range, line, column), and errors located there:
//! shared by the profile loader and the team's network file.

use std::ops::Range;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};

use crate::errors::Error;

/// One TOML document that contributed to the profile.
#[derive(Debug, Clone)]
pub struct Source {
    /// What error messages call it: a path, or `kailash (embedded)`.
    pub label: String,
    pub text: String,
    /// Where relative `extends` paths are resolved.
    pub base_dir: Option<PathBuf>,
}

/// A TOML error as `file:line:col` with the fix for its kind.
pub fn toml_error(src: &Source, e: &toml::de::Error) -> Error {
    let offset = e.span().map(|r| r.start).unwrap_or(0);
    let (line, col) = locate_line_col(&src.text, offset);
    let message = crate::secrets::strip_error_value(e.message().trim());
    Error::Profile {
        file: src.label.clone(),
        line,
        col,
        help: help_for(&message),
        message,
    }
}

fn help_for(message: &str) -> String {
    if message.contains("unknown field") {
        "remove or rename this key; `onramp profiles kailash` prints a complete profile".into()
    } else if message.contains("unknown variant") {
        "use one of the values listed above".into()
    } else if message.contains("invalid type") {
        "give this key a value of the type named above (strings are quoted)".into()
    } else if message.contains("duplicate key") {
        "each key may appear once per table; remove one of them".into()
    } else {
        "fix the TOML syntax at this position (https://toml.io)".into()
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn locate_line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// An error at the value of `path` in a document.
pub fn at_key(src: &Source, path: &[&str], message: String, help: String) -> Error {
    let offset = locate(&src.text, path).map(|r| r.start).unwrap_or(0);
    let (line, col) = locate_line_col(&src.text, offset);
    Error::Profile {
        file: src.label.clone(),
        line,
        col,
        message,
        help,
    }
}

/// The byte range of the value at `path` (keys, or array indexes as numbers) in a document.
pub fn locate(text: &str, path: &[&str]) -> Option<Range<usize>> {
    let root = DeTable::parse(text).ok()?;
    let mut value: Option<&toml::Spanned<DeValue>> = None;
    let mut table: Option<&DeTable> = Some(root.get_ref());
    let mut span = root.span();
    for seg in path {
        let next = match (table, value.map(|v| v.get_ref())) {
            (Some(t), _) => t
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == *seg)
                .map(|(_, v)| v)?,
            (None, Some(DeValue::Array(items))) => items.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
        span = next.span();
        value = Some(next);
        table = match next.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    Some(span)
}
