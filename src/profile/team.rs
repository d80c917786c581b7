//! The team's network file: the settings a company shares across projects and profiles
//! (`ca_file`, `proxy`, `mirrors`, `image_prefix`, `images`) in one `[network]` table that the
//! team commits or IT distributes. It is the file `ONRAMP_NETWORK_FILE` names, else the one
//! the profile's `[network] team_file` names (relative to that profile), else
//! `onramp-network.toml` in the project. The profile's own keys win, key by key (an `images`
//! entry by its normalised key); paths in the team file are relative to it; every effective
//! setting keeps where it came from, for `doctor`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::image_map::{self, HUB};
use super::locate::{Source, at_key, locate, locate_line_col, toml_error};
use super::{Network, Profile};
use crate::errors::{Error, Result};

/// The team file's name in the project directory.
pub const FILE: &str = "onramp-network.toml";
/// The environment variable naming a team file anywhere (IT's copy).
pub const ENV: &str = "ONRAMP_NETWORK_FILE";

/// Where one effective network setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `ca_file`, `proxy`, `mirrors`, `images."docker.io"` or `team file`.
    pub setting: String,
    /// The value in effect (print it through the secrets mask: a proxy may hold a password).
    pub value: String,
    /// `profile /p/onramp.toml:12`, `team file /p/onramp-network.toml:3`, or why the team
    /// file was read.
    pub from: String,
}

/// What a team file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamDoc {
    #[serde(default)]
    network: Network,
}

/// A team file, read and checked.
struct Team {
    src: Source,
    network: Network,
    /// How it was found, for `doctor`.
    why: String,
}

/// Check the profile's mapping, find and read the team file of the project in `dir` (none
/// outside a project), and leave the effective settings (profile over team file, key by key)
/// in `profile.network` with their origins.
pub(super) fn apply(
    profile: &mut Profile,
    sources: &[Source],
    dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    let own = &profile.network;
    check_images(own, |path, message, help| {
        located(sources, path, message, help)
    })?;
    let team = match dir {
        Some(dir) => find(own, sources, dir, env)?,
        None => None,
    };
    let mut m = Merge {
        sources,
        team: team.as_ref(),
        origins: Vec::new(),
    };
    if let Some(t) = &team {
        m.origins
            .push(origin("team file", t.src.label.clone(), t.why.clone()));
    }
    let team_dir = team.as_ref().and_then(|t| t.src.base_dir.clone());
    let beside_team = |f: &String| match &team_dir {
        Some(d) => d.join(f).display().to_string(),
        None => f.clone(),
    };
    // The profile's own keys stay (those only a profile has, `ca_into`, too); the team file
    // fills the ones it leaves out, and the mapping becomes one `images` table.
    let eff = Network {
        ca_file: m.pick(
            "ca_file",
            &own.ca_file,
            |n| n.ca_file.as_ref().map(beside_team),
            String::clone,
        ),
        proxy: m.pick("proxy", &own.proxy, |n| n.proxy.clone(), String::clone),
        mirrors: m.pick(
            "mirrors",
            &own.mirrors,
            |n| n.mirrors.clone(),
            |v| v.join(", "),
        ),
        image_prefix: None,
        images: m.images(own),
        ..own.clone()
    };
    if let Some(p) = &eff.proxy {
        crate::secrets::register_from_text(p);
    }
    profile.network = Network {
        origins: m.origins,
        ..eff
    };
    Ok(())
}

/// The profile's settings over the team file's, with where each came from.
struct Merge<'a> {
    sources: &'a [Source],
    team: Option<&'a Team>,
    origins: Vec<Origin>,
}

