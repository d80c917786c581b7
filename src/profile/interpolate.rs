//! Compose's `${VAR}` interpolation, bounded: nesting deeper than [`MAX_NESTING`] is an error,
//! the work stays linear in the length of the value, and errors say where in the value the
//! problem is without repeating the value (it may be a password). Values of variables whose
//! names say they are secret are registered for masking as they are read.

use std::collections::BTreeSet;

/// How deep `${A:-${B:-...}}` may nest (Compose files use two or three levels).
pub const MAX_NESTING: usize = 16;

/// The names of variables that were not set (and became empty strings), sorted.
pub type Unset = BTreeSet<String>;

/// Variable lookup: environment first, then the `.env` file.
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Compose interpolation of one string: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`.
/// Unset variables without a default become empty and are named in `unset`.
pub fn interpolate(s: &str, vars: Vars<'_>, unset: &mut Unset) -> Result<String, String> {
    let whole = Whole(s);
    expand(&whole, s, 0, vars, unset, 0)
}

/// The whole value, for error positions (counted in characters only when there is an error,
/// so that the work stays linear).
struct Whole<'s>(&'s str);

impl Whole<'_> {
    /// The 1-based character position of a byte offset.
    fn at(&self, byte: usize) -> usize {
        self.0.get(..byte).map_or(0, |p| p.chars().count()) + 1
    }
}

/// `s` starts at byte `base` of the whole value.
fn expand(
    whole: &Whole<'_>,
    s: &str,
    base: usize,
    vars: Vars<'_>,
    unset: &mut Unset,
    depth: usize,
) -> Result<String, String> {
    if depth > MAX_NESTING {
        return Err(format!(
            "`${{...}}` nests deeper than {MAX_NESTING} levels (at character {})",
            whole.at(base)
        ));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let here = base + (s.len() - rest.len()) + i;
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body).ok_or_else(|| {
                format!("`${{` at character {} has no closing `}}`", whole.at(here))
            })?;
            out.push_str(&substitute(
                whole,
                &body[..end],
                here + 2,
                vars,
                unset,
                depth,
            )?);
            rest = &body[end + 1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 || after.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!(
                    "`$` at character {} is not followed by a variable name; write `$$` for a literal `$`",
                    whole.at(here)
                ));
            }
            out.push_str(&lookup(&after[..len], vars, unset));
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The byte index of the `}` closing a `${`, skipping nested braces.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// A variable's value; one with a secret's name is registered for masking.
fn value_of(name: &str, vars: Vars<'_>) -> Option<String> {
    let v = vars(name)?;
    if crate::secrets::is_secret_key(name) {
        crate::secrets::register(&v);
    }
    Some(v)
}

fn lookup(name: &str, vars: Vars<'_>, unset: &mut Unset) -> String {
    value_of(name, vars).unwrap_or_else(|| {
        if !unset.contains(name) {
            unset.insert(name.to_string());
        }
        String::new()
    })
}

fn substitute(
    whole: &Whole<'_>,
    expr: &str,
    offset: usize,
    vars: Vars<'_>,
    unset: &mut Unset,
    depth: usize,
) -> Result<String, String> {
    let len = expr
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expr.len());
    let (name, op) = expr.split_at(len);
    if name.is_empty() {
        return Err(format!(
            "`${{` at character {} names no variable",
            whole.at(offset - 2)
        ));
    }
    let value = value_of(name, vars);
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let op_at = offset + name.len();
    let mut arg = |n: usize| expand(whole, &op[n..], op_at + n, vars, unset, depth + 1);
    match op {
        "" => Ok(lookup(name, vars, unset)),
        _ if op.starts_with(":-") => Ok(if set_nonempty {
            value.unwrap_or_default()
        } else {
            arg(2)?
        }),
        _ if op.starts_with('-') => Ok(match value {
            Some(v) => v,
            None => arg(1)?,
        }),
        _ if op.starts_with(":?") || op.starts_with('?') => {
            let strict = op.starts_with(":?");
            let ok = if strict {
                set_nonempty
            } else {
                value.is_some()
            };
            if ok {
                Ok(value.unwrap_or_default())
            } else {
                let msg = arg(if strict { 2 } else { 1 })?;
                Err(format!(
                    "required variable {name} is missing a value: {msg}"
                ))
            }
        }
        _ if op.starts_with(":+") => Ok(if set_nonempty { arg(2)? } else { String::new() }),
        _ if op.starts_with('+') => Ok(if value.is_some() {
            arg(1)?
        } else {
            String::new()
        }),
        _ => Err(format!(
            "`${{{name}...}}` at character {} is not a substitution Compose knows (`:-`, `-`, `:?`, `?`, `:+`, `+`)",
            whole.at(offset - 2)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("15432".into()),
            "DB_PASSWORD" => Some("from-dotenv-s3cret".into()),
            _ => None,
        }
    }

    fn interp(s: &str) -> Result<String, String> {
        interpolate(s, &vars, &mut Unset::new())
    }

    #[test]
    fn interpolation_follows_compose() {
        assert_eq!(interp("a ${SET} $SET b").unwrap(), "a value value b");
        assert_eq!(interp("${EMPTY:-d}|${EMPTY-d}|${UNSET-d}").unwrap(), "d||d");
        assert_eq!(interp("${UNSET:-${PORT}}").unwrap(), "15432");
        assert_eq!(interp("$$HOME and $${SET}").unwrap(), "$HOME and ${SET}");
        assert_eq!(interp("${SET:+alt}${UNSET:+alt}").unwrap(), "alt");
        let err = interp("${UNSET:?set UNSET first}").unwrap_err();
        assert!(
            err.contains("UNSET") && err.contains("set UNSET first"),
            "{err}"
        );
        assert!(interp("${EMPTY?x}").is_ok());
        assert!(interp("${EMPTY:?x}").is_err());
        assert!(interp("${SET").is_err());
        let mut unset = Unset::new();
        assert_eq!(
            interpolate("x${NOPE}y$NOPE", &vars, &mut unset).unwrap(),
            "xy"
        );
        assert_eq!(unset.into_iter().collect::<Vec<_>>(), ["NOPE"]);
    }

    #[test]
    fn errors_say_where_and_never_repeat_the_value() {
        let err = interp("Tr0ub4dor$1x").unwrap_err();
        assert!(!err.contains("Tr0ub4dor"), "{err}");
        assert!(err.contains("character 10"), "{err}");
        let err = interp("pre${SET").unwrap_err();
        assert!(err.contains("character 4") && !err.contains("pre"), "{err}");
        let err = interp("ab${}").unwrap_err();
        assert!(err.contains("character 3"), "{err}");
    }

    #[test]
    fn secret_variables_are_registered_when_read() {
        let out = interp("label-${DB_PASSWORD}").unwrap();
        assert_eq!(
            crate::secrets::mask_text(&out),
            "label-***",
            "a .env secret used in a label is masked wherever it is printed"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}x{}", "${A:-".repeat(20_000), "}".repeat(20_000));
        let err = interp(&deep).unwrap_err();
        assert!(err.contains("nests deeper"), "{err}");
        let ok = format!(
            "{}x{}",
            "${A:-".repeat(MAX_NESTING),
            "}".repeat(MAX_NESTING)
        );
        assert_eq!(interp(&ok).unwrap(), "x");
    }

    #[test]
    fn many_distinct_variables_are_each_named_once() {
        let text: String = (0..50_000).map(|i| format!("${{V{i}}}$V{i}")).collect();
        let mut unset = Unset::new();
        assert_eq!(interpolate(&text, &vars, &mut unset).unwrap(), "");
        assert_eq!(unset.len(), 50_000);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Random nesting of substitutions never panics, and any error is a located one.
        #[test]
        fn random_nesting_is_bounded(
            parts in proptest::collection::vec(prop_oneof!["\\$\\{", "\\}", ":-", ":\\?", "\\+", "SET", "A", "\\$", "\\$\\$", "x", "\\{"], 0..300),
            depth in 0usize..5000,
        ) {
            let mut s: String = "${A:-".repeat(depth);
            s.push_str(&parts.concat());
            s.push_str(&"}".repeat(depth));
            if let Err(e) = interpolate(&s, &vars, &mut Unset::new()) {
                prop_assert!(e.contains("character") || e.contains("required variable"), "{}", e);
            }
        }
    }
}
