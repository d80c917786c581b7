//! One snapshot of the machine per run: the platform with its evidence, os-release, the
//! engine's answer, the interpreters found, user and sudo facts. Gathered once, concurrently,
//! through the host, and handed to the checks, the installer's planner, remedies and validation.
//! Under `ONRAMP_SYSROOT` the same snapshot comes from the root: its files, and for what cannot
//! be a file there (`which` results, uid, the engine's answer, sudo, Python) its recording
//! `<sysroot>/onramp-facts.toml`, so a recorded machine gives the same answers every time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::engine::{self, Connected, Endpoint, EngineInfo, Reach};
use crate::errors::Error;
use crate::host::{Cmd, Host, Os};
use crate::install::{self, Desktop, EngineState, Facts, Plan, VenvState, Wants, pkg};
use crate::platform::{self, Platform};
use crate::python::{self, Found, Interpreter};
use crate::version::{Version, VersionReq};

/// The machine as this run found it.
#[derive(Debug, Clone)]
pub struct Machine {
    pub platform: Platform,
    /// Where the engine is and whether it answered.
    pub engine: engine::Probe,
    /// The interpreters looked at, and the first in the profile's range.
    pub python: Found,
    /// What the installer's planner reads (os-release, user, sudo, packages, init, ...).
    pub facts: Facts,
}

/// How much of the machine to ask about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// What the checks and their fixes read. Whether `sudo -n` works and whether the
    /// interpreter has ensurepip change no fix line; they are left unasked (false).
    Checks,
    /// Everything the installer's plan reads (`doctor --fix`, `setup`).
    Plan,
}

impl Machine {
    /// Gather the snapshot: the files first, then the engine, the interpreters, sudo and WSL
    /// asked at the same time.
    pub async fn gather(
        host: &Host,
        dir: &Path,
        python_req: Option<&VersionReq>,
        depth: Depth,
    ) -> Machine {
        Machine::gather_with(host, dir, python_req, None, depth).await
    }

    /// As `gather`, reusing an engine probe this run already made.
    pub async fn gather_with(
        host: &Host,
        dir: &Path,
        python_req: Option<&VersionReq>,
        engine: Option<engine::Probe>,
        depth: Depth,
    ) -> Machine {
        let recorded = recorded(host);
        let pf = platform_facts(host, recorded.as_ref());
        let plat = platform::detect(&pf);
        let mut facts = from_files(host, &plat, pf.os_release);
        facts.project_venv = venv_state(&dir.join(".venv"));
        let (engine, python) = match recorded {
            Some(r) => {
                facts.wsl = crate::wsl::facts::recorded(host, plat.kind);
                apply_recorded(host, &mut facts, r)
            }
            None => {
                let (found, wsl) = tokio::join!(
                    live(host, dir, python_req, engine, depth, &mut facts),
                    crate::wsl::facts::live(host, plat.kind, dir, None, false),
                );
                facts.wsl = wsl;
                if let Some(pem) = facts.wsl.distro_roots_pem.take() {
                    let roots = crate::netdiag::Roots::from_pem(None, pem.as_bytes());
                    facts.wsl.distro_roots = Some(roots.subjects);
                }
                found
            }
        };
        Machine {
            platform: plat,
            engine,
            python,
            facts,
        }
    }

    pub fn os_release(&self) -> Option<&str> {
        self.facts.os_release.as_deref()
    }

    /// The installer's plan for this machine.
    pub fn plan(&self, wants: &Wants) -> Plan {
        install::plan(&self.facts, wants)
    }
}

