//! The installer's steps for a company network, planned from recorded facts: the company's root
//! into the OS trust store (per distribution, as data; macOS and Windows as instructions), into
//! the engine's per-registry trust (`certs.d`), the user's proxy and the team's registry mirrors
//! into the engine's daemon.json (merged: the user's own keys are kept), and the engine restarted
//! the way PID 1 allows so it reads them. Every system file written is first kept under
//! `.onramp/net/backup/`, and `.onramp/net/undo.sh` puts the machine back.

use serde::{Deserialize, Serialize};

pub use super::net_base::{CA_NAME, Ca, NetWants, UNDO};
use super::net_base::{fingerprint_line, proxy_why, write_file};
use super::{Action, EngineState, Facts, Probe, State, Step};
use crate::netdiag::podman::{PROXY_VARS, Service};
use crate::platform::Kind;

/// What the machine's network setup looks like, as the planner needs it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetFacts {
    /// `/etc/docker/daemon.json` as it is (`None`: there is none).
    pub daemon_json: Option<String>,
    /// The proxy the engine uses now (its own answer, else its configuration).
    pub engine_https_proxy: Option<String>,
    pub engine_http_proxy: Option<String>,
    pub engine_no_proxy: Option<String>,
    /// The registry mirrors the engine uses now.
    pub engine_mirrors: Vec<String>,
    /// The engine's version (`20.10.24+dfsg1`): `proxies` in daemon.json needs 23.0 or later.
    pub engine_version: Option<String>,
    /// Podman's mirrors drop-in as it is (`PODMAN_MIRRORS`).
    pub podman_mirrors: Option<String>,
    /// Subjects of the roots in the OS trust store.
    pub os_subjects: Vec<String>,
    /// Per registry, subjects of the roots in the engine's `certs.d/<registry>/`.
    pub certs_d: std::collections::BTreeMap<String, Vec<String>>,
    /// Podman's side, when the engine is Podman.
    pub podman: Option<PodmanFacts>,
    /// dockerd when no init runs it (its pid file's process), to restart it as it was started.
    pub daemon: Option<Service>,
    /// An engine in a VM or on another OS (Docker Desktop, colima, Rancher Desktop, a WSL2
    /// distro's engine seen from Windows): its settings and trust.
    pub desktop: super::net_desktop::DesktopNet,
}

/// What the planner needs of Podman: its version, its API service, where its proxy comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodmanFacts {
    pub version: Option<String>,
    /// The socket the engine answers on.
    pub socket: String,
    /// The `podman system service` process serving it, when one runs.
    pub service: Option<Service>,
    /// That process's own environment sets a proxy (containers.conf cannot change it then).
    pub environ_sets_proxy: bool,
    /// `[engine] env` as Podman reads it from containers.conf and its drop-ins.
    pub engine_env: Vec<String>,
    /// The service user's configuration directory (`~/.config`), for rootless Podman.
    pub config_home: Option<String>,
}

/// How Podman is given a proxy: chosen from the facts by `podman_via`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodmanVia {
    /// `[engine] env` in a containers.conf drop-in (Podman 3.3 and later, when the service's
    /// own environment sets no proxy: a variable already there wins over containers.conf).
    ContainersConf(String),
    /// `Environment=` in a systemd drop-in for podman.service (the user's manager: `user`).
    Systemd { path: String, user: bool },
    /// The service's environment when it is restarted (no init to hold it).
    Environment,
}

/// Where a distribution keeps extra roots and how it rebuilds its bundle.
struct Store {
    family: &'static str,
    dir: &'static str,
    rebuild: &'static [&'static str],
    bundle: &'static str,
}

const STORES: &[Store] = &[
    Store {
        family: "debian",
        dir: "/usr/local/share/ca-certificates",
        rebuild: &["update-ca-certificates"],
        bundle: "/etc/ssl/certs/ca-certificates.crt",
    },
    Store {
        family: "alpine",
        dir: "/usr/local/share/ca-certificates",
        rebuild: &["update-ca-certificates"],
        bundle: "/etc/ssl/certs/ca-certificates.crt",
    },
    Store {
        family: "fedora",
        dir: "/etc/pki/ca-trust/source/anchors",
        rebuild: &["update-ca-trust", "extract"],
        bundle: "/etc/pki/tls/certs/ca-bundle.crt",
    },
    Store {
        family: "arch",
        dir: "/etc/ca-certificates/trust-source/anchors",
        rebuild: &["update-ca-trust"],
        bundle: "/etc/ssl/certs/ca-certificates.crt",
    },
    Store {
        family: "opensuse",
        dir: "/etc/pki/trust/anchors",
        rebuild: &["update-ca-certificates"],
        bundle: "/etc/ssl/ca-bundle.pem",
    },
];

const SHORT_SECS: u64 = 60;

/// How root commands are run on this machine.
fn as_root(f: &Facts, argv: &[&str], timeout_secs: u64) -> Action {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    if f.is_root() || f.uid.is_none() {
        Action::Run { argv, timeout_secs }
    } else if f.has("sudo") {
        let mut a = vec!["sudo".to_string(), "-n".to_string()];
        a.extend(argv);
        Action::Run {
            argv: a,
            timeout_secs,
        }
    } else {
        Action::Manual {
            text: format!("as root: {}", super::shell_line(&argv)),
        }
    }
}

pub(super) fn step(id: &str, why: String, check: Probe, change: Vec<Action>) -> Step {
    let manual = change.iter().all(|a| matches!(a, Action::Manual { .. }));
    Step {
        id: id.into(),
        why,
        state: if manual { State::Manual } else { State::Todo },
        check: check.clone(),
        change,
        verify: check,
        note: Some(format!("undo: sh {UNDO}")),
    }
}

fn holds(line: &str, path: &str) -> Probe {
    Probe::Command {
        argv: vec!["grep".into(), "-qF".into(), line.into(), path.into()],
    }
}

