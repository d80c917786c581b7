//! `onramp reset [SERVICE...]`: remove those services with their volumes, after consent, then
//! `up`. Deleting data needs a person's yes: the prompt on a terminal, or `--yes` given on the
//! command line; a missing terminal alone is no consent here.

use serde_json::json;

use super::Verdict;
use crate::config::{Output, ResetSettings};
use crate::errors::Result;
use crate::host::Host;
use crate::printer::Printer;
use crate::profile::Backend;
use crate::project::Project;
use crate::stack::reset;
use crate::stack::up::ServiceReport;
use crate::stack::{native, ops};

pub async fn run(
    project: &Project,
    settings: &ResetSettings,
    output: Output,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let _lock = project.lock()?;
    if project.backend == Backend::Native {
        return native_reset(project, settings, output, host, printer).await;
    }
    let prepared = reset::prepare(host, project, &settings.services).await?;
    for line in reset::describe(&prepared.selection, &prepared.plan, settings.dry_run) {
        printer.result(&line);
    }
    if settings.dry_run {
        if printer.json_mode() {
            printer.json(&json!({"ok": true, "dry_run": true, "plan": prepared.plan}));
        }
        return Ok(Verdict::Ready);
    }
    reset::consent(
        output.yes_given,
        printer,
        &prepared.plan,
        &settings.services,
    )?;
    let done = reset::rebuild(host, project, &prepared, printer).await?;
    let ok = done.reports.iter().all(ServiceReport::ok);
    if printer.json_mode() {
        let mut doc = ops::report_json(ok, done.engine.as_ref(), &done.reports);
        doc["removed"] = json!(done.removed);
        printer.json(&doc);
    }
    Ok(Verdict::from_ok(ok))
}

/// The same reset on the native backend: the services' processes and data directories go,
/// after the same consent, then `up`.
async fn native_reset(
    project: &Project,
    settings: &ResetSettings,
    output: Output,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let selection = reset::select(&project.name, &project.profile, &settings.services)?;
    let plan = native::reset_plan(host, project, &selection.services);
    for line in reset::describe(&selection, &plan, settings.dry_run) {
        printer.result(&line);
    }
    if settings.dry_run {
        if printer.json_mode() {
            printer.json(&json!({"ok": true, "dry_run": true, "plan": plan}));
        }
        return Ok(Verdict::Ready);
    }
    reset::consent(output.yes_given, printer, &plan, &settings.services)?;
    let removed = native::remove(host, project, &selection.services).await?;
    if !removed.is_empty() {
        printer.result(&format!("removed {}", removed.join(", ")));
    }
    let mut created = crate::stack::up::Created::default();
    let (_, reports) = ops::start(host, project, printer, &mut created, None).await?;
    let ok = reports.iter().all(ServiceReport::ok);
    if printer.json_mode() {
        let mut doc = ops::report_json(ok, None, &reports);
        doc["removed"] = json!(removed);
        printer.json(&doc);
    }
    Ok(Verdict::from_ok(ok))
}
