//! The INI files WSL reads (`%USERPROFILE%\.wslconfig`, a distro's `/etc/wsl.conf`): read a
//! key, and set keys while keeping every other line (the user's settings, comments, blank
//! lines, line endings) exactly as it was.

use serde::Serialize;

/// One setting: `[section] key = value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub section: String,
    /// Serialised as `option`: output masks the values of fields named like `key`.
    #[serde(rename = "option")]
    pub key: String,
    pub value: String,
}

impl Setting {
    pub fn new(section: &str, key: &str, value: impl Into<String>) -> Setting {
        Setting {
            section: section.into(),
            key: key.into(),
            value: value.into(),
        }
    }
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}={}", self.section, self.key, self.value)
    }
}

/// An edit as one line: `in PATH set [wsl2] memory=16GB, ... (other lines kept; ...)`.
pub fn edit_line(path: &str, settings: &[Setting], backup: &str) -> String {
    let list: Vec<String> = settings.iter().map(Setting::to_string).collect();
    format!(
        "in {path} set {} (every other line kept; the original saved once as {backup})",
        list.join(", ")
    )
}

/// A line's meaning.
enum Line<'a> {
    Section(&'a str),
    Pair(&'a str, &'a str),
    Other,
}

fn classify(line: &str) -> Line<'_> {
    let t = line.trim();
    if t.starts_with('#') || t.starts_with(';') || t.is_empty() {
        return Line::Other;
    }
    if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Line::Section(name.trim());
    }
    match t.split_once('=') {
        Some((k, v)) => Line::Pair(k.trim(), strip_comment(v.trim())),
        None => Line::Other,
    }
}

/// A value without its trailing ` # comment`, and without surrounding quotes.
fn strip_comment(v: &str) -> &str {
    let v = match v.find(" #") {
        Some(i) => v[..i].trim_end(),
        None => v,
    };
    v.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(v)
}

/// The value of `[section] key` (the last one wins, as WSL reads it); names compare without
/// case.
pub fn get(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    let mut found = None;
    for line in text.lines() {
        match classify(line) {
            Line::Section(s) => current = s.to_string(),
            Line::Pair(k, v)
                if current.eq_ignore_ascii_case(section) && k.eq_ignore_ascii_case(key) =>
            {
                found = Some(v.to_string());
            }
            _ => {}
        }
    }
    found
}

/// A boolean setting (`true`/`false`, any case).
pub fn get_bool(text: &str, section: &str, key: &str) -> Option<bool> {
    get(text, section, key).and_then(|v| match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    })
}

/// Which of `settings` the text does not already have with that value.
pub fn missing<'a>(text: &str, settings: &'a [Setting]) -> Vec<&'a Setting> {
    settings
        .iter()
        .filter(|s| get(text, &s.section, &s.key).is_none_or(|v| !v.eq_ignore_ascii_case(&s.value)))
        .collect()
}

/// The text with every setting applied: an existing key gets the new value on its own line
/// (its spelling and indentation kept), a missing key goes at the end of its section, a missing
/// section at the end of the file. Nothing else changes.
pub fn set(text: &str, settings: &[Setting]) -> String {
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for s in settings {
        set_one(&mut lines, s);
    }
    let mut out = lines.join(nl);
    if !out.is_empty() {
        out.push_str(nl);
    }
    out
}

fn set_one(lines: &mut Vec<String>, s: &Setting) {
    let mut current = String::new();
    let mut last_pair: Option<usize> = None;
    let mut section_at: Option<usize> = None;
    let mut key_at: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        match classify(line) {
            Line::Section(name) => {
                current = name.to_string();
                if current.eq_ignore_ascii_case(&s.section) {
                    section_at = Some(i);
                    last_pair = Some(i);
                }
            }
            Line::Pair(k, _) if current.eq_ignore_ascii_case(&s.section) => {
                last_pair = Some(i);
                if k.eq_ignore_ascii_case(&s.key) {
                    key_at = Some(i);
                }
            }
            _ => {}
        }
    }
    if let Some(i) = key_at {
        let line = &lines[i];
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        let key = line
            .trim_start()
            .split('=')
            .next()
            .unwrap_or(&s.key)
            .trim_end();
        lines[i] = format!("{indent}{key}={}", s.value);
    } else if let (Some(_), Some(at)) = (section_at, last_pair) {
        lines.insert(at + 1, format!("{}={}", s.key, s.value));
    } else {
        if lines.last().is_some_and(|l| !l.trim().is_empty()) {
            lines.push(String::new());
        }
        lines.push(format!("[{}]", s.section));
        lines.push(format!("{}={}", s.key, s.value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS: &str = "# my settings\r\n[wsl2]\r\nmemory=4GB # laptop\r\nswap=0\r\n\r\n[experimental]\r\nsparseVhd=true\r\n";

    #[test]
    fn values_are_read_without_case_comments_or_quotes() {
        assert_eq!(get(USERS, "WSL2", "Memory").as_deref(), Some("4GB"));
        assert_eq!(
            get("[boot]\nsystemd = \"true\"\n", "boot", "systemd").as_deref(),
            Some("true")
        );
        assert_eq!(
            get_bool("[boot]\nsystemd=TRUE\n", "boot", "systemd"),
            Some(true)
        );
        assert_eq!(get(USERS, "wsl2", "processors"), None);
        assert_eq!(get("[network]\nsystemd=true\n", "boot", "systemd"), None);
    }

    #[test]
    fn setting_keeps_every_other_line_and_the_line_endings() {
        let out = set(
            USERS,
            &[
                Setting::new("wsl2", "memory", "16GB"),
                Setting::new("wsl2", "processors", "8"),
                Setting::new("experimental", "autoMemoryReclaim", "gradual"),
            ],
        );
        assert_eq!(
            out,
            "# my settings\r\n[wsl2]\r\nmemory=16GB\r\nswap=0\r\nprocessors=8\r\n\r\n[experimental]\r\nsparseVhd=true\r\nautoMemoryReclaim=gradual\r\n"
        );
        assert!(missing(&out, &[Setting::new("wsl2", "memory", "16gb")]).is_empty());
    }

    #[test]
    fn a_missing_section_is_appended_and_empty_text_gets_one() {
        assert_eq!(
            set(
                "[network]\nhostname=box\n",
                &[Setting::new("boot", "systemd", "true")]
            ),
            "[network]\nhostname=box\n\n[boot]\nsystemd=true\n"
        );
        assert_eq!(
            set("", &[Setting::new("boot", "systemd", "true")]),
            "[boot]\nsystemd=true\n"
        );
    }

    #[test]
    fn setting_twice_changes_nothing_the_second_time() {
        let s = [Setting::new("boot", "systemd", "true")];
        let once = set("[boot]\ncommand=echo hi\n", &s);
        assert_eq!(set(&once, &s), once);
        assert_eq!(missing(&once, &s).len(), 0);
    }
}
