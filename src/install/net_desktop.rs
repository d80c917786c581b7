//! The company network on engines that run in a VM or on another OS, planned from recorded
//! facts: Docker Desktop (macOS, Windows), colima, Rancher Desktop, and Docker Engine inside a
//! WSL2 distro seen from Windows. Each takes the company root and the proxy its own way. Docker
//! Desktop and Rancher Desktop copy the host's roots (the macOS keychain, the Windows root store)
//! into their VM when they start: the root goes there and the app is restarted. colima's VM has a
//! store of its own, and takes `~/.docker/certs.d` per registry at start. A WSL2 distro has its
//! own store, reached as root with `wsl.exe -u root`. Proxies live in each one's settings; what
//! only a person can set (a GUI setting, a file the app rewrites, an administrator's lock) is a
//! manual step with the exact text, and a proxy password never appears in it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::net_base::{CA_NAME, Ca, NetWants, UNDO, fingerprint_line, write_file};
use super::{Action, EngineState, Facts, Probe, State, Step};
use crate::platform::Kind;

/// An engine that runs in a VM or on another OS than the one onramp runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DesktopEngine {
    DockerDesktop,
    Colima,
    RancherDesktop,
    /// Docker Engine inside the default WSL2 distro (the facts are the Windows side's).
    WslEngine,
}

impl DesktopEngine {
    pub fn name(self) -> &'static str {
        match self {
            DesktopEngine::DockerDesktop => "Docker Desktop",
            DesktopEngine::Colima => "colima",
            DesktopEngine::RancherDesktop => "Rancher Desktop",
            DesktopEngine::WslEngine => "Docker Engine in WSL2",
        }
    }
}

/// What the planner knows of such an engine's network settings and trust.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DesktopNet {
    /// Which engine it is, when the machine says so outright (else it is told from the engine's
    /// endpoint and the programs found).
    pub engine: Option<DesktopEngine>,
    /// Docker Desktop's `settings-store.json` (`settings.json` before 4.35) as it is.
    pub settings: Option<String>,
    /// Docker Desktop's `admin-settings.json`, when an administrator manages the settings.
    pub admin_settings: Option<String>,
    /// colima's `colima.yaml` for the profile in use.
    pub colima_yaml: Option<String>,
    /// Subjects of the roots in the VM's own store (colima's VM, the WSL2 distro); `None`: not
    /// asked.
    pub vm_subjects: Option<Vec<String>>,
    /// Per registry, subjects of the roots in `~/.docker/certs.d/<registry>/`.
    pub user_certs_d: BTreeMap<String, Vec<String>>,
}

/// Where a live run finds the settings: `home` the user's home, `appdata` Windows' `%APPDATA%`,
/// `read` a reader of small regular files. The stores (the keychain, the Windows root store,
/// colima's VM) are asked by the machine snapshot through `netdiag::desktop`.
pub fn gather(
    kind: Kind,
    endpoint: Option<&str>,
    home: Option<&std::path::Path>,
    appdata: Option<&str>,
    read: impl Fn(&std::path::Path) -> Option<String>,
) -> DesktopNet {
    use std::path::{Path, PathBuf};
    let first = |dir: &Path, names: &[&str]| names.iter().find_map(|n| read(&dir.join(n)));
    let mut d = DesktopNet::default();
    match kind {
        Kind::Macos => {
            if let Some(h) = home {
                let group = h.join("Library/Group Containers/group.com.docker");
                d.settings = first(&group, &["settings-store.json", "settings.json"]);
                let profile = colima_profile(endpoint);
                d.colima_yaml = read(&h.join(".colima").join(profile).join("colima.yaml"));
            }
            d.admin_settings = read(Path::new(
                "/Library/Application Support/com.docker.docker/admin-settings.json",
            ));
        }
        Kind::Windows => {
            if let Some(a) = appdata {
                let dir = PathBuf::from(a).join("Docker");
                d.settings = first(&dir, &["settings-store.json", "settings.json"]);
            }
            d.admin_settings = read(Path::new(
                r"C:\ProgramData\DockerDesktop\admin-settings.json",
            ));
        }
        _ => {}
    }
    d
}

/// The root's common name (`CN=...` of its subject), else the whole subject.
fn common_name(ca: &Ca) -> &str {
    ca.subject
        .split(", ")
        .find_map(|p| p.strip_prefix("CN="))
        .unwrap_or(&ca.subject)
}

/// How the root leaves the macOS System keychain again.
pub fn keychain_undo(ca: &Ca) -> String {
    format!(
        "undo: sudo security delete-certificate -c {} /Library/Keychains/System.keychain",
        crate::escape::shell(common_name(ca))
    )
}