/// Connect for real work, or fail with the installer's remedy for this machine (exit 1). With
/// this run's snapshot (`setup`), its engine probe is used and nothing is asked again.
pub async fn connect_or_remedy(
    host: &Host,
    dir: &Path,
    known: Option<&Machine>,
) -> Result<Connected, Error> {
    let probe = match known {
        Some(m) => m.engine.clone(),
        None => engine::probe(host).await,
    };
    let probe = match engine::connect_probed(host, &probe).await {
        Ok(c) => return Ok(c),
        Err(p) => p,
    };
    let gathered;
    let machine = match known {
        Some(m) => m,
        None => {
            gathered =
                Machine::gather_with(host, dir, None, Some(probe.clone()), Depth::Checks).await;
            &gathered
        }
    };
    let help = machine
        .plan(&Wants::everything(dir))
        .fix_for("docker")
        .unwrap_or_else(|| engine::generic_remedy(&probe.reach));
    Err(Error::NotReady {
        message: engine::describe(&probe),
        help,
    })
}

/// Programs whose presence the planner looks at.
pub const PROGRAMS: &[&str] = &[
    "docker",
    "dockerd",
    "podman",
    "python3",
    "sudo",
    "sg",
    "brew",
    "colima",
    "winget",
    "wsl",
    "wsl.exe",
    "rc-service",
    "service",
    "systemctl",
    "com.docker.backend",
    "rdctl",
];

/// The recorded file in a sysroot.
pub const RECORDED: &str = "onramp-facts.toml";

/// What a recording may set; everything else comes from the sysroot's files.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Recorded {
    os: Option<String>,
    wsl_distro: Option<String>,
    which: BTreeMap<String, String>,
    uid: Option<u32>,
    user: Option<String>,
    home: Option<String>,
    home_uid: Option<u32>,
    engine: Option<EngineState>,
    /// Where the engine answers (`unix:///run/user/1000/podman/podman.sock`).
    engine_endpoint: Option<String>,
    docker_host: Option<String>,
    sudo_ok: bool,
    python: Option<String>,
    python_version: Option<String>,
    ensurepip: bool,
    desktop_installed: bool,
    nf_tables_failed: bool,
    wsl_ready: bool,
    packages: Option<Vec<String>>,
    /// The network setup (trust stores, the engine's proxy, a desktop engine's settings).
    net: Option<install::net::NetFacts>,
}

/// Under `ONRAMP_SYSROOT` every fact comes from that root: its files and its recording (empty
/// when there is none), never from the machine onramp runs on.
fn recorded(host: &Host) -> Option<Recorded> {
    if !host.sysroot_overridden() {
        return None;
    }
    let text = host
        .sys_read_small(&format!("/{RECORDED}"), 64 * 1024)
        .unwrap_or_default();
    Some(toml::from_str(&text).unwrap_or_default())
}

/// What platform detection reads; a recording says which OS the root belongs to.
fn platform_facts(host: &Host, r: Option<&Recorded>) -> platform::Facts {
    let mut pf = platform::collect(host);
    if let Some(r) = r {
        pf.os = Some(match r.os.as_deref() {
            Some("windows") => Os::Windows,
            Some("macos") => Os::Macos,
            _ => Os::Linux,
        });
        if r.wsl_distro.is_some() {
            pf.wsl_distro_name = r.wsl_distro.clone();
        }
        pf.container_env = None;
    }
    pf
}

/// Everything a sysroot's files say.
fn from_files(host: &Host, plat: &Platform, os_release: Option<String>) -> Facts {
    let docker_link = host.sys_read_link("/usr/bin/docker").unwrap_or_default();
    let docker_text = host
        .sys_read_small("/usr/bin/docker", 64 * 1024)
        .unwrap_or_default();
    Facts {
        kind: Some(plat.kind),
        container: plat.container,
        wsl_distro: plat.wsl_distro.clone(),
        os_release,
        pid1: host.sys_read("/proc/1/comm").map(|s| s.trim().to_string()),
        systemd_running: host.sys_exists("/run/systemd/system"),
        docker_group: host
            .sys_read("/etc/group")
            .and_then(|g| group_members(&g, "docker")),
        packages: host
            .sys_read("/var/lib/dpkg/status")
            .map(|s| dpkg_installed(&s, pkg::ENGINE_PACKAGES))
            .unwrap_or_default(),
        desktop: Desktop {
            cli_symlink: docker_link.contains("/mnt/wsl/docker-desktop"),
            proxy_socket: host.sys_exists(
                "/mnt/wsl/docker-desktop/shared-sockets/guest-services/docker.proxy.sock",
            ),
            stub: docker_text.contains("could not be found in this WSL 2 distro"),
            installed: false,
        },
        wsl_conf_systemd: host
            .sys_read("/etc/wsl.conf")
            .is_some_and(|t| wsl_conf_systemd(&t)),
        stale_pidfiles: stale_pidfiles(host),
        ..Facts::default()
    }
}

