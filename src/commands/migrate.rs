//! `onramp migrate wsl`: on Windows, move this project into a WSL2 distro and set it up there
//! (the library's `wsl::migrate` plans; the installer's executor applies, with consent, and
//! logs each step under `.onramp/logs/`; a state file lets a second run resume).

use serde_json::json;

use super::Verdict;
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::install::migrate::{self, Progress, Target};
use crate::install::{self, Done, Plan, State};
use crate::machine::{Depth, Machine};
use crate::platform::Kind;
use crate::printer::{Paint, Printer};
use crate::profile::Choice;
use crate::project::Project;

pub async fn run(
    project: &Project,
    choice: &Choice,
    dry_run: bool,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let machine = Machine::gather(host, &project.dir, None, Depth::Checks).await;
    if machine.platform.kind != Kind::Windows {
        return Err(Error::Usage(format!(
            "`onramp migrate wsl` moves a project from Windows into WSL2, and this is {}; here, run `onramp setup` in the project",
            machine.platform.kind.as_str()
        )));
    }
    let mut wsl = machine.facts.wsl.clone();
    let mut target = target(project, choice, host)?;
    if let Some(d) = wsl
        .windows_dir
        .clone()
        .filter(|_| host.sysroot_overridden())
    {
        target.windows_dir = d;
    }
    if host.sysroot_overridden() {
        wsl.distro = Some(target.distro.clone());
    } else {
        wsl = crate::wsl::facts::live(
            host,
            Kind::Windows,
            &project.dir,
            Some(&target.distro),
            true,
        )
        .await;
        if wsl.target().is_some_and(|d| d.version == 2) {
            wsl.distro_has_project =
                crate::wsl::facts::has_project(host, &target.distro, &target.name).await;
        }
    }
    let root = crate::fsx::Root::new(&project.dir);
    let progress = read_progress(&root, &target.distro);
    let wants = crate::checks::wants(&project.profile, &project.dir, false);
    let guard = crate::install::guard::migrate_steps(&crate::install::guard::Input {
        kind: Kind::Windows,
        wsl: &wsl,
        desktop: &machine.facts.desktop,
        sudo: false,
        home: None,
        dir: &wants.dir,
        ports: &wants.ports,
        memory: (wants.memory_min_gib, wants.memory_gib),
    });
    let plan = migrate::plan(&wsl, &target, &progress, guard);
    printer.result(&printer.paint(
        Paint::Bold,
        &format!(
            "onramp migrate wsl: {} into {}, as ~/{}",
            project.dir.display(),
            target.distro,
            target.name
        ),
    ));
    printer.result(&crate::doctor::render(printer, &plan));
    if dry_run || host.sysroot_overridden() {
        printer.result(if dry_run {
            "dry run: nothing was changed"
        } else {
            "ONRAMP_SYSROOT is set: the plan is for that system and is shown, not applied"
        });
        emit(printer, &plan, &target, true, &[], true);
        return Ok(Verdict::Ready);
    }
    // One run at a time; a dry run writes nothing, not even the lock.
    let _lock = project.lock()?;
    if !printer.confirm("Apply this plan?") {
        printer.result("nothing was changed (declined)");
        emit(printer, &plan, &target, false, &[], false);
        return Ok(Verdict::NotReady);
    }
    if plan.todo().any(|s| s.id == "onramp") {
        root.write(migrate::INSTALLER, migrate::INSTALL_SH.as_bytes(), 0o644)?;
    }
    let applying = up_to_first_manual(&plan);
    let line = |l: &str| printer.info(&format!("  … {l}"));
    let applied = install::apply(host, &applying, &project.dir, &line).await;
    let progress = record(&root, progress, &target.distro, &applied, host.unix_time());
    let ok = applied
        .iter()
        .any(|a| a.id == "setup" && a.done == Done::Changed);
    report(printer, &applied, &plan, ok, &progress);
    emit(printer, &plan, &target, false, &applied, ok);
    Ok(Verdict::from_ok(ok))
}