/// The network steps for these facts and wants (none when nothing is wanted).
pub fn steps(f: &Facts, family: Option<&str>, w: &NetWants) -> Vec<Step> {
    let mut out = Vec::new();
    let kind = f.kind.unwrap_or(Kind::Linux);
    let podman = f.podman_endpoint();
    let mut restart = false;
    let desktop = super::net_desktop::engine(f);
    if let Some(ca) = &w.ca {
        if let Some(s) = os_store(f, kind, family, ca) {
            restart |= s.state == State::Todo;
            out.push(s);
        }
        for r in w.registries.iter().filter(|_| desktop.is_none()) {
            if let Some(s) = engine_trust(f, r, ca, podman) {
                out.push(s);
            }
        }
    }
    if let Some(e) = desktop {
        let host_store = out.iter().any(|s| s.id == "ca-os-store");
        out.extend(super::net_desktop::steps(f, e, w, host_store));
        return out;
    }
    let linuxish = matches!(kind, Kind::Linux | Kind::Wsl2 | Kind::Unknown);
    if podman && linuxish && !w.mirrors.is_empty() {
        let text = podman_mirrors(&w.mirrors);
        if f.net.podman_mirrors.as_deref() != Some(text.as_str()) {
            out.push(step(
                "engine-mirrors-podman",
                format!("Podman does not use the mirrors {}", w.mirrors.join(", ")),
                holds(text.lines().last().unwrap_or_default(), PODMAN_MIRRORS),
                vec![write_file(f, PODMAN_MIRRORS, text)],
            ));
        }
    }
    if podman && linuxish {
        out.extend(podman_proxy(f, w, restart));
        return out;
    }
    if podman || !linuxish {
        return out;
    }
    let json_proxies = proxies_in_daemon_json(f.net.engine_version.as_deref());
    let proxy_differs = w.https_proxy.is_some()
        && !crate::netdiag::proxy::same_proxy(
            w.https_proxy.as_deref(),
            f.net.engine_https_proxy.as_deref(),
        );
    let mut json_wants = w.clone();
    if !json_proxies {
        json_wants.https_proxy = None;
        json_wants.http_proxy = None;
        json_wants.no_proxy = None;
    }
    if let Some(s) = daemon_json(f, &json_wants) {
        restart |= s.state == State::Todo;
        out.push(s);
    }
    let systemd = f.pid1.as_deref() == Some("systemd") && f.systemd_running;
    let mut env = Vec::new();
    if proxy_differs && !json_proxies {
        if systemd {
            out.push(proxy_dropin(f, w));
        } else {
            // A daemon without an init takes its proxy from its environment when it starts.
            for (k, v) in [
                ("HTTP_PROXY", &w.http_proxy),
                ("HTTPS_PROXY", &w.https_proxy),
                ("NO_PROXY", &w.no_proxy),
            ] {
                if let Some(v) = v {
                    env.push(format!("{k}={v}"));
                }
            }
        }
        restart = true;
    }
    if restart && f.engine == EngineState::Ready {
        out.push(engine_restart(f, &env));
    }
    out
}

/// The onramp-owned drop-in's name, in containers.conf.d and podman.service.d.
const PODMAN_PROXY_NAME: &str = "onramp-proxy.conf";

/// Whether the Podman at the endpoint runs as a user (rootless).
fn podman_rootless(p: &PodmanFacts) -> bool {
    match &p.service {
        Some(s) => s.uid != 0,
        None => p.socket.starts_with("/run/user/"),
    }
}

/// How to give this Podman a proxy, from the facts: a containers.conf drop-in where Podman
/// reads them and nothing in the service's own environment would win over it; else the
/// service's environment, through systemd where systemd runs it, else at its restart.
pub fn podman_via(f: &Facts, p: &PodmanFacts) -> PodmanVia {
    let version = p
        .version
        .as_deref()
        .and_then(crate::netdiag::podman::version);
    let rootless = podman_rootless(p);
    let systemd = f.pid1.as_deref() == Some("systemd") && f.systemd_running;
    if crate::netdiag::podman::reads_dropins(version) && !p.environ_sets_proxy {
        let dir = if rootless {
            p.config_home
                .as_ref()
                .map(|h| format!("{h}/containers/containers.conf.d"))
        } else {
            Some("/etc/containers/containers.conf.d".into())
        };
        if let Some(d) = dir {
            return PodmanVia::ContainersConf(format!("{d}/{PODMAN_PROXY_NAME}"));
        }
    }
    match (systemd, rootless) {
        (true, false) => PodmanVia::Systemd {
            path: format!("/etc/systemd/system/podman.service.d/{PODMAN_PROXY_NAME}"),
            user: false,
        },
        (true, true) => match &p.config_home {
            Some(h) => PodmanVia::Systemd {
                path: format!("{h}/systemd/user/podman.service.d/{PODMAN_PROXY_NAME}"),
                user: true,
            },
            None => PodmanVia::Environment,
        },
        _ => PodmanVia::Environment,
    }
}

