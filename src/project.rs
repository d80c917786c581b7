//! The project onramp works on, resolved once from the command line: its directory, state
//! directory, Compose project name and loaded profile; and the one-run-at-a-time lock.

use std::path::{Path, PathBuf};

use crate::errors::{Error, Result};
use crate::profile::{self, Choice, Profile, Source};

pub use crate::naming::STATE_DIR;

/// Everything commands know about the project; they never load the profile again.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub state_dir: PathBuf,
    /// The Compose project name (network, volume and container prefix).
    pub name: String,
    pub profile: Profile,
    /// Where the profile came from, base first.
    pub sources: Vec<Source>,
    /// The Compose file the services came from (`compose` key or `--compose`), if any.
    pub compose: Option<PathBuf>,
    /// What loading noticed and the user should hear (unset variables, inactive services).
    pub notes: Vec<String>,
    /// The services named on the command line; empty means all of them.
    pub only: Vec<String>,
    /// Where the services run (`--backend`, else the profile's `backend`, else docker).
    pub backend: crate::profile::Backend,
}

/// What the command line says about Compose files and services.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// `--backend`, over the profile's `backend`.
    pub backend: Option<crate::profile::Backend>,
    /// `--compose FILE`.
    pub compose: Option<PathBuf>,
    /// `--compose-profile` names.
    pub compose_profiles: Vec<String>,
    /// Services named on the command line (`onramp up postgres redis`); empty means all.
    pub services: Vec<String>,
}

/// On the native backend, the services onramp would start but no wheel carries (Neo4j, any
/// other image) are left out of the profile, as `enabled = false` would; each gets a note
/// that says so and what to do instead.
fn leave_out_without_wheels(profile: &mut Profile) -> Vec<String> {
    let mut notes = Vec::new();
    for (name, svc) in profile.services.iter_mut() {
        if svc.enabled == Some(false) || svc.image.is_none() {
            continue;
        }
        if crate::profile::kinds::native_kind(svc).is_some() {
            continue;
        }
        svc.enabled = Some(false);
        let what = match svc.probe.as_ref().map(|p| p.kind) {
            Some(crate::profile::ProbeKind::Neo4j) => "Neo4j".to_string(),
            _ => format!("image {}", svc.image.as_deref().unwrap_or("?")),
        };
        let port = svc.ports().last().map_or(0, |p| p.host);
        let kind = svc.probe.as_ref().map_or("tcp", |p| p.kind.as_str());
        notes.push(format!(
            "{name}: no wheel carries {what}, so the native backend leaves it out; for one running elsewhere add an external service to onramp.toml (`[services.{name}-external] address = \"HOST:{port}\"` with `probe = {{ kind = \"{kind}\" }}`: probed, never started), or run this service in an engine (`--backend docker`)"
        ));
    }
    notes
}

impl Project {
    /// Load the chosen profile (with the Compose file it or `--compose` names) and derive
    /// everything else from it, once.
    pub fn resolve(
        dir: &Path,
        choice: &Choice,
        selection: &Selection,
        host: &crate::host::Host,
    ) -> Result<Project> {
        let env = |k: &str| host.env(k).map(String::from);
        let loaded = profile::load_with(
            choice,
            &profile::ComposeOptions {
                dir,
                file: selection.compose.clone(),
                profiles: selection.compose_profiles.clone(),
                named: selection.services.clone(),
                env: &env,
                import_only: false,
            },
        )?;
        let mut project = Project::new(dir, loaded.profile, loaded.sources);
        project.compose = loaded.compose;
        project.notes = loaded.notes;
        project.only = selection.services.clone();
        project.backend = selection
            .backend
            .or(project.profile.backend)
            .unwrap_or_default();
        // The profile carries the effective backend, for what reads only the profile (doctor).
        project.profile.backend = Some(project.backend);
        if project.backend == crate::profile::Backend::Native {
            let left_out = leave_out_without_wheels(&mut project.profile);
            project.notes.extend(left_out);
        }
        Ok(project)
    }

    /// Where the stack's definition lives, for the labels Compose reads.
    pub fn origin(&self) -> crate::naming::Origin<'_> {
        let mut o = crate::naming::Origin::new(&self.name, &self.dir, self.compose.as_deref())
            .with_profile(self.profile.display_name());
        o.default_network = self
            .profile
            .networks
            .get("default")
            .and_then(|n| n.name.clone());
        o.volume_names = self
            .profile
            .volumes
            .iter()
            .filter_map(|(k, v)| {
                let external = v.external == Some(true);
                Some((k.clone(), v.name.clone().or(external.then(|| k.clone()))?))
            })
            .collect();
        o.network_names = self
            .profile
            .networks
            .iter()
            .filter_map(|(k, n)| {
                let external = n.external == Some(true);
                Some((k.clone(), n.name.clone().or(external.then(|| k.clone()))?))
            })
            .collect();
        o.container_names = self
            .profile
            .services
            .iter()
            .filter_map(|(k, s)| Some((k.clone(), s.container_name.clone()?)))
            .collect();
        o
    }

    pub fn new(dir: &Path, profile: Profile, sources: Vec<Source>) -> Project {
        Project {
            dir: dir.to_path_buf(),
            state_dir: dir.join(STATE_DIR),
            name: crate::naming::project_name(profile.project.as_deref(), dir),
            profile,
            sources,
            compose: None,
            notes: Vec::new(),
            only: Vec::new(),
            backend: crate::profile::Backend::Docker,
        }
    }

    /// One run at a time per project: an exclusive lock on `.onramp/lock`, held until dropped.
    pub fn lock(&self) -> Result<Lock> {
        let rel = format!("{STATE_DIR}/lock");
        let path = self.dir.join(&rel);
        // Never through a symlink out of the project (`.onramp` planted as a link).
        match crate::fsx::Root::new(&self.dir).try_lock(&rel)? {
            Some(held) => Ok(Lock { _held: held }),
            None => Err(Error::NotReady {
                message: format!("another onramp run is working on {}", self.dir.display()),
                help: format!("wait for it to finish (the lock is {})", path.display()),
            }),
        }
    }
}

/// The held project lock; released when dropped.
#[derive(Debug)]
pub struct Lock {
    _held: crate::fsx::Held,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_project_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::new(dir.path(), Profile::default(), Vec::new());
        let first = p.lock().unwrap();
        let e = p.lock().unwrap_err();
        assert!(e.to_string().contains("another onramp run"), "{e}");
        drop(first);
        assert!(p.lock().is_ok());
        assert!(dir.path().join(STATE_DIR).join("lock").is_file());
    }
}
