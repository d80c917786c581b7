//! `onramp lock [--check]`: write `onramp.lock`, or check that it still matches the profile.

use serde_json::json;

use super::Verdict;
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::lock::{self, FILE, Lock};
use crate::printer::{Paint, Printer};
use crate::project::Project;

pub async fn run(
    project: &Project,
    check: bool,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    if check {
        return check_only(project, printer);
    }
    let _lock = project.lock()?;
    let made = lock::make::make(host, project).await?;
    lock::write(&project.dir, &made.lock)?;
    for note in &made.notes {
        printer.warn(note);
    }
    let path = project.dir.join(FILE);
    if printer.json_mode() {
        printer.json(&json!({
            "ok": true,
            "path": path.display().to_string(),
            "lock": &made.lock,
            "notes": &made.notes,
        }));
    }
    printer.result(&summary(&made.lock));
    printer.result(&format!(
        "{} wrote {}: commit it; `onramp verify` checks a machine against it",
        printer.paint(Paint::Pass, "✓"),
        path.display()
    ));
    Ok(Verdict::Ready)
}

/// `lock --check`: exit 1 with the fix when the lock is missing or stale.
fn check_only(project: &Project, printer: &Printer) -> Result<Verdict> {
    let path = project.dir.join(FILE);
    let Some(lock) = lock::read(&project.dir)? else {
        return Err(Error::NotReady {
            message: format!("{} does not exist", path.display()),
            help: "run `onramp lock` and commit onramp.lock".into(),
        });
    };
    if let Some(why) = lock::stale(&lock, &project.profile) {
        if printer.json_mode() {
            printer.json(&json!({"ok": false, "path": path.display().to_string(), "stale": &why}));
        }
        return Err(Error::NotReady {
            message: format!("{} is stale: {why}", path.display()),
            help: "run `onramp lock` and commit onramp.lock".into(),
        });
    }
    if printer.json_mode() {
        printer.json(&json!({"ok": true, "path": path.display().to_string(), "stale": null}));
    }
    printer.result(&format!(
        "{} {} matches the profile",
        printer.paint(Paint::Pass, "✓"),
        path.display()
    ));
    Ok(Verdict::Ready)
}

/// What the lock holds, one line per part.
fn summary(lock: &Lock) -> String {
    let mut lines = vec![format!(
        "engine: at least {} (API {}){}",
        lock.engine.minimum,
        lock.engine.minimum_api,
        lock.engine
            .locked_with
            .as_ref()
            .map(|w| format!("; locked with {w}"))
            .unwrap_or_default()
    )];
    for i in &lock.images {
        lines.push(format!(
            "image {} = {} [{}]",
            i.reference,
            i.digest,
            i.platforms.join(", ")
        ));
    }
    if let Some(py) = &lock.python {
        lines.push(format!(
            "python {}, {} package(s)",
            py.version,
            lock.packages.len()
        ));
    }
    lines.join("\n")
}
