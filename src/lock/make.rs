//! Gathering what `onramp lock` writes: each image's digest and platforms from its registry
//! (through the engine), the engine's version, the interpreter's version and the profile's
//! packages as it has them installed.

use futures_util::future::join_all;

use super::venv;
use super::{
    API_FLOOR, ENGINE_FLOOR, EngineLock, FORMAT, ImageLock, Lock, PackageLock, PythonLock,
    profile_hash,
};
use crate::engine::api::{Bollard, EngineError};
use crate::engine::distribution;
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::project::Project;
use crate::version::{Version, VersionReq};

/// The lock, and what the user should hear about how it was made.
#[derive(Debug, Clone)]
pub struct Made {
    pub lock: Lock,
    pub notes: Vec<String>,
}

/// Gather everything the lock holds for this project.
pub async fn make(host: &Host, project: &Project) -> Result<Made> {
    let profile = &project.profile;
    let previous = super::read(&project.dir).ok().flatten();
    let mut notes = Vec::new();
    let wanted = super::lockable(&project.profile);
    let mut engine = EngineLock {
        minimum: ENGINE_FLOOR.into(),
        minimum_api: API_FLOOR.into(),
        locked_with: None,
    };
    let mut images = Vec::new();
    if !wanted.is_empty() {
        let connected = crate::machine::connect_or_remedy(host, &project.dir, None).await?;
        if let Ok(v) = distribution::version(&connected.api).await {
            engine.locked_with = Some(format!(
                "{} {} (API {}, {})",
                crate::engine::product(Some(&connected.endpoint)),
                v.version,
                v.api_version,
                v.platform
            ));
        }
        images = lock_images(&connected.api, &wanted, &mut notes).await?;
    }
    if let Some(prev) = &previous {
        engine.minimum = higher(&engine.minimum, &prev.engine.minimum);
        engine.minimum_api = higher(&engine.minimum_api, &prev.engine.minimum_api);
    }
    let (python, packages) = lock_python(host, project, &mut notes).await;
    Ok(Made {
        lock: Lock {
            format: FORMAT,
            profile: profile.display_name().to_string(),
            profile_sha256: profile_hash(profile),
            engine,
            python,
            images,
            packages,
        },
        notes,
    })
}

/// Ask the registry for every image at once; an image the registry cannot be asked about is
/// locked by the digest of the copy this machine pulled, and said so.
async fn lock_images(
    api: &Bollard,
    wanted: &[(String, Vec<String>)],
    notes: &mut Vec<String>,
) -> Result<Vec<ImageLock>> {
    let asked = join_all(wanted.iter().map(|(image, _)| async move {
        (
            distribution::remote(api, image).await,
            distribution::local(api, image).await,
        )
    }))
    .await;
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for ((image, services), (remote, local)) in wanted.iter().zip(asked) {
        match locked_image(image, remote, local) {
            Ok((lock, note)) => {
                notes.extend(note);
                out.push(ImageLock {
                    services: services.clone(),
                    ..lock
                });
            }
            Err(why) => failures.push(why),
        }
    }
    if !failures.is_empty() {
        return Err(Error::NotReady {
            message: format!("cannot lock: {}", failures.join("; ")),
            help: "check that the registry answers (`docker pull IMAGE` shows the same), or pull the image once, then run `onramp lock` again".into(),
        });
    }
    Ok(out)
}

/// One image's entry from the registry's answer, or from the local copy when the registry
/// could not be asked.
fn locked_image(
    image: &str,
    remote: std::result::Result<distribution::Remote, EngineError>,
    local: std::result::Result<Option<distribution::Local>, EngineError>,
) -> std::result::Result<(ImageLock, Option<String>), String> {
    let entry = |digest: String, platforms: Vec<String>| ImageLock {
        reference: image.to_string(),
        digest,
        platforms,
        services: Vec::new(),
    };
    let remote_err = match remote {
        Ok(r) => {
            let digest = distribution::named_digest(image)
                .map(str::to_string)
                .unwrap_or(r.digest);
            return Ok((entry(digest, r.platforms), None));
        }
        Err(e) => e,
    };
    let Ok(Some(local)) = local else {
        return Err(format!(
            "the registry gave no answer for {image} ({remote_err}) and this machine does not have it"
        ));
    };
    let digests = distribution::digests_for(&local.repo_digests, image);
    let Some(digest) = distribution::named_digest(image).or(digests.first().copied()) else {
        return Err(format!(
            "the registry gave no answer for {image} ({remote_err}) and the copy here was never pulled from a registry, so it has no digest"
        ));
    };
    let note = format!(
        "the registry gave no answer for {image} ({remote_err}): locked the digest of the copy on this machine, for its platform {} only",
        local.platform
    );
    Ok((entry(digest.to_string(), vec![local.platform]), Some(note)))
}

