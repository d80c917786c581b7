//! The one error type: every message names the thing involved and carries a remedy.

use std::path::PathBuf;

/// Exit code when the environment is not ready (a check, service, import or gate failed).
pub const EXIT_NOT_READY: u8 = 1;
/// Exit code for bad input: usage, unreadable or invalid profile, bad template.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for internal or unexpected errors.
pub const EXIT_INTERNAL: u8 = 3;
/// Exit code after an interruption (Ctrl-C).
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A profile that cannot be parsed or fails validation, located in its source.
    #[error("{file}:{line}:{col}: {message}")]
    Profile {
        file: String,
        line: usize,
        col: usize,
        message: String,
        help: String,
    },
    #[error("no profile named `{name}`")]
    UnknownProfile {
        name: String,
        available: Vec<String>,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A path onramp refuses to read or write: a link, a device, something too large.
    #[error("{} {message}", path.display())]
    Unsafe { path: PathBuf, message: String },
    #[error("{path} is outside the project directory {}", dir.display())]
    PathEscape { path: String, dir: PathBuf },
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("{0}")]
    Usage(String),
    /// The environment is not ready (engine down, port held, a service failed): exit 1.
    #[error("{message}")]
    NotReady { message: String, help: String },
    #[error("interrupted")]
    Interrupted,
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The remedy shown on the `help:` line, when there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            Error::Profile { help, .. } => Some(help.clone()),
            Error::UnknownProfile { available, .. } => Some(format!(
                "embedded profiles: {}; or pass a path: --profile ./my-profile.toml",
                available.join(", ")
            )),
            Error::Read { .. } => Some("check that the file exists and is readable".into()),
            Error::Write { path, .. } => Some(format!(
                "make {} writable, or choose another project directory with --dir",
                path.parent().unwrap_or(path).display()
            )),
            Error::Unsafe { .. } => Some(
                "onramp reads and writes project files only as regular files inside the project: replace the link or special file with a regular file, or remove it".into(),
            ),
            Error::PathEscape { .. } => {
                Some("give [[files]] paths relative to the project directory, without `..`".into())
            }
            Error::Template { .. } => Some(
                "fix the template, or point the profile's [[files]] entry at another one".into(),
            ),
            Error::Usage(_) => Some("run `onramp --help` for usage".into()),
            Error::NotReady { help, .. } => Some(help.clone()),
            Error::Interrupted | Error::Internal(_) => None,
        }
    }

    /// The one place that decides exit codes for errors.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Profile { .. }
            | Error::UnknownProfile { .. }
            | Error::Read { .. }
            | Error::Write { .. }
            | Error::PathEscape { .. }
            | Error::Unsafe { .. }
            | Error::Template { .. }
            | Error::Usage(_) => EXIT_BAD_INPUT,
            Error::Internal(_) => EXIT_INTERNAL,
            Error::NotReady { .. } => EXIT_NOT_READY,
            Error::Interrupted => EXIT_INTERRUPTED,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_design() {
        let bad = Error::Usage("x".into());
        assert_eq!(bad.exit_code(), 2);
        assert_eq!(Error::Internal("x".into()).exit_code(), 3);
        assert_eq!(Error::Interrupted.exit_code(), 130);
    }

    #[test]
    fn unknown_profile_lists_the_embedded_ones() {
        let e = Error::UnknownProfile {
            name: "nope".into(),
            available: vec!["kailash".into(), "minimal".into()],
        };
        assert!(e.help().unwrap().contains("kailash, minimal"));
    }
}
