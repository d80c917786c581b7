//! Compose `extends`: a service built on another, of the same file or of another file inside
//! the project, merged as Compose merges them (mappings key by key, lists such as `ports` and
//! `volumes` appended, everything else replaced). Merged keys keep the file, line and column
//! where they were written, so errors about them point there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::compose_ctx::{Ctx, key_str, read_in_project};
use super::yaml::{self, Doc, Pos};
use crate::errors::{Error, Result};

/// How many services an `extends` chain may pass through (a longer one is taken for a cycle).
const MAX_CHAIN: usize = 8;

/// Lists that `extends` appends to instead of replacing.
const APPENDED: &[&str] = &[
    "ports",
    "expose",
    "volumes",
    "dns",
    "dns_search",
    "extra_hosts",
    "env_file",
    "tmpfs",
    "cap_add",
    "cap_drop",
    "security_opt",
    "devices",
];

/// A service with its positions, relative to the service's own path.
type Spanned = (Mapping, Vec<(Vec<String>, Pos)>);

/// The files read so far: the Compose file (index 0) and those `extends` names.
struct Files {
    docs: Vec<Doc>,
    /// Each file's folder relative to the project directory.
    dirs: Vec<PathBuf>,
    /// Project-relative path -> index.
    known: HashMap<String, usize>,
}

/// Replace every service that has `extends` with its merged form.
pub(super) fn resolve(cx: &mut Ctx<'_, '_>) -> Result<()> {
    let Some(Value::Mapping(services)) = cx.doc.value.get("services") else {
        return Ok(());
    };
    let names: Vec<String> = services
        .iter()
        .filter(|(_, v)| v.get("extends").is_some())
        .map(|(k, _)| key_str(k))
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let mut files = Files {
        docs: vec![cx.doc.clone()],
        dirs: vec![cx.rel_dir.clone()],
        known: HashMap::new(),
    };
    for name in names {
        let (merged, spans) = service_of(cx, &mut files, 0, &name, 0, None)?;
        let prefix = vec!["services".to_string(), name.clone()];
        for (rel, pos) in spans {
            let mut full = prefix.clone();
            full.extend(rel);
            cx.doc.spans.insert(full, pos);
        }
        if let Some(Value::Mapping(s)) = cx.doc.value.get_mut("services") {
            s.insert(Value::String(name), Value::Mapping(merged));
        }
    }
    Ok(())
}

/// `name` of file number `file`, merged over what it extends; `by` is where the `extends`
/// that names it is written (for the error when there is no such service).
fn service_of(
    cx: &mut Ctx<'_, '_>,
    files: &mut Files,
    file: usize,
    name: &str,
    depth: usize,
    by: Option<Pos>,
) -> Result<Spanned> {
    let doc = &files.docs[file];
    let svc = match doc.value.get("services").and_then(|s| s.get(name)) {
        Some(Value::Mapping(m)) => m.clone(),
        _ => {
            let pos = by.unwrap_or_else(|| doc.pos(&["services"]));
            return Err(error(
                cx,
                pos,
                format!("`extends` names `{name}`, which is not a service of that file"),
                "name a service defined under `services`",
            ));
        }
    };
    let own = relative_spans(doc, &["services", name]);
    let Some(ext) = svc.get("extends").cloned() else {
        return Ok((svc, own));
    };
    let ext_path = ["services", name, "extends"];
    if depth >= MAX_CHAIN {
        return Err(error(
            cx,
            doc.pos(&ext_path),
            format!("`extends` of `{name}` chains more than {MAX_CHAIN} services (a cycle?)"),
            "make the chain end at a service without `extends`",
        ));
    }
    let (base_name, base_file) = match &ext {
        Value::String(s) => (s.clone(), None),
        Value::Mapping(m) => (
            m.get("service").map(key_str).unwrap_or_default(),
            m.get("file").map(key_str),
        ),
        _ => (String::new(), None),
    };
    if base_name.is_empty() {
        return Err(error(
            cx,
            doc.pos(&ext_path),
            "`extends` names no service".into(),
            "write `extends: NAME` or `extends: {service: NAME, file: FILE}`",
        ));
    }
    let base_file = match base_file {
        Some(f) => open(cx, files, file, &f, &ext_path)?,
        None => file,
    };
    let by = Some(files.docs[file].pos(&ext_path));
    let (mut base, base_spans) = service_of(cx, files, base_file, &base_name, depth + 1, by)?;
    // The base's relative paths are from its own file's folder, as Compose resolves them.
    rebase(
        &mut base,
        &relative_to(&files.dirs[file], &files.dirs[base_file]),
    );
    let mut svc = svc;
    svc.remove("extends");
    let merged = merge(&base, &svc);
    Ok((merged, merge_spans(&base, base_spans, own)))
}

