//! One escaping function per output format (YAML, `.env`, POSIX shell) and the one name
//! validator: profile values reach generated files only through these.

/// A double-quoted YAML scalar, with `$` doubled so Compose does not interpolate it. JSON's
/// string syntax is YAML's, except that YAML also folds U+0085, U+2028 and U+2029 as line
/// breaks and refuses a BOM: those are escaped too.
pub fn yaml(value: &str) -> String {
    let json = serde_json::to_string(&value.replace('$', "$$")).unwrap_or_else(|_| "\"\"".into());
    json.chars()
        .map(|c| match c {
            '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => format!("\\u{:04x}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// A `.env` value read back literally by Compose, python-dotenv and dotenvy: bare when plain,
/// single-quoted when it has no `'` or `\` (python-dotenv and dotenvy decode `\'` there),
/// else double-quoted with `\` and `"` escaped when it has no `$` (interpolated in double
/// quotes). `None` when no form is literal for all of them: a `$` with a `'` or `\`.
pub fn dotenv(value: &str) -> Option<String> {
    if value.chars().any(char::is_control) {
        return None;
    }
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c));
    if plain {
        Some(value.to_string())
    } else if !value.contains(['\'', '\\']) {
        Some(format!("'{value}'"))
    } else if !value.contains('$') {
        Some(format!(
            "\"{}\"",
            value.replace('\\', "\\\\").replace('"', "\\\"")
        ))
    } else {
        None
    }
}

/// A word for a POSIX shell: bare when it has only safe characters, single-quoted otherwise.
pub fn shell(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c));
    if safe {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// A Python string literal.
pub fn python(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".into())
}

/// Service, volume and profile names: `[A-Za-z0-9][A-Za-z0-9_.-]*`.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Environment variable names as Compose takes them: `[A-Za-z_][A-Za-z0-9_.-]*`.
pub fn is_env_key(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The first control character (NUL, newline, escape, ...) in a string.
pub fn control_char(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_forms() {
        assert_eq!(dotenv("test_password").unwrap(), "test_password");
        assert_eq!(dotenv("a b#c").unwrap(), "'a b#c'");
        assert_eq!(dotenv("it's").unwrap(), "\"it's\"");
        assert_eq!(dotenv("it's $x"), None);
        assert_eq!(dotenv("a\\\"b'").unwrap(), "\"a\\\\\\\"b'\"");
        assert_eq!(dotenv("a\nb"), None);
        assert_eq!(dotenv("").unwrap(), "''");
    }

    #[test]
    fn shell_and_yaml() {
        assert_eq!(shell("u;touch /tmp/x;#"), "'u;touch /tmp/x;#'");
        assert_eq!(shell("it's"), "'it'\\''s'");
        assert_eq!(yaml("a$b\n"), "\"a$$b\\n\"");
        assert_eq!(yaml(" \u{2028}"), "\" \\u2028\"");
    }

    #[test]
    fn names() {
        assert!(is_name("postgres") && is_name("pg-15.a_b") && is_name("0x"));
        assert!(!is_name("") && !is_name("-x") && !is_name("a b") && !is_name("a\nb"));
        assert!(is_env_key("_A1") && !is_env_key("1A") && !is_env_key("A B"));
        // Compose takes dotted names (Elasticsearch's `discovery.type`).
        assert!(is_env_key("discovery.type") && is_env_key("A-B") && !is_env_key(".A"));
    }
}
