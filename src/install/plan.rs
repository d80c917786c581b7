//! `plan(facts, wants)`: the pure half of the installer. Every decision is made here from
//! recorded facts; the tables in `pkg` say which command does what.

use super::pkg::{self, Family, Manager};
use super::{Action, EngineState, Facts, Plan, Probe, State, Step, VenvState, Wants};
use crate::platform::Kind;
use crate::version::VersionReq;

/// How long a package installation may take before it is killed.
const INSTALL_SECS: u64 = 900;
const SHORT_SECS: u64 = 60;
/// How long to wait for a freshly started engine to answer `_ping`.
const PING_SECS: u64 = 60;

/// The plan for these facts and these wants.
pub fn plan(f: &Facts, w: &Wants) -> Plan {
    let kind = f.kind.unwrap_or(Kind::Linux);
    let family = f.os_release.as_deref().and_then(pkg::family);
    let linuxish = matches!(kind, Kind::Linux | Kind::Wsl2 | Kind::Unknown);
    let mut p = Plan {
        platform: kind.as_str().to_string(),
        family: family.filter(|_| linuxish).map(|f| f.name.to_string()),
        manager: match kind {
            Kind::Windows => Some(pkg::WINGET.name.to_string()),
            Kind::Macos => Some(pkg::BREW.name.to_string()),
            _ => family.map(|f| f.manager.name.to_string()),
        },
        refused: refuse_home(f),
        steps: Vec::new(),
        notes: Vec::new(),
    };
    if p.refused.is_some() {
        return p;
    }
    let mut b = Builder {
        f,
        w,
        priv_: Privilege::of(f),
        steps: Vec::new(),
        notes: Vec::new(),
    };
    match kind {
        Kind::Windows => b.windows(),
        Kind::Macos => b.macos(),
        Kind::Wsl1 => b.wsl1(),
        Kind::Linux | Kind::Wsl2 | Kind::Unknown => b.linux(kind, family),
    }
    b.steps.extend(super::guard::steps(f, w));
    if b.steps.iter().any(|s| s.state == State::Todo) && b.priv_ == Privilege::SudoPassword {
        b.notes.push(
            "sudo needs a password and onramp never asks for one behind your back: run `sudo -v`, then onramp again"
                .into(),
        );
    }
    let engine_to_do = b.steps.iter().any(|s| {
        s.state != State::Satisfied && (s.id.starts_with("engine") || s.id == "docker-desktop")
    });
    if w.docker && engine_to_do {
        b.notes.push(super::native::offer(kind));
    }
    p.steps = b.steps;
    p.notes = b.notes;
    let family = family.map(|f| f.name);
    p.steps.extend(super::net::steps(f, family, &w.net));
    if let (Some(ca), Some(py)) = (&w.net.ca, &w.net.python) {
        let line = super::net_base::fingerprint_line(&ca.pem);
        p.steps
            .extend(super::net_python::step(py, &ca.path, &ca.subject, &line));
    }
    p
}

/// Refuse when `$HOME` belongs to someone else (`sudo onramp` without `-H`), outside containers.
fn refuse_home(f: &Facts) -> Option<String> {
    if f.container {
        return None;
    }
    let (uid, owner, home) = (f.uid?, f.home_uid?, f.home.as_deref()?);
    (uid != owner).then(|| {
        format!(
            "$HOME ({home}) belongs to uid {owner}, but onramp runs as uid {uid}: files it writes there would have the wrong owner. Run onramp as yourself (it uses `sudo -n` only for the commands that need root), or `sudo -H` if you mean root"
        )
    })
}

/// How privileged commands are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Privilege {
    Root,
    /// `sudo -n` works now.
    Sudo,
    /// sudo exists but wants a password: the commands are still `sudo -n`, and fail fast.
    SudoPassword,
    /// Not root and no sudo: someone with root must run the commands.
    None,
}

impl Privilege {
    fn of(f: &Facts) -> Privilege {
        if f.is_root() || f.uid.is_none() {
            Privilege::Root
        } else if f.has("sudo") && f.sudo_ok {
            Privilege::Sudo
        } else if f.has("sudo") {
            Privilege::SudoPassword
        } else {
            Privilege::None
        }
    }

    fn wrap(self, argv: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = match self {
            Privilege::Root => Vec::new(),
            _ => vec!["sudo".into(), "-n".into()],
        };
        out.extend(argv.iter().map(|s| s.to_string()));
        out
    }
}

fn strings(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|s| s.to_string()).collect()
}

fn run(argv: Vec<String>, timeout_secs: u64) -> Action {
    Action::Run { argv, timeout_secs }
}

