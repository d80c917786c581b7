//! Semantic rules a profile must satisfy beyond its TOML types.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ProbeKind, Profile, Service, Threshold};
use crate::version::VersionReq;

/// A rule broken at a key path (`["services", "redis", "ports", "0"]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: Vec<String>,
    pub message: String,
    pub help: String,
}

/// A published port: `[ip:][host:]container[/tcp|/udp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMap {
    pub host_ip: std::net::IpAddr,
    /// 0: the engine picks a free port when the container starts (`"5432"`, `"ip::5432"`).
    pub host: u16,
    pub container: u16,
    pub udp: bool,
}

impl PortMap {
    /// A TCP port on a host port fixed in advance (one onramp can check and probe before
    /// the container runs).
    pub fn fixed_tcp(&self) -> bool {
        self.host != 0 && !self.udp
    }
}

/// Neo4j 5 refuses to start with a shorter password.
const NEO4J_MIN_PASSWORD: usize = 8;

fn problem(path: &[&str], message: impl Into<String>, help: impl Into<String>) -> Problem {
    Problem {
        path: path.iter().map(|s| s.to_string()).collect(),
        message: message.into(),
        help: help.into(),
    }
}

/// Every problem in a merged profile, in document order of the keys checked, where the services named in `scripts` came from a Compose file: their command,
/// entrypoint and healthcheck arguments may hold line breaks and tabs (a multi-line `sh -c`
/// script, as Compose files write them), since each reaches the engine as one argv word and
/// YAML only through the escaper. Profiles written in TOML never may.
pub fn check_with(profile: &Profile, scripts: &[String]) -> Vec<Problem> {
    let mut problems = check_strings(profile, scripts);
    problems.extend(check_names(profile));
    problems.extend(check_requirements(profile));
    problems.extend(check_migrate(profile));
    problems.extend(check_network(&profile.network));
    let mut host_ports: BTreeMap<(std::net::IpAddr, u16, bool), String> = BTreeMap::new();
    for (name, svc) in profile.services() {
        problems.extend(check_service(name, svc));
        // Compose takes a file whose services share a host port (they are started a few at
        // a time); `up` refuses to start two of them together.
        if scripts.contains(name) {
            continue;
        }
        for (i, p) in svc.ports.iter().flatten().enumerate() {
            let Ok(map) = parse_port(p) else { continue };
            if map.host == 0 {
                continue;
            }
            let clash = host_ports
                .iter()
                .find(|((ip, port, udp), _)| {
                    *udp == map.udp
                        && *port == map.host
                        && (*ip == map.host_ip
                            || ip.is_unspecified()
                            || map.host_ip.is_unspecified())
                })
                .map(|(_, owner)| owner.clone());
            if let Some(owner) = clash {
                let idx = i.to_string();
                problems.push(problem(
                    &["services", name, "ports", &idx],
                    format!(
                        "host port {} is published by both `{owner}` and `{name}`",
                        map.host
                    ),
                    format!(
                        "give `{name}` another host port, e.g. \"{}:{}\"",
                        map.host + 1,
                        map.container
                    ),
                ));
            }
            host_ports.insert((map.host_ip, map.host, map.udp), name.clone());
        }
    }
    for (name, svc) in profile.services() {
        for (dep, _) in svc.dependencies() {
            if !profile.services().any(|(n, _)| *n == dep) {
                problems.push(problem(
                    &["services", name, "depends_on"],
                    format!("`{name}` depends on `{dep}`, which the profile does not have"),
                    "name a service defined under [services], or remove the dependency",
                ));
            }
        }
    }
    if let Some(cycle) = dependency_cycle(profile) {
        problems.push(problem(
            &["services", &cycle[0], "depends_on"],
            format!("depends_on makes a cycle: {}", cycle.join(" -> ")),
            "remove one of these dependencies",
        ));
    }
    let mut seen_paths: Vec<String> = Vec::new();
    for (i, f) in profile.files.iter().enumerate() {
        problems.extend(check_file(i, f));
        let norm = normal_path(&f.path);
        if seen_paths.contains(&norm) {
            let idx = i.to_string();
            problems.push(problem(
                &["files", &idx, "path"],
                format!("file path `{}` is given twice in [[files]]", f.path),
                "keep one [[files]] entry per path",
            ));
        }
        seen_paths.push(norm);
    }
    for (i, imp) in profile.sdk.imports.iter().flatten().enumerate() {
        if !is_import_spec(imp) {
            let idx = i.to_string();
            problems.push(problem(
                &["sdk", "imports", &idx],
                format!("`{imp}` is not `module` or `module:Name`"),
                "write imports as \"package.module:Name\", e.g. \"kailash.runtime.local:LocalRuntime\"",
            ));
        }
    }
    for (phase, gate) in &profile.gates {
        for (i, c) in gate.criteria.iter().enumerate() {
            let idx = i.to_string();
            let kinds = [
                c.imports.is_some(),
                c.services.is_some(),
                c.command.is_some(),
            ]
            .iter()
            .filter(|k| **k)
            .count();
            if kinds != 1 {
                problems.push(problem(
                    &["gates", phase, "criteria", &idx],
                    format!("criterion `{}` of gate {phase} needs exactly one of `imports`, `services` or `command`", c.name),
                    "give it `imports = [...]`, `services = [...]` or `command = [...]` with `metric` and `min`",
                ));
            }
            for (key, v) in [("min", c.min), ("total", c.total)] {
                if let Some(v) = v
                    && (!v.is_finite() || v < 0.0)
                {
                    problems.push(problem(
                        &["gates", phase, "criteria", &idx, key],
                        format!(
                            "`{key}` of criterion `{}`: {v} is not a finite number of at least 0",
                            c.name
                        ),
                        "give a number such as 1 or 95.5",
                    ));
                }
            }
            if c.command.is_some() && c.metric.is_none() {
                problems.push(problem(
                    &["gates", phase, "criteria", &idx, "command"],
                    format!("criterion `{}` runs a command but has no `metric`", c.name),
                    "add metric = \"pytest_collected\", \"pytest_pass_rate\" or \"exit_code\"",
                ));
            }
            for s in c.services.iter().flatten() {
                if !profile.services().any(|(n, _)| n == s) {
                    problems.push(problem(
                        &["gates", phase, "criteria", &idx, "services"],
                        format!(
                            "criterion `{}` names service `{s}`, which the profile does not have",
                            c.name
                        ),
                        "name services defined under [services]",
                    ));
                }
            }
        }
    }
    problems
}

