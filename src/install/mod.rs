//! The installer: facts about a machine -> a plan of steps (check, change, verify) -> applied
//! through the host. `plan` is pure; `machine` gathers the facts; `apply` runs. The plan is the
//! one installer knowledge: doctor's remedies are its steps' summaries.

pub mod apply;
pub mod guard;
pub mod migrate;
pub mod native;
pub mod net;
mod net_base;
pub mod net_desktop;
pub mod net_python;
pub mod pkg;
mod plan;
mod sysfile;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::platform::Kind;

pub use apply::{Applied, Done, apply};
pub use plan::plan;

/// Whether the engine answers, as the doctor's probe saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineState {
    Ready,
    NotRunning,
    #[default]
    NotInstalled,
    PermissionDenied,
    Unreachable,
}

/// A project virtual environment, as found on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VenvState {
    #[default]
    Absent,
    Usable,
    /// `pyvenv.cfg` is there but `bin/python` points at nothing (the interpreter was removed).
    InterpreterGone,
    /// Created without pip (what `ensurepip is not available` leaves behind).
    HalfBuilt,
}

/// Docker Desktop's marks inside a WSL2 distribution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Desktop {
    /// `/usr/bin/docker` links into `/mnt/wsl/docker-desktop`.
    pub cli_symlink: bool,
    /// Its socket proxy exists.
    pub proxy_socket: bool,
    /// `docker` is the stub that says "could not be found in this WSL 2 distro".
    pub stub: bool,
    /// Docker Desktop is installed (macOS/Windows).
    pub installed: bool,
}

impl Desktop {
    pub fn integration(&self) -> bool {
        self.cli_symlink || self.proxy_socket || self.stub
    }
}

/// Everything the planner looks at. Recorded from a machine, or read from a fixture.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Facts {
    pub kind: Option<Kind>,
    pub container: bool,
    pub wsl_distro: Option<String>,
    pub os_release: Option<String>,
    /// `/proc/1/comm`: what PID 1 is (systemd, init, or anything else).
    pub pid1: Option<String>,
    /// `/run/systemd/system` exists (systemd is running as the init).
    pub systemd_running: bool,
    /// `which` results for the programs the planner cares about.
    pub which: BTreeMap<String, String>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    pub home: Option<String>,
    pub home_uid: Option<u32>,
    /// The passwd entry's home directory for `user`.
    pub passwd_home: Option<String>,
    /// Members of the `docker` group (`None`: there is no such group).
    pub docker_group: Option<Vec<String>>,
    /// Engine packages that are installed.
    pub packages: Vec<String>,
    pub desktop: Desktop,
    /// `/etc/wsl.conf` has `[boot] systemd=true`.
    pub wsl_conf_systemd: bool,
    /// The engine's log shows nf_tables failing (`RULE_APPEND failed`).
    pub nf_tables_failed: bool,
    pub engine: EngineState,
    /// Where the engine that was asked answers (or does not), as a URI.
    pub engine_endpoint: Option<String>,
    pub docker_host: Option<String>,
    /// `sudo -n true` succeeded (no password needed now).
    pub sudo_ok: bool,
    /// The interpreter in the profile's range, when there is one.
    pub python: Option<String>,
    pub python_version: Option<String>,
    /// `python -c "import ensurepip, venv"` works for that interpreter.
    pub ensurepip: bool,
    pub project_venv: VenvState,
    /// Pid files (`docker.pid`, containerd's) left by daemons that are gone.
    pub stale_pidfiles: Vec<String>,
    /// Windows: `wsl.exe --status` answered (WSL is installed and current).
    pub wsl_ready: bool,
    /// The network setup: daemon.json, the engine's proxy and mirrors, the trust stores.
    pub net: net::NetFacts,
    /// WSL as seen from Windows or from inside a WSL2 distro (the guardian's facts).
    pub wsl: crate::wsl::WslFacts,
}

impl Facts {
    pub fn has(&self, program: &str) -> bool {
        self.which.contains_key(program)
    }

    pub fn is_root(&self) -> bool {
        self.uid == Some(0)
    }

    /// The engine at the endpoint is Podman's API service.
    pub fn podman_endpoint(&self) -> bool {
        self.engine_endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("unix://") && e.contains("podman"))
    }
}

