//! `[network] ca_into`: the services that must trust the company root get the combined CA
//! bundle (`.onramp/net/ca-bundle.pem`) as a read-only bind at a fixed path, and the variables
//! the common runtimes read to find it; JVMs (Neo4j), which read none of them, get the same
//! certificates as a Java trust store (`.onramp/net/ca-truststore.jks`) through
//! `JAVA_TOOL_OPTIONS`, and GnuTLS's wget a startup file (`WGETRC`) naming the bundle. Applied
//! at profile load, so the compose file `generate` writes, the containers `up` creates and the
//! config hash all carry the same binds and env.

use std::collections::BTreeSet;
use std::path::Path;

use super::validate::Problem;
use super::{CaInto, Profile, Service};
use crate::errors::Result;
use crate::host::Host;
use crate::netdiag::bundle::{self, Bundle};

/// The bundle on the host, relative to the project directory.
pub const BUNDLE_REL: &str = bundle::BUNDLE;

/// Where a container finds the bundle: beside the image's own bundle, never over it.
pub const CONTAINER_PATH: &str = "/etc/ssl/certs/onramp-ca-bundle.pem";

/// The Java trust store on the host, relative to the project directory.
pub const STORE_REL: &str = bundle::STORE;

/// Where a container finds the trust store, beside the bundle.
pub const STORE_CONTAINER_PATH: &str = "/etc/ssl/certs/onramp-ca-truststore.jks";

/// wget's startup file, on the host relative to the project and in a container. Debian's wget
/// (so the Neo4j image's, which downloads `NEO4J_PLUGINS` with it) is built with GnuTLS and reads
/// no variable for its roots, only `ca_certificate` in a startup file: `WGETRC` names this one.
pub const WGETRC_REL: &str = ".onramp/net/wgetrc";
pub const WGETRC_CONTAINER_PATH: &str = "/etc/ssl/certs/onramp-wgetrc";
pub const WGETRC_VAR: &str = "WGETRC";

/// The first line of the startup file: how onramp's is told from another.
const WGETRC_MARK: &str = "# Written by onramp for [network] ca_into: wget trusts the company root through this file (WGETRC). Rewritten by onramp; do not edit.";

/// The startup file's text: the mark, then the bundle as wget's roots.
pub fn wgetrc_text() -> String {
    format!("{WGETRC_MARK}\nca_certificate = {CONTAINER_PATH}\n")
}

/// The variable every JVM (HotSpot, OpenJ9) reads its options from at start, whatever launches
/// it: the Neo4j image's entrypoint runs `neo4j-admin` and the server JVM, each a JVM of its
/// own, and Neo4j's own setting for extra options is named differently in 4.x and 5.x.
pub const JAVA_VAR: &str = "JAVA_TOOL_OPTIONS";

/// The options that make a JVM's default TLS trust the store: its path and format. No password:
/// a JVM reads a JKS without one (it then skips the integrity check, which guards against a
/// damaged file, not a secret), and none is then shown in the service's environment.
pub fn java_options() -> String {
    format!("-Djavax.net.ssl.trustStore={STORE_CONTAINER_PATH} -Djavax.net.ssl.trustStoreType=JKS")
}

/// The host paths of the bundle, the trust store and wget's startup file as a service's file
/// says them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub bundle: String,
    pub store: String,
    pub wgetrc: String,
}

/// A label holding a digest of the company root's certificates: a bind holds the file it was
/// made with, so a container must be recreated when the root changes, and this label puts the
/// change into its config hash.
pub const LABEL_ROOT: &str = "dev.onramp.ca-root";

/// The variables that point a runtime at a CA file: OpenSSL and Go (`SSL_CERT_FILE`), Python's
/// requests (`REQUESTS_CA_BUNDLE`), curl (`CURL_CA_BUNDLE`), pip (`PIP_CERT`) and Node
/// (`NODE_EXTRA_CA_CERTS`, added to its own roots). Each gets the whole bundle.
pub const ENV_VARS: [&str; 5] = [
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "NODE_EXTRA_CA_CERTS",
];

