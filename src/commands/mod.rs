//! One file per subcommand; `dispatch` is the only place that chooses between them.

mod completions;
mod doctor;
mod down;
mod gate;
mod generate;
mod images;
mod lock;
mod migrate;
mod profiles;
mod report;
mod reset;
mod setup;
mod status;
mod up;
mod validate;
mod verify;

use crate::config::{Action, Config};
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::printer::Printer;
use crate::project::Project;

/// A finished command's verdict: exit 0 or exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    NotReady,
}

impl Verdict {
    pub fn from_ok(ok: bool) -> Verdict {
        if ok {
            Verdict::Ready
        } else {
            Verdict::NotReady
        }
    }
}

/// Run the configured command; Ctrl-C cancels it cleanly (exit 130). The project (and its
/// profile) is resolved once, here, for every command that works on one.
pub async fn dispatch(config: &Config, host: &Host, printer: &Printer) -> Result<Verdict> {
    let work = async {
        let project = || Project::resolve(&config.dir, &config.profile, &config.selection, host);
        match &config.action {
            Action::Profiles { name, from_compose } => match from_compose {
                Some(file) => profiles::from_compose(config, host, printer, file),
                None => profiles::run(config, host, printer, name.as_deref()),
            },
            Action::Doctor(s) => doctor::run(&project()?, s, host, printer).await,
            Action::Setup(s) => setup::run(&project()?, s, host, printer).await,
            Action::Generate(s) => generate::run(&project()?, s, host, printer).await,
            Action::Up(s) => up::run(&project()?, s, host, printer).await,
            Action::Status { .. } => status::run(&project()?, host, printer).await,
            Action::Validate(s) => validate::run(&project()?, s, host, printer).await,
            Action::Gate { phase } => gate::run(&project()?, phase, host, printer).await,
            Action::Down(s) => down::run(&project()?, s, host, printer).await,
            Action::Reset(s) => reset::run(&project()?, s, config.output, host, printer).await,
            Action::ImagesSave { output } => images::save(&project()?, output, host, printer).await,
            Action::ImagesLoad { file } => images::load(&project()?, file, host, printer).await,
            Action::Completions { shell } => completions::run(printer, *shell),
            Action::Lock { check } => lock::run(&project()?, *check, host, printer).await,
            Action::Verify { online } => verify::run(&project()?, *online, host, printer).await,
            Action::Report { output } => {
                report::run(&project()?, output.as_deref(), host, printer).await
            }
            Action::MigrateWsl { dry_run } => {
                migrate::run(&project()?, &config.profile, *dry_run, host, printer).await
            }
        }
    };
    tokio::select! {
        r = work => r,
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
    }
}
