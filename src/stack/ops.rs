//! What commands do with a project's stack: bring it up (or only probe its external services),
//! read its status, take it down, roll back a failed run, and the reports of each.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::up::{Created, ServiceReport, has_managed, probe_externals, up};
use super::{LABEL_HASH, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE, existing, ready, select};
use crate::engine::Connected;
use crate::engine::api::{ContainerInfo, Engine, EngineError};
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::machine::{self, Machine};
use crate::outcome::{ServiceState, StackAction};
use crate::printer::Printer;
use crate::probe;
use crate::profile::{Backend, Service};
use crate::progress::Ui;
use crate::project::Project;

/// Bring the services up; `created` collects what this run made. A profile with nothing to
/// start needs no engine: its external services are only probed. `machine` is this run's
/// snapshot when one was taken (its engine answer is used, not asked again).
pub async fn start(
    host: &Host,
    project: &Project,
    printer: &Printer,
    created: &mut Created,
    machine: Option<&Machine>,
) -> Result<(Option<Connected>, Vec<ServiceReport>)> {
    let ui = Ui::new(printer);
    for note in &project.notes {
        printer.info(note);
    }
    if project.backend == Backend::Native {
        return Ok((None, super::native::start(host, project, &ui).await?));
    }
    let selected = select(&project.profile, &project.only)?;
    if !has_managed(&project.profile, &selected) {
        return Ok((
            None,
            probe_externals(&project.profile, &selected, &ui).await,
        ));
    }
    // With a lock, every locked image is pulled and run by its digest.
    let (profile, stale) = crate::lock::pinned_profile(&project.dir, &project.profile)?;
    if let Some(note) = stale {
        printer.warn(&note);
    }
    if let Some(b) = crate::profile::ensure_ca_bundle(host, &project.dir, &project.profile)?
        && b.written
    {
        printer.info(&format!(
            "wrote {} ({} certificates), the Java trust store and wget's startup file beside it, for the services of [network] ca_into",
            crate::profile::CA_BUNDLE_REL,
            b.certs
        ));
    }
    let engine = machine::connect_or_remedy(host, &project.dir, machine).await?;
    let reports = up(
        &engine.api,
        host,
        &project.origin(),
        &profile,
        &project.only,
        &ui,
        created,
    )
    .await?;
    refresh_env(&engine.api, host, project, printer, &selected).await;
    Ok((Some(engine), reports))
}

/// When a started service publishes a port the engine picks, `.env` (if onramp wrote it) is
/// rewritten with the port the engine bound.
async fn refresh_env<E: Engine + Sync>(
    engine: &E,
    host: &Host,
    project: &Project,
    printer: &Printer,
    selected: &[String],
) {
    let mut bound = project.profile.clone();
    let mut any = false;
    for (name, svc) in bound.services.iter_mut() {
        if !selected.contains(name) || !svc.ports().iter().any(|p| p.host == 0) {
            continue;
        }
        let found = existing(engine, &project.name, name)
            .await
            .unwrap_or_default();
        if let Some(c) = found.iter().find(|c| c.running) {
            *svc = super::with_bound_ports(svc, c);
            any = true;
        }
    }
    if !any {
        return;
    }
    match crate::generate::run::refresh_env(host, project, &bound) {
        Ok(files) if !files.is_empty() => printer.info(&format!(
            "{} now name the host ports the engine picked",
            files.join(", ")
        )),
        Ok(_) => {}
        Err(e) => printer.warn(&format!(
            "could not write the picked host ports to .env: {e}"
        )),
    }
}

/// The engine, when the profile has services onramp manages (and so needs one).
pub async fn engine_if_needed(host: &Host, project: &Project) -> Result<Option<Connected>> {
    if project.backend == Backend::Native {
        return Ok(None);
    }
    let selected = select(&project.profile, &project.only)?;
    if has_managed(&project.profile, &selected) {
        Ok(Some(
            machine::connect_or_remedy(host, &project.dir, None).await?,
        ))
    } else {
        Ok(None)
    }
}

/// Each service's state (of the services named, or all): its container as the engine reports
/// it, whoever made it (onramp, or Compose with either naming), and a probe when it runs.
pub async fn status<E: Engine + Sync>(engine: Option<&E>, project: &Project) -> Vec<ServiceReport> {
    let mut reports = Vec::new();
    let only = &project.only;
    for (name, svc) in project.profile.services() {
        if !only.is_empty() && !only.contains(name) {
            continue;
        }
        let container = match (engine, &svc.image) {
            (Some(e), Some(_)) => existing(e, &project.name, name)
                .await
                .ok()
                .and_then(|found| {
                    let running = found.iter().find(|c| c.running).cloned();
                    running.or_else(|| found.into_iter().next())
                }),
            _ => None,
        };
        let running = container.as_ref().is_some_and(|c| c.running);
        let bound = match &container {
            Some(c) if running => super::with_bound_ports(svc, c),
            _ => svc.clone(),
        };
        let svc = &bound;
        let probed = match probe::target(svc) {
            Some(t) if running || svc.image.is_none() => Some(ready::once(&t).await),
            _ => None,
        };
        let mut report = status_of(name, svc, container.as_ref(), probed);
        if let (Some(e), Some(c)) = (engine, &container)
            && !c.running
        {
            diagnose_stopped(e, name, c, &mut report).await;
        }
        reports.push(report);
    }
    reports
}

