//! `.env` and `env_file` files read as Compose reads them (compose-go's `dotenv`): `export`,
//! `KEY=value` and `KEY: value`, a bare `KEY` taken from the environment, comments, single
//! quotes literal, double quotes with escapes and several lines, and `${VAR}` interpolation of
//! unquoted and double-quoted values from the lines above, then the environment. The values
//! reach the container and the config hash, so they must be Compose's to the byte.

use std::collections::BTreeMap;

use super::interpolate::{Unset, interpolate};

/// A line Compose would refuse: its number (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    pub line: usize,
    pub message: String,
}

fn bad<T>(line: usize, message: String) -> Result<T, Bad> {
    Err(Bad { line, message })
}

/// The variables of an env file, in the order Compose would apply them (a later line wins).
/// `lookup` gives the project's variables (the environment, then the project's `.env`).
pub fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, Bad> {
    crate::secrets::register_from_text(text);
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut line = 1;
    let mut rest = text;
    while let Some(start) = statement_start(rest, &mut line) {
        let (key, after, inherited) = key_name(start, &mut line)?;
        if key.contains(' ') {
            return bad(line, "a key cannot contain a space".into());
        }
        if inherited {
            if let Some(v) = lookup(&key) {
                out.insert(key, v);
            }
            rest = after;
            continue;
        }
        let (value, left) = value(after, &out, lookup, &mut line)?;
        if crate::secrets::is_secret_key(&key) {
            crate::secrets::register(&value);
        }
        out.insert(key, value);
        rest = left;
    }
    Ok(out)
}

/// The text from the next statement on, past blank space and comment lines.
fn statement_start<'t>(mut src: &'t str, line: &mut usize) -> Option<&'t str> {
    loop {
        let pos = src.find(|c: char| {
            if c == '\n' {
                *line += 1;
            }
            !c.is_whitespace()
        })?;
        src = &src[pos..];
        if !src.starts_with('#') {
            return Some(src);
        }
        src = &src[src.find('\n')?..];
    }
}

/// Spaces within a line (not line breaks), as the dotenv parser counts them.
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

/// The key, the text after its `=`/`:` (or line break), and whether it is a bare `KEY`.
fn key_name<'t>(src: &'t str, line: &mut usize) -> Result<(String, &'t str, bool), Bad> {
    let src = match src.strip_prefix("export") {
        Some(r) if r.starts_with(char::is_whitespace) => r.trim_start_matches(is_space),
        _ => src,
    };
    let mut end = None;
    for (i, c) in src.char_indices() {
        match c {
            c if is_space(c) => {}
            '=' | ':' | '\n' => {
                end = Some((i, c == '\n'));
                break;
            }
            '_' | '.' | '-' | '[' | ']' => {}
            c if c.is_alphanumeric() => {}
            c => {
                let first = src.lines().next().unwrap_or_default();
                return bad(
                    *line,
                    format!("unexpected character {c:?} in variable name {first:?}"),
                );
            }
        }
    }
    // Compose reads a last line without `=` and without a line break as a variable with an
    // empty name; the engine cannot take that, so it is an error here.
    let Some((i, inherited)) = end else {
        return bad(
            *line,
            format!(
                "`{}` has neither `=` nor a line break after it (end the file with a line break, or give it a value after `=`)",
                src.trim_end()
            ),
        );
    };
    let key = src[..i].trim_end().to_string();
    if inherited && !key.contains(' ') {
        *line += 1;
    }
    let after = src.get(i + 1..).unwrap_or_default();
    Ok((key, after.trim_start_matches(is_space), inherited))
}

/// The value at the start of `src` and the text after it.
fn value<'t>(
    src: &'t str,
    vars: &BTreeMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
    line: &mut usize,
) -> Result<(String, &'t str), Bad> {
    let quote = match src.chars().next() {
        Some(q @ ('"' | '\'')) => q,
        _ => {
            let (value, rest) = src.split_once('\n').unwrap_or((src, ""));
            *line += 1;
            let value = value.split(" #").next().unwrap_or_default().trim_end();
            return Ok((expand(value, vars, lookup, *line)?, rest));
        }
    };
    let mut chars = String::new();
    let mut escaped = false;
    for (i, c) in src.char_indices().skip(1) {
        if c == '\n' {
            *line += 1;
        }
        if c != quote {
            if !escaped && c == '\\' {
                escaped = true;
                continue;
            }
            if escaped {
                escaped = false;
                chars.push('\\');
            }
            chars.push(c);
            continue;
        }
        if escaped {
            escaped = false;
            chars.push(c);
            continue;
        }
        let value = if quote == '"' {
            expand(&unescape(&chars), vars, lookup, *line)?
        } else {
            chars
        };
        return Ok((value, &src[i + 1..]));
    }
    let first = src.lines().next().unwrap_or_default();
    bad(*line, format!("unterminated quoted value {first}"))
}