/// The services `ca_into` names, checked: `"*"` is every service onramp starts; a name must be
/// one of the profile's services that onramp starts. `dropped` holds the services the profile
/// has but switched off (`enabled = false`, inactive Compose profiles): naming one is no error,
/// it just gets nothing.
pub fn targets(profile: &Profile, dropped: &BTreeSet<String>) -> Result<Vec<String>, Problem> {
    let started = |s: &Service| s.image.is_some() || s.build.is_some();
    let Some(asked) = &profile.network.ca_into else {
        return Ok(Vec::new());
    };
    if profile.network.ca_file.is_none() {
        return Err(problem(
            None,
            "ca_into gives services the company root, but no `[network] ca_file` names it".into(),
            "save the root (your IT department's, as PEM) in the project and name it: `ca_file = \"company-root.pem\"` under [network]".into(),
        ));
    }
    let names: Vec<String> = match asked {
        CaInto::One(all) if all == "*" => {
            return Ok(profile
                .services()
                .filter(|(_, s)| started(s))
                .map(|(n, _)| n.clone())
                .collect());
        }
        CaInto::One(name) => {
            return Err(problem(
                None,
                format!("ca_into = \"{name}\" is neither \"*\" nor a list of services"),
                format!(
                    "write ca_into = [\"{name}\"] for that service, or ca_into = \"*\" for every service onramp starts"
                ),
            ));
        }
        CaInto::Many(names) => names.clone(),
    };
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match profile
            .services
            .get(name)
            .filter(|s| s.enabled != Some(false))
        {
            Some(s) if started(s) => {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
            Some(s) => {
                return Err(problem(
                    Some(i),
                    format!(
                        "ca_into names `{name}`, an external service (address = \"{}\"): onramp does not start it, so it cannot give it the company root",
                        s.address.as_deref().unwrap_or_default()
                    ),
                    format!(
                        "remove `{name}` from ca_into; install the root where that service runs"
                    ),
                ));
            }
            None if dropped.contains(name) => {}
            None => {
                let known: Vec<&str> = profile
                    .services()
                    .filter(|(_, s)| started(s))
                    .map(|(n, _)| n.as_str())
                    .collect();
                return Err(problem(
                    Some(i),
                    format!("ca_into names `{name}`, which is not a service of this profile"),
                    format!(
                        "name one of the services onramp starts ({}), or write ca_into = \"*\" for all of them",
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// Give each target the bundle, the trust store, the variables and the root's digest
/// (`root_digest`; `None` when the file cannot be read yet: writing the bundle says why).
/// `sources` are the binds' host paths as the service's file will say them (relative to the
/// project for a profile, absolute for a service from a team's Compose file, whose relative
/// paths start at that file's folder). What the service sets itself wins: its own value for a
/// variable (or the name written without one), its own mount at either container path, and a
/// `JAVA_TOOL_OPTIONS` that names a trust store; other options of its `JAVA_TOOL_OPTIONS` are
/// kept, after onramp's (a JVM takes the last of a repeated `-D`, so theirs still win). The
/// notes returned say so.
pub fn apply(
    profile: &mut Profile,
    targets: &[String],
    sources: &Sources,
    digest: Option<&str>,
) -> Vec<String> {
    let mut notes = Vec::new();
    for name in targets {
        let Some(svc) = profile.services.get_mut(name) else {
            continue;
        };
        if let Some(d) = digest {
            svc.labels
                .get_or_insert_with(Default::default)
                .insert(LABEL_ROOT.to_string(), d.to_string());
        }
        let volumes = svc.volumes.get_or_insert_with(Vec::new);
        for (source, target, what) in [
            (&sources.bundle, CONTAINER_PATH, "CA bundle"),
            (&sources.store, STORE_CONTAINER_PATH, "Java trust store"),
            (&sources.wgetrc, WGETRC_CONTAINER_PATH, "wget startup file"),
        ] {
            if volumes.iter().any(|v| mount_target(v) == target) {
                notes.push(format!(
                    "{name} mounts its own file at {target}: kept instead of onramp's {what} ([network] ca_into)"
                ));
            } else {
                volumes.push(bind_entry(source, target));
            }
        }
        let unset = svc.env_unset.clone().unwrap_or_default();
        let env = svc.env.get_or_insert_with(Default::default);
        let mut own = Vec::new();
        let paths = ENV_VARS
            .iter()
            .map(|v| (*v, CONTAINER_PATH))
            .chain([(WGETRC_VAR, WGETRC_CONTAINER_PATH)]);
        for (var, path) in paths {
            if env.contains_key(var) || unset.iter().any(|u| u == var) {
                own.push(var);
            } else {
                env.insert(var.to_string(), path.to_string());
            }
        }
        if !own.is_empty() {
            notes.push(format!(
                "{name} sets {} itself: its value is kept; the other variables point at onramp's files under /etc/ssl/certs ([network] ca_into)",
                own.join(", ")
            ));
        }
        let passed_through = unset.iter().any(|u| u == JAVA_VAR);
        let (value, note) = java_env(name, env.get(JAVA_VAR).map(String::as_str), passed_through);
        if let Some(v) = value {
            env.insert(JAVA_VAR.to_string(), v);
        }
        notes.extend(note);
    }
    notes
}

/// A service's `JAVA_TOOL_OPTIONS` with onramp's trust store, and the note saying what became
/// of its own: `own` is its value, `passed_through` whether it names the variable without one
/// (taken from the shell, so onramp leaves it alone). `None` leaves the variable as it is. Pure.
pub fn java_env(
    name: &str,
    own: Option<&str>,
    passed_through: bool,
) -> (Option<String>, Option<String>) {
    let ours = java_options();
    if passed_through {
        return (
            None,
            Some(format!(
                "{name} passes {JAVA_VAR} through from the shell: left as it is, so a JVM there trusts the company root only if that names {STORE_CONTAINER_PATH} ([network] ca_into)"
            )),
        );
    }
    match own.map(str::trim) {
        None | Some("") => (Some(ours), None),
        Some(v) if v.contains("javax.net.ssl.trustStore=") => (
            None,
            Some(format!(
                "{name} names its own Java trust store in {JAVA_VAR}: kept instead of onramp's ([network] ca_into)"
            )),
        ),
        Some(v) => (
            Some(format!("{ours} {v}")),
            Some(format!(
                "{name} sets {JAVA_VAR} itself: its options are kept, after onramp's trust store options ([network] ca_into)"
            )),
        ),
    }
}

/// A short digest of the certificates in the profile's `ca_file` (comments and line endings
/// aside), or `None` when it names none or cannot be read.
pub fn root_digest(dir: &Path, profile: &Profile) -> Option<String> {
    use sha2::{Digest, Sha256};
    let file = profile.network.ca_file.as_deref()?;
    let bytes = crate::fsx::read_regular(&dir.join(file), crate::fsx::FILE_CAP).ok()?;
    let certs = crate::netdiag::x509::pem_certs(&bytes);
    if certs.is_empty() {
        return None;
    }
    let mut h = Sha256::new();
    for der in &certs {
        h.update(der);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Some(hex[..16].to_string())
}

/// Make the bundle, the trust store and wget's startup file the `ca_into` services mount
/// current (written when missing or out of date; refused when a file there is not onramp's)
/// before a compose file or a container names it: a bind of a missing file fails, and Compose
/// would make a directory there. `None` when the profile puts the root into no service.
pub fn ensure_bundle(host: &Host, dir: &Path, profile: &Profile) -> Result<Option<Bundle>> {
    let (Some(_), Some(ca_file)) = (&profile.network.ca_into, &profile.network.ca_file) else {
        return Ok(None);
    };
    let root = crate::fsx::Root::new(dir);
    let current = root.read(WGETRC_REL)?;
    if let Some(t) = &current
        && !t.starts_with(WGETRC_MARK.as_bytes())
    {
        return Err(bundle::not_ours(dir, WGETRC_REL, "a wget startup file"));
    }
    let os_release = host.sys_read("/etc/os-release").unwrap_or_default();
    let family = crate::install::pkg::family(&os_release).map(|f| f.name);
    let mut b = bundle::ensure(host, dir, &dir.join(ca_file), family)?;
    let text = wgetrc_text();
    if current.as_deref() != Some(text.as_bytes()) {
        root.write(WGETRC_REL, text.as_bytes(), 0o644)?;
        b.written = true;
    }
    Ok(Some(b))
}

/// A read-only bind of `source` at `target` as a volume entry: the long syntax (a missing file
/// fails instead of becoming a directory), or the short one for a path with a comma, which the
/// long syntax cannot hold.
fn bind_entry(source: &str, target: &str) -> String {
    if source.contains(',') {
        format!("{source}:{target}:ro")
    } else {
        format!("type=bind,source={source},target={target},readonly")
    }
}

/// The container path of a volume entry, short (`src:target[:opts]`, `target`) or long
/// (`type=...,target=T,...`) syntax.
fn mount_target(entry: &str) -> String {
    let target = if entry.starts_with("type=") {
        entry
            .split(',')
            .find_map(|p| p.strip_prefix("target="))
            .unwrap_or_default()
    } else {
        let mut parts = entry.splitn(3, ':');
        let first = parts.next().unwrap_or_default();
        parts.next().unwrap_or(first)
    };
    let trimmed = target.trim_end_matches('/');
    if trimmed.is_empty() { target } else { trimmed }.to_string()
}

fn problem(index: Option<usize>, message: String, help: String) -> Problem {
    let mut path = vec!["network".to_string(), "ca_into".to_string()];
    path.extend(index.map(|i| i.to_string()));
    Problem {
        path,
        message,
        help,
    }
}

#[cfg(test)]
// The tests make fixture files directly.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Profile {
        toml::from_str(text).unwrap()
    }

    const THREE: &str = "[services.app]\nimage = \"app:1\"\n[services.db]\nimage = \"postgres:15\"\n[services.ext]\naddress = \"db.corp:5432\"\n";
    const ROOT: &str = "ca_file = \"root.pem\"\n";

    #[test]
    fn a_star_names_every_started_service_and_no_external_one() {
        let p = profile(&format!("{THREE}[network]\n{ROOT}ca_into = \"*\"\n"));
        assert_eq!(targets(&p, &BTreeSet::new()).unwrap(), ["app", "db"]);
    }

    #[test]
    fn no_ca_into_names_nothing() {
        assert!(
            targets(&profile(THREE), &BTreeSet::new())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_unknown_name_is_refused_at_its_index_with_the_names_it_could_be() {
        let p = profile(&format!(
            "{THREE}[network]\n{ROOT}ca_into = [\"app\", \"web\"]\n"
        ));
        let e = targets(&p, &BTreeSet::new()).unwrap_err();
        assert_eq!(e.path, ["network", "ca_into", "1"]);
        assert!(e.message.contains("`web`"), "{}", e.message);
        assert!(e.help.contains("app, db"), "{}", e.help);
    }

    #[test]
    fn a_switched_off_service_is_no_error_and_gets_nothing() {
        let p = profile(&format!(
            "{THREE}[network]\n{ROOT}ca_into = [\"app\", \"debug\"]\n"
        ));
        let dropped = BTreeSet::from(["debug".to_string()]);
        assert_eq!(targets(&p, &dropped).unwrap(), ["app"]);
    }

    #[test]
    fn an_external_service_or_a_lone_name_is_refused() {
        let p = profile(&format!("{THREE}[network]\n{ROOT}ca_into = [\"ext\"]\n"));
        let e = targets(&p, &BTreeSet::new()).unwrap_err();
        assert!(e.message.contains("external service"), "{}", e.message);
        let p = profile(&format!("{THREE}[network]\n{ROOT}ca_into = \"app\"\n"));
        let e = targets(&p, &BTreeSet::new()).unwrap_err();
        assert_eq!(e.path, ["network", "ca_into"]);
        assert!(e.help.contains("ca_into = [\"app\"]"), "{}", e.help);
    }

    #[test]
    fn ca_into_without_a_ca_file_is_refused() {
        let p = profile(&format!("{THREE}[network]\nca_into = \"*\"\n"));
        let e = targets(&p, &BTreeSet::new()).unwrap_err();
        assert!(e.message.contains("ca_file"), "{}", e.message);
    }

    fn sources() -> Sources {
        Sources {
            bundle: "./.onramp/net/ca-bundle.pem".into(),
            store: "./.onramp/net/ca-truststore.jks".into(),
            wgetrc: "./.onramp/net/wgetrc".into(),
        }
    }

    #[test]
    fn a_target_gets_the_binds_and_every_variable() {
        let mut p = profile(THREE);
        let notes = apply(&mut p, &["app".into()], &sources(), Some("0123"));
        assert!(notes.is_empty(), "{notes:?}");
        let app = &p.services["app"];
        assert_eq!(
            app.volumes.as_deref().unwrap(),
            [
                "type=bind,source=./.onramp/net/ca-bundle.pem,target=/etc/ssl/certs/onramp-ca-bundle.pem,readonly",
                "type=bind,source=./.onramp/net/ca-truststore.jks,target=/etc/ssl/certs/onramp-ca-truststore.jks,readonly",
                "type=bind,source=./.onramp/net/wgetrc,target=/etc/ssl/certs/onramp-wgetrc,readonly"
            ]
        );
        for var in ENV_VARS {
            assert_eq!(app.env()[var], CONTAINER_PATH, "{var}");
        }
        assert_eq!(app.env()[WGETRC_VAR], WGETRC_CONTAINER_PATH);
        assert_eq!(
            app.env()[JAVA_VAR],
            "-Djavax.net.ssl.trustStore=/etc/ssl/certs/onramp-ca-truststore.jks -Djavax.net.ssl.trustStoreType=JKS"
        );
        assert_eq!(app.labels.as_ref().unwrap()[LABEL_ROOT], "0123");
        assert!(p.services["db"].env.is_none(), "only the targets");
    }

    #[test]
    fn the_services_own_values_and_mounts_win() {
        let mut p = profile(
            "[services.app]\nimage = \"app:1\"\nenv = { REQUESTS_CA_BUNDLE = \"/own.pem\" }\nenv_unset = [\"PIP_CERT\"]\nvolumes = [\"./mine.pem:/etc/ssl/certs/onramp-ca-bundle.pem:ro\", \"./mine.jks:/etc/ssl/certs/onramp-ca-truststore.jks/\"]\n",
        );
        let notes = apply(&mut p, &["app".into()], &sources(), None);
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(
            notes[0].contains("own file at /etc/ssl/certs/onramp-ca-bundle.pem"),
            "{}",
            notes[0]
        );
        assert!(
            notes[1].contains("instead of onramp's Java trust store"),
            "{}",
            notes[1]
        );
        assert!(
            notes[2].contains("REQUESTS_CA_BUNDLE, PIP_CERT itself"),
            "{}",
            notes[2]
        );
        let app = &p.services["app"];
        assert_eq!(
            app.volumes.as_ref().unwrap().len(),
            3,
            "the service's own mounts and onramp's wget startup file"
        );
        let env = app.env();
        assert_eq!(env["REQUESTS_CA_BUNDLE"], "/own.pem");
        assert!(
            !env.contains_key("PIP_CERT"),
            "a name written without a value"
        );
        assert_eq!(env["SSL_CERT_FILE"], CONTAINER_PATH);
    }

    #[test]
    fn the_services_own_java_options_are_kept_after_onramps() {
        let mut p = profile(
            "[services.app]\nimage = \"app:1\"\nenv = { JAVA_TOOL_OPTIONS = \"-Xss2m -Dfile.encoding=UTF-8\" }\n",
        );
        let notes = apply(&mut p, &["app".into()], &sources(), None);
        assert_eq!(
            p.services["app"].env()[JAVA_VAR],
            format!("{} -Xss2m -Dfile.encoding=UTF-8", java_options())
        );
        assert!(notes[0].contains("its options are kept"), "{notes:?}");
    }

    #[test]
    fn a_trust_store_the_service_names_itself_wins() {
        let own = "-Djavax.net.ssl.trustStore=/opt/corp.p12 -Djavax.net.ssl.trustStorePassword=x";
        let (value, note) = java_env("app", Some(own), false);
        assert_eq!(value, None, "left as it is");
        assert!(note.unwrap().contains("its own Java trust store"));
        // A name without a value (Compose's `- JAVA_TOOL_OPTIONS`) comes from the shell.
        let (value, note) = java_env("app", None, true);
        assert_eq!(value, None);
        assert!(note.unwrap().contains("passes JAVA_TOOL_OPTIONS through"));
        // An empty value is no option of theirs.
        assert_eq!(
            java_env("app", Some(" "), false),
            (Some(java_options()), None)
        );
        // `trustStoreType` alone names no store: onramp's goes first, their type still wins.
        let (value, _) = java_env("app", Some("-Djavax.net.ssl.trustStoreType=PKCS12"), false);
        assert!(
            value
                .unwrap()
                .ends_with(" -Djavax.net.ssl.trustStoreType=PKCS12")
        );
    }

    /// A team's Compose file in a subfolder: the bind names the project's bundle by its absolute
    /// path (the file's relative paths start at its own folder); a service its Compose profiles
    /// switch off may be named.
    #[test]
    fn services_of_a_team_compose_file_get_the_projects_bundle_by_its_absolute_path() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::create_dir_all(dir.join("team")).unwrap();
        std::fs::write(
            dir.join("team/compose.yml"),
            "services:\n  db:\n    image: postgres:16\n  debug:\n    image: busybox\n    profiles: [debug]\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("onramp.toml"),
            "compose = \"team/compose.yml\"\n[network]\nca_file = \"root.pem\"\nca_into = [\"db\", \"debug\"]\n",
        )
        .unwrap();
        let no_env = |_: &str| None;
        let loaded = super::super::load_with(
            &super::super::Choice::ProjectFile(dir.join("onramp.toml")),
            &super::super::ComposeOptions {
                dir,
                file: None,
                profiles: Vec::new(),
                named: Vec::new(),
                env: &no_env,
                import_only: false,
            },
        )
        .unwrap();
        let db = &loaded.profile.services["db"];
        let source = std::path::absolute(dir).unwrap().join(BUNDLE_REL);
        let store = std::path::absolute(dir).unwrap().join(STORE_REL);
        assert_eq!(
            db.volumes.as_deref().unwrap(),
            [
                format!(
                    "type=bind,source={},target={CONTAINER_PATH},readonly",
                    source.display()
                ),
                format!(
                    "type=bind,source={},target={STORE_CONTAINER_PATH},readonly",
                    store.display()
                ),
                format!(
                    "type=bind,source={},target={WGETRC_CONTAINER_PATH},readonly",
                    std::path::absolute(dir).unwrap().join(WGETRC_REL).display()
                )
            ]
        );
        assert_eq!(db.env()["SSL_CERT_FILE"], CONTAINER_PATH);
    }

    /// `up` and `generate` write wget's startup file with the bundle and the store, and never
    /// replace one onramp did not write.
    #[test]
    fn the_wget_startup_file_is_written_with_the_bundle_and_a_foreign_one_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let sys = d.path().join("sys");
        let dir = d.path().join("p");
        let root = crate::netdiag::x509::TEST_ROOT;
        std::fs::create_dir_all(sys.join("etc/ssl/certs")).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(sys.join("etc/ssl/certs/ca-certificates.crt"), root).unwrap();
        std::fs::write(dir.join("root.pem"), root).unwrap();
        let host = Host::with(&sys, &[], crate::host::Os::current());
        let p = profile(&format!("{THREE}[network]\n{ROOT}ca_into = \"*\"\n"));
        let b = ensure_bundle(&host, &dir, &p).unwrap().unwrap();
        assert!(b.written && b.store.exists());
        let text = std::fs::read_to_string(dir.join(WGETRC_REL)).unwrap();
        assert!(text.ends_with("\nca_certificate = /etc/ssl/certs/onramp-ca-bundle.pem\n"));
        assert!(!ensure_bundle(&host, &dir, &p).unwrap().unwrap().written);
        std::fs::write(dir.join(WGETRC_REL), "ca_certificate = /mine.pem\n").unwrap();
        let e = ensure_bundle(&host, &dir, &p).unwrap_err();
        assert!(
            e.to_string()
                .contains("not a wget startup file onramp wrote"),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join(WGETRC_REL)).unwrap(),
            "ca_certificate = /mine.pem\n"
        );
    }

    #[test]
    fn the_roots_digest_follows_its_certificates_not_its_comments() {
        let d = tempfile::tempdir().unwrap();
        let pem =
            |b64: &str| format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        let p = profile(&format!("{THREE}[network]\n{ROOT}"));
        let digest = |text: &str| {
            std::fs::write(d.path().join("root.pem"), text).unwrap();
            root_digest(d.path(), &p)
        };
        let one = digest(&pem("AAECAwQF")).unwrap();
        assert_eq!(one.len(), 16);
        assert_eq!(
            digest(&format!("# the company root\r\n{}", pem("AAECAwQF"))).as_deref(),
            Some(one.as_str())
        );
        assert_ne!(digest(&pem("BgcICQoL")).unwrap(), one);
        assert_eq!(digest("not a certificate"), None);
    }

    #[test]
    fn a_project_path_with_a_comma_is_bound_with_the_short_syntax() {
        assert_eq!(
            bind_entry("/home/a,b/.onramp/net/ca-bundle.pem", CONTAINER_PATH),
            "/home/a,b/.onramp/net/ca-bundle.pem:/etc/ssl/certs/onramp-ca-bundle.pem:ro"
        );
        assert_eq!(
            mount_target(&bind_entry("/a,b/x", STORE_CONTAINER_PATH)),
            STORE_CONTAINER_PATH
        );
    }

    #[test]
    fn mount_targets_are_read_from_either_syntax() {
        assert_eq!(mount_target("./a:/etc/x/:ro"), "/etc/x");
        assert_eq!(mount_target("/data"), "/data");
        assert_eq!(mount_target("vol:/data"), "/data");
        assert_eq!(mount_target("type=bind,source=/a,target=/b,readonly"), "/b");
    }
}
