//! `onramp validate`: probe every service and validate the SDK through the fallback ladder.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::Verdict;
use crate::cli::ValidateArgs;
use crate::config::Config;
use crate::engine::{self, Connected};
use crate::errors::Result;
use crate::host::Host;
use crate::printer::{Paint, Printer};
use crate::probe;
use crate::profile::Profile;
use crate::sdk;
use crate::stack::ready;

/// How long `validate` keeps trying a service that is not ready yet.
const SERVICE_WINDOW: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Serialize)]
pub struct ServiceCheck {
    pub name: String,
    pub status: String,
    pub detail: String,
}

pub async fn run(
    config: &Config,
    host: &Host,
    printer: &Printer,
    args: &ValidateArgs,
) -> Result<Verdict> {
    let profile = config.load(host, &[])?.profile;
    let engine = engine::connect_ready(host).await.ok();
    let (services, report) = validate(config, host, printer, &profile, args, engine.as_ref()).await;
    let ok = services.iter().all(|s| s.status == "ok") && report.ok;
    if config.json {
        printer.json(&json!({"ok": ok, "services": services, "sdk": report}));
    }
    Ok(Verdict::from_ok(ok))
}

/// Services and SDK, as `setup` runs them too.
pub async fn validate(
    config: &Config,
    host: &Host,
    printer: &Printer,
    profile: &Profile,
    args: &ValidateArgs,
    engine: Option<&Connected>,
) -> (Vec<ServiceCheck>, sdk::Report) {
    let services = check_services(printer, profile, None).await;
    let opts = sdk::Options {
        explicit_python: args.python.as_deref(),
        wheelhouse: args.wheelhouse.as_deref(),
        yes: config.yes,
        interactive: printer.is_terminal() && !config.json,
    };
    let report = sdk::ladder(host, &config.dir, profile, &opts, printer, engine).await;
    print_sdk(printer, &report, &config.dir);
    (services, report)
}

/// Probe services (all, or the named ones), in parallel.
pub async fn check_services(
    printer: &Printer,
    profile: &Profile,
    only: Option<&[String]>,
) -> Vec<ServiceCheck> {
    let checks = profile
        .services()
        .filter(|(n, _)| only.is_none_or(|o| o.is_empty() || o.contains(n)))
        .map(|(name, svc)| async move {
            let Some(target) = probe::target(svc) else {
                return ServiceCheck {
                    name: name.clone(),
                    status: "skipped".into(),
                    detail: "no probe configured".into(),
                };
            };
            let window = svc.timeout().min(SERVICE_WINDOW);
            match ready::within(&target, window).await {
                Ok(d) => ServiceCheck {
                    name: name.clone(),
                    status: "ok".into(),
                    detail: format!(
                        "answered at {}:{} in {} ms",
                        target.host,
                        target.port,
                        d.as_millis()
                    ),
                },
                Err(e) => ServiceCheck {
                    name: name.clone(),
                    status: "failed".into(),
                    detail: if svc.image.is_some() {
                        format!("{e} (is it up? `onramp up`)")
                    } else {
                        e.to_string()
                    },
                },
            }
        });
    let results = futures_util::future::join_all(checks).await;
    for r in &results {
        let mark = match r.status.as_str() {
            "ok" => printer.paint(Paint::Pass, "✓"),
            "skipped" => printer.paint(Paint::Dim, "-"),
            _ => printer.paint(Paint::Fail, "✗"),
        };
        printer.result(&format!("{mark} {:10} {}", r.name, r.detail));
    }
    results
}

fn print_sdk(printer: &Printer, r: &sdk::Report, dir: &Path) {
    if r.ok {
        printer.result(&format!(
            "{} sdk        {} imports pass on rung `{}` with {}",
            printer.paint(Paint::Pass, "✓"),
            r.imports.len(),
            r.rung.as_deref().unwrap_or("?"),
            r.python.as_deref().unwrap_or("?"),
        ));
    } else {
        printer.result(&format!(
            "{} sdk        imports fail on every rung tried",
            printer.paint(Paint::Fail, "✗")
        ));
        for i in r.imports.iter().filter(|i| !i.ok()) {
            printer.result(&format!("    {}", i.summary()));
        }
    }
    for rung in &r.rungs_tried {
        printer.result(&format!(
            "    rung {:12} {:8} {}",
            rung.rung, rung.status, rung.detail
        ));
    }
    if let Some(c) = &r.conftest {
        printer.result(&format!(
            "  {} to make it stick: {c} (in {})",
            printer.paint(Paint::Bold, "note:"),
            dir.display()
        ));
    }
    if let Some(fix) = &r.remedy {
        printer.result(&format!("  {} {fix}", printer.paint(Paint::Bold, "fix:")));
    }
}
