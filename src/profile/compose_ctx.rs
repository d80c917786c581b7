//! What the Compose reader and `extends` share: the file's input, the context of the
//! conversion, and the reads and key names both use. A leaf below both.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

use super::yaml::{self, Doc};
use crate::errors::Result;

/// Where the file is and what it may read.
pub struct Input<'a> {
    /// What errors call the file (its path).
    pub label: String,
    pub text: String,
    /// The file's directory relative to the project directory (`""` when it is the project
    /// directory); build contexts, bind mounts and env files are resolved from there.
    pub rel_dir: PathBuf,
    pub project_dir: &'a Path,
    /// Variable lookup: environment first, then the `.env` beside the Compose file.
    pub vars: &'a dyn Fn(&str) -> Option<String>,
    /// Active Compose profiles (`COMPOSE_PROFILES`, `--compose-profile`).
    pub profiles: &'a [String],
    /// Services named on the command line: enabled whatever their profiles say; when some are
    /// named, only they and what they depend on will start.
    pub named: &'a [String],
    /// Nothing will be started (`profiles --from-compose`): what cannot be applied only warns.
    pub import_only: bool,
}

/// The file being converted: its input, parsed document and the labels of every file read
/// (the Compose file first, then files named by `extends`).
pub(super) struct Ctx<'c, 'a> {
    pub(super) input: &'c Input<'a>,
    pub(super) doc: Doc,
    pub(super) labels: Vec<String>,
}

impl<'a> std::ops::Deref for Ctx<'_, 'a> {
    type Target = Input<'a>;
    fn deref(&self) -> &Input<'a> {
        self.input
    }
}

/// Read a file inside the project: a regular file reached without following a link.
pub fn read_in_project(dir: &Path, rel: &Path) -> Result<Option<String>> {
    crate::fsx::Root::new(dir).read_text(&rel.to_string_lossy())
}

pub(super) fn key_str(k: &Value) -> String {
    yaml::key_string(k)
}
