//! What onramp knows about WSL on this machine, from Windows or from inside a WSL2 distro:
//! the distributions, `.wslconfig`, the distro's `wsl.conf` and `resolv.conf`, whether DNS
//! answers, the clock's offset from Windows, Windows' reserved ports, the Store policy and
//! Docker Desktop's integration. Asked live through the host, or read from a recording
//! (`<sysroot>/onramp-wsl/`) under `ONRAMP_SYSROOT`.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::parse::{self, Distro, Range, Status};
use crate::host::{Cmd, Host};
use crate::platform::Kind;

/// The directory of a recording, inside a sysroot.
pub const RECORDED_DIR: &str = "/onramp-wsl";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WslFacts {
    /// `wsl --status` exited 0 (WSL is installed and set up).
    pub installed: bool,
    pub status: Status,
    /// `wsl -l -v`.
    pub distros: Vec<Distro>,
    /// A policy removes the Microsoft Store or turns its apps off (`wsl --install` then needs
    /// `--web-download`).
    pub store_blocked: bool,
    /// `.wslconfig` as this side names it (`C:\Users\dev\.wslconfig`, or
    /// `/mnt/c/Users/dev/.wslconfig` inside WSL), and its text when it exists.
    pub wslconfig_path: Option<String>,
    pub wslconfig: Option<String>,
    /// Windows' excluded TCP port ranges, and whether they were asked at all.
    pub excluded: Vec<Range>,
    pub excluded_asked: bool,
    /// The distribution these facts are about (inside: this one; from Windows: the default).
    pub distro: Option<String>,
    /// Its `/etc/resolv.conf` and `/etc/wsl.conf` (`None`: missing or not asked).
    pub resolv_conf: Option<String>,
    pub wsl_conf: Option<String>,
    /// Its nameserver answered a query (`None`: not asked).
    pub dns_answers: Option<bool>,
    /// Its clock minus Windows' clock, in milliseconds (`None`: not measured).
    pub clock_offset_ms: Option<i64>,
    /// `wslinfo --networking-mode` (`nat`, `mirrored`, ...).
    pub networking_mode: Option<String>,
    /// Docker Desktop's settings file (Windows side), when found.
    pub desktop_settings: Option<String>,
    /// The distro's default user (`root` until a first user is made), onramp's version inside
    /// it, and whether the project is already in its home.
    pub distro_user: Option<String>,
    pub distro_onramp: Option<String>,
    pub distro_has_project: bool,
    /// The distro runs Docker Engine of its own (`dockerd` there, not Docker Desktop's).
    pub distro_engine: bool,
    /// Subjects of the roots in the distro's trust store (`None`: not asked).
    pub distro_roots: Option<Vec<String>>,
    /// That trust store as read (PEM): the machine snapshot turns it into `distro_roots`
    /// (certificates are parsed a layer up, in `netdiag`).
    #[serde(skip)]
    pub distro_roots_pem: Option<String>,
    /// The project's git remote (`origin`), from `.git/config`.
    pub git_remote: Option<String>,
    /// A recording's project folder on Windows (`C:\Users\dev\src\horme`); live runs use
    /// the project directory itself.
    pub windows_dir: Option<String>,
}

impl WslFacts {
    /// The distribution these facts are about, as `wsl -l -v` lists it.
    pub fn target(&self) -> Option<&Distro> {
        let name = self.distro.as_deref()?;
        self.distros
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// The default distribution: the list's `*`, else `wsl --status`.
    pub fn default_distro(&self) -> Option<String> {
        self.distros
            .iter()
            .find(|d| d.default)
            .map(|d| d.name.clone())
            .or_else(|| self.status.default_distro.clone())
    }

    pub fn resolv(&self) -> Option<parse::Resolv> {
        self.resolv_conf.as_deref().map(parse::resolv)
    }

    /// A `.wslconfig` setting.
    pub fn wslconfig_get(&self, section: &str, key: &str) -> Option<String> {
        super::ini::get(self.wslconfig.as_deref()?, section, key)
    }
}

/// What a recording may say beside its files.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Recorded {
    installed: bool,
    wslconfig_path: Option<String>,
    distro: Option<String>,
    dns_answers: Option<bool>,
    clock_offset_ms: Option<i64>,
    networking_mode: Option<String>,
    distro_user: Option<String>,
    distro_onramp: Option<String>,
    distro_has_project: bool,
    distro_engine: bool,
    distro_roots: Option<Vec<String>>,
    git_remote: Option<String>,
    windows_dir: Option<String>,
}

