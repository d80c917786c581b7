//! `onramp doctor`: platform and requirement checks, each with a remedy; with `--fix`, the
//! installer's plan for what failed, applied with consent (`install::fix`).

use std::path::Path;

use serde_json::json;

use super::Verdict;
use crate::checks::{self, Ctx, Outcome, Status};
use crate::cli::DoctorArgs;
use crate::config::Config;
use crate::errors::Result;
use crate::host::Host;
use crate::install;
use crate::platform::{self, Platform};
use crate::printer::{Paint, Printer};
use crate::profile;

pub async fn run(
    config: &Config,
    host: &Host,
    printer: &Printer,
    args: &DoctorArgs,
) -> Result<Verdict> {
    let loaded = profile::load(&config.profile)?;
    let platform = platform::detect(&platform::collect(host));
    let ctx = Ctx::new(host.clone(), loaded.profile, config.dir.clone(), platform);
    let mut outcomes = checks::run_all(&ctx).await;
    if !(config.json && config.quiet) {
        let header = header(&ctx.platform, ctx.profile.display_name(), &config.dir);
        printer.result(&printer.paint(Paint::Bold, &header));
        printer.result(&render(printer, &outcomes));
    }
    let fixed = if args.fix || args.install.dry_run {
        let opts = install::fix::Options {
            dry_run: args.install.dry_run,
            yes: config.yes,
            accept_docker_desktop_license: args.install.accept_docker_desktop_license,
        };
        let fixed = install::fix::fix(host, printer, &ctx.profile, &config.dir, opts).await;
        if fixed.changed {
            outcomes = checks::run_all(&ctx.again()).await;
            printer.result(&render(printer, &outcomes));
        }
        Some(fixed)
    } else {
        None
    };
    let checks_ok = !outcomes.iter().any(|o| o.status == Status::Fail);
    let ok = checks_ok && fixed.as_ref().is_none_or(|f| f.ok);
    if config.json {
        let mut doc = json!({
            "ok": ok,
            "profile": ctx.profile.display_name(),
            "platform": &ctx.platform,
            "checks": &outcomes,
        });
        if let Some(f) = &fixed {
            doc["fix"] = json!(f);
        }
        printer.json(&doc);
    }
    Ok(Verdict::from_ok(ok))
}

fn header(p: &Platform, profile: &str, dir: &Path) -> String {
    format!(
        "onramp doctor: profile {profile}, {} {}, project {}",
        p.kind.as_str(),
        p.arch,
        dir.display()
    )
}

fn symbol(printer: &Printer, s: Status) -> String {
    match s {
        Status::Pass => printer.paint(Paint::Pass, "✓"),
        Status::Warn => printer.paint(Paint::Warn, "!"),
        Status::Fail => printer.paint(Paint::Fail, "✗"),
        Status::Skip => printer.paint(Paint::Dim, "-"),
    }
}

/// The aligned table: symbol, check, detail, and the remedy beneath.
pub fn render(printer: &Printer, outcomes: &[Outcome]) -> String {
    let width = outcomes
        .iter()
        .map(|o| o.id.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for o in outcomes {
        lines.push(format!(
            "  {} {:width$}  {}",
            symbol(printer, o.status),
            o.id,
            o.detail
        ));
        if let Some(r) = &o.remedy {
            let pad = " ".repeat(width + 4);
            lines.push(format!("  {pad}{} {r}", printer.paint(Paint::Dim, "fix:")));
        }
    }
    let count = |s| outcomes.iter().filter(|o| o.status == s).count();
    lines.push(format!(
        "doctor: {} ok, {} warning(s), {} failing, {} skipped",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip)
    ));
    lines.join("\n")
}