impl Merge<'_> {
    /// The profile's value of `key`, else the team file's (`theirs`), noted with its origin.
    fn pick<T: Clone>(
        &mut self,
        key: &str,
        own: &Option<T>,
        theirs: impl Fn(&Network) -> Option<T>,
        show: impl Fn(&T) -> String,
    ) -> Option<T> {
        let path = ["network", key];
        if let Some(v) = own {
            let from = where_set(self.sources, &path).unwrap_or_else(|| "the profile".into());
            self.origins.push(origin(key, show(v), from));
            return Some(v.clone());
        }
        let t = self.team?;
        let v = theirs(&t.network)?;
        self.origins
            .push(origin(key, show(&v), from_team(t, &path)));
        Some(v)
    }

    /// One mapping: the team file's entries, then the profile's over them by normalised key.
    fn images(&mut self, own: &Network) -> Option<BTreeMap<String, String>> {
        let mut images: BTreeMap<String, (String, String)> = BTreeMap::new();
        if let Some(t) = self.team {
            for (key, target, path) in entries(&t.network) {
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                images.insert(key, (target, from_team(t, &p)));
            }
        }
        for (key, target, path) in entries(own) {
            let p: Vec<&str> = path.iter().map(String::as_str).collect();
            let from = where_set(self.sources, &p).unwrap_or_else(|| "the profile".into());
            images.insert(key, (target, from));
        }
        for (key, (target, from)) in &images {
            let setting = format!("images.\"{key}\"");
            self.origins
                .push(origin(&setting, target.clone(), from.clone()));
        }
        (!images.is_empty()).then(|| images.into_iter().map(|(k, (t, _))| (k, t)).collect())
    }
}

/// `team file FILE:LINE` of the value at `path` in the team file.
fn from_team(t: &Team, path: &[&str]) -> String {
    let line = locate(&t.src.text, path)
        .map(|r| locate_line_col(&t.src.text, r.start).0)
        .unwrap_or(1);
    format!("team file {}:{line}", t.src.label)
}

fn origin(setting: &str, value: String, from: String) -> Origin {
    Origin {
        setting: setting.into(),
        value,
        from,
    }
}

/// A document's mapping as (normalised key, normalised target, the TOML path that set it);
/// `image_prefix` is the `docker.io` entry. Checked before, so nothing fails here.
fn entries(n: &Network) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    if let Some(p) = &n.image_prefix
        && let Ok(t) = image_map::normalise_target(p)
    {
        out.push((HUB.to_string(), t, path_of(&["network", "image_prefix"])));
    }
    for (k, v) in n.images.iter().flatten() {
        if let (Ok(key), Ok(t)) = (image_map::normalise_key(k), image_map::normalise_target(v)) {
            out.push((key, t, path_of(&["network", "images", k.as_str()])));
        }
    }
    out
}

fn path_of(p: &[&str]) -> Vec<String> {
    p.iter().map(|s| s.to_string()).collect()
}

/// Every key and target of a document's mapping normalises, no two keys are the same key,
/// and `image_prefix` does not say again what an `images` entry for `docker.io` says.
fn check_images(n: &Network, err: impl Fn(&[&str], String, String) -> Error) -> Result<()> {
    let help = "a key is a registry or a path prefix (`docker.io`, `ghcr.io`, `quay.io/prometheus`), a value the company's path the images move under (`registry.corp.example/hub`)";
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (k, v) in n.images.iter().flatten() {
        let path = ["network", "images", k.as_str()];
        let key = image_map::normalise_key(k)
            .map_err(|m| err(&path, format!("images: bad key: {m}"), help.into()))?;
        image_map::normalise_target(v)
            .map_err(|m| err(&path, format!("images.\"{k}\": {m}"), help.into()))?;
        if let Some(first) = seen.insert(key.clone(), k) {
            return Err(err(
                &path,
                format!("images: \"{k}\" and \"{first}\" are the same key ({key})"),
                "keep one of them".into(),
            ));
        }
    }
    if let Some(p) = &n.image_prefix {
        let path = ["network", "image_prefix"];
        image_map::normalise_target(p)
            .map_err(|m| err(&path, format!("image_prefix: {m}"), help.into()))?;
        if let Some(k) = seen.get(HUB) {
            return Err(err(
                &path,
                format!(
                    "image_prefix and images.\"{k}\" both say where Docker Hub images come from"
                ),
                "keep one: `image_prefix = P` is short for `images.\"docker.io\" = P`".into(),
            ));
        }
    }
    Ok(())
}

/// `SOURCE:LINE` of the last profile document that sets `path`.
fn where_set(sources: &[Source], path: &[&str]) -> Option<String> {
    let src = sources
        .iter()
        .rev()
        .find(|s| locate(&s.text, path).is_some())?;
    let at = locate(&src.text, path)?;
    let (line, _) = locate_line_col(&src.text, at.start);
    Some(format!("profile {}:{line}", src.label))
}