/// The recording's facts; programs it does not name are looked up inside the root.
fn apply_recorded(host: &Host, f: &mut Facts, r: Recorded) -> (engine::Probe, Found) {
    f.which = r.which;
    which_in_root(host, f);
    f.uid = r.uid;
    f.user = r.user;
    f.home = r.home;
    f.home_uid = r.home_uid;
    f.engine = r.engine.unwrap_or_default();
    f.engine_endpoint = r.engine_endpoint;
    f.docker_host = r.docker_host;
    f.sudo_ok = r.sudo_ok;
    f.python = r.python;
    f.python_version = r.python_version;
    f.ensurepip = r.ensurepip;
    f.desktop.installed = r.desktop_installed;
    f.nf_tables_failed = r.nf_tables_failed;
    f.wsl_ready = r.wsl_ready;
    if let Some(p) = r.packages {
        f.packages = p;
    }
    if let Some(n) = r.net {
        f.net = n;
    }
    (recorded_probe(f), recorded_python(f))
}

/// Programs the recording does not name, found in the root's usual `PATH` directories.
fn which_in_root(host: &Host, f: &mut Facts) {
    const DIRS: &[&str] = &[
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ];
    for p in PROGRAMS {
        if f.which.contains_key(*p) {
            continue;
        }
        if let Some(d) = DIRS.iter().find(|d| host.sys_exists(&format!("{d}/{p}"))) {
            f.which.insert(p.to_string(), format!("{d}/{p}"));
        }
    }
}

/// The engine's answer as recorded.
fn recorded_probe(f: &Facts) -> engine::Probe {
    let why = "as recorded".to_string();
    let reach = match f.engine {
        EngineState::Ready => Reach::Ready(EngineInfo {
            version: "(recorded)".into(),
            api_version: "(recorded)".into(),
            ..EngineInfo::default()
        }),
        EngineState::NotInstalled => Reach::NotInstalled,
        EngineState::NotRunning => Reach::NotRunning(why),
        EngineState::PermissionDenied => Reach::PermissionDenied(why),
        EngineState::Unreachable => Reach::Unreachable(why),
    };
    engine::Probe {
        endpoint: f.engine_endpoint.clone().map(|e| Endpoint {
            endpoint: e,
            source: RECORDED.into(),
        }),
        reach,
    }
}

/// The interpreter as recorded.
fn recorded_python(f: &Facts) -> Found {
    let interpreter = f.python.as_ref().map(|p| Interpreter {
        label: "python3".into(),
        program: PathBuf::from(p),
        args: Vec::new(),
        version: f
            .python_version
            .as_deref()
            .and_then(Version::parse)
            .unwrap_or(Version(vec![0])),
        executable: p.clone(),
    });
    Found {
        interpreter,
        ..Found::default()
    }
}

