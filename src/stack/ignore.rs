//! `.dockerignore` with Docker's own rules: the file read as moby's `ignorefile.ReadAll` reads
//! it, each pattern translated to a regular expression exactly as moby's `patternmatcher` does,
//! and a path matched (with its parent directories) as `MatchesUsingParentResults` matches it.

use regex::Regex;

/// One line of a `.dockerignore` that Docker would refuse, with its line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct BadPattern {
    pub line: usize,
    pub why: String,
}

/// The patterns of one `.dockerignore`, in order; the last that matches decides.
#[derive(Debug, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

#[derive(Debug)]
struct Pattern {
    /// The cleaned pattern, without its `!`.
    text: String,
    exclusion: bool,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Exact,
    /// `dir/**`: a prefix.
    Prefix,
    /// `**/name`: a suffix.
    Suffix,
    Regex(Regex),
}

/// What a directory's match left for its children (moby's `MatchInfo`): for each pattern,
/// whether the directory matched it.
#[derive(Debug, Clone, Default)]
pub struct Parents(Vec<bool>);

impl Matcher {
    /// Read a `.dockerignore`'s text as moby's `ignorefile.ReadAll` does (a UTF-8 BOM dropped,
    /// `#` lines skipped, each line trimmed and cleaned, a leading `/` dropped), then build the
    /// matcher as `patternmatcher.New` does, refusing what it refuses.
    pub fn parse(text: &str) -> Result<Matcher, BadPattern> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.starts_with('#') {
                continue;
            }
            let Some(p) = read_line(line) else { continue };
            let bad = |why: String| BadPattern { line: i + 1, why };
            let p = new_pattern(&p).map_err(bad)?;
            patterns.extend(p);
        }
        Ok(Matcher { patterns })
    }

    /// Send `path` whatever the patterns say (the Docker CLI's `TrimBuildFilesFromExcludes`:
    /// an exception appended last).
    pub fn keep(&mut self, path: &str) {
        self.patterns.push(Pattern {
            text: path.to_string(),
            exclusion: true,
            kind: Kind::Exact,
        });
    }

    /// Whether any pattern is an exception (`!...`).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether an exception pattern names something inside the directory `dir` (moby walks
    /// into an excluded directory only then).
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| format!("{}/", p.text).starts_with(&prefix))
    }

    /// moby's `MatchesUsingParentResults`: whether `path` (relative to the context,
    /// `/`-separated) is excluded, given its parent directory's result; returns this path's
    /// result for its own children.
    pub fn matches(&self, path: &str, parent: &Parents) -> (bool, Parents) {
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = parent.0.get(i).copied().unwrap_or(false);
            if !hit {
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches(path);
                if !hit && parent.0.is_empty() {
                    hit = parent_dirs(path).any(|d| p.matches(d));
                }
            }
            info[i] = hit;
            if hit {
                matched = !p.exclusion;
            }
        }
        (matched, Parents(info))
    }

    /// Whether `path` is excluded, its parents matched from the top (for tests and callers
    /// that do not walk a tree).
    pub fn excludes(&self, path: &str) -> bool {
        let mut parent = Parents::default();
        for dir in parent_dirs(path) {
            parent = self.matches(dir, &parent).1;
        }
        self.matches(path, &parent).0
    }
}

/// `a`, `a/b` for `a/b/c`.
fn parent_dirs(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// One line as `ignorefile.ReadAll` leaves it: `None` for a blank line.
fn read_line(line: &str) -> Option<String> {
    let p = line.trim();
    if p.is_empty() {
        return None;
    }
    let (invert, rest) = match p.strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, p),
    };
    let mut rest = if rest.is_empty() {
        String::new()
    } else {
        clean(rest)
    };
    if rest.len() > 1 && rest.starts_with('/') {
        rest.remove(0);
    }
    Some(if invert { format!("!{rest}") } else { rest })
}

/// `patternmatcher.New` for one pattern: `None` when it is blank after trimming.
fn new_pattern(p: &str) -> Result<Option<Pattern>, String> {
    let p = p.trim();
    if p.is_empty() {
        return Ok(None);
    }
    let p = clean(p);
    let (exclusion, text) = match p.strip_prefix('!') {
        Some("") => return Err("illegal exclusion pattern: \"!\"".into()),
        Some(rest) => (true, rest.to_string()),
        None => (false, p),
    };
    check_syntax(&text)?;
    let kind = compile(&text)?;
    Ok(Some(Pattern {
        text,
        exclusion,
        kind,
    }))
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix => path.starts_with(self.text.strip_suffix("**").unwrap_or(&self.text)),
            Kind::Suffix => {
                let suffix = self.text.strip_prefix("**").unwrap_or(&self.text);
                path.ends_with(suffix) || suffix.strip_prefix('/') == Some(path)
            }
            Kind::Regex(re) => re.is_match(path),
        }
    }
}

