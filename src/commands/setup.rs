//! `onramp setup` (and bare `onramp`): doctor -> generate -> up -> validate, stopping at the
//! first hard failure with its remedy; with `--rollback-on-fail`, a failure after generate
//! removes what this run created and restores the files it replaced.

use std::sync::Arc;

use serde_json::{Value, json};

use super::Verdict;
use crate::checks::{self, Status};
use crate::config::{GenerateSettings, SetupSettings, ValidateSettings};
use crate::doctor;
use crate::engine::{self, Connected};
use crate::errors::{Error, Result};
use crate::generate;
use crate::host::Host;
use crate::machine::{Depth, Machine};
use crate::printer::{Paint, Printer};
use crate::project::Project;
use crate::rollback;
use crate::stack::ops;
use crate::stack::up::{Created, ServiceReport};
use crate::validation;

pub async fn run(
    project: &Project,
    settings: &SetupSettings,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let state_existed = project.state_dir.exists();
    // A dry run changes nothing, not even the project's state directory.
    let lock = match settings.install.dry_run {
        true => None,
        false => Some(project.lock()?),
    };

    step(printer, 1, "doctor");
    let (fixed, machine) = match doctor_and_fix(host, project, settings, printer).await {
        Ok(done) => done,
        Err(verdict) => return Ok(verdict),
    };

    step(printer, 2, "generate");
    let generated =
        generate::run::run(host, project, &GenerateSettings::default(), printer).await?;

    step(printer, 3, "up");
    if let Some(archive) = &settings.images {
        crate::images::load_for(host, project, archive, printer).await?;
    }
    let mut created = Created::default();
    let (engine, reached) = up_and_validate(host, project, printer, &machine, &mut created).await;
    let stopped = match reached {
        Ok(mut doc) => {
            if printer.json_mode() {
                doc["fix"] = json!(&fixed);
                printer.json(&doc);
            }
            printer.result(&printer.paint(Paint::Pass, "setup: ready"));
            return Ok(Verdict::Ready);
        }
        Err(stopped) => stopped,
    };
    if settings.rollback_on_fail {
        drop(lock);
        let undo = rollback::Undo {
            created: &created,
            generated: Some(&generated),
            state_existed,
        };
        printer.result(&ops::rollback_line(&undo.run(host, project, engine).await));
    }
    Ok(match stopped {
        Stopped::Up(e) => stop_at_up(printer, &e),
        Stopped::Validate(doc) => {
            if printer.json_mode() {
                printer.json(&doc);
            }
            printer.result(&format!(
                "{} setup stopped at validate: see the failures above",
                printer.paint(Paint::Fail, "✗")
            ));
            Verdict::NotReady
        }
    })
}

/// Step 1: doctor, then the installer's plan for what failed (applied with consent), then
/// doctor again when something changed. The machine as last seen goes on to validation.
/// `Err` is the verdict to stop with.
async fn doctor_and_fix(
    host: &Host,
    project: &Project,
    settings: &SetupSettings,
    printer: &Printer,
) -> std::result::Result<(doctor::Fixed, Arc<Machine>), Verdict> {
    let (ctx, mut outcomes) = doctor::examine(host, project, Depth::Plan).await;
    let mut machine = ctx.machine.clone();
    printer.result(&checks::report::render(printer, &outcomes));
    let fixed = doctor::fix(host, printer, project, &ctx.machine, settings.install).await;
    if settings.install.dry_run {
        if printer.json_mode() {
            printer.json(&json!({"ok": fixed.ok, "dry_run": true, "fix": &fixed}));
        }
        return Err(Verdict::from_ok(fixed.ok));
    }
    if fixed.changed {
        // The machine changed: look again.
        let (ctx, again) = doctor::examine(host, project, Depth::Checks).await;
        (machine, outcomes) = (ctx.machine, again);
        printer.result(&checks::report::render(printer, &outcomes));
    }
    if !fixed.ok || outcomes.iter().any(|o| o.status == Status::Fail) {
        let remedy = "fix the failing checks above, then run `onramp setup` again";
        return Err(stop(printer, "doctor", remedy, json!({"fix": &fixed})));
    }
    Ok((fixed, machine))
}

/// Where setup stopped after generate.
enum Stopped {
    /// `up` failed with this error (its help is the remedy).
    Up(Error),
    /// `validate` failed; its report.
    Validate(Value),
}

/// Steps 3 and 4; the engine is returned either way, for a rollback.
async fn up_and_validate(
    host: &Host,
    project: &Project,
    printer: &Printer,
    machine: &Machine,
    created: &mut Created,
) -> (Option<Connected>, std::result::Result<Value, Stopped>) {
    let (engine, reports) = match ops::start(host, project, printer, created, Some(machine)).await {
        Ok(done) => done,
        Err(e) => return (None, Err(Stopped::Up(e))),
    };
    if !reports.iter().all(ServiceReport::ok) {
        let why = reports
            .iter()
            .filter(|s| !s.ok())
            .map(|s| format!("{}: {}", s.name, s.error.as_deref().unwrap_or("failed")))
            .collect::<Vec<_>>()
            .join("; ");
        let e = Error::NotReady {
            message: why,
            help: "`onramp status` shows every service's state".into(),
        };
        return (engine, Err(Stopped::Up(e)));
    }
    let engine = match engine {
        Some(e) => Some(e),
        None => engine::connect_ready(host).await.ok(),
    };
    step(printer, 4, "validate");
    let settings = ValidateSettings::default();
    let (services, sdk) = validation::validate(
        project,
        &settings,
        host,
        printer,
        engine.as_ref(),
        Some(machine),
    )
    .await;
    let ok = validation::all_ok(&services, &sdk);
    let doc =
        json!({"ok": ok, "services": reports, "validate": {"services": services, "sdk": sdk}});
    (
        engine,
        if ok {
            Ok(doc)
        } else {
            Err(Stopped::Validate(doc))
        },
    )
}

/// Setup stopped at `up`: the error, its help, and how to go on.
fn stop_at_up(printer: &Printer, e: &Error) -> Verdict {
    let again = "then run `onramp setup` again";
    let remedy = match e.help() {
        Some(help) => format!("{help}; {again}"),
        None => format!("fix it, {again}"),
    };
    printer.result(&format!(
        "{} setup stopped at up: {e}\n  {} {remedy}",
        printer.paint(Paint::Fail, "✗"),
        printer.paint(Paint::Bold, "help:")
    ));
    if printer.json_mode() {
        printer.json(
            &json!({"ok": false, "stopped_at": "up", "error": e.to_string(), "remedy": remedy}),
        );
    }
    Verdict::NotReady
}

fn step(printer: &Printer, n: u8, name: &str) {
    printer.info(&printer.paint(Paint::Bold, &format!("[{n}/4] {name}")));
}

fn stop(printer: &Printer, at: &str, remedy: &str, detail: Value) -> Verdict {
    printer.result(&format!(
        "{} setup stopped at {at}: {remedy}",
        printer.paint(Paint::Fail, "✗")
    ));
    if printer.json_mode() {
        printer.json(&json!({"ok": false, "stopped_at": at, "remedy": remedy, "detail": detail}));
    }
    Verdict::NotReady
}