/// The proxy variables wanted, as (name, value) pairs.
fn proxy_vars(w: &NetWants) -> Vec<(&'static str, &str)> {
    [
        ("HTTP_PROXY", &w.http_proxy),
        ("HTTPS_PROXY", &w.https_proxy),
        ("NO_PROXY", &w.no_proxy),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    .collect()
}

/// The proxy variables wanted, as `KEY=value` words.
fn proxy_words(w: &NetWants) -> Vec<String> {
    proxy_vars(w)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// A value as it is written inside a double-quoted word of a systemd `Environment=` line
/// (systemd.syntax): `\` and `"` escaped, `%` doubled so no specifier is expanded.
pub fn systemd_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
}

/// A `[Service]` drop-in setting `vars`. A value with a line break or another control
/// character cannot be said there: refused, naming the variable but never its value (it may
/// hold a password).
pub fn systemd_environment(vars: &[(&str, &str)]) -> Result<String, String> {
    let mut words = Vec::new();
    for (k, v) in vars {
        if v.chars().any(char::is_control) {
            return Err(format!(
                "{k} holds a line break or another control character, which a systemd \
                 drop-in cannot take: set {k} again on one line (`export {k}=http://HOST:PORT`, \
                 or `[network] proxy` in the profile), then run `onramp doctor --fix`"
            ));
        }
        words.push(format!("\"{k}={}\"", systemd_value(v)));
    }
    Ok(format!("[Service]\nEnvironment={}\n", words.join(" ")))
}

/// A step whose file cannot be written from this input: it says why and what fixes it.
fn refused(id: &str, why: String, path: &str, e: String) -> Step {
    step(
        id,
        why,
        Probe::Manual,
        vec![Action::Manual {
            text: format!("{path} is not written: {e}"),
        }],
    )
}

/// A containers.conf drop-in whose `[engine] env` is the current one (every other variable
/// kept, since a drop-in's list replaces the earlier ones) with the proxy wanted.
pub fn podman_env_dropin(current: &[String], w: &NetWants) -> String {
    let mut env: Vec<toml::Value> = current
        .iter()
        .filter(|kv| {
            let k = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
            !PROXY_VARS.contains(&k)
        })
        .map(|kv| toml::Value::String(kv.clone()))
        .collect();
    env.extend(proxy_words(w).into_iter().map(toml::Value::String));
    let mut engine = toml::Table::new();
    engine.insert("env".into(), toml::Value::Array(env));
    let mut doc = toml::Table::new();
    doc.insert("engine".into(), toml::Value::Table(engine));
    format!(
        "# The proxy for Podman's pulls (written by onramp; undo: sh {UNDO}).\n{}",
        toml::to_string(&doc).unwrap_or_default()
    )
}

/// Podman's proxy (when it differs from the one wanted) and the restart that makes the
/// service read it and the trust store.
fn podman_proxy(f: &Facts, w: &NetWants, store_changed: bool) -> Vec<Step> {
    let Some(p) = &f.net.podman else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let differs = w.https_proxy.is_some()
        && !crate::netdiag::proxy::same_proxy(
            w.https_proxy.as_deref(),
            f.net.engine_https_proxy.as_deref(),
        );
    let why = proxy_why(
        "Podman's",
        f.net.engine_https_proxy.as_deref(),
        w.https_proxy.as_deref(),
    );
    let line = w.https_proxy.clone().unwrap_or_default();
    let mut set = Vec::new();
    let mut user_manager = false;
    if differs {
        match podman_via(f, p) {
            PodmanVia::ContainersConf(path) => {
                let text = podman_env_dropin(&p.engine_env, w);
                let write = if podman_rootless(p) {
                    Action::WriteFile {
                        path: path.clone(),
                        content: text,
                        sudo: false,
                    }
                } else {
                    write_file(f, &path, text)
                };
                out.push(step(
                    "engine-proxy-podman",
                    why,
                    holds(&line, &path),
                    vec![write],
                ));
            }
            PodmanVia::Systemd { path, user } => {
                let text = match systemd_environment(&proxy_vars(w)) {
                    Ok(text) => text,
                    Err(e) => {
                        out.push(refused("engine-proxy-podman", why, &path, e));
                        return out;
                    }
                };
                let (write, reload) = if user {
                    user_manager = true;
                    let argv = ["systemctl", "--user", "daemon-reload"]
                        .map(String::from)
                        .to_vec();
                    (
                        Action::WriteFile {
                            path: path.clone(),
                            content: text,
                            sudo: false,
                        },
                        Action::Run {
                            argv,
                            timeout_secs: SHORT_SECS,
                        },
                    )
                } else {
                    (
                        write_file(f, &path, text),
                        as_root(f, &["systemctl", "daemon-reload"], SHORT_SECS),
                    )
                };
                out.push(step(
                    "engine-proxy-podman",
                    why,
                    holds(&systemd_value(&line), &path),
                    vec![write, reload],
                ));
            }
            PodmanVia::Environment => set = proxy_words(w),
        }
    }
    if (differs || store_changed) && f.engine == EngineState::Ready {
        out.extend(podman_restart(f, p, set, user_manager));
    }
    out
}

/// Restart Podman's API service the way PID 1 allows, so it reads its configuration, its
/// environment (`set`) and the trust store again.
fn podman_restart(f: &Facts, p: &PodmanFacts, set: Vec<String>, user: bool) -> Option<Step> {
    let systemd = f.pid1.as_deref() == Some("systemd") && f.systemd_running;
    let change = if systemd && set.is_empty() {
        let rootless = user || podman_rootless(p);
        if rootless {
            vec![Action::Run {
                argv: ["systemctl", "--user", "try-restart", "podman.service"]
                    .map(String::from)
                    .to_vec(),
                timeout_secs: SHORT_SECS,
            }]
        } else {
            vec![as_root(
                f,
                &["systemctl", "try-restart", "podman.service"],
                SHORT_SECS,
            )]
        }
    } else {
        let s = p.service.as_ref()?;
        let mine = f.uid.is_none() || f.is_root() || f.uid == Some(s.uid);
        if mine {
            vec![Action::Restart {
                pid: s.pid,
                argv: s.argv.clone(),
                set,
                log: format!("{}/logs/podman-service.log", crate::naming::STATE_DIR),
                ready: vec![
                    "podman".into(),
                    "--remote".into(),
                    "--url".into(),
                    format!("unix://{}", p.socket),
                    "version".into(),
                ],
            }]
        } else {
            vec![Action::Manual {
                text: format!(
                    "as root: stop `{}` (pid {}) and start it again{} so it reads its new settings",
                    super::shell_line(&s.argv),
                    s.pid,
                    if set.is_empty() {
                        String::new()
                    } else {
                        format!(" with {}", crate::secrets::mask_text(&set.join(" ")))
                    }
                ),
            }]
        }
    };
    let manual = change.iter().all(|a| matches!(a, Action::Manual { .. }));
    Some(Step {
        id: "engine-restart".into(),
        why: "Podman's API service reads its proxy and the trust store when it starts".into(),
        state: if manual { State::Manual } else { State::Todo },
        check: Probe::Manual,
        change,
        verify: Probe::EnginePing { wait_secs: 60 },
        note: Some(format!("undo: sh {UNDO}")),
    })
}

/// Podman's drop-in for Docker Hub mirrors (registries.conf v2, read from registries.conf.d).
pub const PODMAN_MIRRORS: &str = "/etc/containers/registries.conf.d/onramp-mirrors.conf";

/// Docker Hub with the mirrors in front, as Podman's registries.conf says it.
pub fn podman_mirrors(mirrors: &[String]) -> String {
    let mut t = String::from("[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n");
    for m in mirrors {
        let host = m.split_once("://").map_or(m.as_str(), |(_, h)| h);
        let host = host.trim_end_matches('/').replace(['"', '\\'], "");
        t.push_str(&format!("\n[[registry.mirror]]\nlocation = \"{host}\"\n"));
    }
    t
}

/// Whether this engine reads `proxies` from daemon.json (Docker Engine 23.0 and later; an
/// engine of unknown version is taken to be current).
pub fn proxies_in_daemon_json(version: Option<&str>) -> bool {
    let major = version
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.trim().parse::<u32>().ok());
    major.is_none_or(|m| m >= 23)
}

