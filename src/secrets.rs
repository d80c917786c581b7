//! The one masking function for secrets, used by every output: human lines, `--json`
//! documents, diffs, errors and logs all pass through [`mask_text`] or [`mask_json`].
//!
//! A secret is the value of a key matching PASSWORD, PASS, PWD, SECRET, TOKEN, KEY, AUTH,
//! CREDENTIAL or DSN, the userinfo of a URL, an argument after `--requirepass`, `-a` or
//! `--password`, and any value registered with [`register`] (the profile's and the user's own
//! secrets, so they are caught wherever they appear).

use std::sync::Mutex;

/// What a secret is replaced with.
pub const MASK: &str = "***";
/// Command-line flags whose next argument is a secret (`-a` only after a `*-cli` program: see
/// [`secret_flag`]).
pub const SECRET_FLAGS: &[&str] = &["--requirepass", "-a", "--password"];

/// Whether `flag` takes a secret: `-a` is the password of `redis-cli`, `valkey-cli` and their
/// kin (`cli`: such a program came before it), and means something else to `open -a Docker`,
/// `docker ps -a` or `cypher-shell -a ADDRESS`.
fn secret_flag(flag: &str, cli: bool) -> bool {
    match flag {
        "-a" => cli,
        f => SECRET_FLAGS.contains(&f),
    }
}

/// A word naming a `*-cli` program (`redis-cli`, `/usr/bin/valkey-cli`).
fn is_cli(word: &str) -> bool {
    word.rsplit('/').next().is_some_and(|w| w.ends_with("-cli"))
}
/// Registered values shorter than this are only masked by key, not wherever they appear.
const MIN_REGISTERED: usize = 6;

/// Words that make a key secret wherever they appear in it.
const LONG_WORDS: &[&str] = &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL"];
/// Words that make a key secret when a part of it (split at `_`, `.`, `-`) is or ends with them.
const SHORT_WORDS: &[&str] = &["PASS", "PWD", "KEY", "AUTH", "DSN"];

static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Words that are not secret (service, image, user and profile names): a password equal to one
/// of them is masked only under its key, not wherever the word appears.
static PUBLIC: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remember a word that output may show: it is never masked as a registered secret.
pub fn register_public(word: &str) {
    if let Ok(mut public) = PUBLIC.lock() {
        public.push(word.trim().to_string());
    }
    if let Ok(mut known) = KNOWN.lock() {
        known.retain(|k| k != word.trim());
    }
}

/// Whether a key (an environment variable, a JSON field) names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    LONG_WORDS.iter().any(|w| k.contains(w))
        || k.split(['_', '.', '-'])
            .any(|part| SHORT_WORDS.iter().any(|w| part.ends_with(w)))
}

/// Remember a secret value so that it is masked wherever it appears in output.
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_REGISTERED
        || PUBLIC.lock().is_ok_and(|p| p.iter().any(|w| w == value))
    {
        return;
    }
    if let Ok(mut known) = KNOWN.lock()
        && !known.iter().any(|k| k == value)
    {
        known.push(value.to_string());
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// Register the secrets in `KEY=value` lines (a `.env` file, the user's own included).
pub fn register_from_text(text: &str) {
    for line in text.lines() {
        let body = line.trim_start().trim_start_matches("export ");
        if let Some((k, v)) = body.split_once('=')
            && is_secret_key(k.trim())
        {
            register(v.trim().trim_matches(['"', '\'']));
        }
        for s in url_secrets(line) {
            register(&s);
        }
    }
}

/// The printable form of a value under a key: `***` for a secret key (`NEO4J_AUTH=user/pass`
/// keeps the user), otherwise the value with URL userinfo and flagged arguments masked.
pub fn mask_value(key: &str, value: &str) -> String {
    if !is_secret_key(key) {
        return mask_text(value);
    }
    match value.split_once('/') {
        Some((user, _)) if key.to_ascii_uppercase().ends_with("AUTH") && !user.is_empty() => {
            format!("{}/{MASK}", mask_text(user))
        }
        _ => MASK.to_string(),
    }
}

/// An argv with the argument after each secret flag masked (`--password=x` too).
pub fn mask_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    let mut cli = false;
    for a in args {
        if hide_next && !a.starts_with('-') {
            out.push(MASK.to_string());
            hide_next = false;
            continue;
        }
        cli |= is_cli(a);
        hide_next = secret_flag(a, cli);
        out.push(mask_text(a));
    }
    out
}

/// Mask every secret in free text: `KEY=value`, `KEY: value` and `KEY = "value"` lines with a
/// secret key, URL userinfo, arguments after secret flags, and registered values.
pub fn mask_text(text: &str) -> String {
    let mut out: String = text
        .split_inclusive('\n')
        .map(|l| {
            let (body, nl) = match l.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (l, ""),
            };
            format!("{}{nl}", mask_line(body))
        })
        .collect();
    if let Ok(known) = KNOWN.lock() {
        for k in known.iter() {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), MASK);
            }
        }
    }
    out
}