/// How the root leaves the Windows root store again.
pub fn root_store_undo(ca: &Ca) -> String {
    format!(
        "undo: in an administrator PowerShell: Get-ChildItem Cert:\\LocalMachine\\Root | Where-Object Subject -like {} | Remove-Item",
        crate::escape::powershell(&format!("*CN={}*", common_name(ca)))
    )
}

/// The steps this module plans (the WSL2 distro's carry the distro's name after the colon).
const STEPS: &[&str] = &[
    "desktop-windows-store",
    "desktop-proxy",
    "desktop-mirrors",
    "desktop-restart",
    "colima-vm-trust",
    "colima-proxy",
    "colima-restart",
    "rancher-proxy",
    "rancher-restart",
];
const DISTRO_STEPS: &[&str] = &[
    "wsl-distro-trust:",
    "wsl-distro-proxy:",
    "wsl-distro-restart:",
];

/// Whether a plan step is one of these (they answer doctor's `network` checks).
pub fn is_step(id: &str) -> bool {
    STEPS.contains(&id) || DISTRO_STEPS.iter().any(|p| id.starts_with(p))
}

/// The desktop engine on this machine, if any: as recorded, else from where the engine answers
/// and which programs are there.
pub fn engine(f: &Facts) -> Option<DesktopEngine> {
    if let Some(e) = f.net.desktop.engine {
        return Some(e);
    }
    let ep = f.engine_endpoint.as_deref().unwrap_or_default();
    match f.kind? {
        Kind::Macos if ep.contains("/.colima/") => Some(DesktopEngine::Colima),
        Kind::Macos if ep.contains("/.rd/") => Some(DesktopEngine::RancherDesktop),
        Kind::Macos if ep.contains("/.docker/run/") || f.desktop.installed => {
            Some(DesktopEngine::DockerDesktop)
        }
        Kind::Macos if f.has("rdctl") => Some(DesktopEngine::RancherDesktop),
        Kind::Macos if f.has("colima") => Some(DesktopEngine::Colima),
        Kind::Windows if f.has("rdctl") && !f.desktop.installed => {
            Some(DesktopEngine::RancherDesktop)
        }
        Kind::Windows if f.desktop.installed || ep.contains("docker_engine") => {
            Some(DesktopEngine::DockerDesktop)
        }
        Kind::Windows if f.wsl.distro_engine => Some(DesktopEngine::WslEngine),
        // Inside a WSL2 distro whose engine is Docker Desktop's (its integration).
        Kind::Wsl2 if f.desktop.integration() => Some(DesktopEngine::DockerDesktop),
        _ => None,
    }
}

/// The steps for this engine: after the host's own store (`host_store`: a step puts the root
/// there), what the engine needs to trust it and to use the proxy.
pub fn steps(f: &Facts, e: DesktopEngine, w: &NetWants, host_store: bool) -> Vec<Step> {
    match e {
        DesktopEngine::DockerDesktop => docker_desktop(f, w, host_store),
        DesktopEngine::Colima => colima(f, w),
        DesktopEngine::RancherDesktop => rancher(f, w, host_store),
        DesktopEngine::WslEngine => wsl_engine(f, w),
    }
}

fn mk(id: &str, why: String, change: Vec<Action>, check: Probe, verify: Probe, note: &str) -> Step {
    let manual = change.iter().all(|a| matches!(a, Action::Manual { .. }));
    Step {
        id: id.into(),
        why,
        state: if manual { State::Manual } else { State::Todo },
        check,
        change,
        verify,
        note: (!note.is_empty()).then(|| note.to_string()),
    }
}

fn run(argv: &[&str], timeout_secs: u64) -> Action {
    Action::Run {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        timeout_secs,
    }
}

fn manual(text: String) -> Vec<Action> {
    vec![Action::Manual { text }]
}

fn masked(url: Option<&str>) -> String {
    url.map(crate::secrets::mask_text)
        .unwrap_or_else(|| "none".into())
}

fn proxy_differs(want: Option<&str>, have: Option<&str>) -> bool {
    want.is_some() && !crate::netdiag::proxy::same_proxy(want, have)
}

/// The wanted proxy, one `line(KEY, value)` per variable set (passwords masked), joined.
fn proxy_lines(w: &NetWants, line: impl Fn(&str, &str) -> String) -> String {
    [
        ("HTTP_PROXY", &w.http_proxy),
        ("HTTPS_PROXY", &w.https_proxy),
        ("NO_PROXY", &w.no_proxy),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| line(k, &crate::secrets::mask_text(v))))
    .collect()
}