/// The engine's proxy as a systemd drop-in (engines older than 23.0 under systemd).
fn proxy_dropin(f: &Facts, w: &NetWants) -> Step {
    let path = "/etc/systemd/system/docker.service.d/onramp-proxy.conf";
    let why = "this engine (before 23.0) takes its proxy from its service's environment";
    let text = match systemd_environment(&proxy_vars(w)) {
        Ok(text) => text,
        Err(e) => return refused("engine-proxy-dropin", why.into(), path, e),
    };
    let line = systemd_value(w.https_proxy.as_deref().unwrap_or_default());
    step(
        "engine-proxy-dropin",
        why.into(),
        holds(&line, path),
        vec![
            write_file(f, path, text),
            as_root(f, &["systemctl", "daemon-reload"], SHORT_SECS),
        ],
    )
}

fn os_store(f: &Facts, kind: Kind, family: Option<&str>, ca: &Ca) -> Option<Step> {
    if f.net.os_subjects.contains(&ca.subject) {
        return None;
    }
    let why = format!(
        "the OS trust store does not hold \"{}\" (from {})",
        ca.subject, ca.path
    );
    let line = fingerprint_line(&ca.pem);
    let manual = |text: String| {
        step(
            "ca-os-store",
            why.clone(),
            Probe::Manual,
            vec![Action::Manual { text }],
        )
    };
    match kind {
        Kind::Macos => {
            let mut s = manual(format!(
                "sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {}",
                crate::escape::shell(&ca.path)
            ));
            s.note = Some(super::net_desktop::keychain_undo(ca));
            return Some(s);
        }
        Kind::Windows => {
            let mut s = manual(format!(
                "in an administrator PowerShell: Import-Certificate -FilePath {} -CertStoreLocation Cert:\\LocalMachine\\Root",
                crate::escape::powershell(&ca.path)
            ));
            s.note = Some(super::net_desktop::root_store_undo(ca));
            return Some(s);
        }
        _ => {}
    }
    let Some(store) = family.and_then(|fam| STORES.iter().find(|s| s.family == fam)) else {
        return Some(manual(format!(
            "add {} to this system's trust store (its documentation names the directory and the command that rebuilds the bundle)",
            ca.path
        )));
    };
    let target = format!("{}/{CA_NAME}", store.dir);
    Some(step(
        "ca-os-store",
        why,
        holds(&line, store.bundle),
        vec![
            write_file(f, &target, ca.pem.clone()),
            as_root(f, store.rebuild, SHORT_SECS),
        ],
    ))
}

fn engine_trust(f: &Facts, registry: &str, ca: &Ca, podman: bool) -> Option<Step> {
    if f.net
        .certs_d
        .get(registry)
        .is_some_and(|s| s.contains(&ca.subject))
    {
        return None;
    }
    let base = if podman {
        "/etc/containers/certs.d"
    } else {
        "/etc/docker/certs.d"
    };
    let target = format!("{base}/{registry}/{CA_NAME}");
    Some(step(
        &format!("engine-trust:{registry}"),
        format!(
            "the engine does not trust \"{}\" for {registry}",
            ca.subject
        ),
        holds(&fingerprint_line(&ca.pem), &target),
        vec![write_file(f, &target, ca.pem.clone())],
    ))
}

/// daemon.json with the wanted proxy and mirrors merged in; `Err` when the file is not JSON.
pub fn merged_daemon_json(current: Option<&str>, w: &NetWants) -> Result<String, String> {
    let mut v: serde_json::Value = match current.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => serde_json::from_str(t).map_err(|e| e.to_string())?,
        None => serde_json::json!({}),
    };
    let Some(obj) = v.as_object_mut() else {
        return Err("it is not a JSON object".into());
    };
    if w.https_proxy.is_some() || w.http_proxy.is_some() {
        let proxies = obj
            .entry("proxies")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(p) = proxies.as_object_mut() {
            for (k, val) in [
                ("http-proxy", &w.http_proxy),
                ("https-proxy", &w.https_proxy),
                ("no-proxy", &w.no_proxy),
            ] {
                if let Some(val) = val {
                    p.insert(k.into(), serde_json::Value::String(val.clone()));
                }
            }
        }
    }
    if !w.mirrors.is_empty() {
        let list = obj
            .entry("registry-mirrors")
            .or_insert_with(|| serde_json::json!([]));
        if let Some(a) = list.as_array_mut() {
            for m in &w.mirrors {
                if !a.iter().any(|x| x.as_str() == Some(m)) {
                    a.push(serde_json::Value::String(m.clone()));
                }
            }
        }
    }
    serde_json::to_string_pretty(&v)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