/// Go's `path/filepath.Clean` on a `/`-separated path.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if out.last().is_some_and(|l| *l != "..") => {
                out.pop();
            }
            ".." if rooted => {}
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The syntax check `patternmatcher.New` gets from Go's `filepath.Match`: a class must be
/// closed, hold at least one range, and neither start a range with `-` or `]` nor end one
/// with them; a `\` must escape something.
fn check_syntax(p: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "`{p}` is not a valid pattern (Go's filepath.Match syntax)"
        ))
    };
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_none() => return bad(),
            '[' => {
                if chars.peek() == Some(&'^') {
                    chars.next();
                }
                let mut ranges = 0;
                loop {
                    if chars.peek() == Some(&']') && ranges > 0 {
                        chars.next();
                        break;
                    }
                    if escaped_char(&mut chars).is_none() {
                        return bad();
                    }
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        if escaped_char(&mut chars).is_none() {
                            return bad();
                        }
                    }
                    ranges += 1;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Go's `getEsc`: one possibly escaped character of a class, which must be followed by more.
fn escaped_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    let c = match chars.next()? {
        '-' | ']' => return None,
        '\\' => chars.next()?,
        c => c,
    };
    chars.peek()?;
    Some(c)
}

/// moby's `Pattern.compile`: the match kind and, for a regular expression, its text in Go's
/// syntax, then carried over to this crate's syntax by [`go_regex`].
fn compile(p: &str) -> Result<Kind, String> {
    #[derive(PartialEq)]
    enum T {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut re = String::from("^");
    let mut kind = T::Exact;
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    let mut n = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == T::Exact {
                        kind = T::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = T::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind = T::Regex;
                }
                if n == 0 {
                    kind = T::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = T::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                kind = T::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => match chars.get(i) {
                Some(next) => {
                    re.push('\\');
                    re.push(*next);
                    i += 1;
                    kind = T::Regex;
                }
                None => re.push('\\'),
            },
            '[' | ']' => {
                re.push(ch);
                kind = T::Regex;
            }
            c => re.push(c),
        }
        n += 1;
    }
    Ok(match kind {
        T::Exact => Kind::Exact,
        T::Prefix => Kind::Prefix,
        T::Suffix => Kind::Suffix,
        T::Regex => {
            re.push('$');
            let rust = go_regex(&re);
            Kind::Regex(Regex::new(&rust).map_err(|_| format!("`{p}` is not a valid pattern"))?)
        }
    })
}

/// A regular expression in Go's RE2 syntax, as this crate reads the same thing. Outside
/// brackets the two agree for everything `compile` writes (a stray `]` is escaped to be sure);
/// inside, Go takes `[`, `&&`, `--` and `~~` literally where this crate would nest classes or
/// apply set operations, so every punctuation member is escaped.
fn go_regex(go: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = go.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.get(i) {
                    out.push(*next);
                    i += 1;
                }
            }
            '[' => {
                out.push('[');
                i = go_class(&chars, i, &mut out);
            }
            ']' => out.push_str("\\]"),
            c => out.push(c),
        }
    }
    out
}

/// Copy a bracket expression's body (after its `[`) as Go parses it: an optional `^`, then
/// items (a POSIX class, or a character or escape, optionally `-` and another), a `]` first
/// being a member. Returns the index after the closing `]` (or the end: the regex parser then
/// reports the unclosed class).
fn go_class(chars: &[char], mut i: usize, out: &mut String) -> usize {
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    while i < chars.len() {
        if chars[i] == ']' && !first {
            out.push(']');
            return i + 1;
        }
        first = false;
        if chars[i] == '['
            && chars.get(i + 1) == Some(&':')
            && let Some(p) = chars[i + 2..].windows(2).position(|w| w == [':', ']'])
        {
            let end = i + 2 + p + 2;
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        i = class_char(chars, i, out);
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            out.push('-');
            i = class_char(chars, i + 1, out);
        }
    }
    i
}

