//! One generate run: render every file of the profile, plan what happens to each, write them
//! (unless a dry run) and say what happened; `generate` and `setup` both run it.

use serde_json::json;

use super::{Action, Planned, context, shim};
use crate::config::GenerateSettings;
use crate::errors::Result;
use crate::host::Host;
use crate::printer::{Paint, Printer};
use crate::project::Project;

/// What one generate run did, with enough to undo it.
pub struct Run {
    pub report: serde_json::Value,
    pub plans: Vec<Planned>,
    pub manifest_before: Option<String>,
}

/// Render, plan and (unless a dry run) write every file, and say what happened to each.
pub async fn run(
    host: &Host,
    project: &Project,
    settings: &GenerateSettings,
    printer: &Printer,
) -> Result<Run> {
    let (dir, profile) = (project.dir.as_path(), &project.profile);
    let packages = profile.sdk.packages.clone().unwrap_or_default();
    let wants_shim = profile
        .files
        .iter()
        .any(|f| f.template == "windows_patch.py");
    let scan = if wants_shim {
        shim::scan_installed(host, dir, &packages).await
    } else {
        shim::Scan::default()
    };
    // With a lock, the compose file names each locked image by its digest, as `up` runs it.
    let (pinned, _) = crate::lock::pinned_profile(dir, profile)?;
    let ctx = context::build(&pinned, dir, &scan);
    let manifest = super::load_manifest(dir)?;
    let manifest_before = super::manifest_text(dir);
    let mut plans = Vec::new();
    for spec in &profile.files {
        let content = super::render(dir, &spec.template, &ctx)?;
        plans.push(super::plan_file(
            dir,
            &manifest,
            spec,
            content,
            settings.force,
        )?);
    }
    if !settings.dry_run {
        let mut manifest = manifest;
        super::apply(host, dir, &plans, &mut manifest)?;
    }
    report_ca_bundle(host, project, settings.dry_run, printer)?;
    if wants_shim {
        report_shim(printer, &scan, &ctx);
    }
    for p in &plans {
        report_file(printer, p, settings.dry_run);
    }
    if plans.iter().all(|p| p.action == Action::Unchanged) {
        printer.info("nothing changed: every file is up to date");
    } else if settings.dry_run {
        printer.info("dry run: nothing was written");
    }
    let report = json!({
        "ok": true,
        "dry_run": settings.dry_run,
        "project": ctx.project,
        "files": plans.iter().map(|p| json!({"path": p.rel, "action": &p.action})).collect::<Vec<_>>(),
        "services": config_hashes(project),
        "shim": {
            "sdk": scan.sdk,
            "files_scanned": scan.files,
            "names": ctx.found,
            "non_standard": ctx.extra_constants.iter().chain(&ctx.extra_functions).collect::<Vec<_>>(),
            "all_covered": true,
            "note": scan.note,
        },
    });
    Ok(Run {
        report,
        plans,
        manifest_before,
    })
}

/// The services of `[network] ca_into` mount the CA bundle: it is written with the compose file
/// that names it, so `docker compose up` finds a file there (not a directory it would make).
fn report_ca_bundle(
    host: &Host,
    project: &Project,
    dry_run: bool,
    printer: &Printer,
) -> Result<()> {
    let rel = crate::profile::CA_BUNDLE_REL;
    if project.profile.network.ca_into.is_none() {
        return Ok(());
    }
    if dry_run {
        printer.info(&format!(
            "would write {rel} (the OS roots and the company root), the same as a Java trust store and wget's startup file beside it, each if it is missing or out of date"
        ));
        return Ok(());
    }
    if let Some(b) = crate::profile::ensure_ca_bundle(host, &project.dir, &project.profile)?
        && b.written
    {
        printer.info(&format!(
            "wrote {rel} ({} certificates), the Java trust store and wget's startup file beside it, for the services of [network] ca_into",
            b.certs
        ));
    }
    Ok(())
}

