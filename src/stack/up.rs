//! `up`: check ports, pull what is missing, converge containers, then wait for every service
//! to answer its own protocol, all in parallel.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use futures_util::future::join_all;
use serde::Serialize;

use super::diagnose;
use super::ready::{self, Readiness};
use super::{Decision, Origin, container_spec, decide, existing, object_labels, select};
use crate::engine::api::{BuildSpec, ContainerInfo, ContainerSpec, Engine, EngineError, PullEvent};
use crate::engine::pull;
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::naming::{
    LABEL_COMPOSE_HASH, LABEL_HASH, LABEL_IMAGE, LABEL_NETWORK, LABEL_PROJECT, LABEL_VOLUME,
};
use crate::outcome::{ServiceState as State, StackAction};
use crate::ports::{holder, try_bind};
use crate::probe;
use crate::profile::Condition;
use crate::profile::{Profile, Service};
use crate::progress::Ui;
use crate::spec::ServiceSpec;

/// How many times a pull is tried when the error looks transient.
const PULL_TRIES: u32 = 3;

#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub name: String,
    pub state: State,
    pub ready_ms: Option<u64>,
    pub host_ports: Vec<u16>,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
    /// The command that repairs a recognised failure (`onramp reset postgres`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    pub container: Option<String>,
    /// What `up` did: created, recreated, started, unchanged, external; for `status`, the
    /// container's state.
    pub action: StackAction,
}

impl ServiceReport {
    pub fn ok(&self) -> bool {
        matches!(self.state, State::Ready)
            || (self.state == State::External && self.error.is_none())
    }
}

/// What one `up` created, so that a rollback removes exactly that.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Created {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

impl Created {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }

    /// Remove it all again; returns what was removed, in words.
    pub async fn roll_back<E: Engine + Sync>(&self, engine: &E) -> Vec<String> {
        let mut done = Vec::new();
        for c in &self.containers {
            if engine.remove(c).await.is_ok() {
                done.push(format!("container {}", &c[..c.len().min(12)]));
            }
        }
        for n in &self.networks {
            if engine.remove_network(n).await.is_ok() {
                done.push(format!("network {n}"));
            }
        }
        for v in &self.volumes {
            if engine.remove_volume(v).await.is_ok() {
                done.push(format!("volume {v}"));
            }
        }
        done
    }
}

struct Managed<'a> {
    name: &'a str,
    svc: &'a Service,
    service: ServiceSpec,
    spec: ContainerSpec,
    decision: Decision,
    existing: Option<ContainerInfo>,
    /// A one-shot (init) service: another selected service waits for it to complete.
    oneshot: bool,
}

/// How far a service has come, for the services that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pending,
    Started,
    Ready,
    /// A one-shot service exited with code 0.
    Completed,
    Failed,
}

type Phases = BTreeMap<String, tokio::sync::watch::Sender<Phase>>;

/// The services this run recreated (a dependant that names one with `restart: true` is
/// restarted, as Compose does).
type Recreated = std::sync::Mutex<std::collections::BTreeSet<String>>;

/// Bring up the selected services (all when `only` is empty) and the services they depend on.
/// On an error before readiness (engine refusal, build or start failure) everything this run
/// created is removed again before the error is returned.
pub async fn up<E: Engine + Sync>(
    engine: &E,
    host: &Host,
    origin: &Origin<'_>,
    profile: &Profile,
    only: &[String],
    ui: &Ui,
    created: &mut Created,
) -> Result<Vec<ServiceReport>> {
    let result = up_inner(engine, host, origin, profile, only, ui, created).await;
    match result {
        Err(Error::NotReady { message, help }) if !created.is_empty() => {
            let removed = created.roll_back(engine).await;
            *created = Created::default();
            Err(Error::NotReady {
                message: format!(
                    "{message}; removed what this run had created ({})",
                    removed.join(", ")
                ),
                help,
            })
        }
        other => other,
    }
}