/// One member of a class: an escape copied as it is, punctuation escaped, anything else as is.
fn class_char(chars: &[char], i: usize, out: &mut String) -> usize {
    match chars[i] {
        '\\' => {
            out.push('\\');
            match chars.get(i + 1) {
                Some(next) => {
                    out.push(*next);
                    i + 2
                }
                None => i + 1,
            }
        }
        c if c.is_ascii_punctuation() => {
            out.push('\\');
            out.push(c);
            i + 1
        }
        c => {
            out.push(c);
            i + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(patterns: &[&str]) -> Matcher {
        Matcher::parse(&patterns.join("\n")).unwrap()
    }

    /// moby/patternmatcher's `TestMatches` table (pattern, path, excluded).
    const MOBY_MATCHES: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "file/", true),
        ("**/", "file", true),
        ("**/", "file/", true),
        ("**", "/", true),
        ("**/", "/", true),
        ("**", "dir/file", true),
        ("**/", "dir/file", true),
        ("**", "dir/file/", true),
        ("**/", "dir/file/", true),
        ("**/**", "dir/file", true),
        ("**/**", "dir/file/", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/file/", true),
        ("dir/**", "dir/dir2/file", true),
        ("dir/**", "dir/dir2/file/", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/*", "dir/dir2/file/", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file/", true),
        ("**file", "file", true),
        ("**file", "dir/file", true),
        ("**/file", "dir/file", true),
        ("**file", "dir/dir/file", true),
        ("**/file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file", true),
        ("**/file*", "dir/dir/file.txt", true),
        ("**/file*txt", "dir/dir/file.txt", true),
        ("**/file*.txt", "dir/dir/file.txt", true),
        ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("**/**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt", "a/file.txt", true),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[b-d]e", "aae", false),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcdef", false),
        ("abc.def", "abc.def", true),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false),
        ("a\\\\", "a\\", true),
        ("**/foo/bar", "foo/bar", true),
        ("**/foo/bar", "dir/foo/bar", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def", true),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a(b)c/def", "a(b)c/xyz", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        ("a\\*b", "a*b", true),
    ];

    /// moby's multi-pattern cases.
    const MOBY_MULTI: &[(&[&str], &str, bool)] = &[
        (&["**", "!util/docker/web"], "util/docker/web/foo", false),
        (
            &["**", "!util/docker/web", "util/docker/web/foo"],
            "util/docker/web/foo",
            true,
        ),
        (
            &[
                "**",
                "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            ],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
        (
            &["**", "!dist/*.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
        (&["docs", "!docs/README.md"], "docs/README.md", false),
        (&["docs/", "!docs/README.md"], "docs/README.md", false),
        (&["docs/*", "!docs/README.md"], "docs/README.md", false),
        (&["*.go", "!fileutils.go"], "fileutils.go", false),
        (&["!fileutils.go", "*.go"], "fileutils.go", true),
        (&["*"], "fileutils.go", true),
        (&[], "any/path/there", false),
    ];

    /// Go's filepath.Match cases that moby's tests borrow: (pattern, path, match, bad).
    const GO_MATCH: &[(&str, &str, bool, bool)] = &[
        ("abc", "abc", true, false),
        ("*", "abc", true, false),
        ("*c", "abc", true, false),
        ("a*", "a", true, false),
        ("a*", "abc", true, false),
        ("a*", "ab/c", true, false),
        ("a*/b", "abc/b", true, false),
        ("a*/b", "a/c/b", false, false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true, false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true, false),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true, false),
        ("a*b?c*x", "abxbbxdbxebxczzy", false, false),
        ("ab[c]", "abc", true, false),
        ("ab[b-d]", "abc", true, false),
        ("ab[e-g]", "abc", false, false),
        ("ab[^c]", "abc", false, false),
        ("ab[^b-d]", "abc", false, false),
        ("ab[^e-g]", "abc", true, false),
        ("a\\*b", "a*b", true, false),
        ("a\\*b", "ab", false, false),
        ("a?b", "a☺b", true, false),
        ("a[^a]b", "a☺b", true, false),
        ("a???b", "a☺b", false, false),
        ("a[^a][^a][^a]b", "a☺b", false, false),
        ("[a-ζ]*", "α", true, false),
        ("*[a-ζ]", "A", false, false),
        ("a?b", "a/b", false, false),
        ("a*b", "a/b", false, false),
        ("[\\]a]", "]", true, false),
        ("[\\-]", "-", true, false),
        ("[x\\-]", "x", true, false),
        ("[x\\-]", "-", true, false),
        ("[x\\-]", "z", false, false),
        ("[\\-x]", "x", true, false),
        ("[\\-x]", "-", true, false),
        ("[\\-x]", "a", false, false),
        ("[]a]", "]", false, true),
        ("[-]", "-", false, true),
        ("[x-]", "x", false, true),
        ("[x-]", "-", false, true),
        ("[x-]", "z", false, true),
        ("[-x]", "x", false, true),
        ("[-x]", "-", false, true),
        ("[-x]", "a", false, true),
        ("\\", "a", false, true),
        ("[a-b-c]", "a", false, true),
        ("[", "a", false, true),
        ("[^", "a", false, true),
        ("[^bc", "a", false, true),
        ("a[", "a", false, true),
        ("a[", "ab", false, true),
        ("*x", "xxx", true, false),
    ];

    #[test]
    fn mobys_own_match_table() {
        for (pattern, path, want) in MOBY_MATCHES {
            assert_eq!(m(&[pattern]).excludes(path), *want, "{pattern:?} {path:?}");
        }
        for (patterns, path, want) in MOBY_MULTI {
            assert_eq!(m(patterns).excludes(path), *want, "{patterns:?} {path:?}");
        }
    }

    #[test]
    fn gos_filepath_match_table_including_its_bad_patterns() {
        for (pattern, path, want, bad) in GO_MATCH {
            match Matcher::parse(pattern) {
                Ok(matcher) => {
                    assert!(!bad, "{pattern:?} should be refused");
                    assert_eq!(matcher.excludes(path), *want, "{pattern:?} {path:?}");
                }
                Err(e) => assert!(bad, "{pattern:?}: {e}"),
            }
        }
    }

    #[test]
    fn mobys_compile_kinds() {
        let kind = |p: &str| match compile(&clean(p)).unwrap() {
            Kind::Exact => "exact".to_string(),
            Kind::Prefix => "prefix".into(),
            Kind::Suffix => "suffix".into(),
            Kind::Regex(r) => r.as_str().to_string(),
        };
        // moby's TestCompile table; its regular expressions (Go syntax) carried over as ours.
        for (pattern, go) in [
            ("*", "^[^/]*$"),
            ("file*", "^file[^/]*$"),
            ("*file", "^[^/]*file$"),
            ("a*/b", "^a[^/]*/b$"),
            ("**/**", "^(.*/)?.*$"),
            ("**/dir2/*", "^(.*/)?dir2/[^/]*$"),
            ("**/dir2/**", "^(.*/)?dir2/.*$"),
            ("**/file*txt", "^(.*/)?file[^/]*txt$"),
            ("**/**/*.txt", "^(.*/)?(.*/)?[^/]*\\.txt$"),
            ("a[b-d]e", "^a[b-d]e$"),
            (".*", "^\\.[^/]*$"),
            ("abc?def", "^abc[^/]def$"),
        ] {
            assert_eq!(kind(pattern), go_regex(go), "{pattern}");
        }
        for (pattern, k) in [
            ("**", "suffix"),
            ("dir/**", "prefix"),
            ("**/dir", "suffix"),
            ("**file", "suffix"),
            ("**/foo/bar", "suffix"),
            ("a(b)c/def", "exact"),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "exact",
            ),
        ] {
            assert_eq!(kind(pattern), k, "{pattern}");
        }
        assert_eq!(kind("abc.def"), "exact");
        assert_eq!(kind("a.|)$(}+{bc"), "exact");
    }

    #[test]
    fn the_file_is_read_as_ignorefile_reads_it() {
        let text =
            "\u{feff}# comment\n  /secret/../.env  \r\n\n!  keep.log\n*.log\n # not a comment\n";
        let matcher = Matcher::parse(text).unwrap();
        let texts: Vec<(&str, bool)> = matcher
            .patterns
            .iter()
            .map(|p| (p.text.as_str(), p.exclusion))
            .collect();
        assert_eq!(
            texts,
            [
                (".env", false),
                ("keep.log", true),
                ("*.log", false),
                ("# not a comment", false)
            ]
        );
        let e = Matcher::parse("a\n  !  \n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(Matcher::parse("x\n[z-a]\n").unwrap_err().line, 2);
    }

    #[test]
    fn classes_read_as_go_reads_them_not_as_nested_classes() {
        // Go: `[a[b]` is the class {a, [, b}; `&&`, `~~` and `--` are no set operations.
        assert!(m(&["x[a[b]"]).excludes("x["));
        assert!(m(&["x[a&&b]"]).excludes("x&"));
        assert!(m(&["x[~~]"]).excludes("x~"));
        assert!(m(&["x[!-\\-]"]).excludes("x,"));
        assert!(!m(&["x[!-\\-]"]).excludes("x."));
        assert!(m(&["x[[:digit:]]"]).excludes("x7"));
        assert!(!m(&["x[[:digit:]]"]).excludes("xa"));
    }

    #[test]
    fn an_excluded_directory_is_entered_only_for_an_exception_under_it() {
        let matcher = m(&["docs", "!docs/keep.md"]);
        assert!(matcher.may_reinclude_under("docs"));
        assert!(!matcher.may_reinclude_under("doc"));
        assert!(!m(&["docs"]).has_exceptions());
    }

    #[test]
    fn clean_is_gos() {
        for (path, want) in [
            ("", "."),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("./a//b/", "a/b"),
            ("/", "/"),
            ("a/./b/../c", "a/c"),
        ] {
            assert_eq!(clean(path), want, "{path}");
        }
    }
}