/// The distro, the VM's size and the names, from the profile and the project.
fn target(project: &Project, choice: &Choice, host: &Host) -> Result<Target> {
    let p = &project.profile;
    let m = p.migrate.clone().unwrap_or_default();
    let r = &p.requirements;
    let pick = |t: Option<crate::profile::Threshold>| t.and_then(|t| t.recommended.or(t.min));
    let memory = m.memory_gib.or(pick(r.memory_gib)).unwrap_or(8.0).ceil() as u64;
    let processors = m
        .processors
        .map(u64::from)
        .or(pick(r.cpus).map(|c| c.ceil() as u64));
    let dir = crate::host::plain_path(&project.dir);
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = folder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_start_matches(['.', '-']).to_string();
    if !crate::escape::is_name(&name) {
        return Err(Error::Usage(format!(
            "the project folder {} has no name usable in the distro's home",
            dir.display()
        )));
    }
    Ok(Target {
        distro: m
            .distro
            .unwrap_or_else(|| migrate::DEFAULT_DISTRO.to_string()),
        memory_gib: memory.max(1),
        processors,
        windows_dir: dir.display().to_string(),
        name,
        profile: match choice {
            Choice::Named(n) if crate::profile::embedded_names().iter().any(|e| e == n) => {
                Some(n.clone())
            }
            _ => None,
        },
        version: env!("CARGO_PKG_VERSION").to_string(),
        install_base: host.env("ONRAMP_INSTALL_BASE").map(str::to_string),
    })
}

/// The plan's steps up to and including the first one only a person can do: what follows
/// needs it (a distro without its user cannot take the rest).
fn up_to_first_manual(plan: &Plan) -> Plan {
    let mut p = plan.clone();
    if let Some(i) = p.steps.iter().position(|s| s.state == State::Manual) {
        p.steps.truncate(i + 1);
    }
    p
}

fn read_progress(root: &crate::fsx::Root, distro: &str) -> Progress {
    root.read_text(migrate::STATE)
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str::<Progress>(&t).ok())
        .filter(|p| p.distro == distro)
        .unwrap_or_default()
}

/// Write what this run found done or did, for the next run.
fn record(
    root: &crate::fsx::Root,
    before: Progress,
    distro: &str,
    applied: &[install::Applied],
    now: u64,
) -> Progress {
    let ok = |id: &str| {
        applied
            .iter()
            .any(|a| a.id == id && matches!(a.done, Done::Satisfied | Done::Changed))
    };
    let changed = |id: &str| {
        applied
            .iter()
            .any(|a| a.id == id && a.done == Done::Changed)
    };
    let restart_pending = if ok(crate::install::guard::RESTART) {
        false
    } else {
        before.restart_pending || changed("wslconfig") || changed("distro-systemd")
    };
    let p = Progress {
        distro: distro.to_string(),
        done: applied
            .iter()
            .filter(|a| matches!(a.done, Done::Satisfied | Done::Changed))
            .map(|a| a.id.clone())
            .collect(),
        restart_pending,
        at: now,
    };
    if let Ok(text) = serde_json::to_string_pretty(&p) {
        let _ = root.write(migrate::STATE, text.as_bytes(), 0o644);
    }
    p
}

fn report(
    printer: &Printer,
    applied: &[install::Applied],
    plan: &Plan,
    ok: bool,
    progress: &Progress,
) {
    for a in applied.iter().filter(|a| a.done != Done::Satisfied) {
        let (mark, word) = match a.done {
            Done::Changed => (printer.paint(Paint::Pass, "✓"), "done"),
            Done::Failed => (printer.paint(Paint::Fail, "✗"), "failed"),
            Done::Manual => (printer.paint(Paint::Warn, "!"), "left to you"),
            _ => (printer.paint(Paint::Dim, "-"), "skipped"),
        };
        let mut line = format!("  {mark} {} {word}", a.id);
        if let Some(e) = &a.error {
            line.push_str(&format!(": {e}"));
        }
        printer.result(&line);
    }
    if ok {
        for n in &plan.notes {
            printer.result(&format!("  {n}"));
        }
    } else {
        printer.result(&format!(
            "migration not finished ({} step(s) done; state in {}): run `onramp migrate wsl` again to continue",
            progress.done.len(),
            migrate::STATE
        ));
    }
}

fn emit(
    printer: &Printer,
    plan: &Plan,
    target: &Target,
    dry_run: bool,
    applied: &[install::Applied],
    ok: bool,
) {
    if printer.json_mode() {
        printer.json(&json!({
            "ok": ok,
            "dry_run": dry_run,
            "distro": target.distro,
            "name": target.name,
            "plan": plan,
            "applied": applied,
        }));
    }
}
