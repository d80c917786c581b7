//! `onramp.lock`: the team's truth about a workstation, meant for git. Each image by its
//! registry digest with the platforms it is offered for, the engine's minimum version, the
//! Python version, the profile's packages (and what they require) as the venv resolved them,
//! and the hash of the profile it was made from.
//!
//! Reading, writing (atomically, through `fsx`), staleness and pinning are here; gathering the
//! facts to lock is `make`, and the packages listing is `venv`.

pub mod make;
pub mod venv;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::distribution;
use crate::errors::{Error, Result};
use crate::fsx::Root;
use crate::profile::Profile;

/// The lock file, beside the project's `onramp.toml`.
pub const FILE: &str = "onramp.lock";
/// The format this onramp writes and reads.
pub const FORMAT: u32 = 1;
/// The oldest engine onramp supports: Docker 20.10, Engine API 1.41 (Podman answers the same
/// API version). A lock never asks for less; a minimum raised by hand is kept by `onramp lock`.
pub const ENGINE_FLOOR: &str = "20.10";
pub const API_FLOOR: &str = "1.41";

const HEADER: &str = "\
# onramp.lock: written by `onramp lock`; commit it with the project.
# `onramp up` and `onramp setup` pull each image by the digest below; `onramp verify` checks this
# machine against this file; `onramp lock --check` fails when the profile changed since.
";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub format: u32,
    /// The profile's name, for people.
    pub profile: String,
    /// sha256 of the resolved profile the lock was made from.
    pub profile_sha256: String,
    pub engine: EngineLock,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<PythonLock>,
    #[serde(default, rename = "image", skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageLock>,
    #[serde(default, rename = "package", skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageLock>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineLock {
    /// The oldest Docker Engine version the team accepts (`major.minor`).
    pub minimum: String,
    /// The oldest Engine API version (Docker and Podman alike).
    pub minimum_api: String,
    /// What the lock was made with, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_with: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonLock {
    /// `major.minor.patch` of the interpreter the packages were resolved with.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageLock {
    /// The reference as the profile writes it.
    pub reference: String,
    pub digest: String,
    /// `os/arch[/variant]` of every platform the registry's index offers.
    pub platforms: Vec<String>,
    /// The services that run it.
    pub services: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageLock {
    pub name: String,
    pub version: String,
    /// Over the files the wheel installed; absent for an editable install.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// One of the profile's `[sdk] packages` (the others are what those require).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub profile: bool,
}

impl Lock {
    /// The locked entry of an image reference.
    pub fn image(&self, reference: &str) -> Option<&ImageLock> {
        self.images.iter().find(|i| i.reference == reference)
    }

    /// The file's text: a header, then TOML.
    pub fn render(&self) -> Result<String> {
        let body = toml::to_string(self)
            .map_err(|e| Error::Internal(format!("cannot write {FILE}: {e}")))?;
        Ok(format!("{HEADER}\n{body}"))
    }

    /// Parse a lock file's text; `label` names it in errors.
    pub fn parse(text: &str, label: &str) -> Result<Lock> {
        let lock: Lock = toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| crate::profile::locate_line_col(text, s.start))
                .unwrap_or((1, 1));
            Error::Profile {
                file: label.to_string(),
                line,
                col,
                message: crate::secrets::strip_error_value(e.message()),
                help: format!(
                    "fix it, or write it anew with `onramp lock` ({FILE} is made by onramp)"
                ),
            }
        })?;
        if lock.format != FORMAT {
            return Err(Error::Profile {
                file: label.to_string(),
                line: 1,
                col: 1,
                message: format!(
                    "lock format {} is not the format {FORMAT} this onramp reads",
                    lock.format
                ),
                help: "use the onramp version that wrote it, or write it anew with `onramp lock`"
                    .into(),
            });
        }
        Ok(lock)
    }
}

/// The project's lock, read through the safe path; `None` when there is none.
pub fn read(dir: &Path) -> Result<Option<Lock>> {
    match Root::new(dir).read_text(FILE)? {
        None => Ok(None),
        Some(text) => Lock::parse(&text, &dir.join(FILE).display().to_string()).map(Some),
    }
}