/// An error at the key of the last profile document that sets it.
fn located(sources: &[Source], path: &[&str], message: String, help: String) -> Error {
    match sources
        .iter()
        .rev()
        .find(|s| locate(&s.text, path).is_some())
    {
        Some(src) => at_key(src, path, message, help),
        None => Error::Usage(message),
    }
}

/// The team file in effect, if any: `ONRAMP_NETWORK_FILE`, else the profile's `team_file`,
/// else `onramp-network.toml` in the project. A file that is named and cannot be read is an
/// error; the project's own file may be absent. A named file may be anywhere (IT keeps it
/// outside projects) and is only read; the project's own is read as every project file is:
/// a regular file, no link.
fn find(
    own: &Network,
    sources: &[Source],
    dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Team>> {
    if let Some(named) = env(ENV).filter(|v| !v.trim().is_empty()) {
        let path = std::path::absolute(&named).unwrap_or_else(|_| PathBuf::from(&named));
        let text = read_named(&path).map_err(|u| Error::Profile {
            file: path.display().to_string(),
            line: u.line,
            col: u.col,
            message: format!("the team network file that {ENV} names {}", u.message),
            help: u.help(&format!(
                "point {ENV} at the team's network file, or unset it"
            )),
        })?;
        return parse(source(&path, text), format!("named by {ENV}")).map(Some);
    }
    if let Some(named) = &own.team_file {
        let path = ["network", "team_file"];
        let src = sources
            .iter()
            .rev()
            .find(|s| locate(&s.text, &path).is_some());
        let base = src
            .and_then(|s| s.base_dir.clone())
            .unwrap_or_else(|| dir.to_path_buf());
        let file = base.join(named);
        let text = read_named(&file).map_err(|u| {
            let message = format!(
                "team_file = \"{named}\": {}:{} {}",
                file.display(),
                u.line,
                u.message
            );
            let help = u.help(
                "name the team's network file (relative to this profile file), or remove `team_file`",
            );
            located(sources, &path, message, help)
        })?;
        let why = where_set(sources, &path)
            .map(|w| format!("named by team_file in {}", w.trim_start_matches("profile ")))
            .unwrap_or_else(|| "named by team_file".into());
        return parse(source(&file, text), why).map(Some);
    }
    let path = dir.join(FILE);
    let Some(text) = read_in_project(dir).map_err(|u| Error::Profile {
        file: path.display().to_string(),
        line: u.line,
        col: u.col,
        message: format!("the team network file {}", u.message),
        help: u.help(&format!("make {FILE} a regular file in the project, or remove it; a team file shared from elsewhere is named by {ENV} or `[network] team_file` in onramp.toml")),
    })?
    else {
        return Ok(None);
    };
    parse(source(&path, text), "found in the project".into()).map(Some)
}

/// Why a team file cannot be used, and where in it.
#[derive(Debug)]
struct Unreadable {
    message: String,
    line: usize,
    col: usize,
    /// The fix for this cause, before the general one.
    fix: Option<String>,
}

impl Unreadable {
    fn whole(message: String) -> Unreadable {
        Unreadable {
            message,
            line: 1,
            col: 1,
            fix: None,
        }
    }

    fn help(&self, general: &str) -> String {
        match &self.fix {
            Some(fix) => format!("{fix}; or {general}"),
            None => general.to_string(),
        }
    }
}

/// A file a user named: a regular file of at most 1 MiB, UTF-8.
fn read_named(path: &Path) -> std::result::Result<String, Unreadable> {
    let bytes = crate::fsx::read_regular(path, crate::fsx::FILE_CAP).map_err(|e| {
        Unreadable::whole(match e {
            Error::Read { source, .. } => format!("cannot be read: {source}"),
            Error::Unsafe { message, .. } => message,
            other => other.to_string(),
        })
    })?;
    decode(bytes)
}

/// The project's `onramp-network.toml` (`None`: there is none), read as any project file (no
/// link is followed) and capped as a named one.
fn read_in_project(dir: &Path) -> std::result::Result<Option<String>, Unreadable> {
    let bytes = crate::fsx::Root::new(dir).read(FILE).map_err(|e| match e {
        Error::Unsafe { message, .. } if message.contains("larger than") => too_large(message),
        Error::Unsafe { message, .. } => Unreadable::whole(message),
        other => Unreadable::whole(other.to_string()),
    })?;
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    if bytes.len() as u64 > crate::fsx::FILE_CAP {
        return Err(too_large(format!(
            "is larger than {} KiB; onramp will not read it",
            crate::fsx::FILE_CAP >> 10
        )));
    }
    decode(bytes).map(Some)
}

fn too_large(message: String) -> Unreadable {
    Unreadable {
        fix: Some("a team file holds a few settings: check that this is the right file".into()),
        ..Unreadable::whole(message)
    }
}

/// The text, or where the first byte that is not UTF-8 is (line and column, 1-based).
fn decode(bytes: Vec<u8>) -> std::result::Result<String, Unreadable> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..at];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        let byte = e.as_bytes().get(at).copied().unwrap_or_default();
        Unreadable {
            message: format!("is not UTF-8 text (byte 0x{byte:02x})"),
            line,
            col: at - line_start + 1,
            fix: Some(
                "save it as UTF-8 (`iconv -f latin1 -t utf-8 FILE -o FILE.utf8`, then rename it)"
                    .into(),
            ),
        }
    })
}