/// A mirror URL's host and the credentials before it (`https://USER:PW@HOST/...`), if it has any.
fn mirror_credentials(m: &str) -> Option<(&str, &str)> {
    let rest = m.split_once("://").map_or(m, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let (userinfo, host) = authority.rsplit_once('@')?;
    Some((host, userinfo))
}

/// `[network] mirrors`, `proxy` and `image_prefix`: written into daemon.json, Podman's
/// registries.conf.d, a systemd drop-in, the engine's restart and every image name, so they must
/// be what the engine takes. A mirror the engine refuses would leave it unable to start after
/// `doctor --fix` restarts it; a line break in a proxy would be a drop-in's next line. The team
/// file's values are checked here too.
pub(super) fn check_network(n: &super::Network) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(p) = n.proxy.as_deref()
        && !is_proxy_url(p)
    {
        let shown = p
            .rsplit_once('@')
            .map_or(p.to_string(), |(_, h)| format!("***@{h}"));
        out.push(problem(
            &["network", "proxy"],
            format!("proxy {shown:?} is not a proxy URL the engine and pip take"),
            "write it as http://HOST[:PORT] (or https://, socks5://), with USER:PASSWORD@ before HOST if the proxy wants them, percent-encoding a `\"` or `\\` in the password, e.g. proxy = \"http://proxy.corp.example:3128\"",
        ));
    }
    for (i, m) in n.mirrors.iter().flatten().enumerate() {
        let idx = i.to_string();
        if let Some((host, _)) = mirror_credentials(m) {
            out.push(problem(
                &["network", "mirrors", &idx],
                format!(
                    "mirror \"{}://***@{host}\" holds credentials, which the engine does not take in a mirror (it refuses to start with them)",
                    m.split_once("://").map_or("https", |(scheme, _)| scheme)
                ),
                format!(
                    "write it as https://HOST[:PORT][/PATH] without USER:PASSWORD@, e.g. mirrors = [\"https://{host}\"], and sign in to it with `docker login {host}`"
                ),
            ));
        } else if !is_mirror_url(m) {
            out.push(problem(
                &["network", "mirrors", &idx],
                format!("mirror {m:?} is not an http(s) URL of a registry (the engine refuses to start with it)"),
                "write it as https://HOST[:PORT][/PATH], e.g. mirrors = [\"https://mirror.corp.example\"]",
            ));
        }
    }
    if let Some(prefix) = n.image_prefix.as_deref() {
        let bare = prefix
            .strip_prefix("https://")
            .or_else(|| prefix.strip_prefix("http://"));
        let bare = bare.unwrap_or(prefix).trim_end_matches('/');
        let ok = match bare.split_once('/') {
            Some((host, path)) => is_registry_host(host) && path.split('/').all(is_repo_part),
            None => is_registry_host(bare),
        };
        if !ok {
            out.push(problem(
                &["network", "image_prefix"],
                format!("image_prefix {prefix:?} is not a registry path"),
                "write it as HOST[:PORT][/PATH] in lowercase, e.g. image_prefix = \"registry.corp.example/docker-hub\"",
            ));
        }
    }
    out
}

/// `[SCHEME://][USERINFO@]HOST[:PORT][/]` with an http, https or socks5 scheme (Go's and pip's
/// proxies; without one, http), and no control character, `"` or `\` in the userinfo.
fn is_proxy_url(p: &str) -> bool {
    let rest = ["http://", "https://", "socks5://", "socks5h://"]
        .iter()
        .find_map(|s| p.strip_prefix(s))
        .unwrap_or(p);
    let (info, host) = rest
        .rsplit_once('@')
        .map_or((None, rest), |(i, h)| (Some(i), h));
    let host = host.strip_suffix('/').unwrap_or(host);
    !rest.contains("://")
        && info.is_none_or(|i| {
            !i.is_empty() && !i.chars().any(|c| c.is_control() || "\"\\".contains(c))
        })
        && is_registry_host(host)
}

