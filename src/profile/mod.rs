//! Profiles: what a project needs (requirements, services, SDK, files, gates), as typed TOML.
//!
//! Every field is optional at this level so that an overlay (`onramp.toml` with `extends`) can
//! name only what it changes; accessors supply the defaults of the resolved profile.

mod load;
mod validate;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use load::{Choice, Loaded, Source, embedded_names, load, locate_line_col};
pub use validate::{PortMap, parse_duration, parse_mode, parse_port};

use crate::platform::Kind as PlatformKind;

/// The name of the profile used when nothing else is chosen.
pub const DEFAULT_PROFILE: &str = "kailash";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: Option<String>,
    pub description: Option<String>,
    pub project: Option<String>,
    pub extends: Option<String>,
    #[serde(default)]
    pub requirements: Requirements,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default)]
    pub sdk: Sdk,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSpec>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gates: BTreeMap<String, Gate>,
}

/// A phase gate: objective criteria that must all pass before the next phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub description: Option<String>,
    #[serde(default)]
    pub criteria: Vec<Criterion>,
}

/// One criterion: imports that must work, services that must answer, or a command whose
/// measured value must reach `min`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub name: String,
    pub imports: Option<Vec<String>>,
    pub services: Option<Vec<String>>,
    /// argv; `{python}` is replaced by the interpreter the SDK validated with.
    pub command: Option<Vec<String>>,
    pub metric: Option<Metric>,
    /// Known total: the measured count becomes a percentage of it.
    pub total: Option<f64>,
    pub min: Option<f64>,
    pub timeout: Option<String>,
}

/// How a command's result becomes a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Tests collected, from `pytest --collect-only -q`.
    PytestCollected,
    /// Passed tests as a percentage of passed, failed and errored, from pytest's summary.
    PytestPassRate,
    /// Exit code zero passes.
    ExitCode,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    pub memory_gib: Option<Threshold>,
    pub cpus: Option<Threshold>,
    pub disk_free_gib: Option<Threshold>,
    pub python: Option<String>,
    pub docker: Option<Need>,
    pub platforms: Option<Vec<PlatformKind>>,
}

