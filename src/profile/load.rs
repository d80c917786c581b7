//! Reading profiles: embedded or from files, following `extends`, merging key by key, and
//! turning every error into `file:line:col` with a fix.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::{DEFAULT_PROFILE, Profile, validate};
use crate::errors::{Error, Result};

const EMBEDDED: &[(&str, &str)] = &[
    ("kailash", include_str!("../../profiles/kailash.toml")),
    ("minimal", include_str!("../../profiles/minimal.toml")),
    ("external", include_str!("../../profiles/external.toml")),
];

/// How deep `extends` may chain before it is taken for a cycle.
const MAX_EXTENDS: usize = 8;

/// Where the profile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `--profile` or `ONRAMP_PROFILE`: an embedded name or a path.
    Named(String),
    /// The project's own `onramp.toml`.
    ProjectFile(PathBuf),
    /// Nothing chosen: the embedded default.
    Default,
}

/// One TOML document that contributed to the profile.
#[derive(Debug, Clone)]
pub struct Source {
    /// What error messages call it: a path, or `kailash (embedded)`.
    pub label: String,
    pub text: String,
    /// Where relative `extends` paths are resolved.
    pub base_dir: Option<PathBuf>,
}

/// A resolved profile with the documents it came from, base first.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub profile: Profile,
    pub sources: Vec<Source>,
}

pub fn embedded_names() -> Vec<String> {
    EMBEDDED.iter().map(|(n, _)| n.to_string()).collect()
}

/// The text of an embedded profile.
pub fn embedded(name: &str) -> Option<&'static str> {
    EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Load, merge and validate the chosen profile.
pub fn load(choice: &Choice) -> Result<Loaded> {
    let first = match choice {
        Choice::Named(r) => read_reference(r, None)?,
        Choice::ProjectFile(p) => read_file(p)?,
        Choice::Default => read_reference(DEFAULT_PROFILE, None)?,
    };
    let sources = follow_extends(first)?;
    let mut merged = toml::Table::new();
    for (i, src) in sources.iter().enumerate() {
        let mut table: toml::Table = parse_typed(src, i > 0).map(|(_, t)| t)?;
        table.remove("extends");
        merge(&mut merged, table);
    }
    drop_disabled(&mut merged);
    let last = sources.last().map(|s| s.label.clone()).unwrap_or_default();
    let profile = Profile::deserialize(toml::Value::Table(merged)).map_err(|e| Error::Profile {
        file: last,
        line: 1,
        col: 1,
        message: crate::secrets::strip_error_value(e.message()),
        help: "the merged profile is inconsistent; check the keys the overlay overrides".into(),
    })?;
    profile.register_secrets();
    if let Some(problem) = validate::check(&profile).into_iter().next() {
        return Err(problem_error(&sources, problem));
    }
    Ok(Loaded { profile, sources })
}

/// A name is an embedded profile unless it looks like a path.
fn is_path(reference: &str) -> bool {
    reference.contains('/') || reference.contains('\\') || reference.ends_with(".toml")
}

fn read_reference(reference: &str, relative_to: Option<&Path>) -> Result<Source> {
    if !is_path(reference) {
        return embedded(reference)
            .map(|text| Source {
                label: format!("{reference} (embedded)"),
                text: text.to_string(),
                base_dir: None,
            })
            .ok_or_else(|| Error::UnknownProfile {
                name: reference.to_string(),
                available: embedded_names(),
            });
    }
    if reference.contains('\0') {
        return Err(Error::Usage(
            "a profile path may not contain a NUL byte".into(),
        ));
    }
    let path = match relative_to {
        Some(dir) => dir.join(reference),
        None => PathBuf::from(reference),
    };
    read_file(&path)
}

/// A profile file: a regular file of at most 1 MiB, UTF-8, not empty.
fn read_file(path: &Path) -> Result<Source> {
    let bytes = crate::fsx::read_regular(path, crate::fsx::FILE_CAP)?;
    let label = path.display().to_string();
    let located = |offset: usize, message: String, help: &str| {
        let (line, col) = locate_line_col(&String::from_utf8_lossy(&bytes), offset);
        Error::Profile {
            file: label.clone(),
            line,
            col,
            message,
            help: help.into(),
        }
    };
    let text = String::from_utf8(bytes.clone()).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&bytes[..at]).into_owned();
        let (line, col) = locate_line_col(&prefix, prefix.len());
        Error::Profile {
            file: label.clone(),
            line,
            col,
            message: "the profile is not UTF-8 text (TOML files must be UTF-8)".into(),
            help: "save the file as UTF-8".into(),
        }
    })?;
    let meaningful = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    if !meaningful {
        return Err(located(
            0,
            "the profile is empty".into(),
            "write `extends = \"kailash\"` (or another embedded profile) and the keys to change, or delete the file",
        ));
    }
    Ok(Source {
        label,
        text,
        base_dir: path.parent().map(Path::to_path_buf),
    })
}

