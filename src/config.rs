//! The command line resolved once, with the environment, into a typed configuration.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{Cli, Command};
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::profile::Choice;

/// Everything a command needs to know about how it was asked to run.
#[derive(Debug)]
pub struct Config {
    pub command: Command,
    pub dir: PathBuf,
    pub profile: Choice,
    pub json: bool,
    pub yes: bool,
    pub quiet: bool,
    pub verbose: u8,
    /// (`--no-color`, `NO_COLOR` set, `CLICOLOR_FORCE` set)
    pub color: (bool, bool, bool),
}

/// The project's own profile file.
pub const PROJECT_FILE: &str = "onramp.toml";

pub fn resolve(cli: Cli, host: &Host) -> Result<Config> {
    let g = cli.global;
    let dir = match g.dir {
        Some(d) => d,
        None => std::env::current_dir().map_err(|e| Error::Internal(e.to_string()))?,
    };
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "project directory {} does not exist",
            dir.display()
        )));
    }
    let profile = choose_profile(g.profile, host.env("ONRAMP_PROFILE"), &dir);
    Ok(Config {
        command: cli.command.unwrap_or(Command::Setup(Default::default())),
        dir,
        profile,
        json: g.json,
        yes: g.yes || host.env("CI").is_some() || !std::io::stdin().is_terminal(),
        quiet: g.quiet,
        verbose: g.verbose,
        color: (
            g.no_color,
            host.env("NO_COLOR").is_some(),
            host.env("CLICOLOR_FORCE").is_some_and(|v| v != "0"),
        ),
    })
}

/// `--profile`, then `ONRAMP_PROFILE`, then the project's `onramp.toml`, then the default.
pub fn choose_profile(flag: Option<String>, env: Option<&str>, dir: &std::path::Path) -> Choice {
    if let Some(p) = flag.filter(|p| !p.is_empty()) {
        return Choice::Named(p);
    }
    if let Some(p) = env {
        return Choice::Named(p.to_string());
    }
    let file = dir.join(PROJECT_FILE);
    if file.is_file() {
        return Choice::ProjectFile(file);
    }
    Choice::Default
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_choice_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(choose_profile(None, None, d), Choice::Default);
        std::fs::write(d.join(PROJECT_FILE), "extends = \"minimal\"\n").unwrap();
        assert_eq!(
            choose_profile(None, None, d),
            Choice::ProjectFile(d.join(PROJECT_FILE))
        );
        assert_eq!(
            choose_profile(None, Some("minimal"), d),
            Choice::Named("minimal".into())
        );
        assert_eq!(
            choose_profile(Some("x.toml".into()), Some("minimal"), d),
            Choice::Named("x.toml".into())
        );
    }
}
