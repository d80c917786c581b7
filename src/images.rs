//! Images as prerequisites: which images a profile needs, one archive that carries them to a
//! machine that cannot reach a registry (`images save` / `images load`), and the check that
//! every one of them is then present in the engine.

use std::io::{Read, Seek, SeekFrom};
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

/// `images load` and `setup --images`: connect, load `path`, and verify every image the
/// project's profile needs is present.
pub async fn load_for(
    host: &Host,
    project: &Project,
    path: &Path,
    printer: &Printer,
) -> Result<Loaded> {
    let engine = crate::machine::connect_or_remedy(host, &project.dir, None).await?;
    load(
        &engine.api,
        path,
        &needed(&project.profile),
        &Ui::new(printer),
    )
    .await
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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("it is not a tar archive ({0})")]
    NotTar(String),
    #[error("it holds no manifest.json, so it is not an image archive")]
    NoManifest,
    #[error("its manifest.json cannot be read: {0}")]
    BadManifest(String),
}

/// The image tags an image archive (`docker save` / `podman save` format) holds, from its
/// `manifest.json`, found by walking the tar headers without reading the layers.
pub fn archive_tags(file: &mut (impl Read + Seek)) -> Result<Vec<String>, ArchiveError> {
    let io = |e: std::io::Error| ArchiveError::NotTar(e.to_string());
    let mut header = [0u8; 512];
    let mut first = true;
    loop {
        if let Err(e) = file.read_exact(&mut header) {
            return if first {
                Err(io(e))
            } else {
                Err(ArchiveError::NoManifest)
            };
        }
        if header.iter().all(|b| *b == 0) {
            return Err(ArchiveError::NoManifest);
        }
        let entry = parse_header(&header).ok_or_else(|| {
            ArchiveError::NotTar("a header with an unreadable size or checksum".into())
        })?;
        first = false;
        let padded = entry.size.div_ceil(512) * 512;
        if entry.name.trim_start_matches("./") == "manifest.json" {
            let len = usize::try_from(entry.size)
                .ok()
                .filter(|l| *l <= 16 << 20)
                .ok_or_else(|| ArchiveError::BadManifest("larger than 16 MiB".into()))?;
            let mut text = vec![0u8; len];
            file.read_exact(&mut text).map_err(io)?;
            return manifest_tags(&text);
        }
        let skip = i64::try_from(padded).map_err(|_| ArchiveError::NotTar("size".into()))?;
        file.seek(SeekFrom::Current(skip)).map_err(io)?;
    }
}

struct TarEntry {
    name: String,
    size: u64,
}

fn parse_header(h: &[u8; 512]) -> Option<TarEntry> {
    let field = |range: std::ops::Range<usize>| {
        let raw = &h[range];
        let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
        String::from_utf8_lossy(&raw[..end]).into_owned()
    };
    let octal = |range: std::ops::Range<usize>| {
        u64::from_str_radix(field(range).trim_matches([' ', '\0']).trim(), 8).ok()
    };
    let stored = octal(148..156)?;
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if sum != stored {
        return None;
    }
    let prefix = field(345..500);
    let name = field(0..100);
    let name = if prefix.is_empty() || &h[257..262] != b"ustar" {
        name
    } else {
        format!("{prefix}/{name}")
    };
    Some(TarEntry {
        name,
        size: octal(124..136)?,
    })
}

fn manifest_tags(text: &[u8]) -> Result<Vec<String>, ArchiveError> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "RepoTags", default)]
        repo_tags: Option<Vec<String>>,
    }
    let entries: Vec<Entry> =
        serde_json::from_slice(text).map_err(|e| ArchiveError::BadManifest(e.to_string()))?;
    Ok(entries
        .into_iter()
        .flat_map(|e| e.repo_tags.unwrap_or_default())
        .collect())
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
    /// Tags the archive holds (its manifest).
    pub archive: Vec<String>,
    /// What the engine reported loading.
    pub engine: Vec<String>,
    /// Images the profile needs, all present now.
    pub images: Vec<String>,
}

