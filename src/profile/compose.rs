//! An existing Compose file as profile services: `${VAR}` interpolation from the project's
//! `.env` and the environment, Compose `profiles`, probe kinds inferred from images, and every
//! key either applied or refused by name and position (never silently dropped).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_yaml::{Mapping, Value};

use crate::errors::{Error, Result};

/// The largest Compose (or env) file onramp reads.
pub const MAX_FILE: u64 = 1024 * 1024;

/// The service keys onramp applies (the rest are refused).
const APPLIED: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "healthcheck",
    "deploy",
    "mem_limit",
    "cpus",
    "shm_size",
    "tmpfs",
    "ulimits",
    "restart",
    "depends_on",
    "labels",
    "user",
    "working_dir",
    "profiles",
    "networks",
];

/// Services taken from a Compose file, as profile TOML, with what the reader noticed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Converted {
    pub services: toml::Table,
    /// Compose's top-level `name`, the project name it gives.
    pub name: Option<String>,
    /// Services left off because none of their Compose profiles is active.
    pub inactive: Vec<String>,
    /// Variables that were not set and became empty strings (Compose warns the same way).
    pub unset: Vec<String>,
}

/// Where the file is and what it may read.
pub struct Input<'a> {
    /// What errors call the file (its path).
    pub label: String,
    pub text: String,
    /// The file's directory relative to the project directory (`""` when it is the project
    /// directory); build contexts, bind mounts and env files are resolved from there.
    pub rel_dir: PathBuf,
    pub project_dir: &'a Path,
    /// Variable lookup: environment first, then the project's `.env`.
    pub vars: &'a dyn Fn(&str) -> Option<String>,
    /// Active Compose profiles (`COMPOSE_PROFILES`, `--compose-profile`).
    pub profiles: &'a [String],
    /// Services named on the command line: enabled whatever their profiles say.
    pub named: &'a [String],
}

/// Read a Compose or env file: a regular file, at most `MAX_FILE` bytes (through the one safe
/// read path: a FIFO or device is refused without blocking).
pub fn read_capped(path: &Path) -> Result<String> {
    let bytes = crate::fsx::read_regular(path, MAX_FILE)?;
    String::from_utf8(bytes).map_err(|_| Error::Read {
        path: path.to_path_buf(),
        source: std::io::Error::other("not UTF-8 text"),
    })
}

/// Read a file inside the project: a regular file reached without following a link.
pub fn read_in_project(dir: &Path, rel: &Path) -> Result<Option<String>> {
    crate::fsx::Root::new(dir).read_text(&rel.to_string_lossy())
}

/// `KEY=VALUE` lines of a `.env` file (comments, `export`, and quotes as Compose reads them).
pub fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            v[1..v.len() - 1].to_string()
        } else {
            v.split(" #").next().unwrap_or(v).trim_end().to_string()
        };
        out.insert(k.trim().to_string(), v);
    }
    out
}

/// Compose interpolation of one string: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`.
/// Unset variables without a default become empty and are named in `unset`.
pub fn interpolate(
    s: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body)
                .ok_or_else(|| format!("`${{` without a closing `}}` in `{s}`"))?;
            out.push_str(&substitute(&body[..end], vars, unset)?);
            rest = &body[end + 1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 || after.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!(
                    "`$` not followed by a variable name in `{s}`; write `$$` for a literal `$`"
                ));
            }
            let name = &after[..len];
            out.push_str(&lookup(name, vars, unset));
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0;
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

fn lookup(name: &str, vars: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> String {
    vars(name).unwrap_or_else(|| {
        if !unset.iter().any(|u| u == name) {
            unset.push(name.to_string());
        }
        String::new()
    })
}

fn substitute(
    expr: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> std::result::Result<String, String> {
    let len = expr
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expr.len());
    let (name, op) = expr.split_at(len);
    if name.is_empty() {
        return Err(format!("`${{{expr}}}` names no variable"));
    }
    let value = vars(name);
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let mut arg = |n: usize| interpolate(&op[n..], vars, unset);
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
        _ => Err(format!("`${{{expr}}}` is not a substitution Compose knows")),
    }
}

