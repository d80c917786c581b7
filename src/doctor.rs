//! Doctor as a library step that `doctor` and `setup` share: the machine gathered once, every
//! check over that snapshot, then (`--fix`) the installer's plan for the same snapshot: shown ->
//! consent -> applied -> reported.

use std::sync::Arc;

use serde::Serialize;

use crate::checks::{self, Ctx, Outcome};
use crate::config::InstallSettings;
use crate::host::Host;
use crate::install::{self, Action, Applied, Done, Plan, State, apply};
use crate::machine::{Depth, Machine};
use crate::printer::{Paint, Printer};
use crate::project::Project;
use crate::version::VersionReq;

/// Gather this machine once (as deep as `depth`) and run every check over the snapshot.
pub async fn examine(host: &Host, project: &Project, depth: Depth) -> (Ctx, Vec<Outcome>) {
    let req = project
        .profile
        .requirements
        .python
        .as_deref()
        .and_then(|r| VersionReq::parse(r).ok());
    let machine = Machine::gather(host, &project.dir, req.as_ref(), depth).await;
    let ctx = Ctx::new(
        host.clone(),
        project.profile.clone(),
        project.dir.clone(),
        Arc::new(machine),
    );
    let outcomes = checks::run_all(&ctx).await;
    (ctx, outcomes)
}

/// The plan and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct Fixed {
    pub ok: bool,
    pub dry_run: bool,
    pub plan: Plan,
    pub applied: Vec<Applied>,
    /// Whether anything on the machine was changed.
    pub changed: bool,
}

/// Build the plan for the machine the checks saw and this profile, show it, and (with
/// consent) apply it.
pub async fn fix(
    host: &Host,
    printer: &Printer,
    project: &Project,
    machine: &Machine,
    opts: InstallSettings,
) -> Fixed {
    let (profile, dir) = (&project.profile, project.dir.as_path());
    let mut wants = checks::wants(profile, dir, opts.accept_docker_desktop_license);
    wants.net = checks::network::net_wants(host, profile, dir);
    let plan = machine.plan(&wants);
    printer.result(&render(printer, &plan));
    let mut fixed = Fixed {
        ok: plan.all_satisfied(),
        dry_run: opts.dry_run,
        plan,
        applied: Vec::new(),
        changed: false,
    };
    if let Some(why) = &fixed.plan.refused {
        printer.result(&format!(
            "{} refused: {why}",
            printer.paint(Paint::Fail, "✗")
        ));
        fixed.ok = false;
        return fixed;
    }
    if opts.dry_run || host.sysroot_overridden() {
        // A plan made from the facts under ONRAMP_SYSROOT belongs to that system, not this one.
        printer.result(if opts.dry_run {
            "dry run: nothing was changed"
        } else {
            "ONRAMP_SYSROOT is set: the plan is for that system and is shown, not applied"
        });
        fixed.dry_run = true;
        return fixed;
    }
    let to_change = fixed.plan.todo().any(|s| s.state == State::Todo);
    // One question for the whole plan; `--yes`, `CI` or no terminal answer it.
    if to_change && !printer.confirm("Apply this plan?") {
        printer.result("nothing was changed (declined)");
        fixed.ok = false;
        return fixed;
    }
    let progress = |line: &str| printer.info(&format!("  … {line}"));
    fixed.applied = apply(host, &fixed.plan, dir, &progress).await;
    fixed.changed = fixed.applied.iter().any(|a| !a.ran.is_empty());
    fixed.ok = fixed
        .applied
        .iter()
        .all(|a| matches!(a.done, Done::Satisfied | Done::Changed));
    printer.result(&render_applied(printer, &fixed));
    fixed
}