/// `min` fails a check, `recommended` only warns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub min: Option<f64>,
    pub recommended: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Need {
    Required,
    Optional,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub enabled: Option<bool>,
    pub image: Option<String>,
    /// `host:port` of an external service: probed, never started.
    pub address: Option<String>,
    pub ports: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub volumes: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub healthcheck: Option<Vec<String>>,
    pub probe: Option<Probe>,
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub kind: ProbeKind,
    /// The container port to probe; onramp probes the host port published for it.
    pub port: Option<u16>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    Postgres,
    Redis,
    Neo4j,
    Chroma,
    Http,
    Tcp,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sdk {
    pub packages: Option<Vec<String>>,
    pub imports: Option<Vec<String>>,
    /// Imports that are also called with no arguments (`WorkflowBuilder()`).
    pub instantiate: Option<Vec<String>>,
    /// Image for the last rung of the ladder: validation inside a container.
    pub container_image: Option<String>,
    /// Extras of the project's own package installed by the venv rung (`pip install -e .[X]`).
    pub extras: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub template: String,
    pub path: String,
    pub mode: Option<String>,
}

impl Profile {
    /// Services that are switched on, in name order.
    pub fn services(&self) -> impl Iterator<Item = (&String, &Service)> {
        self.services
            .iter()
            .filter(|(_, s)| s.enabled != Some(false))
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("(unnamed)")
    }
}

impl Service {
    pub fn ports(&self) -> Vec<PortMap> {
        self.ports
            .iter()
            .flatten()
            .filter_map(|p| parse_port(p).ok())
            .collect()
    }

    pub fn env(&self) -> BTreeMap<String, String> {
        self.env.clone().unwrap_or_default()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
            .as_deref()
            .and_then(|t| parse_duration(t).ok())
            .unwrap_or(Duration::from_secs(60))
    }

    /// Host and port clients connect to: the external address, or the published probe port on
    /// loopback (an unspecified bind address is reached through 127.0.0.1).
    pub fn endpoint(&self) -> Option<(String, u16)> {
        if let Some(addr) = &self.address {
            let (h, p) = addr.rsplit_once(':')?;
            return Some((h.to_string(), p.parse().ok()?));
        }
        let port = self.probe_host_port()?;
        let ip = self
            .ports()
            .iter()
            .find(|p| p.host == port)
            .map(|p| p.host_ip.to_string())
            .filter(|ip| ip != "0.0.0.0" && ip != "::")
            .unwrap_or_else(|| "127.0.0.1".into());
        Some((ip, port))
    }

    /// The published host port the probe talks to.
    pub fn probe_host_port(&self) -> Option<u16> {
        let ports = self.ports();
        let wanted = self.probe.as_ref().and_then(|p| p.port);
        match wanted {
            Some(c) => ports.iter().find(|p| p.container == c).map(|p| p.host),
            None => ports.first().map(|p| p.host),
        }
    }
}

/// Whether an environment key holds a secret that must never be printed.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "AUTH",
        "API_KEY",
        "PRIVATE_KEY",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// The printable form of an environment value: secrets become `***`
/// (`NEO4J_AUTH=user/pass` keeps the user).
pub fn redact(key: &str, value: &str) -> String {
    if !is_secret_key(key) {
        return value.to_string();
    }
    match value.split_once('/') {
        Some((user, _)) if key.to_ascii_uppercase().ends_with("_AUTH") => format!("{user}/***"),
        _ => "***".to_string(),
    }
}

/// Redact secrets in file text shown to the user (diffs of `.env` or a compose file):
/// `KEY=value` and `KEY: value` lines with a secret key, and passwords in URLs.
pub fn redact_text(text: &str) -> String {
    text.lines().map(redact_line).collect::<Vec<_>>().join("\n")
}

fn redact_line(line: &str) -> String {
    let body = line.trim_start_matches(['+', '-', ' ']);
    let lead = &line[..line.len() - body.len()];
    for sep in ['=', ':'] {
        if let Some((k, _)) = body.split_once(sep) {
            let key = k.trim();
            if !key.is_empty()
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && is_secret_key(key)
            {
                return format!("{lead}{k}{sep}{}***", if sep == ':' { " " } else { "" });
            }
        }
    }
    redact_url_password(line)
}

/// `scheme://user:secret@host` becomes `scheme://user:***@host`.
fn redact_url_password(line: &str) -> String {
    let Some(start) = line.find("://") else {
        return line.to_string();
    };
    let rest = &line[start + 3..];
    let end = rest.find(['/', ' ', '"', '\'']).unwrap_or(rest.len());
    let authority = &rest[..end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &line[..start + 3],
            &authority[..colon],
            &line[start + 3 + at..]
        ),
        _ => line.to_string(),
    }
}

impl Profile {
    /// A copy safe to print: every secret replaced by `***`.
    pub fn redacted(&self) -> Profile {
        let mut p = self.clone();
        for svc in p.services.values_mut() {
            if let Some(env) = svc.env.as_mut() {
                for (k, v) in env.iter_mut() {
                    *v = redact(k, v);
                }
            }
            if let Some(probe) = svc.probe.as_mut()
                && probe.password.is_some()
            {
                probe.password = Some("***".into());
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_but_users_kept() {
        assert_eq!(redact("POSTGRES_PASSWORD", "hunter2"), "***");
        assert_eq!(redact("NEO4J_AUTH", "neo4j/testpassword"), "neo4j/***");
        assert_eq!(redact("POSTGRES_USER", "test_user"), "test_user");
        assert_eq!(redact("GITHUB_TOKEN", "abc"), "***");
    }

    #[test]
    fn text_redaction_covers_env_yaml_and_urls() {
        let text = "-POSTGRES_PASSWORD=old\n+POSTGRES_PASSWORD=new\n      POSTGRES_PASSWORD: \"x\"\nDATABASE_URL=postgresql://u:pw@h:5432/db\nPOSTGRES_USER=u";
        let r = redact_text(text);
        assert!(
            !r.contains("old") && !r.contains("new") && !r.contains("pw@"),
            "{r}"
        );
        assert!(r.contains("postgresql://u:***@h:5432/db"), "{r}");
        assert!(r.contains("POSTGRES_USER=u"));
    }

    #[test]
    fn probe_port_maps_to_the_published_host_port() {
        let svc = Service {
            ports: Some(vec!["17474:7474".into(), "17687:7687".into()]),
            probe: Some(Probe {
                kind: ProbeKind::Neo4j,
                port: Some(7687),
                path: None,
                status: None,
                user: None,
                password: None,
                database: None,
            }),
            ..Service::default()
        };
        assert_eq!(svc.probe_host_port(), Some(17687));
    }
}
