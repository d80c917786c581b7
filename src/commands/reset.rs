//! `onramp reset [SERVICE...]`: remove those services with their volumes, after consent, then
//! `up`. Deleting data needs a person's yes: the prompt on a terminal, or `--yes` given on the
//! command line; a missing terminal alone is no consent here.

use serde_json::json;

use super::Verdict;
use crate::cli::ResetArgs;
use crate::config::Config;
use crate::errors::{Error, Result};
use crate::generate::context::project_name;
use crate::host::Host;
use crate::printer::Printer;
use crate::profile;
use crate::stack::reset;
use crate::stack::up::{Created, ServiceReport};

pub async fn run(
    config: &Config,
    host: &Host,
    printer: &Printer,
    args: &ResetArgs,
) -> Result<Verdict> {
    let profile = profile::load(&config.profile)?.profile;
    let project = project_name(&profile, &config.dir);
    let selection = reset::select(&project, &profile, &args.services)?;
    let lock = super::up::lock(&config.dir)?;
    let engine = super::up::connect(host).await?;
    let plan = reset::plan(&engine.api, &project, &selection).await?;
    describe(printer, &selection, &plan, args.dry_run);
    if args.dry_run {
        if config.json {
            printer.json(&json!({"ok": true, "dry_run": true, "plan": plan}));
        }
        return Ok(Verdict::Ready);
    }
    consent(config, printer, &plan, &args.services)?;
    let removed = reset::apply(&engine.api, &plan).await?;
    if !removed.is_empty() {
        printer.result(&format!("removed {}", removed.join(", ")));
    }
    let mut created = Created::default();
    let (engine, reports) =
        super::up::start(host, &project, &profile, &config.dir, printer, &mut created).await?;
    drop(lock);
    let ok = reports.iter().all(ServiceReport::ok);
    if config.json {
        let mut doc = super::up::report_json(ok, engine.as_ref(), &reports);
        doc["removed"] = json!(removed);
        printer.json(&doc);
    }
    Ok(Verdict::from_ok(ok))
}

fn describe(printer: &Printer, sel: &reset::Selection, plan: &reset::Plan, dry_run: bool) {
    let verb = if dry_run {
        "would remove"
    } else {
        "will remove"
    };
    printer.result(&format!("reset {}:", plan.services.join(", ")));
    for (service, volume) in &sel.sharing {
        printer.result(&format!(
            "  {service} is included: it mounts the volume `{volume}` too"
        ));
    }
    for c in &plan.containers {
        printer.result(&format!("  {verb} container {c}"));
    }
    for v in &plan.volumes {
        printer.result(&format!("  {verb} volume {v} (its data is deleted)"));
    }
    if plan.containers.is_empty() && plan.volumes.is_empty() {
        printer.result("  nothing exists yet; only `up` runs");
    }
    if !dry_run {
        printer.result(&format!("then start {} again", plan.services.join(", ")));
    }
}

/// Deleting volumes needs explicit consent: `--yes` on the command line, or yes at the prompt.
fn consent(config: &Config, printer: &Printer, plan: &reset::Plan, named: &[String]) -> Result<()> {
    if plan.volumes.is_empty() || config.yes_given {
        return Ok(());
    }
    let again = format!("onramp reset --yes {}", named.join(" "));
    let question = format!(
        "Delete the data in {}? It cannot be recovered",
        plan.volumes.join(", ")
    );
    match printer.confirm(&question, false) {
        Some(true) => Ok(()),
        Some(false) => Err(Error::NotReady {
            message: "reset declined; nothing was removed".into(),
            help: "`onramp reset --dry-run` shows what it would delete".into(),
        }),
        None => Err(Error::NotReady {
            message: format!(
                "reset deletes the data in {} and there is no terminal to ask; nothing was removed",
                plan.volumes.join(", ")
            ),
            help: format!("to delete it, say so: `{}`", again.trim_end()),
        }),
    }
}
