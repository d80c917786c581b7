//! One escaping function per output format (YAML, `.env`, POSIX shell, PowerShell, cmd) and
//! the one name validator: values reach generated files and command lines only through these.

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

/// A word for PowerShell: bare when it has only safe characters, else single-quoted, where
/// nothing is special but the quote itself (written twice). PowerShell also closes a
/// single-quoted string at the typographic quotes U+2018..U+201B, so those are doubled too.
pub fn powershell(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:\\-".contains(c));
    if safe {
        return value.to_string();
    }
    let mut out = String::from("'");
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Program and arguments as one PowerShell line; a program that is not a bare word is called
/// through `&`, or PowerShell would print the quoted string instead of running it.
pub fn powershell_line(argv: &[&str]) -> String {
    let mut words: Vec<String> = argv.iter().map(|a| powershell(a)).collect();
    if let Some(first) = words.first_mut()
        && first.starts_with('\'')
    {
        first.insert_str(0, "& ");
    }
    words.join(" ")
}

/// A word for the `cmd.exe` prompt: quoted as the C runtime splits a command line into
/// arguments (`CommandLineToArgvW`), then every character cmd gives a meaning to (`^ & | < >
/// ( ) % ! "`) caret-escaped, so cmd never enters quote mode and passes each one on literally.
/// `None` for a value no cmd line can carry (a line break or another control character).
pub fn cmd(value: &str) -> Option<String> {
    if value.chars().any(char::is_control) {
        return None;
    }
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:\\-".contains(c));
    if plain {
        return Some(value.to_string());
    }
    let mut quoted = String::from("\"");
    let mut backslashes = 0usize;
    for c in value.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                quoted.push_str(&"\\".repeat(backslashes * 2 + 1));
                backslashes = 0;
            }
            _ => {
                quoted.push_str(&"\\".repeat(backslashes));
                backslashes = 0;
            }
        }
        if c != '\\' {
            quoted.push(c);
        }
    }
    quoted.push_str(&"\\".repeat(backslashes * 2));
    quoted.push('"');
    let mut out = String::new();
    for c in quoted.chars() {
        if "^&|<>()%!\"".contains(c) {
            out.push('^');
        }
        out.push(c);
    }
    Some(out)
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

    /// A single-quoted PowerShell string read back: between the quotes, a doubled quote
    /// character (any of the four) stands for itself.
    fn powershell_unquote(word: &str) -> Option<String> {
        let quote = |c: char| matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}');
        let inner = word.strip_prefix('\'')?.strip_suffix('\'')?;
        let mut out = String::new();
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if quote(c) {
                // A lone quote would have ended the string early.
                if chars.next() != Some(c) {
                    return None;
                }
            }
            out.push(c);
        }
        Some(out)
    }

    /// What a program receives from a cmd line: cmd drops each caret and keeps the character
    /// after it; the C runtime then splits the line (`CommandLineToArgvW`'s rules).
    fn cmd_unquote(line: &str) -> Vec<String> {
        let mut plain = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '^' => plain.extend(chars.next()),
                // Unescaped, these would be cmd's operators or expansions.
                '&' | '|' | '<' | '>' | '(' | ')' | '%' | '!' | '"' => {
                    panic!("unescaped {c} in {line}")
                }
                c => plain.push(c),
            }
        }
        let mut args = Vec::new();
        let mut cur = String::new();
        let (mut in_quotes, mut started) = (false, false);
        let mut chars = plain.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let mut n = 1;
                    while chars.peek() == Some(&'\\') {
                        chars.next();
                        n += 1;
                    }
                    if chars.peek() == Some(&'"') {
                        cur.push_str(&"\\".repeat(n / 2));
                        if n % 2 == 1 {
                            cur.push('"');
                            chars.next();
                        }
                    } else {
                        cur.push_str(&"\\".repeat(n));
                    }
                    started = true;
                }
                '"' => {
                    in_quotes = !in_quotes;
                    started = true;
                }
                ' ' | '\t' if !in_quotes => {
                    if started {
                        args.push(std::mem::take(&mut cur));
                        started = false;
                    }
                }
                c => {
                    cur.push(c);
                    started = true;
                }
            }
        }
        if started {
            args.push(cur);
        }
        args
    }

    #[test]
    fn powershell_and_cmd_words() {
        assert_eq!(powershell("Ubuntu-22.04"), "Ubuntu-22.04");
        assert_eq!(powershell("a b; rm -r C:\\"), "'a b; rm -r C:\\'");
        assert_eq!(powershell("it's $(x)"), "'it''s $(x)'");
        assert_eq!(powershell("\u{2019}; x"), "'\u{2019}\u{2019}; x'");
        assert_eq!(powershell(""), "''");
        assert_eq!(
            powershell_line(&["wsl", "-d", "my distro"]),
            "wsl -d 'my distro'"
        );
        assert_eq!(powershell_line(&["C:\\a b\\x.exe"]), "& 'C:\\a b\\x.exe'");
        assert_eq!(cmd("C:\\dev\\p").unwrap(), "C:\\dev\\p");
        assert_eq!(cmd("a b").unwrap(), "^\"a b^\"");
        assert_eq!(cmd("%PATH% & x").unwrap(), "^\"^%PATH^% ^& x^\"");
        assert_eq!(cmd("a\\\"b\\").unwrap(), "^\"a\\\\\\^\"b\\\\^\"");
        assert_eq!(cmd("a\r\nb"), None);
        assert_eq!(cmd_unquote(&cmd("").unwrap()), [""]);
    }

    proptest::proptest! {
        #[test]
        fn every_quoted_word_reads_back_as_itself(value in "[\\PC\n\t'\"$`;]{0,24}") {
            proptest::prop_assert_eq!(shlex::split(&shell(&value)), Some(vec![value.clone()]));
            let ps = powershell(&value);
            if ps.starts_with('\'') {
                proptest::prop_assert_eq!(powershell_unquote(&ps), Some(value.clone()));
            } else {
                proptest::prop_assert_eq!(&ps, &value);
            }
            match cmd(&value) {
                Some(c) => proptest::prop_assert_eq!(cmd_unquote(&c), vec![value.clone()]),
                None => proptest::prop_assert!(value.chars().any(char::is_control)),
            }
        }
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
