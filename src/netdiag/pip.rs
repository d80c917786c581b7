//! Which roots pip actually verifies the index with, from its version and settings: `cert`
//! (pip.conf or `PIP_CERT`) replaces every other root; else `REQUESTS_CA_BUNDLE`; else pip
//! 24.2 and later use the OS store through truststore (`SSL_CERT_FILE` honoured), and older pip
//! its own vendored certifi bundle, which never holds a company root. Asked of the interpreter
//! that will install (the project venv's, else the one a new venv is made from); decided by a
//! pure function.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::version::Version;

/// What the interpreter says (`QUERY`'s JSON line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PipFacts {
    /// pip's version in that interpreter.
    pub pip: Option<String>,
    /// The pip a new venv gets (`ensurepip.version()`), for a venv still to be made.
    pub ensurepip: Option<String>,
    /// pip's certifi bundle.
    pub certifi: Option<String>,
    /// pip's default index.
    pub index: Option<String>,
    /// Set by the caller: the facts are the project venv's own.
    #[serde(skip)]
    pub venv: bool,
}

/// Run with `-I`: one JSON line.
pub const QUERY: &str = r#"import json
out = {}
try:
    import pip
    out["pip"] = pip.__version__
    from pip._vendor import certifi
    out["certifi"] = certifi.where()
    from pip._internal.models.index import PyPI
    out["index"] = PyPI.simple_url
except Exception:
    pass
try:
    import ensurepip
    out["ensurepip"] = ensurepip.version()
except Exception:
    pass
print(json.dumps(out))
"#;

/// The roots pip verifies with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipTrust {
    /// A file named by `cert`/`PIP_CERT` or `REQUESTS_CA_BUNDLE`: only its roots.
    File { path: String, from: String },
    /// pip 24.2 or later: the OS store (or `SSL_CERT_FILE`).
    Truststore {
        version: String,
        file: Option<String>,
    },
    /// pip before 24.2: its own certifi bundle.
    Certifi {
        version: String,
        path: Option<String>,
    },
}

/// The first pip that verifies with the OS store.
const TRUSTSTORE_FROM: (u64, u64) = (24, 2);

impl PipFacts {
    /// Parse the query's answer (its last JSON line).
    pub fn parse(stdout: &str, venv: bool) -> Option<PipFacts> {
        let line = stdout.lines().rev().find(|l| l.starts_with('{'))?;
        let mut f: PipFacts = serde_json::from_str(line).ok()?;
        f.venv = venv;
        Some(f)
    }

    /// The pip that will install: the venv's own, else the one a new venv gets.
    pub fn version(&self) -> Option<&str> {
        if self.venv {
            self.pip.as_deref()
        } else {
            self.ensurepip.as_deref().or(self.pip.as_deref())
        }
    }
}

/// What pip trusts, from its settings (`cert`: pip.conf or `PIP_CERT`, already merged), the
/// environment, and its version (unknown: taken to be current).
pub fn trust(
    cert: Option<(&str, &str)>,
    env: impl Fn(&str) -> Option<String>,
    facts: Option<&PipFacts>,
) -> PipTrust {
    if let Some((path, from)) = cert {
        return PipTrust::File {
            path: path.into(),
            from: from.into(),
        };
    }
    if let Some(p) = env("REQUESTS_CA_BUNDLE").filter(|p| !p.is_empty()) {
        return PipTrust::File {
            path: p,
            from: "REQUESTS_CA_BUNDLE".into(),
        };
    }
    let version = facts.and_then(|f| f.version()).map(String::from);
    let old = version
        .as_deref()
        .and_then(Version::parse)
        .is_some_and(|v| v < Version(vec![TRUSTSTORE_FROM.0, TRUSTSTORE_FROM.1]));
    match version {
        Some(version) if old => PipTrust::Certifi {
            // A venv still to be made gets a certifi of its own, not on disk yet: the
            // interpreter's pip has the same kind (Mozilla's roots, never a company's).
            path: facts.and_then(|f| f.certifi.clone()),
            version,
        },
        version => PipTrust::Truststore {
            version: version.unwrap_or_else(|| "(version unknown)".into()),
            file: env("SSL_CERT_FILE").filter(|p| !p.is_empty()),
        },
    }
}

impl PipTrust {
    /// How a person is told which roots pip used.
    pub fn describe(&self, venv: bool) -> String {
        let whose = if venv {
            "the project venv's pip"
        } else {
            "pip in a new venv"
        };
        match self {
            PipTrust::File { path, from } => {
                format!("pip verifies with {path} only ({from})")
            }
            PipTrust::Truststore {
                version,
                file: Some(f),
            } => format!("{whose} {version} verifies with {f} (SSL_CERT_FILE, through truststore)"),
            PipTrust::Truststore {
                version,
                file: None,
            } => format!("{whose} {version} verifies with the OS trust store (truststore)"),
            PipTrust::Certifi { version, .. } => format!(
                "{whose} {version} verifies with its own certifi bundle, not the OS store (pip before 24.2 has no truststore)"
            ),
        }
    }

