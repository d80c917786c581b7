//! An existing Compose file as profile services, read as Compose reads it: `${VAR}`
//! interpolation from the environment and the `.env` beside the file, Compose `profiles`,
//! `extends`, networks and volume options, probe kinds inferred from images, and every key
//! either applied or refused by name at its own line and column (from the YAML parser's spans).
//! A service that will not be started only warns about what onramp cannot apply.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use serde_yaml::{Mapping, Value};

use super::compose_ctx::{Ctx, key_str};
pub use super::compose_ctx::{Input, read_in_project};
use super::extends;
use super::interpolate::{Unset, interpolate};
use super::yaml::{self, Pos};
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
    "mem_reservation",
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
    "network_mode",
    "container_name",
    "tty",
    "stdin_open",
    "extra_hosts",
    "platform",
    "extends",
    "cap_add",
    "cap_drop",
    "security_opt",
    "userns_mode",
    "privileged",
    "init",
];

/// Services taken from a Compose file, as profile TOML, with what the reader noticed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Converted {
    pub services: toml::Table,
    /// Top-level `volumes` with options (`name`, `external`, `driver`, `driver_opts`, `labels`).
    pub volumes: toml::Table,
    /// Top-level `networks` (`default` with a `name`, custom and `external` ones).
    pub networks: toml::Table,
    /// Compose's top-level `name`, the project name it gives.
    pub name: Option<String>,
    /// Services left off because none of their Compose profiles is active.
    pub inactive: Vec<String>,
    /// Variables that were not set and became empty strings (Compose warns the same way).
    pub unset: Vec<String>,
    /// What onramp cannot apply in services that will not be started (each with its place).
    pub warnings: Vec<String>,
    /// The services this run will start (`None`: all of them).
    pub starting: Option<BTreeSet<String>>,
    /// Where each key of the file (and of files `extends` read) is, for later errors.
    pub spans: yaml::Spans,
    /// The files the spans point into, by index.
    pub labels: Vec<String>,
    /// The names of the services taken from the file.
    pub imported: Vec<String>,
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
                        None => return Err("a `'` is not closed".into()),
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
                            None => return Err("a `\"` is not closed".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("a `\"` is not closed".into()),
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
    let doc = yaml::parse(&input.text, 0).map_err(|e| Error::Profile {
        file: input.label.clone(),
        line: e.pos.line,
        col: e.pos.col,
        message: e.message,
        help: HELP_YAML.into(),
    })?;
    let mut cx = Ctx {
        input,
        doc,
        labels: vec![input.label.clone()],
    };
    let mut unset = Unset::new();
    let mut out = Converted::default();
    let top = match &cx.doc.value {
        Value::Mapping(top) => top.clone(),
        _ => {
            return Err(at(
                &cx,
                &[],
                "a Compose file is a mapping with `services`".into(),
                HELP_YAML,
            ));
        }
    };
    let mut warnings = Vec::new();
    for (k, v) in &top {
        let key = key_str(k);
        match key.as_str() {
            "services" | "version" => {}
            "name" => out.name = Some(scalar(&cx, &["name"], v, &mut unset)?),
            "volumes" => out.volumes = top_volumes(&cx, v, &mut unset)?,
            "networks" => out.networks = top_networks(&cx, v, &mut unset)?,
            "secrets" | "configs" => warnings.push(located(
                &cx,
                &[&key],
                &format!(
                    "top-level `{key}` is not applied by onramp (a service that uses it is refused)"
                ),
            )),
            k if k.starts_with("x-") => {}
            other => {
                return Err(at(
                    &cx,
                    &[other],
                    format!("top-level `{other}` is not supported by onramp"),
                    "remove it, or keep this stack under docker compose; onramp reads `services`, `volumes`, `networks`, `name`, `version` and `x-` extensions",
                ));
            }
        }
    }
    if !matches!(top.get("services"), Some(Value::Mapping(_))) {
        return Err(at(
            &cx,
            &["services"],
            "the Compose file has no `services` mapping".into(),
            "add `services:` with at least one service",
        ));
    }
    extends::resolve(&mut cx)?;
    let Some(Value::Mapping(services)) = cx.doc.value.get("services").cloned() else {
        return Err(at(&cx, &["services"], "no services".into(), HELP_YAML));
    };
    let starting = starting(&cx, &services);
    for (k, v) in &services {
        let name = key_str(k);
        check_service_name(&cx, &name, v)?;
        let Value::Mapping(svc) = v else { continue };
        if !active(&cx, &name, svc) {
            out.inactive.push(name);
            continue;
        }
        match service(&cx, &name, svc, &services, &out.networks, &mut unset) {
            Ok(table) => {
                out.services.insert(name, toml::Value::Table(table));
            }
            Err(e) if !starting.contains(&name) => {
                warnings.push(format!(
                    "service `{name}` left out (it will not be started): {}",
                    describe(&e)
                ));
            }
            Err(e) => return Err(e),
        }
    }
    out.unset = unset.into_iter().collect();
    out.warnings = warnings;
    out.starting = (cx.import_only || !cx.named.is_empty()).then_some(starting);
    out.spans = std::mem::take(&mut cx.doc.spans);
    out.labels = std::mem::take(&mut cx.labels);
    Ok(out)
}

/// An error as one line: `file:line:col: message`.
fn describe(e: &Error) -> String {
    match e {
        Error::Profile {
            file,
            line,
            col,
            message,
            ..
        } => format!("{file}:{line}:{col}: {message}"),
        other => other.to_string(),
    }
}

fn located(cx: &Ctx<'_, '_>, path: &[&str], message: &str) -> String {
    let pos = cx.doc.pos(path);
    format!("{}:{}:{}: {message}", label_of(cx, pos), pos.line, pos.col)
}

fn label_of(cx: &Ctx<'_, '_>, pos: Pos) -> String {
    cx.labels.get(pos.file).cloned().unwrap_or_default()
}

fn check_service_name(cx: &Ctx<'_, '_>, name: &str, v: &Value) -> Result<()> {
    if !is_name(name) {
        return Err(at(
            cx,
            &["services", name],
            format!("service name `{name}` is not [A-Za-z0-9][A-Za-z0-9_.-]*"),
            "rename the service",
        ));
    }
    if !matches!(v, Value::Mapping(_)) {
        return Err(at(
            cx,
            &["services", name],
            format!("service `{name}` is not a mapping"),
            "give it keys such as `image:`",
        ));
    }
    Ok(())
}