/// The manual step that gives a desktop engine your proxy: why (`WHO uses HAVE, yours is
/// WANTED`, passwords masked), what to do (`text`, then where a masked password comes from).
fn proxy_step(id: &str, who: &str, have: &str, w: &NetWants, text: String, note: &str) -> Step {
    mk(
        id,
        format!(
            "{who} uses {have}, yours is {}",
            masked(w.https_proxy.as_deref())
        ),
        manual(format!("{text}{}", password_note(w))),
        Probe::Manual,
        Probe::Manual,
        note,
    )
}

/// Where a proxy password was masked, where the real one comes from.
fn password_note(w: &NetWants) -> &'static str {
    let has = |p: &Option<String>| p.as_deref().is_some_and(|p| p.contains('@'));
    if has(&w.https_proxy) || has(&w.http_proxy) {
        " (*** is the password in your HTTPS_PROXY)"
    } else {
        ""
    }
}

/// Docker Desktop's proxy, from its settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesktopProxy {
    /// `manual`, `system`, or nothing said.
    pub mode: Option<String>,
    pub http: Option<String>,
    pub https: Option<String>,
    pub exclude: Option<String>,
    /// An administrator locks it (`admin-settings.json`).
    pub locked: bool,
}

impl DesktopProxy {
    fn describe(&self) -> String {
        match self.mode.as_deref() {
            Some("manual") => format!("the proxy {}", masked(self.https.as_deref())),
            Some("system") | None => "the system's proxy settings".into(),
            Some(other) => format!("proxy mode \"{other}\""),
        }
    }
}

