//! Images as prerequisites: which images a profile needs, one archive that carries them to a
//! machine that cannot reach a registry (`images save` / `images load`), and the check that
//! every one of them is then present in the engine.

pub mod archive;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::api::{Bollard, Engine, EngineError, PullEvent};
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::printer::Printer;
use crate::profile::Profile;
use crate::progress::Ui;
use crate::project::Project;

/// `images save`: connect, then write every image the project's profile needs to `path`.
pub async fn save_for(
    host: &Host,
    project: &Project,
    path: &Path,
    printer: &Printer,
) -> Result<Saved> {
    let engine = crate::machine::connect_or_remedy(host, &project.dir, None).await?;
    save(
        &engine.api,
        &needed(&project.profile),
        path,
        &Ui::new(printer),
    )
    .await
}

/// `images load` and `setup --images`: read the archive (refused before the engine is even
/// asked when it is no regular file or no image archive), connect, load only the images the
/// profile needs, and verify every one of them is present.
pub async fn load_for(
    host: &Host,
    project: &Project,
    path: &Path,
    printer: &Printer,
) -> Result<Loaded> {
    let needed = needed(&project.profile);
    let opened = open_archive(path)?;
    let engine = crate::machine::connect_or_remedy(host, &project.dir, None).await?;
    load(&engine.api, opened, &needed, &Ui::new(printer)).await
}

/// The images of the services onramp starts, each once, in profile order.
pub fn needed(profile: &Profile) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, svc) in profile.services() {
        if let Some(image) = &svc.image
            && !out.contains(image)
        {
            out.push(image.clone());
        }
    }
    out
}

/// One spelling per image: `docker.io/library/redis:7` and `redis:7` are the same image, and a
/// reference without a tag means `:latest`.
pub fn canonical(reference: &str) -> String {
    let r = reference
        .strip_prefix("docker.io/library/")
        .or_else(|| reference.strip_prefix("docker.io/"))
        .or_else(|| reference.strip_prefix("index.docker.io/library/"))
        .unwrap_or(reference);
    let r = r.strip_prefix("library/").unwrap_or(r);
    let last = r.rsplit('/').next().unwrap_or(r);
    if last.contains(':') || last.contains('@') {
        r.to_string()
    } else {
        format!("{r}:latest")
    }
}

/// The images of `needed` that are not among `present`, compared by their canonical names.
pub fn missing(needed: &[String], present: &[String]) -> Vec<String> {
    let have: Vec<String> = present.iter().map(|p| canonical(p)).collect();
    needed
        .iter()
        .filter(|n| !have.contains(&canonical(n)))
        .cloned()
        .collect()
}

/// What `images save` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub path: PathBuf,
    pub images: Vec<String>,
    pub pulled: Vec<String>,
    pub bytes: u64,
}

/// Write every image in `images` to one archive at `path`, pulling those not present first.
/// The archive is written beside `path` under a temporary name and renamed when complete.
pub async fn save(engine: &Bollard, images: &[String], path: &Path, ui: &Ui) -> Result<Saved> {
    let mut pulled = Vec::new();
    for image in images {
        if !engine.image_exists(image).await.map_err(engine_err)? {
            pull(engine, image, ui).await?;
            pulled.push(image.clone());
        }
    }
    let partial = partial_path(path);
    let mut file = crate::fsx::create_new(&partial).map_err(|source| Error::Write {
        path: partial.clone(),
        source,
    })?;
    let line = ui.service(&format!("archive {}", path.display()));
    line.message(&format!("writing {} image(s)", images.len()));
    let written = engine.export_images(images, &mut file).await;
    let finished = written.and_then(|n| {
        file.sync_all()
            .and_then(|()| crate::fsx::finish(&partial, Some(path)))
            .map(|()| n)
            .map_err(|e| EngineError::Failed(format!("cannot finish {}: {e}", path.display())))
    });
    let bytes = match finished {
        Ok(n) => n,
        Err(e) => {
            let _ = crate::fsx::finish(&partial, None);
            line.finish(false, &e.to_string());
            return Err(Error::NotReady {
                message: format!("cannot save the images to {}: {e}", path.display()),
                help: "check the engine (`docker info`) and the free space where the archive goes, then run `onramp images save` again".into(),
            });
        }
    };
    line.finish(true, &format!("{} MB", bytes / 1_000_000));
    Ok(Saved {
        path: path.to_path_buf(),
        images: images.to_vec(),
        pulled,
        bytes,
    })
}

fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "images.tar".into());
    let mut random = [0u8; 6];
    let _ = getrandom::fill(&mut random);
    let tag: String = random.iter().map(|b| format!("{b:02x}")).collect();
    path.with_file_name(format!(".{name}.{tag}.partial"))
}

async fn pull(engine: &Bollard, image: &str, ui: &Ui) -> Result<()> {
    let line = ui.pull(image);
    let started = crate::host::now();
    let mut on = |e: PullEvent| match e {
        PullEvent::Bytes { current, total } => line.bytes(current, total),
        PullEvent::Status(s) => line.message(&s),
    };
    match engine.pull(image, &mut on).await {
        Ok(()) => {
            line.finish(
                true,
                &format!("pulled in {:.1} s", started.elapsed().as_secs_f64()),
            );
            Ok(())
        }
        Err(e) => {
            let why = crate::engine::pull::pull_error(image, &e);
            line.finish(false, &why);
            Err(Error::NotReady {
                message: why,
                help: "`images save` needs every image locally or from its registry: run it where the registry is reachable".into(),
            })
        }
    }
}

