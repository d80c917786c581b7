//! Reading profiles: embedded or from files, following `extends`, merging key by key, and
//! turning every error into `file:line:col` with a fix.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::locate::{Source, at_key, locate, locate_line_col, toml_error};
use super::{DEFAULT_PROFILE, Profile, ca_into, compose, validate};
use crate::errors::{Error, Result};

const EMBEDDED: &[(&str, &str)] = &[
    ("kailash", include_str!("../../profiles/kailash.toml")),
    ("minimal", include_str!("../../profiles/minimal.toml")),
    ("external", include_str!("../../profiles/external.toml")),
];

/// How deep `extends` may chain before it is taken for a cycle.
const MAX_EXTENDS: usize = 8;

/// Where the profile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `--profile` or `ONRAMP_PROFILE`: an embedded name or a path.
    Named(String),
    /// The project's own `onramp.toml`.
    ProjectFile(PathBuf),
    /// Nothing chosen: the embedded default.
    Default,
}

/// A resolved profile with the documents it came from, base first.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub profile: Profile,
    pub sources: Vec<Source>,
    /// The Compose file the services came from, if any (absolute).
    pub compose: Option<PathBuf>,
    /// What the reader noticed and the user should hear (unset variables, inactive services).
    pub notes: Vec<String>,
}

/// How a Compose file joins the profile.
pub struct ComposeOptions<'a> {
    /// The project directory: `.env` is read there, and the profile's `compose` file and every
    /// path in it must be inside it.
    pub dir: &'a Path,
    /// `--compose FILE`: may be anywhere, as the user named it.
    pub file: Option<PathBuf>,
    /// `--compose-profile` names, added to `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// Services named on the command line (enabled whatever their Compose profiles say).
    pub named: Vec<String>,
    /// The process environment (through `Host`).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Nothing will be started (`profiles --from-compose`): services with keys onramp cannot
    /// apply are left out with a warning instead of refusing the file.
    pub import_only: bool,
}

pub fn embedded_names() -> Vec<String> {
    EMBEDDED.iter().map(|(n, _)| n.to_string()).collect()
}

/// The text of an embedded profile.
pub fn embedded(name: &str) -> Option<&'static str> {
    EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Load, merge and validate the chosen profile on its own, outside any project: no team
/// network file is read and nothing depends on the current directory (a project's profile,
/// with the team's settings, is `load_with` and the project dir).
pub fn load(choice: &Choice) -> Result<Loaded> {
    let no_env = |_: &str| None;
    let opts = ComposeOptions {
        dir: Path::new(""),
        file: None,
        profiles: Vec::new(),
        named: Vec::new(),
        env: &no_env,
        import_only: false,
    };
    resolve(choice, &opts, false)
}

/// Load, merge and validate the chosen profile, taking services from a Compose file when the
/// profile's `compose` key or `--compose` names one, and the team's network settings from the
/// team file (`ONRAMP_NETWORK_FILE`, `[network] team_file`, or the one in `opts.dir`).
pub fn load_with(choice: &Choice, opts: &ComposeOptions<'_>) -> Result<Loaded> {
    resolve(choice, opts, true)
}

