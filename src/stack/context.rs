//! A build context as the tar archive the engine's build endpoint takes: only files inside
//! the project, symbolic links stored as links (never followed out of it), filtered by the
//! context's `.dockerignore` with Docker's rules, and never onramp's own `.onramp/`.

use std::path::{Component, Path, PathBuf};

use super::ignore::{Matcher, Parents};
use crate::errors::{Error, Result};

/// The largest build context onramp sends.
const MAX_CONTEXT: u64 = 512 * 1024 * 1024;

/// The directory `context` (relative to the project directory `dir`) as a tar archive, for
/// building `dockerfile` (relative to the context; `Dockerfile` when not given).
pub fn archive(dir: &Path, context: &str, dockerfile: Option<&str>) -> Result<Vec<u8>> {
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
    let matcher = ignore_rules(&canonical, dockerfile.unwrap_or("Dockerfile"))?;
    let mut walk = Walk {
        builder: tar::Builder::new(Vec::new()),
        root: canonical,
        state: canonical_dir.join(crate::project::STATE_DIR),
        matcher,
        total: 0,
    };
    walk.builder.follow_symlinks(false);
    walk.dir(Path::new(""), &Parents::default())
        .map_err(|e| bad(e.to_string()))?;
    walk.builder.into_inner().map_err(|e| bad(e.to_string()))
}

/// The context's ignore rules: `<Dockerfile>.dockerignore` beside the Dockerfile when there is
/// one (as BuildKit, which Compose builds with, reads it), else `.dockerignore`. As the Docker
/// CLI does, the Dockerfile and `.dockerignore` are sent even when a pattern excludes them.
fn ignore_rules(context: &Path, dockerfile: &str) -> Result<Matcher> {
    let root = crate::fsx::Root::new(context);
    let dockerfile = super::ignore::clean(dockerfile);
    let specific = format!("{dockerfile}.dockerignore");
    let (name, text) = match root.read_text(&specific)? {
        Some(text) => (specific, text),
        None => (
            ".dockerignore".to_string(),
            root.read_text(".dockerignore")?.unwrap_or_default(),
        ),
    };
    let mut matcher = Matcher::parse(&text).map_err(|e| {
        Error::Usage(format!(
            "{}: {e}; Docker refuses this pattern too",
            context.join(&name).display()
        ))
    })?;
    for keep in [".dockerignore", dockerfile.as_str()] {
        if matcher.excludes(keep) {
            matcher.keep(keep);
        }
    }
    Ok(matcher)
}

/// The walk over a context: what goes into the archive.
struct Walk {
    builder: tar::Builder<Vec<u8>>,
    root: PathBuf,
    /// The project's `.onramp/`, never sent.
    state: PathBuf,
    matcher: Matcher,
    total: u64,
}

impl Walk {
    /// Add the directory `rel` (relative to the context) and what is in it, as moby's
    /// `TarWithOptions` does: an excluded file is left out; an excluded directory too, unless
    /// an exception pattern names something under it (then it is walked, its own entry left
    /// out).
    fn dir(&mut self, rel: &Path, parent: &Parents) -> std::io::Result<()> {
        for path in crate::fsx::list_strict(&self.root.join(rel))? {
            let Some(file_name) = path.file_name() else {
                continue;
            };
            let name = rel.join(file_name);
            if path == self.state {
                continue;
            }
            let meta = crate::fsx::lstat(&path)
                .ok_or_else(|| std::io::Error::other(format!("{} vanished", path.display())))?;
            let slashed = name.to_string_lossy().replace('\\', "/");
            let (skip, info) = self.matcher.matches(&slashed, parent);
            if meta.is_dir() {
                if !skip {
                    self.builder.append_dir(&name, &path)?;
                } else if !self.matcher.may_reinclude_under(&slashed) {
                    continue;
                }
                self.dir(&name, &info)?;
            } else if !skip && (meta.is_file() || meta.file_type().is_symlink()) {
                self.total += meta.len();
                if self.total > MAX_CONTEXT {
                    return Err(std::io::Error::other(format!(
                        "larger than {} MiB",
                        MAX_CONTEXT / 1024 / 1024
                    )));
                }
                self.builder.append_path_with_name(&path, &name)?;
            }
        }
        Ok(())
    }
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
        let tar = archive(d.path(), "app", None).unwrap();
        let mut names: Vec<String> = tar::Archive::new(tar.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["Dockerfile", "sub", "sub/a.txt"]);
        assert!(archive(d.path(), "../x", None).is_err());
        assert!(archive(d.path(), "/etc", None).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", d.path().join("out")).unwrap();
            let err = archive(d.path(), "out", None).unwrap_err().to_string();
            assert!(err.contains("outside the project"), "{err}");
        }
    }
}
