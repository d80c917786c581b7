//! `onramp doctor`: platform and requirement checks, each with a remedy.

use std::path::Path;

use serde_json::json;

use super::Verdict;
use crate::checks::{self, Ctx, Outcome, Status};
use crate::config::Config;
use crate::errors::Result;
use crate::host::Host;
use crate::platform::{self, Platform};
use crate::printer::{Paint, Printer};

pub async fn run(config: &Config, host: &Host, printer: &Printer) -> Result<Verdict> {
    let loaded = config.load(host, &[])?;
    let platform = platform::detect(&platform::collect(host));
    let ctx = Ctx::new(host.clone(), loaded.profile, config.dir.clone(), platform);
    let outcomes = checks::run_all(&ctx).await;
    let ok = !outcomes.iter().any(|o| o.status == Status::Fail);
    if config.json {
        printer.json(&json!({
            "ok": ok,
            "profile": ctx.profile.display_name(),
            "platform": &ctx.platform,
            "checks": &outcomes,
        }));
    }
    if !(config.json && config.quiet) {
        let header = header(&ctx.platform, ctx.profile.display_name(), &config.dir);
        printer.result(&printer.paint(Paint::Bold, &header));
        printer.result(&render(printer, &outcomes));
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