fn manual(text: impl Into<String>) -> Action {
    Action::Manual { text: text.into() }
}

fn step(id: &str, why: impl Into<String>, done: bool) -> Step {
    Step {
        id: id.into(),
        why: why.into(),
        state: if done { State::Satisfied } else { State::Todo },
        check: Probe::Manual,
        change: Vec::new(),
        verify: Probe::Manual,
        note: None,
    }
}

impl Step {
    fn check(mut self, p: Probe) -> Step {
        self.check = p;
        self
    }
    fn verify(mut self, p: Probe) -> Step {
        self.verify = p;
        self
    }
    fn change(mut self, a: Vec<Action>) -> Step {
        if self.state == State::Todo && a.iter().all(|a| matches!(a, Action::Manual { .. })) {
            self.state = State::Manual;
        }
        self.change = a;
        self
    }
    fn note(mut self, n: impl Into<String>) -> Step {
        self.note = Some(n.into());
        self
    }
}

fn ping() -> Probe {
    Probe::EnginePing {
        wait_secs: PING_SECS,
    }
}

fn on_path(p: &str) -> Probe {
    Probe::OnPath { program: p.into() }
}

/// `python -c` that exits 0 only for an interpreter within the requirement (every bound, the
/// same `VersionReq` the interpreter search uses); without one, that the interpreter runs.
fn in_range(python: &str, req: &str) -> Probe {
    let code = match VersionReq::parse(req) {
        Ok(r) => format!("import sys; sys.exit(not ({}))", r.python_condition()),
        Err(_) => "import sys".to_string(),
    };
    Probe::Command {
        argv: vec![python.into(), "-c".into(), code],
    }
}

fn engine_why(f: &Facts) -> String {
    match f.engine {
        EngineState::Ready => match &f.engine_endpoint {
            Some(e) if f.podman_endpoint() => format!("Podman answers at {e}"),
            Some(e) => format!("docker: ready at {e}"),
            None => "docker: ready".into(),
        },
        EngineState::NotInstalled => "docker: not installed".into(),
        EngineState::NotRunning => "docker: installed but not running".into(),
        EngineState::PermissionDenied => "docker: permission denied on the socket".into(),
        EngineState::Unreachable => "docker: the endpoint does not answer".into(),
    }
}

struct Builder<'a> {
    f: &'a Facts,
    w: &'a Wants,
    priv_: Privilege,
    steps: Vec<Step>,
    notes: Vec<String>,
}

