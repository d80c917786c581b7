//! `onramp status`: each service's state, ports, readiness and container.

use super::Verdict;
use crate::errors::Result;
use crate::host::Host;
use crate::printer::{Paint, Printer};
use crate::profile::Backend;
use crate::project::Project;
use crate::stack::up::ServiceReport;
use crate::stack::{native, ops};

pub async fn run(project: &Project, host: &Host, printer: &Printer) -> Result<Verdict> {
    let engine = ops::engine_if_needed(host, project).await?;
    let reports = match project.backend {
        Backend::Native => native::status(host, project).await,
        Backend::Docker => ops::status(engine.as_ref().map(|e| &e.api), project).await,
    };
    let ok = reports.iter().all(ServiceReport::ok);
    if printer.json_mode() {
        printer.json(&ops::report_json(ok, engine.as_ref(), &reports));
    }
    let at = engine
        .as_ref()
        .map(|e| format!("engine {} ({})", e.endpoint.endpoint, e.info.version))
        .unwrap_or_else(|| match project.backend {
            Backend::Native => "native processes (no engine)".into(),
            Backend::Docker => "external services only".into(),
        });
    printer.result(&format!("project {}, {at}", project.name));
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
        if let Some(remedy) = &r.remedy {
            printer.result(&format!("  help: {remedy}"));
        }
    }
    Ok(Verdict::from_ok(ok))
}