/// Mask a JSON document in place: string values under secret keys, arguments after secret
/// flags in string arrays, and every string as text.
pub fn mask_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(s) if is_secret_key(k) => *s = mask_value(k, s),
                    _ => mask_json(v),
                }
            }
        }
        Value::Array(items) => {
            if items.iter().all(Value::is_string) {
                let args: Vec<String> = items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                *items = mask_args(&args).into_iter().map(Value::String).collect();
            } else {
                items.iter_mut().for_each(mask_json);
            }
        }
        Value::String(s) => *s = mask_text(s),
        _ => {}
    }
}

/// A deserializer's message without the offending value: `invalid type: integer `12345678`,
/// expected a string` becomes `invalid type: integer, expected a string`.
pub fn strip_error_value(message: &str) -> String {
    let mut out = message.to_string();
    for marker in ["invalid type: ", "invalid value: "] {
        let Some(start) = out.find(marker).map(|i| i + marker.len()) else {
            continue;
        };
        let rest = &out[start..];
        let end = rest.find(", expected").unwrap_or(rest.len());
        let kind = rest[..end].split([' ', '`', '"']).next().unwrap_or("");
        out = format!("{}{kind}{}", &out[..start], &rest[end..]);
    }
    out
}

fn mask_line(line: &str) -> String {
    let line = mask_key_value(line);
    let line = mask_urls(&line);
    mask_flag_words(&line)
}

/// `KEY=value`, `KEY: value`, `"KEY": "value"`, `KEY = "value"`, with diff markers or
/// indentation in front.
fn mask_key_value(line: &str) -> String {
    let body = line.trim_start_matches(['+', '-', ' ', '\t']);
    let body = body.strip_prefix("export ").unwrap_or(body);
    let lead = &line[..line.len() - body.len()];
    let Some(sep_at) = body.find(['=', ':']) else {
        return line.to_string();
    };
    let raw_key = &body[..sep_at];
    let key = raw_key.trim().trim_matches(['"', '\'']);
    let keyish = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let value = body[sep_at + 1..].trim();
    if !keyish || !is_secret_key(key) || value.is_empty() {
        return line.to_string();
    }
    let sep = &body[sep_at..=sep_at];
    let space = if sep == ":" || raw_key.ends_with(' ') {
        " "
    } else {
        ""
    };
    let comma = if value.ends_with(',') { "," } else { "" };
    let bare = value.trim_end_matches(',');
    let quote = match bare.chars().next() {
        Some(q @ ('"' | '\'')) => q.to_string(),
        _ => String::new(),
    };
    let masked = mask_value(key, bare.trim_matches(['"', '\'']));
    format!("{lead}{raw_key}{sep}{space}{quote}{masked}{quote}{comma}")
}

/// The userinfo of every `scheme://userinfo@host` in a line: `user:***@` or `***@`.
fn mask_urls(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        let after = &rest[i + 3..];
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || "\"'<>`,;)]}".contains(c))
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(at) => {
                let info = &authority[..at];
                match info.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:{MASK}")),
                    None => out.push_str(MASK),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The secret parts of the URLs in a line (passwords, or userinfo without a password).
fn url_secrets(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("://") {
        let after = &rest[i + 3..];
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || "\"'<>`,;".contains(c))
            .unwrap_or(after.len());
        if let Some(at) = after[..end].rfind('@') {
            let info = &after[..at];
            found.push(info.split_once(':').map_or(info, |(_, p)| p).to_string());
        }
        rest = &after[end..];
    }
    found
}