/// Split a command string as Compose does (shell words, without expansion).
pub fn shell_words(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(format!("unclosed `'` in `{s}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => cur.push(n),
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err(format!("unclosed `\"` in `{s}`")),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(format!("unclosed `\"` in `{s}`")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Convert a Compose file's text into profile services.
pub fn convert(input: &Input<'_>) -> Result<Converted> {
    let mut doc: Value = serde_yaml::from_str(&input.text).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        Error::Profile {
            file: input.label.clone(),
            line,
            col,
            message: format!("not valid YAML: {e}"),
            help: "fix the YAML at this position (`docker-compose -f FILE config` shows the same)"
                .into(),
        }
    })?;
    doc.apply_merge()
        .map_err(|e| at(input, &[], format!("YAML merge key: {e}"), HELP_YAML))?;
    let Value::Mapping(top) = doc else {
        return Err(at(
            input,
            &[],
            "a Compose file is a mapping with `services`".into(),
            HELP_YAML,
        ));
    };
    let mut out = Converted::default();
    let mut services = None;
    for (k, v) in &top {
        let key = key_str(k);
        match key.as_str() {
            "services" => services = Some(v),
            "version" => {}
            "name" => out.name = Some(scalar(input, &["name"], v, &mut out.unset)?),
            "volumes" => check_top_volumes(input, v)?,
            "networks" => check_top_networks(input, v)?,
            k if k.starts_with("x-") => {}
            other => {
                return Err(at(
                    input,
                    &[other],
                    format!("top-level `{other}` is not supported by onramp"),
                    "remove it, or keep this stack under docker compose; onramp reads `services`, `volumes`, `name`, `version` and `x-` extensions",
                ));
            }
        }
    }
    let Some(Value::Mapping(services)) = services else {
        return Err(at(
            input,
            &["services"],
            "the Compose file has no `services` mapping".into(),
            "add `services:` with at least one service",
        ));
    };
    for (k, v) in services {
        let name = key_str(k);
        if !is_name(&name) {
            return Err(at(
                input,
                &["services", &name],
                format!("service name `{name}` is not [A-Za-z0-9][A-Za-z0-9_.-]*"),
                "rename the service",
            ));
        }
        let Value::Mapping(svc) = v else {
            return Err(at(
                input,
                &["services", &name],
                format!("service `{name}` is not a mapping"),
                "give it keys such as `image:`",
            ));
        };
        if !active(input, &name, svc) {
            out.inactive.push(name);
            continue;
        }
        let table = service(input, &name, svc, &mut out.unset)?;
        out.services.insert(name, toml::Value::Table(table));
    }
    Ok(out)
}

const HELP_YAML: &str = "fix the Compose file (`docker-compose -f FILE config` validates it)";

fn key_str(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn is_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Whether a service's Compose `profiles` let it run now.
fn active(input: &Input<'_>, name: &str, svc: &Mapping) -> bool {
    let Some(Value::Sequence(profiles)) = svc.get("profiles") else {
        return true;
    };
    input.named.iter().any(|n| n == name)
        || profiles.iter().any(|p| {
            let p = key_str(p);
            input.profiles.iter().any(|a| *a == p || a == "*")
        })
}

fn check_top_volumes(input: &Input<'_>, v: &Value) -> Result<()> {
    let Value::Mapping(m) = v else { return Ok(()) };
    for (k, def) in m {
        let name = key_str(k);
        match def {
            Value::Null => {}
            Value::Mapping(opts) => {
                if let Some((opt, _)) = opts.iter().find(|(o, _)| !key_str(o).starts_with("x-")) {
                    let opt = key_str(opt);
                    return Err(at(
                        input,
                        &["volumes", &name, &opt],
                        format!("volume option `{opt}` of `{name}` is not supported by onramp"),
                        "onramp creates plain local volumes named <project>_<volume>; remove the option or keep this stack under docker compose",
                    ));
                }
            }
            _ => {
                return Err(at(
                    input,
                    &["volumes", &name],
                    format!("volume `{name}` is not a mapping"),
                    "write `name: {}` or leave it empty",
                ));
            }
        }
    }
    Ok(())
}

fn check_top_networks(input: &Input<'_>, v: &Value) -> Result<()> {
    let Value::Mapping(m) = v else { return Ok(()) };
    for (k, def) in m {
        let name = key_str(k);
        let plain = matches!(def, Value::Null) || matches!(def, Value::Mapping(o) if o.is_empty());
        if name != "default" || !plain {
            return Err(at(
                input,
                &["networks", &name],
                format!("network `{name}` is not supported by onramp"),
                "onramp puts every service on the project's default network (<project>_default); remove the network or keep this stack under docker compose",
            ));
        }
    }
    Ok(())
}

/// One service, key by key.
fn service(
    input: &Input<'_>,
    name: &str,
    svc: &Mapping,
    unset: &mut Vec<String>,
) -> Result<toml::Table> {
    let mut t = toml::Table::new();
    let path = |key: &str| vec!["services".to_string(), name.to_string(), key.to_string()];
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut env_from_files: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in svc {
        let key = key_str(k);
        let p = path(&key);
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        let s = |v: &Value, unset: &mut Vec<String>| scalar(input, &p, v, unset);
        match key.as_str() {
            k if k.starts_with("x-") => {}
            "image" => {
                t.insert("image".into(), s(v, unset)?.into());
            }
            "build" => {
                t.insert("build".into(), build(input, &p, v, unset)?);
            }
            "command" | "entrypoint" => {
                t.insert(key.clone(), strings(words(input, &p, v, unset)?));
            }
            "environment" => env.extend(mapping_or_list(input, &p, v, unset, true)?),
            "env_file" => env_from_files.extend(env_files(input, &p, v, unset)?),
            "ports" => {
                let ports = list(v)
                    .iter()
                    .map(|item| port(input, &p, item, unset))
                    .collect::<Result<Vec<_>>>()?;
                t.insert("ports".into(), strings(ports));
            }
            "expose" | "profiles" => {}
            "networks" => check_service_networks(input, &p, v)?,
            "volumes" => {
                let vols = list(v)
                    .iter()
                    .map(|item| volume(input, &p, item, unset))
                    .collect::<Result<Vec<_>>>()?;
                t.insert("volumes".into(), strings(vols));
            }
            "healthcheck" => {
                t.insert("healthcheck".into(), healthcheck(input, &p, v, unset)?);
            }
            "deploy" => deploy(input, &p, v, unset, &mut t)?,
            "mem_limit" => resource(&mut t, "memory", s(v, unset)?.into()),
            "cpus" => resource(&mut t, "cpus", cpus(input, &p, v, unset)?),
            "shm_size" | "user" | "working_dir" | "restart" => {
                t.insert(key.clone(), s(v, unset)?.into());
            }
            "tmpfs" => {
                let items = list(v)
                    .iter()
                    .map(|i| s(i, unset))
                    .collect::<Result<Vec<_>>>()?;
                t.insert("tmpfs".into(), strings(items));
            }
            "ulimits" => {
                t.insert("ulimits".into(), ulimits(input, &p, v, unset)?);
            }
            "depends_on" => {
                t.insert("depends_on".into(), depends_on(input, &p, v)?);
            }
            "labels" => {
                let labels = mapping_or_list(input, &p, v, unset, false)?;
                t.insert("labels".into(), table(labels));
            }
            other => {
                return Err(at(
                    input,
                    &p,
                    format!("`{other}` of service `{name}` is not supported by onramp"),
                    &format!(
                        "remove it, or keep this service under docker compose; onramp applies {}",
                        APPLIED.join(", ")
                    ),
                ));
            }
        }
    }
    env_from_files.extend(env);
    if !env_from_files.is_empty() {
        t.insert("env".into(), table(env_from_files));
    }
    if !t.contains_key("image") && !t.contains_key("build") {
        return Err(at(
            input,
            &["services", name],
            format!("service `{name}` has neither `image` nor `build`"),
            "give it `image:` or `build:`",
        ));
    }
    infer_probe(&mut t);
    Ok(t)
}

/// Compose v2 and v1 spell the same limits as `deploy.resources.limits` or `mem_limit`/`cpus`.
fn resource(t: &mut toml::Table, key: &str, value: toml::Value) {
    let r = t
        .entry("resources")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(r) = r {
        r.insert(key.into(), value);
    }
}

fn deploy(
    input: &Input<'_>,
    p: &[&str],
    v: &Value,
    unset: &mut Vec<String>,
    t: &mut toml::Table,
) -> Result<()> {
    let refuse = |sub: &[&str], what: String| {
        let mut full = p.to_vec();
        full.extend(sub);
        Err(at(
            input,
            &full,
            format!("`deploy.{what}` is not supported by onramp"),
            "onramp applies `deploy.resources.limits` (memory, cpus) and `deploy.replicas: 1`; remove the rest or keep this service under docker compose",
        ))
    };
    let Value::Mapping(d) = v else { return Ok(()) };
    for (k, dv) in d {
        match key_str(k).as_str() {
            "resources" => {
                let Value::Mapping(r) = dv else { continue };
                for (rk, rv) in r {
                    let rk = key_str(rk);
                    if rk != "limits" {
                        return refuse(&["resources", &rk], format!("resources.{rk}"));
                    }
                    let Value::Mapping(l) = rv else { continue };
                    for (lk, lv) in l {
                        let lk = key_str(lk);
                        let mut lp = p.to_vec();
                        lp.extend(["resources", "limits", lk.as_str()]);
                        match lk.as_str() {
                            "memory" => {
                                resource(t, "memory", scalar(input, &lp, lv, unset)?.into())
                            }
                            "cpus" => resource(t, "cpus", cpus(input, &lp, lv, unset)?),
                            other => {
                                return refuse(
                                    &["resources", "limits", other],
                                    format!("resources.limits.{other}"),
                                );
                            }
                        }
                    }
                }
            }
            "replicas" if matches!(dv, Value::Number(n) if n.as_u64() == Some(1)) => {}
            other => return refuse(&[other], other.to_string()),
        }
    }
    Ok(())
}

fn cpus(input: &Input<'_>, p: &[&str], v: &Value, unset: &mut Vec<String>) -> Result<toml::Value> {
    let s = scalar(input, p, v, unset)?;
    s.parse::<f64>().map(toml::Value::Float).map_err(|_| {
        at(
            input,
            p,
            format!("cpus `{s}` is not a number"),
            "write e.g. `cpus: \"1.5\"`",
        )
    })
}

fn check_service_networks(input: &Input<'_>, p: &[&str], v: &Value) -> Result<()> {
    let names: Vec<String> = match v {
        Value::Sequence(s) => s.iter().map(key_str).collect(),
        Value::Mapping(m) => m.keys().map(key_str).collect(),
        _ => Vec::new(),
    };
    if let Some(n) = names.iter().find(|n| *n != "default") {
        return Err(at(
            input,
            p,
            format!("network `{n}` is not supported by onramp"),
            "onramp puts every service on the project's default network; remove `networks` or keep this stack under docker compose",
        ));
    }
    Ok(())
}

/// A string scalar (numbers and booleans as Compose writes them), interpolated.
fn scalar(input: &Input<'_>, p: &[&str], v: &Value, unset: &mut Vec<String>) -> Result<String> {
    let raw = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => {
            return Err(at(
                input,
                p,
                format!("`{}` should be a single value", p.last().unwrap_or(&"")),
                "write a string or number here",
            ));
        }
    };
    interpolate(&raw, input.vars, unset).map_err(|m| {
        at(
            input,
            p,
            m,
            "set the variable in the environment or the project's .env, or give a default: ${VAR:-default}",
        )
    })
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Sequence(s) => s.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn strings(items: Vec<String>) -> toml::Value {
    toml::Value::Array(items.into_iter().map(toml::Value::String).collect())
}

fn table(m: BTreeMap<String, String>) -> toml::Value {
    toml::Value::Table(
        m.into_iter()
            .map(|(k, v)| (k, toml::Value::String(v)))
            .collect(),
    )
}

fn words(input: &Input<'_>, p: &[&str], v: &Value, unset: &mut Vec<String>) -> Result<Vec<String>> {
    match v {
        Value::Sequence(items) => items.iter().map(|i| scalar(input, p, i, unset)).collect(),
        other => {
            let s = scalar(input, p, other, unset)?;
            shell_words(&s).map_err(|m| {
                at(
                    input,
                    p,
                    m,
                    "close the quote, or write the command as a list",
                )
            })
        }
    }
}

/// `environment`/`labels`/`args`: a mapping, or a list of `KEY=VALUE`. In environments a key
/// without a value takes the variable's value (and is left out when it is not set).
fn mapping_or_list(
    input: &Input<'_>,
    p: &[&str],
    v: &Value,
    unset: &mut Vec<String>,
    from_env: bool,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut put = |k: String, val: Option<String>| {
        match val {
            Some(val) => {
                out.insert(k, val);
            }
            None if from_env => {
                if let Some(val) = (input.vars)(&k) {
                    out.insert(k, val);
                }
            }
            None => {
                out.insert(k, String::new());
            }
        };
    };
    match v {
        Value::Mapping(m) => {
            for (k, val) in m {
                let k = key_str(k);
                let val = match val {
                    Value::Null => None,
                    other => Some(scalar(input, p, other, unset)?),
                };
                put(k, val);
            }
        }
        Value::Sequence(items) => {
            for item in items {
                let s = scalar(input, p, item, unset)?;
                match s.split_once('=') {
                    Some((k, val)) => put(k.to_string(), Some(val.to_string())),
                    None => put(s, None),
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

fn env_files(
    input: &Input<'_>,
    p: &[&str],
    v: &Value,
    unset: &mut Vec<String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in list(v) {
        let file = match &item {
            Value::Mapping(m) => m.get("path").cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        let rel = scalar(input, p, &file, unset)?;
        let inside = project_relative(input, &rel).ok_or_else(|| {
            at(
                input,
                p,
                format!("env_file `{rel}` is outside the project directory"),
                "keep env files inside the project",
            )
        })?;
        let path = input.project_dir.join(&inside);
        let text =
            read_in_project(input.project_dir, Path::new(&inside))?.ok_or_else(|| Error::Read {
                path,
                source: std::io::ErrorKind::NotFound.into(),
            })?;
        out.extend(parse_env_file(&text));
    }
    Ok(out)
}

/// A path in the Compose file, relative to the project directory, if it stays inside it.
fn project_relative(input: &Input<'_>, path: &str) -> Option<String> {
    let joined = input.rel_dir.join(path);
    let mut parts: Vec<String> = Vec::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => return None,
        }
    }
    Some(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
}

fn build(input: &Input<'_>, p: &[&str], v: &Value, unset: &mut Vec<String>) -> Result<toml::Value> {
    let mut t = toml::Table::new();
    let mut context = ".".to_string();
    match v {
        Value::Mapping(m) => {
            for (k, bv) in m {
                let k = key_str(k);
                let mut bp = p.to_vec();
                bp.push(&k);
                match k.as_str() {
                    "context" => context = scalar(input, &bp, bv, unset)?,
                    "dockerfile" => {
                        t.insert("dockerfile".into(), scalar(input, &bp, bv, unset)?.into());
                    }
                    "args" => {
                        let args = mapping_or_list(input, &bp, bv, unset, true)?;
                        t.insert("args".into(), table(args));
                    }
                    other if other.starts_with("x-") => {}
                    other => {
                        return Err(at(
                            input,
                            &bp,
                            format!("build option `{other}` is not supported by onramp"),
                            "onramp builds with `context`, `dockerfile` and `args`; remove the option or build with docker compose",
                        ));
                    }
                }
            }
        }
        other => context = scalar(input, p, other, unset)?,
    }
    let rel = project_relative(input, &context).ok_or_else(|| {
        at(
            input,
            p,
            format!("build context `{context}` is outside the project directory"),
            "onramp sends only directories inside the project to the engine; move the context into the project",
        )
    })?;
    t.insert("context".into(), rel.into());
    Ok(toml::Value::Table(t))
}

fn port(input: &Input<'_>, p: &[&str], v: &Value, unset: &mut Vec<String>) -> Result<String> {
    let spec = match v {
        Value::Mapping(m) => {
            let get = |k: &str, unset: &mut Vec<String>| {
                m.get(k).map(|x| scalar(input, p, x, unset)).transpose()
            };
            let target = get("target", unset)?.unwrap_or_default();
            let published = get("published", unset)?.unwrap_or_default();
            let ip = get("host_ip", unset)?;
            let proto = get("protocol", unset)?.unwrap_or_else(|| "tcp".into());
            let base = format!("{published}:{target}/{proto}");
            match ip {
                Some(ip) => format!("{ip}:{base}"),
                None => base,
            }
        }
        other => scalar(input, p, other, unset)?,
    };
    let body = spec.strip_suffix("/tcp").unwrap_or(&spec);
    if !body.contains(':') || body.ends_with(':') || body.starts_with(':') {
        return Err(at(
            input,
            p,
            format!("port `{spec}` publishes no fixed host port"),
            &format!("onramp probes services over a fixed host port: write `\"HOST:{body}\"`"),
        ));
    }
    if body.contains('-') {
        return Err(at(
            input,
            p,
            format!("port range `{spec}` is not supported by onramp"),
            "publish each port on its own line",
        ));
    }
    Ok(spec)
}

fn volume(input: &Input<'_>, p: &[&str], v: &Value, unset: &mut Vec<String>) -> Result<String> {
    let (source, target, ro) = match v {
        Value::Mapping(m) => {
            let get = |k: &str, unset: &mut Vec<String>| {
                m.get(k).map(|x| scalar(input, p, x, unset)).transpose()
            };
            let typ = get("type", unset)?.unwrap_or_else(|| "volume".into());
            if typ != "volume" && typ != "bind" {
                return Err(at(
                    input,
                    p,
                    format!("volume type `{typ}` is not supported by onramp"),
                    "use `tmpfs:` for tmpfs mounts; onramp mounts named volumes and bind mounts",
                ));
            }
            let ro = get("read_only", unset)?.is_some_and(|r| r == "true");
            (
                get("source", unset)?.unwrap_or_default(),
                get("target", unset)?.unwrap_or_default(),
                ro,
            )
        }
        other => {
            let s = scalar(input, p, other, unset)?;
            let mut parts = s.splitn(3, ':');
            let a = parts.next().unwrap_or_default().to_string();
            match (parts.next(), parts.next()) {
                (None, _) => {
                    return Err(at(
                        input,
                        p,
                        format!("anonymous volume `{s}` is not supported by onramp"),
                        "name it (`data:/path`) so that onramp and Compose share it",
                    ));
                }
                (Some(t), mode) => (a, t.to_string(), mode.is_some_and(|m| m.contains("ro"))),
            }
        }
    };
    let bind = source.starts_with(['.', '/', '~']) || source.contains('/');
    let source = if bind {
        let rel = project_relative(input, &source).filter(|_| !source.starts_with(['/', '~']));
        let rel = rel.ok_or_else(|| {
            at(
                input,
                p,
                format!("bind mount `{source}` is outside the project directory"),
                "mount a directory inside the project, or a named volume",
            )
        })?;
        if rel == "." {
            "./".to_string()
        } else {
            format!("./{rel}")
        }
    } else {
        source
    };
    Ok(format!("{source}:{target}{}", if ro { ":ro" } else { "" }))
}

fn healthcheck(
    input: &Input<'_>,
    p: &[&str],
    v: &Value,
    unset: &mut Vec<String>,
) -> Result<toml::Value> {
    let mut t = toml::Table::new();
    let Value::Mapping(m) = v else {
        return Ok(toml::Value::Table(t));
    };
    for (k, hv) in m {
        let k = key_str(k);
        let mut hp = p.to_vec();
        hp.push(&k);
        match k.as_str() {
            "test" => {
                let test = match hv {
                    Value::Sequence(items) => items
                        .iter()
                        .map(|i| scalar(input, &hp, i, unset))
                        .collect::<Result<Vec<_>>>()?,
                    other => vec!["CMD-SHELL".into(), scalar(input, &hp, other, unset)?],
                };
                t.insert("test".into(), strings(test));
            }
            "interval" | "timeout" | "start_period" => {
                let raw = scalar(input, &hp, hv, unset)?;
                let bad = |why: String| at(input, &hp, why, "write e.g. `5s` or `1m30s`");
                let d = compose_duration(&raw)
                    .ok_or_else(|| bad(format!("`{raw}` is not a duration")))?;
                // Range-checked here, where the compose file's line is known.
                if super::validate::parse_duration(&d).is_err() {
                    return Err(bad(format!(
                        "`{raw}` is longer than the longest duration the engine can hold ({}h)",
                        super::validate::MAX_DURATION.as_secs() / 3600
                    )));
                }
                t.insert(k.clone(), d.into());
            }
            "retries" => {
                let r = scalar(input, &hp, hv, unset)?;
                let r: i64 = r.parse().map_err(|_| {
                    at(
                        input,
                        &hp,
                        format!("retries `{r}` is not a number"),
                        "write e.g. `retries: 5`",
                    )
                })?;
                t.insert("retries".into(), r.into());
            }
            "disable" => {
                t.insert(
                    "disable".into(),
                    (scalar(input, &hp, hv, unset)? == "true").into(),
                );
            }
            other => {
                return Err(at(
                    input,
                    &hp,
                    format!("healthcheck option `{other}` is not supported by onramp"),
                    "onramp applies test, interval, timeout, retries, start_period and disable",
                ));
            }
        }
    }
    Ok(toml::Value::Table(t))
}

/// Compose durations (`1m30s`, `500ms`, `2h`) as one onramp duration (`90s`, `500ms`).
fn compose_duration(s: &str) -> Option<String> {
    let mut ms = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (num, tail) = rest.split_at(n);
        let u = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(u);
        let num: f64 = num.parse().ok()?;
        ms += num
            * match unit {
                "us" => 0.001,
                "ms" => 1.0,
                "s" => 1000.0,
                "m" => 60_000.0,
                "h" => 3_600_000.0,
                _ => return None,
            };
        rest = next;
    }
    Some(format!("{}ms", ms.round() as u64))
}

fn ulimits(
    input: &Input<'_>,
    p: &[&str],
    v: &Value,
    unset: &mut Vec<String>,
) -> Result<toml::Value> {
    let mut t = toml::Table::new();
    let Value::Mapping(m) = v else {
        return Ok(toml::Value::Table(t));
    };
    let num = |v: &Value, unset: &mut Vec<String>| -> Result<i64> {
        let s = scalar(input, p, v, unset)?;
        s.parse().map_err(|_| {
            at(
                input,
                p,
                format!("ulimit `{s}` is not a number"),
                "write e.g. `nofile: 65536`",
            )
        })
    };
    for (k, uv) in m {
        let name = key_str(k);
        let value = match uv {
            Value::Mapping(pair) => {
                let get = |k: &str, unset: &mut Vec<String>| -> Result<i64> {
                    num(pair.get(k).unwrap_or(&Value::Null), unset)
                };
                let mut pt = toml::Table::new();
                pt.insert("soft".into(), get("soft", unset)?.into());
                pt.insert("hard".into(), get("hard", unset)?.into());
                toml::Value::Table(pt)
            }
            other => num(other, unset)?.into(),
        };
        t.insert(name, value);
    }
    Ok(toml::Value::Table(t))
}

fn depends_on(input: &Input<'_>, p: &[&str], v: &Value) -> Result<toml::Value> {
    match v {
        Value::Mapping(m) => {
            let mut t = toml::Table::new();
            for (k, dv) in m {
                let dep = key_str(k);
                let mut d = toml::Table::new();
                if let Value::Mapping(opts) = dv {
                    for (ok, ov) in opts {
                        match (key_str(ok).as_str(), ov) {
                            ("condition", Value::String(c))
                                if c == "service_started" || c == "service_healthy" =>
                            {
                                d.insert("condition".into(), c.clone().into());
                            }
                            ("required", Value::Bool(true)) | ("restart", _) => {}
                            (other, _) => {
                                let mut dp = p.to_vec();
                                dp.extend([dep.as_str(), other]);
                                return Err(at(
                                    input,
                                    &dp,
                                    format!(
                                        "depends_on `{other}` of `{dep}` is not supported by onramp"
                                    ),
                                    "onramp applies `condition: service_started` and `condition: service_healthy`",
                                ));
                            }
                        }
                    }
                }
                t.insert(dep, toml::Value::Table(d));
            }
            Ok(toml::Value::Table(t))
        }
        other => Ok(strings(list(other).iter().map(key_str).collect())),
    }
}

/// Probe settings from the image, when the service has none: the catalogue's kind for the
/// image, on its usual container port if published, else TCP on the first published port.
fn infer_probe(t: &mut toml::Table) {
    if t.contains_key("probe") {
        return;
    }
    let image = t
        .get("image")
        .and_then(toml::Value::as_str)
        .unwrap_or_default();
    let published: Vec<u16> = t
        .get("ports")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_str)
        .filter_map(|p| super::parse_port(p).ok())
        .map(|p| p.container)
        .collect();
    let Some(first) = published.first().copied() else {
        return;
    };
    let (kind, port) = match crate::kinds::kind_of_image(image) {
        Some(kind) => {
            let port = crate::kinds::of(kind)
                .default_port
                .filter(|p| published.contains(p))
                .unwrap_or(first);
            (kind, port)
        }
        None => (crate::profile::ProbeKind::Tcp, first),
    };
    let mut probe = toml::Table::new();
    let kind_name = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "tcp".into());
    probe.insert("kind".into(), kind_name.into());
    probe.insert("port".into(), i64::from(port).into());
    t.insert("probe".into(), toml::Value::Table(probe));
}

/// An error at a key path of the Compose file.
fn at(input: &Input<'_>, path: &[&str], message: String, help: &str) -> Error {
    let (line, col) = locate(&input.text, path);
    Error::Profile {
        file: input.label.clone(),
        line,
        col,
        message,
        help: help.to_string(),
    }
}

/// 1-based line and column of a key path in block-style YAML (the closest enclosing key found).
pub fn locate(text: &str, path: &[&str]) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = (1, 1);
    let mut from = 0;
    let mut parent_indent: Option<usize> = None;
    for seg in path {
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(from) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            if let Some(pi) = parent_indent
                && indent <= pi
                && i > from
            {
                break;
            }
            let key = trimmed.trim_start_matches("- ");
            let key = key.trim_start_matches(['"', '\'']);
            if key.starts_with(seg)
                && key[seg.len()..]
                    .trim_start_matches(['"', '\''])
                    .starts_with(':')
            {
                hit = Some((i, indent));
                break;
            }
        }
        let Some((i, indent)) = hit else { break };
        found = (i + 1, indent + 1);
        from = i + 1;
        parent_indent = Some(indent);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("15432".into()),
            _ => None,
        }
    }

    fn interp(s: &str) -> std::result::Result<String, String> {
        interpolate(s, &vars, &mut Vec::new())
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
        let mut unset = Vec::new();
        assert_eq!(interpolate("x${NOPE}y", &vars, &mut unset).unwrap(), "xy");
        assert_eq!(unset, ["NOPE"]);
    }

    #[test]
    fn env_files_and_shell_words() {
        let env = parse_env_file("# c\nA=1\nexport B=\"two words\"\nC='x#y'\nD=v # note\n\nbad\n");
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "two words");
        assert_eq!(env["C"], "x#y");
        assert_eq!(env["D"], "v");
        assert_eq!(
            shell_words(r#"redis-server --save "" --appendonly 'yes no' a\ b"#).unwrap(),
            [
                "redis-server",
                "--save",
                "",
                "--appendonly",
                "yes no",
                "a b"
            ]
        );
        assert!(shell_words("a 'b").is_err());
    }

    fn convert_text(text: &str, profiles: &[String], named: &[String]) -> Result<Converted> {
        let dir = std::env::temp_dir();
        convert(&Input {
            label: "docker-compose.yml".into(),
            text: text.into(),
            rel_dir: PathBuf::new(),
            project_dir: &dir,
            vars: &vars,
            profiles,
            named,
        })
    }

    const FILE: &str = r#"
version: "3.8"
x-common: &common
  restart: unless-stopped
services:
  db:
    <<: *common
    image: pgvector/pgvector:pg16
    environment:
      POSTGRES_PASSWORD: secret
      POSTGRES_INITDB_ARGS: "--encoding=UTF8"
    ports: ["${PORT:-5432}:5432"]
    volumes: [dbdata:/var/lib/postgresql/data]
    healthcheck:
      test: pg_isready
      interval: 1m30s
      retries: 5
    deploy:
      resources:
        limits: {memory: 1g, cpus: "0.5"}
  cache:
    image: valkey/valkey:8
    command: redis-server --requirepass hunter2
    ports: ["6380:6379"]
    depends_on:
      db: {condition: service_healthy}
  web:
    build: ./app
    ports: ["8080:80"]
  debug:
    image: busybox
    profiles: [debug]
volumes:
  dbdata:
"#;

    #[test]
    fn services_probes_and_compose_keys_are_converted() {
        let c = convert_text(FILE, &[], &[]).unwrap();
        let names: Vec<&String> = c.services.keys().collect();
        assert_eq!(names, ["cache", "db", "web"]);
        assert_eq!(c.inactive, ["debug"]);
        let db = c.services["db"].as_table().unwrap();
        assert_eq!(
            db["ports"].as_array().unwrap()[0].as_str(),
            Some("15432:5432")
        );
        assert_eq!(db["restart"].as_str(), Some("unless-stopped"));
        assert_eq!(db["probe"]["kind"].as_str(), Some("postgres"));
        assert_eq!(db["probe"]["port"].as_integer(), Some(5432));
        assert_eq!(
            db["healthcheck"]["test"].as_array().unwrap()[0].as_str(),
            Some("CMD-SHELL")
        );
        assert_eq!(db["healthcheck"]["interval"].as_str(), Some("90000ms"));
        assert_eq!(db["resources"]["memory"].as_str(), Some("1g"));
        assert_eq!(db["resources"]["cpus"].as_float(), Some(0.5));
        let cache = c.services["cache"].as_table().unwrap();
        assert_eq!(cache["probe"]["kind"].as_str(), Some("redis"));
        // The password stays in the command, where the catalogue of kinds reads it.
        assert!(cache["probe"].get("password").is_none());
        assert_eq!(
            crate::kinds::requirepass(
                &cache["command"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect::<Vec<_>>()
            )
            .as_deref(),
            Some("hunter2")
        );
        assert_eq!(cache["command"].as_array().unwrap().len(), 3);
        assert_eq!(
            cache["depends_on"]["db"]["condition"].as_str(),
            Some("service_healthy")
        );
        let web = c.services["web"].as_table().unwrap();
        assert_eq!(web["build"]["context"].as_str(), Some("app"));
        assert_eq!(web["probe"]["kind"].as_str(), Some("tcp"));
        let with_debug = convert_text(FILE, &["debug".into()], &[]).unwrap();
        assert!(with_debug.services.contains_key("debug"));
        let named = convert_text(FILE, &[], &["debug".into()]).unwrap();
        assert!(named.services.contains_key("debug"));
    }

    #[test]
    fn unknown_keys_are_named_with_their_position() {
        let text = "services:\n  db:\n    image: postgres\n    stdin_open: true\n";
        let Err(Error::Profile {
            line,
            col,
            message,
            help,
            ..
        }) = convert_text(text, &[], &[])
        else {
            panic!("expected a located error")
        };
        assert_eq!((line, col), (4, 5));
        assert!(
            message.contains("`stdin_open` of service `db`"),
            "{message}"
        );
        assert!(help.contains("healthcheck"), "{help}");
        let text = "services:\n  db:\n    image: postgres\n    deploy:\n      placement: {}\n";
        let err = convert_text(text, &[], &[]).unwrap_err().to_string();
        assert!(
            err.contains("deploy.placement") && err.contains(":5:7"),
            "{err}"
        );
        let text = "services:\n  db:\n    image: postgres\nsecrets: {}\n";
        let err = convert_text(text, &[], &[]).unwrap_err().to_string();
        assert!(err.contains("top-level `secrets`"), "{err}");
        let text = "services:\n  db:\n    image: postgres\n    ports: [\"5432\"]\n";
        let err = convert_text(text, &[], &[]).unwrap_err().to_string();
        assert!(err.contains("no fixed host port"), "{err}");
        let text = "services:\n  db:\n    image: ${NOPE:?the database image}\n";
        let err = convert_text(text, &[], &[]).unwrap_err().to_string();
        assert!(
            err.contains("the database image") && err.contains(":3:"),
            "{err}"
        );
    }

    #[test]
    fn paths_stay_inside_the_project() {
        let text = "services:\n  web:\n    build: ../elsewhere\n";
        let err = convert_text(text, &[], &[]).unwrap_err().to_string();
        assert!(err.contains("outside the project"), "{err}");
        let text = "services:\n  web:\n    image: x\n    volumes: [\"/etc:/host-etc\"]\n";
        let err = convert_text(text, &[], &[]).unwrap_err().to_string();
        assert!(err.contains("outside the project"), "{err}");
        let text = "services:\n  web:\n    image: x\n    volumes: [\"./data:/data:ro\"]\n";
        let c = convert_text(text, &[], &[]).unwrap();
        assert_eq!(
            c.services["web"]["volumes"].as_array().unwrap()[0].as_str(),
            Some("./data:/data:ro")
        );
    }

    #[test]
    fn durations_are_compose_durations() {
        assert_eq!(compose_duration("1m30s").as_deref(), Some("90000ms"));
        assert_eq!(compose_duration("500ms").as_deref(), Some("500ms"));
        assert_eq!(compose_duration("5").as_deref(), None);
        assert_eq!(compose_duration("x").as_deref(), None);
    }
}