fn str_key(m: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// The proxy in `settings-store.json` (`ProxyHTTPMode`, `OverrideProxyHTTP(S)`,
/// `OverrideProxyExclude`; `settings.json` before 4.35 spells them in lower camel case).
pub fn desktop_proxy(settings: &str) -> DesktopProxy {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str(settings) else {
        return DesktopProxy::default();
    };
    DesktopProxy {
        mode: str_key(&m, "ProxyHTTPMode"),
        http: str_key(&m, "OverrideProxyHTTP"),
        https: str_key(&m, "OverrideProxyHTTPS"),
        exclude: str_key(&m, "OverrideProxyExclude"),
        locked: false,
    }
}

/// The proxy an administrator set and locked in `admin-settings.json` (its `proxy` object).
pub fn admin_proxy(admin: &str) -> Option<DesktopProxy> {
    let v: serde_json::Value = serde_json::from_str(admin).ok()?;
    let p = v.get("proxy")?.as_object()?;
    if p.get("locked").and_then(|l| l.as_bool()) != Some(true) {
        return None;
    }
    Some(DesktopProxy {
        mode: str_key(p, "mode"),
        http: str_key(p, "http"),
        https: str_key(p, "https"),
        exclude: p.get("exclude").and_then(|e| match e {
            serde_json::Value::Array(a) => Some(
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            serde_json::Value::String(s) => Some(s.clone()),
            _ => None,
        }),
        locked: true,
    })
}

fn settings_file(f: &Facts) -> &'static str {
    if matches!(f.kind, Some(Kind::Windows | Kind::Wsl2)) {
        r"%APPDATA%\Docker\settings-store.json"
    } else {
        "~/Library/Group Containers/group.com.docker/settings-store.json"
    }
}

fn docker_desktop(f: &Facts, w: &NetWants, host_store: bool) -> Vec<Step> {
    let mut out = Vec::new();
    let inside_wsl = f.kind == Some(Kind::Wsl2);
    if let (true, Some(ca)) = (inside_wsl, &w.ca)
        && !vm_trusts(f, ca)
    {
        out.extend(windows_store_from_wsl(f, ca));
    }
    let current = desktop_current_proxy(f);
    let manual_ok = current.mode.as_deref() == Some("manual");
    if w.https_proxy.is_some()
        && (!manual_ok || proxy_differs(w.https_proxy.as_deref(), current.https.as_deref()))
    {
        out.push(desktop_proxy_step(f, w, &current));
    }
    out.extend(desktop_mirrors(f, w));
    if host_store && f.engine == EngineState::Ready && !inside_wsl {
        out.push(desktop_restart(f));
    }
    out
}

/// The VM's own store (colima's, the WSL distro's, Docker Desktop's) holds the root.
fn vm_trusts(f: &Facts, ca: &Ca) -> bool {
    f.net
        .desktop
        .vm_subjects
        .as_ref()
        .or(f.wsl.distro_roots.as_ref())
        .is_some_and(|s| s.contains(&ca.subject))
}

/// Docker Desktop's proxy: an administrator's lock, else its settings file.
fn desktop_current_proxy(f: &Facts) -> DesktopProxy {
    let d = &f.net.desktop;
    let settings = d.settings.as_deref().or(f.wsl.desktop_settings.as_deref());
    d.admin_settings
        .as_deref()
        .and_then(admin_proxy)
        .or_else(|| settings.map(desktop_proxy))
        .unwrap_or_default()
}

fn desktop_mirrors(f: &Facts, w: &NetWants) -> Option<Step> {
    let missing: Vec<&str> = w
        .mirrors
        .iter()
        .filter(|m| {
            !f.net
                .engine_mirrors
                .iter()
                .any(|e| e.trim_end_matches('/') == m.trim_end_matches('/'))
        })
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let list = missing
        .iter()
        .map(|m| format!("\"{m}\""))
        .collect::<Vec<_>>()
        .join(", ");
    Some(mk(
        "desktop-mirrors",
        format!(
            "Docker Desktop's engine lacks the mirrors {}",
            missing.join(", ")
        ),
        manual(format!(
            "in Docker Desktop: Settings > Docker Engine, add \"registry-mirrors\": [{list}] to the JSON (keep what is there), then Apply & restart"
        )),
        Probe::Manual,
        Probe::Manual,
        "",
    ))
}

fn desktop_restart(f: &Facts) -> Step {
    let store = if f.kind == Some(Kind::Windows) {
        "the Windows root store"
    } else {
        "the macOS keychain"
    };
    mk(
        "desktop-restart",
        format!("Docker Desktop copies the roots of {store} into its VM when it starts"),
        vec![run(&["docker", "desktop", "restart"], 300)],
        Probe::Manual,
        Probe::EnginePing { wait_secs: 180 },
        "`docker desktop restart` needs Docker Desktop 4.37 or later; before that, quit Docker Desktop and open it again",
    )
}

fn desktop_proxy_step(f: &Facts, w: &NetWants, current: &DesktopProxy) -> Step {
    let v = |p: &Option<String>| p.as_deref().map(crate::secrets::mask_text);
    let http = v(&w.http_proxy).or(v(&w.https_proxy)).unwrap_or_default();
    let https = v(&w.https_proxy).unwrap_or_default();
    let bypass = w.no_proxy.clone().unwrap_or_default();
    let text = if current.locked {
        format!(
            "Docker Desktop's proxy is locked by your administrator (admin-settings.json `proxy`): ask them to set http {http}, https {https}, exclude {bypass}"
        )
    } else {
        format!(
            "in Docker Desktop: Settings > Resources > Proxies, turn on Manual proxy configuration: Web Server (HTTP) {http}, Secure Web Server (HTTPS) {https}, Bypass proxy settings for these hosts & domains {bypass}; Apply & restart (Docker Desktop keeps them in {} as ProxyHTTPMode, OverrideProxyHTTP, OverrideProxyHTTPS, OverrideProxyExclude)",
            settings_file(f)
        )
    };
    let have = current.describe();
    proxy_step(
        "desktop-proxy",
        "Docker Desktop's engine",
        &have,
        w,
        text,
        "",
    )
}

/// Inside a WSL2 distro on Docker Desktop's engine: the engine runs in Desktop's own VM, which
/// takes the Windows root store at start, so the root goes there (as the Windows administrator)
/// and Docker Desktop is restarted on Windows; neither can be done from inside the distro.
fn windows_store_from_wsl(f: &Facts, ca: &Ca) -> Vec<Step> {
    let windows_path = windows_path_of(&ca.path, f.wsl_distro.as_deref());
    let why = format!(
        "Docker Desktop's engine (on Windows, outside this distro) does not trust \"{}\"",
        ca.subject
    );
    let store = mk(
        "desktop-windows-store",
        why,
        manual(format!(
            "on Windows, in an administrator PowerShell: Import-Certificate -FilePath {} -CertStoreLocation Cert:\\LocalMachine\\Root",
            crate::escape::powershell(&windows_path)
        )),
        Probe::Manual,
        Probe::Manual,
        &root_store_undo(ca),
    );
    let restart = mk(
        "desktop-restart",
        "Docker Desktop copies the roots of the Windows root store into its VM when it starts".into(),
        manual("restart Docker Desktop on Windows (`docker desktop restart` in PowerShell, Docker Desktop 4.37 or later; else quit it and open it again)".into()),
        Probe::Manual,
        Probe::Manual,
        "",
    );
    vec![store, restart]
}

/// A distro's path as Windows names it: `/mnt/c/x` is `C:\x`, anything else is under
/// `\\wsl.localhost\<distro>`.
pub fn windows_path_of(path: &str, distro: Option<&str>) -> String {
    let drive = path.strip_prefix("/mnt/").and_then(|rest| {
        let (letter, tail) = rest.split_at_checked(1)?;
        let ok = letter.chars().all(|c| c.is_ascii_alphabetic())
            && (tail.is_empty() || tail.starts_with('/'));
        ok.then(|| {
            format!(
                "{}:{}",
                letter.to_ascii_uppercase(),
                tail.replace('/', "\\")
            )
        })
    });
    drive.unwrap_or_else(|| {
        format!(
            "\\\\wsl.localhost\\{}{}",
            distro.unwrap_or("Ubuntu"),
            path.replace('/', "\\")
        )
    })
}

/// The colima profile the engine's socket belongs to (`~/.colima/<profile>/docker.sock`).
pub fn colima_profile(endpoint: Option<&str>) -> String {
    endpoint
        .and_then(|e| e.split_once("/.colima/"))
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(p, _)| p)
        .filter(|p| !p.is_empty() && !p.starts_with('_'))
        .unwrap_or("default")
        .to_string()
}

