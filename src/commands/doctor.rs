//! `onramp doctor`: platform and requirement checks, each with a remedy; with `--fix`, the
//! installer's plan for what failed, applied with consent (the library's `doctor`).

use std::path::Path;

use serde_json::json;

use super::Verdict;
use crate::checks::{self, Status};
use crate::config::DoctorSettings;
use crate::doctor;
use crate::errors::Result;
use crate::host::Host;
use crate::machine::Depth;
use crate::platform::Platform;
use crate::printer::{Paint, Printer};
use crate::project::Project;

pub async fn run(
    project: &Project,
    settings: &DoctorSettings,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let depth = if settings.fix {
        Depth::Plan
    } else {
        Depth::Checks
    };
    let (ctx, mut outcomes) = doctor::examine(host, project, depth).await;
    if !(printer.json_mode() && printer.is_quiet()) {
        let header = header(
            &ctx.machine.platform,
            ctx.profile.display_name(),
            &project.dir,
        );
        printer.result(&printer.paint(Paint::Bold, &header));
        printer.result(&checks::report::render(printer, &outcomes));
    }
    let fixed = if settings.fix {
        let fixed = doctor::fix(host, printer, project, &ctx.machine, settings.install).await;
        if fixed.changed {
            // The machine changed: look again.
            outcomes = doctor::examine(host, project, Depth::Checks).await.1;
            printer.result(&checks::report::render(printer, &outcomes));
        }
        Some(fixed)
    } else {
        None
    };
    let checks_ok = !outcomes.iter().any(|o| o.status == Status::Fail);
    let ok = checks_ok && fixed.as_ref().is_none_or(|f| f.ok);
    if printer.json_mode() {
        let mut doc = json!({
            "ok": ok,
            "profile": ctx.profile.display_name(),
            "platform": &ctx.machine.platform,
            "checks": &outcomes,
        });
        if let Some(f) = &fixed {
            doc["fix"] = json!(f);
        }
        printer.json(&doc);
    }
    Ok(Verdict::from_ok(ok))
}

fn header(p: &Platform, profile: &str, dir: &Path) -> String {
    format!(
        "onramp doctor: profile {profile}, {} {}, project {}",
        p.kind.as_str(),
        p.arch,
        dir.display()
    )
}