fn daemon_json(f: &Facts, w: &NetWants) -> Option<Step> {
    let n = &f.net;
    let proxy_ok = w.https_proxy.is_none()
        || crate::netdiag::proxy::same_proxy(
            w.https_proxy.as_deref(),
            n.engine_https_proxy.as_deref(),
        );
    let mirrors_ok = w.mirrors.iter().all(|m| {
        n.engine_mirrors
            .iter()
            .any(|e| e.trim_end_matches('/') == m.trim_end_matches('/'))
    });
    if proxy_ok && mirrors_ok {
        return None;
    }
    let mut why = Vec::new();
    if !proxy_ok {
        why.push(proxy_why(
            "the engine's",
            n.engine_https_proxy.as_deref(),
            w.https_proxy.as_deref(),
        ));
    }
    if !mirrors_ok {
        why.push(format!(
            "the engine lacks the mirrors {}",
            w.mirrors.join(", ")
        ));
    }
    let path = "/etc/docker/daemon.json";
    let change = match merged_daemon_json(n.daemon_json.as_deref(), w) {
        Ok(text) => vec![write_file(f, path, text)],
        Err(e) => vec![Action::Manual {
            text: format!(
                "{path} cannot be read as JSON ({e}): fix it by hand (onramp never replaces a file it cannot merge), then run onramp again"
            ),
        }],
    };
    // What is checked: the file has the keys (the engine reads them when it restarts).
    let mut probe_keys = Vec::new();
    if let Some(p) = &w.https_proxy {
        probe_keys.push(p.clone());
    }
    probe_keys.extend(w.mirrors.iter().cloned());
    let script = probe_keys
        .iter()
        .map(|k| format!("grep -qF {} {path}", crate::escape::shell(k)))
        .collect::<Vec<_>>()
        .join(" && ");
    Some(step(
        "engine-daemon-json",
        why.join("; "),
        Probe::Command {
            argv: vec!["sh".into(), "-c".into(), script],
        },
        change,
    ))
}