/// `http(s)://HOST[:PORT][/PATH]`, without credentials, query or spaces.
fn is_mirror_url(m: &str) -> bool {
    let Some(rest) = m
        .strip_prefix("https://")
        .or_else(|| m.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    is_registry_host(host)
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~/".contains(c))
}

/// A registry's `host[:port]`: a host name or IPv4 address (no leading `.` or `-`, no `..`)
/// or a bracketed IPv6 address.
fn is_registry_host(h: &str) -> bool {
    if h.starts_with('[') {
        return is_host_port(h)
            || h.strip_prefix('[')
                .and_then(|a| a.strip_suffix(']'))
                .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok());
    }
    let name = match h.split_once(':') {
        Some((name, port)) if port.parse::<u16>().is_ok_and(|p| p > 0) => name,
        Some(_) => return false,
        None => h,
    };
    !name.is_empty()
        && !name.contains("..")
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
}

/// One component of a repository path: lowercase letters, digits and `._-` inside.
fn is_repo_part(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with(['.', '-', '_'])
        && !p.ends_with(['.', '-', '_'])
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

fn check_migrate(profile: &Profile) -> Vec<Problem> {
    let Some(m) = &profile.migrate else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(d) = &m.distro
        && !crate::escape::is_name(d)
    {
        out.push(problem(
            &["migrate", "distro"],
            format!("distro `{d}` is not a WSL distribution name"),
            "use a name from `wsl --list --online`, such as \"Ubuntu-24.04\"",
        ));
    }
    if let Some(g) = m.memory_gib
        && (!g.is_finite() || g < 1.0)
    {
        out.push(problem(
            &["migrate", "memory_gib"],
            format!("`memory_gib`: {g} is not a number of GiB of at least 1"),
            "give the WSL2 VM's memory in GiB, e.g. 16",
        ));
    }
    if m.processors == Some(0) {
        out.push(problem(
            &["migrate", "processors"],
            "`processors`: 0 processors".to_string(),
            "give at least 1, or leave it out",
        ));
    }
    out
}

fn check_requirements(profile: &Profile) -> Vec<Problem> {
    let r = &profile.requirements;
    let mut out = Vec::new();
    for (key, t) in [
        ("memory_gib", r.memory_gib),
        ("cpus", r.cpus),
        ("disk_free_gib", r.disk_free_gib),
    ] {
        let values = t.iter().flat_map(|t| [t.min, t.recommended]).flatten();
        if let Some(bad) = values.into_iter().find(|v| !v.is_finite() || *v < 0.0) {
            out.push(problem(
                &["requirements", key],
                format!("`{key}`: {bad} is not a finite number of at least 0"),
                "give `min` and `recommended` as numbers such as 8 or 16.5",
            ));
            continue;
        }
        if let Some(Threshold {
            min: Some(min),
            recommended: Some(rec),
        }) = t
            && min > rec
        {
            out.push(problem(
                &["requirements", key],
                format!("`{key}`: min {min} is above recommended {rec}"),
                "make `min` at most `recommended`",
            ));
        }
    }
    if let Some(req) = &r.python
        && let Err(e) = VersionReq::parse(req)
    {
        out.push(problem(
            &["requirements", "python"],
            format!("python requirement `{req}`: {e}"),
            "write it as comparators joined by commas, e.g. \">=3.10\" or \">=3.10,<3.14\"",
        ));
    }
    out
}

fn check_service(name: &str, svc: &Service) -> Vec<Problem> {
    let mut out = Vec::new();
    match (&svc.image, &svc.address) {
        (None, None) if svc.build.is_none() => out.push(problem(
            &["services", name],
            format!("service `{name}` has neither `image` nor `address`"),
            "give it `image = \"...\"` (or `build`) to start it, or `address = \"host:port\"` for an external one",
        )),
        (Some(_), Some(_)) => out.push(problem(
            &["services", name, "address"],
            format!("service `{name}` has both `image` and `address`"),
            "keep `image` for a service onramp starts, or `address` for an external one",
        )),
        _ => {}
    }
    if let Some(addr) = &svc.address
        && !is_host_port(addr)
    {
        out.push(problem(
            &["services", name, "address"],
            format!("address `{addr}` is not `host:port`"),
            "write it as \"host:port\", e.g. \"127.0.0.1:5432\"",
        ));
    }
    for (i, p) in svc.ports.iter().flatten().enumerate() {
        if let Err(e) = parse_port(p) {
            let idx = i.to_string();
            out.push(problem(
                &["services", name, "ports", &idx],
                format!("port `{p}` of `{name}`: {e}"),
                "write ports as \"HOST:CONTAINER\", e.g. \"5432:5432\" (optionally \"127.0.0.1:5432:5432\")",
            ));
        }
    }
    if let Some(t) = &svc.timeout
        && let Err(e) = parse_duration(t)
    {
        out.push(problem(
            &["services", name, "timeout"],
            format!("timeout `{t}`: {e}"),
            "write a duration such as \"90s\", \"2m\" or \"500ms\"",
        ));
    }
    for (k, v) in svc.env.iter().flatten() {
        if crate::escape::dotenv(v).is_none() {
            out.push(problem(
                &["services", name, "env", k],
                format!("{k} of `{name}` has a `$` together with a `'` or a backslash, which no .env form keeps literal"),
                "drop the `$`, or the quote or backslash, from the value",
            ));
        }
    }
    let probe_strings = svc.probe.iter().flat_map(|p| {
        [
            ("user", &p.user),
            ("password", &p.password),
            ("database", &p.database),
        ]
    });
    for (key, v) in probe_strings {
        if let Some(v) = v
            && crate::escape::dotenv(v).is_none()
        {
            out.push(problem(
                &["services", name, "probe", key],
                format!("probe {key} of `{name}` has a `$` together with a `'` or a backslash, which no .env form keeps literal"),
                "drop the `$`, or the quote or backslash, from the value",
            ));
        }
    }
    out.extend(check_probe(name, svc));
    out.extend(check_neo4j_password(name, svc));
    out.extend(check_compose_keys(name, svc));
    out
}

/// The keys with Compose's meaning: sizes, durations, restart policies, build contexts.
fn check_compose_keys(name: &str, svc: &Service) -> Vec<Problem> {
    let mut out = Vec::new();
    let size = |key: &str, v: &Option<String>, path: &[&str], out: &mut Vec<Problem>| {
        if let Some(v) = v
            && let Err(e) = parse_size(v)
        {
            out.push(problem(
                path,
                format!("{key} `{v}` of `{name}`: {e}"),
                "write a size such as \"512m\", \"2g\" or a number of bytes",
            ));
        }
    };
    size(
        "shm_size",
        &svc.shm_size,
        &["services", name, "shm_size"],
        &mut out,
    );
    if let Some(r) = &svc.resources {
        size(
            "memory",
            &r.memory,
            &["services", name, "resources", "memory"],
            &mut out,
        );
        if r.cpus.is_some_and(|c| !(c > 0.0 && c <= 1024.0)) {
            out.push(problem(
                &["services", name, "resources", "cpus"],
                format!("cpus of `{name}` must be a positive number"),
                "write e.g. `cpus = 1.5`",
            ));
        }
    }
    if let Some(r) = &svc.restart
        && !is_restart_policy(r)
    {
        out.push(problem(
            &["services", name, "restart"],
            format!("restart policy `{r}` of `{name}` is not one Docker knows"),
            "use \"no\", \"always\", \"unless-stopped\" or \"on-failure[:N]\"",
        ));
    }
    if let Some(h) = &svc.healthcheck {
        let spec = h.spec();
        for (key, v) in [
            ("interval", &spec.interval),
            ("timeout", &spec.timeout),
            ("start_period", &spec.start_period),
        ] {
            let Some(v) = v else { continue };
            // The engine refuses a healthcheck duration under 1 ms (0 means its default).
            let e = match parse_duration(v) {
                Ok(d) if !d.is_zero() && d < Duration::from_millis(1) => {
                    SpecError("the engine refuses a healthcheck duration under 1ms".into())
                }
                Ok(_) => continue,
                Err(e) => e,
            };
            out.push(problem(
                &["services", name, "healthcheck", key],
                format!("healthcheck {key} `{v}` of `{name}`: {e}"),
                "write a duration such as \"5s\" or \"1m\"",
            ));
        }
    }
    if let Some(b) = &svc.build
        && !is_inside(&b.context)
    {
        out.push(problem(
            &["services", name, "build", "context"],
            format!(
                "build context `{}` of `{name}` is outside the project directory",
                b.context
            ),
            "give a directory relative to the project, without `..`",
        ));
    }
    if let Some(b) = &svc.build
        && let Some(d) = &b.dockerfile
        && !is_inside(d)
    {
        out.push(problem(
            &["services", name, "build", "dockerfile"],
            format!("dockerfile `{d}` of `{name}` is outside its build context"),
            "name a file inside the context, e.g. \"Dockerfile\"",
        ));
    }
    for n in svc.ulimits.iter().flatten().map(|(n, _)| n) {
        if n.is_empty() || !n.chars().all(|c| c.is_ascii_lowercase()) {
            out.push(problem(
                &["services", name, "ulimits", n],
                format!("ulimit `{n}` of `{name}` is not a limit name"),
                "use Docker's names, e.g. `nofile`, `nproc`, `memlock`",
            ));
        }
    }
    for t in svc.tmpfs.iter().flatten() {
        if !t.starts_with('/') {
            out.push(problem(
                &["services", name, "tmpfs"],
                format!("tmpfs `{t}` of `{name}` is not an absolute path"),
                "write it as \"/path\" or \"/path:size=64m\"",
            ));
        }
    }
    out
}

fn is_restart_policy(r: &str) -> bool {
    match r.split_once(':') {
        Some(("on-failure", n)) => n.parse::<u32>().is_ok(),
        Some(_) => false,
        None => matches!(r, "no" | "always" | "unless-stopped" | "on-failure"),
    }
}

/// A relative path that stays below its base.
fn is_inside(p: &str) -> bool {
    let path = std::path::Path::new(p);
    !p.is_empty()
        && !path.is_absolute()
        && !p.starts_with(['/', '\\'])
        && !path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
}

/// Parse a size: bytes, or a number with `b`, `k`, `m`, `g` (Compose's units, powers of 1024).
pub fn parse_size(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').filter(|r| !r.is_empty()).unwrap_or(&t);
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{num}` is not a number"))?;
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("unknown unit `{unit}` (b, k, m or g)")),
    };
    let bytes = n * mult;
    if !(1.0..9.0e18).contains(&bytes) {
        return Err("out of range".into());
    }
    Ok(bytes as i64)
}

fn check_probe(name: &str, svc: &Service) -> Vec<Problem> {
    let Some(probe) = &svc.probe else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(port) = probe.port
        && svc.image.is_some()
        && !svc.ports().iter().any(|p| p.container == port)
    {
        out.push(problem(
            &["services", name, "probe", "port"],
            format!("probe port {port} of `{name}` is not one of its published container ports"),
            format!("publish it in `ports` (e.g. \"{port}:{port}\") or probe a published port"),
        ));
    }
    if svc.image.is_some() && svc.ports.as_ref().is_none_or(|p| p.is_empty()) {
        out.push(problem(
            &["services", name, "probe"],
            format!("`{name}` has a probe but publishes no port to probe"),
            "add `ports = [\"HOST:CONTAINER\"]`; onramp probes from the host",
        ));
    }
    if probe.kind == ProbeKind::Http && probe.path.as_deref().is_some_and(|p| !p.starts_with('/')) {
        out.push(problem(
            &["services", name, "probe", "path"],
            "http probe path must start with `/`",
            "write it as \"/health\"",
        ));
    }
    out
}

