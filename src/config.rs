//! The command line resolved once, with the environment, into a typed configuration.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{Cli, Command, ImagesCommand, MigrateCommand};
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::profile::Choice;
use crate::project::Selection;

/// Everything a command needs to know about how it was asked to run.
#[derive(Debug)]
pub struct Config {
    pub action: Action,
    pub dir: PathBuf,
    pub profile: Choice,
    pub output: Output,
    /// `--compose`, `--compose-profile` and the services named on the command line.
    pub selection: Selection,
}

/// How output and prompts behave.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub json: bool,
    /// Accept every prompt (`--yes`, `CI` set, or stdin is not a terminal).
    pub yes: bool,
    /// `--yes` was given on the command line (not implied by a missing terminal): the only
    /// consent that deletes data without a prompt (`reset`).
    pub yes_given: bool,
    pub quiet: bool,
    pub verbose: u8,
    /// (`--no-color`, `NO_COLOR` set, `CLICOLOR_FORCE` set)
    pub color: (bool, bool, bool),
}

/// The command to run with its typed settings: commands never see clap's types.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Setup(SetupSettings),
    Doctor(DoctorSettings),
    Generate(GenerateSettings),
    Up(UpSettings),
    Status {
        services: Vec<String>,
    },
    Validate(ValidateSettings),
    Gate {
        phase: String,
    },
    Down(DownSettings),
    Profiles {
        name: Option<String>,
        from_compose: Option<PathBuf>,
    },
    Reset(ResetSettings),
    ImagesSave {
        output: PathBuf,
    },
    ImagesLoad {
        file: PathBuf,
    },
    Completions {
        shell: clap_complete::Shell,
    },
    Lock {
        check: bool,
    },
    Verify {
        online: bool,
    },
    Report {
        output: Option<PathBuf>,
    },
    MigrateWsl {
        dry_run: bool,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetupSettings {
    pub rollback_on_fail: bool,
    /// An image archive to load before `up` (`setup --images FILE`).
    pub images: Option<PathBuf>,
    pub install: InstallSettings,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DoctorSettings {
    /// Show the installer's plan for what failed and apply it.
    pub fix: bool,
    pub install: InstallSettings,
}

/// How the installer (`doctor --fix`, `setup`) may act.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InstallSettings {
    /// Print the plan and change nothing.
    pub dry_run: bool,
    /// Docker Desktop may be installed (its licence binds larger companies).
    pub accept_docker_desktop_license: bool,
}

impl From<crate::cli::InstallArgs> for InstallSettings {
    fn from(a: crate::cli::InstallArgs) -> InstallSettings {
        InstallSettings {
            dry_run: a.dry_run,
            accept_docker_desktop_license: a.accept_docker_desktop_license,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerateSettings {
    pub force: bool,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpSettings {
    pub rollback_on_fail: bool,
    /// Only these services and what they depend on; empty means all.
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidateSettings {
    pub python: Option<PathBuf>,
    pub wheelhouse: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DownSettings {
    pub volumes: bool,
    /// Only these services' containers; empty means the whole project.
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResetSettings {
    /// The services named; none means every service onramp starts.
    pub services: Vec<String>,
    pub dry_run: bool,
}

impl Action {
    fn from_cli(command: Option<Command>) -> Action {
        match command {
            None => Action::Setup(SetupSettings::default()),
            Some(Command::Setup(a)) => Action::Setup(SetupSettings {
                rollback_on_fail: a.rollback_on_fail,
                images: a.images,
                install: a.install.into(),
            }),
            Some(Command::Doctor(a)) => Action::Doctor(DoctorSettings {
                fix: a.fix || a.install.dry_run,
                install: a.install.into(),
            }),
            Some(Command::Generate(a)) => Action::Generate(GenerateSettings {
                force: a.force,
                dry_run: a.dry_run,
            }),
            Some(Command::Up(a)) => Action::Up(UpSettings {
                rollback_on_fail: a.rollback_on_fail,
                services: a.services,
            }),
            Some(Command::Status(a)) => Action::Status {
                services: a.services,
            },
            Some(Command::Validate(a)) => Action::Validate(ValidateSettings {
                python: a.python,
                wheelhouse: a.wheelhouse,
            }),
            Some(Command::Gate(a)) => Action::Gate { phase: a.phase },
            Some(Command::Down(a)) => Action::Down(DownSettings {
                volumes: a.volumes,
                services: a.services,
            }),
            Some(Command::Profiles(a)) => Action::Profiles {
                name: a.name,
                from_compose: a.from_compose,
            },
            Some(Command::Reset(a)) => Action::Reset(ResetSettings {
                services: a.services,
                dry_run: a.dry_run,
            }),
            Some(Command::Images(ImagesCommand::Save(a))) => {
                Action::ImagesSave { output: a.output }
            }
            Some(Command::Images(ImagesCommand::Load(a))) => Action::ImagesLoad { file: a.file },
            Some(Command::Completions(a)) => Action::Completions { shell: a.shell },
            Some(Command::Lock(a)) => Action::Lock { check: a.check },
            Some(Command::Verify(a)) => Action::Verify { online: a.online },
            Some(Command::Report(a)) => Action::Report { output: a.output },
            Some(Command::Migrate(MigrateCommand::Wsl(a))) => {
                Action::MigrateWsl { dry_run: a.dry_run }
            }
        }
    }
}

/// The project's own profile file.
pub const PROJECT_FILE: &str = "onramp.toml";

pub fn resolve(cli: Cli, host: &Host) -> Result<Config> {
    let g = cli.global;
    let dir = match g.dir {
        Some(d) => d,
        None => std::env::current_dir().map_err(|e| {
            Error::Usage(format!(
                "the current directory cannot be used ({e}); it may have been deleted: cd into the project, or pass --dir PATH"
            ))
        })?,
    };
    match crate::fsx::stat(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::Usage(format!(
                "project directory {} is a file, not a directory",
                dir.display()
            )));
        }
        Err(_) => {
            return Err(Error::Usage(format!(
                "project directory {} does not exist",
                dir.display()
            )));
        }
    }
    let profile = choose_profile(g.profile, host.env("ONRAMP_PROFILE"), &dir);
    let action = Action::from_cli(cli.command);
    let selection = Selection {
        backend: g.backend.map(|b| match b {
            crate::cli::BackendArg::Docker => crate::profile::Backend::Docker,
            crate::cli::BackendArg::Native => crate::profile::Backend::Native,
        }),
        compose: g.compose,
        compose_profiles: g.compose_profiles,
        services: match &action {
            Action::Up(s) => s.services.clone(),
            Action::Down(s) => s.services.clone(),
            Action::Status { services } => services.clone(),
            _ => Vec::new(),
        },
    };
    Ok(Config {
        action,
        selection,
        dir,
        profile,
        output: Output {
            json: g.json,
            yes: g.yes || host.env("CI").is_some() || !std::io::stdin().is_terminal(),
            yes_given: g.yes,
            quiet: g.quiet,
            verbose: g.verbose,
            color: (
                g.no_color,
                host.env("NO_COLOR").is_some(),
                host.env("CLICOLOR_FORCE").is_some_and(|v| v != "0"),
            ),
        },
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
    if crate::fsx::lstat(&file).is_some() {
        return Choice::ProjectFile(file);
    }
    Choice::Default
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
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
