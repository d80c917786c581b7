//! `onramp up`: ensure images, start services, wait until each answers its protocol.

use super::Verdict;
use crate::config::UpSettings;

use crate::errors::Result;
use crate::host::Host;
use crate::printer::Printer;
use crate::project::Project;
use crate::stack::ops;
use crate::stack::up::{Created, ServiceReport};

pub async fn run(
    project: &Project,
    settings: &UpSettings,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let _lock = project.lock()?;
    let mut created = Created::default();
    let (engine, reports) = match ops::start(host, project, printer, &mut created, None).await {
        Ok(done) => done,
        Err(e) => {
            if settings.rollback_on_fail && !created.is_empty() {
                let engine = crate::machine::connect_or_remedy(host, &project.dir, None).await?;
                printer.result(&ops::rollback_line(&created.roll_back(&engine.api).await));
            }
            return Err(e);
        }
    };
    let ok = reports.iter().all(ServiceReport::ok);
    if !ok
        && settings.rollback_on_fail
        && let Some(e) = &engine
    {
        printer.result(&ops::rollback_line(&created.roll_back(&e.api).await));
    }
    if printer.json_mode() {
        printer.json(&ops::report_json(ok, engine.as_ref(), &reports));
    }
    Ok(Verdict::from_ok(ok))
}