/// Ask the machine itself: `which` and the user first, then the engine, the interpreters,
/// sudo and WSL at once.
async fn live(
    host: &Host,
    dir: &Path,
    req: Option<&VersionReq>,
    engine: Option<engine::Probe>,
    depth: Depth,
    f: &mut Facts,
) -> (engine::Probe, Found) {
    for p in PROGRAMS {
        if let Some(path) = host.which(p) {
            f.which.insert(p.to_string(), path.display().to_string());
        }
    }
    f.uid = host.euid();
    f.user = host.env("USER").map(str::to_string).or_else(|| {
        let uid = f.uid?;
        host.sys_read("/etc/passwd")
            .and_then(|p| passwd_name(&p, uid))
    });
    let home = host.home();
    f.home_uid = home.as_deref().and_then(|h| host.owner_of(h));
    f.home = home.map(|h| h.display().to_string());
    f.docker_host = host.env("DOCKER_HOST").map(str::to_string);
    f.nf_tables_failed = nf_tables_failed(dir);
    f.desktop.installed = f.has("com.docker.backend");
    let plan = depth == Depth::Plan;
    let ask_sudo = plan && f.uid != Some(0) && f.has("sudo");
    let ask_wsl = host.os() == Os::Windows && f.has("wsl");
    let (probe, found, sudo_ok, wsl_ready) = tokio::join!(
        async {
            match engine {
                Some(p) => p,
                None => engine::probe(host).await,
            }
        },
        async {
            let found = python::find(host, dir, None, req).await;
            let ensurepip = plan && ensurepip(host, &found).await;
            (found, ensurepip)
        },
        succeeds(host, ask_sudo, "sudo", &["-n", "true"], 5),
        succeeds(host, ask_wsl, "wsl", &["--status"], 20),
    );
    f.sudo_ok = sudo_ok;
    f.wsl_ready = wsl_ready;
    f.engine = engine_state(&probe.reach, f);
    f.engine_endpoint = probe.endpoint.as_ref().map(|e| e.endpoint.clone());
    f.net = net_facts(host, &probe, f.podman_endpoint(), f.kind);
    desktop_roots(host, f).await;
    let (found, ensurepip) = found;
    if let Some(i) = &found.interpreter {
        f.python_version = Some(i.version.to_string());
        f.python = Some(system_program(i));
        f.ensurepip = ensurepip;
    }
    (probe, found)
}

/// A desktop engine's trust, asked live: the host store it copies into its VM (the macOS
/// System keychain, the Windows root store), and colima's own VM store.
async fn desktop_roots(host: &Host, f: &mut Facts) {
    use install::net_desktop::{self, DesktopEngine};
    let Some(engine) = net_desktop::engine(f) else {
        return;
    };
    let kind = f.kind.unwrap_or(platform::Kind::Linux);
    let colima = (engine == DesktopEngine::Colima && f.engine == EngineState::Ready)
        .then(|| net_desktop::colima_store_argv(f));
    let (roots, vm) = tokio::join!(crate::netdiag::desktop::host_roots(host, kind), async {
        match &colima {
            Some(argv) => crate::netdiag::desktop::colima_roots(host, argv).await,
            None => None,
        }
    });
    f.net.os_subjects.extend(roots.unwrap_or_default());
    if vm.is_some() {
        f.net.desktop.vm_subjects = vm;
    }
}

/// The network setup the planner reads: daemon.json, the engine's proxy and mirrors, and the
/// subjects of the roots in the OS store and the engine's `certs.d`.
fn net_facts(
    host: &Host,
    probe: &engine::Probe,
    podman: bool,
    kind: Option<platform::Kind>,
) -> install::net::NetFacts {
    let info = match &probe.reach {
        Reach::Ready(i) => Some(i),
        _ => None,
    };
    let reported = info.map(|i| crate::netdiag::EngineProxy {
        http: i.net.http_proxy.clone(),
        https: i.net.https_proxy.clone(),
        no_proxy: i.net.no_proxy.clone(),
        version: Some(i.version.clone()),
    });
    let proxy = crate::netdiag::engine_proxy(host, reported.as_ref(), podman);
    let certs_d = crate::netdiag::certs_d_registries(host, podman)
        .into_iter()
        .map(|r| {
            let subjects = crate::netdiag::certs_d(host, &r, podman).subjects;
            (r, subjects)
        })
        .collect();
    let desktop = install::net_desktop::gather(
        kind.unwrap_or(platform::Kind::Linux),
        probe.endpoint.as_ref().map(|e| e.endpoint.as_str()),
        host.home().as_deref(),
        host.env("APPDATA"),
        crate::fsx::read_text_file,
    );
    install::net::NetFacts {
        desktop,
        daemon_json: host.sys_read("/etc/docker/daemon.json"),
        engine_https_proxy: proxy.https,
        engine_http_proxy: proxy.http,
        engine_no_proxy: proxy.no_proxy,
        engine_mirrors: info.map(|i| i.net.mirrors.clone()).unwrap_or_default(),
        engine_version: info.map(|i| i.version.clone()),
        podman_mirrors: host.sys_read(install::net::PODMAN_MIRRORS),
        os_subjects: crate::netdiag::os_store(host).subjects,
        certs_d,
        podman: podman.then(|| podman_facts(host, probe, info)),
        daemon: (!podman)
            .then(|| crate::netdiag::podman::dockerd(host))
            .flatten(),
    }
}