/// The team file as a source; its folder is absolute, so a path beside it (`ca_file`) means
/// the same file to every reader, whatever folder `--dir` was given relative to.
fn source(path: &Path, text: String) -> Source {
    let folder = path
        .parent()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.into()));
    Source {
        label: path.display().to_string(),
        text,
        base_dir: folder,
    }
}

/// Parse and check a team file: only `[network]`, only its keys, no `team_file` of its own,
/// a mapping that normalises.
fn parse(src: Source, why: String) -> Result<Team> {
    let doc: TeamDoc = toml::from_str(&src.text).map_err(|e| match toml_error(&src, &e) {
        Error::Profile {
            file,
            line,
            col,
            message,
            ..
        } => Error::Profile {
            file,
            line,
            col,
            help: if message.contains("unknown field") {
                "a team network file holds one `[network]` table with `ca_file`, `proxy`, `mirrors`, `image_prefix` and `images` (README: \"The team's network file\")".into()
            } else {
                "fix the TOML at this position (https://toml.io)".into()
            },
            message,
        },
        other => other,
    })?;
    let at = |path: &[&str], message: String, help: String| at_key(&src, path, message, help);
    if doc.network.team_file.is_some() {
        return Err(at(
            &["network", "team_file"],
            "a team network file cannot name another one".into(),
            "remove `team_file` from the team file (profiles name team files, team files do not)"
                .into(),
        ));
    }
    if doc.network.ca_into.is_some() {
        return Err(at(
            &["network", "ca_into"],
            "`ca_into` names a project's services, which a team file shared across projects cannot know".into(),
            "move `ca_into` to the project's onramp.toml under [network]".into(),
        ));
    }
    check_images(&doc.network, at)?;
    // The team's values go where the profile's go: the profile's checks, at the team's line.
    if let Some(p) = super::validate::check_network(&doc.network)
        .into_iter()
        .next()
    {
        let path: Vec<&str> = p.path.iter().map(String::as_str).collect();
        return Err(at(&path, p.message, p.help));
    }
    if let Some(f) = doc
        .network
        .ca_file
        .as_deref()
        .filter(|f| f.contains(char::is_control))
    {
        return Err(at(
            &["network", "ca_file"],
            format!("ca_file {f:?} holds a control character (a line break ends a plan's line)"),
            "name the file without line breaks or control characters".into(),
        ));
    }
    if let Some(p) = &doc.network.proxy {
        crate::secrets::register_from_text(p);
    }
    Ok(Team {
        network: doc.network,
        src,
        why,
    })
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::super::{Choice, ComposeOptions, load_with};
    use super::*;

    fn load_in(dir: &Path, env: &[(&str, String)]) -> Result<super::super::Loaded> {
        let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        load_with(
            &Choice::ProjectFile(dir.join("onramp.toml")),
            &ComposeOptions {
                dir,
                file: None,
                profiles: Vec::new(),
                named: Vec::new(),
                env: &lookup,
                import_only: false,
            },
        )
    }

    const PROFILE: &str = "extends = \"minimal\"\n[services.postgres]\nimage = \"postgres:15\"\n[services.redis]\nimage = \"ghcr.io/team/redis:7\"\n";

    fn origin_of<'a>(n: &'a Network, setting: &str) -> &'a Origin {
        n.origins
            .iter()
            .find(|o| o.setting == setting)
            .unwrap_or_else(|| panic!("no origin for {setting}: {:?}", n.origins))
    }

    #[test]
    fn the_project_team_file_maps_images_and_the_profile_wins_key_by_key() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::write(
            dir.join(FILE),
            "# the company's settings\n[network]\nca_file = \"certs/root.pem\"\nproxy = \"http://team:s3cret@proxy.corp:3128\"\nmirrors = [\"https://mirror.corp\"]\n\n[network.images]\n\"docker.io\" = \"registry.corp/hub\"\n\"ghcr.io\" = \"registry.corp/ghcr\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("onramp.toml"),
            format!("{PROFILE}[network]\nproxy = \"http://own.proxy:8080\"\nimage_prefix = \"registry.corp/own-hub\"\n"),
        )
        .unwrap();
        let p = load_in(dir, &[]).unwrap().profile;
        assert_eq!(
            p.services["postgres"].image.as_deref(),
            Some("registry.corp/own-hub/postgres:15"),
            "the profile's image_prefix is the docker.io entry, over the team file's"
        );
        assert_eq!(
            p.services["redis"].image.as_deref(),
            Some("registry.corp/ghcr/team/redis:7")
        );
        let n = &p.network;
        assert_eq!(n.proxy.as_deref(), Some("http://own.proxy:8080"));
        assert_eq!(
            n.ca_file.as_deref(),
            Some(dir.join("certs/root.pem").to_str().unwrap()),
            "a team file's path is relative to the team file"
        );
        assert_eq!(
            n.mirrors.as_deref(),
            Some(&["https://mirror.corp".to_string()][..])
        );
        let team = dir.join(FILE).display().to_string();
        assert_eq!(origin_of(n, "ca_file").from, format!("team file {team}:3"));
        assert_eq!(origin_of(n, "mirrors").from, format!("team file {team}:5"));
        assert_eq!(
            origin_of(n, "proxy").from,
            format!("profile {}:7", dir.join("onramp.toml").display())
        );
        assert_eq!(
            origin_of(n, "images.\"docker.io\"").from,
            format!("profile {}:8", dir.join("onramp.toml").display())
        );
        assert_eq!(
            origin_of(n, "images.\"ghcr.io\"").from,
            format!("team file {team}:9")
        );
        assert_eq!(origin_of(n, "team file").from, "found in the project");
        assert_eq!(
            crate::secrets::mask_text("http://team:s3cret@proxy.corp:3128"),
            "http://team:***@proxy.corp:3128",
            "the team file's proxy password is a secret"
        );
    }

    #[test]
    fn the_environment_names_a_team_file_over_the_profile_s_team_file() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        let it = tempfile::tempdir().unwrap();
        std::fs::write(
            it.path().join("it.toml"),
            "[network.images]\n\"docker.io\" = \"it.corp/hub\"\n",
        )
        .unwrap();
        std::fs::create_dir(dir.join("cfg")).unwrap();
        std::fs::write(
            dir.join("cfg/team.toml"),
            "[network]\nimage_prefix = \"team.corp/hub\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("onramp.toml"),
            format!("{PROFILE}[network]\nteam_file = \"cfg/team.toml\"\n"),
        )
        .unwrap();
        let p = load_in(dir, &[]).unwrap().profile;
        assert_eq!(
            p.services["postgres"].image.as_deref(),
            Some("team.corp/hub/postgres:15")
        );
        assert_eq!(
            origin_of(&p.network, "team file").from,
            format!(
                "named by team_file in {}:7",
                dir.join("onramp.toml").display()
            )
        );
        let named = it.path().join("it.toml").display().to_string();
        let p = load_in(dir, &[(ENV, named)]).unwrap().profile;
        assert_eq!(
            p.services["postgres"].image.as_deref(),
            Some("it.corp/hub/postgres:15")
        );
        assert_eq!(
            origin_of(&p.network, "team file").from,
            format!("named by {ENV}")
        );
    }

    #[test]
    fn built_images_keep_their_name_and_the_sdk_container_is_mapped() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::create_dir(dir.join("web")).unwrap();
        std::fs::write(dir.join(FILE), "[network]\nimage_prefix = \"corp/hub\"\n").unwrap();
        std::fs::write(
            dir.join("onramp.toml"),
            format!("project = \"team\"\n{PROFILE}[services.web]\nbuild = {{ context = \"web\" }}\nports = [\"8080:80\"]\nprobe = {{ kind = \"tcp\" }}\n[sdk]\ncontainer_image = \"python:3.13\"\n"),
        )
        .unwrap();
        let p = load_in(dir, &[]).unwrap().profile;
        assert_eq!(p.services["web"].image.as_deref(), Some("team-web"));
        assert_eq!(
            p.sdk.container_image.as_deref(),
            Some("corp/hub/python:3.13")
        );
    }

    #[test]
    fn the_profile_s_ca_into_trusts_the_root_the_team_file_names() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::write(dir.join(FILE), "[network]\nca_file = \"root.pem\"\n").unwrap();
        std::fs::write(
            dir.join("onramp.toml"),
            format!("{PROFILE}[network]\nca_into = [\"redis\"]\n"),
        )
        .unwrap();
        let p = load_in(dir, &[]).unwrap().profile;
        assert_eq!(
            p.network.ca_into,
            Some(super::super::CaInto::Many(vec!["redis".into()]))
        );
        let env = p.services["redis"].env();
        assert!(env.contains_key("SSL_CERT_FILE"), "{env:?}");
        assert!(!p.services["postgres"].env().contains_key("SSL_CERT_FILE"));
    }

    #[test]
    fn a_byte_that_is_not_utf8_is_placed_at_its_line_and_column() {
        let u = decode(b"[network]\n\nproxy = \"caf\xe9\"\n".to_vec()).unwrap_err();
        assert_eq!((u.line, u.col), (3, 13), "{u:?}");
        assert!(u.message.contains("0xe9"), "{u:?}");
        let u = decode(b"\xff".to_vec()).unwrap_err();
        assert_eq!((u.line, u.col), (1, 1), "{u:?}");
        assert_eq!(
            decode(b"# caf\xc3\xa9\n".to_vec()).unwrap(),
            "# caf\u{e9}\n"
        );
    }

    fn error_of(dir: &Path, env: &[(&str, String)]) -> (String, String) {
        let e = load_in(dir, env).unwrap_err();
        (e.to_string(), e.help().unwrap_or_default())
    }

    /// A team file's values reach daemon.json, a systemd drop-in and the engine's restart
    /// like the profile's, so the profile's checks apply to them, at the team file's line: a
    /// mirror the engine refuses to start with, a proxy that is no proxy URL or has a line
    /// break (a drop-in's next line), a `ca_file` with a line break.
    #[test]
    fn a_team_file_value_the_engine_or_a_drop_in_would_take_badly_is_refused_at_its_line() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::write(dir.join("onramp.toml"), PROFILE).unwrap();
        let team = dir.join(FILE).display().to_string();
        for (value, shown) in [
            ("mirrors = [\"ftp://mirror.corp\"]", "mirror"),
            (
                "proxy = \"http://p.corp:3128\\nExecStartPre=/bin/touch /tmp/x\"",
                "proxy",
            ),
            ("proxy = \"not a proxy\"", "proxy"),
            ("ca_file = \"root.pem\\nx\"", "ca_file"),
        ] {
            std::fs::write(dir.join(FILE), format!("[network]\n{value}\n")).unwrap();
            let (e, help) = error_of(dir, &[]);
            assert!(e.contains(&format!("{team}:2:")), "{value}: {e}");
            assert!(e.contains(shown), "{value}: {e}");
            assert!(!help.is_empty(), "{value}");
        }
    }

    #[test]
    fn team_file_errors_name_the_file_the_line_and_the_fix() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::write(dir.join("onramp.toml"), PROFILE).unwrap();
        let team = dir.join(FILE).display().to_string();

        std::fs::write(
            dir.join(FILE),
            "[network]\nproxy = \"http://p:1\"\nca_flie = \"x.pem\"\n",
        )
        .unwrap();
        let (e, help) = error_of(dir, &[]);
        assert!(
            e.starts_with(&format!("{team}:3:1: unknown field `ca_flie`")),
            "{e}"
        );
        assert!(help.contains("one `[network]` table"), "{help}");

        std::fs::write(dir.join(FILE), "[services.x]\nimage = \"y\"\n").unwrap();
        let (e, _) = error_of(dir, &[]);
        assert!(
            e.starts_with(&format!("{team}:1:")) && e.contains("unknown field `services`"),
            "{e}"
        );

        std::fs::write(
            dir.join(FILE),
            "[network.images]\n\"docker.io\" = \"corp/hub\"\n\"redis:latest\" = \"corp/r\"\n",
        )
        .unwrap();
        let (e, help) = error_of(dir, &[]);
        assert!(
            e.starts_with(&format!("{team}:3:")) && e.contains("tag or digest"),
            "{e}"
        );
        assert!(help.contains("registry or a path prefix"), "{help}");

        std::fs::write(
            dir.join(FILE),
            "[network.images]\n\"docker.io\" = \"a/b\"\n\"index.docker.io\" = \"c/d\"\n",
        )
        .unwrap();
        let (e, _) = error_of(dir, &[]);
        assert!(e.contains("are the same key (docker.io)"), "{e}");

        std::fs::write(
            dir.join(FILE),
            "[network]\nimage_prefix = \"a/b\"\nteam_file = \"other.toml\"\n",
        )
        .unwrap();
        let (e, _) = error_of(dir, &[]);
        assert!(
            e.starts_with(&format!("{team}:3:")) && e.contains("cannot name another"),
            "{e}"
        );

        std::fs::write(
            dir.join(FILE),
            "[network]\nca_file = \"r.pem\"\nca_into = \"*\"\n",
        )
        .unwrap();
        let (e, help) = error_of(dir, &[]);
        assert!(
            e.starts_with(&format!("{team}:3:")) && e.contains("ca_into"),
            "{e}"
        );
        assert!(help.contains("onramp.toml"), "{help}");

        std::fs::write(
            dir.join(FILE),
            "[network]\nimage_prefix = \"a/b\"\n[network.images]\n\"docker.io\" = \"c/d\"\n",
        )
        .unwrap();
        let (e, _) = error_of(dir, &[]);
        assert!(
            e.starts_with(&format!("{team}:2:")) && e.contains("both say"),
            "{e}"
        );
        std::fs::remove_file(dir.join(FILE)).unwrap();

        std::fs::write(
            dir.join("onramp.toml"),
            format!("{PROFILE}[network]\nteam_file = \"missing.toml\"\n"),
        )
        .unwrap();
        let (e, help) = error_of(dir, &[]);
        let profile = dir.join("onramp.toml").display().to_string();
        assert!(
            e.starts_with(&format!("{profile}:7:"))
                && e.contains("cannot be read")
                && e.contains("missing.toml"),
            "{e}"
        );
        assert!(help.contains("remove `team_file`"), "{help}");

        std::fs::write(
            dir.join("onramp.toml"),
            format!("{PROFILE}[network.images]\n\"ghcr.io\" = \"Corp/Upper\"\n"),
        )
        .unwrap();
        let (e, _) = error_of(dir, &[]);
        assert!(
            e.starts_with(&format!("{profile}:7:")) && e.contains("not a repository path"),
            "{e}"
        );

        std::fs::write(dir.join("onramp.toml"), PROFILE).unwrap();
        let (e, help) = error_of(dir, &[(ENV, dir.join("nope.toml").display().to_string())]);
        assert!(
            e.contains("the team network file that ONRAMP_NETWORK_FILE names cannot be read"),
            "{e}"
        );
        assert!(help.contains("unset it"), "{help}");
    }
}
