//! Command-line types (clap) and nothing else; `config.rs` resolves them once.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

/// The first-day path, shown after `--help`.
const EXAMPLES: &str = "\
Examples:
  onramp doctor                     what this machine has and lacks, each with a fix
  onramp                            the whole job (doctor, generate, up, validate) here
  onramp --dir ~/src/app --yes      the same for another directory, without prompts
  onramp status                     the services and whether each answers
  onramp down                       remove the containers again (volumes kept)
  onramp completions bash > ~/.local/share/bash-completion/completions/onramp";

#[derive(Debug, Parser)]
#[command(
    name = "onramp",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("ONRAMP_BUILD_COMMIT"),
        ", target ",
        env!("ONRAMP_BUILD_TARGET"),
        ")"
    ),
    about = "Take a workstation to a verified Kailash SDK development environment",
    long_about = None,
    after_help = EXAMPLES,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Profile name or path [env: ONRAMP_PROFILE] [default: kailash, or ./onramp.toml]
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub profile: Option<String>,
    /// Project directory [default: the current directory]
    #[arg(long, global = true, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// Machine-readable JSON on stdout; human output goes to stderr
    #[arg(long, global = true)]
    pub json: bool,
    /// Accept every prompt (implied when stdin is not a terminal)
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// More detail (repeat for more)
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and results
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// No colour (also: NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Take the services from this Compose file (instead of the profile's)
    #[arg(long, global = true, value_name = "FILE")]
    pub compose: Option<PathBuf>,
    /// Turn on services of this Compose profile (repeatable; also COMPOSE_PROFILES)
    #[arg(long = "compose-profile", global = true, value_name = "NAME")]
    pub compose_profiles: Vec<String>,
    /// Where services run: containers through an engine, or native processes from pinned
    /// wheels under .onramp/ [default: the profile's `backend`, else docker]
    #[arg(long, global = true, value_enum)]
    pub backend: Option<BackendArg>,
}

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Docker,
    Native,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// doctor -> generate -> up -> validate, stopping at the first hard failure
    Setup(SetupArgs),
    /// Platform and requirement checks, each with a remedy
    Doctor(DoctorArgs),
    /// Render the profile's files into the project directory
    Generate(GenerateArgs),
    /// Ensure images, start services, wait until each answers its protocol
    Up(UpArgs),
    /// Services: state, ports, readiness, container id
    Status(StatusArgs),
    /// Probe every service and validate the SDK imports through the fallback ladder
    Validate(ValidateArgs),
    /// Check a phase gate's criteria (1A, 1B, 2) as a pass/fail report
    Gate(GateArgs),
    /// Remove what onramp created; volumes only with --volumes
    Down(DownArgs),
    /// List embedded profiles, or print one fully resolved
    Profiles(ProfilesArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell)
    Completions(CompletionsArgs),
    /// Rebuild services from scratch: remove them with their volumes, then up. Deleting data
    /// asks on a terminal; elsewhere only an explicit --yes consents
    Reset(ResetArgs),
    /// The profile's images as one archive, for machines that cannot reach a registry
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Write onramp.lock: image digests and platforms, engine minimum, Python, packages
    Lock(LockArgs),
    /// This workstation against onramp.lock and the profile; each drift with its fix
    Verify(VerifyArgs),
    /// One archive for support, every secret masked: doctor, verify, engine, containers, logs,
    /// and a verdict with the fix for each known problem
    Report(ReportArgs),
    /// (on Windows) Move this project into a WSL2 distro and set it up there
    #[command(subcommand)]
    Migrate(MigrateCommand),
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Install WSL2 and the profile's distro, size .wslconfig, turn systemd on, install onramp
    /// inside, clone or copy the project into the distro's home and run `onramp setup` there.
    /// Asks once; a second run resumes where the first stopped
    Wsl(MigrateWslArgs),
}

#[derive(Debug, Args, Default)]
pub struct MigrateWslArgs {
    /// Print the exact plan (every command and file edit) and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args, Default)]
pub struct ReportArgs {
    /// The archive to write [default: onramp-report-DATE-TIME.tar.gz in the project directory]
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args, Default)]
pub struct VerifyArgs {
    /// Also ask the registry whether each locked tag still names the locked digest
    #[arg(long)]
    pub online: bool,
}

#[derive(Debug, Args, Default)]
pub struct LockArgs {
    /// Write nothing; fail (exit 1) when onramp.lock is missing or older than the profile
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Write every image the profile needs into one archive (pulling those not present)
    Save(ImagesSaveArgs),
    /// Load an archive and check that every image the profile needs is then present
    Load(ImagesLoadArgs),
}

#[derive(Debug, Args)]
pub struct ImagesSaveArgs {
    /// The archive to write
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImagesLoadArgs {
    /// The archive made by `onramp images save`
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args, Default)]
pub struct ResetArgs {
    /// Services to reset [default: every service onramp starts]
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Print what would be removed and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args, Default)]
pub struct SetupArgs {
    /// When a later step fails, remove what this run created and restore replaced files
    #[arg(long)]
    pub rollback_on_fail: bool,
    /// Load the profile's images from this archive (`onramp images save`) before starting
    #[arg(long, value_name = "FILE")]
    pub images: Option<PathBuf>,
    #[command(flatten)]
    pub install: InstallArgs,
}

#[derive(Debug, Args, Default)]
pub struct DoctorArgs {
    /// After the checks, show the installer's plan for what failed and apply it (asks once)
    #[arg(long)]
    pub fix: bool,
    #[command(flatten)]
    pub install: InstallArgs,
}

/// Options of the installer (`doctor --fix`, `setup`).
#[derive(Debug, Args, Default, Clone, Copy)]
pub struct InstallArgs {
    /// Print the exact plan (every command, file and package) and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Allow installing Docker Desktop (its licence requires a paid subscription in larger companies)
    #[arg(long)]
    pub accept_docker_desktop_license: bool,
}

#[derive(Debug, Args, Default)]
pub struct GenerateArgs {
    /// Replace files the user changed (a NAME.bak backup is kept)
    #[arg(long)]
    pub force: bool,
    /// Show what would change and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args, Default)]
pub struct UpArgs {
    /// When a service fails, remove what this run created
    #[arg(long)]
    pub rollback_on_fail: bool,
    /// Only these services (and what they depend on) [default: all]
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args, Default)]
pub struct StatusArgs {
    /// Only these services [default: all]
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args, Default)]
pub struct ValidateArgs {
    /// Python interpreter to try first
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Install packages from this directory of wheels instead of the index
    #[arg(long, value_name = "DIR")]
    pub wheelhouse: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// Phase whose gate to check: 1A, 1B or 2
    pub phase: String,
}

#[derive(Debug, Args, Default)]
pub struct DownArgs {
    /// Also remove the named volumes (their data is lost)
    #[arg(long)]
    pub volumes: bool,
    /// Only these services' containers [default: everything of the project]
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args, Default)]
pub struct ProfilesArgs {
    /// Print this profile fully resolved
    pub name: Option<String>,
    /// Print the profile equivalent to this Compose file (secrets masked)
    #[arg(long, value_name = "FILE", conflicts_with = "name")]
    pub from_compose: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}
