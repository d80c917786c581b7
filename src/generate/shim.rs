//! What the `resource`-module shim must cover: every `resource.NAME` the installed SDK uses,
//! found by scanning its sources, on top of the full Unix `resource` API.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::host::{Cmd, Host};
use crate::python;

const LOCATE: &str = include_str!("../py/sdk_paths.py");

/// The Unix `resource` API the stand-in always defines.
pub const STANDARD: &[&str] = &[
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_KQUEUES",
    "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_NPTS",
    "RLIMIT_OFILE",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SBSIZE",
    "RLIMIT_SIGPENDING",
    "RLIMIT_STACK",
    "RLIMIT_SWAP",
    "RLIMIT_VMEM",
    "RLIM_INFINITY",
    "RLIM_SAVED_CUR",
    "RLIM_SAVED_MAX",
    "RUSAGE_BOTH",
    "RUSAGE_CHILDREN",
    "RUSAGE_SELF",
    "RUSAGE_THREAD",
    "error",
    "getpagesize",
    "getrlimit",
    "getrusage",
    "prlimit",
    "setrlimit",
    "struct_rusage",
];

/// What scanning the installed SDK found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    /// `kailash 2.65.0`, or why nothing was scanned.
    pub sdk: Option<String>,
    pub files: usize,
    pub names: BTreeSet<String>,
    /// Set when no SDK could be scanned: the full API is covered instead.
    pub note: Option<String>,
}