/// The path that leads from folder `from` to folder `to` (both project-relative).
fn relative_to(from: &Path, to: &Path) -> PathBuf {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

/// A relative path written in another folder, as seen from here (`prefix` leads there).
fn moved(prefix: &Path, path: &str) -> String {
    if path.starts_with(['/', '~', '$']) || prefix.as_os_str().is_empty() {
        return path.to_string();
    }
    let joined = prefix.join(path.trim_start_matches("./"));
    let s = joined.to_string_lossy().replace('\\', "/");
    if s.starts_with("..") {
        s
    } else {
        format!("./{s}")
    }
}

/// Move the relative paths of a service written in another folder (`build` context,
/// `env_file`, bind mount sources) so they still name the same files from here.
fn rebase(svc: &mut Mapping, prefix: &Path) {
    if prefix.as_os_str().is_empty() {
        return;
    }
    let at = |v: &mut Value| {
        if let Value::String(s) = v {
            *s = moved(prefix, s);
        }
    };
    match svc.get_mut("build") {
        Some(Value::Mapping(b)) => match b.get_mut("context") {
            Some(c) => at(c),
            None => {
                b.insert("context".into(), Value::String(moved(prefix, ".")));
            }
        },
        Some(b) => at(b),
        None => {}
    }
    match svc.get_mut("env_file") {
        Some(Value::Sequence(items)) => {
            for i in items {
                match i {
                    Value::Mapping(m) => {
                        if let Some(p) = m.get_mut("path") {
                            at(p);
                        }
                    }
                    other => at(other),
                }
            }
        }
        Some(v) => at(v),
        None => {}
    }
    if let Some(Value::Sequence(vols)) = svc.get_mut("volumes") {
        for v in vols {
            match v {
                Value::String(s) if s.starts_with('.') => *s = moved(prefix, s),
                Value::Mapping(m) if m.get("type").and_then(Value::as_str) == Some("bind") => {
                    if let Some(src) = m.get_mut("source") {
                        at(src);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The positions under `prefix`, relative to it.
fn relative_spans(doc: &Doc, prefix: &[&str]) -> Vec<(Vec<String>, Pos)> {
    doc.spans
        .iter()
        .filter(|(k, _)| k.len() > prefix.len() && k.iter().zip(prefix).all(|(a, b)| a == b))
        .map(|(k, p)| (k[prefix.len()..].to_vec(), *p))
        .collect()
}

/// The base's positions, overridden by the service's own; the service's items of an appended
/// list come after the base's.
fn merge_spans(
    base: &Mapping,
    base_spans: Vec<(Vec<String>, Pos)>,
    own: Vec<(Vec<String>, Pos)>,
) -> Vec<(Vec<String>, Pos)> {
    let mut out: HashMap<Vec<String>, Pos> = base_spans.into_iter().collect();
    for (mut path, pos) in own {
        if path.len() >= 2
            && APPENDED.contains(&path[0].as_str())
            && let (Some(Value::Sequence(items)), Ok(i)) =
                (base.get(path[0].as_str()), path[1].parse::<usize>())
        {
            path[1] = (i + items.len()).to_string();
        }
        out.insert(path, pos);
    }
    out.into_iter().collect()
}

/// Compose's merge of a service over its base.
fn merge(base: &Mapping, over: &Mapping) -> Mapping {
    let mut out = base.clone();
    out.remove("extends");
    for (k, v) in over {
        let key = key_str(k);
        let merged = match (out.get(k), v) {
            (Some(Value::Mapping(b)), Value::Mapping(o)) => Value::Mapping(merge(b, o)),
            (Some(Value::Sequence(b)), Value::Sequence(o)) if APPENDED.contains(&key.as_str()) => {
                let mut all = b.clone();
                all.extend(o.iter().filter(|x| !b.contains(x)).cloned());
                Value::Sequence(all)
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    out
}

/// Read and parse the file an `extends` names (relative to the file that names it; it must
/// stay inside the project), once.
fn open(
    cx: &mut Ctx<'_, '_>,
    files: &mut Files,
    from: usize,
    name: &str,
    at_path: &[&str],
) -> Result<usize> {
    let pos = files.docs[from].pos(at_path);
    let rel = inside(&files.dirs[from].join(name)).ok_or_else(|| {
        error(
            cx,
            pos,
            format!("`extends` file `{name}` is outside the project directory"),
            "keep the file it extends inside the project",
        )
    })?;
    let key = rel.to_string_lossy().into_owned();
    if let Some(i) = files.known.get(&key) {
        return Ok(*i);
    }
    let text = read_in_project(cx.project_dir, &rel)?.ok_or_else(|| {
        error(
            cx,
            pos,
            format!("`extends` file `{name}` does not exist"),
            "name a file beside the Compose file",
        )
    })?;
    let index = files.docs.len();
    let label = cx.project_dir.join(&rel).display().to_string();
    let doc = yaml::parse(&text, index).map_err(|e| Error::Profile {
        file: label.clone(),
        line: e.pos.line,
        col: e.pos.col,
        message: e.message,
        help: "fix the YAML of the file `extends` names".into(),
    })?;
    cx.labels.push(label);
    files.docs.push(doc);
    files
        .dirs
        .push(rel.parent().map(Path::to_path_buf).unwrap_or_default());
    files.known.insert(key, index);
    Ok(index)
}

/// A project-relative path without `..` climbing out.
fn inside(path: &Path) -> Option<PathBuf> {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::Normal(n) => parts.push(n.to_os_string()),
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            _ => return None,
        }
    }
    Some(parts.iter().collect())
}

fn error(cx: &Ctx<'_, '_>, pos: Pos, message: String, help: &str) -> Error {
    Error::Profile {
        file: cx.labels.get(pos.file).cloned().unwrap_or_default(),
        line: pos.line,
        col: pos.col,
        message,
        help: help.into(),
    }
}