async fn up_inner<E: Engine + Sync>(
    engine: &E,
    host: &Host,
    origin: &Origin<'_>,
    profile: &Profile,
    only: &[String],
    ui: &Ui,
    created: &mut Created,
) -> Result<Vec<ServiceReport>> {
    let project = origin.project;
    let selected = select(profile, only)?;
    let oneshots: Vec<String> = selected
        .iter()
        .filter_map(|n| profile.services.get(n))
        .flat_map(Service::dependencies)
        .filter(|(_, c)| *c == Condition::ServiceCompletedSuccessfully)
        .map(|(d, _)| d)
        .collect();
    let mut managed = Vec::new();
    for name in &selected {
        let Some((name, svc)) = profile.services.get_key_value(name) else {
            continue;
        };
        let Some(service) = ServiceSpec::of(origin, name, svc) else {
            continue;
        };
        let service = shared_network_resolved(engine, project, service).await?;
        let spec = container_spec(origin, &service);
        let found = existing(engine, project, name).await.map_err(engine_err)?;
        let decision = decide(&found, &spec, project);
        if let Decision::Refuse { why, help } = &decision {
            return Err(Error::NotReady {
                message: format!("{why}; onramp will not touch it, and nothing was created"),
                help: help.clone(),
            });
        }
        managed.push(Managed {
            name,
            svc,
            service,
            spec,
            decision,
            existing: found.into_iter().next(),
            oneshot: oneshots.iter().any(|o| o == name),
        });
    }
    check_ports(host, &managed).await?;
    build_missing(engine, &managed, origin.dir, ui).await?;
    pull_missing(host, engine, &managed, origin.dir, ui).await?;
    ensure_networks(engine, origin, profile, &managed, created).await?;
    ensure_volumes(engine, origin, profile, &managed, created).await?;
    let phases: Phases = selected
        .iter()
        .map(|n| (n.clone(), tokio::sync::watch::Sender::new(Phase::Pending)))
        .collect();
    let now = crate::host::now();
    let externals: Vec<(&String, &Service)> = selected
        .iter()
        .filter_map(|n| profile.services.get_key_value(n))
        .filter(|(_, s)| s.image.is_none())
        .collect();
    let recreated = Recreated::default();
    let runs = managed
        .iter()
        .map(|m| run_managed(engine, m, &phases, &recreated, ui));
    let ext = externals.iter().map(|(name, svc)| async {
        let r = wait_one::<E>(name, svc, None, StackAction::External, now, ui).await;
        signal(
            &phases,
            name,
            if r.ok() { Phase::Ready } else { Phase::Failed },
        );
        r
    });
    let (results, ext) = tokio::join!(join_all(runs), join_all(ext));
    let mut reports = Vec::new();
    let mut first_err = None;
    for r in results {
        match r {
            Ok((report, new_id)) => {
                created.containers.extend(new_id);
                reports.push(report);
            }
            Err((e, new_id)) => {
                created.containers.extend(new_id);
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    reports.extend(ext);
    Ok(reports)
}

/// Create the project networks the started services join (labelled as Compose labels them, so
/// `down` removes them); an `external` one must exist and is never created.
async fn ensure_networks<E: Engine + Sync>(
    engine: &E,
    origin: &Origin<'_>,
    profile: &Profile,
    managed: &[Managed<'_>],
    created: &mut Created,
) -> Result<()> {
    let mut keys: Vec<&String> = Vec::new();
    for m in managed.iter().filter(|m| m.service.network_mode.is_none()) {
        for k in m.service.networks.keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    for key in keys {
        let spec = profile
            .networks
            .get(key.as_str())
            .cloned()
            .unwrap_or_default();
        let name = origin.network_of(key);
        if spec.external == Some(true) {
            let all = engine.networks(&[]).await.map_err(engine_err)?;
            if !all.contains(&name) {
                return Err(missing_external("network", &name, "docker network create"));
            }
            continue;
        }
        let mut labels = spec.labels.unwrap_or_default();
        labels.extend(object_labels(origin.project, (LABEL_NETWORK, key)));
        if engine
            .ensure_network(&name, &labels, &spec.driver_opts.unwrap_or_default())
            .await
            .map_err(engine_err)?
        {
            created.networks.push(name);
        }
    }
    Ok(())
}

/// Create the named volumes of the services this run starts (`up SERVICE...`); an `external`
/// one must exist and is never created.
async fn ensure_volumes<E: Engine + Sync>(
    engine: &E,
    origin: &Origin<'_>,
    profile: &Profile,
    managed: &[Managed<'_>],
    created: &mut Created,
) -> Result<()> {
    let mut volumes: Vec<(String, String)> = Vec::new();
    for v in managed.iter().flat_map(|m| m.service.named_volumes()) {
        if !volumes.contains(&v) {
            volumes.push(v);
        }
    }
    for (short, full) in volumes {
        let spec = profile.volumes.get(&short).cloned().unwrap_or_default();
        if spec.external == Some(true) {
            if !engine.volume_exists(&full).await.map_err(engine_err)? {
                return Err(missing_external("volume", &full, "docker volume create"));
            }
            continue;
        }
        let mut labels = spec.labels.unwrap_or_default();
        labels.extend(object_labels(origin.project, (LABEL_VOLUME, &short)));
        if engine
            .ensure_volume(&full, &labels, &spec.driver_opts.unwrap_or_default())
            .await
            .map_err(engine_err)?
        {
            created.volumes.push(full);
        }
    }
    Ok(())
}

fn missing_external(what: &str, name: &str, create: &str) -> Error {
    Error::NotReady {
        message: format!(
            "the external {what} `{name}` does not exist; onramp never creates an external {what}, and nothing was started"
        ),
        help: format!("create it first: `{create} {name}`"),
    }
}

fn signal(phases: &Phases, name: &str, phase: Phase) {
    if let Some(tx) = phases.get(name) {
        tx.send_replace(phase);
    }
}

/// Wait until each dependency has reached what its condition asks; the first one that failed,
/// by name.
async fn dependencies_met(svc: &Service, phases: &Phases) -> std::result::Result<(), String> {
    for (dep, condition) in svc.dependencies() {
        let Some(tx) = phases.get(&dep) else { continue };
        let mut rx = tx.subscribe();
        let enough = |p: &Phase| match condition {
            Condition::ServiceStarted => !matches!(p, Phase::Pending),
            Condition::ServiceHealthy => {
                matches!(p, Phase::Ready | Phase::Completed | Phase::Failed)
            }
            Condition::ServiceCompletedSuccessfully => {
                matches!(p, Phase::Completed | Phase::Failed)
            }
        };
        let phase = rx
            .wait_for(enough)
            .await
            .map(|p| *p)
            .unwrap_or(Phase::Failed);
        if phase == Phase::Failed {
            return Err(dep);
        }
    }
    Ok(())
}

type Run = std::result::Result<(ServiceReport, Option<String>), (Error, Option<String>)>;

/// One managed service: wait for its dependencies, converge its container, wait until it
/// answers; the id of a container this run created comes back with the outcome.
async fn run_managed<E: Engine + Sync>(
    engine: &E,
    m: &Managed<'_>,
    phases: &Phases,
    recreated: &Recreated,
    ui: &Ui,
) -> Run {
    if let Err(dep) = dependencies_met(m.svc, phases).await {
        signal(phases, m.name, Phase::Failed);
        let error = format!("not started: {dep}, which it depends on, is not ready");
        ui.service(m.name).finish(false, &error);
        return Ok((
            ServiceReport {
                name: m.name.to_string(),
                state: State::Failed,
                ready_ms: None,
                host_ports: m.svc.ports().iter().map(|p| p.host).collect(),
                error: Some(error),
                logs: None,
                remedy: None,
                container: None,
                action: StackAction::NotStarted,
            },
            None,
        ));
    }
    let (id, action, since) = match converge(engine, m).await {
        Ok(done) => done,
        Err(e) => {
            signal(phases, m.name, Phase::Failed);
            return Err((e, None));
        }
    };
    let (action, since) = match restart_for_recreated(engine, m, &id, recreated).await {
        Ok(Some(at)) => (StackAction::Restarted, at),
        Ok(None) => (action, since),
        Err(e) => {
            signal(phases, m.name, Phase::Failed);
            return Err((e, None));
        }
    };
    if action == StackAction::Recreated
        && let Ok(mut set) = recreated.lock()
    {
        set.insert(m.name.to_string());
    }
    signal(phases, m.name, Phase::Started);
    let new_id = action.made_by_this_run().then(|| id.clone());
    if m.oneshot {
        let report = wait_completed(engine, m, &id, action, since, ui).await;
        let phase = if report.ok() {
            Phase::Completed
        } else {
            Phase::Failed
        };
        signal(phases, m.name, phase);
        return Ok((report, new_id));
    }
    // Ports the engine picked are known once the container runs.
    let bound = match m.svc.ports().iter().any(|p| p.host == 0) {
        true => match engine.inspect(&id).await {
            Ok(Some(c)) => super::with_bound_ports(m.svc, &c),
            _ => m.svc.clone(),
        },
        false => m.svc.clone(),
    };
    let report = wait_one(
        m.name,
        &bound,
        Some((engine, id.as_str())),
        action,
        since,
        ui,
    )
    .await;
    signal(
        phases,
        m.name,
        if report.ok() {
            Phase::Ready
        } else {
            Phase::Failed
        },
    );
    Ok((report, new_id))
}

/// A container kept running as it was is restarted when a dependency it names with
/// `restart: true` was recreated by this run (its dependencies have converged by now); returns
/// when it was restarted.
async fn restart_for_recreated<E: Engine + Sync>(
    engine: &E,
    m: &Managed<'_>,
    id: &str,
    recreated: &Recreated,
) -> Result<Option<Instant>> {
    if !matches!(
        m.decision,
        Decision::Keep | Decision::Adopt { running: true }
    ) {
        return Ok(None);
    }
    let set = recreated.lock().map(|s| s.clone()).unwrap_or_default();
    let due = m
        .service
        .depends_on
        .iter()
        .any(|(dep, d)| d.restart && set.contains(dep));
    if !due {
        return Ok(None);
    }
    let at = crate::host::now();
    engine.restart(id).await.map_err(|e| start_err(m, e))?;
    Ok(Some(at))
}

/// A one-shot service: wait (up to its timeout) until its container exits; exit code 0 is
/// success, anything else fails with the code and the last lines of its log.
async fn wait_completed<E: Engine + Sync>(
    engine: &E,
    m: &Managed<'_>,
    id: &str,
    action: StackAction,
    since: Instant,
    ui: &Ui,
) -> ServiceReport {
    let line = ui.service(m.name);
    line.message("running to completion");
    let mut report = ServiceReport {
        name: m.name.to_string(),
        state: State::Failed,
        ready_ms: None,
        host_ports: m.svc.ports().iter().map(|p| p.host).collect(),
        error: None,
        logs: None,
        remedy: None,
        container: Some(id.chars().take(12).collect()),
        action,
    };
    let exited = tokio::time::timeout(m.svc.timeout(), async {
        loop {
            match engine.inspect(id).await {
                Ok(Some(c)) if !c.running && !c.restarting => return Ok(c.exit_code),
                Ok(Some(_)) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                Ok(None) => return Err("its container disappeared".to_string()),
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await;
    let error = match exited {
        Ok(Ok(0)) => {
            let d = since.elapsed();
            report.state = State::Ready;
            report.ready_ms = Some(d.as_millis() as u64);
            line.finish(
                true,
                &format!("completed (exit 0) in {:.2} s", d.as_secs_f64()),
            );
            return report;
        }
        Ok(Ok(code)) => format!("exited with code {code} (services that depend on it need 0)"),
        Ok(Err(e)) => e,
        Err(_) => format!("did not finish within {} s", m.svc.timeout().as_secs()),
    };
    report.logs = engine.logs_tail(id, ready::LOG_TAIL).await.ok();
    line.finish(false, &error);
    if let Some(l) = report.logs.as_deref().filter(|l| !l.trim().is_empty()) {
        ui.note(&format!(
            "  last {} log lines of {}:\n{}",
            ready::LOG_TAIL,
            m.name,
            indent(l)
        ));
    }
    report.error = Some(error);
    report
}

/// Probe only the external services: a profile with nothing to start needs no engine.
pub async fn probe_externals(
    profile: &Profile,
    selected: &[String],
    ui: &Ui,
) -> Vec<ServiceReport> {
    let now = crate::host::now();
    let waits = profile
        .services()
        .filter(|(n, s)| s.image.is_none() && selected.contains(n))
        .map(|(name, svc)| {
            wait_one::<crate::engine::api::Bollard>(name, svc, None, StackAction::External, now, ui)
        });
    join_all(waits).await
}

/// Whether the profile has services onramp starts (and so needs an engine).
pub fn has_managed(profile: &Profile, selected: &[String]) -> bool {
    profile
        .services()
        .any(|(n, s)| s.image.is_some() && selected.contains(n))
}

fn engine_err(e: EngineError) -> Error {
    Error::NotReady {
        message: format!("the Docker engine refused: {e}"),
        help: "check the engine (`docker info`) and run `onramp up` again".into(),
    }
}

/// Every host port a new or restarted container will publish must be free now. The only ports
/// that may be held are those of the very container this run replaces; a port held by any
/// other container (Compose's included) is reported like any other holder.
async fn check_ports(host: &Host, managed: &[Managed<'_>]) -> Result<()> {
    shared_ports(managed)?;
    let mut problems = Vec::new();
    for m in managed {
        if matches!(
            m.decision,
            Decision::Keep | Decision::Adopt { running: true }
        ) {
            continue;
        }
        let own: Vec<u16> = match (&m.decision, &m.existing) {
            (Decision::Recreate, Some(c)) if c.running => c.ports.iter().map(|p| p.host).collect(),
            _ => Vec::new(),
        };
        // UDP ports and ports the engine picks are not checked (the engine reports a clash).
        for p in m.spec.ports.iter().filter(|p| p.host != 0 && !p.udp) {
            if own.contains(&p.host) {
                continue;
            }
            let Ok(ip) = p.ip.parse() else { continue };
            if let Err(e) = try_bind(ip, p.host) {
                let who = holder(host, p.host)
                    .map(|h| format!(" by {} (pid {})", h.command, h.pid))
                    .unwrap_or_default();
                let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                    format!("held{who}")
                } else {
                    e.to_string()
                };
                problems.push((m.name.to_string(), p.host, p.container, why));
            }
        }
    }
    let Some((name, host_port, container, _)) = problems.first().cloned() else {
        return Ok(());
    };
    let list: Vec<String> = problems
        .iter()
        .map(|(n, h, _, why)| format!("port {h} for {n} is {why}"))
        .collect();
    let other = u32::from(host_port) + 10000;
    let other = if other > 65535 {
        u32::from(host_port) - 1
    } else {
        other
    };
    Err(Error::NotReady {
        message: format!("{}; nothing was created", list.join("; ")),
        help: format!(
            "stop what holds it (`docker ps --filter publish={host_port}` shows a container), or pick another host port in onramp.toml: [services.{name}] ports = [\"{other}:{container}\"]"
        ),
    })
}

/// Two services started together cannot publish the same fixed host port (a Compose file may
/// have such services, to be started a few at a time).
fn shared_ports(managed: &[Managed<'_>]) -> Result<()> {
    let mut seen: Vec<(&str, u16, bool, &str)> = Vec::new();
    for m in managed {
        for p in m.spec.ports.iter().filter(|p| p.host != 0) {
            let clash = seen.iter().find(|(ip, port, udp, _)| {
                *port == p.host
                    && *udp == p.udp
                    && (*ip == p.ip || *ip == "0.0.0.0" || p.ip == "0.0.0.0")
            });
            if let Some((_, port, _, other)) = clash {
                return Err(Error::NotReady {
                    message: format!(
                        "`{other}` and `{}` both publish host port {port}, so they cannot run together; nothing was created",
                        m.name
                    ),
                    help: format!(
                        "start one of them: `onramp up` with the names of the services you need (e.g. `onramp up {other}`)"
                    ),
                });
            }
            seen.push((p.ip.as_str(), p.host, p.udp, m.name));
        }
    }
    Ok(())
}

/// Build the images of services with `build` that are not there yet, from a tar archive of
/// their context (inside the project).
async fn build_missing<E: Engine + Sync>(
    engine: &E,
    managed: &[Managed<'_>],
    dir: &Path,
    ui: &Ui,
) -> Result<()> {
    for m in managed {
        let Some(b) = &m.svc.build else { continue };
        if matches!(m.decision, Decision::Keep | Decision::Adopt { .. })
            || engine
                .image_exists(&m.spec.image)
                .await
                .map_err(engine_err)?
        {
            continue;
        }
        let context_tar = super::context::archive(dir, &b.context, b.dockerfile.as_deref())?;
        let spec = BuildSpec {
            tag: m.spec.image.clone(),
            context_tar,
            dockerfile: b.dockerfile.clone(),
            args: b.args.clone().unwrap_or_default(),
            target: b.target.clone(),
        };
        let line = ui.build(&m.spec.image);
        let started = crate::host::now();
        let mut on = |e: PullEvent| {
            if let PullEvent::Status(s) = e {
                line.message(&s);
            }
        };
        match engine.build(&spec, &mut on).await {
            Ok(()) => line.finish(
                true,
                &format!("built in {:.1} s", started.elapsed().as_secs_f64()),
            ),
            Err(e) => {
                let msg = format!("cannot build {} for {}: {e}", m.spec.image, m.name);
                line.finish(false, &msg);
                return Err(Error::NotReady {
                    message: format!("{msg}; nothing was created"),
                    help: format!(
                        "fix the Dockerfile in {} (`docker build {}` shows the same), then run `onramp up` again",
                        b.context, b.context
                    ),
                });
            }
        }
    }
    Ok(())
}

fn transient(e: &EngineError) -> bool {
    let t = e.to_string().to_ascii_lowercase();
    let permanent = [
        "not found",
        "manifest unknown",
        "unauthorized",
        "denied",
        "invalid reference",
    ];
    !permanent.iter().any(|p| t.contains(p))
}

async fn pull_missing<E: Engine + Sync>(
    host: &Host,
    engine: &E,
    managed: &[Managed<'_>],
    dir: &Path,
    ui: &Ui,
) -> Result<()> {
    let mut images: Vec<&str> = Vec::new();
    // Built images are never pulled; containers kept or adopted as they are need no image.
    let needs_pull = |m: &&Managed<'_>| {
        m.svc.build.is_none() && !matches!(m.decision, Decision::Keep | Decision::Adopt { .. })
    };
    for m in managed.iter().filter(needs_pull) {
        let img = m.spec.image.as_str();
        if !images.contains(&img) && !engine.image_exists(img).await.map_err(engine_err)? {
            images.push(img);
        }
    }
    // Before the first pull: will the registries' limits last this run?
    for w in crate::netdiag::budget::warnings(host, dir, &images).await {
        ui.warn(&w);
    }
    let pulls = images.iter().map(|image| async move {
        let line = ui.pull(image);
        let started = crate::host::now();
        let mut result = Ok(());
        for attempt in 0..PULL_TRIES {
            let mut on = |e: PullEvent| match e {
                PullEvent::Bytes { current, total } => line.bytes(current, total),
                PullEvent::Status(s) => line.message(&s),
            };
            result = engine.pull(image, &mut on).await;
            match &result {
                Err(e) if transient(e) && attempt + 1 < PULL_TRIES => {
                    line.message(&format!("retrying after: {e}"));
                    tokio::time::sleep(std::time::Duration::from_millis(500 << attempt)).await;
                }
                _ => break,
            }
        }
        match &result {
            Ok(()) => line.finish(
                true,
                &format!("pulled in {:.1} s", started.elapsed().as_secs_f64()),
            ),
            Err(e) => line.finish(false, &pull::pull_error(image, e)),
        }
        result.map_err(|e| (*image, e))
    });
    let failures: Vec<(&str, EngineError)> = join_all(pulls)
        .await
        .into_iter()
        .filter_map(|r| r.err())
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    let failures: Vec<(&str, &EngineError)> = failures.iter().map(|(i, e)| (*i, e)).collect();
    let (message, help) = pull::failed_pulls(&failures);
    Err(Error::NotReady {
        message: format!("{message}; nothing was created"),
        help,
    })
}

/// Bring one container to its spec; returns its id, what was done, and when it was started.
/// A container this call created but could not start is removed at once.
/// `network_mode: service:X` as Compose v2 hashes it: `container:<id of X's container>`
/// (resolved before it computes the hash), once X's container exists.
async fn shared_network_resolved<E: Engine + Sync>(
    engine: &E,
    project: &str,
    mut service: ServiceSpec,
) -> Result<ServiceSpec> {
    let Some(x) = service
        .network_mode
        .as_deref()
        .and_then(|m| m.strip_prefix("service:"))
    else {
        return Ok(service);
    };
    let mut found = existing(engine, project, x).await.map_err(engine_err)?;
    found.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(c) = found.first() {
        service.network_mode = Some(format!("container:{}", c.id));
    }
    Ok(service)
}

async fn converge<E: Engine + Sync>(
    engine: &E,
    m: &Managed<'_>,
) -> Result<(String, StackAction, Instant)> {
    let since = crate::host::now();
    let create = || async {
        // The image's id, as Compose v2 labels its containers (it recreates on a mismatch).
        let mut spec = m.spec.clone();
        // `network_mode: service:X` whose X was made in this run: hashed with X's id now.
        if m.service
            .network_mode
            .as_deref()
            .is_some_and(|n| n.starts_with("service:"))
        {
            let project = spec.labels.get(LABEL_PROJECT).cloned().unwrap_or_default();
            let resolved = shared_network_resolved(engine, &project, m.service.clone()).await?;
            let hash = resolved.config_hash();
            spec.labels.insert(LABEL_HASH.to_string(), hash.clone());
            spec.labels.insert(LABEL_COMPOSE_HASH.to_string(), hash);
        }
        if let Some(id) = engine.image_id(&spec.image).await.map_err(engine_err)? {
            spec.labels.insert(LABEL_IMAGE.to_string(), id);
        }
        let id = engine.create(&spec).await.map_err(engine_err)?;
        if let Err(e) = engine.start(&id).await {
            let _ = engine.remove(&id).await;
            return Err(start_err(m, e));
        }
        Ok::<_, Error>(id)
    };
    let existing_id = m.existing.as_ref().map(|c| c.id.clone());
    let (id, action) = match (&m.decision, existing_id) {
        (Decision::Keep, Some(id)) => (id, StackAction::Unchanged),
        (Decision::Adopt { running: true }, Some(id)) => (id, StackAction::Adopted),
        (Decision::Start | Decision::Adopt { running: false }, Some(id)) => {
            engine.start(&id).await.map_err(|e| start_err(m, e))?;
            (id, StackAction::Started)
        }
        (Decision::Recreate, Some(id)) => {
            engine.remove(&id).await.map_err(engine_err)?;
            (create().await?, StackAction::Recreated)
        }
        _ => (create().await?, StackAction::Created),
    };
    Ok((id, action, since))
}

fn start_err(m: &Managed<'_>, e: EngineError) -> Error {
    Error::NotReady {
        message: format!("cannot start {}: {e}", m.spec.name),
        help:
            "`docker logs` on the container shows more; fix the profile and run `onramp up` again"
                .into(),
    }
}

async fn wait_one<E: Engine + Sync>(
    name: &str,
    svc: &Service,
    container: Option<(&E, &str)>,
    action: StackAction,
    since: Instant,
    ui: &Ui,
) -> ServiceReport {
    let mut report = ServiceReport {
        name: name.to_string(),
        state: if container.is_some() {
            State::Ready
        } else {
            State::External
        },
        ready_ms: None,
        host_ports: svc.ports().iter().map(|p| p.host).collect(),
        error: None,
        logs: None,
        remedy: None,
        container: container.map(|(_, c)| c.chars().take(12).collect()),
        action: action.clone(),
    };
    let Some(target) = probe::target(svc) else {
        ui.note(&format!(
            "  {name}: no probe configured; started without a readiness check"
        ));
        return report;
    };
    let line = ui.service(name);
    line.message("waiting");
    let mut on_wait = |why: &str| line.message(&format!("waiting: {why}"));
    match ready::wait(container, &target, svc.timeout(), since, &mut on_wait).await {
        Readiness::Ready(d) => {
            report.ready_ms = Some(d.as_millis() as u64);
            let what = if container.is_some() {
                "ready"
            } else {
                "external, answering"
            };
            line.finish(
                true,
                &format!("{what} in {:.2} s ({action})", d.as_secs_f64()),
            );
        }
        Readiness::Failed { mut error, logs } => {
            report.state = if container.is_some() {
                State::Failed
            } else {
                State::External
            };
            if let Some(d) = logs.as_deref().and_then(|l| diagnose::from_logs(name, l)) {
                error = format!("{error}: {}", d.problem);
                report.remedy = Some(d.remedy);
            }
            line.finish(false, &error);
            if let Some(remedy) = &report.remedy {
                ui.note(&format!("  help: {remedy}"));
            }
            if let Some(l) = &logs {
                ui.note(&format!(
                    "  last {} log lines of {name}:\n{}",
                    ready::LOG_TAIL,
                    indent(l)
                ));
            }
            report.error = Some(error);
            report.logs = logs;
        }
        Readiness::Timeout { last_error } => {
            report.state = if container.is_some() {
                State::Timeout
            } else {
                State::External
            };
            let msg = format!(
                "not ready after {} s; last probe error: {last_error}",
                svc.timeout().as_secs()
            );
            line.finish(false, &msg);
            report.error = Some(msg);
        }
    }
    report
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::api::ContainerInfo;
    use crate::printer::Printer;
    use crate::stack::LABEL_PROJECT;
    use crate::stack::fake::Fake;

    fn free_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    /// Two services without probes (so nothing is dialled), on free ports.
    fn profile(redis_env: &str) -> Profile {
        let text = format!(
            "[services.db]\nimage = \"reg/pg:15\"\nports = [\"{}:5432\"]\nvolumes = [\"db_data:/var/lib/postgresql/data\"]\n\
             [services.cache]\nimage = \"reg/redis:7\"\nports = [\"{}:6379\"]\nenv = {{ MARK = \"{redis_env}\" }}\n",
            free_port(),
            free_port()
        );
        toml::from_str(&text).unwrap()
    }

    async fn run(engine: &Fake, p: &Profile) -> (Result<Vec<ServiceReport>>, Created) {
        run_in(engine, p, Path::new("/p"), &[]).await
    }

    async fn run_in(
        engine: &Fake,
        p: &Profile,
        dir: &Path,
        only: &[String],
    ) -> (Result<Vec<ServiceReport>>, Created) {
        let ui = Ui::new(&Printer::silent());
        let mut created = Created::default();
        let host = Host::from_process();
        let origin = Origin::new("proj", dir, None);
        let r = up(engine, &host, &origin, p, only, &ui, &mut created).await;
        (r, created)
    }

    #[tokio::test]
    async fn a_failed_start_leaves_nothing_behind() {
        let engine = Fake::default();
        engine
            .state
            .lock()
            .unwrap()
            .fail_start
            .push("reg/redis:7".into());
        let (r, created) = run(&engine, &profile("a")).await;
        let err = r.unwrap_err().to_string();
        assert!(err.contains("port is already allocated"), "{err}");
        assert!(err.contains("removed what this run had created"), "{err}");
        assert!(created.is_empty());
        let s = engine.state.lock().unwrap();
        assert!(
            s.containers.is_empty(),
            "no Created leftovers: {:?}",
            s.containers
        );
        assert!(s.networks.is_empty() && s.volumes.is_empty());
    }

    #[tokio::test]
    async fn a_compose_made_container_that_matches_is_adopted_not_duplicated() {
        let engine = Fake::default();
        let p = profile("a");
        let (r, _) = run(&engine, &p).await;
        r.unwrap();
        // Make the containers look as Compose v1 made them: its names, no onramp hash.
        {
            let mut s = engine.state.lock().unwrap();
            for c in s.containers.values_mut() {
                c.labels.remove(crate::stack::LABEL_HASH);
                c.labels
                    .insert(crate::stack::LABEL_COMPOSE_HASH.into(), "v1".into());
                c.name = c.name.replace("proj-", "proj_").replace("-1", "_1");
            }
        }
        let (r, created) = run(&engine, &p).await;
        let reports = r.unwrap();
        assert!(
            reports.iter().all(|r| r.action == StackAction::Adopted),
            "{reports:?}"
        );
        assert!(created.is_empty());
        assert_eq!(engine.state.lock().unwrap().containers.len(), 2);
    }

    #[tokio::test]
    async fn a_port_held_by_a_container_onramp_does_not_manage_is_reported() {
        let engine = Fake::default();
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        engine.state.lock().unwrap().containers.insert(
            "z".into(),
            ContainerInfo {
                id: "z".into(),
                name: "proj_other_1".into(),
                running: true,
                labels: BTreeMap::from([
                    (LABEL_PROJECT.to_string(), "proj".to_string()),
                    (crate::stack::LABEL_SERVICE.to_string(), "other".to_string()),
                ]),
                ports: vec![crate::engine::api::Published {
                    ip: "0.0.0.0".into(),
                    host: port,
                    container: 5432,
                    udp: false,
                }],
                ..ContainerInfo::default()
            },
        );
        let mut p = profile("a");
        p.services.get_mut("db").unwrap().ports = Some(vec![format!("{port}:5432")]);
        let (r, created) = run(&engine, &p).await;
        let err = r.unwrap_err().to_string();
        assert!(err.contains(&format!("port {port} for db")), "{err}");
        assert!(created.is_empty());
        assert_eq!(engine.state.lock().unwrap().containers.len(), 1);
    }

    #[tokio::test]
    async fn a_dependant_waits_for_its_dependency_and_is_not_started_when_it_fails() {
        let engine = Fake::default();
        let closed = free_port();
        let text = format!(
            "[services.db]\nimage = \"reg/pg:15\"\nports = [\"{closed}:5432\"]\nprobe = {{ kind = \"tcp\" }}\ntimeout = \"300ms\"\n\
             [services.app]\nimage = \"reg/app:1\"\ndepends_on = {{ db = {{ condition = \"service_healthy\" }} }}\n\
             [services.unrelated]\nimage = \"reg/x:1\"\n"
        );
        let p: Profile = toml::from_str(&text).unwrap();
        let (r, _) = run_in(&engine, &p, Path::new("/p"), &["app".into()]).await;
        let reports = r.unwrap();
        let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["app", "db"],
            "app and what it depends on, nothing else"
        );
        let app = &reports[0];
        assert_eq!(app.state, State::Failed);
        assert!(app.error.as_deref().unwrap().contains("db"), "{app:?}");
        let s = engine.state.lock().unwrap();
        assert_eq!(s.containers.len(), 1, "only db was created");
    }

    #[tokio::test]
    async fn services_that_share_a_host_port_are_not_started_together() {
        let engine = Fake::default();
        let port = free_port();
        let text = format!(
            "[services.a]\nimage = \"reg/a:1\"\nports = [\"{port}:1\"]\n[services.b]\nimage = \"reg/b:1\"\nports = [\"{port}:2\"]\n[services.c]\nimage = \"reg/c:1\"\nports = [\"{port}:3/udp\"]\n"
        );
        let p: Profile = toml::from_str(&text).unwrap();
        let (r, created) = run(&engine, &p).await;
        let err = r.unwrap_err().to_string();
        assert!(
            err.contains("`a` and `b` both publish host port")
                && err.contains("nothing was created"),
            "{err}"
        );
        assert!(created.is_empty() && engine.state.lock().unwrap().containers.is_empty());
        let (r, _) = run_in(&engine, &p, Path::new("/p"), &["a".into(), "c".into()]).await;
        assert_eq!(
            r.unwrap().len(),
            2,
            "a tcp and a udp port of one number are apart"
        );
    }

    #[tokio::test]
    async fn a_dependant_with_restart_true_is_restarted_when_its_dependency_is_recreated() {
        let engine = Fake::default();
        let profile = |mark: &str| -> Profile {
            toml::from_str(&format!(
                "[services.db]\nimage = \"reg/pg:15\"\nenv = {{ MARK = \"{mark}\" }}\n\
                 [services.app]\nimage = \"reg/app:1\"\ndepends_on = {{ db = {{ condition = \"service_started\", restart = true }} }}\n\
                 [services.side]\nimage = \"reg/side:1\"\ndepends_on = [\"db\"]\n"
            ))
            .unwrap()
        };
        let (r, _) = run(&engine, &profile("a")).await;
        r.unwrap();
        let (r, _) = run(&engine, &profile("a")).await;
        assert!(
            r.unwrap()
                .iter()
                .all(|r| r.action == StackAction::Unchanged),
            "nothing recreated, nothing restarted"
        );
        let (r, _) = run(&engine, &profile("b")).await;
        let reports = r.unwrap();
        let action = |n: &str| reports.iter().find(|r| r.name == n).unwrap().action.clone();
        assert_eq!(action("db"), StackAction::Recreated);
        assert_eq!(action("app"), StackAction::Restarted);
        assert_eq!(action("side"), StackAction::Unchanged, "no `restart: true`");
        assert_eq!(engine.state.lock().unwrap().restarts.len(), 1);
    }

    #[tokio::test]
    async fn volumes_and_networks_are_created_with_their_driver_opts() {
        let engine = Fake::default();
        let p: Profile = toml::from_str(
            "[services.db]\nimage = \"reg/pg:15\"\nvolumes = [\"data:/d\"]\nnetworks = { back = {} }\n\
             [volumes.data]\ndriver = \"local\"\ndriver_opts = { type = \"tmpfs\", device = \"tmpfs\", o = \"size=1m\" }\n\
             [networks.back]\ndriver_opts = { \"com.docker.network.driver.mtu\" = \"1400\" }\n",
        )
        .unwrap();
        let (r, _) = run(&engine, &p).await;
        r.unwrap();
        let s = engine.state.lock().unwrap();
        assert_eq!(s.driver_opts["proj_data"]["o"], "size=1m");
        assert_eq!(
            s.driver_opts["proj_back"]["com.docker.network.driver.mtu"],
            "1400"
        );
    }

    #[tokio::test]
    async fn images_with_a_build_context_are_built_not_pulled() {
        let engine = Fake::default();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app/Dockerfile"), "FROM scratch\n").unwrap();
        let p: Profile =
            toml::from_str("[services.app]\nimage = \"proj-app\"\nbuild = { context = \"app\" }\n")
                .unwrap();
        let (r, _) = run_in(&engine, &p, dir.path(), &[]).await;
        assert_eq!(r.unwrap()[0].action, StackAction::Created);
        let s = engine.state.lock().unwrap();
        assert_eq!(s.builds, ["proj-app"]);
        assert!(s.pulls.is_empty());
    }

    #[tokio::test]
    async fn up_creates_then_converges_and_recreates_only_what_changed() {
        let engine = Fake::default();
        let p = profile("a");
        let (r, created) = run(&engine, &p).await;
        let reports = r.unwrap();
        assert!(reports.iter().all(|r| r.action == StackAction::Created));
        assert_eq!(created.containers.len(), 2);
        assert_eq!(created.networks, vec!["proj_default".to_string()]);
        assert_eq!(created.volumes, ["proj_db_data"]);
        assert_eq!(
            engine.state.lock().unwrap().pulls.len(),
            2,
            "missing images are pulled"
        );

        let (r, created) = run(&engine, &p).await;
        assert!(
            r.unwrap()
                .iter()
                .all(|r| r.action == StackAction::Unchanged)
        );
        assert!(created.is_empty());
        assert_eq!(
            engine.state.lock().unwrap().pulls.len(),
            2,
            "present images are not pulled again"
        );

        let mut changed = profile("b");
        changed.services.get_mut("db").unwrap().ports = p.services["db"].ports.clone();
        changed.services.get_mut("cache").unwrap().ports = p.services["cache"].ports.clone();
        let (r, _) = run(&engine, &changed).await;
        let reports = r.unwrap();
        let action = |n: &str| reports.iter().find(|r| r.name == n).unwrap().action.clone();
        assert_eq!(action("cache"), StackAction::Recreated);
        assert_eq!(action("db"), StackAction::Unchanged);
        assert_eq!(
            engine.state.lock().unwrap().volumes.len(),
            1,
            "volumes kept"
        );
    }

    #[tokio::test]
    async fn a_foreign_container_is_refused_before_anything_is_created() {
        let engine = Fake::default();
        engine.state.lock().unwrap().containers.insert(
            "x".into(),
            ContainerInfo {
                id: "x".into(),
                name: "proj-db-1".into(),
                ..ContainerInfo::default()
            },
        );
        let (r, created) = run(&engine, &profile("a")).await;
        let err = r.unwrap_err().to_string();
        assert!(
            err.contains("proj-db-1") && err.contains("not created by onramp"),
            "{err}"
        );
        assert!(created.is_empty());
        let s = engine.state.lock().unwrap();
        assert!(s.networks.is_empty() && s.volumes.is_empty() && s.containers.len() == 1);
    }

    #[tokio::test]
    async fn rollback_removes_only_what_this_run_created() {
        let engine = Fake::default();
        let (r, created) = run(&engine, &profile("a")).await;
        r.unwrap();
        let other = BTreeMap::from([(LABEL_PROJECT.to_string(), "someone-else".to_string())]);
        engine
            .state
            .lock()
            .unwrap()
            .volumes
            .insert("theirs".into(), other);
        let removed = created.roll_back(&engine).await;
        assert_eq!(removed.len(), 4, "{removed:?}");
        let s = engine.state.lock().unwrap();
        assert!(s.containers.is_empty() && s.networks.is_empty());
        assert_eq!(s.volumes.keys().collect::<Vec<_>>(), ["theirs"]);
    }
}