/// What the profile asks of the machine, and what the user allowed.
#[derive(Debug, Clone, Default)]
pub struct Wants {
    pub docker: bool,
    pub python: Option<String>,
    pub cpus: Option<f64>,
    pub memory_gib: Option<f64>,
    pub accept_docker_desktop_license: bool,
    /// The project directory (logs, pid files and the project venv live under it).
    pub dir: String,
    /// A company network's proxy, root and mirrors (`[network]` and the environment).
    pub net: net::NetWants,
    /// Host ports the profile publishes, with the service publishing each.
    pub ports: Vec<(u16, String)>,
    /// The profile's minimum memory (`memory_gib` is the amount to size for).
    pub memory_min_gib: Option<f64>,
}

impl Wants {
    /// An engine and a Python, without a profile (the remedy of a command that needs the
    /// engine).
    pub fn everything(dir: &std::path::Path) -> Wants {
        Wants {
            docker: true,
            python: Some(String::new()),
            dir: dir.display().to_string(),
            ..Wants::default()
        }
    }
}

/// How the state of a step is judged, before the change and after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Probe {
    /// The command exits 0.
    Command { argv: Vec<String> },
    /// A program is on `PATH`.
    OnPath { program: String },
    /// The engine answers `_ping` (waited for up to `wait_secs`).
    EnginePing { wait_secs: u64 },
    /// `user` is a member of `group`.
    InGroup { user: String, group: String },
    /// A file contains a line.
    FileHas { path: String, line: String },
    /// A path does not exist.
    Absent { path: String },
    /// An INI file (`.wslconfig`) has every one of these settings.
    IniHas {
        path: String,
        settings: Vec<crate::wsl::ini::Setting>,
    },
    /// A virtual environment's interpreter runs.
    VenvUsable { path: String },
    /// Only a person can tell (a step on another machine or in a GUI).
    Manual,
}

/// One change: a command (file edits are commands too, shown verbatim), a removal inside the
/// project, or an instruction.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    Run {
        argv: Vec<String>,
        timeout_secs: u64,
    },
    /// Start a daemon: `argv` in its own process group, left running, its output appended to
    /// `log` (relative to the project directory, opened by onramp itself without following a
    /// link). No shell is involved, so no path or name is ever parsed as shell syntax.
    Detach { argv: Vec<String>, log: String },
    /// Remove a directory or file onramp made inside the project.
    Remove { path: String },
    /// Set settings in a user's INI file (`.wslconfig`), keeping every other line; the
    /// original is copied once to `backup` (never over a file that is there).
    Edit {
        path: String,
        settings: Vec<crate::wsl::ini::Setting>,
        backup: String,
    },
    /// Something the user must do (on Windows, in a GUI, or after a new login).
    Manual { text: String },
    /// Write a system file (as root, through `sudo -n` when `sudo`): the file as it was is
    /// kept first under `.onramp/net/backup/` and `.onramp/net/undo.sh` restores it.
    WriteFile {
        path: String,
        content: String,
        sudo: bool,
    },
    /// Restart a daemon that no init manages, as it was started: stop `pid` (only while it
    /// still runs `argv`), then start `argv` again detached with that process's own
    /// environment and `set` (`KEY=value`) over it, its output appended to `log`. Its argv and
    /// environment are kept (0600) for `.onramp/net/undo.sh`, which starts it again with them;
    /// `ready` is a command that succeeds once it answers.
    Restart {
        pid: u32,
        argv: Vec<String>,
        set: Vec<String>,
        log: String,
        ready: Vec<String>,
    },
    /// Make the project's CA bundle (`netdiag::bundle`: the OS roots plus `ca_file`) current at
    /// `path`; undo removes it.
    CaBundle { ca_file: String, path: String },
    /// Write a file inside the project (never through a link, never over a file onramp did not
    /// write: one whose first line differs from `content`'s); undo removes it.
    ProjectFile { path: String, content: String },
}

/// Whether a step needs doing, as far as the facts tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Satisfied,
    Todo,
    /// Needs a person (instructions only).
    Manual,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub id: String,
    /// The failed check this step answers.
    pub why: String,
    pub state: State,
    pub check: Probe,
    pub change: Vec<Action>,
    pub verify: Probe,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub platform: String,
    /// The distribution family and its package manager, when one applies.
    pub family: Option<String>,
    pub manager: Option<String>,
    /// Why nothing may be changed at all (a mismatched `$HOME`), with the fix.
    pub refused: Option<String>,
    pub steps: Vec<Step>,
    /// Things to say after the run (a new login is needed, ...).
    pub notes: Vec<String>,
}

