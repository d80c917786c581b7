//! The executor: each step is checked, changed only when the check fails, then verified. Every
//! command goes through `Host::run` (with its timeout) and its output into
//! `.onramp/logs/install-<step>.log`, whose path a failure names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::{Action, Plan, Probe, State, Step, pkg};
use crate::host::{Cmd, Host};

/// What happened to one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Done {
    /// The check passed: nothing was changed.
    Satisfied,
    /// Changed, and the verify passed.
    Changed,
    Failed,
    /// Needs a person; onramp did what it could and says what is left.
    Manual,
    /// Not attempted because an earlier step failed.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub id: String,
    pub done: Done,
    /// Every command run as the change, in order.
    pub ran: Vec<Vec<String>>,
    /// How long the step took (check, change and verify).
    pub ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Applied {
    fn new(id: &str, done: Done) -> Applied {
        Applied {
            id: id.into(),
            done,
            ran: Vec::new(),
            ms: 0,
            log: None,
            error: None,
        }
    }
}

/// Apply the plan's steps in order; stop changing things after the first failure.
pub async fn apply(host: &Host, plan: &Plan, dir: &Path, progress: &dyn Fn(&str)) -> Vec<Applied> {
    let mut out = Vec::new();
    let mut failed = false;
    for s in &plan.steps {
        if failed {
            out.push(Applied::new(&s.id, Done::Skipped));
            continue;
        }
        let started = host.now();
        let mut a = apply_step(host, s, dir, progress).await;
        a.ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        failed = a.done == Done::Failed;
        out.push(a);
    }
    out
}

async fn apply_step(host: &Host, s: &Step, dir: &Path, progress: &dyn Fn(&str)) -> Applied {
    // The facts behind the plan were read a moment ago: a step they found satisfied is not
    // touched, so nothing runs that the plan did not show.
    if s.state == State::Satisfied
        || (s.check != Probe::Manual && holds(host, &s.check, false).await)
    {
        return Applied::new(&s.id, Done::Satisfied);
    }
    if s.state == State::Manual {
        let mut a = Applied::new(&s.id, Done::Manual);
        a.error = Some(manual_text(s));
        return a;
    }
    progress(&format!("{}: {}", s.id, s.why));
    let rel = format!("{}/logs/install-{}.log", crate::naming::STATE_DIR, s.id);
    let log_path = dir.join(&rel);
    let mut log = Log::open(dir, rel);
    let mut a = Applied::new(&s.id, Done::Changed);
    a.log = Some(log_path.clone());
    let network = super::answers(&s.id).contains(&"network");
    for action in &s.change {
        let done = act(host, action, &mut log, &mut a).await;
        if done.is_ok() && network {
            let journal = match action {
                Action::Run { argv, .. } => super::sysfile::record(&log.root, argv, None),
                Action::Detach { argv, log: out } => {
                    super::sysfile::record(&log.root, argv, Some(out))
                }
                _ => Ok(()),
            };
            if let Err(e) = journal {
                log.line(&format!("cannot record this for undo: {e}"));
            }
        }
        log.flush();
        if let Err(e) = done {
            let hint = pkg::known_error(&format!("{e}\n{}", log.tail()))
                .map(|r| format!("; {r}"))
                .unwrap_or_default();
            a.done = Done::Failed;
            a.error = Some(format!("{e}{hint} (log: {})", log_path.display()));
            return a;
        }
    }
    if s.verify != Probe::Manual && !holds(host, &s.verify, true).await {
        let hint = pkg::known_error(&log.tail())
            .map(|r| format!("; {r}"))
            .unwrap_or_default();
        a.done = Done::Failed;
        a.error = Some(format!(
            "changed, but the verify ({}) still fails{hint} (log: {})",
            describe(&s.verify),
            log_path.display()
        ));
        return a;
    }
    if s.change.iter().any(|c| matches!(c, Action::Manual { .. })) {
        a.error = Some(manual_text(s));
    }
    a
}