/// Load the archive at `path`, then verify that every image in `needed` is present: the
/// missing ones are named (exit 1).
pub async fn load(engine: &Bollard, path: &Path, needed: &[String], ui: &Ui) -> Result<Loaded> {
    let mut file = crate::fsx::open_read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(Error::Usage(format!("{} is not a file", path.display())));
    }
    let archive = archive_tags(&mut file).map_err(|e| {
        Error::Usage(format!(
            "{} is not an image archive: {e}; make one with `onramp images save -o {}`",
            path.display(),
            path.display()
        ))
    })?;
    file.seek(SeekFrom::Start(0))
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let line = ui.service(&format!("archive {}", path.display()));
    line.message(&format!("loading {} image(s)", archive.len()));
    let started = crate::host::now();
    let loaded = match engine.load_images(file).await {
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
        let held = if archive.is_empty() {
            "no tagged images".to_string()
        } else {
            archive.join(", ")
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
        path: path.to_path_buf(),
        archive,
        engine: loaded,
        images: needed.to_vec(),
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
    use std::io::Cursor;

    use super::*;

    /// A tar with the given entries, as GNU tar / the engines write them (ustar headers).
    fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in entries {
            let mut h = [0u8; 512];
            h[..name.len()].copy_from_slice(name.as_bytes());
            h[100..107].copy_from_slice(b"0000644");
            h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
            h[156] = b'0';
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
            h[148..156].copy_from_slice(b"        ");
            let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
            h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
            out.extend_from_slice(&h);
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    /// manifest.json as Podman 4.3 wrote it for `images/get?names=..&names=..` (recorded).
    const PODMAN_MANIFEST: &str = r#"[{"Config":"3b7408242508227543daff41570e330cee189ffa08683ef6947a545a8eb62cc8.json","RepoTags":["127.0.0.1:5000/onramp-test/redis:7"],"Layers":["b013e9c735511badb899f12b4f9ab936140d6fad915b526b0f33866c63474fc9.tar"]},{"Config":"075938fa59e2caf587df3658981213aae8b612c564d5dde2e635a18be387203e.json","RepoTags":["127.0.0.1:5000/onramp-test/postgres:15"],"Layers":["b013e9c735511badb899f12b4f9ab936140d6fad915b526b0f33866c63474fc9.tar"]}]"#;

    #[test]
    fn tags_come_from_the_manifest_after_the_layers() {
        let layer = vec![7u8; 1500];
        let t = tar(&[
            ("b013e9/layer.tar", &layer),
            ("3b74.json", b"{}"),
            ("manifest.json", PODMAN_MANIFEST.as_bytes()),
        ]);
        let tags = archive_tags(&mut Cursor::new(t)).unwrap();
        assert_eq!(
            tags,
            [
                "127.0.0.1:5000/onramp-test/redis:7",
                "127.0.0.1:5000/onramp-test/postgres:15"
            ]
        );
    }

    #[test]
    fn files_that_are_not_image_archives_are_named_so() {
        let no_manifest = tar(&[("hello.txt", b"hi")]);
        assert_eq!(
            archive_tags(&mut Cursor::new(no_manifest)),
            Err(ArchiveError::NoManifest)
        );
        let text = b"just some text, long enough to fill a header? no".to_vec();
        assert!(matches!(
            archive_tags(&mut Cursor::new(text)),
            Err(ArchiveError::NotTar(_))
        ));
        let garbage = vec![b'x'; 2048];
        assert!(matches!(
            archive_tags(&mut Cursor::new(garbage)),
            Err(ArchiveError::NotTar(_))
        ));
        let bad = tar(&[("manifest.json", b"{not json")]);
        assert!(matches!(
            archive_tags(&mut Cursor::new(bad)),
            Err(ArchiveError::BadManifest(_))
        ));
    }

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