/// Podman's API service and configuration, for the network steps.
fn podman_facts(
    host: &Host,
    probe: &engine::Probe,
    info: Option<&engine::EngineInfo>,
) -> install::net::PodmanFacts {
    use crate::netdiag::podman;
    let socket = probe
        .endpoint
        .as_ref()
        .and_then(|e| e.endpoint.strip_prefix("unix://").map(String::from))
        .unwrap_or_else(|| podman::socket(host));
    let version = info.map(|i| i.version.clone());
    let seen = podman::gather(host, &socket, version.as_deref().and_then(podman::version));
    install::net::PodmanFacts {
        version,
        environ_sets_proxy: seen.environ_sets_proxy(),
        socket,
        service: seen.service,
        engine_env: seen.engine_env,
        config_home: seen.config_home,
    }
}

/// The planner's view of the engine's answer. The probe counts any engine program (Podman
/// too) as installed; the plan needs to know whether the engine it would start is there.
fn engine_state(reach: &Reach, f: &Facts) -> EngineState {
    let state = match reach {
        Reach::Ready(_) => EngineState::Ready,
        Reach::NotInstalled => EngineState::NotInstalled,
        Reach::NotRunning(_) | Reach::Timeout => EngineState::NotRunning,
        Reach::PermissionDenied(_) => EngineState::PermissionDenied,
        Reach::Unreachable(_) | Reach::ApiTooOld(_) => EngineState::Unreachable,
    };
    let ours = f.has("dockerd") || !f.packages.is_empty();
    match state {
        EngineState::NotInstalled if ours => EngineState::NotRunning,
        EngineState::NotRunning if !ours => EngineState::NotInstalled,
        other => other,
    }
}

/// Whether `program args` exits 0 (`false` without asking when `ask` is false).
async fn succeeds(host: &Host, ask: bool, program: &str, args: &[&str], secs: u64) -> bool {
    if !ask {
        return false;
    }
    let cmd = Cmd::new(program, Duration::from_secs(secs)).args(args);
    host.run(&cmd).await.is_ok_and(|o| o.code == Some(0))
}

/// The program behind an interpreter: `sys.executable`, else the candidate's path.
fn system_program(i: &Interpreter) -> String {
    if i.executable.is_empty() {
        i.program.display().to_string()
    } else {
        i.executable.clone()
    }
}

/// Whether the interpreter found has its venv module and ensurepip (a venv's own interpreter
/// says nothing about the system's venv module, so `sys.executable` is asked).
async fn ensurepip(host: &Host, found: &Found) -> bool {
    let Some(i) = &found.interpreter else {
        return false;
    };
    let args = ["-I", "-c", "import ensurepip, venv"];
    succeeds(host, true, &system_program(i), &args, 10).await
}

/// The engine's logs (the project's detached dockerd, onramp's, the distribution's) show
/// iptables' nf_tables backend failing.
fn nf_tables_failed(dir: &Path) -> bool {
    let project_log = dir.join(".onramp/logs/dockerd.log");
    [
        project_log.as_path(),
        Path::new("/var/log/onramp-dockerd.log"),
        Path::new("/var/log/docker.log"),
    ]
    .iter()
    .any(|p| crate::fsx::tail_contains(p, 256 * 1024, "RULE_APPEND failed"))
}

