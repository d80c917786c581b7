//! `onramp setup` (and bare `onramp`): doctor (with the installer's fix) -> generate -> up ->
//! validate, stopping at the
//! first hard failure with its remedy; with `--rollback-on-fail`, a failure after generate
//! removes what this run created and restores the files it replaced.

use serde_json::json;

use super::Verdict;
use crate::checks::{self, Ctx, Status};
use crate::cli::{GenerateArgs, SetupArgs, ValidateArgs};
use crate::config::Config;
use crate::engine::Connected;
use crate::errors::Result;
use crate::generate;
use crate::generate::context::project_name;
use crate::host::Host;
use crate::install;
use crate::platform;
use crate::printer::{Paint, Printer};
use crate::profile;
use crate::stack::up::{Created, ServiceReport};

pub async fn run(
    config: &Config,
    host: &Host,
    printer: &Printer,
    args: &SetupArgs,
) -> Result<Verdict> {
    let profile = profile::load(&config.profile)?.profile;
    let state_existed = config.dir.join(generate::STATE_DIR).exists();
    let lock = super::up::lock(&config.dir)?;

    step(printer, 1, "doctor");
    let plat = platform::detect(&platform::collect(host));
    let ctx = Ctx::new(host.clone(), profile.clone(), config.dir.clone(), plat);
    let mut outcomes = checks::run_all(&ctx).await;
    printer.result(&super::doctor::render(printer, &outcomes));
    let opts = install::fix::Options {
        dry_run: args.install.dry_run,
        yes: config.yes,
        accept_docker_desktop_license: args.install.accept_docker_desktop_license,
    };
    let fixed = install::fix::fix(host, printer, &profile, &config.dir, opts).await;
    if opts.dry_run {
        if config.json {
            printer.json(&json!({"ok": fixed.ok, "dry_run": true, "fix": &fixed}));
        }
        return Ok(Verdict::from_ok(fixed.ok));
    }
    if fixed.changed {
        outcomes = checks::run_all(&ctx.again()).await;
        printer.result(&super::doctor::render(printer, &outcomes));
    }
    if !fixed.ok || outcomes.iter().any(|o| o.status == Status::Fail) {
        return stop(
            config,
            printer,
            "doctor",
            "fix the failing checks above, then run `onramp setup` again",
            json!({"fix": &fixed}),
        );
    }

    step(printer, 2, "generate");
    let generated = super::generate::generate(
        host,
        &config.dir,
        &profile,
        &GenerateArgs::default(),
        printer,
    )
    .await?;

    let undo = Undo {
        host,
        config,
        generated: &generated,
        state_existed,
    };

    step(printer, 3, "up");
    let mut created = Created::default();
    let project = project_name(&profile, &config.dir);
    let outcome =
        super::up::start(host, &project, &profile, &config.dir, printer, &mut created).await;
    let (engine, reports) = match outcome {
        Ok((e, r)) if r.iter().all(ServiceReport::ok) => (e, r),
        failed => {
            let why = match &failed {
                Err(e) => e.to_string(),
                Ok((_, r)) => r
                    .iter()
                    .filter(|s| !s.ok())
                    .map(|s| format!("{}: {}", s.name, s.error.as_deref().unwrap_or("failed")))
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            if args.rollback_on_fail {
                let engine = match failed {
                    Ok((Some(e), _)) => Some(e),
                    _ if created.is_empty() => None,
                    _ => super::up::connect(host).await.ok(),
                };
                drop(lock);
                undo.run(printer, engine.as_ref(), &created).await;
            }
            return stop(
                config,
                printer,
                "up",
                &format!("{why}; fix it, then run `onramp setup` again"),
                json!(null),
            );
        }
    };
    let engine = match engine {
        Some(e) => Some(e),
        None => crate::engine::connect_ready(host).await.ok(),
    };

    step(printer, 4, "validate");
    let (services, report) = super::validate::validate(
        config,
        host,
        printer,
        &profile,
        &ValidateArgs::default(),
        engine.as_ref(),
    )
    .await;
    let ok = services.iter().all(|s| s.status == "ok") && report.ok;
    if config.json {
        printer.json(&json!({"ok": ok, "services": reports, "validate": {"services": services, "sdk": report}, "fix": &fixed}));
    }
    if ok {
        printer.result(&printer.paint(Paint::Pass, "setup: ready"));
        Ok(Verdict::Ready)
    } else {
        if args.rollback_on_fail {
            drop(lock);
            undo.run(printer, engine.as_ref(), &created).await;
        }
        printer.result(&format!(
            "{} setup stopped at validate: see the failures above",
            printer.paint(Paint::Fail, "✗")
        ));
        Ok(Verdict::NotReady)
    }
}

/// Everything this run made, to remove again: objects, files, and `.onramp/` if it is new.
struct Undo<'a> {
    host: &'a Host,
    config: &'a Config,
    generated: &'a super::generate::Run,
    state_existed: bool,
}

impl Undo<'_> {
    async fn run(&self, printer: &Printer, engine: Option<&Connected>, created: &Created) {
        let mut undone = match engine {
            Some(e) => created.roll_back(&e.api).await,
            None => Vec::new(),
        };
        undone.extend(generate::roll_back(
            self.host,
            &self.config.dir,
            &self.generated.plans,
            self.generated.manifest_before.as_deref(),
        ));
        if !self.state_existed {
            let _ = std::fs::remove_dir_all(self.config.dir.join(generate::STATE_DIR));
        }
        super::up::report_rollback(printer, &undone);
    }
}

fn step(printer: &Printer, n: u8, name: &str) {
    printer.info(&printer.paint(Paint::Bold, &format!("[{n}/4] {name}")));
}

fn stop(
    config: &Config,
    printer: &Printer,
    at: &str,
    remedy: &str,
    detail: serde_json::Value,
) -> Result<Verdict> {
    printer.result(&format!(
        "{} setup stopped at {at}: {remedy}",
        printer.paint(Paint::Fail, "✗")
    ));
    if config.json {
        printer.json(&json!({"ok": false, "stopped_at": at, "remedy": remedy, "detail": detail}));
    }
    Ok(Verdict::NotReady)
}