/// `colima SUB [--profile P] ARGS...`.
fn colima_argv(profile: &str, sub: &str, args: &[&str]) -> Vec<String> {
    let mut v = vec!["colima".to_string(), sub.to_string()];
    if profile != "default" {
        v.extend(["--profile".to_string(), profile.to_string()]);
    }
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

/// The command that prints colima's VM store (for its subjects).
pub fn colima_store_argv(f: &Facts) -> Vec<String> {
    let profile = colima_profile(f.engine_endpoint.as_deref());
    colima_argv(&profile, "ssh", &["--", "cat", VM_BUNDLE])
}

/// The value colima.yaml's `env:` gives a variable (either case).
pub fn colima_env(yaml: &str, key: &str) -> Option<String> {
    let v: serde_yaml::Value = serde_yaml::from_str(yaml).ok()?;
    let env = v.get("env")?.as_mapping()?;
    env.iter()
        .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(key)))
        .and_then(|(_, v)| v.as_str())
        .map(String::from)
}

/// Installs the root from `$1` into a Debian-style store, or takes it out again when `$1` is
/// gone (so the undo script, which removes `$1` first and then runs this again, takes it out).
const SYNC_ROOT: &str = "if [ -f \"$1\" ]; then cp \"$1\" /usr/local/share/ca-certificates/onramp-company-root.crt; else rm -f /usr/local/share/ca-certificates/onramp-company-root.crt; fi && update-ca-certificates >/dev/null";

const VM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn colima(f: &Facts, w: &NetWants) -> Vec<Step> {
    let profile = colima_profile(f.engine_endpoint.as_deref());
    let mut out = Vec::new();
    if let Some(ca) = &w.ca {
        if !vm_trusts(f, ca) {
            out.push(colima_vm_trust(f, &profile, ca));
        }
        for r in &w.registries {
            if let Some(s) = user_certs_d(f, r, ca) {
                out.push(s);
            }
        }
    }
    let restart = !out.is_empty();
    out.extend(colima_proxy(f, w, &profile));
    if restart && f.engine == EngineState::Ready {
        out.push(mk(
            "colima-restart",
            "colima copies ~/.docker/certs.d into its VM and its engine reads the VM's store when it starts".into(),
            vec![Action::Run {
                argv: colima_argv(&profile, "restart", &[]),
                timeout_secs: 300,
            }],
            Probe::Manual,
            Probe::EnginePing { wait_secs: 180 },
            "",
        ));
    }
    out
}

/// colima's proxy: the `env:` of its `colima.yaml`, else what its engine reports.
fn colima_proxy(f: &Facts, w: &NetWants, profile: &str) -> Option<Step> {
    let have = f
        .net
        .desktop
        .colima_yaml
        .as_deref()
        .and_then(|y| colima_env(y, "HTTPS_PROXY"))
        .or(f.net.engine_https_proxy.clone());
    if !proxy_differs(w.https_proxy.as_deref(), have.as_deref()) {
        return None;
    }
    let lines = proxy_lines(w, |k, v| format!("  {k}: {v}\n"));
    let text = format!(
        "in ~/.colima/{profile}/colima.yaml set\nenv:\n{lines}then run `{}`",
        colima_argv(profile, "restart", &[]).join(" ")
    );
    let have = masked(have.as_deref());
    Some(proxy_step(
        "colima-proxy",
        "colima's engine",
        &have,
        w,
        text,
        "",
    ))
}