/// What `images load` did and found.
#[derive(Debug, Clone, Serialize)]
pub struct Loaded {
    pub path: PathBuf,
    /// Tags the archive holds (its manifest, as the engine reads it).
    pub archive: Vec<String>,
    /// What the engine reported loading.
    pub engine: Vec<String>,
    /// Images the profile needs, all present now.
    pub images: Vec<String>,
    /// Tags the archive carries that the profile does not name: not loaded, so no image of
    /// this machine is re-pointed by them.
    pub skipped: Vec<String>,
}

/// An archive opened for loading: a regular file (a FIFO or device is refused without
/// blocking), its tags read as the engine reads them.
pub struct Opened {
    path: PathBuf,
    file: crate::fsx::Opened,
    archive: archive::Archive,
}

/// Open and read the archive at `path`.
pub fn open_archive(path: &Path) -> Result<Opened> {
    let mut file = crate::fsx::open_regular(path).map_err(|e| match e {
        Error::Unsafe { .. } => Error::Usage(format!(
            "{} is not a regular file (a FIFO, a device or a directory); give the path of an image archive made by `onramp images save -o FILE`",
            path.display()
        )),
        e => e,
    })?;
    let archive = archive::read(&mut file).map_err(|e| {
        Error::Usage(format!(
            "{} is not an image archive onramp can load: {e}; make one with `onramp images save -o {}`",
            path.display(),
            path.display()
        ))
    })?;
    Ok(Opened {
        path: path.to_path_buf(),
        file,
        archive,
    })
}

/// Load the images of `needed` from the archive (its other tags are left out), then verify
/// that every image in `needed` is present: the missing ones are named (exit 1).
pub async fn load(engine: &Bollard, opened: Opened, needed: &[String], ui: &Ui) -> Result<Loaded> {
    let Opened {
        path,
        mut file,
        archive,
    } = opened;
    // Reading the tags left the file at its end.
    std::io::Seek::rewind(&mut file).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    let skipped = archive.others(needed);
    let line = ui.service(&format!("archive {}", path.display()));
    let count = archive.tags.len() - skipped.len();
    line.message(&format!("loading {count} image(s)"));
    let started = crate::host::now();
    let body: Box<dyn std::io::Read + Send> = if skipped.is_empty() {
        Box::new(file)
    } else {
        Box::new(archive.narrowed(file, needed))
    };
    let loaded = match engine.load_images(body).await {
        Ok(l) => l,
        Err(e) => {
            line.finish(false, &e.to_string());
            return Err(Error::NotReady {
                message: format!("the engine could not load {}: {e}", path.display()),
                help: "check the engine (`docker info`) and that the archive is complete (`tar tf FILE`); make it again with `onramp images save -o FILE`".into(),
            });
        }
    };
    line.finish(
        true,
        &format!("loaded in {:.1} s", started.elapsed().as_secs_f64()),
    );
    let mut present = Vec::new();
    for image in needed {
        if engine.image_exists(image).await.map_err(engine_err)? {
            present.push(image.clone());
        }
    }
    let absent = missing(needed, &present);
    if !absent.is_empty() {
        let held = if archive.tags.is_empty() {
            "no tagged images".to_string()
        } else {
            archive.tags.join(", ")
        };
        return Err(Error::NotReady {
            message: format!(
                "after loading {}, the profile still misses {}: the archive holds {held}",
                path.display(),
                absent.join(", ")
            ),
            help: "make the archive with the same profile: `onramp images save -o FILE` on a machine that reaches the registry".into(),
        });
    }
    Ok(Loaded {
        path,
        archive: archive.tags,
        engine: loaded,
        images: needed.to_vec(),
        skipped,
    })
}

fn engine_err(e: EngineError) -> Error {
    Error::NotReady {
        message: format!("the engine refused: {e}"),
        help: "check the engine (`docker info`) and run the command again".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_images_are_named_whatever_the_spelling() {
        let needed: Vec<String> = [
            "redis:7-alpine",
            "127.0.0.1:5000/x/pg:15",
            "chromadb/chroma",
        ]
        .map(String::from)
        .to_vec();
        let present: Vec<String> = ["docker.io/library/redis:7-alpine", "chromadb/chroma:latest"]
            .map(String::from)
            .to_vec();
        assert_eq!(missing(&needed, &present), ["127.0.0.1:5000/x/pg:15"]);
        assert!(missing(&needed, &needed).is_empty());
        assert_eq!(
            canonical("docker.io/chromadb/chroma"),
            "chromadb/chroma:latest"
        );
        assert_eq!(canonical("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b:latest");
        assert_eq!(canonical("127.0.0.1:5000/a/b:1"), "127.0.0.1:5000/a/b:1");
    }

    #[test]
    fn the_profile_needs_the_images_of_the_services_it_starts() {
        let p: Profile = toml::from_str(
            "[services.db]\nimage = \"pg:15\"\n[services.ext]\naddress = \"127.0.0.1:9\"\n\
             [services.replica]\nimage = \"pg:15\"\n[services.cache]\nimage = \"redis:7\"\n",
        )
        .unwrap();
        let mut got = needed(&p);
        got.sort();
        assert_eq!(got, ["pg:15", "redis:7"], "each once, no external service");
    }
}