/// A stopped container whose log shows a known cause gets it as its error, with the remedy.
async fn diagnose_stopped<E: Engine + Sync>(
    engine: &E,
    name: &str,
    c: &ContainerInfo,
    r: &mut ServiceReport,
) {
    let logs = engine
        .logs_tail(&c.id, ready::LOG_TAIL)
        .await
        .unwrap_or_default();
    if let Some(d) = super::diagnose::from_logs(name, &logs) {
        r.state = ServiceState::Failed;
        r.error = Some(format!(
            "the container exited with code {}: {}",
            c.exit_code, d.problem
        ));
        r.remedy = Some(d.remedy);
    }
}

/// One service's status, decided from what was found: its container (if any) and the probe's
/// answer (when there was one to ask).
pub fn status_of(
    name: &str,
    svc: &Service,
    container: Option<&ContainerInfo>,
    probed: Option<std::result::Result<Duration, probe::ProbeError>>,
) -> ServiceReport {
    let external = svc.image.is_none();
    let running = container.is_some_and(|c| c.running);
    let mut r = ServiceReport {
        name: name.to_string(),
        state: ServiceState::Stopped,
        ready_ms: None,
        host_ports: svc.ports().iter().map(|p| p.host).collect(),
        error: None,
        logs: None,
        remedy: None,
        container: container.map(|c| c.id.chars().take(12).collect()),
        action: container.map_or(StackAction::Absent, |c| StackAction::from_engine(&c.status)),
    };
    if external {
        r.state = ServiceState::External;
        r.action = StackAction::External;
    }
    match probed {
        Some(Ok(d)) => {
            r.ready_ms = Some(d.as_millis() as u64);
            if !external {
                r.state = ServiceState::Ready;
            }
        }
        Some(Err(e)) => {
            if !external {
                r.state = ServiceState::Failed;
            }
            r.error = Some(e.to_string());
        }
        // A running container without a probe is as ready as onramp can tell.
        None if running => r.state = ServiceState::Ready,
        None => {}
    }
    r
}

/// What `down` removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Removed {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

/// Remove the project's containers that onramp made or manages (Compose's containers of the
/// profile's services included), then, unless only some services were named, the project's
/// network (onramp's or Compose's; one still in use stays) and, when asked, its volumes.
pub async fn down<E: Engine + Sync>(
    engine: &E,
    project: &Project,
    volumes: bool,
) -> Result<Removed> {
    let name = project.name.as_str();
    let err = |e: EngineError| Error::NotReady {
        message: format!("the Docker engine refused: {e}"),
        help: format!(
            "run `onramp down` again; `docker ps -a --filter label={LABEL_PROJECT}={name}` lists what is left"
        ),
    };
    let only = if project.only.is_empty() {
        Vec::new()
    } else {
        select(&project.profile, &project.only)?;
        project.only.clone()
    };
    let services: Vec<&String> = project.profile.services().map(|(n, _)| n).collect();
    let mut removed = Removed::default();
    for c in engine.list(&[(LABEL_PROJECT, name)]).await.map_err(err)? {
        let service = c.labels.get(LABEL_SERVICE).cloned().unwrap_or_default();
        let managed = c.labels.contains_key(LABEL_HASH)
            || (services.contains(&&service)
                && c.labels.get(LABEL_ONEOFF).map(String::as_str) != Some("True"));
        if !managed || (!only.is_empty() && !only.contains(&service)) {
            continue;
        }
        engine.remove(&c.id).await.map_err(err)?;
        removed.containers.push(c.name);
    }
    if !only.is_empty() {
        return Ok(removed);
    }
    let labelled = [(LABEL_PROJECT, name)];
    for n in engine.networks(&labelled).await.map_err(err)? {
        if engine.remove_network(&n).await.is_ok() {
            removed.networks.push(n);
        }
    }
    if volumes {
        for v in engine.volumes(&labelled).await.map_err(err)? {
            engine.remove_volume(&v).await.map_err(err)?;
            removed.volumes.push(v);
        }
    }
    Ok(removed)
}

/// The `up` / `status` JSON document.
pub fn report_json(
    ok: bool,
    engine: Option<&Connected>,
    reports: &[ServiceReport],
) -> serde_json::Value {
    json!({
        "ok": ok,
        "engine": engine.map(|e| json!({
            "endpoint": e.endpoint.endpoint,
            "source": e.endpoint.source,
            "version": e.info.version,
        })),
        "services": reports,
    })
}

