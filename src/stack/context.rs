//! A build context as the tar archive the engine's build endpoint takes: only files inside
//! the project, symbolic links stored as links (never followed out of it).

use std::path::{Component, Path};

use crate::errors::{Error, Result};

/// The largest build context onramp sends.
const MAX_CONTEXT: u64 = 512 * 1024 * 1024;

/// The directory `context` (relative to the project directory `dir`) as a tar archive.
pub fn archive(dir: &Path, context: &str) -> Result<Vec<u8>> {
    let rel = Path::new(context);
    let outside = rel.is_absolute() || rel.components().any(|c| matches!(c, Component::ParentDir));
    let root = dir.join(rel);
    let bad = |why: String| Error::Usage(format!("build context {context}: {why}"));
    if outside {
        return Err(bad("is outside the project directory".into()));
    }
    let canonical_dir = dir
        .canonicalize()
        .map_err(|e| bad(format!("project directory: {e}")))?;
    let canonical = root.canonicalize().map_err(|e| bad(e.to_string()))?;
    if !canonical.starts_with(&canonical_dir) {
        return Err(bad(format!(
            "resolves to {}, outside the project directory",
            canonical.display()
        )));
    }
    if !canonical.is_dir() {
        return Err(bad("is not a directory".into()));
    }
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut total = 0u64;
    add_dir(&mut builder, &canonical, Path::new(""), &mut total).map_err(|e| bad(e.to_string()))?;
    builder.into_inner().map_err(|e| bad(e.to_string()))
}

fn add_dir(
    builder: &mut tar::Builder<Vec<u8>>,
    root: &Path,
    rel: &Path,
    total: &mut u64,
) -> std::io::Result<()> {
    for path in crate::fsx::list_strict(&root.join(rel))? {
        let Some(file_name) = path.file_name() else {
            continue;
        };
        let name = rel.join(file_name);
        let meta = crate::fsx::lstat(&path)
            .ok_or_else(|| std::io::Error::other(format!("{} vanished", path.display())))?;
        if meta.is_dir() {
            builder.append_dir(&name, &path)?;
            add_dir(builder, root, &name, total)?;
        } else if meta.is_file() || meta.file_type().is_symlink() {
            *total += meta.len();
            if *total > MAX_CONTEXT {
                return Err(std::io::Error::other(format!(
                    "larger than {} MiB",
                    MAX_CONTEXT / 1024 / 1024
                )));
            }
            builder.append_path_with_name(&path, &name)?;
        }
    }
    Ok(())
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;

    #[test]
    fn archives_hold_the_context_and_refuse_the_outside() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("app/sub")).unwrap();
        std::fs::write(d.path().join("app/Dockerfile"), "FROM x\n").unwrap();
        std::fs::write(d.path().join("app/sub/a.txt"), "a").unwrap();
        let tar = archive(d.path(), "app").unwrap();
        let mut names: Vec<String> = tar::Archive::new(tar.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["Dockerfile", "sub", "sub/a.txt"]);
        assert!(archive(d.path(), "../x").is_err());
        assert!(archive(d.path(), "/etc").is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", d.path().join("out")).unwrap();
            let err = archive(d.path(), "out").unwrap_err().to_string();
            assert!(err.contains("outside the project"), "{err}");
        }
    }
}