/// A recorded machine's WSL facts: `<sysroot>/onramp-wsl/facts.toml` and the raw outputs
/// beside it (`wsl-l-v.txt`, `wsl-status.txt` in UTF-16LE as wsl.exe prints them,
/// `netsh-excludedportrange.txt`, `reg-windowsstore.txt`, `wslconfig`, `docker-settings.json`,
/// `distro-wsl.conf`, `distro-resolv.conf`); inside a WSL sysroot the distro's own `/etc`.
pub fn recorded(host: &Host, kind: Kind) -> WslFacts {
    let raw = |name: &str| {
        let path = host.sys_path(&format!("{RECORDED_DIR}/{name}"));
        crate::fsx::read_regular(&path, 256 * 1024)
            .ok()
            .map(|b| parse::decode(&b))
    };
    let r: Recorded = raw("facts.toml")
        .and_then(|t| toml::from_str(&t).ok())
        .unwrap_or_default();
    let netsh = raw("netsh-excludedportrange.txt");
    let inside = kind == Kind::Wsl2 || kind == Kind::Wsl1;
    let etc = |name: &str| {
        raw(&format!("distro-{name}")).or_else(|| {
            inside
                .then(|| host.sys_read(&format!("/etc/{name}")))
                .flatten()
        })
    };
    let mut f = WslFacts {
        installed: r.installed,
        status: raw("wsl-status.txt")
            .map(|t| parse::status(&t))
            .unwrap_or_default(),
        distros: raw("wsl-l-v.txt")
            .map(|t| parse::distros(&t))
            .unwrap_or_default(),
        store_blocked: raw("reg-windowsstore.txt").is_some_and(|t| parse::store_blocked(&t)),
        wslconfig_path: r.wslconfig_path,
        wslconfig: raw("wslconfig"),
        excluded: netsh
            .as_deref()
            .map(parse::excluded_ranges)
            .unwrap_or_default(),
        excluded_asked: netsh.is_some(),
        distro: r.distro,
        resolv_conf: etc("resolv.conf"),
        wsl_conf: etc("wsl.conf"),
        dns_answers: r.dns_answers,
        clock_offset_ms: r.clock_offset_ms,
        networking_mode: r.networking_mode,
        desktop_settings: raw("docker-settings.json"),
        distro_user: r.distro_user,
        distro_onramp: r.distro_onramp,
        distro_has_project: r.distro_has_project,
        distro_engine: r.distro_engine,
        distro_roots: r.distro_roots,
        distro_roots_pem: None,
        git_remote: r.git_remote,
        windows_dir: r.windows_dir,
    };
    if f.distro.is_none() && !inside {
        f.distro = f.default_distro();
    }
    f
}

/// How long one question to wsl.exe, netsh or PowerShell may take.
const ASK_SECS: u64 = 10;

/// Run a program and keep its decoded output when it exits 0.
async fn ask(host: &Host, program: &str, args: &[&str], secs: u64) -> Option<String> {
    let cmd = Cmd::new(program, Duration::from_secs(secs))
        .args(args)
        .env("WSL_UTF8", "1");
    let out = host.run(&cmd).await.ok()?;
    (out.code == Some(0)).then(|| parse::decode_lossy(&out.stdout))
}

/// Ask Windows (from Windows itself, or through interop from inside WSL) what the recording
/// would say; `exe` adds `.exe` to program names (needed through interop).
async fn windows_side(host: &Host, exe: &str, f: &mut WslFacts) {
    let wsl = format!("wsl{exe}");
    let netsh = format!("netsh{exe}");
    let reg = format!("reg{exe}");
    let (status, list, ranges, store) = tokio::join!(
        ask(host, &wsl, &["--status"], 30),
        ask(host, &wsl, &["-l", "-v"], 30),
        ask(
            host,
            &netsh,
            &["int", "ipv4", "show", "excludedportrange", "protocol=tcp"],
            ASK_SECS
        ),
        ask(
            host,
            &reg,
            &["query", r"HKLM\SOFTWARE\Policies\Microsoft\WindowsStore"],
            ASK_SECS
        ),
    );
    f.installed = status.is_some();
    f.status = status.as_deref().map(parse::status).unwrap_or_default();
    f.distros = list.as_deref().map(parse::distros).unwrap_or_default();
    f.excluded_asked = ranges.is_some();
    f.excluded = ranges
        .as_deref()
        .map(parse::excluded_ranges)
        .unwrap_or_default();
    f.store_blocked = store.as_deref().is_some_and(parse::store_blocked);
}

