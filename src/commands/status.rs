//! `onramp status`: each service's state, ports, readiness and container.

use super::Verdict;
use crate::config::Config;
use crate::errors::Result;
use crate::generate::context::project_name;
use crate::host::Host;
use crate::printer::{Paint, Printer};
use crate::probe;
use crate::stack::ready;
use crate::stack::up::{ServiceReport, State, has_managed};
use crate::stack::{existing, select};

pub async fn run(
    config: &Config,
    host: &Host,
    printer: &Printer,
    only: &[String],
) -> Result<Verdict> {
    let profile = config.load(host, only)?.profile;
    let selected = select(&profile, only)?;
    let engine = if has_managed(&profile, &selected) {
        Some(super::up::connect(host).await?)
    } else {
        None
    };
    let project = project_name(&profile, &config.dir);
    let mut reports = Vec::new();
    for (name, svc) in profile.services().filter(|(n, _)| selected.contains(n)) {
        // The service's container, whoever made it (onramp, or Compose v1 or v2 naming).
        let container = match (&engine, &svc.image) {
            (Some(e), Some(_)) => existing(&e.api, &project, name)
                .await
                .ok()
                .and_then(|found| {
                    let running = found.iter().find(|c| c.running).cloned();
                    running.or_else(|| found.into_iter().next())
                }),
            _ => None,
        };
        let mut r = ServiceReport {
            name: name.clone(),
            state: State::Stopped,
            ready_ms: None,
            host_ports: svc.ports().iter().map(|p| p.host).collect(),
            error: None,
            logs: None,
            container: container.as_ref().map(|c| c.id.chars().take(12).collect()),
            action: container
                .as_ref()
                .map_or("absent".to_string(), |c| c.status.clone()),
        };
        let running = container.as_ref().is_some_and(|c| c.running);
        if svc.image.is_none() {
            r.state = State::External;
            r.action = "external".into();
        }
        if (running || svc.image.is_none())
            && let Some(t) = probe::target(svc)
        {
            match ready::once(&t).await {
                Ok(d) => {
                    r.ready_ms = Some(d.as_millis() as u64);
                    if svc.image.is_some() {
                        r.state = State::Ready;
                    }
                }
                Err(e) => {
                    if svc.image.is_some() {
                        r.state = State::Failed;
                    }
                    r.error = Some(e.to_string());
                }
            }
        } else if running {
            r.state = State::Ready;
        }
        reports.push(r);
    }
    let ok = reports.iter().all(ServiceReport::ok);
    if config.json {
        printer.json(&super::up::report_json(ok, engine.as_ref(), &reports));
    }
    let at = engine
        .as_ref()
        .map(|e| format!("engine {} ({})", e.endpoint.endpoint, e.info.version))
        .unwrap_or_else(|| "external services only".into());
    printer.result(&format!("project {project}, {at}"));
    for r in &reports {
        let mark = if r.ok() {
            printer.paint(Paint::Pass, "✓")
        } else {
            printer.paint(Paint::Fail, "✗")
        };
        let state = serde_json::to_value(r.state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let ports: Vec<String> = r.host_ports.iter().map(u16::to_string).collect();
        printer.result(&format!(
            "{mark} {:10} {:8} ports {:12} {} {}",
            r.name,
            state,
            ports.join(","),
            r.container.as_deref().unwrap_or("-"),
            r.error.as_deref().unwrap_or("")
        ));
    }
    Ok(Verdict::from_ok(ok))
}
