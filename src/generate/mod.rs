//! Rendering the profile's files from templates and writing them safely: atomically, with a
//! manifest of what onramp wrote, never over a file the user changed (unless `--force`).

pub mod context;
#[cfg(test)]
mod fuzz;
pub mod run;
pub mod shim;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use crate::errors::{Error, Result};
use crate::fsx::{self, Root};
use crate::host::Host;
use crate::naming::STATE_DIR;
use crate::profile::{FileSpec, parse_mode};

const MANIFEST: &str = "manifest.json";
/// Mode of a file that holds a secret, whatever the profile says.
pub const SECRET_MODE: u32 = 0o600;
/// Mode of any other file the profile gives no mode for, whatever the umask.
pub const DEFAULT_MODE: u32 = 0o644;

/// What happens to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Unchanged,
    /// onramp's own earlier version, replaced.
    Update,
    /// The user changed the file: it stays, the new version goes beside it.
    KeepEdited {
        new_path: String,
    },
    /// `--force` over a user's change: the old content is kept as a backup.
    Replace {
        backup: String,
    },
}

/// One rendered file and what to do with it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub rel: String,
    pub abs: PathBuf,
    pub content: String,
    /// The mode the file gets (0600 for a file holding a secret); `None` where files have no
    /// modes (Windows).
    pub mode: Option<u32>,
    pub action: Action,
    /// A unified diff from the file on disk to the new content, when they differ.
    pub diff: Option<String>,
    /// The mode a secret file on disk had when it was looser than 0600 (it is tightened).
    pub loosened: Option<u32>,
    old: Option<String>,
    /// The mode of the file on disk, kept by its backup.
    old_mode: u32,
    /// Whether the `.new` file this action writes is onramp's own earlier one.
    side_ours: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub files: BTreeMap<String, ManifestEntry>,
    /// `.new` files onramp wrote beside files the user changed, with their hashes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sides: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub sha256: String,
    /// While a run is writing: the hash the file had before, also onramp's (so a run killed
    /// between the manifest and the file never takes onramp's own file for the user's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
}

impl ManifestEntry {
    fn is(&self, sha: &str) -> bool {
        self.sha256 == sha || self.pending.iter().any(|p| p == sha)
    }
}

pub use crate::naming::sha256;

/// A template environment with strict undefined, kept trailing newlines and no escaping; values
/// reach the output only through the escaping filters of [`crate::escape`].
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.add_filter("yaml", |v: String| crate::escape::yaml(&v));
    env.add_filter("dotenv", |v: String| {
        crate::escape::dotenv(&v).ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "a value with a `$` and a single quote or backslash cannot be written to .env literally",
            )
        })
    });
    env.add_filter("pystr", |v: String| crate::escape::python(&v));
    env.add_filter("shell", |v: String| crate::escape::shell(&v));
    env
}

