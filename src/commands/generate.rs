//! `onramp generate`: render the profile's files into the project directory.

use super::Verdict;
use crate::config::GenerateSettings;
use crate::errors::Result;
use crate::generate;
use crate::host::Host;
use crate::printer::Printer;
use crate::project::Project;

pub async fn run(
    project: &Project,
    settings: &GenerateSettings,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    // One run at a time per project; a dry run changes nothing and creates no lock.
    let _lock = if settings.dry_run {
        None
    } else {
        Some(project.lock()?)
    };
    let run = generate::run::run(host, project, settings, printer).await?;
    if printer.json_mode() {
        printer.json(&run.report);
    }
    Ok(Verdict::Ready)
}