/// Write the lock atomically (temporary file, fsync, rename) inside the project.
pub fn write(dir: &Path, lock: &Lock) -> Result<()> {
    Root::new(dir).write(FILE, lock.render()?.as_bytes(), 0o644)
}

/// sha256 of the resolved profile: any change to what onramp would do changes it. The
/// `[network]` settings are left out: they are this machine's way to the registries (a team
/// file's `ca_file` resolves to a path on this machine, a proxy is per office), and what they
/// change in the services (mapped images, a root's bind) is in the services already.
pub fn profile_hash(profile: &Profile) -> String {
    let mut shared = profile.clone();
    shared.network = Default::default();
    crate::naming::sha256(&serde_json::to_string(&shared).unwrap_or_default())
}

/// Each image the profile pulls (built ones are made here, not pulled), with its services.
pub fn lockable(profile: &Profile) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (name, svc) in profile.services() {
        let (Some(image), None) = (&svc.image, &svc.build) else {
            continue;
        };
        match out.iter_mut().find(|(i, _)| i == image) {
            Some((_, services)) => services.push(name.clone()),
            None => out.push((image.clone(), vec![name.clone()])),
        }
    }
    out
}

/// Why the lock no longer describes the profile, if it does not.
pub fn stale(lock: &Lock, profile: &Profile) -> Option<String> {
    let needed = lockable(profile);
    let unlocked: Vec<&String> = needed
        .iter()
        .map(|(i, _)| i)
        .filter(|i| lock.image(i).is_none())
        .collect();
    if !unlocked.is_empty() {
        let list: Vec<&str> = unlocked.iter().map(|s| s.as_str()).collect();
        return Some(format!(
            "the profile uses images the lock does not have: {}",
            list.join(", ")
        ));
    }
    (lock.profile_sha256 != profile_hash(profile))
        .then(|| "the profile changed since the lock was written".to_string())
}

/// The profile with every locked image replaced by `repository@digest`, so that `up` pulls
/// and runs exactly the locked image. Images the lock does not have stay as they are.
pub fn pin(profile: &Profile, lock: &Lock) -> Profile {
    let mut pinned = profile.clone();
    for svc in pinned.services.values_mut() {
        if let Some(image) = &svc.image
            && let Some(locked) = lock.image(image)
        {
            svc.image = Some(pinned_reference(locked));
        }
    }
    pinned
}

/// The reference that pulls exactly the locked image.
pub fn pinned_reference(locked: &ImageLock) -> String {
    distribution::pinned(&locked.reference, &locked.digest)
}