/// The word after `--requirepass`, `-a` or `--password` (and `--password=x`), after an HTTP
/// `Bearer` (or `Authorization: Basic`) scheme, and the value of a `KEY=value` word with a
/// secret key anywhere in the line (`connecting with password=x`).
fn mask_flag_words(line: &str) -> String {
    let core = |w: &str| w.trim_matches(|c: char| "\"'[],".contains(c)).to_string();
    let keyish = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    };
    let mut out = String::with_capacity(line.len());
    let mut hide_next = false;
    let mut prev = String::new();
    let mut cli = false;
    for piece in line.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let ws = &piece[word.len()..];
        let c = core(word);
        cli |= is_cli(&c);
        if hide_next && !c.is_empty() && !c.starts_with('-') {
            out.push_str(&word.replace(&c, MASK));
            out.push_str(ws);
            hide_next = false;
            continue;
        }
        if let Some((flag, value)) = c.split_once('=')
            && (secret_flag(flag, cli)
                || (keyish(flag) && is_secret_key(flag) && !value.is_empty() && value != MASK))
        {
            out.push_str(&word.replace(&c, &format!("{flag}={MASK}")));
            out.push_str(ws);
            continue;
        }
        let lower = c.to_ascii_lowercase();
        hide_next = secret_flag(&c, cli)
            || lower == "bearer"
            || (lower == "basic" && prev.to_ascii_lowercase().ends_with("authorization:"));
        prev = c;
        out.push_str(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_a_is_a_password_only_after_a_cli_program() {
        let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            mask_text("run: open -a Docker, then cypher-shell -a bolt://db:7687"),
            "run: open -a Docker, then cypher-shell -a bolt://db:7687"
        );
        assert_eq!(
            mask_args(&words(&["open", "-a", "Docker"])),
            words(&["open", "-a", "Docker"])
        );
        assert_eq!(
            mask_text("sh -c 'redis-cli -a s3cr3t-pw ping'"),
            format!("sh -c 'redis-cli -a {MASK} ping'")
        );
        assert_eq!(
            mask_args(&words(&["/usr/bin/valkey-cli", "-a", "s3cr3t-pw", "ping"])),
            words(&["/usr/bin/valkey-cli", "-a", MASK, "ping"])
        );
        assert_eq!(
            mask_args(&words(&["postgres", "--password", "pw"])),
            words(&["postgres", "--password", MASK])
        );
    }

    #[test]
    fn secret_keys() {
        for k in [
            "POSTGRES_PASSWORD",
            "PGPASS",
            "DB_PWD",
            "STRIPE_KEY",
            "GITHUB_TOKEN",
            "NEO4J_AUTH",
            "AWS_CREDENTIALS",
            "SENTRY_DSN",
            "client_secret",
            "apikey",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["POSTGRES_USER", "passed", "DATABASE_URL", "keys", "author"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn text_masks_keys_urls_and_flags() {
        let t = "-POSTGRES_PASSWORD=old\n+STRIPE_KEY=sk_live_1\n  PGPASS: \"x\"\nDATABASE_URL=postgresql://u:pw@h:5432/db\nGIT=https://ghp_abc@github.com/x\nredis-server --requirepass hunter22 --port 1\nPOSTGRES_USER=u";
        let m = mask_text(t);
        for s in ["old", "sk_live_1", "\"x\"", "pw@", "ghp_abc", "hunter22"] {
            assert!(!m.contains(s), "{s} in {m}");
        }
        assert!(m.contains("postgresql://u:***@h:5432/db"), "{m}");
        assert!(m.contains("https://***@github.com/x"), "{m}");
        assert!(m.contains("POSTGRES_USER=u"), "{m}");
        assert!(m.contains("--port 1"), "{m}");
        let help = "`docker ps -a --filter label=x` lists what is left";
        assert_eq!(mask_text(help), help);
    }

    #[test]
    fn json_masks_under_keys_and_in_argv() {
        let mut v = serde_json::json!({
            "env": {"POSTGRES_PASSWORD": "pw", "POSTGRES_USER": "u"},
            "command": ["redis-server", "--requirepass", "pw2"],
            "healthcheck": ["CMD-SHELL", "redis-cli -a pw3 ping"],
            "passed": true,
        });
        mask_json(&mut v);
        let s = v.to_string();
        assert!(
            !s.contains("pw\"") && !s.contains("pw2") && !s.contains("pw3"),
            "{s}"
        );
        assert!(s.contains("\"passed\":true"), "{s}");
    }

    #[test]
    fn type_errors_lose_their_value() {
        assert_eq!(
            strip_error_value("invalid type: integer `12345678`, expected a string"),
            "invalid type: integer, expected a string"
        );
        assert_eq!(
            strip_error_value("invalid type: string \"abc\", expected u16"),
            "invalid type: string, expected u16"
        );
    }

    #[test]
    fn registered_values_are_masked_anywhere() {
        register("zebra-unique-secret");
        assert_eq!(mask_text("saw zebra-unique-secret here"), "saw *** here");
    }

    #[test]
    fn bearer_tokens_and_secret_words_inside_a_line_are_masked() {
        assert_eq!(
            mask_text("curl -H 'Authorization: Bearer abc.def-123' https://x"),
            "curl -H 'Authorization: Bearer ***' https://x"
        );
        assert_eq!(
            mask_text("Authorization: Basic dXNlcjpwYXNz"),
            "Authorization: Basic ***"
        );
        assert_eq!(
            mask_text("connecting with password=hunter22 to db"),
            "connecting with password=*** to db"
        );
        assert_eq!(mask_text("Basic setup done"), "Basic setup done");
        assert_eq!(mask_text("mode=fast level=2"), "mode=fast level=2");
    }
}