fn check_neo4j_password(name: &str, svc: &Service) -> Vec<Problem> {
    let is_neo4j = svc.probe.as_ref().map(|p| p.kind) == Some(ProbeKind::Neo4j)
        || svc.image.as_deref().is_some_and(|i| i.contains("neo4j"));
    let auth = svc.env.as_ref().and_then(|e| e.get("NEO4J_AUTH"));
    match auth.and_then(|a| a.split_once('/')) {
        Some((_, pw)) if is_neo4j && pw.chars().count() < NEO4J_MIN_PASSWORD => vec![problem(
            &["services", name, "env", "NEO4J_AUTH"],
            format!(
                "Neo4j 5 refuses passwords shorter than {NEO4J_MIN_PASSWORD} characters (this one has {})",
                pw.chars().count()
            ),
            "set NEO4J_AUTH = \"neo4j/<at least 8 characters>\"",
        )],
        _ => Vec::new(),
    }
}

fn check_file(i: usize, f: &super::FileSpec) -> Vec<Problem> {
    let idx = i.to_string();
    let mut out = Vec::new();
    if !is_inside(&f.path) || normal_path(&f.path).is_empty() {
        out.push(problem(
            &["files", &idx, "path"],
            format!("file path `{}` is outside the project directory", f.path),
            "give a path relative to the project directory, without `..`",
        ));
    }
    let first = normal_path(&f.path);
    let first = first.split('/').next().unwrap_or("");
    let reserved = [".onramp", ".git"]
        .iter()
        .any(|r| first.eq_ignore_ascii_case(r))
        || normal_path(&f.path)
            .split('/')
            .any(|c| c.eq_ignore_ascii_case(".git"));
    if reserved {
        out.push(problem(
            &["files", &idx, "path"],
            format!(
                "file path `{}` is inside `.onramp/` or `.git/`, which onramp never writes",
                f.path
            ),
            "choose a path in the project outside `.onramp/` and `.git/`",
        ));
    }
    if !super::is_embedded(&f.template) && (!is_inside(&f.template) || f.template.contains(':')) {
        out.push(problem(
            &["files", &idx, "template"],
            format!(
                "template `{}` is neither an embedded template nor a path inside the project",
                f.template
            ),
            "use an embedded template (env, docker-compose.test.yml, windows_patch.py) or a relative path without `..`",
        ));
    }
    if let Some(mode) = &f.mode {
        match parse_mode(mode) {
            None => out.push(problem(
                &["files", &idx, "mode"],
                format!("mode `{mode}` is not an octal permission"),
                "write it as a quoted octal string such as \"0600\" or \"0644\"",
            )),
            Some(m) if m & 0o7000 != 0 || m & 0o002 != 0 => out.push(problem(
                &["files", &idx, "mode"],
                format!("mode `{mode}` is setuid, setgid, sticky or world-writable"),
                "use a plain permission such as \"0600\", \"0644\" or \"0755\"",
            )),
            Some(_) => {}
        }
    }
    out
}