/// Rewrite the env files (template `env`) onramp wrote, with `bound`: the profile whose ports
/// carry the host ports the engine picked at `up`. A file onramp did not write, or one edited
/// since, is left alone; returns the files rewritten.
pub fn refresh_env(
    host: &Host,
    project: &Project,
    bound: &crate::profile::Profile,
) -> Result<Vec<String>> {
    let dir = project.dir.as_path();
    let (pinned, _) = crate::lock::pinned_profile(dir, bound)?;
    let ctx = context::build(&pinned, dir, &shim::Scan::default());
    let manifest = super::load_manifest(dir)?;
    let mut plans = Vec::new();
    for spec in project.profile.files.iter().filter(|f| f.template == "env") {
        let content = super::render(dir, &spec.template, &ctx)?;
        let plan = super::plan_file(dir, &manifest, spec, content, false)?;
        if plan.action == Action::Update {
            plans.push(plan);
        }
    }
    let mut manifest = manifest;
    super::apply(host, dir, &plans, &mut manifest)?;
    Ok(plans.into_iter().map(|p| p.rel).collect())
}

/// Each managed service with the config hash its containers carry: the one Compose v2
/// computes for the same service (of the generated file, or of the team's Compose file).
fn config_hashes(project: &Project) -> Vec<serde_json::Value> {
    let origin = project.origin();
    project
        .profile
        .services()
        .filter_map(|(name, svc)| crate::spec::ServiceSpec::of(&origin, name, svc))
        .map(|s| json!({"name": s.name, "config_hash": s.config_hash()}))
        .collect()
}

fn report_shim(printer: &Printer, scan: &shim::Scan, ctx: &context::Context) {
    match &scan.sdk {
        Some(sdk) => printer.info(&format!(
            "windows_patch.py: {sdk} uses {} resource name(s) in {} files: {}; all are covered",
            ctx.found.len(),
            scan.files,
            if ctx.found.is_empty() {
                "none".into()
            } else {
                ctx.found.join(", ")
            }
        )),
        None => printer.info(&format!(
            "windows_patch.py: {}; the full Unix resource API is covered",
            scan.note.as_deref().unwrap_or("no SDK scanned")
        )),
    }
}

fn report_file(printer: &Printer, p: &Planned, dry: bool) {
    let would = if dry { "would be " } else { "" };
    let mode = p
        .mode
        .map(|m| format!(" (mode {m:04o})"))
        .unwrap_or_default();
    match &p.action {
        Action::Create => printer.result(&format!(
            "  {} {} {would}created{mode}",
            printer.paint(Paint::Pass, "+"),
            p.rel
        )),
        Action::Unchanged => printer.info(&format!(
            "  {} {} unchanged",
            printer.paint(Paint::Dim, "="),
            p.rel
        )),
        Action::Update => printer.result(&format!(
            "  {} {} {would}updated",
            printer.paint(Paint::Pass, "~"),
            p.rel
        )),
        Action::KeepEdited { new_path } => {
            printer.warn(&format!(
                "{} was changed by you and is kept; the new version {would}written to {new_path}. Review the diff, or run `onramp generate --force` to replace it (a .bak is kept):",
                p.rel
            ));
        }
        Action::Replace { backup } => printer.result(&format!(
            "  {} {} {would}replaced; your version {would}kept as {backup}",
            printer.paint(Paint::Warn, "!"),
            p.rel
        )),
    }
    if let Some(old) = p.loosened {
        printer.warn(&format!(
            "{} holds secrets but was mode {old:04o}; {}set back to 0600",
            p.rel,
            if dry { "it would be " } else { "" }
        ));
    }
    let show_diff = dry || matches!(p.action, Action::KeepEdited { .. });
    if show_diff && let Some(d) = &p.diff {
        // The printer masks every line it prints, the user's own secrets included.
        printer.result(d.trim_end());
    }
}