fn manual_text(s: &Step) -> String {
    s.change
        .iter()
        .filter_map(|c| match c {
            Action::Manual { text } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

async fn act(host: &Host, action: &Action, log: &mut Log, a: &mut Applied) -> Result<(), String> {
    match action {
        Action::Run { argv, timeout_secs } => {
            let Some((program, args)) = argv.split_first() else {
                return Ok(());
            };
            a.ran.push(argv.clone());
            log.line(&format!("$ {}", super::shell_line(argv)));
            let cmd = Cmd::new(program, Duration::from_secs(*timeout_secs)).args(args);
            let out = host.run(&cmd).await.map_err(|e| e.to_string())?;
            log.text(&out.stdout);
            log.text(&out.stderr);
            if out.code != Some(0) {
                let last = out.stderr.lines().rev().find(|l| !l.trim().is_empty());
                return Err(format!(
                    "`{}` exited with {}{}",
                    super::shell_line(argv),
                    out.code.map_or("a signal".into(), |c| c.to_string()),
                    last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
                ));
            }
            Ok(())
        }
        Action::Detach { argv, log: out } => {
            let Some((program, args)) = argv.split_first() else {
                return Ok(());
            };
            a.ran.push(argv.clone());
            log.line(&format!("$ {}", super::detach_line(argv, out)));
            let file = log.root.open_log(out).map_err(|e| e.to_string())?;
            let cmd = Cmd::new(program, Duration::ZERO).args(args);
            let pid = host.spawn_detached(&cmd, file).map_err(|e| e.to_string())?;
            log.line(&format!("started as pid {pid}, output in {out}"));
            Ok(())
        }
        Action::Remove { path } => {
            log.line(&format!("remove {path}"));
            // Only what onramp made inside the project, never through a link.
            let root = &log.root;
            let rel = Path::new(path)
                .strip_prefix(root.dir())
                .ok()
                .and_then(|r| r.to_str())
                .ok_or_else(|| {
                    format!("refusing to remove {path}: it is not inside the project")
                })?;
            root.remove_tree(rel)
                .map_err(|e| format!("cannot remove {path}: {e}"))
        }
        Action::Edit {
            path,
            settings,
            backup,
        } => {
            log.line(&crate::wsl::ini::edit_line(path, settings, backup));
            crate::wsl::edit_file(Path::new(path), settings, backup)
        }
        Action::Manual { text } => {
            log.line(&format!("left to you: {text}"));
            Ok(())
        }
        Action::Restart {
            pid,
            argv,
            set,
            log: out,
            ready,
        } => {
            a.ran.push(argv.clone());
            log.line(&super::restart_line(*pid, argv, set, out));
            let r = super::sysfile::Restart {
                pid: *pid,
                argv,
                set,
                log: out,
                ready,
            };
            let new = super::sysfile::restart(host, &log.root, &r).await?;
            log.line(&format!("started as pid {new}, output in {out}"));
            Ok(())
        }
        Action::WriteFile {
            path,
            content,
            sudo,
        } => {
            log.line(&format!("write {path}"));
            let argv = super::sysfile::write(host, &log.root, path, content, *sudo).await?;
            a.ran.push(argv);
            Ok(())
        }
        Action::CaBundle { ca_file, path } => {
            log.line(&format!(
                "write {path} from the OS trust store and {ca_file}"
            ));
            let b = crate::netdiag::bundle::ensure(host, log.root.dir(), Path::new(ca_file), None)
                .map_err(|e| format!("{e}"))?;
            log.line(&format!(
                "{} certificates ({}), from {}",
                b.certs,
                if b.written {
                    "written"
                } else {
                    "already current"
                },
                b.os_source
            ));
            super::sysfile::added(&log.root, crate::netdiag::bundle::BUNDLE)?;
            super::sysfile::added(&log.root, crate::netdiag::bundle::STORE)
        }
        Action::ProjectFile { path, content } => {
            log.line(&format!("write {path}"));
            super::sysfile::write_project(&log.root, path, content)
        }
    }
}

/// Whether a probe holds now; `wait` polls the engine's `_ping` up to its limit.
pub async fn holds(host: &Host, p: &Probe, wait: bool) -> bool {
    match p {
        Probe::Command { argv } => {
            let Some((program, args)) = argv.split_first() else {
                return false;
            };
            let cmd = Cmd::new(program, Duration::from_secs(30)).args(args);
            host.run(&cmd).await.is_ok_and(|o| o.code == Some(0))
        }
        Probe::OnPath { program } => host.which(program).is_some(),
        Probe::EnginePing { wait_secs } => {
            let limit = if wait { *wait_secs } else { 0 };
            let deadline = host.now() + Duration::from_secs(limit);
            loop {
                // A socket that refuses this user still proves the daemon runs; the
                // docker-group step answers the permission.
                if matches!(
                    crate::engine::probe(host).await.reach,
                    crate::engine::Reach::Ready(_) | crate::engine::Reach::PermissionDenied(_)
                ) {
                    return true;
                }
                if host.now() >= deadline {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Probe::InGroup { user, group } => {
            let cmd = Cmd::new("id", Duration::from_secs(5)).args(["-nG", user]);
            host.run(&cmd)
                .await
                .is_ok_and(|o| o.stdout.split_whitespace().any(|g| g == group))
        }
        Probe::FileHas { path, line } => host
            .sys_read(path)
            .is_some_and(|t| t.lines().any(|l| l.replace(' ', "") == *line)),
        Probe::Absent { path } => !Path::new(path).exists(),
        Probe::IniHas { path, settings } => crate::fsx::read_text_file(Path::new(path))
            .is_some_and(|t| crate::wsl::ini::missing(&t, settings).is_empty()),
        Probe::VenvUsable { path } => {
            let python = crate::python::venv_python(Path::new(path), host.os());
            let cmd = Cmd::new(python, Duration::from_secs(10)).args(["-c", "import pip"]);
            host.run(&cmd).await.is_ok_and(|o| o.code == Some(0))
        }
        Probe::Manual => false,
    }
}

/// A probe in words, for plans and errors.
pub fn describe(p: &Probe) -> String {
    match p {
        Probe::Command { argv } => format!("`{}` succeeds", super::shell_line(argv)),
        Probe::OnPath { program } => format!("{program} is on PATH"),
        Probe::EnginePing { wait_secs } => {
            format!("the engine answers _ping (waiting up to {wait_secs} s)")
        }
        Probe::InGroup { user, group } => format!("{user} is in group {group}"),
        Probe::FileHas { path, line } => format!("{path} has `{line}`"),
        Probe::Absent { path } => format!("{path} is gone"),
        Probe::IniHas { path, settings } => {
            let list: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
            format!("{path} has {}", list.join(", "))
        }
        Probe::VenvUsable { path } => format!("{path}'s python imports pip"),
        Probe::Manual => "you confirm it".into(),
    }
}

/// A step's log: kept in memory and written (secrets masked) through the project's safe-write
/// path after every action, so a link planted at `.onramp/` or the log is refused, not followed.
struct Log {
    root: crate::fsx::Root,
    rel: String,
    kept: String,
}

/// The most of a step's output a log keeps (the end of it).
const LOG_CAP: usize = 1 << 20;

impl Log {
    fn open(dir: &Path, rel: String) -> Log {
        Log {
            root: crate::fsx::Root::new(dir),
            rel,
            kept: String::new(),
        }
    }

    fn line(&mut self, text: &str) {
        self.text(&format!("{text}\n"));
    }

    fn text(&mut self, text: &str) {
        self.kept.push_str(text);
        if self.kept.len() > LOG_CAP {
            let cut = self.kept.len() - LOG_CAP / 2;
            let cut = (cut..self.kept.len())
                .find(|i| self.kept.is_char_boundary(*i))
                .unwrap_or(0);
            self.kept.drain(..cut);
        }
    }

    fn flush(&self) {
        let text = crate::secrets::mask_text(&self.kept);
        let _ = self.root.write(&self.rel, text.as_bytes(), 0o600);
    }

    fn tail(&self) -> String {
        let start = self.kept.len().saturating_sub(16 * 1024);
        let start = (start..self.kept.len())
            .find(|i| self.kept.is_char_boundary(*i))
            .unwrap_or(0);
        self.kept[start..].to_string()
    }
}

// The executor's tests run /bin/sh scripts: Unix only. They make their fixtures with std::fs.
#[cfg(all(test, unix))]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;
    use crate::install::State;

    fn plan(steps: Vec<Step>) -> Plan {
        Plan {
            platform: "linux".into(),
            family: None,
            manager: None,
            refused: None,
            steps,
            notes: Vec::new(),
        }
    }

    fn step(id: &str, check: Probe, script: &str, verify: Probe) -> Step {
        Step {
            id: id.into(),
            why: "test".into(),
            state: State::Todo,
            check,
            change: vec![Action::Run {
                argv: vec!["sh".into(), "-c".into(), script.into()],
                timeout_secs: 10,
            }],
            verify,
            note: None,
        }
    }

    fn sh(script: &str) -> Probe {
        Probe::Command {
            argv: vec!["sh".into(), "-c".into(), script.into()],
        }
    }

    fn run(p: &Plan, dir: &Path) -> Vec<Applied> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(apply(&Host::from_process(), p, dir, &|_| {}))
    }

    #[cfg(unix)]
    #[test]
    fn check_change_verify_then_a_second_run_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("made");
        let m = marker.display().to_string();
        let p = plan(vec![step(
            "make",
            sh(&format!("test -e {m}")),
            &format!("echo making; touch {m}"),
            sh(&format!("test -e {m}")),
        )]);
        let first = run(&p, dir.path());
        assert_eq!(first[0].done, Done::Changed, "{first:?}");
        assert_eq!(first[0].ran.len(), 1);
        let log =
            std::fs::read_to_string(dir.path().join(".onramp/logs/install-make.log")).unwrap();
        assert!(log.contains("making"), "{log}");
        let second = run(&p, dir.path());
        assert_eq!(second[0].done, Done::Satisfied);
        assert!(second[0].ran.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_failure_names_its_log_and_the_known_remedy_and_stops_the_plan() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan(vec![
            step(
                "engine-start",
                sh("false"),
                "echo 'iptables: RULE_APPEND failed (No such file or directory)' >&2; exit 1",
                sh("true"),
            ),
            step("later", sh("false"), "true", sh("true")),
        ]);
        let out = run(&p, dir.path());
        assert_eq!(out[0].done, Done::Failed);
        let err = out[0].error.as_deref().unwrap();
        assert!(err.contains("install-engine-start.log"), "{err}");
        assert!(err.contains("iptables-legacy"), "{err}");
        assert_eq!(out[1].done, Done::Skipped);
    }

    #[cfg(unix)]
    #[test]
    fn a_log_is_never_written_through_a_link_out_of_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(".onramp")).unwrap();
        let p = plan(vec![step("x", sh("false"), "echo out", sh("true"))]);
        run(&p, dir.path());
        assert!(!elsewhere.path().join("logs").exists());
    }

    /// A folder whose name is shell syntax: run by a shell unquoted, it would create `x`, `y`,
    /// `z` and `w` in the current directory or split the path at the space.
    #[cfg(unix)]
    const HOSTILE: &str = "a b; touch x $(touch y) `touch z` && echo >w";

    /// The engine-start step the planner gives a root machine whose PID 1 is no init.
    #[cfg(unix)]
    fn engine_start_step(dir: &Path, root: bool) -> Step {
        let mut f = crate::install::Facts {
            kind: Some(crate::platform::Kind::Linux),
            os_release: Some("ID=debian\n".into()),
            pid1: Some("sh".into()),
            uid: Some(if root { 0 } else { 1000 }),
            engine: crate::install::EngineState::NotRunning,
            ..Default::default()
        };
        f.which.insert("dockerd".into(), "/usr/sbin/dockerd".into());
        let w = crate::install::Wants {
            docker: true,
            dir: dir.display().to_string(),
            ..Default::default()
        };
        let p = crate::install::plan(&f, &w);
        p.steps
            .into_iter()
            .find(|s| s.id == "engine-start")
            .expect("an engine-start step")
    }

    #[cfg(unix)]
    fn only_the_project_in(outer: &Path) {
        let names: Vec<String> = std::fs::read_dir(outer)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [HOSTILE],
            "something was created outside the project"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_detached_daemon_in_a_hostile_folder_writes_only_its_log_inside_the_project() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join(HOSTILE);
        std::fs::create_dir(&dir).unwrap();
        let mut step = engine_start_step(&dir, true);
        let log = dir.join(".onramp/logs/dockerd.log");
        for a in &mut step.change {
            let Action::Detach { argv, .. } = a else {
                panic!("{a:?}")
            };
            assert_eq!(argv, &["dockerd"]);
            // The real step, with a stand-in for dockerd (the machine's engine keeps running).
            *argv = vec!["sh".into(), "-c".into(), "echo daemon-started".into()];
        }
        step.check = sh("false");
        let wait = format!(
            "for i in $(seq 1 100); do grep -q daemon-started {} && exit 0; sleep 0.05; done; exit 1",
            crate::escape::shell(&log.display().to_string())
        );
        step.verify = sh(&wait);
        let out = run(&plan(vec![step]), &dir);
        assert_eq!(out[0].done, Done::Changed, "{out:?}");
        only_the_project_in(outer.path());
        for stray in ["x", "y", "z", "w"] {
            assert!(!Path::new(stray).exists(), "{stray} was created");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_instruction_for_root_in_a_hostile_folder_runs_as_one_path_in_a_real_shell() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join(HOSTILE);
        std::fs::create_dir_all(dir.join(".onramp/logs")).unwrap();
        let step = engine_start_step(&dir, false);
        let Some(Action::Manual { text }) = step.change.first() else {
            panic!("{step:?}")
        };
        let line = text
            .strip_prefix("as root: ")
            .expect("an instruction for root");
        // The line as a person would paste it, with a stand-in dockerd, run in the outer folder.
        let script = format!("dockerd() {{ echo daemon-started; }}; {line} wait");
        let status = std::process::Command::new("sh")
            .args(["-c", &script])
            .current_dir(outer.path())
            .status()
            .unwrap();
        assert!(status.success());
        only_the_project_in(outer.path());
        let log = std::fs::read_to_string(dir.join(".onramp/logs/dockerd.log")).unwrap();
        assert_eq!(log, "daemon-started\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_change_whose_verify_fails_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan(vec![step("nothing", sh("false"), "true", sh("false"))]);
        let out = run(&p, dir.path());
        assert_eq!(out[0].done, Done::Failed);
        assert!(out[0].error.as_deref().unwrap().contains("still fails"));
    }
}
