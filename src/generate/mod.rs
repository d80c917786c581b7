//! Rendering the profile's files from templates and writing them safely: atomically, with a
//! manifest of what onramp wrote, never over a file the user changed (unless `--force`).

pub mod context;
pub mod run;
pub mod shim;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::errors::{Error, Result};
use crate::host::Host;
use crate::profile::{FileSpec, parse_mode};
use crate::project::STATE_DIR;

const EMBEDDED: &[(&str, &str)] = &[
    (
        "windows_patch.py",
        include_str!("../../templates/windows_patch.py"),
    ),
    (
        "docker-compose.test.yml",
        include_str!("../../templates/docker-compose.test.yml"),
    ),
    ("env", include_str!("../../templates/env")),
];

const MANIFEST: &str = "manifest.json";

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
    pub mode: Option<u32>,
    pub action: Action,
    /// A unified diff from the file on disk to the new content, when they differ.
    pub diff: Option<String>,
    old: Option<String>,
    /// Whether the `.new` or `.bak` file this action writes existed before.
    side_existed: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub files: BTreeMap<String, ManifestEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub sha256: String,
}

pub fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A template environment with strict undefined, kept trailing newlines and no escaping.
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
    env.add_filter("yaml", yaml_scalar);
    env.add_filter("dotenv", dotenv_value);
    env.add_filter("pystr", py_string);
    env
}

/// A double-quoted YAML scalar, with `$` doubled so Compose does not interpolate it.
fn yaml_scalar(value: String) -> String {
    serde_json::to_string(&value.replace('$', "$$")).unwrap_or_default()
}

/// A `.env` value: bare when plain, single-quoted (literal for Compose) otherwise.
fn dotenv_value(value: String) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c));
    if plain { value } else { format!("'{value}'") }
}

fn py_string(value: String) -> String {
    serde_json::to_string(&value).unwrap_or_default()
}