/// Restart the engine so that it reads its new configuration and trust store.
fn engine_restart(f: &Facts, env: &[String]) -> Step {
    let systemd = f.pid1.as_deref() == Some("systemd") && f.systemd_running;
    let change = if systemd {
        vec![as_root(f, &["systemctl", "restart", "docker"], SHORT_SECS)]
    } else if f.pid1.as_deref() == Some("init") && f.has("rc-service") {
        vec![as_root(f, &["rc-service", "docker", "restart"], SHORT_SECS)]
    } else if f.pid1.as_deref() == Some("init") && f.has("service") {
        vec![as_root(f, &["service", "docker", "restart"], SHORT_SECS)]
    } else if let Some(d) = f
        .net
        .daemon
        .as_ref()
        .filter(|d| f.uid.is_none() || f.is_root() || f.uid == Some(d.uid))
    {
        vec![Action::Restart {
            pid: d.pid,
            argv: d.argv.clone(),
            set: env.to_vec(),
            log: format!("{}/logs/dockerd.log", crate::naming::STATE_DIR),
            ready: vec!["docker".into(), "info".into()],
        }]
    } else {
        let stop = "pid=$(cat /var/run/docker.pid) && kill \"$pid\" && for i in $(seq 1 300); do kill -0 \"$pid\" 2>/dev/null || exit 0; sleep 0.1; done; exit 1";
        let mut v = vec![as_root(f, &["sh", "-c", stop], SHORT_SECS)];
        let mut argv: Vec<String> = if f.is_root() || f.uid.is_none() {
            Vec::new()
        } else {
            vec!["sudo".into(), "-n".into()]
        };
        if !env.is_empty() {
            argv.push("env".into());
            argv.extend(env.iter().cloned());
        }
        argv.push("dockerd".into());
        v.push(Action::Detach {
            argv,
            log: format!("{}/logs/dockerd.log", crate::naming::STATE_DIR),
        });
        v
    };
    Step {
        id: "engine-restart".into(),
        why: "the engine reads its proxy, mirrors and the trust store when it starts".into(),
        state: State::Todo,
        check: Probe::Manual,
        change,
        verify: Probe::EnginePing { wait_secs: 60 },
        note: Some(format!("undo: sh {UNDO}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBfjCCASSgAwIBAgIBATAKBggqhkjOPQQDAjA+MRUwEwYDVQQKDAxFeGFtcGxl\nIENvcnAxJTAjBgNVBAMMHEV4YW1wbGUgQ29ycCBJbnNwZWN0aW9uIFJvb3QwHhcN\noyo=\n-----END CERTIFICATE-----\n";

    fn debian_root() -> Facts {
        Facts {
            kind: Some(Kind::Linux),
            uid: Some(0),
            pid1: Some("sh".into()),
            engine: EngineState::Ready,
            ..Facts::default()
        }
    }

    fn wants() -> NetWants {
        NetWants {
            https_proxy: Some("http://alice:pw-123456@proxy.corp:3128".into()),
            http_proxy: Some("http://alice:pw-123456@proxy.corp:3128".into()),
            no_proxy: Some("localhost,127.0.0.1".into()),
            ca: Some(Ca {
                path: "/home/dev/corp-root.pem".into(),
                pem: PEM.into(),
                subject: "CN=Example Corp Inspection Root, O=Example Corp".into(),
            }),
            registries: vec!["registry.corp:5000".into()],
            mirrors: vec!["https://mirror.corp".into()],
            python: None,
        }
    }

    #[test]
    fn daemon_json_keeps_the_users_keys_and_adds_proxy_and_mirrors() {
        let cur =
            r#"{"debug": true, "registry-mirrors": ["https://old"], "proxies": {"no-proxy": "x"}}"#;
        let text = merged_daemon_json(Some(cur), &wants()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["debug"], true);
        assert_eq!(
            v["registry-mirrors"],
            serde_json::json!(["https://old", "https://mirror.corp"])
        );
        assert_eq!(
            v["proxies"]["https-proxy"],
            "http://alice:pw-123456@proxy.corp:3128"
        );
        assert!(merged_daemon_json(Some("{not json"), &wants()).is_err());
        assert!(
            merged_daemon_json(None, &NetWants::default())
                .unwrap()
                .trim()
                == "{}"
        );
    }

    #[test]
    fn a_debian_machine_gets_the_store_the_engine_trust_daemon_json_and_a_restart() {
        let steps = steps(&debian_root(), Some("debian"), &wants());
        let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "ca-os-store",
                "engine-trust:registry.corp:5000",
                "engine-daemon-json",
                "engine-restart"
            ]
        );
        let store = &steps[0];
        assert!(
            matches!(&store.change[0], Action::WriteFile { path, .. } if path == "/usr/local/share/ca-certificates/onramp-company-root.crt")
        );
        assert!(
            matches!(&store.change[1], Action::Run { argv, .. } if argv == &["update-ca-certificates"])
        );
        assert!(
            matches!(&steps[1].change[0], Action::WriteFile { path, .. } if path == "/etc/docker/certs.d/registry.corp:5000/onramp-company-root.crt")
        );
        assert!(
            steps[3]
                .change
                .iter()
                .any(|a| matches!(a, Action::Detach { argv, .. } if argv == &["dockerd"]))
        );
    }

    #[test]
    fn fedora_rebuilds_with_update_ca_trust_and_macos_and_windows_get_instructions() {
        let s = steps(&debian_root(), Some("fedora"), &wants());
        assert!(
            matches!(&s[0].change[1], Action::Run { argv, .. } if argv == &["update-ca-trust", "extract"])
        );
        let mut mac = debian_root();
        mac.kind = Some(Kind::Macos);
        let s = steps(&mac, None, &wants());
        assert_eq!(s[0].state, State::Manual);
        assert!(s[0].summary().contains("security add-trusted-cert"));
        assert!(!s.iter().any(|s| s.id == "engine-daemon-json"));
        let mut win = debian_root();
        win.kind = Some(Kind::Windows);
        let s = steps(&win, None, &wants());
        assert!(s[0].summary().contains("Cert:\\LocalMachine\\Root"));
    }

    #[test]
    fn nothing_is_planned_when_everything_is_in_place() {
        let mut f = debian_root();
        let w = wants();
        let subject = w.ca.as_ref().unwrap().subject.clone();
        f.net.os_subjects = vec![subject.clone()];
        f.net
            .certs_d
            .insert("registry.corp:5000".into(), vec![subject]);
        f.net.engine_https_proxy = w.https_proxy.clone();
        f.net.engine_mirrors = w.mirrors.clone();
        assert!(steps(&f, Some("debian"), &w).is_empty());
    }

    /// `docker info` shows a proxy's credentials as `xxxxx:xxxxx`: the proxy already in place is
    /// not planned again on every run for that.
    #[test]
    fn a_proxy_the_engine_shows_masked_is_in_place() {
        for version in [None, Some("20.10.24+dfsg1")] {
            let mut f = debian_root();
            f.net.engine_version = version.map(String::from);
            let w = NetWants {
                ca: None,
                ..wants()
            };
            f.net.engine_https_proxy = Some("http://xxxxx:xxxxx@proxy.corp:3128".into());
            f.net.engine_mirrors = w.mirrors.clone();
            assert!(steps(&f, Some("debian"), &w).is_empty(), "{version:?}");
            f.net.engine_https_proxy = Some("http://xxxxx:xxxxx@old-proxy.corp:3128".into());
            let ids: Vec<String> = steps(&f, Some("debian"), &w)
                .into_iter()
                .map(|s| s.id)
                .collect();
            assert!(
                ids.contains(&"engine-restart".to_string()),
                "{version:?}: {ids:?}"
            );
        }
    }

    #[test]
    fn an_engine_before_23_gets_its_proxy_from_its_environment_not_daemon_json() {
        let mut f = debian_root();
        f.net.engine_version = Some("20.10.24+dfsg1".into());
        let mut w = wants();
        w.mirrors.clear();
        let s = steps(&f, Some("debian"), &w);
        assert!(!s.iter().any(|s| s.id == "engine-daemon-json"), "{s:?}");
        let restart = s.iter().find(|s| s.id == "engine-restart").unwrap();
        let Some(Action::Detach { argv, .. }) = restart.change.last() else {
            panic!("{restart:?}")
        };
        assert_eq!(argv[0], "env");
        assert!(argv.contains(&"HTTPS_PROXY=http://alice:pw-123456@proxy.corp:3128".into()));
        assert_eq!(argv.last().map(String::as_str), Some("dockerd"));
        f.pid1 = Some("systemd".into());
        f.systemd_running = true;
        let s = steps(&f, Some("debian"), &w);
        let d = s.iter().find(|s| s.id == "engine-proxy-dropin").unwrap();
        assert!(
            matches!(&d.change[0], Action::WriteFile { content, .. } if content.contains("Environment=\"HTTP_PROXY="))
        );
        assert!(proxies_in_daemon_json(Some("24.0.7")) && proxies_in_daemon_json(None));
        assert!(!proxies_in_daemon_json(Some("20.10.24+dfsg1")));
    }

    #[test]
    fn a_drop_in_escapes_the_proxy_for_systemd_and_refuses_a_line_break() {
        let mut f = debian_root();
        f.net.engine_version = Some("20.10.24+dfsg1".into());
        f.pid1 = Some("systemd".into());
        f.systemd_running = true;
        let mut w = wants();
        w.mirrors.clear();
        w.https_proxy = Some(r#"http://al\ice:p%40ss"x@proxy.corp:3128"#.into());
        w.http_proxy = None;
        w.no_proxy = Some("localhost".into());
        let s = steps(&f, Some("debian"), &w);
        let d = s.iter().find(|s| s.id == "engine-proxy-dropin").unwrap();
        let Action::WriteFile { content, .. } = &d.change[0] else {
            panic!("{d:?}")
        };
        assert_eq!(
            content,
            "[Service]\nEnvironment=\"HTTPS_PROXY=http://al\\\\ice:p%%40ss\\\"x@proxy.corp:3128\" \"NO_PROXY=localhost\"\n"
        );
        // What systemd reads back is the proxy as given, so the next plan has nothing to do.
        let back = crate::netdiag::proxy::from_systemd(content, "drop-in");
        assert_eq!(back.https, w.https_proxy);
        // The probe looks for the text as written.
        let Probe::Command { argv } = &d.check else {
            panic!("{d:?}")
        };
        assert!(content.contains(&argv[2]), "{argv:?}");

        w.https_proxy = Some("http://bob:hunter2@p:3128\nExecStartPre=/bin/touch /tmp/x".into());
        let s = steps(&f, Some("debian"), &w);
        let d = s.iter().find(|s| s.id == "engine-proxy-dropin").unwrap();
        assert_eq!(d.state, State::Manual);
        let Action::Manual { text } = &d.change[0] else {
            panic!("{d:?}")
        };
        assert!(text.contains("HTTPS_PROXY holds a line break"), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("ExecStartPre"),
            "{text}"
        );
        assert!(
            !d.change
                .iter()
                .any(|a| matches!(a, Action::WriteFile { .. }))
        );
    }

    #[test]
    fn podman_gets_its_mirrors_as_a_registries_conf_drop_in() {
        let mut f = debian_root();
        f.engine_endpoint = Some("unix:///run/podman/podman.sock".into());
        let s = steps(&f, Some("debian"), &wants());
        let m = s.iter().find(|s| s.id == "engine-mirrors-podman").unwrap();
        let Action::WriteFile { path, content, .. } = &m.change[0] else {
            panic!("{m:?}")
        };
        assert_eq!(path, PODMAN_MIRRORS);
        let v: toml::Table = toml::from_str(content).unwrap();
        assert_eq!(
            v["registry"][0]["mirror"][0]["location"].as_str(),
            Some("mirror.corp")
        );
        assert!(
            !s.iter()
                .any(|s| s.id == "engine-daemon-json" || s.id == "engine-restart")
        );
        f.net.podman_mirrors = Some(content.clone());
        assert!(
            !steps(&f, Some("debian"), &wants())
                .iter()
                .any(|s| s.id == "engine-mirrors-podman")
        );
    }

    #[test]
    fn a_daemon_json_that_is_not_json_is_left_to_the_user() {
        let mut f = debian_root();
        f.net.daemon_json = Some("{ broken".into());
        let s = steps(&f, Some("debian"), &wants());
        let d = s.iter().find(|s| s.id == "engine-daemon-json").unwrap();
        assert_eq!(d.state, State::Manual);
        assert!(d.summary().contains("never replaces"));
    }

    fn podman_facts(uid: u32, env_proxy: bool) -> Facts {
        let mut f = debian_root();
        let socket = if uid == 0 {
            "/run/podman/podman.sock".to_string()
        } else {
            format!("/run/user/{uid}/podman/podman.sock")
        };
        f.uid = Some(uid);
        f.engine_endpoint = Some(format!("unix://{socket}"));
        f.net.podman = Some(PodmanFacts {
            version: Some("4.3.1".into()),
            socket: socket.clone(),
            service: Some(Service {
                pid: 4242,
                argv: ["podman", "system", "service", "--time=0"]
                    .map(String::from)
                    .to_vec(),
                uid,
            }),
            environ_sets_proxy: env_proxy,
            engine_env: vec!["TZ=UTC".into(), "HTTPS_PROXY=http://old:1".into()],
            config_home: Some(format!("/home/u{uid}/.config")),
        });
        f
    }

    fn proxy_only() -> NetWants {
        NetWants {
            ca: None,
            registries: Vec::new(),
            mirrors: Vec::new(),
            ..wants()
        }
    }

    #[test]
    fn podman_without_an_init_gets_a_containers_conf_drop_in_and_a_restart_as_it_ran() {
        let f = podman_facts(0, false);
        let s = steps(&f, Some("debian"), &proxy_only());
        let ids: Vec<&str> = s.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["engine-proxy-podman", "engine-restart"]);
        let Action::WriteFile {
            path,
            content,
            sudo,
        } = &s[0].change[0]
        else {
            panic!("{:?}", s[0])
        };
        assert_eq!(path, "/etc/containers/containers.conf.d/onramp-proxy.conf");
        assert!(!sudo);
        // A drop-in's env replaces the earlier list: the other variables are kept, the old
        // proxy is not.
        let v: toml::Table = toml::from_str(content).unwrap();
        let env: Vec<&str> = v["engine"]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(
            env,
            [
                "TZ=UTC",
                "HTTP_PROXY=http://alice:pw-123456@proxy.corp:3128",
                "HTTPS_PROXY=http://alice:pw-123456@proxy.corp:3128",
                "NO_PROXY=localhost,127.0.0.1"
            ]
        );
        let Action::Restart { pid, argv, set, .. } = &s[1].change[0] else {
            panic!("{:?}", s[1])
        };
        assert_eq!((*pid, argv[3].as_str()), (4242, "--time=0"));
        assert!(
            set.is_empty(),
            "the drop-in gives the proxy, not the restart"
        );
        // In place already: nothing to do.
        let mut done = f.clone();
        done.net.engine_https_proxy = proxy_only().https_proxy;
        assert!(steps(&done, Some("debian"), &proxy_only()).is_empty());
    }

    #[test]
    fn a_proxy_in_the_services_own_environment_is_changed_there() {
        // Its own variable wins over containers.conf: no init, so the restart sets it.
        let f = podman_facts(0, true);
        assert_eq!(
            podman_via(&f, f.net.podman.as_ref().unwrap()),
            PodmanVia::Environment
        );
        let s = steps(&f, Some("debian"), &proxy_only());
        assert_eq!(s.len(), 1, "{s:?}");
        let Action::Restart { set, .. } = &s[0].change[0] else {
            panic!("{s:?}")
        };
        assert!(set.contains(&"HTTPS_PROXY=http://alice:pw-123456@proxy.corp:3128".into()));
        // Under systemd: a drop-in for podman.service, then try-restart.
        let mut sd = f.clone();
        sd.pid1 = Some("systemd".into());
        sd.systemd_running = true;
        let s = steps(&sd, Some("debian"), &proxy_only());
        let Action::WriteFile { path, content, .. } = &s[0].change[0] else {
            panic!("{s:?}")
        };
        assert_eq!(
            path,
            "/etc/systemd/system/podman.service.d/onramp-proxy.conf"
        );
        assert!(content.contains(" \"HTTPS_PROXY=http://alice"), "{content}");
        assert!(
            matches!(&s[1].change[0], Action::Run { argv, .. } if argv == &["systemctl", "try-restart", "podman.service"]),
            "{s:?}"
        );
        // Escaped for systemd there too; a line break is refused and nothing is written.
        let mut w = proxy_only();
        w.https_proxy = Some("http://u:p%40ss@proxy.corp:3128".into());
        let s = steps(&sd, Some("debian"), &w);
        let Action::WriteFile { content, .. } = &s[0].change[0] else {
            panic!("{s:?}")
        };
        assert!(
            content.contains("\"HTTPS_PROXY=http://u:p%%40ss@proxy.corp:3128\""),
            "{content}"
        );
        w.https_proxy = Some("http://u:pw@p:1\rx".into());
        let s = steps(&sd, Some("debian"), &w);
        assert_eq!(s[0].id, "engine-proxy-podman");
        assert!(
            matches!(&s[0].change[..], [Action::Manual { text }] if text.contains("HTTPS_PROXY holds a line break") && !text.contains("pw")),
            "{s:?}"
        );
        // Podman 3.2 reads no drop-in directory: the environment too.
        let mut old = podman_facts(0, false);
        if let Some(p) = old.net.podman.as_mut() {
            p.version = Some("3.2.3".into());
        }
        assert_eq!(
            podman_via(&old, old.net.podman.as_ref().unwrap()),
            PodmanVia::Environment
        );
    }

    #[test]
    fn rootless_podman_is_configured_in_the_users_own_files() {
        let f = podman_facts(1000, false);
        let s = steps(&f, Some("debian"), &proxy_only());
        let Action::WriteFile { path, sudo, .. } = &s[0].change[0] else {
            panic!("{s:?}")
        };
        assert_eq!(
            path,
            "/home/u1000/.config/containers/containers.conf.d/onramp-proxy.conf"
        );
        assert!(!sudo);
        assert!(matches!(&s[1].change[0], Action::Restart { pid: 4242, .. }));
        let mut sd = podman_facts(1000, true);
        sd.pid1 = Some("systemd".into());
        sd.systemd_running = true;
        let s = steps(&sd, Some("debian"), &proxy_only());
        assert!(
            matches!(&s[0].change[1], Action::Run { argv, .. } if argv == &["systemctl", "--user", "daemon-reload"]),
            "{s:?}"
        );
        assert!(
            matches!(&s[1].change[0], Action::Run { argv, .. } if argv == &["systemctl", "--user", "try-restart", "podman.service"]),
            "{s:?}"
        );
        // Another user's service: told, not done.
        let mut other = podman_facts(0, false);
        other.uid = Some(1000);
        other.which.insert("sudo".into(), "/usr/bin/sudo".into());
        let s = steps(&other, Some("debian"), &proxy_only());
        let r = s.iter().find(|s| s.id == "engine-restart").unwrap();
        assert_eq!(r.state, State::Manual);
        assert!(!r.summary().contains("pw-123456"), "{}", r.summary());
    }

    #[test]
    fn a_detached_dockerd_is_restarted_with_its_own_argv_and_environment() {
        let mut f = debian_root();
        f.net.engine_version = Some("20.10.24+dfsg1".into());
        f.net.daemon = Some(Service {
            pid: 77,
            argv: ["dockerd", "--data-root", "/srv/docker"]
                .map(String::from)
                .to_vec(),
            uid: 0,
        });
        let s = steps(&f, Some("debian"), &proxy_only());
        let r = s.iter().find(|s| s.id == "engine-restart").unwrap();
        let Action::Restart {
            pid,
            argv,
            set,
            ready,
            ..
        } = &r.change[0]
        else {
            panic!("{r:?}")
        };
        assert_eq!(*pid, 77);
        assert_eq!(argv, &["dockerd", "--data-root", "/srv/docker"]);
        assert!(set.contains(&"HTTPS_PROXY=http://alice:pw-123456@proxy.corp:3128".into()));
        assert_eq!(ready, &["docker", "info"]);
        assert!(r.summary().starts_with("kill 77"), "{}", r.summary());
    }
}