/// The profile `up` runs: pinned by the project's lock when it has one. A lock that cannot be
/// read is an error (exit 2); a stale one still pins the images it has, and says so.
pub fn pinned_profile(dir: &Path, profile: &Profile) -> Result<(Profile, Option<String>)> {
    let Some(lock) = read(dir)? else {
        return Ok((profile.clone(), None));
    };
    let note = stale(&lock, profile)
        .map(|why| format!("{FILE} is stale ({why}); run `onramp lock` to bring it up to date"));
    Ok((pin(profile, &lock), note))
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        toml::from_str(
            "name = \"t\"\n[services.db]\nimage = \"reg:5000/t/pg:15\"\n[services.cache]\nimage = \"redis:7\"\n",
        )
        .unwrap()
    }

    fn lock(p: &Profile) -> Lock {
        Lock {
            format: FORMAT,
            profile: "t".into(),
            profile_sha256: profile_hash(p),
            engine: EngineLock {
                minimum: ENGINE_FLOOR.into(),
                minimum_api: API_FLOOR.into(),
                locked_with: Some("Docker 20.10.24".into()),
            },
            python: Some(PythonLock {
                version: "3.11.7".into(),
            }),
            images: vec![
                ImageLock {
                    reference: "reg:5000/t/pg:15".into(),
                    digest: "sha256:aa".into(),
                    platforms: vec!["linux/amd64".into()],
                    services: vec!["db".into()],
                },
                ImageLock {
                    reference: "redis:7".into(),
                    digest: "sha256:bb".into(),
                    platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
                    services: vec!["cache".into()],
                },
            ],
            packages: vec![PackageLock {
                name: "kailash".into(),
                version: "1.0".into(),
                sha256: Some("cc".into()),
                profile: true,
            }],
        }
    }

    #[test]
    fn a_lock_reads_back_as_written() {
        let p = profile();
        let l = lock(&p);
        let text = l.render().unwrap();
        assert!(text.starts_with("# onramp.lock"));
        assert!(text.contains("[[image]]"), "{text}");
        assert_eq!(Lock::parse(&text, FILE).unwrap(), l);
    }

    #[test]
    fn a_broken_lock_names_its_line() {
        let e = Lock::parse("format = 1\nprofile = [\n", "x/onramp.lock").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().starts_with("x/onramp.lock:"), "{e}");
        let e = Lock::parse("format = 9\nprofile = \"t\"\nprofile_sha256 = \"x\"\n[engine]\nminimum = \"1\"\nminimum_api = \"1\"\n", FILE).unwrap_err();
        assert!(e.to_string().contains("format 9"), "{e}");
    }

    #[test]
    fn pinning_replaces_locked_images_by_repository_and_digest() {
        let p = profile();
        let pinned = pin(&p, &lock(&p));
        assert_eq!(
            pinned.services["db"].image.as_deref(),
            Some("reg:5000/t/pg@sha256:aa")
        );
        assert_eq!(
            pinned.services["cache"].image.as_deref(),
            Some("redis@sha256:bb")
        );
    }

    #[test]
    fn a_changed_profile_makes_the_lock_stale() {
        let p = profile();
        let l = lock(&p);
        assert_eq!(stale(&l, &p), None);
        let mut env_changed = p.clone();
        env_changed.services.get_mut("db").unwrap().env =
            Some([("A".to_string(), "1".to_string())].into());
        assert!(stale(&l, &env_changed).unwrap().contains("profile changed"));
        let mut new_image = p.clone();
        new_image.services.get_mut("db").unwrap().image = Some("reg:5000/t/pg:16".into());
        assert!(stale(&l, &new_image).unwrap().contains("reg:5000/t/pg:16"));
    }

    #[test]
    fn network_settings_of_this_machine_do_not_make_the_lock_stale_but_a_mapped_image_does() {
        let p = profile();
        let l = lock(&p);
        let mut elsewhere = p.clone();
        elsewhere.network.ca_file = Some("/home/someone/team/root.pem".into());
        elsewhere.network.proxy = Some("http://proxy.office:3128".into());
        assert_eq!(stale(&l, &elsewhere), None);
        let mut mapped = p.clone();
        mapped.network.image_prefix = Some("corp/hub".into());
        let image = mapped.network.map_image("redis:7");
        mapped.services.get_mut("cache").unwrap().image = Some(image);
        assert!(stale(&l, &mapped).unwrap().contains("corp/hub/redis:7"));
    }

    #[test]
    fn built_images_are_not_locked_and_do_not_make_the_lock_stale() {
        let mut p = profile();
        p.services.insert(
            "app".into(),
            toml::from_str("image = \"proj-app\"\nbuild = { context = \"app\" }\n").unwrap(),
        );
        let names: Vec<String> = lockable(&p).into_iter().map(|(i, _)| i).collect();
        assert_eq!(names, ["redis:7", "reg:5000/t/pg:15"]);
        let mut l = lock(&p);
        l.profile_sha256 = profile_hash(&p);
        assert_eq!(stale(&l, &p), None);
    }

    #[test]
    fn the_lock_is_read_and_written_inside_the_project_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_none());
        let p = profile();
        write(dir.path(), &lock(&p)).unwrap();
        assert_eq!(read(dir.path()).unwrap().unwrap(), lock(&p));
        let (pinned, note) = pinned_profile(dir.path(), &p).unwrap();
        assert!(note.is_none());
        assert!(
            pinned.services["db"]
                .image
                .as_deref()
                .unwrap()
                .contains('@')
        );
        #[cfg(unix)]
        {
            let other = tempfile::tempdir().unwrap();
            std::fs::remove_file(dir.path().join(FILE)).unwrap();
            std::os::unix::fs::symlink(other.path().join("x"), dir.path().join(FILE)).unwrap();
            assert!(write(dir.path(), &lock(&p)).is_err());
            assert!(!other.path().join("x").exists());
        }
    }
}
