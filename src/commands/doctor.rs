//! `onramp doctor`: platform and requirement checks, each with a remedy.

use std::path::Path;

use serde_json::json;

use super::Verdict;
use crate::checks::{self, Ctx, Status};
use crate::errors::Result;
use crate::host::Host;
use crate::platform::{self, Platform};
use crate::printer::{Paint, Printer};
use crate::project::Project;

pub async fn run(project: &Project, host: &Host, printer: &Printer) -> Result<Verdict> {
    let platform = platform::detect(&platform::collect(host));
    let ctx = Ctx::new(
        host.clone(),
        project.profile.clone(),
        project.dir.clone(),
        platform,
    );
    let outcomes = checks::run_all(&ctx).await;
    let ok = !outcomes.iter().any(|o| o.status == Status::Fail);
    if printer.json_mode() {
        printer.json(&json!({
            "ok": ok,
            "profile": ctx.profile.display_name(),
            "platform": &ctx.platform,
            "checks": &outcomes,
        }));
    }
    if !(printer.json_mode() && printer.is_quiet()) {
        let header = header(&ctx.platform, ctx.profile.display_name(), &project.dir);
        printer.result(&printer.paint(Paint::Bold, &header));
        printer.result(&checks::report::render(printer, &outcomes));
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