/// The plan as a person reads it: every command verbatim.
pub fn render(printer: &Printer, plan: &Plan) -> String {
    let todo = plan.todo().count();
    let done = plan.steps.len() - todo;
    let mut where_ = vec![plan.platform.clone()];
    where_.extend(plan.family.clone());
    where_.extend(plan.manager.clone());
    let mut lines = vec![printer.paint(
        Paint::Bold,
        &format!(
            "plan ({}): {todo} step(s) to do, {done} satisfied",
            where_.join(", ")
        ),
    )];
    let width = plan.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    for s in &plan.steps {
        let mark = match s.state {
            State::Satisfied => printer.paint(Paint::Pass, "✓"),
            State::Todo => printer.paint(Paint::Warn, "→"),
            State::Manual => printer.paint(Paint::Warn, "!"),
        };
        lines.push(format!("  {mark} {:width$}  {}", s.id, s.why));
        if s.state == State::Satisfied {
            continue;
        }
        let pad = " ".repeat(width + 6);
        let dim = |t: &str| printer.paint(Paint::Dim, t);
        let check = match &s.check {
            install::Probe::EnginePing { .. } => "the engine answers _ping".to_string(),
            p => apply::describe(p),
        };
        lines.push(format!("{pad}{} {check}", dim("check ")));
        for a in &s.change {
            let text = match a {
                Action::Run { argv, .. } => install::shell_line(argv),
                Action::Detach { argv, log } => install::detach_line(argv, log),
                Action::Restart {
                    pid,
                    argv,
                    set,
                    log,
                    ..
                } => install::restart_line(*pid, argv, set, log),
                Action::Remove { path } => format!("remove {path}"),
                Action::Edit {
                    path,
                    settings,
                    backup,
                } => crate::wsl::ini::edit_line(path, settings, backup),
                Action::Manual { text } => format!("(you) {text}"),
                Action::WriteFile { path, content, .. }
                    if content.starts_with("-----BEGIN CERTIFICATE") =>
                {
                    format!("write {path} (the PEM certificate of the CA file you named)")
                }
                Action::WriteFile { path, content, .. } | Action::ProjectFile { path, content } => {
                    format!("write {path}:\n{}", indent(content, &pad))
                }
                Action::CaBundle { ca_file, path } => format!(
                    "write {path} (the OS trust store's roots and the certificates of {ca_file}), and the same certificates as a Java trust store beside it ({})",
                    crate::netdiag::bundle::STORE
                ),
            };
            lines.push(format!("{pad}{} {text}", dim("change")));
        }
        lines.push(format!(
            "{pad}{} {}",
            dim("verify"),
            apply::describe(&s.verify)
        ));
        if let Some(n) = &s.note {
            lines.push(format!("{pad}{} {n}", dim("note  ")));
        }
    }
    for n in &plan.notes {
        lines.push(format!("  note: {n}"));
    }
    lines.join("\n")
}

/// Every line of a file's text, indented under the plan's columns.
fn indent(text: &str, pad: &str) -> String {
    text.lines()
        .map(|l| format!("{pad}         {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_applied(printer: &Printer, f: &Fixed) -> String {
    let mut lines = Vec::new();
    for a in f.applied.iter().filter(|a| a.done != Done::Satisfied) {
        let (mark, word) = match a.done {
            Done::Satisfied => (printer.paint(Paint::Pass, "✓"), "satisfied"),
            Done::Changed => (printer.paint(Paint::Pass, "✓"), "changed"),
            Done::Failed => (printer.paint(Paint::Fail, "✗"), "failed"),
            Done::Manual => (printer.paint(Paint::Warn, "!"), "left to you"),
            Done::Skipped => (printer.paint(Paint::Dim, "-"), "skipped"),
        };
        let mut line = format!("  {mark} {} {word} ({:.1} s)", a.id, a.ms as f64 / 1000.0);
        if let Some(e) = &a.error {
            line.push_str(&format!(": {e}"));
        }
        lines.push(line);
    }
    let changed = f.applied.iter().filter(|a| a.done == Done::Changed).count();
    let summary = if f.ok && !f.changed {
        "fix: every step satisfied, nothing changed".to_string()
    } else if f.ok {
        format!("fix: {changed} step(s) changed, all verified")
    } else {
        "fix: not finished (see above)".to_string()
    };
    lines.push(summary);
    lines.join("\n")
}