/// Gather live: on Windows about `distro` (default: the default distribution; the distro is
/// asked only when it is already running, or when `wake` allows starting it); inside WSL2
/// about this distro.
pub async fn live(
    host: &Host,
    kind: Kind,
    dir: &Path,
    distro: Option<&str>,
    wake: bool,
) -> WslFacts {
    let mut f = WslFacts {
        git_remote: git_remote(dir),
        ..WslFacts::default()
    };
    match kind {
        Kind::Windows => {
            windows_side(host, "", &mut f).await;
            let profile = host.env("USERPROFILE").map(str::to_string);
            read_windows_files(host, profile.as_deref(), &mut f);
            f.distro = distro.map(str::to_string).or_else(|| f.default_distro());
            let running = f
                .target()
                .is_some_and(|d| d.state == "Running" && d.version == 2);
            if running || (wake && f.target().is_some_and(|d| d.version == 2)) {
                from_windows_about_distro(host, &mut f).await;
            }
        }
        Kind::Wsl2 => {
            f.distro = host.env("WSL_DISTRO_NAME").map(str::to_string);
            f.resolv_conf = host.sys_read("/etc/resolv.conf");
            f.wsl_conf = host.sys_read("/etc/wsl.conf");
            let first = f.resolv().and_then(|r| r.nameservers.first().cloned());
            let (windows, dns, clock, mode, profile) = tokio::join!(
                async {
                    let mut w = WslFacts::default();
                    windows_side(host, ".exe", &mut w).await;
                    w
                },
                async {
                    match &first {
                        Some(ns) => Some(super::dns::answers(ns, Duration::from_secs(3)).await),
                        None => None,
                    }
                },
                clock_inside(host),
                ask(host, "wslinfo", &["--networking-mode"], ASK_SECS),
                ask(host, "cmd.exe", &["/c", "echo %USERPROFILE%"], ASK_SECS),
            );
            f.installed = windows.installed;
            f.status = windows.status;
            f.distros = windows.distros;
            f.excluded = windows.excluded;
            f.excluded_asked = windows.excluded_asked;
            f.store_blocked = windows.store_blocked;
            f.dns_answers = dns;
            f.clock_offset_ms = clock;
            f.networking_mode = mode.map(|m| m.trim().to_string()).filter(|m| !m.is_empty());
            let profile = profile.and_then(|p| mnt_path(p.trim()));
            if let Some(p) = profile {
                let path = format!("{p}/.wslconfig");
                f.wslconfig = crate::fsx::read_text_file(Path::new(&path));
                f.wslconfig_path = Some(path);
            }
        }
        _ => {}
    }
    f
}

/// Whether `~/NAME` exists in the distro (asked from Windows).
pub async fn has_project(host: &Host, distro: &str, name: &str) -> bool {
    let args = [
        "-d",
        distro,
        "--",
        "sh",
        "-c",
        "test -d \"$HOME/$1\"",
        "sh",
        name,
    ];
    ask(host, "wsl.exe", &args, 30).await.is_some()
}

/// `.wslconfig` and Docker Desktop's settings, read on Windows.
fn read_windows_files(host: &Host, profile: Option<&str>, f: &mut WslFacts) {
    if let Some(p) = profile {
        let path = format!("{}\\.wslconfig", p.trim_end_matches('\\'));
        f.wslconfig = crate::fsx::read_text_file(Path::new(&path));
        f.wslconfig_path = Some(path);
    }
    if let Some(appdata) = host.env("APPDATA") {
        f.desktop_settings = ["settings-store.json", "settings.json"]
            .iter()
            .find_map(|n| crate::fsx::read_text_file(&Path::new(appdata).join("Docker").join(n)));
    }
}

/// From Windows, inside the target distro: its files, clock, networking mode and user.
async fn from_windows_about_distro(host: &Host, f: &mut WslFacts) {
    let Some(d) = f.distro.clone() else { return };
    let in_distro = |args: &'static [&'static str]| {
        let d = d.clone();
        async move {
            let mut argv = vec!["-d", d.as_str(), "--"];
            argv.extend_from_slice(args);
            ask(host, "wsl.exe", &argv, 30).await
        }
    };
    let before = crate::host::system_now();
    let (resolv, conf, date, mode, user, onramp, engine, roots) = tokio::join!(
        in_distro(&["cat", "/etc/resolv.conf"]),
        in_distro(&["cat", "/etc/wsl.conf"]),
        in_distro(&["date", "+%s%3N"]),
        in_distro(&["wslinfo", "--networking-mode"]),
        in_distro(&["id", "-un"]),
        in_distro(&["sh", "-c", "\"$HOME/.local/bin/onramp\" --version"]),
        in_distro(&["sh", "-c", "command -v dockerd"]),
        in_distro(&["cat", "/etc/ssl/certs/ca-certificates.crt"]),
    );
    f.distro_engine = engine.is_some();
    f.distro_roots_pem = roots;
    let after = crate::host::system_now();
    f.resolv_conf = resolv;
    f.wsl_conf = conf;
    f.clock_offset_ms = date
        .and_then(|d| d.trim().parse::<i64>().ok())
        .map(|distro_ms| distro_ms - midpoint_ms(before, after));
    f.networking_mode = mode.map(|m| m.trim().to_string()).filter(|m| !m.is_empty());
    f.distro_user = user.map(|u| u.trim().to_string());
    f.distro_onramp = onramp.map(|o| o.trim().to_string());
}