/// The root into colima's VM store: kept first as `~/.docker/onramp-company-root.crt` (colima
/// mounts the home folder into its VM), then installed from there.
fn colima_vm_trust(f: &Facts, profile: &str, ca: &Ca) -> Step {
    let why = format!(
        "colima's VM does not trust \"{}\" (TLS inspection reaches every registry)",
        ca.subject
    );
    let check = Probe::Command {
        argv: colima_argv(
            profile,
            "ssh",
            &["--", "grep", "-qF", &fingerprint_line(&ca.pem), VM_BUNDLE],
        ),
    };
    let Some(home) = f.home.as_deref() else {
        let text = format!(
            "copy {} into your home folder (colima's VM sees only that), then: {}",
            ca.path,
            colima_argv(
                profile,
                "ssh",
                &["--", "sudo", "sh", "-c", SYNC_ROOT, "sh", "FILE"]
            )
            .iter()
            .map(|a| crate::escape::shell(a))
            .collect::<Vec<_>>()
            .join(" ")
        );
        return mk(
            "colima-vm-trust",
            why,
            manual(text),
            Probe::Manual,
            Probe::Manual,
            "",
        );
    };
    let kept = format!("{home}/.docker/{CA_NAME}");
    let mut install = write_file(f, &kept, ca.pem.clone());
    if let Action::WriteFile { sudo, .. } = &mut install {
        *sudo = false;
    }
    mk(
        "colima-vm-trust",
        why,
        vec![
            install,
            Action::Run {
                argv: colima_argv(
                    profile,
                    "ssh",
                    &["--", "sudo", "sh", "-c", SYNC_ROOT, "sh", &kept],
                ),
                timeout_secs: 120,
            },
        ],
        check.clone(),
        check,
        &format!("stays until `colima delete`; undo: sh {}", UNDO),
    )
}

/// The root for one registry in `~/.docker/certs.d/<registry>/` (the user's own file; colima
/// copies the folder into its VM at start).
fn user_certs_d(f: &Facts, registry: &str, ca: &Ca) -> Option<Step> {
    if f.net
        .desktop
        .user_certs_d
        .get(registry)
        .is_some_and(|s| s.contains(&ca.subject))
    {
        return None;
    }
    let home = f.home.as_deref()?;
    let path = format!("{home}/.docker/certs.d/{registry}/{CA_NAME}");
    let mut write = write_file(f, &path, ca.pem.clone());
    if let Action::WriteFile { sudo, .. } = &mut write {
        *sudo = false;
    }
    let check = Probe::Command {
        argv: vec![
            "grep".into(),
            "-qF".into(),
            fingerprint_line(&ca.pem),
            path.clone(),
        ],
    };
    Some(mk(
        &format!("engine-trust:{registry}"),
        format!("colima does not trust \"{}\" for {registry}", ca.subject),
        vec![write],
        check.clone(),
        check,
        &format!("undo: sh {}", UNDO),
    ))
}

fn rancher(f: &Facts, w: &NetWants, host_store: bool) -> Vec<Step> {
    let mut out = Vec::new();
    if proxy_differs(
        w.https_proxy.as_deref(),
        f.net.engine_https_proxy.as_deref(),
    ) {
        let exports = proxy_lines(w, |k, v| {
            format!("export {k}={}\n", crate::escape::shell(v))
        });
        let text = if f.kind == Some(Kind::Windows) {
            format!(
                "create %LOCALAPPDATA%\\rancher-desktop\\provisioning\\onramp-proxy.start (run in Rancher Desktop's WSL distro at each start) writing these lines to /etc/conf.d/docker:\n{exports}then restart Rancher Desktop"
            )
        } else {
            format!(
                "in ~/Library/Application Support/rancher-desktop/lima/_config/override.yaml add a provisioning script (`provision:` with `mode: system`) that writes these lines to /etc/conf.d/docker:\n{exports}then restart Rancher Desktop"
            )
        };
        out.push(proxy_step(
            "rancher-proxy",
            "Rancher Desktop's engine",
            &masked(f.net.engine_https_proxy.as_deref()),
            w,
            text,
            "Rancher Desktop documents its provisioning scripts, not a proxy setting for its engine",
        ));
    }
    if host_store && f.engine == EngineState::Ready {
        let store = if f.kind == Some(Kind::Windows) {
            "the Windows Root and CA stores"
        } else {
            "the macOS keychain"
        };
        out.push(mk(
            "rancher-restart",
            format!("Rancher Desktop copies the roots of {store} into its VM when it starts"),
            vec![
                run(&["rdctl", "shutdown"], 300),
                run(&["rdctl", "start"], 60),
            ],
            Probe::Manual,
            Probe::EnginePing { wait_secs: 300 },
            "",
        ));
    }
    out
}

fn wsl_argv(distro: &str, root: bool, cmd: &[&str]) -> Vec<String> {
    let mut v = vec!["wsl.exe".to_string(), "-d".into(), distro.into()];
    if root {
        v.extend(["-u".into(), "root".into()]);
    }
    v.push("--".into());
    v.extend(cmd.iter().map(|a| a.to_string()));
    v
}