impl Builder<'_> {
    fn push(&mut self, s: Step) {
        self.steps.push(s);
    }

    fn ready(&self) -> bool {
        self.f.engine == EngineState::Ready
    }

    /// A command that needs root, as this user can run it; without sudo, an instruction.
    fn root_cmd(&self, argv: &[&str], timeout: u64) -> Action {
        if self.priv_ == Privilege::None {
            return manual(format!("as root: {}", super::shell_line(&strings(argv))));
        }
        run(self.priv_.wrap(argv), timeout)
    }

    /// A daemon started detached by onramp itself (no shell), with its output appended to
    /// `log` under the state directory; without root or sudo, the instruction for root.
    fn detach(&self, argv: &[&str], log: &str) -> Action {
        if self.priv_ == Privilege::None {
            let line = super::detach_line(&strings(argv), &self.state_path(log));
            return manual(format!("as root: {line}"));
        }
        Action::Detach {
            argv: self.priv_.wrap(argv),
            log: format!("{}/{log}", crate::naming::STATE_DIR),
        }
    }

    fn install(&self, m: &Manager, packages: &[&str]) -> Vec<Action> {
        let mut out = Vec::new();
        let cmd = |argv: &[&str], t| {
            if m.needs_root {
                self.root_cmd(argv, t)
            } else {
                run(strings(argv), t)
            }
        };
        if let Some(r) = m.refresh {
            out.push(cmd(r, INSTALL_SECS));
        }
        if m.install_tail.is_empty() {
            let argv: Vec<&str> = m.install.iter().chain(packages).copied().collect();
            out.push(cmd(&argv, INSTALL_SECS));
        } else {
            // winget takes one id per call.
            for p in packages {
                let argv: Vec<&str> = m
                    .install
                    .iter()
                    .chain(std::iter::once(p))
                    .chain(m.install_tail)
                    .copied()
                    .collect();
                out.push(cmd(&argv, INSTALL_SECS));
            }
        }
        out
    }

    fn state_path(&self, rel: &str) -> String {
        format!(
            "{}/{}/{rel}",
            self.w.dir.trim_end_matches('/'),
            crate::naming::STATE_DIR
        )
    }

    // ---- Linux and WSL2 ------------------------------------------------------------------

    fn linux(&mut self, kind: Kind, family: Option<&'static Family>) {
        if self.w.docker {
            self.linux_engine(kind, family);
        }
        if self.w.python.is_some() {
            self.linux_python(family);
        }
        self.project_venv();
    }

    fn linux_engine(&mut self, kind: Kind, family: Option<&'static Family>) {
        let f = self.f;
        if let Some(h) = f
            .docker_host
            .as_deref()
            .filter(|h| !h.starts_with("unix://"))
        {
            let done = self.ready();
            let s = step("engine-endpoint", engine_why(f), done)
                .check(ping())
                .change(vec![manual(format!(
                    "DOCKER_HOST={h} does not answer: start that engine, or unset DOCKER_HOST to use a local one"
                ))])
                .verify(ping());
            self.push(s);
            return;
        }
        if kind == Kind::Wsl2 && f.desktop.integration() {
            self.desktop_integration();
            return;
        }
        // podman-docker makes Podman the `docker` of this machine: that is the engine then.
        let podman_only = !f.has("dockerd") && f.packages.iter().any(|p| p == "podman-docker");
        let present = !f.packages.is_empty() || f.has("dockerd");
        if self.ready() && !present {
            // Some engine answers (Podman's socket, a rootless or remote dockerd): it is used.
            let why = format!("{}: it is used, no engine is installed", engine_why(f));
            self.push(step("engine", why, true).check(ping()).verify(ping()));
            return;
        }
        self.engine_package(family, present || f.podman_endpoint());
        if podman_only || f.podman_endpoint() {
            self.podman_start();
            return;
        }
        if !self.ready() && !f.stale_pidfiles.is_empty() {
            let files = f.stale_pidfiles.clone();
            let mut argv = vec!["rm", "-f"];
            argv.extend(files.iter().map(String::as_str));
            let s = step(
                "stale-pidfiles",
                format!(
                    "{} name daemons that are gone; dockerd refuses to start over them",
                    files.join(", ")
                ),
                false,
            )
            .check(Probe::Absent {
                path: files[0].clone(),
            })
            .change(vec![self.root_cmd(&argv, SHORT_SECS)])
            .verify(Probe::Absent {
                path: files[0].clone(),
            });
            self.push(s);
        }
        if kind == Kind::Wsl2 && f.nf_tables_failed {
            let s = step(
                "iptables-legacy",
                "dockerd: `RULE_APPEND failed` (iptables' nf_tables backend does not work in this kernel)",
                false,
            )
            .check(Probe::Command {
                argv: strings(&["sh", "-c", "iptables --version | grep -q legacy"]),
            })
            .change(vec![
                self.root_cmd(
                    &[
                        "update-alternatives",
                        "--set",
                        "iptables",
                        "/usr/sbin/iptables-legacy",
                    ],
                    SHORT_SECS,
                ),
                self.root_cmd(
                    &[
                        "update-alternatives",
                        "--set",
                        "ip6tables",
                        "/usr/sbin/ip6tables-legacy",
                    ],
                    SHORT_SECS,
                ),
            ])
            .verify(Probe::Command {
                argv: strings(&["sh", "-c", "iptables --version | grep -q legacy"]),
            });
            self.push(s);
        }
        if kind == Kind::Wsl2 && !self.systemd() {
            self.wsl_systemd();
        }
        self.engine_start();
        self.docker_group();
    }

    fn systemd(&self) -> bool {
        self.f.pid1.as_deref() == Some("systemd") && self.f.systemd_running
    }

    fn engine_package(&mut self, family: Option<&'static Family>, present: bool) {
        let f = self.f;
        let why = if present {
            let mut have: Vec<String> = f.packages.clone();
            if let Some(path) = f.which.get("dockerd") {
                have.push(path.clone());
            }
            if f.podman_endpoint() {
                have.extend(f.engine_endpoint.clone());
            }
            format!(
                "an engine is installed ({}): no second one",
                have.join(", ")
            )
        } else {
            engine_why(f)
        };
        let change = match family {
            _ if present => Vec::new(),
            Some(fam) => self.install(fam.manager, fam.engine),
            None => vec![manual(
                "install Docker Engine with your distribution's package manager (its package is usually `docker`), then run onramp again",
            )],
        };
        let s = step("engine-package", why, present)
            .check(on_path("dockerd"))
            .change(change)
            .verify(on_path("dockerd"));
        self.push(s);
    }

    /// Start the engine the way PID 1 allows.
    fn engine_start(&mut self) {
        let f = self.f;
        let running = matches!(f.engine, EngineState::Ready | EngineState::PermissionDenied);
        let pid1 = f.pid1.as_deref().unwrap_or("?");
        let (how, change) = if self.systemd() {
            (
                "PID 1 is systemd".to_string(),
                vec![self.root_cmd(&["systemctl", "enable", "--now", "docker"], SHORT_SECS)],
            )
        } else if pid1 == "init" && f.has("rc-service") {
            (
                "PID 1 is OpenRC's init".to_string(),
                vec![
                    self.root_cmd(&["rc-update", "add", "docker", "default"], SHORT_SECS),
                    self.root_cmd(&["rc-service", "docker", "start"], SHORT_SECS),
                ],
            )
        } else if pid1 == "init" && f.has("service") {
            (
                "PID 1 is SysV init".to_string(),
                vec![self.root_cmd(&["service", "docker", "start"], SHORT_SECS)],
            )
        } else {
            let log = "logs/dockerd.log";
            (
                format!(
                    "PID 1 is `{pid1}`, not an init: a detached dockerd, log {}",
                    self.state_path(log)
                ),
                vec![self.detach(&["dockerd"], log)],
            )
        };
        let why = if running {
            engine_why(f)
        } else {
            format!("{} ({how})", engine_why(f))
        };
        let s = step("engine-start", why, running)
            .check(ping())
            .change(change)
            .verify(ping());
        self.push(s);
    }

    fn podman_start(&mut self) {
        let f = self.f;
        let rootless = f
            .engine_endpoint
            .as_deref()
            .is_some_and(|e| e.contains("/run/user/"));
        let change = if rootless && self.systemd() {
            vec![run(
                strings(&["systemctl", "--user", "enable", "--now", "podman.socket"]),
                SHORT_SECS,
            )]
        } else if rootless {
            // The user's own service: started by onramp as the user, no shell.
            let uri = f.engine_endpoint.clone().unwrap_or_default();
            vec![Action::Detach {
                argv: strings(&["podman", "system", "service", "--time=0", &uri]),
                log: format!("{}/logs/podman.log", crate::naming::STATE_DIR),
            }]
        } else if self.systemd() {
            vec![self.root_cmd(
                &["systemctl", "enable", "--now", "podman.socket"],
                SHORT_SECS,
            )]
        } else {
            vec![self.detach(
                &[
                    "podman",
                    "system",
                    "service",
                    "--time=0",
                    "unix:///run/podman/podman.sock",
                ],
                "logs/podman.log",
            )]
        };
        let s = step(
            "podman-socket",
            format!("{} (Podman is this machine's engine)", engine_why(f)),
            self.ready(),
        )
        .check(ping())
        .change(change)
        .verify(ping());
        self.push(s);
    }

    fn docker_group(&mut self) {
        let f = self.f;
        if f.is_root() || f.uid.is_none() {
            return;
        }
        let user = f.user.clone().unwrap_or_else(|| "$USER".into());
        let member = f.docker_group.as_ref().is_some_and(|m| m.contains(&user));
        let mut change = Vec::new();
        if f.docker_group.is_none() {
            change.push(self.root_cmd(&["groupadd", "-f", "docker"], SHORT_SECS));
        }
        change.push(self.root_cmd(&["usermod", "-aG", "docker", &user], SHORT_SECS));
        let s = step(
            "docker-group",
            if member {
                format!("{user} is in the docker group")
            } else {
                format!("{user} is not in the docker group: the socket refuses you")
            },
            member,
        )
        .check(Probe::InGroup {
            user: user.clone(),
            group: "docker".into(),
        })
        .change(change)
        .verify(Probe::InGroup {
            user,
            group: "docker".into(),
        })
        .note("the docker group is root-equivalent; the socket's mode is never changed");
        if !member {
            self.notes.push(
                "you are being added to the docker group: a new login is needed (log out and in); until then run onramp through `sg docker -c 'onramp setup'`"
                    .into(),
            );
        }
        self.push(s);
    }

    fn wsl_systemd(&mut self) {
        let line = "systemd=true";
        // Merged into `[boot]`, every other line kept, the original copied once.
        let argv = [
            "sh",
            "-c",
            super::migrate::INI_SET_SH,
            "sh",
            "/etc/wsl.conf",
            "boot",
            "systemd",
            "true",
        ];
        let s = step(
            "wsl-systemd",
            "PID 1 is not systemd in this WSL2 distro: the engine would not start at boot",
            self.f.wsl_conf_systemd,
        )
        .check(Probe::FileHas {
            path: "/etc/wsl.conf".into(),
            line: line.into(),
        })
        .change(vec![
            self.root_cmd(&argv, SHORT_SECS),
            manual(format!(
                "afterwards, from Windows: `{}` (restarts WSL with systemd; needs WSL 0.67.6 or newer: `{}`). Until then this run starts a detached dockerd",
                pkg::WSL_SHUTDOWN.join(" "),
                pkg::WSL_UPDATE.join(" ")
            )),
        ])
        .verify(Probe::FileHas {
            path: "/etc/wsl.conf".into(),
            line: line.into(),
        });
        self.push(s);
    }

    fn desktop_integration(&mut self) {
        let f = self.f;
        let mut seen = Vec::new();
        if f.desktop.cli_symlink {
            seen.push("/usr/bin/docker links into /mnt/wsl/docker-desktop");
        }
        if f.desktop.proxy_socket {
            seen.push("Docker Desktop's socket proxy is mounted");
        }
        if f.desktop.stub {
            seen.push("`docker` says it \"could not be found in this WSL 2 distro\"");
        }
        let s = step(
            "desktop-integration",
            format!("{}; Docker Desktop serves this distro ({})", engine_why(f), seen.join("; ")),
            self.ready(),
        )
        .check(ping())
        .change(vec![manual(
            "start Docker Desktop on Windows; Settings > Resources > WSL integration: turn this distro on, Apply & restart. No engine is installed inside the distro beside Docker Desktop",
        )])
        .verify(ping());
        self.push(s);
    }

    fn linux_python(&mut self, family: Option<&'static Family>) {
        let f = self.f;
        let want = self.w.python.clone().unwrap_or_default();
        let have = f.python.is_some();
        let change = match family {
            Some(fam) if !have => self.install(fam.manager, &[fam.python]),
            None if !have => vec![manual(format!(
                "install Python {want} with your package manager, or pass --python PATH"
            ))],
            _ => Vec::new(),
        };
        let why = match (&f.python, &f.python_version) {
            (Some(p), Some(v)) => format!("python: {v} at {p}"),
            _ => format!("python: no interpreter in {want}"),
        };
        let probe = in_range(f.python.as_deref().unwrap_or("python3"), &want);
        let s = step("python", why, have)
            .check(probe.clone())
            .change(change)
            .verify(probe);
        self.push(s);
        let Some(venv_pattern) = family.and_then(|fam| fam.venv) else {
            return;
        };
        let minor = f
            .python_version
            .as_deref()
            .and_then(|v| v.split('.').nth(1))
            .map(str::to_string);
        let package = match &minor {
            Some(m) => venv_pattern.replace("{minor}", m),
            None => "python3-venv".into(),
        };
        let python = f.python.clone().unwrap_or_else(|| "python3".into());
        let probe = Probe::Command {
            argv: vec![
                python,
                "-I".into(),
                "-c".into(),
                "import ensurepip, venv".into(),
            ],
        };
        let fam = family.map(|f| f.manager).unwrap_or(&pkg::APT);
        let s = step(
            "python-venv",
            if f.ensurepip {
                "python: the venv module and ensurepip are there".to_string()
            } else {
                format!("python: \"ensurepip is not available\" (Debian splits it into {package})")
            },
            f.ensurepip,
        )
        .check(probe.clone())
        .change(self.install(fam, &[&package]))
        .verify(probe)
        .note("packages go into the project's venv, never the system Python (PEP 668)");
        self.push(s);
    }

    /// Clear a project venv whose interpreter is gone or that was left half-built.
    fn project_venv(&mut self) {
        let f = self.f;
        if matches!(f.project_venv, VenvState::Absent | VenvState::Usable) {
            return;
        }
        let venv = format!("{}/.venv", self.w.dir.trim_end_matches('/'));
        let why = match f.project_venv {
            VenvState::InterpreterGone => format!("{venv}: its interpreter is gone"),
            _ => format!("{venv}: half-built (no pip; ensurepip was missing)"),
        };
        // The venv has one owner, the SDK ladder's venv rung: the installer only clears the
        // broken one out of its way.
        let s = step("project-venv", why, false)
            .check(Probe::VenvUsable { path: venv.clone() })
            .change(vec![Action::Remove { path: venv.clone() }])
            .verify(Probe::Absent { path: venv })
            .note("`onramp validate` (setup's last step) creates it again with the project's dependencies");
        self.push(s);
    }

    // ---- WSL1, Windows, macOS ------------------------------------------------------------

    fn wsl1(&mut self) {
        let line = pkg::wsl_set_version(self.f.wsl_distro.as_deref());
        let s = step(
            "wsl-version",
            "platform: WSL1 cannot run a container engine",
            false,
        )
        .change(vec![manual(format!(
            "in PowerShell on Windows: `{line}` (then run onramp again inside the distro)"
        ))])
        .verify(Probe::Manual);
        self.push(s);
    }

    fn windows(&mut self) {
        let f = self.f;
        let change = if f.has("wsl") {
            vec![run(strings(pkg::WSL_UPDATE), INSTALL_SECS)]
        } else {
            vec![
                run(strings(pkg::WSL_INSTALL), INSTALL_SECS),
                manual("reboot Windows to finish installing WSL"),
            ]
        };
        let s = step(
            "wsl",
            if f.wsl_ready {
                "wsl: installed".to_string()
            } else if f.has("wsl") {
                "wsl: installed but out of date or not set up".to_string()
            } else {
                "wsl: not installed (the engines here run in its VM)".to_string()
            },
            f.wsl_ready,
        )
        .check(Probe::Command {
            argv: strings(&["wsl", "--status"]),
        })
        .change(change)
        .verify(Probe::Command {
            argv: strings(&["wsl", "--status"]),
        })
        .note(format!("0x80370102: turn on virtualisation in the BIOS; 0x8007019e: the WSL component is off (`{}`, reboot)", pkg::WSL_INSTALL.join(" ")));
        self.push(s);
        if self.w.docker {
            self.windows_engine();
        }
        if self.w.python.is_some() {
            let have = f.python.is_some();
            let s = step(
                "python",
                if have {
                    "python: found".to_string()
                } else {
                    "python: none (the Microsoft Store stub does not count)".to_string()
                },
                have,
            )
            .check(Probe::Command {
                argv: strings(&["py", "-3", "--version"]),
            })
            .change(self.install(&pkg::WINGET, &[pkg::WINGET_PYTHON]))
            .verify(Probe::Command {
                argv: strings(&["py", "-3", "--version"]),
            })
            .note("open a new terminal afterwards: PATH changes reach new shells only");
            self.push(s);
        }
    }

    fn windows_engine(&mut self) {
        let f = self.f;
        let (id, change) = if f.desktop.installed {
            (
                "engine-start",
                vec![manual(
                    "start Docker Desktop and wait until it says Engine running",
                )],
            )
        } else if self.w.accept_docker_desktop_license {
            let mut c = self.install(&pkg::WINGET, &[pkg::WINGET_DOCKER_DESKTOP]);
            c.push(manual(
                "start Docker Desktop once and accept its terms; it does not start by itself after installing",
            ));
            ("docker-desktop", c)
        } else if f.wsl.distro_engine {
            let d = f
                .wsl
                .distro
                .clone()
                .or_else(|| f.wsl.default_distro())
                .unwrap_or_else(|| "the WSL2 distro".into());
            let text = format!(
                "Docker Engine runs inside {d}, not on Windows: work there (`onramp migrate wsl` moves this project into {d} and sets it up)"
            );
            ("engine", vec![manual(text)])
        } else {
            ("engine", vec![manual(pkg::windows_engine_choice())])
        };
        let s = step(id, engine_why(f), self.ready())
            .check(ping())
            .change(change)
            .verify(ping());
        self.push(s);
    }

    fn macos(&mut self) {
        let f = self.f;
        let brew = f.has("brew");
        let s = step(
            "homebrew",
            if brew {
                "brew: installed"
            } else {
                "brew: not installed (colima and Python come from it)"
            },
            brew,
        )
        .check(on_path("brew"))
        .change(vec![run(
            strings(&["/bin/bash", "-c", pkg::BREW_INSTALLER]),
            INSTALL_SECS,
        )])
        .verify(on_path("brew"));
        self.push(s);
        if self.w.docker {
            self.macos_engine();
        }
        if self.w.python.is_some() {
            let have = f.python.is_some();
            let s = step(
                "python",
                if have {
                    "python: found"
                } else {
                    "python: no interpreter in range"
                },
                have,
            )
            .check(in_range("python3", self.w.python.as_deref().unwrap_or("")))
            .change(self.install(&pkg::BREW, &[pkg::BREW_PYTHON]))
            .verify(in_range("python3", self.w.python.as_deref().unwrap_or("")));
            self.push(s);
        }
    }

    fn macos_engine(&mut self) {
        let f = self.f;
        if f.desktop.installed {
            let s = step("engine-start", engine_why(f), self.ready())
                .check(ping())
                .change(vec![run(strings(&["open", "-a", "Docker"]), SHORT_SECS)])
                .verify(ping());
            self.push(s);
            return;
        }
        let colima = f.has("colima");
        let s = step(
            "colima",
            if colima {
                "colima: installed".to_string()
            } else {
                format!("{} (colima runs the engine in a small VM)", engine_why(f))
            },
            colima || self.ready(),
        )
        .check(on_path("colima"))
        .change(self.install(&pkg::BREW, &["colima", "docker"]))
        .verify(on_path("colima"));
        self.push(s);
        let cpus = self.w.cpus.unwrap_or(2.0).ceil().max(1.0) as u32;
        let mem = self.w.memory_gib.unwrap_or(4.0).ceil().max(1.0) as u32;
        let s = step("colima-start", engine_why(f), self.ready())
            .check(ping())
            .change(vec![run(
                vec![
                    "colima".into(),
                    "start".into(),
                    "--cpu".into(),
                    cpus.to_string(),
                    "--memory".into(),
                    mem.to_string(),
                ],
                600,
            )])
            .verify(ping());
        self.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian_user() -> Facts {
        let mut f = Facts {
            kind: Some(Kind::Linux),
            os_release: Some("ID=debian\n".into()),
            pid1: Some("systemd".into()),
            systemd_running: true,
            uid: Some(1000),
            user: Some("dev".into()),
            home: Some("/home/dev".into()),
            home_uid: Some(1000),
            sudo_ok: true,
            ..Facts::default()
        };
        f.which.insert("sudo".into(), "/usr/bin/sudo".into());
        f
    }

    fn docker() -> Wants {
        Wants {
            docker: true,
            dir: "/p".into(),
            ..Wants::default()
        }
    }

    fn all_commands(p: &Plan) -> String {
        p.commands()
            .iter()
            .map(|c| c.join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn never_a_second_engine_beside_an_installed_one() {
        for pkg in ["docker-ce", "moby-engine", "docker.io"] {
            let mut f = debian_user();
            f.packages = vec![pkg.into()];
            f.engine = EngineState::NotRunning;
            let p = plan(&f, &docker());
            assert!(!all_commands(&p).contains("install"), "{pkg}: {p:?}");
            assert!(all_commands(&p).contains("systemctl enable --now docker"));
        }
    }

    #[test]
    fn podman_docker_makes_podman_the_engine() {
        let mut f = debian_user();
        f.packages = vec!["podman-docker".into()];
        f.engine = EngineState::NotRunning;
        let p = plan(&f, &docker());
        assert!(all_commands(&p).contains("podman.socket"), "{p:?}");
        assert!(!all_commands(&p).contains("docker.io"));
    }

    #[test]
    fn sudo_that_wants_a_password_is_still_never_asked_and_the_plan_says_so() {
        let mut f = debian_user();
        f.sudo_ok = false;
        let p = plan(&f, &docker());
        assert!(p.commands().iter().all(|c| c[..2] == ["sudo", "-n"]));
        assert!(
            p.notes.iter().any(|n| n.contains("sudo -v")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn without_sudo_a_user_gets_instructions_not_commands() {
        let mut f = debian_user();
        f.which.clear();
        let p = plan(&f, &docker());
        assert!(p.commands().is_empty());
        assert_eq!(p.steps[0].state, State::Manual);
    }

    #[test]
    fn a_remote_docker_host_is_not_fixed_by_installing_locally() {
        let mut f = debian_user();
        f.docker_host = Some("tcp://10.0.0.5:2376".into());
        f.engine = EngineState::Unreachable;
        let p = plan(&f, &docker());
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].id, "engine-endpoint");
    }

    #[test]
    fn docker_desktop_only_with_the_licence_flag() {
        let f = Facts {
            kind: Some(Kind::Windows),
            ..Facts::default()
        };
        let p = plan(&f, &docker());
        assert!(!all_commands(&p).contains("Docker.DockerDesktop"));
        let w = Wants {
            accept_docker_desktop_license: true,
            ..docker()
        };
        let p = plan(&f, &w);
        assert!(all_commands(&p).contains("winget install -e --id Docker.DockerDesktop"));
    }

    #[test]
    fn the_python_probe_checks_every_bound() {
        let Probe::Command { argv } = in_range("python3", ">=3.10,<3.14") else {
            panic!("a command");
        };
        assert_eq!(
            argv[2],
            "import sys; sys.exit(not (sys.version_info[:3] >= (3, 10, 0) and sys.version_info[:3] < (3, 14, 0)))"
        );
    }

    /// Machines whose plans put the project directory somewhere: a detached dockerd as root,
    /// through sudo and as instructions for root; Podman without systemd; a broken project venv.
    fn dir_using_facts() -> Vec<Facts> {
        let mut root = debian_user();
        root.uid = Some(0);
        root.home_uid = Some(0);
        root.pid1 = Some("sh".into());
        root.systemd_running = false;
        root.project_venv = VenvState::InterpreterGone;
        let mut sudo = root.clone();
        sudo.uid = Some(1000);
        sudo.home_uid = Some(1000);
        let mut nobody = sudo.clone();
        nobody.which.clear();
        let mut podman = sudo.clone();
        podman.packages = vec!["podman-docker".into()];
        let mut rootless = podman.clone();
        rootless.engine_endpoint = Some("unix:///run/user/1000/podman/podman.sock".into());
        vec![root, sudo, nobody, podman, rootless]
    }

    /// Every word a shell would see in the plan: each command (and the script of `sh -c`), each
    /// detached daemon as its line, each instruction for root; parsed by a shell parser.
    fn shell_words(p: &Plan) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for a in p.steps.iter().flat_map(|s| s.change.iter()) {
            let line = match a {
                Action::Run { argv, .. } => {
                    if let Some(i) = argv.iter().position(|w| w == "-c")
                        && argv[..i].last().is_some_and(|w| w == "sh")
                    {
                        out.push(shlex::split(&argv[i + 1]).expect("the script parses"));
                    }
                    super::super::shell_line(argv)
                }
                Action::Detach { argv, log } => super::super::detach_line(argv, log),
                Action::Restart { argv, set, log, .. } => {
                    let mut line = set.clone();
                    line.extend(argv.iter().cloned());
                    super::super::detach_line(&line, log)
                }
                Action::Remove { path }
                | Action::WriteFile { path, .. }
                | Action::ProjectFile { path, .. }
                | Action::CaBundle { path, .. } => crate::escape::shell(path),
                Action::Edit { .. } => continue,
                Action::Manual { text } => match text.strip_prefix("as root: ") {
                    Some(line) => line.to_string(),
                    None => continue,
                },
            };
            out.push(shlex::split(&line).expect("the line parses"));
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn the_project_path_is_one_word_wherever_a_plan_puts_it(
            name in "[\\PC\n\t '\"$`;&|<>(){}*?~#\\\\]{1,16}"
        ) {
            // A folder name: anything but the separator.
            proptest::prop_assume!(!name.contains('/'));
            let placeholder = "/work/PROJECT";
            let hostile = format!("/work/{name}");
            for f in dir_using_facts() {
                let at = |dir: &str| plan(&f, &Wants { dir: dir.into(), ..docker() });
                let safe = shell_words(&at(placeholder));
                let got = shell_words(&at(&hostile));
                // The same words, where the project path is one word (or the start of one).
                let expected: Vec<Vec<String>> = safe
                    .iter()
                    .map(|ws| ws.iter().map(|w| w.replace(placeholder, &hostile)).collect())
                    .collect();
                proptest::prop_assert_eq!(got, expected);
                proptest::prop_assert!(safe.iter().flatten().any(|w| w.starts_with(placeholder)));
            }
        }
    }

    #[test]
    fn daemons_are_started_by_onramp_not_by_a_shell() {
        for f in dir_using_facts() {
            let p = plan(&f, &docker());
            for a in p.steps.iter().flat_map(|s| s.change.iter()) {
                if let Action::Run { argv, .. } = a {
                    let script = argv.iter().skip_while(|w| *w != "-c").nth(1);
                    assert!(
                        script.is_none_or(|s| !s.contains("/p")),
                        "the project path reaches a shell: {argv:?}"
                    );
                }
            }
            let detached: Vec<&Action> = p
                .steps
                .iter()
                .flat_map(|s| s.change.iter())
                .filter(|a| matches!(a, Action::Detach { .. }))
                .collect();
            if f.which.contains_key("sudo") || f.uid == Some(0) {
                assert_eq!(detached.len(), 1, "{p:?}");
            }
        }
    }

    #[test]
    fn the_wsl1_remedy_quotes_the_distro_for_powershell() {
        let f = Facts {
            kind: Some(Kind::Wsl1),
            wsl_distro: Some("Ubuntu'; Remove-Item -Recurse C:\\ #".into()),
            ..Facts::default()
        };
        let p = plan(&f, &docker());
        let Action::Manual { text } = &p.steps[0].change[0] else {
            panic!("{p:?}")
        };
        assert!(
            text.contains("`wsl --set-version 'Ubuntu''; Remove-Item -Recurse C:\\ #' 2`"),
            "{text}"
        );
    }

    #[test]
    fn a_ready_engine_gives_a_plan_with_nothing_to_do() {
        let mut f = debian_user();
        f.which.insert("dockerd".into(), "/usr/sbin/dockerd".into());
        f.engine = EngineState::Ready;
        f.docker_group = Some(vec!["dev".into()]);
        let p = plan(&f, &docker());
        assert!(p.all_satisfied(), "{p:?}");
        assert!(p.commands().is_empty());
    }
}