impl Scan {
    /// Names found, and those of them outside the standard API (constants, callables).
    pub fn split(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let found: Vec<String> = self.names.iter().cloned().collect();
        let extra: Vec<&String> = self
            .names
            .iter()
            .filter(|n| !STANDARD.contains(&n.as_str()))
            .collect();
        let constants = extra
            .iter()
            .filter(|n| {
                n.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .map(|n| n.to_string())
            .collect();
        let functions = extra
            .iter()
            .filter(|n| n.chars().any(|c| c.is_ascii_lowercase()))
            .map(|n| n.to_string())
            .collect();
        (found, constants, functions)
    }
}

/// Aliases under which a file imports the module, and names it imports from it directly.
fn imports(text: &str) -> (Vec<String>, Vec<String>) {
    let mut aliases = Vec::new();
    let mut direct = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("import ") {
            for item in rest.split(',').map(str::trim) {
                let mut words = item.split_whitespace();
                if words.next() == Some("resource") {
                    match (words.next(), words.next()) {
                        (Some("as"), Some(alias)) => aliases.push(alias.to_string()),
                        (None, _) | (Some("#"), _) => aliases.push("resource".into()),
                        _ => {}
                    }
                }
            }
        } else if let Some(rest) = line.strip_prefix("from resource import ") {
            let rest = rest.split('#').next().unwrap_or("");
            for item in rest.trim_matches(|c| c == '(' || c == ')').split(',') {
                if let Some(name) = item.split_whitespace().next()
                    && is_ident(name)
                {
                    direct.push(name.to_string());
                }
            }
        }
    }
    (aliases, direct)
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Every `resource.NAME` (or `alias.NAME`, `getattr(resource, "NAME")`, `from resource import
/// NAME`) in one Python source file that imports the module.
pub fn scan_source(text: &str) -> BTreeSet<String> {
    let (aliases, direct) = imports(text);
    let mut names: BTreeSet<String> = direct.into_iter().collect();
    for alias in &aliases {
        let dotted = format!("{alias}.");
        let mut from = 0;
        while let Some(pos) = text[from..].find(&dotted) {
            let at = from + pos;
            from = at + dotted.len();
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let name: String = text[from..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if is_ident(&name) {
                names.insert(name);
            }
        }
        for quote in ['"', '\''] {
            let pat = format!("getattr({alias}, {quote}");
            for (i, _) in text.match_indices(&pat) {
                let name: String = text[i + pat.len()..]
                    .chars()
                    .take_while(|c| *c != quote)
                    .collect();
                if is_ident(&name) {
                    names.insert(name);
                }
            }
        }
    }
    names
}

/// Scan every `.py` file under the given paths.
pub fn scan_paths(paths: &[PathBuf]) -> (BTreeSet<String>, usize) {
    let mut names = BTreeSet::new();
    let mut files = 0;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(crate::fsx::list(&p));
        } else if p.extension().is_some_and(|e| e == "py")
            && let Some(text) = crate::fsx::read_text_file(&p)
        {
            files += 1;
            if text.contains("resource") {
                names.extend(scan_source(&text));
            }
        }
    }
    (names, files)
}

/// Find the profile's SDK packages with the project's interpreter and scan them.
pub async fn scan_installed(host: &Host, dir: &Path, packages: &[String]) -> Scan {
    let found = python::find(host, dir, None, None).await;
    let Some(py) = found.interpreter else {
        return Scan {
            note: Some("no Python interpreter found to locate the SDK".into()),
            ..Scan::default()
        };
    };
    let cmd = Cmd::new(&py.program, Duration::from_secs(20))
        .args(&py.args)
        .arg("-c")
        .arg(LOCATE)
        .cwd(dir)
        .args(packages);
    let located: Option<BTreeMap<String, Option<serde_json::Value>>> = host
        .run(&cmd)
        .await
        .ok()
        .filter(|o| o.code == Some(0))
        .and_then(|o| serde_json::from_str(&o.stdout).ok());
    let Some(located) = located else {
        return Scan {
            note: Some(format!(
                "{} could not locate packages",
                py.program.display()
            )),
            ..Scan::default()
        };
    };
    let mut paths = Vec::new();
    let mut labels = Vec::new();
    for (name, info) in &located {
        let Some(info) = info else { continue };
        let version = info["version"].as_str().unwrap_or("?");
        labels.push(format!("{name} {version}"));
        paths.extend(
            info["paths"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(PathBuf::from)),
        );
    }
    if labels.is_empty() {
        return Scan {
            note: Some(format!(
                "{} is not installed for {}",
                packages.join(", "),
                py.program.display()
            )),
            ..Scan::default()
        };
    }
    let (names, files) = scan_paths(&paths);
    Scan {
        sdk: Some(labels.join(", ")),
        files,
        names,
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_uses_are_found_and_local_variables_ignored() {
        let text = r#"
try:
    import resource  # Unix-only module
except ImportError:
    resource = None

def f(x):
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_AS, (1, hard))
    self.resource.write()
    my_resource.close()
    return getattr(resource, "RLIMIT_NOFILE")
"#;
        let names: Vec<String> = scan_source(text).into_iter().collect();
        assert_eq!(
            names,
            [
                "RLIMIT_AS",
                "RLIMIT_NOFILE",
                "RLIM_INFINITY",
                "getrlimit",
                "setrlimit"
            ]
        );
    }

    #[test]
    fn files_that_do_not_import_the_module_count_for_nothing() {
        assert!(scan_source("async def f(resource):\n    await resource.close()\n").is_empty());
    }

    #[test]
    fn aliases_and_from_imports() {
        let text = "import os, resource as R\nfrom resource import (getrusage, RUSAGE_SELF)\nR.getpagesize()\n";
        let names: Vec<String> = scan_source(text).into_iter().collect();
        assert_eq!(names, ["RUSAGE_SELF", "getpagesize", "getrusage"]);
    }

    #[test]
    fn non_standard_names_are_split_into_constants_and_callables() {
        let scan = Scan {
            names: ["RLIMIT_AS", "RLIMIT_NEW", "frobnicate"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ..Scan::default()
        };
        let (found, consts, funcs) = scan.split();
        assert_eq!(found.len(), 3);
        assert_eq!(consts, ["RLIMIT_NEW"]);
        assert_eq!(funcs, ["frobnicate"]);
    }
}
