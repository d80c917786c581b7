//! What the network steps share, for the engine on this machine (`net`) and in a VM or on
//! another OS (`net_desktop`): what the user wants of the network, the company root, where the
//! undo script lives, and how a system file is written and a root recognised.

use super::{Action, Facts};

/// What the profile and the user want of the network.
#[derive(Debug, Clone, Default)]
pub struct NetWants {
    /// The proxy every client should use.
    pub https_proxy: Option<String>,
    pub http_proxy: Option<String>,
    pub no_proxy: Option<String>,
    /// The company's root: where the user keeps it, its PEM text and its subject.
    pub ca: Option<Ca>,
    /// Registries the profile's images come from (Docker Hub excluded: the OS store covers it).
    pub registries: Vec<String>,
    /// Registry mirrors for Docker Hub.
    pub mirrors: Vec<String>,
    /// The project's Python side (its CA bundle and venv), when a company root is named.
    pub python: Option<crate::netdiag::pip::PyProject>,
}

#[derive(Debug, Clone, Default)]
pub struct Ca {
    pub path: String,
    pub pem: String,
    pub subject: String,
}

/// The file the company root is installed as, in every store.
pub const CA_NAME: &str = "onramp-company-root.crt";
/// The undo script, relative to the project.
pub const UNDO: &str = ".onramp/net/undo.sh";

/// Write a system file: as root, through `sudo -n` unless onramp is root.
pub(super) fn write_file(f: &Facts, path: &str, content: String) -> Action {
    Action::WriteFile {
        path: path.into(),
        content,
        sudo: !(f.is_root() || f.uid.is_none()),
    }
}

/// A line of the certificate's base64 that no other certificate shares (its last full one).
pub(super) fn fingerprint_line(pem: &str) -> String {
    let body: Vec<&str> = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    body.iter()
        .rev()
        .find(|l| l.len() >= 60)
        .or(body.last())
        .map(|l| (*l).to_string())
        .unwrap_or_default()
}
