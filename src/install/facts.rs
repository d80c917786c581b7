//! Gather the installer's facts through the host. System files come from `ONRAMP_SYSROOT`; what
//! cannot be a file there (`which` results, uid, the engine's answer, sudo, Python) is read from
//! `<sysroot>/onramp-facts.toml` when the sysroot holds one, so a recorded machine gives the same
//! plan every time.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{Desktop, EngineState, Facts, VenvState, pkg};
use crate::engine::{self, Reach};
use crate::host::{Cmd, Host, Os};
use crate::platform::{self, Platform};
use crate::version::VersionReq;

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
    docker_host: Option<String>,
    sudo_ok: bool,
    python: Option<String>,
    python_version: Option<String>,
    ensurepip: bool,
    desktop_installed: bool,
    nf_tables_failed: bool,
    wsl_ready: bool,
    packages: Option<Vec<String>>,
}

/// Facts of this machine (or of the recorded one under `ONRAMP_SYSROOT`).
pub async fn collect(host: &Host, dir: &Path, python_req: Option<&str>) -> Facts {
    let recorded = recorded(host);
    let mut pf = platform::collect(host);
    if let Some(r) = &recorded {
        pf.os = Some(match r.os.as_deref() {
            Some("windows") => Os::Windows,
            Some("macos") => Os::Macos,
            _ => Os::Linux,
        });
        pf.wsl_distro_name = r.wsl_distro.clone();
        pf.dockerenv = host.sys_exists("/.dockerenv");
        pf.container_env = None;
    }
    let plat = platform::detect(&pf);
    let mut f = from_files(host, &plat);
    f.project_venv = venv_state(&dir.join(".venv"));
    match recorded {
        Some(r) => apply_recorded(&mut f, r),
        None => live(host, dir, python_req, &mut f).await,
    }
    f
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

/// Everything a sysroot's files say.
fn from_files(host: &Host, plat: &Platform) -> Facts {
    let os_release = host
        .sys_read("/etc/os-release")
        .or_else(|| host.sys_read("/usr/lib/os-release"));
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

fn apply_recorded(f: &mut Facts, r: Recorded) {
    f.which = r.which;
    f.uid = r.uid;
    f.user = r.user;
    f.home = r.home;
    f.home_uid = r.home_uid;
    f.engine = r.engine.unwrap_or_default();
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
}

/// Ask the machine itself: `which`, the user, the engine, sudo, Python.
async fn live(host: &Host, dir: &Path, python_req: Option<&str>, f: &mut Facts) {
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
    let probe = engine::probe(host).await;
    f.engine = match probe.reach {
        Reach::Ready(_) => EngineState::Ready,
        Reach::NotInstalled => EngineState::NotInstalled,
        Reach::NotRunning(_) | Reach::Timeout => EngineState::NotRunning,
        Reach::PermissionDenied(_) => EngineState::PermissionDenied,
        Reach::Unreachable(_) | Reach::ApiTooOld(_) => EngineState::Unreachable,
    };
    // The probe counts any engine program (Podman too) as installed; the plan needs to know
    // whether the engine it would start is there.
    let ours = f.has("dockerd") || !f.packages.is_empty();
    f.engine = match f.engine {
        EngineState::NotInstalled if ours => EngineState::NotRunning,
        EngineState::NotRunning if !ours => EngineState::NotInstalled,
        other => other,
    };
    if f.uid != Some(0) && f.has("sudo") {
        let cmd = Cmd::new("sudo", Duration::from_secs(5)).args(["-n", "true"]);
        f.sudo_ok = host.run(&cmd).await.is_ok_and(|o| o.code == Some(0));
    }
    f.nf_tables_failed = [
        dir.join(".onramp/logs/dockerd.log"),
        "/var/log/onramp-dockerd.log".into(),
        "/var/log/docker.log".into(),
    ]
    .iter()
    .any(|p| tail_has(p, "RULE_APPEND failed"));
    f.desktop.installed = f.has("com.docker.backend");
    if host.os() == Os::Windows && f.has("wsl") {
        let cmd = Cmd::new("wsl", Duration::from_secs(20)).arg("--status");
        f.wsl_ready = host.run(&cmd).await.is_ok_and(|o| o.code == Some(0));
    }
    python(host, dir, python_req, f).await;
}

async fn python(host: &Host, dir: &Path, req: Option<&str>, f: &mut Facts) {
    let req = req.and_then(|r| VersionReq::parse(r).ok());
    let found = crate::python::find(host, dir, None, req.as_ref()).await;
    let Some(i) = found.interpreter else { return };
    // A venv's own interpreter says nothing about the system's venv module.
    let program = i.executable.clone();
    f.python_version = Some(i.version.to_string());
    f.python = Some(if program.is_empty() {
        i.program.display().to_string()
    } else {
        program
    });
    let Some(p) = f.python.clone() else { return };
    let cmd = Cmd::new(p, Duration::from_secs(10)).args(["-I", "-c", "import ensurepip, venv"]);
    f.ensurepip = host.run(&cmd).await.is_ok_and(|o| o.code == Some(0));
}

fn tail_has(path: &Path, needle: &str) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(256 * 1024)));
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).contains(needle)
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