fn wsl_engine(f: &Facts, w: &NetWants) -> Vec<Step> {
    let Some(d) = f.wsl.distro.clone().or_else(|| f.wsl.default_distro()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(ca) = &w.ca
        && !vm_trusts(f, ca)
    {
        out.push(wsl_trust(&d, ca));
    }
    let trust = !out.is_empty();
    if proxy_differs(
        w.https_proxy.as_deref(),
        f.net.engine_https_proxy.as_deref(),
    ) {
        let exports = proxy_lines(w, |k, v| format!("{k}={} ", crate::escape::shell(v)));
        out.push(proxy_step(
            &format!("wsl-distro-proxy:{d}"),
            &format!("the engine in {d}"),
            &masked(f.net.engine_https_proxy.as_deref()),
            w,
            format!(
                "in {d}, in the project: {exports}onramp doctor --fix (it gives the engine the proxy in /etc/docker/daemon.json, or a drop-in before Engine 23, and restarts it)"
            ),
            "`onramp migrate wsl` runs the project's setup inside the distro, with the same steps",
        ));
    }
    if trust {
        let restart = "if [ -d /run/systemd/system ]; then systemctl restart docker; else service docker restart; fi";
        let ping = wsl_argv(&d, true, &["docker", "info"]);
        out.push(mk(
            &format!("wsl-distro-restart:{d}"),
            format!("the engine in {d} reads the distro's store when it starts"),
            vec![Action::Run {
                argv: wsl_argv(&d, true, &["sh", "-c", restart]),
                timeout_secs: 120,
            }],
            Probe::Manual,
            Probe::Command { argv: ping },
            "",
        ));
    }
    out
}

/// The root into the distro's own store (pip, uv and the engine inside read it), from the
/// user's file as the distro mounts it.
fn wsl_trust(d: &str, ca: &Ca) -> Step {
    let why = format!("{d}'s trust store does not hold \"{}\"", ca.subject);
    let check = Probe::Command {
        argv: wsl_argv(
            d,
            false,
            &["grep", "-qF", &fingerprint_line(&ca.pem), VM_BUNDLE],
        ),
    };
    let undo = format!(
        "undo: {}",
        crate::install::shell_line(&wsl_argv(
            d,
            true,
            &["sh", "-c", SYNC_ROOT, "sh", "/nonexistent"]
        ))
    );
    let Some(inside) = crate::wsl::facts::mnt_path(&ca.path) else {
        return mk(
            &format!("wsl-distro-trust:{d}"),
            why,
            manual(format!(
                "copy {} into {d} and add it to the distro's store (/usr/local/share/ca-certificates, then update-ca-certificates)",
                ca.path
            )),
            Probe::Manual,
            Probe::Manual,
            "",
        );
    };
    mk(
        &format!("wsl-distro-trust:{d}"),
        why,
        vec![Action::Run {
            argv: wsl_argv(d, true, &["sh", "-c", SYNC_ROOT, "sh", &inside]),
            timeout_secs: 120,
        }],
        check.clone(),
        check,
        &undo,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_settings_are_read_in_both_spellings_and_an_admin_lock_wins() {
        let new = r#"{"ProxyHTTPMode":"manual","OverrideProxyHTTP":"http://p:3128","OverrideProxyHTTPS":"http://p:3128","OverrideProxyExclude":"localhost"}"#;
        let p = desktop_proxy(new);
        assert_eq!(p.mode.as_deref(), Some("manual"));
        assert_eq!(p.https.as_deref(), Some("http://p:3128"));
        assert_eq!(p.exclude.as_deref(), Some("localhost"));
        let old = r#"{"proxyHttpMode":"system","overrideProxyHttps":""}"#;
        let p = desktop_proxy(old);
        assert_eq!(p.mode.as_deref(), Some("system"));
        assert_eq!(p.https, None);
        assert_eq!(desktop_proxy("{not json"), DesktopProxy::default());
        let admin = r#"{"configurationFileVersion":2,"proxy":{"locked":true,"mode":"manual","https":"http://corp:8080","exclude":["a","b"]}}"#;
        let a = admin_proxy(admin).unwrap();
        assert!(a.locked);
        assert_eq!(a.exclude.as_deref(), Some("a,b"));
        assert!(admin_proxy(r#"{"proxy":{"locked":false,"mode":"manual"}}"#).is_none());
    }

    #[test]
    fn colima_profile_and_env_come_from_its_socket_and_yaml() {
        assert_eq!(
            colima_profile(Some("unix:///Users/dev/.colima/work/docker.sock")),
            "work"
        );
        assert_eq!(
            colima_profile(Some("unix:///Users/dev/.colima/default/docker.sock")),
            "default"
        );
        assert_eq!(colima_profile(None), "default");
        let y = "cpu: 2\nenv:\n  https_proxy: http://p:3128\n";
        assert_eq!(
            colima_env(y, "HTTPS_PROXY").as_deref(),
            Some("http://p:3128")
        );
        assert_eq!(colima_env("cpu: 2\nenv: {}\n", "HTTPS_PROXY"), None);
        assert_eq!(colima_env(": not yaml: [", "HTTPS_PROXY"), None);
    }

    #[test]
    fn the_engine_is_told_from_its_socket_before_the_programs() {
        let mac = |ep: &str, which: &[&str]| Facts {
            kind: Some(Kind::Macos),
            engine_endpoint: (!ep.is_empty()).then(|| ep.to_string()),
            which: which
                .iter()
                .map(|w| (w.to_string(), format!("/usr/local/bin/{w}")))
                .collect(),
            ..Facts::default()
        };
        let colima_sock = "unix:///Users/dev/.colima/default/docker.sock";
        assert_eq!(
            engine(&mac(colima_sock, &["rdctl"])),
            Some(DesktopEngine::Colima)
        );
        assert_eq!(
            engine(&mac("unix:///Users/dev/.rd/docker.sock", &["colima"])),
            Some(DesktopEngine::RancherDesktop)
        );
        assert_eq!(
            engine(&mac("unix:///Users/dev/.docker/run/docker.sock", &[])),
            Some(DesktopEngine::DockerDesktop)
        );
        assert_eq!(engine(&mac("", &["colima"])), Some(DesktopEngine::Colima));
        assert_eq!(engine(&mac("", &[])), None);
        let linux = Facts {
            kind: Some(Kind::Linux),
            engine_endpoint: Some(colima_sock.into()),
            ..Facts::default()
        };
        assert_eq!(engine(&linux), None);
    }

    #[test]
    fn a_distros_path_is_named_as_windows_names_it() {
        assert_eq!(
            windows_path_of("/mnt/c/Users/dev/root.pem", None),
            r"C:\Users\dev\root.pem"
        );
        assert_eq!(
            windows_path_of("/home/dev/proj/root.pem", Some("Ubuntu-24.04")),
            r"\\wsl.localhost\Ubuntu-24.04\home\dev\proj\root.pem"
        );
        assert!(windows_path_of("/mnt/wsl/x", None).starts_with(r"\\wsl.localhost\"));
    }

    #[test]
    fn a_distros_engine_seen_from_windows_gets_the_root_unless_its_store_has_it() {
        let ca = Ca {
            path: r"C:\Users\dev\src\horme\corp-root.pem".into(),
            pem: "-----BEGIN CERTIFICATE-----\nMIIBfjCCASSgAwIBAgIBATAKBggqhkjOPQQDAjA+MRUwEwYDVQQKDAxFeGFtcGxl\n-----END CERTIFICATE-----\n".into(),
            subject: "CN=Corp Root".into(),
        };
        let w = NetWants {
            ca: Some(ca),
            ..NetWants::default()
        };
        let mut f = Facts {
            kind: Some(Kind::Windows),
            ..Facts::default()
        };
        f.wsl.distro = Some("Ubuntu-24.04".into());
        assert_eq!(engine(&f), None);
        f.wsl.distro_engine = true;
        let e = engine(&f).unwrap();
        assert_eq!(e, DesktopEngine::WslEngine);
        let s = steps(&f, e, &w, true);
        let ids: Vec<&str> = s.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "wsl-distro-trust:Ubuntu-24.04",
                "wsl-distro-restart:Ubuntu-24.04"
            ]
        );
        let Action::Run { argv, .. } = &s[0].change[0] else {
            panic!("{:?}", s[0])
        };
        assert_eq!(
            &argv[..6],
            ["wsl.exe", "-d", "Ubuntu-24.04", "-u", "root", "--"]
        );
        assert_eq!(
            argv.last().unwrap(),
            "/mnt/c/Users/dev/src/horme/corp-root.pem"
        );
        f.wsl.distro_roots = Some(vec!["CN=Corp Root".into()]);
        assert!(steps(&f, e, &w, true).is_empty());
    }

    #[test]
    fn step_ids_answer_the_network_check() {
        for id in [
            "desktop-restart",
            "colima-vm-trust",
            "wsl-distro-trust:Ubuntu",
            "rancher-proxy",
        ] {
            assert!(is_step(id), "{id}");
            assert_eq!(crate::install::answers(id), &["network"]);
        }
        assert!(!is_step("desktop-integration"));
    }
}