/// `${VAR}` in a value: the lines above first, then the project's variables; unset is empty.
fn expand(
    value: &str,
    vars: &BTreeMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
    line: usize,
) -> Result<String, Bad> {
    let get = |k: &str| vars.get(k).cloned().or_else(|| lookup(k));
    interpolate(value, &get, &mut Unset::new()).map_err(|message| Bad { line, message })
}

/// The escapes of a double-quoted value: `\a \b \f \n \r \t \v \" \\`, `\0NNN` (octal), and
/// `\$` kept as a literal `$` (written `$$` for the interpolation that follows).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(c) = after.chars().next() else {
            out.push('\\');
            rest = after;
            break;
        };
        let simple = match c {
            'a' => Some("\u{7}"),
            'b' => Some("\u{8}"),
            'f' => Some("\u{c}"),
            'n' => Some("\n"),
            'r' => Some("\r"),
            't' => Some("\t"),
            'v' => Some("\u{b}"),
            '"' => Some("\""),
            '\\' => Some("\\"),
            '$' => Some("$$"),
            _ => None,
        };
        if let Some(r) = simple {
            out.push_str(r);
            rest = &after[1..];
        } else if c == '0' {
            let digits: String = after[1..]
                .chars()
                .take(3)
                .take_while(char::is_ascii_digit)
                .collect();
            match u8::from_str_radix(&digits, 8)
                .ok()
                .filter(|_| digits.len() == 3)
            {
                Some(b) => out.push(char::from(b)),
                None => {
                    out.push_str("\\0");
                    out.push_str(&digits);
                }
            }
            rest = &after[1 + digits.len()..];
        } else {
            out.push('\\');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> BTreeMap<String, String> {
        let lookup = |k: &str| match k {
            "HOME" => Some("/home/dev".to_string()),
            "FROM_ENV" => Some("outside".to_string()),
            _ => None,
        };
        parse(text, &lookup).unwrap()
    }

    #[test]
    fn lines_quotes_and_comments_as_compose_reads_them() {
        let e = env(
            "# c\nA=1\nexport B=\"two words\"\nC='x#y'\nD=v # note\nE=a#b\n\n  F :  yaml style\nG=\n",
        );
        assert_eq!(e["A"], "1");
        assert_eq!(e["B"], "two words");
        assert_eq!(e["C"], "x#y");
        assert_eq!(e["D"], "v");
        assert_eq!(e["E"], "a#b");
        assert_eq!(e["F"], "yaml style");
        assert_eq!(e["G"], "");
    }

    #[test]
    fn values_are_interpolated_from_the_lines_above_then_the_environment() {
        let e = env(
            "A=1\nB=${A}x\nC=\"$HOME/${A}\"\nD='${A}'\nE=${NOPE:-dflt}\nF=$$A\nG=\"\\$A\"\nH=${NOPE}\n",
        );
        assert_eq!(e["B"], "1x");
        assert_eq!(e["C"], "/home/dev/1");
        assert_eq!(e["D"], "${A}", "single quotes are literal");
        assert_eq!(e["E"], "dflt");
        assert_eq!(e["F"], "$A");
        assert_eq!(e["G"], "$A");
        assert_eq!(e["H"], "");
    }

    #[test]
    fn bare_keys_come_from_the_environment_or_not_at_all() {
        let e = env("FROM_ENV\nMISSING\n");
        assert_eq!(e.get("FROM_ENV").map(String::as_str), Some("outside"));
        assert!(!e.contains_key("MISSING"));
        let err = parse("A=1\nLAST", &|_: &str| None).unwrap_err();
        assert!(err.line == 2 && err.message.contains("`LAST`"), "{err:?}");
    }

    #[test]
    fn double_quotes_take_escapes_and_several_lines() {
        let e = env("A=\"l1\\nl2\\t\\\"q\\\" \\\\ \\0101\\x\"\nB=\"multi\nline\"\nC='it\\'s'\n");
        assert_eq!(e["A"], "l1\nl2\t\"q\" \\ A\\x");
        assert_eq!(e["B"], "multi\nline");
        assert_eq!(e["C"], "it's");
    }

    #[test]
    fn malformed_lines_are_errors_with_their_line() {
        let lookup = |_: &str| None;
        let err = parse("A=1\nB C=2\n", &lookup).unwrap_err();
        assert!(err.line == 2 && err.message.contains("space"), "{err:?}");
        let err = parse("A=1\nB\"=2\n", &lookup).unwrap_err();
        assert!(err.message.contains("unexpected character"), "{err:?}");
        let err = parse("A=\"open\n", &lookup).unwrap_err();
        assert!(err.message.contains("unterminated"), "{err:?}");
    }
}
