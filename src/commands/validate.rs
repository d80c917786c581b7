//! `onramp validate`: probe every service and validate the SDK through the fallback ladder.

use serde_json::json;

use super::Verdict;
use crate::config::ValidateSettings;
use crate::engine;
use crate::errors::Result;
use crate::host::Host;
use crate::printer::Printer;
use crate::project::Project;
use crate::validation;

pub async fn run(
    project: &Project,
    settings: &ValidateSettings,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let engine = engine::connect_ready(host).await.ok();
    let (services, report) =
        validation::validate(project, settings, host, printer, engine.as_ref(), None).await;
    let ok = validation::all_ok(&services, &report);
    if printer.json_mode() {
        printer.json(&json!({"ok": ok, "services": services, "sdk": report}));
    }
    Ok(Verdict::from_ok(ok))
}