/// One line saying what a rollback removed.
pub fn rollback_line(removed: &[String]) -> String {
    if removed.is_empty() {
        "rolled back: nothing had been created".into()
    } else {
        format!("rolled back: removed {}", removed.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Probe, ProbeKind};

    #[tokio::test]
    async fn down_removes_what_onramp_manages_compose_made_included_and_only_that() {
        use std::collections::BTreeMap;
        let engine = crate::stack::fake::Fake::default();
        let labels = |service: &str, extra: &[(&str, &str)]| {
            let mut l = BTreeMap::from([
                (LABEL_PROJECT.to_string(), "p".to_string()),
                (LABEL_SERVICE.to_string(), service.to_string()),
            ]);
            l.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            l
        };
        for (id, name, l) in [
            ("a", "p-redis-1", labels("redis", &[(LABEL_HASH, "h")])),
            ("b", "p_postgres_1", labels("postgres", &[])),
            ("c", "p_other_1", labels("other", &[])),
            (
                "d",
                "p_postgres_run_1",
                labels("postgres", &[(LABEL_ONEOFF, "True")]),
            ),
        ] {
            engine.state.lock().unwrap().containers.insert(
                id.into(),
                ContainerInfo {
                    id: id.into(),
                    name: name.into(),
                    labels: l,
                    ..ContainerInfo::default()
                },
            );
        }
        let profile: crate::profile::Profile =
            toml::from_str("[services.redis]\nimage='r'\n[services.postgres]\nimage='p'\n")
                .unwrap();
        let mut project = Project::new(std::path::Path::new("/p"), profile, Vec::new());
        project.name = "p".into();
        project.only = vec!["postgres".into()];
        let removed = down(&engine, &project, false).await.unwrap();
        assert_eq!(removed.containers, ["p_postgres_1"]);
        project.only.clear();
        let removed = down(&engine, &project, false).await.unwrap();
        assert_eq!(removed.containers, ["p-redis-1"]);
        let left: Vec<String> = engine
            .state
            .lock()
            .unwrap()
            .containers
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            left,
            ["c", "d"],
            "other services and one-off containers stay"
        );
        project.only = vec!["nope".into()];
        assert!(matches!(
            down(&engine, &project, false).await,
            Err(Error::Usage(_))
        ));
    }

    fn managed() -> Service {
        Service {
            image: Some("redis:7".into()),
            ports: Some(vec!["16379:6379".into()]),
            probe: Some(Probe {
                kind: ProbeKind::Redis,
                port: None,
                path: None,
                status: None,
                user: None,
                password: None,
                database: None,
            }),
            ..Service::default()
        }
    }

    fn container(running: bool, status: &str) -> ContainerInfo {
        ContainerInfo {
            id: "0123456789abcdef".into(),
            running,
            status: status.into(),
            ..ContainerInfo::default()
        }
    }

    #[test]
    fn no_container_is_stopped_and_absent() {
        let r = status_of("redis", &managed(), None, None);
        assert_eq!(
            (r.state, r.action.clone()),
            (ServiceState::Stopped, StackAction::Absent)
        );
        assert!(!r.ok());
        assert_eq!(r.host_ports, [16379]);
    }

    #[test]
    fn a_running_container_is_ready_when_it_answers_and_failed_when_not() {
        let c = container(true, "running");
        let r = status_of(
            "redis",
            &managed(),
            Some(&c),
            Some(Ok(Duration::from_millis(3))),
        );
        assert_eq!((r.state, r.ready_ms), (ServiceState::Ready, Some(3)));
        assert_eq!(r.container.as_deref(), Some("0123456789ab"));
        let r = status_of(
            "redis",
            &managed(),
            Some(&c),
            Some(Err(probe::ProbeError::Fatal("NOAUTH".into()))),
        );
        assert_eq!(r.state, ServiceState::Failed);
        assert_eq!(r.error.as_deref(), Some("NOAUTH"));
    }

    #[test]
    fn a_running_container_without_a_probe_is_ready_and_an_exited_one_stopped() {
        let mut svc = managed();
        svc.probe = None;
        let r = status_of("x", &svc, Some(&container(true, "running")), None);
        assert_eq!(r.state, ServiceState::Ready);
        let r = status_of("x", &svc, Some(&container(false, "exited")), None);
        assert_eq!(
            (r.state, r.action),
            (ServiceState::Stopped, StackAction::Exited)
        );
    }

    #[test]
    fn an_external_service_is_external_and_fails_only_with_an_error() {
        let svc = Service {
            address: Some("127.0.0.1:6379".into()),
            ..managed()
        };
        let svc = Service { image: None, ..svc };
        let r = status_of("ext", &svc, None, Some(Ok(Duration::from_millis(1))));
        assert_eq!(
            (r.state, r.action.clone()),
            (ServiceState::External, StackAction::External)
        );
        assert!(r.ok());
        let r = status_of(
            "ext",
            &svc,
            None,
            Some(Err(probe::ProbeError::NotYet("refused".into()))),
        );
        assert_eq!(r.state, ServiceState::External);
        assert!(!r.ok());
    }

    #[test]
    fn rollback_lines() {
        assert_eq!(rollback_line(&[]), "rolled back: nothing had been created");
        assert_eq!(
            rollback_line(&["network p_default".into()]),
            "rolled back: removed network p_default"
        );
    }
}