/// `load_with`, with the team file read only in a project.
fn resolve(choice: &Choice, opts: &ComposeOptions<'_>, in_project: bool) -> Result<Loaded> {
    let first = match choice {
        Choice::Named(r) => read_reference(r, None)?,
        Choice::ProjectFile(p) => read_file(p)?,
        Choice::Default => read_reference(DEFAULT_PROFILE, None)?,
    };
    let sources = follow_extends(first)?;
    let mut merged = toml::Table::new();
    for (i, src) in sources.iter().enumerate() {
        let mut table: toml::Table = parse_typed(src, i > 0).map(|(_, t)| t)?;
        table.remove("extends");
        merge(&mut merged, table);
    }
    let (compose, mut notes, converted) = apply_compose(&mut merged, &sources, opts)?;
    let mut dropped = drop_disabled(&mut merged);
    dropped.extend(converted.iter().flat_map(|c| c.inactive.iter().cloned()));
    let last = sources.last().map(|s| s.label.clone()).unwrap_or_default();
    let profile = Profile::deserialize(toml::Value::Table(merged)).map_err(|e| Error::Profile {
        file: last,
        line: 1,
        col: 1,
        message: crate::secrets::strip_error_value(e.message()),
        help: "the merged profile is inconsistent; check the keys the overlay overrides".into(),
    })?;
    crate::profile::kinds::register_secrets(&profile);
    let scripts: Vec<String> = converted
        .as_ref()
        .map(|c| c.imported.clone())
        .unwrap_or_default();
    for problem in validate::check_with(&profile, &scripts) {
        let Some(c) = &converted else {
            return Err(problem_error(&sources, problem));
        };
        let service = problem.path.get(1).cloned().unwrap_or_default();
        let own = problem.path.first().map(String::as_str) == Some("services");
        if own && !c.starts(&service) {
            notes.push(format!(
                "service `{service}` (it will not be started): {}",
                problem.message
            ));
            continue;
        }
        let (message, help) = (problem.message.clone(), problem.help.clone());
        return Err(c
            .error_at(&problem.path, message, help)
            .unwrap_or_else(|| problem_error(&sources, problem)));
    }
    let mut profile = profile;
    name_built_images(&mut profile, opts.dir);
    // An import from Compose prints the team's own names; everything else sees the company's.
    if !opts.import_only {
        let project = in_project.then_some(opts.dir);
        super::team::apply(&mut profile, &sources, project, opts.env)?;
        map_images(&mut profile);
    }
    let trusting = ca_into::targets(&profile, &dropped).map_err(|p| problem_error(&sources, p))?;
    // As with the image names, an import from Compose prints the team's services as they are.
    if !opts.import_only {
        let digest = (!trusting.is_empty())
            .then(|| ca_into::root_digest(opts.dir, &profile))
            .flatten();
        let sources = ca_into::Sources {
            bundle: net_source(opts.dir, &compose, ca_into::BUNDLE_REL),
            store: net_source(opts.dir, &compose, ca_into::STORE_REL),
            wgetrc: net_source(opts.dir, &compose, ca_into::WGETRC_REL),
        };
        notes.extend(ca_into::apply(
            &mut profile,
            &trusting,
            &sources,
            digest.as_deref(),
        ));
    }
    Ok(Loaded {
        profile,
        sources,
        compose,
        notes,
    })
}

/// Every image pulled, as the company's registry serves it (`[network] images`,
/// `image_prefix`); an image a service builds is tagged, never pulled, and keeps its name.
fn map_images(profile: &mut Profile) {
    let network = &profile.network;
    for svc in profile.services.values_mut() {
        if let Some(image) = &svc.image
            && svc.build.is_none()
        {
            svc.image = Some(network.map_image(image));
        }
    }
    if let Some(image) = &profile.sdk.container_image {
        profile.sdk.container_image = Some(network.map_image(image));
    }
}

/// A service with `build` and no `image` gets the name Compose v2 tags it with.
fn name_built_images(profile: &mut Profile, dir: &Path) {
    let project = crate::naming::project_name(profile.project.as_deref(), dir);
    for (name, svc) in profile.services.iter_mut() {
        if svc.build.is_some() && svc.image.is_none() {
            svc.image = Some(crate::naming::built_image_name(&project, name));
        }
    }
}

