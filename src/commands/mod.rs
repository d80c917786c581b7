//! One file per subcommand; `dispatch` is the only place that chooses between them.

mod doctor;
mod down;
mod gate;
mod generate;
mod profiles;
mod setup;
mod status;
mod up;
mod validate;

use crate::cli::Command;
use crate::config::Config;
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::printer::Printer;

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

/// Run the configured command; Ctrl-C cancels it cleanly (exit 130).
pub async fn dispatch(config: &Config, host: &Host, printer: &Printer) -> Result<Verdict> {
    let work = async {
        match &config.command {
            Command::Doctor(args) => doctor::run(config, host, printer, args).await,
            Command::Profiles(args) => profiles::run(config, printer, args.name.as_deref()),
            Command::Setup(args) => setup::run(config, host, printer, args).await,
            Command::Generate(args) => generate::run(config, host, printer, args).await,
            Command::Up(args) => up::run(config, host, printer, args).await,
            Command::Status => status::run(config, host, printer).await,
            Command::Validate(args) => validate::run(config, host, printer, args).await,
            Command::Gate(args) => gate::run(config, host, printer, &args.phase).await,
            Command::Down(args) => down::run(config, host, printer, args).await,
        }
    };
    tokio::select! {
        r = work => r,
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
    }
}
