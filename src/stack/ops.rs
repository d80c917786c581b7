//! What commands do with a project's stack: bring it up (or only probe its external services),
//! read its status, take it down, roll back a failed run, and the reports of each.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::up::{Created, ServiceReport, has_managed, probe_externals, up};
use super::{LABEL_HASH, LABEL_ONRAMP, LABEL_PROJECT, container_name, ready};
use crate::engine::api::{ContainerInfo, Engine, EngineError};
use crate::engine::{self, Connected};
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::outcome::{ServiceState, StackAction};
use crate::printer::Printer;
use crate::probe;
use crate::profile::Service;
use crate::progress::Ui;
use crate::project::Project;

/// Bring the services up; `created` collects what this run made. A profile with nothing to
/// start needs no engine: its external services are only probed.
pub async fn start(
    host: &Host,
    project: &Project,
    printer: &Printer,
    created: &mut Created,
) -> Result<(Option<Connected>, Vec<ServiceReport>)> {
    let ui = Ui::new(printer);
    if !has_managed(&project.profile) {
        return Ok((None, probe_externals(&project.profile, &ui).await));
    }
    let engine = engine::connect_or_remedy(host).await?;
    let reports = up(
        &engine.api,
        host,
        &project.name,
        &project.profile,
        &project.dir,
        &ui,
        created,
    )
    .await?;
    Ok((Some(engine), reports))
}

/// The engine, when the profile has services onramp manages (and so needs one).
pub async fn engine_if_needed(host: &Host, project: &Project) -> Result<Option<Connected>> {
    if has_managed(&project.profile) {
        Ok(Some(engine::connect_or_remedy(host).await?))
    } else {
        Ok(None)
    }
}

/// Each service's state: its container as the engine reports it, and a probe when it runs.
pub async fn status<E: Engine + Sync>(engine: Option<&E>, project: &Project) -> Vec<ServiceReport> {
    let mut reports = Vec::new();
    for (name, svc) in project.profile.services() {
        let container = match (engine, &svc.image) {
            (Some(e), Some(_)) => e
                .inspect(&container_name(&project.name, name))
                .await
                .ok()
                .flatten(),
            _ => None,
        };
        let running = container.as_ref().is_some_and(|c| c.running);
        let probed = match probe::target(svc) {
            Some(t) if running || svc.image.is_none() => Some(ready::once(&t).await),
            _ => None,
        };
        reports.push(status_of(name, svc, container.as_ref(), probed));
    }
    reports
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

/// Remove the project's containers, network and (when asked) volumes that carry our labels.
pub async fn down<E: Engine + Sync>(engine: &E, project: &str, volumes: bool) -> Result<Removed> {
    let err = |e: EngineError| Error::NotReady {
        message: format!("the Docker engine refused: {e}"),
        help: format!(
            "run `onramp down` again; `docker ps -a --filter label={LABEL_PROJECT}={project}` lists what is left"
        ),
    };
    let mut removed = Removed::default();
    for c in engine
        .list(&[(LABEL_PROJECT, project), (LABEL_HASH, "")])
        .await
        .map_err(err)?
    {
        engine.remove(&c.id).await.map_err(err)?;
        removed.containers.push(c.name);
    }
    let ours = [(LABEL_PROJECT, project), (LABEL_ONRAMP, "1")];
    for n in engine.networks(&ours).await.map_err(err)? {
        engine.remove_network(&n).await.map_err(err)?;
        removed.networks.push(n);
    }
    if volumes {
        for v in engine.volumes(&ours).await.map_err(err)? {
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