/// The chain of documents, base first.
fn follow_extends(first: Source) -> Result<Vec<Source>> {
    let mut chain = vec![first];
    loop {
        let current = chain.last().expect("chain starts non-empty");
        let (profile, _) = parse_typed(current, false)?;
        let Some(base) = profile.extends else { break };
        if chain.len() > MAX_EXTENDS {
            return Err(at_key(
                current,
                &["extends"],
                format!("`extends` chains more than {MAX_EXTENDS} profiles deep (a cycle?)"),
                "make the chain end at an embedded profile such as `kailash`".into(),
            ));
        }
        let next = match read_reference(&base, current.base_dir.as_deref()) {
            Err(Error::UnknownProfile { name, available }) => {
                return Err(at_key(
                    current,
                    &["extends"],
                    format!("`extends = \"{name}\"`: no embedded profile has that name"),
                    format!(
                        "known profiles: {}; or give a path such as \"./base.toml\"",
                        available.join(", ")
                    ),
                ));
            }
            Err(Error::Read { path, source }) => {
                return Err(at_key(
                    current,
                    &["extends"],
                    format!("`extends`: cannot read {}: {source}", path.display()),
                    format!(
                        "known profiles: {}; or give the path of an existing file",
                        embedded_names().join(", ")
                    ),
                ));
            }
            other => other?,
        };
        if chain.iter().any(|s| s.label == next.label) {
            return Err(at_key(
                current,
                &["extends"],
                format!("`extends = \"{base}\"` makes a cycle"),
                "point `extends` at a profile that does not extend this one".into(),
            ));
        }
        chain.push(next);
    }
    chain.reverse();
    Ok(chain)
}

/// Parse one document on its own: syntax, unknown keys and types are reported here, in the
/// document that has them. An overlay may leave out required keys (`probe = { port = 7474 }`
/// merges into the base's probe), so a missing field is only an error in the merged profile.
fn parse_typed(src: &Source, partial: bool) -> Result<(Profile, toml::Table)> {
    let table: toml::Table = toml::from_str(&src.text).map_err(|e| toml_error(src, &e))?;
    let profile: Profile = match toml::from_str(&src.text) {
        Ok(p) => p,
        Err(e)
            if (partial || table.contains_key("extends"))
                && e.message().starts_with("missing field") =>
        {
            Profile {
                extends: table
                    .get("extends")
                    .and_then(toml::Value::as_str)
                    .map(str::to_string),
                ..Profile::default()
            }
        }
        Err(e) => return Err(toml_error(src, &e)),
    };
    Ok((profile, table))
}

fn toml_error(src: &Source, e: &toml::de::Error) -> Error {
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

/// Merge `over` into `base`: tables merge key by key, every other value replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

/// `[services.X] enabled = false` in an overlay drops the service.
fn drop_disabled(merged: &mut toml::Table) {
    if let Some(toml::Value::Table(services)) = merged.get_mut("services") {
        services.retain(|_, s| s.get("enabled").and_then(toml::Value::as_bool) != Some(false));
    }
}

/// A semantic problem, located in the last document that sets its key.
fn problem_error(sources: &[Source], problem: validate::Problem) -> Error {
    let path: Vec<&str> = problem.path.iter().map(String::as_str).collect();
    let src = sources
        .iter()
        .rev()
        .find(|s| locate(&s.text, &path).is_some())
        .or(sources.last());
    match src {
        Some(src) => at_key(src, &path, problem.message, problem.help),
        None => Error::Internal(problem.message),
    }
}

fn at_key(src: &Source, path: &[&str], message: String, help: String) -> Error {
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
fn locate(text: &str, path: &[&str]) -> Option<Range<usize>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source {
            label: "onramp.toml".into(),
            text: text.into(),
            base_dir: None,
        }
    }

    #[test]
    fn embedded_profiles_load_and_validate() {
        for name in embedded_names() {
            let loaded = load(&Choice::Named(name.clone())).unwrap();
            assert_eq!(loaded.profile.name.as_deref(), Some(name.as_str()));
            assert!(loaded.profile.services().count() >= 2);
        }
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(locate_line_col("ab\ncd", 0), (1, 1));
        assert_eq!(locate_line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn locate_finds_nested_values_and_array_items() {
        let text = "[services.redis]\nports = [\"1:1\", \"2:x\"]\n";
        let r = locate(text, &["services", "redis", "ports", "1"]).unwrap();
        assert_eq!(&text[r], "\"2:x\"");
        assert!(locate(text, &["services", "pg"]).is_none());
    }

    #[test]
    fn tables_merge_and_values_replace() {
        let mut base: toml::Table = toml::from_str("[a]\nx = 1\ny = [1, 2]\n[b]\nz = 1").unwrap();
        let over: toml::Table = toml::from_str("[a]\ny = [3]\nw = 2").unwrap();
        merge(&mut base, over);
        let expected: toml::Table =
            toml::from_str("[a]\nx = 1\ny = [3]\nw = 2\n[b]\nz = 1").unwrap();
        assert_eq!(base, expected);
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let err = parse_typed(&src("name = \"x\"\n[services.redis\n"), false).unwrap_err();
        let Error::Profile { line, file, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((file.as_str(), line), ("onramp.toml", 2));
    }

    #[test]
    fn unknown_keys_are_named_with_their_position() {
        let err = parse_typed(
            &src("name = \"x\"\n\n[services.redis]\nimgae = \"r\"\n"),
            false,
        )
        .unwrap_err();
        let Error::Profile {
            line, col, message, ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!((line, col), (4, 1));
        assert!(message.contains("unknown field `imgae`"), "{message}");
    }
}