/// Inside WSL2: this clock minus Windows' (PowerShell through interop; the midpoint of the
/// call is compared, so its start-up time does not count as offset).
async fn clock_inside(host: &Host) -> Option<i64> {
    let before = crate::host::system_now();
    let out = ask(
        host,
        "powershell.exe",
        &[
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            "[DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()",
        ],
        ASK_SECS,
    )
    .await?;
    let after = crate::host::system_now();
    let windows_ms = out.trim().parse::<i64>().ok()?;
    Some(midpoint_ms(before, after) - windows_ms)
}

fn midpoint_ms(a: std::time::SystemTime, b: std::time::SystemTime) -> i64 {
    let ms = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    };
    (ms(a) + ms(b)) / 2
}

/// `C:\Users\dev` as WSL mounts it: `/mnt/c/Users/dev` (`None` for anything not a drive path).
pub fn mnt_path(windows: &str) -> Option<String> {
    let mut chars = windows.chars();
    let letter = chars.next().filter(char::is_ascii_alphabetic)?;
    let rest = windows.get(1..)?.strip_prefix(':')?;
    let rest = rest.replace('\\', "/");
    let rest = rest.trim_end_matches('/');
    Some(format!("/mnt/{}{rest}", letter.to_ascii_lowercase()))
}

/// A project path on a Windows drive as WSL sees it (`/mnt/c/...`).
pub fn on_windows_drive(path: &str) -> bool {
    let mut parts = path.split('/');
    parts.next() == Some("")
        && parts.next() == Some("mnt")
        && parts
            .next()
            .is_some_and(|d| d.len() == 1 && d.chars().all(|c| c.is_ascii_alphabetic()))
}

/// The `origin` remote's URL in `.git/config` (or the first remote's).
pub fn git_remote(dir: &Path) -> Option<String> {
    let text = crate::fsx::Root::new(dir)
        .read_text(".git/config")
        .ok()
        .flatten()?;
    remote_url(&text)
}

pub fn remote_url(git_config: &str) -> Option<String> {
    let mut current = String::new();
    let mut first = None;
    for line in git_config.lines().map(str::trim) {
        if line.starts_with('[') {
            current = line.to_string();
            continue;
        }
        let Some(url) = line
            .strip_prefix("url")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('='))
            .map(str::trim)
        else {
            continue;
        };
        if current == "[remote \"origin\"]" {
            return Some(url.to_string());
        }
        if current.starts_with("[remote ") && first.is_none() {
            first = Some(url.to_string());
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_paths_as_wsl_mounts_them() {
        assert_eq!(
            mnt_path(r"C:\Users\dev").as_deref(),
            Some("/mnt/c/Users/dev")
        );
        assert_eq!(mnt_path(r"D:\").as_deref(), Some("/mnt/d"));
        assert_eq!(mnt_path(r"\\server\share"), None);
        assert!(on_windows_drive("/mnt/c/Users/dev/proj"));
        assert!(!on_windows_drive("/mnt/wsl/docker-desktop"));
        assert!(!on_windows_drive("/home/dev/proj"));
    }

    #[test]
    fn the_origin_remote_is_preferred() {
        let cfg = "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = https://example.invalid/up.git\n[remote \"origin\"]\n\turl = git@example.invalid:team/horme.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n";
        assert_eq!(
            remote_url(cfg).as_deref(),
            Some("git@example.invalid:team/horme.git")
        );
        let one = "[remote \"fork\"]\n\turl=https://example.invalid/f.git\n";
        assert_eq!(
            remote_url(one).as_deref(),
            Some("https://example.invalid/f.git")
        );
        assert_eq!(remote_url("[core]\n"), None);
    }
}