/// A `[[files]]` path without `.` components or repeated separators, for comparison.
fn normal_path(path: &str) -> String {
    path.split(['/', '\\'])
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// No control character (NUL, newline, escape, ...) in any key or string of the profile.
fn check_strings(profile: &Profile, scripts: &[String]) -> Vec<Problem> {
    let mut out = Vec::new();
    let value = serde_json::to_value(profile).unwrap_or_default();
    walk_strings(&value, &mut Vec::new(), scripts, &mut out);
    out
}

fn walk_strings(
    v: &serde_json::Value,
    path: &mut Vec<String>,
    scripts: &[String],
    out: &mut Vec<Problem>,
) {
    use serde_json::Value;
    let report = |out: &mut Vec<Problem>, path: &[String], c: char| {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        out.push(problem(
            &p,
            format!(
                "`{}` contains the control character {c:?}",
                path.join(".").escape_debug()
            ),
            "remove it: profile strings may not hold control characters (NUL, line breaks, escapes)",
        ));
    };
    match v {
        Value::String(s) => {
            let c = if is_argv(path) && path.get(1).is_some_and(|s| scripts.contains(s)) {
                s.chars()
                    .find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            } else {
                crate::escape::control_char(s)
            };
            if let Some(c) = c {
                report(out, path, c);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                walk_strings(item, path, scripts, out);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                path.push(k.clone());
                if let Some(c) = crate::escape::control_char(k) {
                    report(out, path, c);
                } else {
                    walk_strings(item, path, scripts, out);
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// An argument of a command, entrypoint or healthcheck test.
fn is_argv(path: &[String]) -> bool {
    let at = |i: usize| path.get(i).map(String::as_str);
    at(0) == Some("services")
        && (matches!(at(2), Some("command" | "entrypoint"))
            || (at(2) == Some("healthcheck") && path.len() >= 4))
}

/// Service, volume and profile names, and env keys, through the one name validator.
fn check_names(profile: &Profile) -> Vec<Problem> {
    use crate::escape::{is_env_key, is_name};
    let mut out = Vec::new();
    if let Some(n) = &profile.name
        && !is_name(n)
    {
        out.push(problem(
            &["name"],
            format!("profile name `{}` is not a name", n.escape_debug()),
            "use letters, digits, `_`, `.` and `-`, starting with a letter or digit",
        ));
    }
    for (name, svc) in &profile.services {
        if !is_name(name) {
            out.push(problem(
                &["services", name],
                format!("service name `{}` is not a name", name.escape_debug()),
                "name services with letters, digits, `_`, `.` and `-`, starting with a letter or digit",
            ));
            continue;
        }
        for k in svc.env.iter().flatten().map(|(k, _)| k) {
            if !is_env_key(k) {
                out.push(problem(
                    &["services", name, "env", k],
                    format!(
                        "env key `{}` of `{name}` is not a variable name",
                        k.escape_debug()
                    ),
                    "use letters, digits, `_`, `.` and `-`, starting with a letter or `_`",
                ));
            }
        }
        for (i, v) in svc.volumes.iter().flatten().enumerate() {
            if let Some(vol) = crate::naming::named_volume(v)
                && !is_name(vol)
            {
                let idx = i.to_string();
                out.push(problem(
                    &["services", name, "volumes", &idx],
                    format!("volume name `{}` is not a name", vol.escape_debug()),
                    "name volumes with letters, digits, `_`, `.` and `-`, or mount a path (./dir:/x)",
                ));
            }
        }
    }
    out
}

/// A chain of services that depend on each other in a circle, if there is one.
fn dependency_cycle(profile: &Profile) -> Option<Vec<String>> {
    fn visit(p: &Profile, name: &str, path: &mut Vec<String>) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == name) {
            let mut c = path[i..].to_vec();
            c.push(name.to_string());
            return Some(c);
        }
        path.push(name.to_string());
        let svc = p.services.get(name)?;
        for (dep, _) in svc.dependencies() {
            if let Some(c) = visit(p, &dep, path) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    profile
        .services()
        .find_map(|(n, _)| visit(profile, n, &mut Vec::new()))
}

/// An octal permission string (`"0600"`).
pub fn parse_mode(mode: &str) -> Option<u32> {
    u32::from_str_radix(mode, 8).ok().filter(|m| *m <= 0o7777)
}

fn is_import_spec(s: &str) -> bool {
    let (module, name) = s.split_once(':').unwrap_or((s, "x"));
    let ident = |p: &str| {
        !p.is_empty()
            && p.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !p.starts_with(|c: char| c.is_ascii_digit())
    };
    module.split('.').all(ident) && ident(name)
}

/// `host:port` with a host name, an IPv4 address or a bracketed IPv6 address.
fn is_host_port(s: &str) -> bool {
    let host_ok = |h: &str| {
        let v6 = h
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok());
        v6 || (!h.is_empty()
            && !h.starts_with(['-', '.'])
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)))
    };
    s.rsplit_once(':')
        .is_some_and(|(h, p)| host_ok(h) && p.parse::<u16>().is_ok_and(|p| p > 0))
}

/// Parse `[ip:][host:]container[/tcp|/udp]`; without an ip the port is published on
/// 127.0.0.1; without a host port (`"5432"`, `"127.0.0.1::5432"`) the engine picks one.
pub fn parse_port(spec: &str) -> Result<PortMap, SpecError> {
    let (body, udp) = match spec.rsplit_once('/') {
        Some((b, "tcp")) => (b, false),
        Some((b, "udp")) => (b, true),
        Some((_, other)) => return Err(format!("protocol `{other}` is not tcp or udp").into()),
        None => (spec, false),
    };
    let parts: Vec<&str> = body.rsplitn(3, ':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("127.0.0.1", "", *c),
        [c, h] => ("127.0.0.1", *h, *c),
        [c, h, ip] => (ip.trim_matches(|c| c == '[' || c == ']'), *h, *c),
        _ => return Err("expected HOST:CONTAINER".into()),
    };
    let num = |s: &str, what: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{what} port `{s}` is not a number from 1 to 65535"))
    };
    Ok(PortMap {
        host_ip: ip
            .parse()
            .map_err(|_| format!("host address `{ip}` is not an IP address"))?,
        host: if host.is_empty() {
            0
        } else {
            num(host, "host")?
        },
        container: num(container, "container")?,
        udp,
    })
}

/// Parse `500ms`, `90s`, `2m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, SpecError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| "a unit is missing (ms, s, m or h)".to_string())?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{num}` is not a number"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit `{unit}` (ms, s, m or h)").into()),
    };
    // The engine and Compose hold a duration as Go does, in signed 64-bit nanoseconds:
    // anything longer would wrap around to a nonsense (or negative) value.
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= MAX_DURATION)
        .ok_or_else(|| {
            format!(
                "`{s}` is longer than the longest duration the engine can hold ({}h)",
                MAX_DURATION.as_secs() / 3600
            )
            .into()
        })
}