/// A project venv: usable, interpreter gone, half-built, or absent.
pub fn venv_state(venv: &Path) -> VenvState {
    if !venv.join("pyvenv.cfg").is_file() {
        return VenvState::Absent;
    }
    let bin = venv.join("bin");
    if !bin.join("python").exists() {
        return VenvState::InterpreterGone;
    }
    if !bin.join("pip").exists() {
        return VenvState::HalfBuilt;
    }
    VenvState::Usable
}

/// Members of `group` in `/etc/group` text (`None`: no such group).
pub fn group_members(etc_group: &str, group: &str) -> Option<Vec<String>> {
    etc_group.lines().find_map(|l| {
        let mut parts = l.split(':');
        (parts.next()? == group).then(|| {
            parts
                .nth(2)
                .unwrap_or("")
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
    })
}

fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let parts: Vec<&str> = l.split(':').collect();
        (parts.get(2)?.parse::<u32>().ok()? == uid).then(|| parts[0].to_string())
    })
}

/// Which of `wanted` the dpkg status file lists as installed.
pub fn dpkg_installed(status: &str, wanted: &[&str]) -> Vec<String> {
    status
        .split("\n\n")
        .filter_map(|block| {
            let name = block.lines().find_map(|l| l.strip_prefix("Package: "))?;
            let st = block.lines().find_map(|l| l.strip_prefix("Status: "))?;
            (wanted.contains(&name.trim()) && st.trim().ends_with(" installed"))
                .then(|| name.trim().to_string())
        })
        .collect()
}

/// `[boot]` has `systemd=true` in `/etc/wsl.conf`.
pub fn wsl_conf_systemd(text: &str) -> bool {
    let mut section = String::new();
    for l in text.lines().map(str::trim) {
        if l.starts_with('[') {
            section = l.to_ascii_lowercase();
        } else if section == "[boot]" && l.replace(' ', "").eq_ignore_ascii_case("systemd=true") {
            return true;
        }
    }
    false
}

fn stale_pidfiles(host: &Host) -> Vec<String> {
    [
        "/var/run/docker.pid",
        "/var/run/docker/containerd/containerd.pid",
    ]
    .iter()
    .filter_map(|p| {
        let pid = host.sys_read(p)?.trim().parse::<u32>().ok()?;
        (!host.sys_exists(&format!("/proc/{pid}"))).then(|| p.to_string())
    })
    .collect()
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_counts_only_installed_packages() {
        let status = "Package: docker.io\nStatus: deinstall ok config-files\n\nPackage: podman-docker\nStatus: install ok installed\n\nPackage: vim\nStatus: install ok installed\n";
        assert_eq!(
            dpkg_installed(status, pkg::ENGINE_PACKAGES),
            vec!["podman-docker"]
        );
    }

    #[test]
    fn group_and_wsl_conf_parsing() {
        let g = "root:x:0:\ndocker:x:998:alice,bob\n";
        assert_eq!(
            group_members(g, "docker"),
            Some(vec!["alice".into(), "bob".into()])
        );
        assert_eq!(group_members("root:x:0:\n", "docker"), None);
        assert!(wsl_conf_systemd("[boot]\nsystemd = true\n"));
        assert!(!wsl_conf_systemd("[network]\nsystemd=true\n"));
    }

    #[test]
    fn a_venv_without_its_interpreter_is_seen() {
        let d = tempfile::tempdir().unwrap();
        let v = d.path().join(".venv");
        assert_eq!(venv_state(&v), VenvState::Absent);
        std::fs::create_dir_all(v.join("bin")).unwrap();
        std::fs::write(v.join("pyvenv.cfg"), "home = /gone\n").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/nonexistent/python3", v.join("bin/python")).unwrap();
        assert_eq!(venv_state(&v), VenvState::InterpreterGone);
    }
}