/// The source of a template: embedded by name, or a regular file inside the project.
fn template_source(dir: &Path, name: &str) -> Result<(String, String)> {
    if let Some(text) = crate::profile::embedded_template(name) {
        return Ok((name.to_string(), text.to_string()));
    }
    let path = dir.join(name);
    let text = Root::new(dir).read_text(name)?.ok_or_else(|| Error::Read {
        path: path.clone(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    Ok((path.display().to_string(), text))
}

/// Render one template with the context; LF line endings.
pub fn render(dir: &Path, template: &str, ctx: &context::Context) -> Result<String> {
    let (label, text) = template_source(dir, template)?;
    let env = environment();
    let terr = |e: minijinja::Error| Error::Template {
        name: label.clone(),
        message: match e.line() {
            Some(l) => format!("line {l}: {e}"),
            None => e.to_string(),
        },
    };
    let tmpl = env.template_from_named_str(&label, &text).map_err(terr)?;
    let out = tmpl.render(minijinja::value::Serde(ctx)).map_err(terr)?;
    Ok(out.replace("\r\n", "\n"))
}

fn manifest_rel() -> String {
    format!("{STATE_DIR}/{MANIFEST}")
}

/// The manifest, read safely; an unreadable or linked `.onramp/` is an error.
pub fn load_manifest(dir: &Path) -> Result<Manifest> {
    Ok(Root::new(dir)
        .read_text(&manifest_rel())?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// Whether a rendered file holds a secret: a `.env` file, or content the masker would change.
fn holds_secret(spec: &FileSpec, content: &str) -> bool {
    let name = Path::new(&spec.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.starts_with(".env")
        || spec.template == "env"
        || crate::secrets::mask_text(content) != content
}

/// Decide what to do with one rendered file.
pub fn plan_file(
    dir: &Path,
    manifest: &Manifest,
    spec: &FileSpec,
    content: String,
    force: bool,
) -> Result<Planned> {
    let root = Root::new(dir);
    let abs = dir.join(&spec.path);
    let secret = holds_secret(spec, &content);
    let mode = if secret {
        SECRET_MODE
    } else {
        spec.mode
            .as_deref()
            .and_then(parse_mode)
            .unwrap_or(DEFAULT_MODE)
    };
    let old = root.read_text(&spec.path)?;
    if let Some(o) = &old {
        crate::secrets::register_from_text(o);
    }
    let old_mode = match root.kind(&spec.path)? {
        fsx::Kind::File { mode } => mode,
        _ => mode,
    };
    let mut side_ours = false;
    let action = match &old {
        None => Action::Create,
        Some(o) if *o == content => Action::Unchanged,
        Some(o) => {
            let ours = manifest
                .files
                .get(&spec.path)
                .is_some_and(|e| e.is(&sha256(o)));
            if ours {
                Action::Update
            } else if force {
                Action::Replace {
                    backup: fsx::free_name(&root, &format!("{}.bak", spec.path))?,
                }
            } else {
                let (new_path, ours) = side_name(&root, manifest, &format!("{}.new", spec.path))?;
                side_ours = ours;
                Action::KeepEdited { new_path }
            }
        }
    };
    let diff = old
        .as_ref()
        .filter(|o| **o != content)
        .map(|o| unified_diff(o, &content, &spec.path));
    let keeps_old = matches!(action, Action::Unchanged | Action::KeepEdited { .. });
    let loosened = (fsx::MODES && secret && keeps_old && old_mode & 0o077 != 0).then_some(old_mode);
    Ok(Planned {
        rel: spec.path.clone(),
        abs,
        content,
        mode: fsx::MODES.then_some(mode),
        action,
        diff,
        loosened,
        old,
        old_mode,
        side_ours,
    })
}

/// Where the `.new` version of a file goes: onramp's own earlier `.new` (recorded in the
/// manifest with the hash it still has), else the first free name among `NAME.new`,
/// `NAME.new.1`, ...; a file the user made there is never replaced.
fn side_name(root: &Root, manifest: &Manifest, base: &str) -> Result<(String, bool)> {
    for (name, sha) in &manifest.sides {
        let candidate = name == base
            || name
                .strip_prefix(base)
                .and_then(|r| r.strip_prefix('.'))
                .is_some_and(|n| n.parse::<u32>().is_ok());
        if candidate
            && let Ok(Some(text)) = root.read_text(name)
            && sha256(&text) == *sha
        {
            return Ok((name.clone(), true));
        }
    }
    Ok((fsx::free_name(root, base)?, false))
}

/// The manifest's text before a run, to restore on rollback.
pub fn manifest_text(dir: &Path) -> Option<String> {
    Root::new(dir).read_text(&manifest_rel()).ok().flatten()
}

/// Undo an applied plan: created files are removed, replaced ones get their old content back,
/// side files this run wrote are removed, and the manifest is restored. Returns what was done.
pub fn roll_back(
    _host: &Host,
    dir: &Path,
    plans: &[Planned],
    manifest_before: Option<&str>,
) -> Vec<String> {
    let root = Root::new(dir);
    let mut done = Vec::new();
    for p in plans {
        let side = match &p.action {
            Action::KeepEdited { new_path } if !p.side_ours => Some(new_path),
            Action::Replace { backup } => Some(backup),
            _ => None,
        };
        if let Some(side) = side
            && root.remove(side).is_ok()
        {
            done.push(format!("removed {side}"));
        }
        let mode = p.mode.unwrap_or(DEFAULT_MODE);
        let undone = match (&p.action, &p.old) {
            (Action::Create, _) => root.remove(&p.rel).is_ok().then_some("removed"),
            (Action::Update, Some(old)) => root
                .write(&p.rel, old.as_bytes(), mode)
                .is_ok()
                .then_some("restored"),
            (Action::Replace { .. }, Some(old)) => root
                .write(&p.rel, old.as_bytes(), p.old_mode)
                .is_ok()
                .then_some("restored"),
            _ => None,
        };
        if let Some(what) = undone {
            done.push(format!("{what} {}", p.rel));
        }
    }
    match manifest_before {
        Some(text) => {
            let _ = root.write(&manifest_rel(), text.as_bytes(), DEFAULT_MODE);
        }
        None => {
            let _ = root.remove(&manifest_rel());
        }
    }
    done
}

pub fn unified_diff(old: &str, new: &str, name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("{name} (yours)"), &format!("{name} (onramp)"))
        .to_string()
}

fn write_manifest(root: &Root, manifest: &Manifest) -> Result<()> {
    let text =
        serde_json::to_string_pretty(manifest).map_err(|e| Error::Internal(e.to_string()))?;
    let current = root.read_text(&manifest_rel())?.unwrap_or_default();
    if current.trim_end() != text {
        root.write(
            &manifest_rel(),
            format!("{text}\n").as_bytes(),
            DEFAULT_MODE,
        )?;
    }
    Ok(())
}

/// Remove what a killed run left: temporary files beside the targets and in `.onramp/`.
fn clean_temps(root: &Root, plans: &[Planned]) {
    let mut dirs: Vec<String> = vec![String::new(), STATE_DIR.to_string()];
    for p in plans {
        let parent = Path::new(&p.rel)
            .parent()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !dirs.contains(&parent) {
            dirs.push(parent);
        }
    }
    for d in dirs {
        root.clean_temps(&d);
    }
}

/// Carry out a plan and record what onramp wrote. The manifest is written first with both the
/// old and the new hash of every file about to change, then the files, then the manifest with
/// the new hashes only: wherever a run is killed, each file is onramp's by one of the hashes.
pub fn apply(_host: &Host, dir: &Path, plans: &[Planned], manifest: &mut Manifest) -> Result<()> {
    let root = Root::new(dir);
    clean_temps(&root, plans);
    let changes = plans.iter().any(|p| {
        matches!(
            p.action,
            Action::Create | Action::Update | Action::Replace { .. }
        )
    });
    if changes {
        let mut during = manifest.clone();
        for p in plans {
            let ours_before = match p.action {
                Action::Update => p.old.as_deref().map(sha256),
                Action::Create | Action::Replace { .. } => None,
                _ => continue,
            };
            let entry = during.files.entry(p.rel.clone()).or_insert(ManifestEntry {
                sha256: sha256(&p.content),
                pending: Vec::new(),
            });
            entry.pending = ours_before
                .into_iter()
                .chain([entry.sha256.clone()])
                .collect();
            entry.sha256 = sha256(&p.content);
        }
        write_manifest(&root, &during)?;
    }
    for p in plans {
        let mode = p.mode.unwrap_or(DEFAULT_MODE);
        match &p.action {
            Action::Unchanged => {
                if p.loosened.is_some() {
                    root.set_mode(&p.rel, mode)?;
                }
                continue;
            }
            Action::Create | Action::Update => root.write(&p.rel, p.content.as_bytes(), mode)?,
            Action::KeepEdited { new_path } => {
                if p.loosened.is_some() {
                    root.set_mode(&p.rel, mode)?;
                }
                if p.side_ours {
                    root.write(new_path, p.content.as_bytes(), mode)?;
                } else if !root.create_new(new_path, p.content.as_bytes(), mode)? {
                    return Err(taken(dir, new_path));
                }
                manifest.sides.insert(new_path.clone(), sha256(&p.content));
                continue;
            }
            Action::Replace { backup } => {
                let old = p.old.as_deref().unwrap_or_default();
                let bak_mode = if mode == SECRET_MODE {
                    SECRET_MODE
                } else {
                    p.old_mode & 0o777
                };
                if !root.create_new(backup, old.as_bytes(), bak_mode)? {
                    return Err(taken(dir, backup));
                }
                root.write(&p.rel, p.content.as_bytes(), mode)?;
            }
        }
        manifest.files.insert(
            p.rel.clone(),
            ManifestEntry {
                sha256: sha256(&p.content),
                pending: Vec::new(),
            },
        );
    }
    for e in manifest.files.values_mut() {
        e.pending.clear();
    }
    write_manifest(&root, manifest)
}

fn taken(dir: &Path, rel: &str) -> Error {
    Error::Unsafe {
        path: dir.join(rel),
        message: "appeared while onramp was writing; it is kept, run `onramp generate` again"
            .into(),
    }
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;

    fn spec(path: &str) -> FileSpec {
        FileSpec {
            template: "env".into(),
            path: path.into(),
            mode: Some("0600".into()),
        }
    }

    #[test]
    fn a_file_onramp_wrote_is_updated_and_a_users_edit_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let host = Host::from_process();
        let mut m = Manifest::default();
        let p = plan_file(d, &m, &spec("a.txt"), "one\n".into(), false).unwrap();
        assert_eq!(p.action, Action::Create);
        apply(&host, d, &[p], &mut m).unwrap();
        let p = plan_file(d, &m, &spec("a.txt"), "one\n".into(), false).unwrap();
        assert_eq!(p.action, Action::Unchanged);
        let p = plan_file(d, &m, &spec("a.txt"), "two\n".into(), false).unwrap();
        assert_eq!(p.action, Action::Update);
        apply(&host, d, &[p], &mut m).unwrap();
        std::fs::write(d.join("a.txt"), "mine\n").unwrap();
        let p = plan_file(d, &m, &spec("a.txt"), "three\n".into(), false).unwrap();
        assert!(matches!(p.action, Action::KeepEdited { .. }));
        assert!(p.diff.as_ref().unwrap().contains("-mine"));
        apply(&host, d, &[p], &mut m).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("a.txt")).unwrap(), "mine\n");
        assert_eq!(
            std::fs::read_to_string(d.join("a.txt.new")).unwrap(),
            "three\n"
        );
    }

    /// A run stopped between two files (the second write fails, as a kill would stop it) leaves
    /// the first file new and the second old: both stay onramp's for the next run, whichever
    /// profile it renders.
    #[cfg(unix)]
    #[test]
    fn a_run_stopped_between_files_leaves_every_file_onramps() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let host = Host::from_process();
        let specs = [spec("a.txt"), spec("sub/b.txt")];
        let plan_all = |m: &Manifest, tag: &str| -> Vec<Planned> {
            specs
                .iter()
                .map(|s| plan_file(d, m, s, format!("{tag} {}\n", s.path), false).unwrap())
                .collect()
        };
        let mut m = Manifest::default();
        apply(&host, d, &plan_all(&m, "A"), &mut m).unwrap();
        let switch = plan_all(&m, "B");
        assert!(switch.iter().all(|p| p.action == Action::Update));
        // Stop the run at the second file: its directory is swapped for a link meanwhile.
        std::fs::rename(d.join("sub"), d.join("sub2")).unwrap();
        std::os::unix::fs::symlink(d.join("sub2"), d.join("sub")).unwrap();
        assert!(apply(&host, d, &switch, &mut m.clone()).is_err());
        std::fs::remove_file(d.join("sub")).unwrap();
        std::fs::rename(d.join("sub2"), d.join("sub")).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("a.txt")).unwrap(),
            "B a.txt\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("sub/b.txt")).unwrap(),
            "A sub/b.txt\n"
        );
        let on_disk = load_manifest(d).unwrap();
        for tag in ["A", "B", "C"] {
            for p in plan_all(&on_disk, tag) {
                assert!(
                    matches!(p.action, Action::Update | Action::Unchanged),
                    "{tag} {}: {:?}",
                    p.rel,
                    p.action
                );
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn paths_may_not_escape_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        let m = Manifest::default();
        assert!(matches!(
            plan_file(dir.path(), &m, &spec("out/x"), "x\n".into(), false),
            Err(Error::Unsafe { .. })
        ));
        assert!(plan_file(dir.path(), &m, &spec("sub/x"), "x\n".into(), false).is_ok());
    }

    #[test]
    fn strict_templates_name_the_missing_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.j2"), "a\n{{ nope }}\n").unwrap();
        let ctx = context::build(
            &crate::profile::Profile::default(),
            dir.path(),
            &shim::Scan::default(),
        );
        let err = render(dir.path(), "t.j2", &ctx).unwrap_err();
        assert!(matches!(err, Error::Template { .. }));
        assert!(err.to_string().contains("t.j2"), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    /// The names kailash 2.65.0 uses, as a scan of its sources found them.
    fn recorded_scan() -> shim::Scan {
        shim::Scan {
            sdk: Some("kailash 2.65.0".into()),
            files: 794,
            names: ["RLIMIT_AS", "RLIM_INFINITY", "getrlimit", "setrlimit"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            note: None,
        }
    }

    #[test]
    fn rendered_files_of_the_embedded_profiles() {
        for name in crate::profile::embedded_names() {
            let loaded =
                crate::profile::load(&crate::profile::Choice::Named(name.clone())).unwrap();
            let ctx = context::build(
                &loaded.profile,
                Path::new("/work/project"),
                &recorded_scan(),
            );
            for f in &loaded.profile.files {
                let out = render(Path::new("/work/project"), &f.template, &ctx).unwrap();
                assert!(out.ends_with('\n') && !out.contains('\r'));
                insta::assert_snapshot!(format!("{name}__{}", f.path.trim_start_matches('.')), out);
            }
        }
    }
}