    /// The file whose roots pip uses, when it is one file (`None`: the OS store).
    pub fn file(&self) -> Option<&str> {
        match self {
            PipTrust::File { path, .. } => Some(path),
            PipTrust::Truststore { file, .. } => file.as_deref(),
            PipTrust::Certifi { path, .. } => path.as_deref(),
        }
    }
}

/// What the planner needs to know about the project's Python side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PyProject {
    /// The bundle's absolute path.
    pub bundle: String,
    /// The bundle is there, onramp's, and what the OS store and `ca_file` make now.
    pub bundle_current: bool,
    /// The project venv, when it is usable.
    pub venv: Option<Venv>,
    /// A package the profile installs (the first), for pip's own check of the index.
    pub package: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Venv {
    /// Its interpreter.
    pub python: String,
    /// Its pip site configuration (`pip.conf`, `pip.ini` on Windows), relative to the project.
    pub conf: String,
    /// That file as it is (`None`: there is none).
    pub conf_text: Option<String>,
}

/// The venv's site configuration file name, relative to the project.
pub fn conf_rel(windows: bool) -> &'static str {
    if windows {
        ".venv/pip.ini"
    } else {
        ".venv/pip.conf"
    }
}

/// The project's side as it is now: the bundle, and the venv's pip configuration.
pub fn project(
    host: &crate::host::Host,
    dir: &Path,
    ca_file: &Path,
    venv_usable: bool,
    package: Option<String>,
) -> PyProject {
    let windows = host.os() == crate::host::Os::Windows;
    let venv = venv_usable.then(|| {
        let conf = conf_rel(windows).to_string();
        Venv {
            python: crate::python::venv_python(&dir.join(".venv"), host.os())
                .display()
                .to_string(),
            conf_text: crate::fsx::Root::new(dir).read_text(&conf).ok().flatten(),
            conf: dir.join(&conf).display().to_string(),
        }
    });
    PyProject {
        bundle: super::bundle::path(dir).display().to_string(),
        bundle_current: super::bundle::is_current(host, dir, ca_file, None),
        venv,
        package,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pip: &str, venv: bool) -> PipFacts {
        PipFacts {
            pip: Some(pip.into()),
            ensurepip: Some("23.2.1".into()),
            certifi: Some(
                "/p/.venv/lib/python3.11/site-packages/pip/_vendor/certifi/cacert.pem".into(),
            ),
            index: Some("https://pypi.org/simple".into()),
            venv,
        }
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn pip_before_24_2_uses_certifi_and_later_the_os_store() {
        let t = trust(None, none, Some(&facts("23.2.1", true)));
        assert!(matches!(&t, PipTrust::Certifi { path: Some(p), .. } if p.ends_with("cacert.pem")));
        assert!(t.describe(true).contains("certifi"), "{}", t.describe(true));
        let t = trust(None, none, Some(&facts("24.2", true)));
        assert!(
            matches!(t, PipTrust::Truststore { file: None, .. }),
            "{t:?}"
        );
        let t = trust(
            None,
            |k| (k == "SSL_CERT_FILE").then(|| "/b.pem".into()),
            Some(&facts("25.1", true)),
        );
        assert_eq!(t.file(), Some("/b.pem"));
    }

    #[test]
    fn a_new_venv_gets_ensurepips_pip_whatever_the_interpreter_has() {
        let t = trust(None, none, Some(&facts("25.1", false)));
        assert!(
            matches!(&t, PipTrust::Certifi { version, .. } if version == "23.2.1"),
            "{t:?}"
        );
        assert!(t.describe(false).starts_with("pip in a new venv 23.2.1"));
    }

    #[test]
    fn cert_and_requests_ca_bundle_win_over_the_version() {
        let f = facts("23.2.1", true);
        let t = trust(Some(("/c.pem", "PIP_CERT")), none, Some(&f));
        assert_eq!(t.file(), Some("/c.pem"));
        assert!(t.describe(true).contains("PIP_CERT"));
        let t = trust(
            None,
            |k| (k == "REQUESTS_CA_BUNDLE").then(|| "/r.pem".into()),
            Some(&f),
        );
        assert_eq!(t.file(), Some("/r.pem"));
    }

    #[test]
    fn the_query_answer_is_parsed_from_its_json_line() {
        let f = PipFacts::parse(
            "noise\n{\"pip\": \"23.2.1\", \"ensurepip\": \"23.2.1\"}\n",
            true,
        )
        .unwrap();
        assert_eq!(f.version(), Some("23.2.1"));
        assert!(PipFacts::parse("nothing", false).is_none());
        assert!(
            trust(None, none, None)
                .describe(false)
                .contains("OS trust store")
        );
    }
}
