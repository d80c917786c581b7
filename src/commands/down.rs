//! `onramp down [--volumes]`: remove what onramp created for this project, and only that.

use serde_json::json;

use super::Verdict;
use crate::config::DownSettings;

use crate::errors::Result;
use crate::host::Host;
use crate::printer::Printer;
use crate::profile::Backend;
use crate::project::Project;
use crate::stack::{native, ops};

pub async fn run(
    project: &Project,
    settings: &DownSettings,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let _lock = project.lock()?;
    if project.backend == Backend::Native {
        let removed = native::down(host, project, settings.volumes).await?;
        if printer.json_mode() {
            printer.json(&json!({"ok": true, "project": project.name, "removed": removed}));
        }
        printer.result(&format!(
            "stopped {} process(es), removed {} data director(ies) of project {}{}",
            removed.containers.len(),
            removed.volumes.len(),
            project.name,
            if settings.volumes {
                ""
            } else {
                "; data kept in .onramp/data (--volumes removes it)"
            }
        ));
        return Ok(Verdict::Ready);
    }
    let engine = crate::machine::connect_or_remedy(host, &project.dir, None).await?;
    let removed = ops::down(&engine.api, project, settings.volumes).await?;
    if printer.json_mode() {
        printer.json(&json!({"ok": true, "project": project.name, "removed": removed}));
    }
    printer.result(&format!(
        "removed {} container(s), {} network(s), {} volume(s) of project {}{}",
        removed.containers.len(),
        removed.networks.len(),
        removed.volumes.len(),
        project.name,
        if settings.volumes {
            ""
        } else {
            "; volumes kept (--volumes removes them)"
        }
    ));
    Ok(Verdict::Ready)
}
