//! The import graph between source files (`use crate::...`, `crate::` and `super::` paths, and
//! names imported from them): no cycle between files, commands are leaves, and between folders
//! (top-level modules) imports point down the layers below. No exception is listed: a new
//! cycle or upward import fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The folders (top-level modules), lowest layer first: each may import only the ones before
/// it. A new module is placed here.
const LAYERS: &[&str] = &[
    "errors",
    "escape",
    "outcome",
    "version",
    "secrets",
    "naming",
    "cli",
    "fsx",
    "host",
    "printer",
    "progress",
    "platform",
    "resources",
    "ports",
    "wsl",
    "engine",
    "python",
    "netdiag",
    "install",
    "machine",
    "profile",
    "spec",
    "probe",
    "project",
    "config",
    "lock",
    "generate",
    "stack",
    "images",
    "rollback",
    "sdk",
    "validation",
    "checks",
    "verify",
    "doctor",
    "report",
    "gate",
    "commands",
    "lib",
];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `src/a/b.rs` -> `a/b`, `src/a/mod.rs` -> `a`, `src/lib.rs` -> `lib`.
fn module_of(rel: &Path) -> String {
    let s = rel.with_extension("").to_string_lossy().replace('\\', "/");
    match s.strip_suffix("/mod") {
        Some(m) => m.to_string(),
        None => s,
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    let text = &text[..tests_start(text).unwrap_or(text.len())];
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where the `#[cfg(test)] mod tests` module starts (attributes and comments may sit between).
fn tests_start(text: &str) -> Option<usize> {
    text.match_indices("#[cfg(test)]")
        .map(|(i, _)| i)
        .find(|&i| {
            text[i..]
                .lines()
                .skip(1)
                .map(str::trim)
                .find(|l| !l.starts_with("//") && !l.starts_with("#["))
                .is_some_and(|l| l.starts_with("mod tests"))
        })
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e` (aliases dropped).
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    expand_into(&[], &tree, &mut out);
    out
}

fn expand_into(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let mut depth = 0;
    let mut start = 0;
    let mut items = Vec::new();
    for (i, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&tree[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&tree[start..]);
    for item in items.into_iter().filter(|i| !i.is_empty()) {
        let mut path = prefix.to_vec();
        match item.find('{') {
            Some(j) => {
                path.extend(segments(item[..j].trim_end_matches(':')));
                expand_into(&path, &item[j + 1..item.len() - 1], out);
            }
            None => {
                let item = item.split("as").next().unwrap_or(item);
                path.extend(segments(item));
                out.push(path);
            }
        }
    }
}

fn segments(s: &str) -> Vec<String> {
    s.split("::")
        .filter(|x| !x.is_empty() && *x != "self")
        .map(str::to_string)
        .collect()
}

/// Paths `head::x::y` written in the code (not preceded by another path segment).
fn paths_after(code: &str, head: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(i) = code[from..].find(head).map(|i| i + from) {
        from = i + head.len();
        let before = i.checked_sub(1).map(|j| bytes[j] as char);
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if !code[from..].starts_with("::") {
            continue;
        }
        let rest: String = code[from..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        out.push(segments(&rest));
    }
    out
}

/// Every file's imports of other files.
fn graph() -> Graph {
    let root = src();
    let mut list = Vec::new();
    files(&root, &mut list);
    let modules: BTreeSet<String> = list
        .iter()
        .map(|p| module_of(p.strip_prefix(&root).unwrap()))
        .collect();
    let resolve = |path: &[String]| -> Option<String> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("/"))
            .find(|m| modules.contains(m))
    };
    let mut g = Graph::new();
    for p in &list {
        let rel = p.strip_prefix(&root).unwrap();
        let me = module_of(rel);
        let is_mod = rel.ends_with("mod.rs") || rel == Path::new("lib.rs");
        let parent: Vec<String> = match is_mod {
            true if me == "lib" => Vec::new(),
            true => segments(&me.replace('/', "::")),
            false => {
                let mut s = segments(&me.replace('/', "::"));
                s.pop();
                s
            }
        };
        let code = code(&std::fs::read_to_string(p).unwrap());
        let mut paths: Vec<Vec<String>> = Vec::new();
        for stmt in code.split(';') {
            let stmt = stmt.trim();
            let Some(tree) = stmt
                .strip_prefix("pub use ")
                .or_else(|| stmt.strip_prefix("use "))
                .or_else(|| stmt.rsplit_once("\nuse ").map(|(_, t)| t))
            else {
                continue;
            };
            for path in expand(tree) {
                match path.first().map(String::as_str) {
                    Some("crate") => paths.push(path[1..].to_vec()),
                    Some("super") => paths.push([parent.clone(), path[1..].to_vec()].concat()),
                    _ => {}
                }
            }
        }
        // Names imported from the crate, used as `name::item`.
        let aliases: BTreeMap<String, Vec<String>> = paths
            .iter()
            .filter_map(|p| Some((p.last()?.clone(), p.clone())))
            .collect();
        for (name, full) in &aliases {
            for tail in paths_after(&code, name) {
                paths.push([full.clone(), tail].concat());
            }
        }
        paths.extend(paths_after(&code, "crate"));
        paths.extend(
            paths_after(&code, "super")
                .into_iter()
                .map(|t| [parent.clone(), t].concat()),
        );
        let edges = g.entry(me.clone()).or_default();
        for path in paths {
            if let Some(to) = resolve(&path)
                && to != me
                && to != "lib"
            {
                edges.insert(to);
            }
        }
    }
    g
}

/// The strongly connected components with more than one member (Tarjan).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// The edges inside each cycle, for the failure message.
fn describe(g: &Graph, comps: &[Vec<String>]) -> String {
    comps
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    g[a].iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            format!("[{}]: {}", c.join(", "), edges.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn folder(module: &str) -> String {
    module.split('/').next().unwrap_or(module).to_string()
}

#[test]
fn no_import_cycle_between_files() {
    let g = graph();
    assert!(g.len() > 50, "the source files were not found");
    assert!(
        g["commands/setup"].contains("doctor"),
        "the graph misses edges"
    );
    let c = cycles(&g);
    assert!(
        c.is_empty(),
        "import cycles between files:\n{}",
        describe(&g, &c)
    );
}

#[test]
fn commands_are_leaves() {
    let g = graph();
    let into_commands: Vec<String> = g
        .iter()
        .filter(|(from, _)| !from.starts_with("commands") && from.as_str() != "lib")
        .flat_map(|(from, to)| {
            to.iter()
                .filter(|t| t.starts_with("commands"))
                .map(move |t| format!("{from} -> {t}"))
        })
        .collect();
    assert!(into_commands.is_empty(), "{into_commands:?}");
    let between: Vec<String> = g
        .iter()
        .filter(|(from, _)| from.starts_with("commands/"))
        .flat_map(|(from, to)| {
            to.iter()
                .filter(|t| t.starts_with("commands/"))
                .map(move |t| format!("{from} -> {t}"))
        })
        .collect();
    assert!(
        between.is_empty(),
        "commands import each other: {between:?}"
    );
}

/// The imports from a folder up into a higher layer; panics on a folder not in LAYERS.
fn upward(g: &Graph) -> BTreeSet<String> {
    let rank = |f: &str| LAYERS.iter().position(|l| *l == f);
    let mut up = BTreeSet::new();
    for (from, to) in g {
        for t in to {
            let (a, b) = (folder(from), folder(t));
            let (Some(ra), Some(rb)) = (rank(&a), rank(&b)) else {
                panic!("{a} or {b} is not in LAYERS: place it there");
            };
            if ra < rb {
                up.insert(format!("{from} -> {t}"));
            }
        }
    }
    up
}

#[test]
fn folders_import_only_downward() {
    let up = upward(&graph());
    assert!(up.is_empty(), "imports from a lower layer up: {up:?}");
}

fn synthetic(edges: &[(&str, &str)]) -> Graph {
    let mut g = Graph::new();
    for (a, b) in edges {
        g.entry(a.to_string()).or_default().insert(b.to_string());
        g.entry(b.to_string()).or_default();
    }
    g
}

#[test]
fn the_checks_see_a_synthetic_cycle_and_upward_import() {
    let g = synthetic(&[
        ("profile/compose", "profile/extends"),
        ("profile/extends", "profile/yaml"),
        ("profile/yaml", "profile/compose"),
        ("stack/up", "profile/compose"),
    ]);
    let c = cycles(&g);
    assert_eq!(
        c,
        vec![vec![
            "profile/compose".to_string(),
            "profile/extends".to_string(),
            "profile/yaml".to_string()
        ]]
    );
    assert!(describe(&g, &c).contains("profile/yaml -> profile/compose"));
    assert!(cycles(&synthetic(&[("stack/up", "profile/compose")])).is_empty());
    let up = upward(&synthetic(&[
        ("errors", "stack/up"),
        ("stack/up", "errors"),
    ]));
    assert_eq!(up, BTreeSet::from(["errors -> stack/up".to_string()]));
}