/// The source of a template: embedded by name, or a path relative to the project.
fn template_source(dir: &Path, name: &str) -> Result<(String, String)> {
    if let Some((_, text)) = EMBEDDED.iter().find(|(n, _)| *n == name) {
        return Ok((name.to_string(), text.to_string()));
    }
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
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

pub fn read_manifest(dir: &Path) -> Manifest {
    std::fs::read_to_string(dir.join(STATE_DIR).join(MANIFEST))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Resolve a `[[files]]` path inside the project, refusing anything that escapes it (`..`,
/// absolute paths, or a symlinked parent pointing elsewhere).
fn target(dir: &Path, rel: &str) -> Result<PathBuf> {
    let escape = || Error::PathEscape {
        path: rel.to_string(),
        dir: dir.to_path_buf(),
    };
    let p = Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(escape());
    }
    let abs = dir.join(p);
    let root = dir.canonicalize().map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let parent_real = abs
        .parent()
        .and_then(|d| d.ancestors().find_map(|a| a.canonicalize().ok()));
    if parent_real.is_some_and(|p| !p.starts_with(&root)) {
        return Err(escape());
    }
    Ok(abs)
}

/// Decide what to do with one rendered file.
pub fn plan_file(
    dir: &Path,
    manifest: &Manifest,
    spec: &FileSpec,
    content: String,
    force: bool,
) -> Result<Planned> {
    let abs = target(dir, &spec.path)?;
    let mode = spec.mode.as_deref().and_then(parse_mode);
    let old = std::fs::read_to_string(&abs).ok();
    let action = match &old {
        None => Action::Create,
        Some(o) if *o == content => Action::Unchanged,
        Some(o) => {
            let ours = manifest
                .files
                .get(&spec.path)
                .is_some_and(|e| e.sha256 == sha256(o));
            if ours {
                Action::Update
            } else if force {
                Action::Replace {
                    backup: format!("{}.bak", spec.path),
                }
            } else {
                Action::KeepEdited {
                    new_path: format!("{}.new", spec.path),
                }
            }
        }
    };
    let diff = old
        .as_ref()
        .filter(|o| **o != content)
        .map(|o| unified_diff(o, &content, &spec.path));
    let side_existed = match &action {
        Action::KeepEdited { new_path } => dir.join(new_path).exists(),
        Action::Replace { backup } => dir.join(backup).exists(),
        _ => false,
    };
    Ok(Planned {
        rel: spec.path.clone(),
        abs,
        content,
        mode,
        action,
        diff,
        old,
        side_existed,
    })
}

/// The manifest's text before a run, to restore on rollback.
pub fn manifest_text(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(STATE_DIR).join(MANIFEST)).ok()
}

/// Undo an applied plan: created files are removed, replaced ones get their old content back,
/// side files this run wrote are removed, and the manifest is restored. Returns what was done.
pub fn roll_back(
    host: &Host,
    dir: &Path,
    plans: &[Planned],
    manifest_before: Option<&str>,
) -> Vec<String> {
    let mut done = Vec::new();
    for p in plans {
        let side = match &p.action {
            Action::KeepEdited { new_path } => Some(new_path),
            Action::Replace { backup } => Some(backup),
            _ => None,
        };
        if let Some(side) = side
            && !p.side_existed
            && std::fs::remove_file(dir.join(side)).is_ok()
        {
            done.push(format!("removed {side}"));
        }
        let undone = match (&p.action, &p.old) {
            (Action::Create, _) => std::fs::remove_file(&p.abs).is_ok().then_some("removed"),
            (Action::Update | Action::Replace { .. }, Some(old)) => host
                .write_atomic(&p.abs, old.as_bytes(), p.mode)
                .is_ok()
                .then_some("restored"),
            _ => None,
        };
        if let Some(what) = undone {
            done.push(format!("{what} {}", p.rel));
        }
    }
    let mpath = dir.join(STATE_DIR).join(MANIFEST);
    match manifest_before {
        Some(text) => {
            let _ = host.write_atomic(&mpath, text.as_bytes(), None);
        }
        None => {
            let _ = std::fs::remove_file(&mpath);
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

/// Carry out a plan and record what onramp wrote.
pub fn apply(host: &Host, dir: &Path, plans: &[Planned], manifest: &mut Manifest) -> Result<()> {
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    for p in plans {
        if let Some(parent) = p.abs.parent()
            && p.action != Action::Unchanged
        {
            std::fs::create_dir_all(parent).map_err(werr(parent))?;
        }
        match &p.action {
            Action::Unchanged => {}
            Action::Create | Action::Update => {
                host.write_atomic(&p.abs, p.content.as_bytes(), p.mode)
                    .map_err(werr(&p.abs))?;
            }
            Action::KeepEdited { new_path } => {
                let new_abs = dir.join(new_path);
                host.write_atomic(&new_abs, p.content.as_bytes(), p.mode)
                    .map_err(werr(&new_abs))?;
                continue;
            }
            Action::Replace { backup } => {
                let bak = dir.join(backup);
                let old = p.old.as_deref().unwrap_or_default();
                host.write_atomic(&bak, old.as_bytes(), p.mode)
                    .map_err(werr(&bak))?;
                host.write_atomic(&p.abs, p.content.as_bytes(), p.mode)
                    .map_err(werr(&p.abs))?;
            }
        }
        manifest.files.insert(
            p.rel.clone(),
            ManifestEntry {
                sha256: sha256(&p.content),
            },
        );
    }
    let state = dir.join(STATE_DIR);
    std::fs::create_dir_all(&state).map_err(werr(&state))?;
    let text =
        serde_json::to_string_pretty(manifest).map_err(|e| Error::Internal(e.to_string()))?;
    let mpath = state.join(MANIFEST);
    let current = std::fs::read_to_string(&mpath).unwrap_or_default();
    if current.trim_end() != text {
        host.write_atomic(&mpath, format!("{text}\n").as_bytes(), None)
            .map_err(werr(&mpath))?;
    }
    Ok(())
}

#[cfg(test)]
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

    #[test]
    fn paths_may_not_escape_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        #[cfg(unix)]
        assert!(matches!(
            target(dir.path(), "out/x"),
            Err(Error::PathEscape { .. })
        ));
        assert!(target(dir.path(), "sub/x").is_ok());
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

    #[test]
    fn env_values_quote_only_when_needed() {
        assert_eq!(dotenv_value("test_password".into()), "test_password");
        assert_eq!(dotenv_value("a b#c".into()), "'a b#c'");
        assert_eq!(yaml_scalar("a$b".into()), "\"a$$b\"");
    }
}
