//! `onramp up`: ensure images, start services, wait until each answers its protocol.

use std::path::Path;

use serde_json::json;

use super::Verdict;
use crate::cli::UpArgs;
use crate::config::Config;
use crate::engine::{self, Connected};
use crate::errors::{Error, Result};
use crate::generate::context::project_name;
use crate::host::Host;
use crate::platform;
use crate::printer::Printer;
use crate::profile::Profile;
use crate::progress::Ui;
use crate::stack::up::{Created, ServiceReport, has_managed, probe_externals, up};
use crate::stack::{Origin, select};

pub async fn run(
    config: &Config,
    host: &Host,
    printer: &Printer,
    args: &UpArgs,
) -> Result<Verdict> {
    let loaded = config.load(host, &args.services)?;
    for note in &loaded.notes {
        printer.info(note);
    }
    let profile = loaded.profile;
    let _lock = lock(&config.dir)?;
    let project = project_name(&profile, &config.dir);
    let origin = Origin::new(&project, &config.dir, loaded.compose.as_deref());
    let mut created = Created::default();
    let (engine, reports) = match start(
        host,
        &origin,
        &profile,
        &args.services,
        printer,
        &mut created,
    )
    .await
    {
        Ok(done) => done,
        Err(e) => {
            if args.rollback_on_fail && !created.is_empty() {
                let engine = connect(host).await?;
                report_rollback(printer, &created.roll_back(&engine.api).await);
            }
            return Err(e);
        }
    };
    let ok = reports.iter().all(ServiceReport::ok);
    if !ok
        && args.rollback_on_fail
        && let Some(e) = &engine
    {
        report_rollback(printer, &created.roll_back(&e.api).await);
    }
    if config.json {
        printer.json(&report_json(ok, engine.as_ref(), &reports));
    }
    Ok(Verdict::from_ok(ok))
}

/// Bring the services up (used by `setup` too); `created` collects what this run made. A
/// profile with nothing to start needs no engine: its external services are only probed.
pub async fn start(
    host: &Host,
    origin: &Origin<'_>,
    profile: &Profile,
    only: &[String],
    printer: &Printer,
    created: &mut Created,
) -> Result<(Option<Connected>, Vec<ServiceReport>)> {
    let ui = Ui::new(printer);
    let selected = select(profile, only)?;
    if !has_managed(profile, &selected) {
        return Ok((None, probe_externals(profile, &selected, &ui).await));
    }
    let engine = connect(host).await?;
    let reports = up(&engine.api, host, origin, profile, only, &ui, created).await?;
    Ok((Some(engine), reports))
}

pub fn report_rollback(printer: &Printer, removed: &[String]) {
    if removed.is_empty() {
        printer.result("rolled back: nothing had been created");
    } else {
        printer.result(&format!("rolled back: removed {}", removed.join(", ")));
    }
}

pub fn report_json(
    ok: bool,
    engine: Option<&Connected>,
    reports: &[ServiceReport],
) -> serde_json::Value {
    json!({
        "ok": ok,
        "engine": engine.map(|e| json!({
            "endpoint": e.endpoint.endpoint,
            "source": e.endpoint.source,
            "version": e.info.version,
        })),
        "services": reports,
    })
}

/// Connect to the engine, or fail with the platform's remedy (exit 1).
pub async fn connect(host: &Host) -> Result<Connected> {
    engine::connect_ready(host).await.map_err(|p| {
        let plat = platform::detect(&platform::collect(host));
        let os_release = host.sys_read("/etc/os-release");
        let fix = engine::remedy::Remedies::new(host, plat.kind, os_release.as_deref());
        Error::NotReady {
            message: engine::describe(&p),
            help: fix.for_reach(&p.reach),
        }
    })
}

/// One run at a time per project: an exclusive lock on `.onramp/lock`.
pub fn lock(dir: &Path) -> Result<std::fs::File> {
    let state = dir.join(crate::generate::STATE_DIR);
    std::fs::create_dir_all(&state).map_err(|source| Error::Write {
        path: state.clone(),
        source,
    })?;
    let path = state.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::NotReady {
            message: format!("another onramp run is working on {}", dir.display()),
            help: format!("wait for it to finish (the lock is {})", path.display()),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::Write { path, source }),
    }
}