/// Replace the services with those of the Compose file (the profile's `compose` key, or
/// `--compose`); `[services.X]` tables of the profile files merge over them (a probe, a
/// timeout, `enabled = false`). Services of embedded base profiles do not carry over.
fn apply_compose(
    merged: &mut toml::Table,
    sources: &[Source],
    opts: &ComposeOptions<'_>,
) -> Result<(Option<PathBuf>, Vec<String>, Option<compose::Converted>)> {
    let from_profile = merged
        .get("compose")
        .and_then(toml::Value::as_str)
        .map(String::from);
    let path = match (&opts.file, from_profile) {
        (Some(f), _) => f.clone(),
        (None, Some(rel)) => {
            let sets_compose =
                |s: &&Source| parse_typed(s, true).is_ok_and(|(_, t)| t.contains_key("compose"));
            let base = sources
                .iter()
                .rev()
                .find(sets_compose)
                .and_then(|s| s.base_dir.clone())
                .unwrap_or_else(|| opts.dir.to_path_buf());
            let path = base.join(&rel);
            if !inside(opts.dir, &path) {
                return Err(Error::Usage(format!(
                    "compose = \"{rel}\" names {}, which is outside the project directory {}; keep the Compose file in the project, or pass it explicitly with --compose",
                    path.display(),
                    opts.dir.display()
                )));
            }
            path
        }
        (None, None) => return Ok((None, Vec::new(), None)),
    };
    let path = std::path::absolute(&path).unwrap_or(path);
    let text = compose::read_capped(&path)?;
    let canonical_dir = opts
        .dir
        .canonicalize()
        .unwrap_or_else(|_| opts.dir.to_path_buf());
    let parent = path.parent().unwrap_or(Path::new("."));
    let canonical_parent = parent
        .canonicalize()
        .unwrap_or_else(|_| parent.to_path_buf());
    let inside_rel = canonical_parent
        .strip_prefix(&canonical_dir)
        .map(Path::to_path_buf)
        .ok();
    // The `.env` beside the Compose file, as Compose reads it (inside the project never
    // through a link; beside a file named with --compose elsewhere, as a regular file).
    let dotenv_text = match &inside_rel {
        Some(rel) => compose::read_in_project(opts.dir, &rel.join(".env"))
            .ok()
            .flatten(),
        None => compose::read_capped(&parent.join(".env")).ok(),
    };
    let dotenv = match dotenv_text {
        Some(t) => super::dotenv::parse(&t, opts.env).map_err(|b| Error::Profile {
            file: parent.join(".env").display().to_string(),
            line: b.line,
            col: 1,
            message: b.message,
            help: "fix that line of the .env file".into(),
        })?,
        None => Default::default(),
    };
    let vars = |k: &str| (opts.env)(k).or_else(|| dotenv.get(k).cloned());
    let mut profiles: Vec<String> = vars("COMPOSE_PROFILES")
        .unwrap_or_default()
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    profiles.extend(opts.profiles.iter().cloned());
    let rel_dir = inside_rel.unwrap_or_else(|| PathBuf::from("/outside-the-project"));
    let mut converted = compose::convert(&compose::Input {
        label: path.display().to_string(),
        text,
        rel_dir,
        project_dir: opts.dir,
        vars: &vars,
        profiles: &profiles,
        named: &opts.named,
        import_only: opts.import_only,
    })?;
    let mut services = std::mem::take(&mut converted.services);
    converted.imported = services.keys().cloned().collect();
    for src in sources.iter().filter(|s| s.base_dir.is_some()) {
        let table: toml::Table = parse_typed(src, true).map(|(_, t)| t)?;
        if let Some(toml::Value::Table(over)) = table.get("services") {
            for (name, svc) in over {
                if !services.contains_key(name) && !converted.inactive.contains(name) {
                    let is_full = svc.get("image").is_some()
                        || svc.get("address").is_some()
                        || svc.get("enabled").and_then(toml::Value::as_bool) == Some(false);
                    if !is_full {
                        return Err(at_key(
                            src,
                            &["services", name],
                            format!(
                                "[services.{name}] overrides a service that {} does not have",
                                path.display()
                            ),
                            format!(
                                "name one of the Compose file's services ({})",
                                services.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                }
            }
            let mut wrapped = toml::Table::new();
            wrapped.insert("services".into(), toml::Value::Table(services));
            let mut o = toml::Table::new();
            let over: toml::Table = over
                .iter()
                .filter(|(n, _)| !converted.inactive.contains(n))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            o.insert("services".into(), toml::Value::Table(over));
            merge(&mut wrapped, o);
            services = match wrapped.remove("services") {
                Some(toml::Value::Table(t)) => t,
                _ => toml::Table::new(),
            };
        }
    }
    merged.insert("services".into(), toml::Value::Table(services));
    merged.remove("compose");
    let objects = [
        ("volumes", std::mem::take(&mut converted.volumes)),
        ("networks", std::mem::take(&mut converted.networks)),
    ];
    for (key, table) in objects {
        if table.is_empty() {
            merged.remove(key);
        } else {
            merged.insert(key.into(), toml::Value::Table(table));
        }
    }
    // The project name is the one Compose would use for this file: the profile file's own
    // `project`, else the file's `name`, else COMPOSE_PROJECT_NAME, else the directory's name;
    // an embedded base profile's name does not apply.
    let own_project = sources
        .iter()
        .filter(|s| s.base_dir.is_some())
        .filter_map(|s| parse_typed(s, true).ok())
        .filter_map(|(p, _)| p.project)
        .next_back();
    match own_project
        .or(converted.name.clone())
        .or_else(|| vars("COMPOSE_PROJECT_NAME"))
    {
        Some(name) => {
            merged.insert("project".into(), name.into());
        }
        None => {
            merged.remove("project");
        }
    }
    drop_rendered_compose(merged, opts.dir, &path);
    let mut notes = std::mem::take(&mut converted.warnings);
    if !converted.unset.is_empty() {
        notes.push(format!(
            "{}: {} not set, used as empty (as Compose does)",
            path.display(),
            converted.unset.join(", ")
        ));
    }
    if !converted.inactive.is_empty() {
        notes.push(format!(
            "services off by their Compose profiles: {} (COMPOSE_PROFILES or --compose-profile turns them on)",
            converted.inactive.join(", ")
        ));
    }
    Ok((Some(path), notes, Some(converted)))
}

/// The profile must not render a file over the Compose file it reads.
fn drop_rendered_compose(merged: &mut toml::Table, dir: &Path, compose: &Path) {
    if let Some(toml::Value::Array(files)) = merged.get_mut("files") {
        files.retain(|f| {
            let target = f
                .get("path")
                .and_then(toml::Value::as_str)
                .unwrap_or_default();
            let t = dir.join(target);
            let same = match (t.canonicalize(), compose.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => t == compose,
            };
            let template = f.get("template").and_then(toml::Value::as_str);
            !same && template != Some("docker-compose.test.yml")
        });
    }
}

/// Whether `path` resolves to somewhere inside `dir`.
fn inside(dir: &Path, path: &Path) -> bool {
    match (dir.canonicalize(), path.canonicalize()) {
        (Ok(d), Ok(p)) => p.starts_with(d),
        _ => false,
    }
}

/// A name is an embedded profile unless it looks like a path.
fn is_path(reference: &str) -> bool {
    reference.contains('/') || reference.contains('\\') || reference.ends_with(".toml")
}

fn read_reference(reference: &str, relative_to: Option<&Path>) -> Result<Source> {
    if !is_path(reference) {
        return embedded(reference)
            .map(|text| Source {
                label: format!("{reference} (embedded)"),
                text: text.to_string(),
                base_dir: None,
            })
            .ok_or_else(|| Error::UnknownProfile {
                name: reference.to_string(),
                available: embedded_names(),
            });
    }
    if reference.contains('\0') {
        return Err(Error::Usage(
            "a profile path may not contain a NUL byte".into(),
        ));
    }
    let path = match relative_to {
        Some(dir) => dir.join(reference),
        None => PathBuf::from(reference),
    };
    read_file(&path)
}

/// A profile file: a regular file of at most 1 MiB, UTF-8, not empty.
fn read_file(path: &Path) -> Result<Source> {
    let bytes = crate::fsx::read_regular(path, crate::fsx::FILE_CAP)?;
    let label = path.display().to_string();
    let located = |offset: usize, message: String, help: &str| {
        let (line, col) = locate_line_col(&String::from_utf8_lossy(&bytes), offset);
        Error::Profile {
            file: label.clone(),
            line,
            col,
            message,
            help: help.into(),
        }
    };
    let text = String::from_utf8(bytes.clone()).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&bytes[..at]).into_owned();
        let (line, col) = locate_line_col(&prefix, prefix.len());
        Error::Profile {
            file: label.clone(),
            line,
            col,
            message: "the profile is not UTF-8 text (TOML files must be UTF-8)".into(),
            help: "save the file as UTF-8".into(),
        }
    })?;
    let meaningful = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    if !meaningful {
        return Err(located(
            0,
            "the profile is empty".into(),
            "write `extends = \"kailash\"` (or another embedded profile) and the keys to change, or delete the file",
        ));
    }
    Ok(Source {
        label,
        text,
        base_dir: path.parent().map(Path::to_path_buf),
    })
}

/// The chain of documents, base first.
fn follow_extends(first: Source) -> Result<Vec<Source>> {
    let mut chain = vec![first];
    loop {
        let current = chain.last().expect("chain starts non-empty");
        let (profile, _) = parse_typed(current, false)?;
        let Some(base) = profile.extends else { break };
        if chain.len() > MAX_EXTENDS {
            return Err(at_key(
                current,
                &["extends"],
                format!("`extends` chains more than {MAX_EXTENDS} profiles deep (a cycle?)"),
                "make the chain end at an embedded profile such as `kailash`".into(),
            ));
        }
        let next = match read_reference(&base, current.base_dir.as_deref()) {
            Err(Error::UnknownProfile { name, available }) => {
                return Err(at_key(
                    current,
                    &["extends"],
                    format!("`extends = \"{name}\"`: no embedded profile has that name"),
                    format!(
                        "known profiles: {}; or give a path such as \"./base.toml\"",
                        available.join(", ")
                    ),
                ));
            }
            Err(Error::Read { path, source }) => {
                return Err(at_key(
                    current,
                    &["extends"],
                    format!("`extends`: cannot read {}: {source}", path.display()),
                    format!(
                        "known profiles: {}; or give the path of an existing file",
                        embedded_names().join(", ")
                    ),
                ));
            }
            other => other?,
        };
        if chain.iter().any(|s| s.label == next.label) {
            return Err(at_key(
                current,
                &["extends"],
                format!("`extends = \"{base}\"` makes a cycle"),
                "point `extends` at a profile that does not extend this one".into(),
            ));
        }
        chain.push(next);
    }
    chain.reverse();
    Ok(chain)
}

/// Parse one document on its own: syntax, unknown keys and types are reported here, in the
/// document that has them. An overlay may leave out required keys (`probe = { port = 7474 }`
/// merges into the base's probe), so a missing field is only an error in the merged profile.
fn parse_typed(src: &Source, partial: bool) -> Result<(Profile, toml::Table)> {
    let table: toml::Table = toml::from_str(&src.text).map_err(|e| toml_error(src, &e))?;
    let profile: Profile = match toml::from_str(&src.text) {
        Ok(p) => p,
        Err(e)
            if (partial || table.contains_key("extends"))
                && e.message().starts_with("missing field") =>
        {
            Profile {
                extends: table
                    .get("extends")
                    .and_then(toml::Value::as_str)
                    .map(str::to_string),
                ..Profile::default()
            }
        }
        Err(e) => return Err(toml_error(src, &e)),
    };
    Ok((profile, table))
}

/// Merge `over` into `base`: tables merge key by key, every other value replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

/// `[services.X] enabled = false` in an overlay drops the service.
/// Remove the services switched off with `enabled = false`; their names are returned.
fn drop_disabled(merged: &mut toml::Table) -> std::collections::BTreeSet<String> {
    let mut dropped = std::collections::BTreeSet::new();
    if let Some(toml::Value::Table(services)) = merged.get_mut("services") {
        services.retain(|name, s| {
            let off = s.get("enabled").and_then(toml::Value::as_bool) == Some(false);
            if off {
                dropped.insert(name.to_string());
            }
            !off
        });
    }
    dropped
}

/// The host path of a file onramp writes for `ca_into` (`rel`, the CA bundle or the trust
/// store) as a service's file says it: relative to the project for the compose file onramp
/// writes beside it, absolute for services from a team's Compose file (whose relative paths
/// start at that file's folder).
fn net_source(dir: &Path, compose: &Option<PathBuf>, rel: &str) -> String {
    match compose {
        None => format!("./{rel}"),
        Some(_) => std::path::absolute(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .join(rel)
            .display()
            .to_string(),
    }
}

/// A semantic problem, located in the last document that sets its key.
fn problem_error(sources: &[Source], problem: validate::Problem) -> Error {
    let path: Vec<&str> = problem.path.iter().map(String::as_str).collect();
    let src = sources
        .iter()
        .rev()
        .find(|s| locate(&s.text, &path).is_some())
        .or(sources.last());
    match src {
        Some(src) => at_key(src, &path, problem.message, problem.help),
        None => Error::Internal(problem.message),
    }
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;
    use crate::profile::ProbeKind;

    fn src(text: &str) -> Source {
        Source {
            label: "onramp.toml".into(),
            text: text.into(),
            base_dir: None,
        }
    }

    #[test]
    fn embedded_profiles_load_and_validate() {
        for name in embedded_names() {
            let loaded = load(&Choice::Named(name.clone())).unwrap();
            assert_eq!(loaded.profile.name.as_deref(), Some(name.as_str()));
            assert!(loaded.profile.services().count() >= 2);
        }
    }

    fn load_in(dir: &Path, env: &[(&str, &str)], file: Option<PathBuf>) -> Result<Loaded> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        load_with(
            &Choice::ProjectFile(dir.join("onramp.toml")),
            &ComposeOptions {
                dir,
                file,
                profiles: Vec::new(),
                named: Vec::new(),
                env: &lookup,
                import_only: false,
            },
        )
    }

    #[test]
    fn a_compose_file_replaces_the_services_and_the_profile_merges_over_it() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::write(
            dir.join("compose.yml"),
            "services:\n  db:\n    image: postgres:16\n    ports: [\"${DB_PORT}:5432\"]\n  web:\n    build: ./web\n    ports: [\"8080:80\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.join(".env"),
            "DB_PORT=15432\nCOMPOSE_PROJECT_NAME=team\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("onramp.toml"),
            "extends = \"kailash\"\ncompose = \"compose.yml\"\n[services.db]\ntimeout = \"120s\"\n[services.web]\nprobe = { kind = \"http\", port = 80, path = \"/health\" }\n[services.neo4j]\nenabled = false\n",
        )
        .unwrap();
        let loaded = load_in(dir, &[("DB_PORT", "25432")], None).unwrap();
        let p = &loaded.profile;
        let names: Vec<&String> = p.services.keys().collect();
        assert_eq!(
            names,
            ["db", "web"],
            "the base profile's services do not carry over"
        );
        assert_eq!(
            p.services["db"].ports.as_ref().unwrap()[0],
            "25432:5432",
            "environment first"
        );
        assert_eq!(p.services["db"].timeout.as_deref(), Some("120s"));
        assert_eq!(
            p.services["db"].probe.as_ref().unwrap().kind,
            ProbeKind::Postgres
        );
        assert_eq!(
            p.services["web"].probe.as_ref().unwrap().kind,
            ProbeKind::Http
        );
        assert_eq!(
            p.project.as_deref(),
            Some("team"),
            "COMPOSE_PROJECT_NAME from .env"
        );
        assert_eq!(p.services["web"].image.as_deref(), Some("team-web"));
        assert!(
            p.files
                .iter()
                .all(|f| f.template != "docker-compose.test.yml")
        );
        assert_eq!(loaded.compose, Some(dir.join("compose.yml")));

        std::fs::write(
            dir.join("onramp.toml"),
            "compose = \"compose.yml\"\n[services.cache]\nprobe = { kind = \"redis\" }\n",
        )
        .unwrap();
        let err = load_in(dir, &[], None).unwrap_err().to_string();
        assert!(
            err.contains("onramp.toml:2:1") && err.contains("does not have"),
            "{err}"
        );

        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("c.yml"), "services: {}\n").unwrap();
        let rel = format!("{}/c.yml", outside.path().display());
        // A literal string: a Windows path's `\` is not an escape there.
        std::fs::write(dir.join("onramp.toml"), format!("compose = '{rel}'\n")).unwrap();
        let err = load_in(dir, &[], None).unwrap_err().to_string();
        assert!(err.contains("outside the project directory"), "{err}");
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(locate_line_col("ab\ncd", 0), (1, 1));
        assert_eq!(locate_line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn locate_finds_nested_values_and_array_items() {
        let text = "[services.redis]\nports = [\"1:1\", \"2:x\"]\n";
        let r = locate(text, &["services", "redis", "ports", "1"]).unwrap();
        assert_eq!(&text[r], "\"2:x\"");
        assert!(locate(text, &["services", "pg"]).is_none());
    }

    #[test]
    fn tables_merge_and_values_replace() {
        let mut base: toml::Table = toml::from_str("[a]\nx = 1\ny = [1, 2]\n[b]\nz = 1").unwrap();
        let over: toml::Table = toml::from_str("[a]\ny = [3]\nw = 2").unwrap();
        merge(&mut base, over);
        let expected: toml::Table =
            toml::from_str("[a]\nx = 1\ny = [3]\nw = 2\n[b]\nz = 1").unwrap();
        assert_eq!(base, expected);
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let err = parse_typed(&src("name = \"x\"\n[services.redis\n"), false).unwrap_err();
        let Error::Profile { line, file, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((file.as_str(), line), ("onramp.toml", 2));
    }

    #[test]
    fn unknown_keys_are_named_with_their_position() {
        let err = parse_typed(
            &src("name = \"x\"\n\n[services.redis]\nimgae = \"r\"\n"),
            false,
        )
        .unwrap_err();
        let Error::Profile {
            line, col, message, ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!((line, col), (4, 1));
        assert!(message.contains("unknown field `imgae`"), "{message}");
    }
}
