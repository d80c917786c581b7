//! `up`: check ports, pull what is missing, converge containers, then wait for every service
//! to answer its own protocol, all in parallel.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use futures_util::future::join_all;
use serde::Serialize;

use super::ready::{self, Readiness};
use super::{Decision, LABEL_PROJECT, decide, network_name, object_labels, spec, volumes};
use crate::engine::api::{ContainerSpec, Engine, EngineError, PullEvent};
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::outcome::{ServiceState as State, StackAction};
use crate::ports::{holder, try_bind};
use crate::probe;
use crate::profile::{Profile, Service};
use crate::progress::Ui;

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
    pub network: Option<String>,
    pub volumes: Vec<String>,
}

impl Created {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.network.is_none() && self.volumes.is_empty()
    }

    /// Remove it all again; returns what was removed, in words.
    pub async fn roll_back<E: Engine + Sync>(&self, engine: &E) -> Vec<String> {
        let mut done = Vec::new();
        for c in &self.containers {
            if engine.remove(c).await.is_ok() {
                done.push(format!("container {}", &c[..c.len().min(12)]));
            }
        }
        if let Some(n) = &self.network
            && engine.remove_network(n).await.is_ok()
        {
            done.push(format!("network {n}"));
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
    spec: ContainerSpec,
    decision: Decision,
    existing_id: Option<String>,
}

pub async fn up<E: Engine + Sync>(
    engine: &E,
    host: &Host,
    project: &str,
    profile: &Profile,
    dir: &Path,
    ui: &Ui,
    created: &mut Created,
) -> Result<Vec<ServiceReport>> {
    let mut managed = Vec::new();
    for (name, svc) in profile.services() {
        let Some(spec) = spec(project, name, svc, dir) else {
            continue;
        };
        let existing = engine.inspect(&spec.name).await.map_err(engine_err)?;
        let decision = decide(existing.as_ref(), &spec, project);
        if let Decision::Refuse(why) = &decision {
            return Err(Error::NotReady {
                message: format!("{why}; onramp will not touch it"),
                help: format!(
                    "if it holds nothing you need, remove it with `docker rm -f {}`; or set `project = \"another-name\"` in onramp.toml",
                    spec.name
                ),
            });
        }
        managed.push(Managed {
            name,
            svc,
            spec,
            decision,
            existing_id: existing.map(|c| c.id),
        });
    }
    check_ports(engine, host, project, &managed).await?;
    pull_missing(engine, &managed, ui).await?;
    if !managed.is_empty() {
        let net_labels = object_labels(project, ("com.docker.compose.network", "default"));
        if engine
            .ensure_network(&network_name(project), &net_labels)
            .await
            .map_err(engine_err)?
        {
            created.network = Some(network_name(project));
        }
    }
    for (short, full) in volumes(project, profile) {
        let labels = object_labels(project, ("com.docker.compose.volume", &short));
        if engine
            .ensure_volume(&full, &labels)
            .await
            .map_err(engine_err)?
        {
            created.volumes.push(full);
        }
    }
    let converged = join_all(managed.iter().map(|m| converge(engine, m))).await;
    let mut ids = Vec::new();
    for r in converged {
        let (id, action, since) = r?;
        if action.made_by_this_run() {
            created.containers.push(id.clone());
        }
        ids.push((id, action, since));
    }
    let waits = managed.iter().zip(&ids).map(|(m, (id, action, since))| {
        wait_one(
            m.name,
            m.svc,
            Some((engine, id.as_str())),
            action.clone(),
            *since,
            ui,
        )
    });
    let now = Instant::now();
    let externals = profile
        .services()
        .filter(|(_, s)| s.image.is_none())
        .map(|(name, svc)| wait_one::<E>(name, svc, None, StackAction::External, now, ui));
    let (mut reports, ext) = tokio::join!(join_all(waits), join_all(externals));
    reports.extend(ext);
    Ok(reports)
}

/// Probe only the external services: a profile with nothing to start needs no engine.
pub async fn probe_externals(profile: &Profile, ui: &Ui) -> Vec<ServiceReport> {
    let now = Instant::now();
    let waits = profile
        .services()
        .filter(|(_, s)| s.image.is_none())
        .map(|(name, svc)| {
            wait_one::<crate::engine::api::Bollard>(name, svc, None, StackAction::External, now, ui)
        });
    join_all(waits).await
}

/// Whether the profile has services onramp starts (and so needs an engine).
pub fn has_managed(profile: &Profile) -> bool {
    profile.services().any(|(_, s)| s.image.is_some())
}

fn engine_err(e: EngineError) -> Error {
    Error::NotReady {
        message: format!("the Docker engine refused: {e}"),
        help: "check the engine (`docker info`) and run `onramp up` again".into(),
    }
}

/// Every host port a new or restarted container will publish must be free now; ports our own
/// running containers already publish are fine.
async fn check_ports<E: Engine + Sync>(
    engine: &E,
    host: &Host,
    project: &str,
    managed: &[Managed<'_>],
) -> Result<()> {
    let ours: BTreeSet<u16> = engine
        .list(&[(LABEL_PROJECT, project)])
        .await
        .map_err(engine_err)?
        .iter()
        .filter(|c| c.running)
        .flat_map(|c| c.ports.iter().map(|p| p.host))
        .collect();
    let mut problems = Vec::new();
    for m in managed {
        if m.decision == Decision::Keep {
            continue;
        }
        for p in &m.spec.ports {
            if ours.contains(&p.host) {
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
            "stop what holds it, or pick another host port in onramp.toml: [services.{name}] ports = [\"{other}:{container}\"]"
        ),
    })
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

fn pull_error(image: &str, e: &EngineError) -> String {
    let t = e.to_string();
    let lower = t.to_ascii_lowercase();
    let registry = crate::engine::api::registry_of(image);
    if lower.contains("connection refused")
        || lower.contains("no such host")
        || lower.contains("i/o timeout")
    {
        format!("cannot pull {image}: the registry {registry} is unreachable ({t})")
    } else if lower.contains("manifest unknown") || lower.contains("not found") {
        format!("cannot pull {image}: no such image or tag in {registry} ({t})")
    } else {
        format!("cannot pull {image}: {t}")
    }
}

async fn pull_missing<E: Engine + Sync>(
    engine: &E,
    managed: &[Managed<'_>],
    ui: &Ui,
) -> Result<()> {
    let mut images: Vec<&str> = Vec::new();
    for m in managed {
        let img = m.spec.image.as_str();
        if !images.contains(&img) && !engine.image_exists(img).await.map_err(engine_err)? {
            images.push(img);
        }
    }
    let pulls = images.iter().map(|image| async move {
        let line = ui.pull(image);
        let started = Instant::now();
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
            Err(e) => line.finish(false, &pull_error(image, e)),
        }
        result.map_err(|e| pull_error(image, &e))
    });
    let failures: Vec<String> = join_all(pulls)
        .await
        .into_iter()
        .filter_map(|r| r.err())
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    Err(Error::NotReady {
        message: format!("{}; nothing was created", failures.join("; ")),
        help: "check that the registry is running and reachable (`docker pull IMAGE` shows the same), and the image name and tag in the profile".into(),
    })
}

/// Bring one container to its spec; returns its id, what was done, and when it was started.
async fn converge<E: Engine + Sync>(
    engine: &E,
    m: &Managed<'_>,
) -> Result<(String, StackAction, Instant)> {
    let since = Instant::now();
    let create = || async {
        let id = engine.create(&m.spec).await.map_err(engine_err)?;
        engine.start(&id).await.map_err(|e| start_err(m, e))?;
        Ok::<_, Error>(id)
    };
    let (id, action) = match (&m.decision, &m.existing_id) {
        (Decision::Keep, Some(id)) => (id.clone(), StackAction::Unchanged),
        (Decision::Start, Some(id)) => {
            engine.start(id).await.map_err(|e| start_err(m, e))?;
            (id.clone(), StackAction::Started)
        }
        (Decision::Recreate, Some(id)) => {
            engine.remove(id).await.map_err(engine_err)?;
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
        Readiness::Failed { error, logs } => {
            report.state = if container.is_some() {
                State::Failed
            } else {
                State::External
            };
            line.finish(false, &error);
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
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::api::ContainerInfo;
    use crate::printer::Printer;
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
        let ui = Ui::new(&Printer::silent());
        let mut created = Created::default();
        let host = Host::from_process();
        let r = up(engine, &host, "proj", p, Path::new("/p"), &ui, &mut created).await;
        (r, created)
    }

    #[tokio::test]
    async fn up_creates_then_converges_and_recreates_only_what_changed() {
        let engine = Fake::default();
        let p = profile("a");
        let (r, created) = run(&engine, &p).await;
        let reports = r.unwrap();
        assert!(reports.iter().all(|r| r.action == StackAction::Created));
        assert_eq!(created.containers.len(), 2);
        assert_eq!(created.network.as_deref(), Some("proj_default"));
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