impl Step {
    /// The step's change as one line: commands as a person would paste them, joined by `&&`,
    /// then what is left to the person.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let mut last_run = false;
        for a in &self.change {
            let (text, is_run) = match a {
                Action::Run { argv, .. } => (shell_line(argv), true),
                // Ends in `&`: never joined by `&&`.
                Action::Detach { argv, log } => (detach_line(argv, log), false),
                Action::Remove { path } => (format!("remove {path}"), false),
                Action::Edit {
                    path,
                    settings,
                    backup,
                } => (crate::wsl::ini::edit_line(path, settings, backup), false),
                Action::Manual { text } => (text.clone(), false),
                Action::Restart {
                    pid,
                    argv,
                    set,
                    log,
                    ..
                } => (restart_line(*pid, argv, set, log), false),
                Action::WriteFile { path, .. } | Action::ProjectFile { path, .. } => {
                    (format!("write {path}"), false)
                }
                Action::CaBundle { ca_file, path } => (
                    format!("write {path} (the OS trust store's roots and {ca_file})"),
                    false,
                ),
            };
            if !out.is_empty() {
                out.push_str(if last_run && is_run { " && " } else { "; " });
            }
            out.push_str(&text);
            last_run = is_run;
        }
        out
    }
}

/// The doctor checks a plan step answers.
pub fn answers(step: &str) -> &'static [&'static str] {
    if let Some(checks) = crate::wsl::answers(step) {
        return checks;
    }
    match step {
        "python" | "python-venv" => &["python"],
        "homebrew" => &["docker", "python"],
        "wsl-version" => &["wsl", "platform", "docker"],
        "project-venv" => &[],
        "ca-os-store"
        | "engine-daemon-json"
        | "engine-proxy-dropin"
        | "engine-restart"
        | "engine-mirrors-podman"
        | "engine-proxy-podman"
        | "python-trust" => &["network"],
        s if s.starts_with("engine-trust:") || net_desktop::is_step(s) => &["network"],
        _ => &["docker"],
    }
}

impl Plan {
    /// What fixes a failing check: the plan's refusal, or the summaries of the steps still to
    /// do that answer it, in order. `None` when the plan has no such step.
    pub fn fix_for(&self, check: &str) -> Option<String> {
        if let Some(why) = &self.refused {
            return Some(why.clone());
        }
        let lines: Vec<String> = self
            .todo()
            .filter(|s| answers(&s.id).contains(&check))
            .map(Step::summary)
            .filter(|l| !l.is_empty())
            .collect();
        (!lines.is_empty()).then(|| lines.join("; then "))
    }

    pub fn todo(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.state != State::Satisfied)
    }

    pub fn all_satisfied(&self) -> bool {
        self.refused.is_none() && self.todo().next().is_none()
    }

    /// Every command of every step still to do, in order.
    pub fn commands(&self) -> Vec<Vec<String>> {
        self.todo()
            .flat_map(|s| s.change.iter())
            .filter_map(|a| match a {
                Action::Run { argv, .. }
                | Action::Detach { argv, .. }
                | Action::Restart { argv, .. } => Some(argv.clone()),
                _ => None,
            })
            .collect()
    }
}

/// `argv` as one line a person could paste into a shell.
pub fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| crate::escape::shell(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A daemon restarted as it was started: stop it, then `[KEY=value ...] argv >> LOG 2>&1 &`
/// with the environment it had.
pub fn restart_line(pid: u32, argv: &[String], set: &[String], log: &str) -> String {
    let mut line = set.to_vec();
    line.extend(argv.iter().cloned());
    format!(
        "kill {pid} (and wait for it to exit); {} (with the environment pid {pid} had)",
        detach_line(&line, log)
    )
}

/// A detached daemon as a person would start it from a shell: `argv >> LOG 2>&1 &`.
pub fn detach_line(argv: &[String], log: &str) -> String {
    format!(
        "{} >> {} 2>&1 &",
        shell_line(argv),
        crate::escape::shell(log)
    )
}
