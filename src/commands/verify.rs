//! `onramp verify [--online]`: this workstation against onramp.lock and the profile, each drift
//! with the command that repairs it. Exit 1 when anything drifted.

use serde_json::json;

use super::Verdict;
use crate::errors::Result;
use crate::host::Host;
use crate::printer::{Paint, Printer};
use crate::project::Project;
use crate::verify;

pub async fn run(
    project: &Project,
    online: bool,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let machine = verify::gather::machine(host, project).await;
    let facts = verify::gather::gather(host, project, &machine, online).await?;
    let verdict = verify::judge(&facts);
    if printer.json_mode() {
        printer.json(&json!({
            "ok": verdict.ok,
            "drifts": verdict.drifts,
            "lock": facts.lock.as_ref().map(|_| project.dir.join(crate::lock::FILE).display().to_string()),
            "platform": facts.engine.as_ref().and_then(|e| e.as_ref().ok()).map(|v| v.platform.clone()),
            "checks": &verdict.checks,
        }));
    }
    printer.result(&printer.paint(
        Paint::Bold,
        &format!(
            "onramp verify: profile {}, project {}",
            project.profile.display_name(),
            project.dir.display()
        ),
    ));
    printer.result(&crate::checks::report::render_as(
        printer,
        &verdict.checks,
        "verify",
    ));
    if verdict.ok {
        printer.result(&printer.paint(
            Paint::Pass,
            "verify: this machine matches the lock and the profile",
        ));
    }
    Ok(Verdict::from_ok(verdict.ok))
}