/// The services this run will start: every active one when nothing is named (or, when only
/// importing, none), else those named and what they depend on, transitively.
fn starting(cx: &Ctx<'_, '_>, services: &Mapping) -> BTreeSet<String> {
    if cx.import_only {
        return BTreeSet::new();
    }
    if cx.named.is_empty() {
        return services.keys().map(key_str).collect();
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = cx.named.to_vec();
    while let Some(name) = todo.pop() {
        if !out.insert(name.clone()) {
            continue;
        }
        let Some(svc) = services.get(name.as_str()) else {
            continue;
        };
        match svc.get("depends_on") {
            Some(Value::Mapping(m)) => todo.extend(m.keys().map(key_str)),
            Some(Value::Sequence(s)) => todo.extend(s.iter().map(key_str)),
            _ => {}
        }
        if let Some(mode) = svc.get("network_mode").and_then(Value::as_str)
            && let Some(other) = mode.strip_prefix("service:")
        {
            todo.push(other.to_string());
        }
    }
    out
}

const HELP_YAML: &str = "fix the Compose file (`docker compose -f FILE config` validates it)";

fn is_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Whether a service's Compose `profiles` let it run now.
fn active(cx: &Ctx<'_, '_>, name: &str, svc: &Mapping) -> bool {
    let Some(Value::Sequence(profiles)) = svc.get("profiles") else {
        return true;
    };
    cx.named.iter().any(|n| n == name)
        || profiles.iter().any(|p| {
            let p = key_str(p);
            cx.profiles.iter().any(|a| *a == p || a == "*")
        })
}

/// Top-level `volumes`: `name`, `external`, `driver: local`, `driver_opts`, `labels`.
fn top_volumes(cx: &Ctx<'_, '_>, v: &Value, unset: &mut Unset) -> Result<toml::Table> {
    let mut out = toml::Table::new();
    let Value::Mapping(m) = v else {
        return Ok(out);
    };
    for (k, def) in m {
        let name = key_str(k);
        let t = match def {
            Value::Null => toml::Table::new(),
            Value::Mapping(opts) => {
                object_options(cx, &["volumes", &name], opts, unset, "volume", &["local"])?
            }
            _ => {
                return Err(at(
                    cx,
                    &["volumes", &name],
                    format!("volume `{name}` is not a mapping"),
                    "leave it empty (`name:` alone on its line) or give it options such as `driver: local`",
                ));
            }
        };
        out.insert(name, toml::Value::Table(t));
    }
    Ok(out)
}

/// Top-level `networks`: `name`, `external`, `driver: bridge`, `driver_opts`, `labels`.
fn top_networks(cx: &Ctx<'_, '_>, v: &Value, unset: &mut Unset) -> Result<toml::Table> {
    let mut out = toml::Table::new();
    let Value::Mapping(m) = v else {
        return Ok(out);
    };
    for (k, def) in m {
        let name = key_str(k);
        if !is_name(&name) {
            return Err(at(
                cx,
                &["networks", &name],
                format!("network name `{name}` is not [A-Za-z0-9][A-Za-z0-9_.-]*"),
                "rename the network",
            ));
        }
        let t = match def {
            Value::Null => toml::Table::new(),
            Value::Mapping(opts) => object_options(
                cx,
                &["networks", &name],
                opts,
                unset,
                "network",
                &["bridge"],
            )?,
            _ => {
                return Err(at(
                    cx,
                    &["networks", &name],
                    format!("network `{name}` is not a mapping"),
                    "leave it empty or give it options such as `name:`",
                ));
            }
        };
        out.insert(name, toml::Value::Table(t));
    }
    Ok(out)
}

/// The options a top-level volume or network may have.
fn object_options(
    cx: &Ctx<'_, '_>,
    p: &[&str],
    opts: &Mapping,
    unset: &mut Unset,
    what: &str,
    drivers: &[&str],
) -> Result<toml::Table> {
    let mut t = toml::Table::new();
    for (ok, ov) in opts {
        let opt = key_str(ok);
        let mut op = p.to_vec();
        op.push(&opt);
        match opt.as_str() {
            "name" => {
                let n = scalar(cx, &op, ov, unset)?;
                t.insert("name".into(), n.into());
            }
            "external" => {
                let (ext, name) = match ov {
                    Value::Mapping(m) => (
                        true,
                        m.get("name")
                            .map(|n| scalar(cx, &op, n, unset))
                            .transpose()?,
                    ),
                    other => (boolean(cx, &op, other, unset)?, None),
                };
                t.insert("external".into(), ext.into());
                if let Some(n) = name {
                    t.insert("name".into(), n.into());
                }
            }
            "driver" => {
                let d = scalar(cx, &op, ov, unset)?;
                if !drivers.contains(&d.as_str()) {
                    return Err(at(
                        cx,
                        &op,
                        format!("{what} driver `{d}` is not supported by onramp"),
                        &format!(
                            "onramp creates {what}s with the `{}` driver; remove the option or keep this stack under docker compose",
                            drivers.join("`, `")
                        ),
                    ));
                }
                t.insert("driver".into(), d.into());
            }
            "driver_opts" | "labels" => {
                let m = mapping_or_list(cx, &op, ov, unset, false)?;
                t.insert(opt.clone(), table(m));
            }
            o if o.starts_with("x-") => {}
            other => {
                return Err(at(
                    cx,
                    &op,
                    format!(
                        "{what} option `{other}` of `{}` is not supported by onramp",
                        p[1]
                    ),
                    &format!(
                        "onramp applies `name`, `external`, `driver`, `driver_opts` and `labels` of a {what}; remove the option or keep this stack under docker compose"
                    ),
                ));
            }
        }
    }
    Ok(t)
}

/// One service, key by key.
fn service(
    cx: &Ctx<'_, '_>,
    name: &str,
    svc: &Mapping,
    all: &Mapping,
    networks: &toml::Table,
    unset: &mut Unset,
) -> Result<toml::Table> {
    let mut t = toml::Table::new();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut env_from_files: BTreeMap<String, String> = BTreeMap::new();
    let mut env_unset: Vec<String> = Vec::new();
    for (k, v) in svc {
        let key = key_str(k);
        let p = ["services", name, key.as_str()];
        let s = |v: &Value, unset: &mut Unset| scalar(cx, &p, v, unset);
        match key.as_str() {
            k if k.starts_with("x-") => {}
            "image" | "shm_size" | "user" | "working_dir" | "restart" | "platform" => {
                t.insert(key.clone(), s(v, unset)?.into());
            }
            "container_name" => {
                let c = s(v, unset)?;
                if !is_name(&c) {
                    return Err(at(
                        cx,
                        &p,
                        format!("container name `{c}` is not [A-Za-z0-9][A-Za-z0-9_.-]*"),
                        "rename the container",
                    ));
                }
                t.insert(key.clone(), c.into());
            }
            "tty" | "stdin_open" | "privileged" | "init" => {
                t.insert(key.clone(), boolean(cx, &p, v, unset)?.into());
            }
            "cap_add" | "cap_drop" => {
                let caps = items(cx, &p, v, unset, scalar)?;
                t.insert(key.clone(), strings(caps));
            }
            "security_opt" => {
                let opts = items(cx, &p, v, unset, security_opt)?;
                t.insert(key.clone(), strings(opts));
            }
            "userns_mode" => {
                let mode = s(v, unset)?;
                if mode != "host" && !mode.is_empty() {
                    return Err(at(
                        cx,
                        &p,
                        format!("userns_mode `{mode}` is not one the engine takes"),
                        "the engine takes `userns_mode: host` (or none)",
                    ));
                }
                t.insert(key.clone(), mode.into());
            }
            "build" => {
                t.insert("build".into(), build(cx, &p, v, unset)?);
            }
            "command" | "entrypoint" => {
                t.insert(key.clone(), strings(words(cx, &p, v, unset)?));
            }
            "environment" => {
                env.extend(mapping_or_list(cx, &p, v, unset, true)?);
                env_unset.extend(unresolved_names(cx, v));
            }
            "env_file" => env_from_files.extend(env_files(cx, &p, v, unset)?),
            "ports" => {
                let ports = items(cx, &p, v, unset, port)?;
                t.insert("ports".into(), strings(ports));
            }
            "expose" => {
                let ports = items(cx, &p, v, unset, scalar)?;
                t.insert(key.clone(), strings(ports));
            }
            "profiles" | "extends" => {}
            "networks" => {
                t.insert(
                    "networks".into(),
                    service_networks(cx, &p, v, networks, unset)?,
                );
            }
            "network_mode" => {
                t.insert(key.clone(), network_mode(cx, &p, v, all, unset)?.into());
            }
            "extra_hosts" => {
                t.insert(key.clone(), strings(extra_hosts(cx, &p, v, unset)?));
            }
            "volumes" => volumes(cx, &p, v, unset, &mut t)?,
            "healthcheck" => {
                t.insert("healthcheck".into(), healthcheck(cx, &p, v, unset)?);
            }
            "deploy" => deploy(cx, &p, v, unset, &mut t)?,
            "mem_limit" => resource(&mut t, "resources", "memory", s(v, unset)?.into()),
            "mem_reservation" => resource(&mut t, "reservations", "memory", s(v, unset)?.into()),
            "cpus" => resource(&mut t, "resources", "cpus", cpus(cx, &p, v, unset)?),
            "tmpfs" => {
                let mut items = list(v)
                    .iter()
                    .map(|i| s(i, unset))
                    .collect::<Result<Vec<_>>>()?;
                push_tmpfs(&mut t, &mut items);
            }
            "ulimits" => {
                t.insert("ulimits".into(), ulimits(cx, &p, v, unset)?);
            }
            "depends_on" => {
                t.insert("depends_on".into(), depends_on(cx, &p, v, all)?);
            }
            "labels" => {
                let labels = mapping_or_list(cx, &p, v, unset, false)?;
                t.insert("labels".into(), table(labels));
            }
            other => {
                return Err(at(
                    cx,
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
    shared_namespace_dependency(&mut t);
    env_from_files.extend(env);
    // A name written without a value and not set anywhere overrides an env file's value with
    // nothing, as Compose resolves it (and is hashed as Compose hashes it).
    for k in &env_unset {
        env_from_files.remove(k);
    }
    if !env_from_files.is_empty() {
        t.insert("env".into(), table(env_from_files));
    }
    if !env_unset.is_empty() {
        t.insert("env_unset".into(), strings(env_unset));
    }
    if !t.contains_key("image") && !t.contains_key("build") {
        return Err(at(
            cx,
            &["services", name],
            format!("service `{name}` has neither `image` nor `build`"),
            "give it `image:` or `build:`",
        ));
    }
    infer_probe(&mut t);
    Ok(t)
}

fn items(
    cx: &Ctx<'_, '_>,
    p: &[&str],
    v: &Value,
    unset: &mut Unset,
    each: fn(&Ctx<'_, '_>, &[&str], &Value, &mut Unset) -> Result<String>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, item) in list(v).iter().enumerate() {
        let idx = i.to_string();
        let mut ip = p.to_vec();
        if matches!(v, Value::Sequence(_)) {
            ip.push(&idx);
        }
        out.push(each(cx, &ip, item, unset)?);
    }
    Ok(out)
}

fn push_tmpfs(t: &mut toml::Table, items: &mut Vec<String>) {
    let entry = t
        .entry("tmpfs")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if let toml::Value::Array(a) = entry {
        a.extend(items.drain(..).map(toml::Value::String));
    }
}

/// `table.key = value` inside `resources` (limits) or `reservations`; 0 is Compose's "no
/// limit" (`mem_limit: ${LIMIT:-0}`) and sets nothing.
fn resource(t: &mut toml::Table, table: &str, key: &str, value: toml::Value) {
    let zero = match &value {
        toml::Value::Float(f) => *f == 0.0,
        toml::Value::String(s) => s.trim().parse::<f64>() == Ok(0.0),
        _ => false,
    };
    if zero {
        return;
    }
    let r = t
        .entry(table)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(r) = r {
        r.insert(key.into(), value);
    }
}

fn deploy(
    cx: &Ctx<'_, '_>,
    p: &[&str],
    v: &Value,
    unset: &mut Unset,
    t: &mut toml::Table,
) -> Result<()> {
    let refuse = |sub: &[&str], what: String| {
        let mut full = p.to_vec();
        full.extend(sub);
        Err(at(
            cx,
            &full,
            format!("`deploy.{what}` is not supported by onramp"),
            "onramp applies `deploy.resources.limits` and `.reservations` (memory, cpus) and `deploy.replicas: 1`; remove the rest or keep this service under docker compose",
        ))
    };
    let Value::Mapping(d) = v else { return Ok(()) };
    for (k, dv) in d {
        match key_str(k).as_str() {
            "resources" => {
                let Value::Mapping(r) = dv else { continue };
                for (rk, rv) in r {
                    let rk = key_str(rk);
                    let table = match rk.as_str() {
                        "limits" => "resources",
                        "reservations" => "reservations",
                        _ => return refuse(&["resources", &rk], format!("resources.{rk}")),
                    };
                    let Value::Mapping(l) = rv else { continue };
                    for (lk, lv) in l {
                        let lk = key_str(lk);
                        let lp = [p, &["resources", rk.as_str(), lk.as_str()]].concat();
                        match lk.as_str() {
                            "memory" => {
                                resource(t, table, "memory", scalar(cx, &lp, lv, unset)?.into())
                            }
                            "cpus" => resource(t, table, "cpus", cpus(cx, &lp, lv, unset)?),
                            other => {
                                return refuse(
                                    &["resources", &rk, other],
                                    format!("resources.{rk}.{other}"),
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

fn cpus(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<toml::Value> {
    let s = scalar(cx, p, v, unset)?;
    s.parse::<f64>().map(toml::Value::Float).map_err(|_| {
        at(
            cx,
            p,
            "cpus is not a number".into(),
            "write e.g. `cpus: \"1.5\"`",
        )
    })
}

fn boolean(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<bool> {
    if let Value::Bool(b) = v {
        return Ok(*b);
    }
    match scalar(cx, p, v, unset)?.as_str() {
        "true" | "True" | "TRUE" | "yes" | "1" => Ok(true),
        "false" | "False" | "FALSE" | "no" | "0" | "" => Ok(false),
        _ => Err(at(
            cx,
            p,
            format!("`{}` is not true or false", p.last().unwrap_or(&"")),
            "write `true` or `false`",
        )),
    }
}

/// One `security_opt` entry, passed to the engine as Compose passes it; a seccomp profile
/// file (Compose reads and inlines it) and `systempaths=unconfined` are refused by name.
fn security_opt(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<String> {
    let opt = scalar(cx, p, v, unset)?;
    let (key, value) = opt
        .split_once('=')
        .or_else(|| opt.split_once(':'))
        .unwrap_or((opt.as_str(), ""));
    let refuse = |why: String| {
        Err(at(
            cx,
            p,
            why,
            "onramp passes `seccomp:unconfined`, `no-new-privileges`, `label:...` and `apparmor:...` to the engine; remove the option or keep this service under docker compose",
        ))
    };
    match key {
        "seccomp" if value != "unconfined" => refuse(format!(
            "security_opt `{opt}` names a seccomp profile file, which onramp does not read"
        )),
        "systempaths" => refuse(format!("security_opt `{opt}` is not applied by onramp")),
        "no-new-privileges" | "seccomp" | "label" | "apparmor" => Ok(opt),
        _ => Err(at(
            cx,
            p,
            format!("security_opt `{opt}` is not one the engine takes"),
            "write e.g. `seccomp:unconfined` or `no-new-privileges:true`",
        )),
    }
}

/// A service's `networks`: a list of names, or names with `aliases`.
fn service_networks(
    cx: &Ctx<'_, '_>,
    p: &[&str],
    v: &Value,
    networks: &toml::Table,
    unset: &mut Unset,
) -> Result<toml::Value> {
    let entries: Vec<(String, Value)> = match v {
        Value::Sequence(s) => s.iter().map(|n| (key_str(n), Value::Null)).collect(),
        Value::Mapping(m) => m.iter().map(|(k, v)| (key_str(k), v.clone())).collect(),
        _ => Vec::new(),
    };
    let mut out = toml::Table::new();
    for (net, opts) in entries {
        let np = [p, &[net.as_str()]].concat();
        if net != "default" && !networks.contains_key(&net) {
            return Err(at(
                cx,
                &np,
                format!("network `{net}` is not defined under the top-level `networks`"),
                "define it there (`networks:` then `  NAME:`), as Compose requires",
            ));
        }
        let mut t = toml::Table::new();
        if let Value::Mapping(o) = &opts {
            for (ok, ov) in o {
                let ok = key_str(ok);
                let op = [np.as_slice(), &[ok.as_str()]].concat();
                match ok.as_str() {
                    "aliases" => {
                        let a = list(ov)
                            .iter()
                            .map(|x| scalar(cx, &op, x, unset))
                            .collect::<Result<Vec<_>>>()?;
                        t.insert("aliases".into(), strings(a));
                    }
                    x if x.starts_with("x-") => {}
                    other => {
                        return Err(at(
                            cx,
                            &op,
                            format!("network option `{other}` is not supported by onramp"),
                            "onramp applies `aliases`; remove the option or keep this stack under docker compose",
                        ));
                    }
                }
            }
        }
        out.insert(net, toml::Value::Table(t));
    }
    Ok(toml::Value::Table(out))
}

fn network_mode(
    cx: &Ctx<'_, '_>,
    p: &[&str],
    v: &Value,
    all: &Mapping,
    unset: &mut Unset,
) -> Result<String> {
    let mode = scalar(cx, p, v, unset)?;
    match mode.as_str() {
        "host" | "none" | "bridge" => Ok(mode),
        m if m
            .strip_prefix("service:")
            .is_some_and(|s| all.contains_key(s)) =>
        {
            Ok(mode)
        }
        m if m.starts_with("service:") => Err(at(
            cx,
            p,
            format!("network_mode `{m}` names no service of this file"),
            "name one of the file's services",
        )),
        m => Err(at(
            cx,
            p,
            format!("network_mode `{m}` is not supported by onramp"),
            "onramp applies `host`, `none`, `bridge` and `service:NAME`",
        )),
    }
}

/// `extra_hosts` as `host:ip` (Compose also takes `host=ip` and a mapping).
fn extra_hosts(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<Vec<String>> {
    let pairs: Vec<(String, String)> = match v {
        Value::Mapping(m) => m
            .iter()
            .map(|(k, val)| Ok((key_str(k), scalar(cx, p, val, unset)?)))
            .collect::<Result<_>>()?,
        other => list(other)
            .iter()
            .map(|i| {
                let s = scalar(cx, p, i, unset)?;
                let split = s.split_once('=').or_else(|| s.split_once(':'));
                let (h, ip) = split.ok_or_else(|| {
                    at(
                        cx,
                        p,
                        format!("extra_hosts entry `{s}` is not HOST:IP"),
                        "write e.g. `host.docker.internal:host-gateway`",
                    )
                })?;
                Ok((h.to_string(), ip.to_string()))
            })
            .collect::<Result<_>>()?,
    };
    Ok(pairs
        .into_iter()
        .map(|(h, ip)| format!("{h}:{ip}"))
        .collect())
}

/// A string scalar (numbers and booleans as Compose writes them), interpolated. The value is
/// registered for masking, before interpolation and after, when its key names a secret (and
/// `KEY=value` items with secret keys always), so no error or output can show it.
fn scalar(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<String> {
    let raw = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => {
            return Err(at(
                cx,
                p,
                format!("`{}` should be a single value", p.last().unwrap_or(&"")),
                "write a string or number here",
            ));
        }
    };
    let secret = p
        .iter()
        .rev()
        .find(|s| s.parse::<usize>().is_err())
        .is_some_and(|k| crate::secrets::is_secret_key(k));
    register(&raw, secret);
    let out = interpolate(&raw, cx.vars, unset).map_err(|m| {
        at(
            cx,
            p,
            m,
            "set the variable in the environment or the .env beside the Compose file, or give a default: ${VAR:-default}; write `$$` for a literal `$`",
        )
    })?;
    register(&out, secret);
    Ok(out)
}

fn register(value: &str, secret: bool) {
    if secret {
        crate::secrets::register(value);
    }
    crate::secrets::register_from_text(value);
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

/// `command`/`entrypoint`: a list as it is, or one string split into shell words (a folded or
/// literal multi-line string included).
fn words(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<Vec<String>> {
    match v {
        Value::Sequence(items) => items.iter().map(|i| scalar(cx, p, i, unset)).collect(),
        Value::Null => Ok(Vec::new()),
        other => {
            let s = scalar(cx, p, other, unset)?;
            shell_words(&s)
                .map_err(|m| at(cx, p, m, "close the quote, or write the command as a list"))
        }
    }
}

/// `environment`/`labels`/`args`: a mapping, or a list of `KEY=VALUE`. In environments a key
/// without a value takes the variable's value (and is left out when it is not set).
fn mapping_or_list(
    cx: &Ctx<'_, '_>,
    p: &[&str],
    v: &Value,
    unset: &mut Unset,
    from_env: bool,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut put = |k: String, val: Option<String>| {
        match val {
            Some(val) => {
                out.insert(k, val);
            }
            None if from_env => {
                if let Some(val) = (cx.vars)(&k) {
                    if crate::secrets::is_secret_key(&k) {
                        crate::secrets::register(&val);
                    }
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
                let kp = [p, &[k.as_str()]].concat();
                let val = match val {
                    Value::Null => None,
                    other => Some(scalar(cx, &kp, other, unset)?),
                };
                put(k, val);
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                let idx = i.to_string();
                let ip = [p, &[idx.as_str()]].concat();
                let s = scalar(cx, &ip, item, unset)?;
                match s.split_once('=') {
                    Some((k, val)) => {
                        if crate::secrets::is_secret_key(k) {
                            crate::secrets::register(val);
                        }
                        put(k.to_string(), Some(val.to_string()))
                    }
                    None => put(s, None),
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

/// `network_mode: service:X` makes the service depend on X (started, restarted with it), as
/// compose-go adds it: X starts first, and the dependency is in the config hash.
fn shared_namespace_dependency(t: &mut toml::Table) {
    let Some(x) = t
        .get("network_mode")
        .and_then(toml::Value::as_str)
        .and_then(|m| m.strip_prefix("service:"))
        .map(String::from)
    else {
        return;
    };
    let deps = t
        .entry("depends_on")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(d) = deps
        && !d.contains_key(&x)
    {
        let mut dep = toml::Table::new();
        dep.insert("condition".into(), "service_started".into());
        dep.insert("restart".into(), true.into());
        dep.insert("required".into(), true.into());
        d.insert(x, toml::Value::Table(dep));
    }
}

/// The `environment` names written without a value (`- NAME`, `NAME:`) that no variable sets.
fn unresolved_names(cx: &Ctx<'_, '_>, v: &Value) -> Vec<String> {
    let bare: Vec<String> = match v {
        Value::Mapping(m) => m
            .iter()
            .filter(|(_, val)| matches!(val, Value::Null))
            .map(|(k, _)| key_str(k))
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) if !s.contains('=') => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    bare.into_iter()
        .filter(|k| (cx.vars)(k).is_none())
        .collect()
}

/// `env_file`: paths relative to the Compose file's folder; `required: false` may be missing.
fn env_files(
    cx: &Ctx<'_, '_>,
    p: &[&str],
    v: &Value,
    unset: &mut Unset,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (i, item) in list(v).iter().enumerate() {
        let idx = i.to_string();
        let ip = if matches!(v, Value::Sequence(_)) {
            [p, &[idx.as_str()]].concat()
        } else {
            p.to_vec()
        };
        let (file, required) = match item {
            Value::Mapping(m) => {
                let req = match m.get("required") {
                    Some(r) => boolean(cx, &ip, r, unset)?,
                    None => true,
                };
                (m.get("path").cloned().unwrap_or(Value::Null), req)
            }
            other => (other.clone(), true),
        };
        let rel = scalar(cx, &ip, &file, unset)?;
        let inside = project_relative(cx, &rel).ok_or_else(|| {
            at(
                cx,
                &ip,
                format!("env_file `{rel}` is outside the project directory"),
                "keep env files inside the project",
            )
        })?;
        let path = cx.project_dir.join(&inside);
        match read_in_project(cx.project_dir, Path::new(&inside))? {
            Some(text) => out.extend(super::dotenv::parse(&text, cx.vars).map_err(|b| {
                at(
                    cx,
                    &ip,
                    format!(
                        "env_file {}: line {}: {}",
                        path.display(),
                        b.line,
                        b.message
                    ),
                    "fix that line of the env file",
                )
            })?),
            None if !required => {}
            None => {
                return Err(at(
                    cx,
                    &ip,
                    format!("env_file {} does not exist", path.display()),
                    "create it, or mark it optional (`- path: FILE` with `required: false`)",
                ));
            }
        }
    }
    Ok(out)
}

/// A path in the Compose file, relative to the project directory, if it stays inside it.
fn project_relative(cx: &Ctx<'_, '_>, path: &str) -> Option<String> {
    let joined = cx.rel_dir.join(path);
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

fn build(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<toml::Value> {
    let mut t = toml::Table::new();
    let mut context = ".".to_string();
    match v {
        Value::Mapping(m) => {
            for (k, bv) in m {
                let k = key_str(k);
                let bp = [p, &[k.as_str()]].concat();
                match k.as_str() {
                    "context" => context = scalar(cx, &bp, bv, unset)?,
                    "dockerfile" | "target" => {
                        t.insert(k.clone(), scalar(cx, &bp, bv, unset)?.into());
                    }
                    "args" => {
                        let args = mapping_or_list(cx, &bp, bv, unset, true)?;
                        t.insert("args".into(), table(args));
                    }
                    other if other.starts_with("x-") => {}
                    other => {
                        return Err(at(
                            cx,
                            &bp,
                            format!("build option `{other}` is not supported by onramp"),
                            "onramp builds with `context`, `dockerfile`, `target` and `args`; remove the option or build with docker compose",
                        ));
                    }
                }
            }
        }
        other => context = scalar(cx, p, other, unset)?,
    }
    let rel = project_relative(cx, &context).ok_or_else(|| {
        at(
            cx,
            p,
            format!("build context `{context}` is outside the project directory"),
            "onramp sends only directories inside the project to the engine; move the context into the project",
        )
    })?;
    t.insert("context".into(), rel.into());
    Ok(toml::Value::Table(t))
}

fn port(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<String> {
    let spec = match v {
        Value::Mapping(m) => {
            let get =
                |k: &str, unset: &mut Unset| m.get(k).map(|x| scalar(cx, p, x, unset)).transpose();
            let target = get("target", unset)?.unwrap_or_default();
            let published = get("published", unset)?.unwrap_or_default();
            let ip = get("host_ip", unset)?;
            let proto = get("protocol", unset)?.unwrap_or_else(|| "tcp".into());
            match (ip, published.is_empty()) {
                (Some(ip), _) => format!("{ip}:{published}:{target}/{proto}"),
                (None, true) => format!("{target}/{proto}"),
                (None, false) => format!("{published}:{target}/{proto}"),
            }
        }
        other => scalar(cx, p, other, unset)?,
    };
    let body = spec.rsplit_once('/').map_or(spec.as_str(), |(b, _)| b);
    if body.contains('-') {
        return Err(at(
            cx,
            p,
            format!("port range `{spec}` is not supported by onramp"),
            "publish each port on its own line",
        ));
    }
    if let Err(e) = super::parse_port(&spec) {
        return Err(at(
            cx,
            p,
            format!("port `{spec}`: {e}"),
            "write `[HOST_IP:][HOST:]CONTAINER[/udp]`, e.g. \"5432:5432\" or \"127.0.0.1::5432\"",
        ));
    }
    Ok(spec)
}

/// A service's `volumes`, in order: the short syntax as written, the long one (bind, volume
/// or tmpfs) as `type=KIND,...` (see `volume`).
fn volumes(
    cx: &Ctx<'_, '_>,
    p: &[&str],
    v: &Value,
    unset: &mut Unset,
    t: &mut toml::Table,
) -> Result<()> {
    let mut mounts = Vec::new();
    for (i, item) in list(v).iter().enumerate() {
        let idx = i.to_string();
        let ip = [p, &[idx.as_str()]].concat();
        mounts.push(volume(cx, &ip, item, unset)?.0);
    }
    t.insert("volumes".into(), strings(mounts));
    Ok(())
}

/// One volume entry as the profile holds it (spec::mount reads it).
struct Mount(String);

fn volume(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<Mount> {
    let Value::Mapping(m) = v else {
        return short_volume(cx, p, v, unset);
    };
    let get = |k: &str, unset: &mut Unset| m.get(k).map(|x| scalar(cx, p, x, unset)).transpose();
    let typ = get("type", unset)?.unwrap_or_else(|| "volume".into());
    let target = get("target", unset)?.unwrap_or_default();
    if !["volume", "bind", "tmpfs"].contains(&typ.as_str()) {
        return Err(at(
            cx,
            p,
            format!("volume type `{typ}` is not supported by onramp"),
            "onramp mounts named volumes, bind mounts and tmpfs",
        ));
    }
    // The long syntax is kept as `type=KIND,source=S,target=T,OPTION...` (spec::mount reads
    // it), so that what Compose keeps of it (only the options written) is hashed the same.
    let mut parts = vec![format!("type={typ}")];
    if typ != "tmpfs" {
        let Some(source) = get("source", unset)?.filter(|s| !s.is_empty()) else {
            return Err(at(
                cx,
                p,
                "an anonymous volume is not supported by onramp".into(),
                "give it a `source:` (a volume name or a path) so that onramp and Compose share it",
            ));
        };
        parts.push(format!("source={}", bind_source(cx, p, &source)?));
    }
    parts.push(format!("target={target}"));
    if let Some(r) = m.get("read_only")
        && boolean(cx, p, r, unset)?
    {
        parts.push("readonly".into());
    }
    let sub = |key: &str| match m.get(key) {
        Some(Value::Mapping(o)) => o.clone(),
        _ => Mapping::new(),
    };
    for (k, ov) in sub("bind") {
        let k = key_str(&k);
        match k.as_str() {
            "selinux" | "propagation" => {
                parts.push(format!("bind-{k}={}", scalar(cx, p, &ov, unset)?));
            }
            "create_host_path" if boolean(cx, p, &ov, unset)? => {
                parts.push("bind-create-host-path".into());
            }
            _ => {}
        }
    }
    if let Some(n) = sub("volume").get("nocopy")
        && boolean(cx, p, n, unset)?
    {
        parts.push("volume-nocopy".into());
    }
    for (k, ov) in sub("tmpfs") {
        let k = key_str(&k);
        if k == "size" || k == "mode" {
            parts.push(format!("tmpfs-{k}={}", scalar(cx, p, &ov, unset)?));
        }
    }
    if parts.iter().any(|x| x.contains([',', '\n'])) {
        return Err(at(
            cx,
            p,
            "a volume's source or target holds a comma, which onramp cannot pass on".into(),
            "rename the path without a comma",
        ));
    }
    Ok(Mount(parts.join(",")))
}

/// The short syntax `source:target[:options]`: the source made as onramp writes it, the
/// options (`ro`, `z`, `nocopy`, propagation) kept as written.
fn short_volume(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<Mount> {
    let s = scalar(cx, p, v, unset)?;
    let mut parts = s.splitn(3, ':');
    let a = parts.next().unwrap_or_default().to_string();
    let (Some(target), mode) = (parts.next(), parts.next()) else {
        return Err(at(
            cx,
            p,
            "an anonymous volume is not supported by onramp".into(),
            "name it (`data:/path`) so that onramp and Compose share it",
        ));
    };
    let source = bind_source(cx, p, &a)?;
    Ok(Mount(match mode {
        Some(mode) => format!("{source}:{target}:{mode}"),
        None => format!("{source}:{target}"),
    }))
}

/// A bind mount's source as onramp writes it: `./rel` inside the project, an absolute path
/// as it is, `~` expanded to the home folder (as Compose does); a named volume unchanged.
fn bind_source(cx: &Ctx<'_, '_>, p: &[&str], source: &str) -> Result<String> {
    let bind = source.starts_with(['.', '/', '~']) || source.contains('/');
    if !bind {
        return Ok(source.to_string());
    }
    if source.starts_with('/') {
        return Ok(source.to_string());
    }
    if let Some(rest) = source.strip_prefix('~') {
        let home = (cx.vars)("HOME")
            .filter(|h| h.starts_with('/'))
            .ok_or_else(|| {
                at(
                    cx,
                    p,
                    format!("bind mount `{source}` names the home folder, and HOME is not set"),
                    "set HOME, or write the absolute path",
                )
            })?;
        return Ok(format!("{}{rest}", home.trim_end_matches('/')));
    }
    let rel = project_relative(cx, source).ok_or_else(|| {
        at(
            cx,
            p,
            format!("bind mount `{source}` climbs out of the project directory"),
            "mount a directory inside the project, an absolute path, or a named volume",
        )
    })?;
    Ok(if rel == "." {
        "./".to_string()
    } else {
        format!("./{rel}")
    })
}

fn healthcheck(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<toml::Value> {
    let mut t = toml::Table::new();
    let Value::Mapping(m) = v else {
        return Ok(toml::Value::Table(t));
    };
    for (k, hv) in m {
        let k = key_str(k);
        let hp = [p, &[k.as_str()]].concat();
        match k.as_str() {
            "test" => {
                let test = match hv {
                    Value::Sequence(items) => items
                        .iter()
                        .map(|i| scalar(cx, &hp, i, unset))
                        .collect::<Result<Vec<_>>>()?,
                    other => vec!["CMD-SHELL".into(), scalar(cx, &hp, other, unset)?],
                };
                t.insert("test".into(), strings(test));
            }
            "interval" | "timeout" | "start_period" => {
                let raw = scalar(cx, &hp, hv, unset)?;
                let bad = |why: String| at(cx, &hp, why, "write e.g. `5s` or `1m30s`");
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
                let r = scalar(cx, &hp, hv, unset)?;
                let r: i64 = r.parse().map_err(|_| {
                    at(
                        cx,
                        &hp,
                        format!("retries `{r}` is not a number"),
                        "write e.g. `retries: 5`",
                    )
                })?;
                t.insert("retries".into(), r.into());
            }
            "disable" => {
                t.insert("disable".into(), boolean(cx, &hp, hv, unset)?.into());
            }
            other => {
                return Err(at(
                    cx,
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

fn ulimits(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, unset: &mut Unset) -> Result<toml::Value> {
    let mut t = toml::Table::new();
    let Value::Mapping(m) = v else {
        return Ok(toml::Value::Table(t));
    };
    for (k, uv) in m {
        let name = key_str(k);
        let up = [p, &[name.as_str()]].concat();
        let num = |v: &Value, unset: &mut Unset| -> Result<i64> {
            let s = scalar(cx, &up, v, unset)?;
            s.parse().map_err(|_| {
                at(
                    cx,
                    &up,
                    format!("ulimit `{s}` is not a number"),
                    "write e.g. `nofile: 65536`",
                )
            })
        };
        let value = match uv {
            Value::Mapping(pair) => {
                let mut pt = toml::Table::new();
                for k in ["soft", "hard"] {
                    let n = num(pair.get(k).unwrap_or(&Value::Null), unset)?;
                    pt.insert(k.into(), n.into());
                }
                toml::Value::Table(pt)
            }
            other => num(other, unset)?.into(),
        };
        t.insert(name, value);
    }
    Ok(toml::Value::Table(t))
}

/// `depends_on`: a list, or names with `condition` (`service_started`, `service_healthy`,
/// `service_completed_successfully`), `restart` and `required`.
fn depends_on(cx: &Ctx<'_, '_>, p: &[&str], v: &Value, all: &Mapping) -> Result<toml::Value> {
    let entries: Vec<(String, Value)> = match v {
        Value::Mapping(m) => m.iter().map(|(k, v)| (key_str(k), v.clone())).collect(),
        other => list(other)
            .iter()
            .map(|n| (key_str(n), Value::Null))
            .collect(),
    };
    let mut t = toml::Table::new();
    for (dep, opts) in entries {
        let dp = [p, &[dep.as_str()]].concat();
        let mut d = toml::Table::new();
        if let Value::Mapping(opts) = &opts {
            for (ok, ov) in opts {
                let ok = key_str(ok);
                let op = [dp.as_slice(), &[ok.as_str()]].concat();
                match (ok.as_str(), ov) {
                    ("condition", Value::String(c))
                        if matches!(
                            c.as_str(),
                            "service_started"
                                | "service_healthy"
                                | "service_completed_successfully"
                        ) =>
                    {
                        d.insert("condition".into(), c.clone().into());
                    }
                    ("restart" | "required", Value::Bool(b)) => {
                        d.insert(ok.clone(), (*b).into());
                    }
                    (other, _) => {
                        return Err(at(
                            cx,
                            &op,
                            format!("depends_on `{other}` of `{dep}` is not supported by onramp"),
                            "onramp applies `condition` (service_started, service_healthy, service_completed_successfully), `restart` and `required`",
                        ));
                    }
                }
            }
        }
        let optional = d.get("required").and_then(toml::Value::as_bool) == Some(false);
        if !all.contains_key(dep.as_str()) && !optional {
            return Err(at(
                cx,
                &dp,
                format!("depends_on names `{dep}`, which is not a service of this file"),
                "name one of the file's services, or mark it `required: false`",
            ));
        }
        t.insert(dep, toml::Value::Table(d));
    }
    Ok(toml::Value::Table(t))
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
    let (kind, port) = match crate::profile::kinds::kind_of_image(image) {
        Some(kind) => {
            let port = crate::profile::kinds::of(kind)
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

impl Converted {
    /// Whether a service will be started by this run.
    pub fn starts(&self, service: &str) -> bool {
        self.starting.as_ref().is_none_or(|s| s.contains(service))
    }

    /// A problem found in the profile made from this file, at the Compose key it came from
    /// (`env` is `environment`, `resources` and `reservations` are `deploy.resources`).
    pub fn error_at(&self, path: &[String], message: String, help: String) -> Option<Error> {
        if path.first().map(String::as_str) != Some("services") || path.len() < 2 {
            return None;
        }
        let mut p: Vec<String> = path.to_vec();
        if let Some(k) = p.get_mut(2) {
            match k.as_str() {
                "env" => *k = "environment".into(),
                "resources" | "reservations" => *k = "deploy".into(),
                _ => {}
            }
        }
        let pos = (0..=p.len()).rev().find_map(|n| self.spans.get(&p[..n]))?;
        Some(Error::Profile {
            file: self.labels.get(pos.file)?.clone(),
            line: pos.line,
            col: pos.col,
            message,
            help,
        })
    }
}

/// An error at a key path of the Compose file, at the key's own line and column.
pub(super) fn at(cx: &Ctx<'_, '_>, path: &[&str], message: String, help: &str) -> Error {
    let pos = cx.doc.pos(path);
    Error::Profile {
        file: label_of(cx, pos),
        line: pos.line,
        col: pos.col,
        message,
        help: help.to_string(),
    }
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn vars(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("15432".into()),
            "HOME" => Some("/home/dev".into()),
            "API_TOKEN" => Some("tok-from-dotenv-9f8e".into()),
            _ => None,
        }
    }

    #[test]
    fn shell_words_as_compose_splits_them() {
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
            import_only: false,
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
            crate::profile::kinds::requirepass(
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
        let text = "services:\n  db:\n    image: postgres\n    pid: host\n";
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
        assert!(message.contains("`pid` of service `db`"), "{message}");
        assert!(help.contains("healthcheck"), "{help}");
        let text = "services:\n  db:\n    image: postgres\n    deploy:\n      placement: {}\n";
        let err = convert_text(text, &[], &[]).unwrap_err().to_string();
        assert!(
            err.contains("deploy.placement") && err.contains(":5:7"),
            "{err}"
        );
        let text = "services:\n  db:\n    image: postgres\ninclude: [other.yml]\n";
        let err = convert_text(text, &[], &[]).unwrap_err().to_string();
        assert!(
            err.contains("top-level `include`") && err.contains(":4:1"),
            "{err}"
        );
        let text = "services:\n  db:\n    image: postgres\nsecrets: {}\n";
        let c = convert_text(text, &[], &[]).unwrap();
        assert!(
            c.warnings[0].contains(":4:1: top-level `secrets`"),
            "{:?}",
            c.warnings
        );
        let text = "services:\n  db:\n    image: postgres\n    ports: [\"5432\", \"127.0.0.1::6379\", \"8125:8125/udp\", {target: 53, protocol: udp}]\n";
        let c = convert_text(text, &[], &[]).unwrap();
        let ports: Vec<&str> = c.services["db"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(
            ports,
            ["5432", "127.0.0.1::6379", "8125:8125/udp", "53/udp"],
            "ports the engine picks and udp ports are taken"
        );
        let text = "services:\n  db:\n    image: postgres\n    ports: [\"5432/sctp\"]\n";
        let err = convert_text(text, &[], &[]).unwrap_err().to_string();
        assert!(err.contains("sctp") && err.contains(":4:"), "{err}");
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
        let text = "services:\n  web:\n    image: x\n    volumes: [\"../../x:/x\"]\n";
        let err = convert_text(text, &[], &[]).unwrap_err().to_string();
        assert!(err.contains("climbs out of the project"), "{err}");
        let text = "services:\n  web:\n    image: x\n    volumes: [\"/srv/data:/data\", \"~/cache:/c:ro\"]\n";
        let c = convert_text(text, &[], &[]).unwrap();
        let v = c.services["web"]["volumes"].as_array().unwrap();
        assert_eq!(
            v[0].as_str(),
            Some("/srv/data:/data"),
            "absolute binds as Compose takes them"
        );
        assert_eq!(
            v[1].as_str(),
            Some("/home/dev/cache:/c:ro"),
            "~ is the home folder"
        );
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

    fn pos_of(text: &str) -> (usize, usize, String) {
        match convert_text(text, &[], &[]) {
            Err(Error::Profile {
                line, col, message, ..
            }) => (line, col, message),
            other => panic!("expected a located error, got {other:?}"),
        }
    }

    #[test]
    fn every_refusal_points_at_its_own_key_even_when_the_name_repeats() {
        // Each case: the file, then the line and column of the key refused.
        let cases: &[(&str, (usize, usize))] = &[
            // A top-level volume option, with a service `volumes:` earlier in the file.
            (
                "services:\n  db:\n    image: x\n    volumes:\n      - data:/d\nvolumes:\n  data:\n    driver: nfs\n",
                (8, 5),
            ),
            // A service key after a same-named key at a deeper level in another service.
            (
                "services:\n  a:\n    image: x\n    labels:\n      pid: \"yes\"\n  b:\n    image: y\n    pid: host\n",
                (8, 5),
            ),
            (
                "services:\n  a:\n    image: x\n    deploy:\n      placement: {}\n",
                (5, 7),
            ),
            (
                "services:\n  a:\n    image: x\n    healthcheck:\n      test: [CMD, x]\n      bogus: 1\n",
                (6, 7),
            ),
            (
                "services:\n  a:\n    build:\n      context: .\n      ssh: [default]\n",
                (5, 7),
            ),
            (
                "services:\n  a:\n    image: x\n    networks:\n      back:\n        ipv4_address: 10.0.0.2\nnetworks:\n  back: {}\n",
                (6, 9),
            ),
            (
                "services:\n  a:\n    image: x\n    depends_on:\n      b:\n        bogus: true\n  b:\n    image: y\n",
                (6, 9),
            ),
            (
                "services:\n  a:\n    image: x\n    network_mode: container:other\n",
                (4, 5),
            ),
            (
                "services:\n  a:\n    image: x\n    volumes:\n      - ./a:/a\n      - type: npipe\n        target: /x\n",
                (6, 9),
            ),
            (
                "services:\n  a:\n    image: x\n    ports:\n      - \"80:80\"\n      - \"1-2:1-2\"\n",
                (6, 9),
            ),
            (
                "services:\n  a:\n    image: x\n    environment:\n      A: ok\n      B: ${NOPE:?needed}\n",
                (6, 7),
            ),
            (
                "services:\n  a:\n    image: x\nnetworks:\n  n:\n    driver: overlay\n",
                (6, 5),
            ),
            (
                "services:\n  a:\n    image: x\n    user: \"a\u{1}b\"\n",
                (4, 13),
            ),
        ];
        for (text, want) in cases {
            let (line, col, message) = pos_of(text);
            assert_eq!((line, col), *want, "{message}\n{text}");
        }
    }

    #[test]
    fn keys_that_normalise_alike_are_refused_not_dropped() {
        let (line, col, message) =
            pos_of("services:\n  1:\n    image: a\n  \"1\":\n    image: b\n");
        assert_eq!((line, col), (4, 3));
        assert!(message.contains("repeats"), "{message}");
        let (line, _, _) = pos_of("services:\n  true: {image: a}\n  \"true\": {image: b}\n");
        assert_eq!(line, 3);
    }

    #[test]
    fn secrets_never_reach_errors_or_output() {
        let text = "services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: Tr0ub4dor$1x\n";
        let err = convert_text(text, &[], &[]).unwrap_err();
        let shown = crate::secrets::mask_text(&format!("{err} {}", err.help().unwrap_or_default()));
        assert!(!shown.contains("Tr0ub4dor"), "{shown}");
        assert!(shown.contains(":5:7"), "at the key: {shown}");
        let text = "services:\n  web:\n    image: x\n    labels:\n      token: \"${API_TOKEN}\"\n    cpus: ${API_TOKEN}\n";
        let err = convert_text(text, &[], &[]).unwrap_err();
        let shown = crate::secrets::mask_text(&err.to_string());
        assert!(!shown.contains("tok-from-dotenv"), "{shown}");
        assert_eq!(
            crate::secrets::mask_text("token=tok-from-dotenv-9f8e"),
            "token=***",
            "the label's value is masked wherever it is printed"
        );
    }

    const SDK: &str = "name: kailash_sdk\nservices:\n  postgres:\n    image: pgvector/pgvector:pg15\n    container_name: sdk_pg\n    ports: [\"5434:5432\"]\n    deploy:\n      resources:\n        limits: {memory: 2G}\n        reservations: {memory: 1G}\n  redis:\n    image: redis:7-alpine\n    ports: [\"6380:6379\"]\n    command: >\n      redis-server\n      --save \"\"\n      --appendonly no\n  ollama:\n    image: ollama/ollama\n    pid: host\n    volumes: [models:/root/.ollama]\nvolumes:\n  models:\n    name: kailash_models\nnetworks:\n  default:\n    name: sdk_net\n";

    #[test]
    fn unsupported_keys_refuse_only_services_that_will_start() {
        let named: Vec<String> = vec!["postgres".into(), "redis".into()];
        let c = convert_text(SDK, &[], &named).unwrap();
        assert_eq!(c.services.keys().collect::<Vec<_>>(), ["postgres", "redis"]);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(
            c.warnings[0].contains("`ollama` left out") && c.warnings[0].contains(":20:5"),
            "{:?}",
            c.warnings
        );
        let pg = c.services["postgres"].as_table().unwrap();
        assert_eq!(pg["container_name"].as_str(), Some("sdk_pg"));
        assert_eq!(pg["reservations"]["memory"].as_str(), Some("1G"));
        let redis = c.services["redis"].as_table().unwrap();
        let cmd: Vec<&str> = redis["command"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(cmd, ["redis-server", "--save", "", "--appendonly", "no"]);
        assert_eq!(c.volumes["models"]["name"].as_str(), Some("kailash_models"));
        assert_eq!(c.networks["default"]["name"].as_str(), Some("sdk_net"));
        let (line, col, _) = pos_of(SDK);
        assert_eq!((line, col), (20, 5), "starting everything refuses the file");
    }

    #[test]
    fn capabilities_security_options_and_userns_are_taken_as_compose_passes_them() {
        let text = "services:\n  app:\n    image: x\n    cap_add: [SYS_PTRACE, SYS_ADMIN]\n    cap_drop:\n      - NET_RAW\n    security_opt:\n      - seccomp:unconfined\n      - no-new-privileges:true\n    userns_mode: host\n    privileged: false\n    init: true\n";
        let c = convert_text(text, &[], &[]).unwrap();
        let app = c.services["app"].as_table().unwrap();
        let list = |k: &str| -> Vec<&str> {
            app[k]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
                .collect()
        };
        assert_eq!(list("cap_add"), ["SYS_PTRACE", "SYS_ADMIN"]);
        assert_eq!(list("cap_drop"), ["NET_RAW"]);
        assert_eq!(
            list("security_opt"),
            ["seccomp:unconfined", "no-new-privileges:true"]
        );
        assert_eq!(app["userns_mode"].as_str(), Some("host"));
        assert_eq!(app["privileged"].as_bool(), Some(false));
        assert_eq!(app["init"].as_bool(), Some(true));
        for (bad, what) in [
            (
                "    security_opt: [\"seccomp:./profile.json\"]\n",
                "seccomp profile file",
            ),
            (
                "    security_opt: [\"bogus\"]\n",
                "not one the engine takes",
            ),
            ("    userns_mode: \"private\"\n", "userns_mode `private`"),
        ] {
            let text = format!("services:\n  app:\n    image: x\n{bad}");
            let err = convert_text(&text, &[], &[]).unwrap_err().to_string();
            assert!(err.contains(what) && err.contains(":4:"), "{err}");
        }
    }

    #[test]
    fn a_zero_limit_is_no_limit() {
        let text = "services:\n  app:\n    image: x\n    cpus: \"${CPUS:-0}\"\n    mem_limit: \"${MEM:-0}\"\n    deploy:\n      resources:\n        limits: {memory: 1g, cpus: \"0\"}\n";
        let c = convert_text(text, &[], &[]).unwrap();
        let app = c.services["app"].as_table().unwrap();
        assert_eq!(app["resources"]["memory"].as_str(), Some("1g"));
        assert!(app["resources"].get("cpus").is_none(), "{app:?}");
    }

    #[test]
    fn compose_keys_beyond_the_basics_are_taken() {
        let text = "services:\n  init:\n    image: busybox\n    command: [\"true\"]\n  app:\n    image: x\n    tty: true\n    stdin_open: true\n    platform: linux/amd64\n    extra_hosts:\n      - \"host.docker.internal:host-gateway\"\n      - \"db=10.0.0.5\"\n    networks:\n      back:\n        aliases: [api]\n    depends_on:\n      init:\n        condition: service_completed_successfully\n        restart: true\n    volumes:\n      - type: tmpfs\n        target: /scratch\n        tmpfs: {size: 1000000}\n    build:\n      context: .\n      target: dev\n  side:\n    image: y\n    network_mode: service:app\nnetworks:\n  back:\n    driver: bridge\n  ext:\n    external: true\n";
        let c = convert_text(text, &[], &[]).unwrap();
        let app = c.services["app"].as_table().unwrap();
        assert_eq!(app["tty"].as_bool(), Some(true));
        assert_eq!(app["platform"].as_str(), Some("linux/amd64"));
        let hosts: Vec<&str> = app["extra_hosts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(hosts, ["host.docker.internal:host-gateway", "db:10.0.0.5"]);
        assert_eq!(app["networks"]["back"]["aliases"][0].as_str(), Some("api"));
        assert_eq!(
            app["depends_on"]["init"]["condition"].as_str(),
            Some("service_completed_successfully")
        );
        assert_eq!(app["depends_on"]["init"]["restart"].as_bool(), Some(true));
        assert_eq!(
            app["volumes"][0].as_str(),
            Some("type=tmpfs,target=/scratch,tmpfs-size=1000000"),
            "kept among the volumes, where Compose hashes it"
        );
        assert_eq!(app["build"]["target"].as_str(), Some("dev"));
        assert_eq!(
            c.services["side"]["network_mode"].as_str(),
            Some("service:app")
        );
        let dep = &c.services["side"]["depends_on"]["app"];
        assert_eq!(dep["condition"].as_str(), Some("service_started"));
        assert_eq!(
            dep["restart"].as_bool(),
            Some(true),
            "as compose-go adds it"
        );
        assert_eq!(c.networks["ext"]["external"].as_bool(), Some(true));
    }

    #[test]
    fn extends_merges_the_base_and_keeps_positions() {
        let text = "services:\n  base:\n    image: x\n    environment: {A: \"1\", B: \"2\"}\n    ports: [\"1:1\"]\n    pid: host\n  web:\n    extends: base\n    environment: {B: \"3\"}\n    ports: [\"2:2\"]\n";
        let named: Vec<String> = vec!["other".into()];
        let c = convert_text(text, &[], &named).unwrap_or_default();
        assert!(c.services.is_empty(), "both carry the base's refused key");
        let (line, col, message) = pos_of(text);
        assert_eq!(
            (line, col),
            (6, 5),
            "the refused key where it is written: {message}"
        );
        let text = text.replace("    pid: host\n", "");
        let c = convert_text(&text, &[], &[]).unwrap();
        let web = c.services["web"].as_table().unwrap();
        assert_eq!(web["image"].as_str(), Some("x"));
        assert_eq!(web["env"]["A"].as_str(), Some("1"));
        assert_eq!(web["env"]["B"].as_str(), Some("3"));
        let ports: Vec<&str> = web["ports"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(ports, ["1:1", "2:2"]);
        let cycle = "services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n";
        let (_, _, message) = pos_of(cycle);
        assert!(message.contains("cycle"), "{message}");
    }

    #[test]
    fn extends_from_another_folder_resolves_that_files_paths_from_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("common/app")).unwrap();
        std::fs::write(dir.path().join("common/base.env"), "FROM_BASE=1\n").unwrap();
        std::fs::write(
            dir.path().join("common/base.yml"),
            "services:\n  base:\n    image: x\n    build: {context: ./app, target: dev}\n    env_file: base.env\n    volumes: [\"./conf:/etc/x:ro\", \"data:/data\", \"/abs:/abs\"]\n",
        )
        .unwrap();
        let c = convert(&Input {
            label: "deploy/compose.yml".into(),
            text: "services:\n  web:\n    extends: {file: ../common/base.yml, service: base}\n"
                .into(),
            rel_dir: PathBuf::from("deploy"),
            project_dir: dir.path(),
            vars: &vars,
            profiles: &[],
            named: &[],
            import_only: false,
        })
        .unwrap();
        let web = c.services["web"].as_table().unwrap();
        assert_eq!(web["build"]["context"].as_str(), Some("common/app"));
        assert_eq!(web["build"]["target"].as_str(), Some("dev"));
        assert_eq!(web["env"]["FROM_BASE"].as_str(), Some("1"));
        let vols: Vec<&str> = web["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(vols, ["./common/conf:/etc/x:ro", "data:/data", "/abs:/abs"]);
    }

    #[test]
    fn extends_reads_another_file_inside_the_project_with_its_positions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("common.yml"),
            "services:\n  base:\n    image: x\n    pid: host\n  plain:\n    image: y\n    environment: {A: \"1\"}\n",
        )
        .unwrap();
        let convert_with = |text: &str| {
            convert(&Input {
                label: "compose.yml".into(),
                text: text.into(),
                rel_dir: PathBuf::new(),
                project_dir: dir.path(),
                vars: &vars,
                profiles: &[],
                named: &[],
                import_only: false,
            })
        };
        let c = convert_with(
            "services:\n  web:\n    extends: {file: common.yml, service: plain}\n    ports: [\"8080:80\"]\n",
        )
        .unwrap();
        assert_eq!(c.services["web"]["image"].as_str(), Some("y"));
        assert_eq!(c.services["web"]["env"]["A"].as_str(), Some("1"));
        let err =
            convert_with("services:\n  web:\n    extends: {file: common.yml, service: base}\n")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("common.yml:4:5") && err.contains("`pid`"),
            "{err}"
        );
        let err =
            convert_with("services:\n  web:\n    extends: {file: common.yml, service: nope}\n")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("compose.yml:3:5") && err.contains("`nope`"),
            "{err}"
        );
        let err = convert_with("services:\n  web:\n    extends: {file: ../out.yml, service: a}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside the project"), "{err}");
    }
}
