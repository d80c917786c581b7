//! `[network] ca_into`: the services that must trust the company root get the combined CA
//! bundle (`.onramp/net/ca-bundle.pem`) as a read-only bind at a fixed path, and the variables
//! the common runtimes read to find it. Applied at profile load, so the compose file `generate`
//! writes, the containers `up` creates and the config hash all carry the same bind and env.

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

/// Give each target the bundle, the variables and the root's digest (`root_digest`; `None`
/// when the file cannot be read yet: writing the bundle says why). `source` is the bind's host
/// path as the service's file will say it (relative to the project for a profile, absolute for
/// a service from a team's Compose file, whose relative paths start at that file's folder).
/// What the service sets itself wins: its own value for a variable (or the name written
/// without one), and its own mount at `CONTAINER_PATH`; the notes returned say so.
pub fn apply(
    profile: &mut Profile,
    targets: &[String],
    source: &str,
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
        if volumes.iter().any(|v| mount_target(v) == CONTAINER_PATH) {
            notes.push(format!(
                "{name} mounts its own file at {CONTAINER_PATH}: kept instead of onramp's CA bundle ([network] ca_into)"
            ));
        } else {
            volumes.push(bind_entry(source));
        }
        let unset = svc.env_unset.clone().unwrap_or_default();
        let env = svc.env.get_or_insert_with(Default::default);
        let mut own = Vec::new();
        for var in ENV_VARS {
            if env.contains_key(var) || unset.iter().any(|u| u == var) {
                own.push(var);
            } else {
                env.insert(var.to_string(), CONTAINER_PATH.to_string());
            }
        }
        if !own.is_empty() {
            notes.push(format!(
                "{name} sets {} itself: its value is kept; the other variables point at {CONTAINER_PATH} ([network] ca_into)",
                own.join(", ")
            ));
        }
    }
    notes
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

/// Make the bundle the `ca_into` services mount current (written when missing or out of date)
/// before a compose file or a container names it: a bind of a missing file fails, and Compose
/// would make a directory there. `None` when the profile puts the root into no service.
pub fn ensure_bundle(host: &Host, dir: &Path, profile: &Profile) -> Result<Option<Bundle>> {
    let (Some(_), Some(ca_file)) = (&profile.network.ca_into, &profile.network.ca_file) else {
        return Ok(None);
    };
    let os_release = host.sys_read("/etc/os-release").unwrap_or_default();
    let family = crate::install::pkg::family(&os_release).map(|f| f.name);
    bundle::ensure(host, dir, &dir.join(ca_file), family).map(Some)
}

/// The bind as a volume entry: the long syntax (a missing file fails instead of becoming a
/// directory), or the short one for a path with a comma, which the long syntax cannot hold.
fn bind_entry(source: &str) -> String {
    if source.contains(',') {
        format!("{source}:{CONTAINER_PATH}:ro")
    } else {
        format!("type=bind,source={source},target={CONTAINER_PATH},readonly")
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

    #[test]
    fn a_target_gets_the_bind_and_every_variable() {
        let mut p = profile(THREE);
        apply(
            &mut p,
            &["app".into()],
            "./.onramp/net/ca-bundle.pem",
            Some("0123"),
        );
        let app = &p.services["app"];
        assert_eq!(
            app.volumes.as_deref().unwrap(),
            [
                "type=bind,source=./.onramp/net/ca-bundle.pem,target=/etc/ssl/certs/onramp-ca-bundle.pem,readonly"
            ]
        );
        for var in ENV_VARS {
            assert_eq!(app.env()[var], CONTAINER_PATH, "{var}");
        }
        assert_eq!(app.labels.as_ref().unwrap()[LABEL_ROOT], "0123");
        assert!(p.services["db"].env.is_none(), "only the targets");
    }

    #[test]
    fn the_services_own_values_and_mount_win() {
        let mut p = profile(
            "[services.app]\nimage = \"app:1\"\nenv = { REQUESTS_CA_BUNDLE = \"/own.pem\" }\nenv_unset = [\"PIP_CERT\"]\nvolumes = [\"./mine.pem:/etc/ssl/certs/onramp-ca-bundle.pem:ro\"]\n",
        );
        let notes = apply(&mut p, &["app".into()], "./x", None);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("mounts its own file"), "{}", notes[0]);
        assert!(
            notes[1].contains("REQUESTS_CA_BUNDLE, PIP_CERT itself"),
            "{}",
            notes[1]
        );
        let app = &p.services["app"];
        assert_eq!(
            app.volumes.as_ref().unwrap().len(),
            1,
            "the service's own mount"
        );
        let env = app.env();
        assert_eq!(env["REQUESTS_CA_BUNDLE"], "/own.pem");
        assert!(
            !env.contains_key("PIP_CERT"),
            "a name written without a value"
        );
        assert_eq!(env["SSL_CERT_FILE"], CONTAINER_PATH);
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
        assert_eq!(
            db.volumes.as_deref().unwrap(),
            [format!(
                "type=bind,source={},target={CONTAINER_PATH},readonly",
                source.display()
            )]
        );
        assert_eq!(db.env()["SSL_CERT_FILE"], CONTAINER_PATH);
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
            bind_entry("/home/a,b/.onramp/net/ca-bundle.pem"),
            "/home/a,b/.onramp/net/ca-bundle.pem:/etc/ssl/certs/onramp-ca-bundle.pem:ro"
        );
        assert_eq!(mount_target(&bind_entry("/a,b/x")), CONTAINER_PATH);
    }

    #[test]
    fn mount_targets_are_read_from_either_syntax() {
        assert_eq!(mount_target("./a:/etc/x/:ro"), "/etc/x");
        assert_eq!(mount_target("/data"), "/data");
        assert_eq!(mount_target("vol:/data"), "/data");
        assert_eq!(mount_target("type=bind,source=/a,target=/b,readonly"), "/b");
    }
}