/// Go's `time.Duration` limit (`i64::MAX` nanoseconds, about 292 years).
pub const MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// A port mapping or duration that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

impl From<String> for SpecError {
    fn from(s: String) -> SpecError {
        SpecError(s)
    }
}

impl From<&str> for SpecError {
    fn from(s: &str) -> SpecError {
        SpecError(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mirrors and the image prefix go into daemon.json, registries.conf.d and image names:
    /// anything the engine would refuse (or that reads as something else) is refused here.
    #[test]
    fn network_mirrors_and_image_prefix_must_be_what_the_engine_takes() {
        let net = |mirrors: &[&str], prefix: Option<&str>| super::super::Network {
            mirrors: Some(mirrors.iter().map(|m| m.to_string()).collect()),
            image_prefix: prefix.map(String::from),
            ..Default::default()
        };
        for good in [
            net(
                &[
                    "https://mirror.corp.example",
                    "http://10.0.0.5:5000/",
                    "https://m.corp/v2-cache",
                ],
                None,
            ),
            net(&[], Some("https://artifactory.corp/docker-remote/")),
            net(&[], Some("registry.corp.example:5000/hub")),
            net(&[], Some("registry.onramp.test/onramp-test")),
        ] {
            assert!(check_network(&good).is_empty(), "{good:?}");
        }
        for bad in [
            "https://mirror.corp; touch /tmp/x $(id)",
            "mirror.corp",
            "ftp://mirror.corp",
            "https://alice:pw@mirror.corp",
            "https://mirror.corp/?q=1",
            "https://-e",
            "https://mirror.corp:99999",
            "https://../x",
        ] {
            let p = check_network(&net(&["https://ok.corp", bad], None));
            assert_eq!(p.len(), 1, "{bad}");
            assert_eq!(p[0].path, ["network", "mirrors", "1"], "{bad}");
            assert!(p[0].help.contains("https://HOST"), "{bad}");
        }
        // Credentials: dockerd's own reason, the way to give them, and never the password.
        let p = check_network(&net(&["https://alice:s3cret@mirror.corp:5000/x"], None));
        assert_eq!(p.len(), 1);
        assert!(
            p[0].message.contains("\"https://***@mirror.corp:5000\" holds credentials, which the engine does not take in a mirror"),
            "{:?}",
            p[0]
        );
        assert!(
            p[0].help.contains("`docker login mirror.corp:5000`"),
            "{:?}",
            p[0]
        );
        assert!(!format!("{:?}", p[0]).contains("s3cret"));
        let proxy = |p: &str| super::super::Network {
            proxy: Some(p.into()),
            ..Default::default()
        };
        for good in [
            "http://proxy.corp:3128",
            "http://proxy.corp:3128/",
            "https://alice:p@ss w/rd@proxy.corp:3128",
            "socks5://[::1]:1080",
            "proxy.corp:3128",
            "bob:pw@10.0.0.1:8080",
        ] {
            assert!(check_network(&proxy(good)).is_empty(), "{good}");
        }
        for bad in [
            "not a proxy",
            "http://proxy.corp:notaport",
            "ftp://proxy.corp:21",
            "http://proxy.corp:3128/some/path",
            "http://alice:s3cr3t-pw@proxy.corp:3128\nExecStartPre=/bin/true",
            "http://alice:s3\"cr3t@proxy.corp:3128",
            "",
        ] {
            let p = check_network(&proxy(bad));
            assert_eq!(p.len(), 1, "{bad}");
            assert_eq!(p[0].path, ["network", "proxy"], "{bad}");
            assert!(!p[0].message.contains("s3cr3t"), "{}", p[0].message);
        }
        for bad in [
            "reg.corp/$(id)",
            "reg.corp/Hub",
            "../../x",
            "reg corp/x",
            "-reg/x",
            "reg.corp/a//b",
            "",
        ] {
            let p = check_network(&net(&[], Some(bad)));
            assert_eq!(p.len(), 1, "{bad}");
            assert_eq!(p[0].path, ["network", "image_prefix"], "{bad}");
        }
    }

    #[test]
    fn ports_parse_with_loopback_default() {
        let p = parse_port("5432:5432").unwrap();
        assert_eq!(p.host_ip.to_string(), "127.0.0.1");
        assert_eq!((p.host, p.container), (5432, 5432));
        let p = parse_port("0.0.0.0:15432:5432/tcp").unwrap();
        assert_eq!((p.host_ip.to_string().as_str(), p.host), ("0.0.0.0", 15432));
        assert!(parse_port("5432:99999").is_err());
        assert!(parse_port("53:53/sctp").is_err());
        assert!(parse_port("x:1:1").is_err());
        let udp = parse_port("8125:8125/udp").unwrap();
        assert!(udp.udp && !udp.fixed_tcp());
        for ephemeral in ["5432", "127.0.0.1::5432"] {
            let p = parse_port(ephemeral).unwrap();
            assert_eq!((p.host, p.container), (0, 5432), "{ephemeral}");
            assert_eq!(p.host_ip.to_string(), "127.0.0.1");
            assert!(!p.fixed_tcp());
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("90").is_err());
        assert!(parse_duration("9d").is_err());
        assert_eq!(
            parse_duration("2562047h").unwrap().as_secs(),
            2562047 * 3600
        );
        for long in ["6000000h", "2562048h", &format!("{}s", "9".repeat(400))] {
            let e = parse_duration(long).unwrap_err().to_string();
            assert!(e.contains("longer than the longest"), "{long}: {e}");
        }
    }

    #[test]
    fn import_specs() {
        assert!(is_import_spec("kailash.runtime.local:LocalRuntime"));
        assert!(is_import_spec("kailash"));
        assert!(!is_import_spec("kailash.runtime:"));
        assert!(!is_import_spec("kailash runtime"));
    }

    fn profile(text: &str) -> Profile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn duplicate_host_ports_name_both_services() {
        let p = profile(
            "[services.a]\nimage='x'\nports=['5432:5432']\n[services.b]\nimage='y'\nports=['5432:1']\n",
        );
        let probs = check_with(&p, &[]);
        assert_eq!(probs.len(), 1, "{probs:?}");
        assert!(probs[0].message.contains("`a` and `b`"));
        assert_eq!(probs[0].path, ["services", "b", "ports", "0"]);
    }

    #[test]
    fn short_neo4j_password_is_caught_before_anything_starts() {
        let p = profile(
            "[services.neo4j]\nimage='neo4j:5'\nports=['7687:7687']\nenv={NEO4J_AUTH='neo4j/test'}\n",
        );
        let probs = check_with(&p, &[]);
        assert!(probs[0].message.contains("shorter than 8"), "{probs:?}");
    }

    #[test]
    fn compose_keys_are_checked_where_they_are() {
        let p = profile(
            "[services.a]\nimage='x'\nrestart='sometimes'\nshm_size='1q'\nresources={memory='2g',cpus=-1.0}\nbuild={context='../out'}\ntmpfs=['run']\nulimits={'no file'=1}\nhealthcheck={test=['CMD','true'],interval='5'}\ndepends_on=['ghost']\n",
        );
        let paths: Vec<String> = check_with(&p, &[])
            .iter()
            .map(|p| p.path.join("."))
            .collect();
        for want in [
            "services.a.restart",
            "services.a.shm_size",
            "services.a.resources.cpus",
            "services.a.build.context",
            "services.a.tmpfs",
            "services.a.ulimits.no file",
            "services.a.healthcheck.interval",
            "services.a.depends_on",
        ] {
            assert!(paths.iter().any(|p| p == want), "{want} in {paths:?}");
        }
        let cycle = profile(
            "[services.a]\nimage='x'\ndepends_on=['b']\n[services.b]\nimage='y'\ndepends_on={a={condition='service_healthy'}}\n",
        );
        assert!(
            check_with(&cycle, &[])
                .iter()
                .any(|p| p.message.contains("cycle"))
        );
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("512mb"), Ok(512 << 20));
        assert_eq!(parse_size("1024"), Ok(1024));
    }

    #[test]
    fn file_paths_must_stay_inside_the_project() {
        let p = profile("[[files]]\ntemplate='env'\npath='../x'\n");
        assert_eq!(check_with(&p, &[])[0].path, ["files", "0", "path"]);
        let p = profile("[[files]]\ntemplate='env'\npath='/etc/x'\nmode='999'\n");
        assert_eq!(check_with(&p, &[]).len(), 2);
    }
}
