//! What `validate` checks, for `validate`, `setup` and `gate`: every service answers its own
//! protocol, and the SDK imports through the fallback ladder.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::config::ValidateSettings;
use crate::engine::Connected;
use crate::host::Host;
use crate::machine::Machine;
use crate::outcome::CheckStatus;
use crate::printer::{Paint, Printer};
use crate::probe;
use crate::profile::Profile;
use crate::project::Project;
use crate::sdk;
use crate::stack::ready;

/// How long `validate` keeps trying a service that is not ready yet.
const SERVICE_WINDOW: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Serialize)]
pub struct ServiceCheck {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
}

/// Whether every service check and the SDK passed.
pub fn all_ok(services: &[ServiceCheck], sdk: &sdk::Report) -> bool {
    services.iter().all(|s| s.status.passes()) && sdk.ok
}

/// Services and SDK: what `validate` and `setup` check.
pub async fn validate(
    project: &Project,
    settings: &ValidateSettings,
    host: &Host,
    printer: &Printer,
    engine: Option<&Connected>,
    machine: Option<&Machine>,
) -> (Vec<ServiceCheck>, sdk::Report) {
    let services = check_services(printer, &project.profile, None).await;
    let opts = sdk::Options {
        explicit_python: settings.python.as_deref(),
        wheelhouse: settings.wheelhouse.as_deref(),
        machine,
    };
    let report = sdk::ladder(host, &project.dir, &project.profile, &opts, printer, engine).await;
    print_sdk(printer, &report, &project.dir);
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
                    status: CheckStatus::Skipped,
                    detail: "no probe configured".into(),
                };
            };
            let window = svc.timeout().min(SERVICE_WINDOW);
            match ready::within(&target, window).await {
                Ok(d) => ServiceCheck {
                    name: name.clone(),
                    status: CheckStatus::Ok,
                    detail: format!(
                        "answered at {}:{} in {} ms",
                        target.host,
                        target.port,
                        d.as_millis()
                    ),
                },
                Err(e) => ServiceCheck {
                    name: name.clone(),
                    status: CheckStatus::Failed,
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
        let mark = match r.status {
            CheckStatus::Ok => printer.paint(Paint::Pass, "✓"),
            CheckStatus::Skipped => printer.paint(Paint::Dim, "-"),
            CheckStatus::Failed => printer.paint(Paint::Fail, "✗"),
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
            rung.rung,
            rung.status.as_str(),
            rung.detail
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