/// The interpreter the SDK ladder would take first, its version, and the profile's packages
/// as it has them installed.
async fn lock_python(
    host: &Host,
    project: &Project,
    notes: &mut Vec<String>,
) -> (Option<PythonLock>, Vec<PackageLock>) {
    let req = project
        .profile
        .requirements
        .python
        .as_deref()
        .and_then(|r| VersionReq::parse(r).ok());
    let found = crate::python::find(host, &project.dir, None, req.as_ref()).await;
    let Some(py) = found.interpreter else {
        notes.push(format!(
            "no Python interpreter{} was found: the lock has no Python version and no packages; `onramp doctor --fix` installs one",
            req.map(|_| " of the version the profile needs")
                .unwrap_or_default(),
        ));
        return (None, Vec::new());
    };
    let python = Some(PythonLock {
        version: py.version.to_string(),
    });
    let roots = project.profile.sdk.packages.clone().unwrap_or_default();
    if roots.is_empty() {
        return (python, Vec::new());
    }
    match venv::list(host, &py, &roots).await {
        Ok(listing) => {
            if !listing.missing.is_empty() {
                notes.push(format!(
                    "{} not installed for {}: they are not in the lock; `onramp validate` installs them into .venv, then run `onramp lock` again",
                    listing.missing.join(", "),
                    py.executable
                ));
            }
            (python, packages_of(listing.packages))
        }
        Err(why) => {
            notes.push(format!("the packages are not in the lock: {why}"));
            (python, Vec::new())
        }
    }
}

fn packages_of(installed: Vec<venv::Installed>) -> Vec<PackageLock> {
    installed
        .into_iter()
        .map(|p| PackageLock {
            name: p.name,
            version: p.version,
            sha256: p.sha256,
            profile: p.root,
        })
        .collect()
}

/// The higher of two versions (`20.10`, `24.0`), as written.
fn higher(a: &str, b: &str) -> String {
    match (Version::parse(a), Version::parse(b)) {
        (Some(va), Some(vb)) if vb > va => b.to_string(),
        (None, Some(_)) => b.to_string(),
        _ => a.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(digests: &[&str], platform: &str) -> distribution::Local {
        distribution::Local {
            id: "sha256:id".into(),
            repo_digests: digests.iter().map(|s| s.to_string()).collect(),
            platform: platform.into(),
        }
    }

    #[test]
    fn the_registry_answer_is_locked_as_given() {
        let remote = Ok(distribution::Remote {
            digest: "sha256:aa".into(),
            platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        });
        let (l, note) = locked_image("r:5000/a/pg:15", remote, Ok(None)).unwrap();
        assert_eq!(l.digest, "sha256:aa");
        assert_eq!(l.platforms.len(), 2);
        assert!(note.is_none());
    }

    #[test]
    fn without_a_registry_the_local_copy_is_locked_and_said_so() {
        let remote = Err(EngineError::Failed("connection refused".into()));
        let loc = Ok(Some(local(&["r:5000/a/pg@sha256:bb"], "linux/amd64")));
        let (l, note) = locked_image("r:5000/a/pg:15", remote, loc).unwrap();
        assert_eq!(l.digest, "sha256:bb");
        assert_eq!(l.platforms, ["linux/amd64"]);
        assert!(note.unwrap().contains("connection refused"));
        let remote = Err(EngineError::Failed("refused".into()));
        let never_pulled = Ok(Some(local(&[], "linux/amd64")));
        let e = locked_image("r:5000/a/pg:15", remote, never_pulled).unwrap_err();
        assert!(e.contains("no digest"), "{e}");
        let e = locked_image("x:1", Err(EngineError::Failed("r".into())), Ok(None)).unwrap_err();
        assert!(e.contains("does not have it"), "{e}");
    }

    #[test]
    fn a_raised_minimum_is_kept() {
        assert_eq!(higher("20.10", "24.0"), "24.0");
        assert_eq!(higher("20.10", "19.03"), "20.10");
        assert_eq!(higher("1.41", "1.43"), "1.43");
    }
}
