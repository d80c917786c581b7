//! Profiles: what a project needs (requirements, services, SDK, files, gates), as typed TOML.
//!
//! Every field is optional at this level so that an overlay (`onramp.toml` with `extends`) can
//! name only what it changes; accessors supply the defaults of the resolved profile.

mod ca_into;
mod compose;
mod compose_ctx;
mod dotenv;
mod extends;
pub mod image_map;
mod interpolate;
pub mod kinds;
mod load;
pub mod locate;
pub mod team;
mod templates;
mod validate;
mod yaml;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use ca_into::{
    BUNDLE_REL as CA_BUNDLE_REL, CONTAINER_PATH as CA_CONTAINER_PATH,
    ensure_bundle as ensure_ca_bundle,
};
pub use load::{Choice, ComposeOptions, Loaded, embedded_names, load, load_with};
pub use locate::{Source, locate_line_col};
pub use templates::{embedded_template, is_embedded};
pub use validate::{PortMap, parse_duration, parse_mode, parse_port, parse_size};

use crate::platform::Kind as PlatformKind;

/// Where a project's services run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Containers through a Docker-compatible engine.
    #[default]
    Docker,
    /// Supervised processes from pinned Python wheels under `.onramp/`, with no engine.
    Native,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Docker => "docker",
            Backend::Native => "native",
        }
    }
}

/// The name of the profile used when nothing else is chosen.
pub const DEFAULT_PROFILE: &str = "kailash";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: Option<String>,
    pub description: Option<String>,
    pub project: Option<String>,
    pub extends: Option<String>,
    /// Take the services from this Compose file (relative to the profile's directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<String>,
    /// Where the services run: containers through an engine (the default) or native
    /// processes from pinned wheels (`--backend` overrides it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
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
    /// Named volumes with options (Compose top-level `volumes`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, VolumeSpec>,
    /// Networks (Compose top-level `networks`; `default` renames the project network).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkSpec>,
    /// How this team reaches registries behind a company network (`[network]`).
    #[serde(default, skip_serializing_if = "Network::is_empty")]
    pub network: Network,
    /// `onramp migrate wsl`: the WSL2 distro and the size of its VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<Migrate>,
}

/// A company network: the root its TLS inspection signs with, its proxy, its registry mirrors
/// and the registry every image comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// A PEM file holding the company's root (relative to the project directory, or absolute):
    /// installed where each client needs it by `doctor --fix`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// The proxy the engine and pip should use (default: the user's `HTTPS_PROXY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Registry mirrors for Docker Hub (`registry-mirrors`; Podman's `[[registry.mirror]]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirrors: Option<Vec<String>>,
    /// Every Docker Hub image comes from this registry path instead: `redis:7` becomes
    /// `PREFIX/redis:7` (shorthand for `images."docker.io" = PREFIX`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_prefix: Option<String>,
    /// Source registry or path prefix -> the company's path (`"ghcr.io" =
    /// "registry.corp.example/ghcr"`); the longest match wins (`image_map`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<BTreeMap<String, String>>,
    /// The team's network file these settings fall back to, key by key (`team`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_file: Option<String>,
    /// Where each effective setting came from, for `doctor` (filled when the profile loads).
    #[serde(skip)]
    pub origins: Vec<team::Origin>,
    /// The services that must trust the company root (`"*"`: every service onramp starts):
    /// each gets the combined bundle as a read-only bind and the variables runtimes read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_into: Option<CaInto>,
}

/// `ca_into = "*"` or `ca_into = ["app", ...]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CaInto {
    /// `"*"` (any other word is refused with the list form as the fix).
    One(String),
    Many(Vec<String>),
}

impl Network {
    pub fn is_empty(&self) -> bool {
        *self == Network::default()
    }

    /// The mapping in effect: `images`, with `image_prefix` as the `docker.io` entry.
    pub fn image_table(&self) -> BTreeMap<String, String> {
        let mut table = self.images.clone().unwrap_or_default();
        let hub_mapped = table
            .keys()
            .any(|k| image_map::normalise_key(k).is_ok_and(|k| k == image_map::HUB));
        if let Some(prefix) = &self.image_prefix
            && !hub_mapped
        {
            table.insert(image_map::HUB.into(), prefix.clone());
        }
        table
    }

    /// An image as the company's registry serves it (`images`, `image_prefix`), or as it is.
    pub fn map_image(&self, image: &str) -> String {
        image_map::map(&self.image_table(), image)
    }
}

/// Where `onramp migrate wsl` moves the project: the distribution (default: the current
/// Ubuntu LTS) and the VM's memory and processors for `.wslconfig` (default: the
/// requirements' recommended values).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migrate {
    pub distro: Option<String>,
    pub memory_gib: Option<f64>,
    pub processors: Option<u32>,
}

/// A named volume's or network's options, with Compose's meaning (the two take the same keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSpec {
    /// The engine's name for it (no project prefix).
    pub name: Option<String>,
    /// Made outside the project: must exist; never created or removed.
    pub external: Option<bool>,
    /// Only `local` for a volume, only `bridge` for a network.
    pub driver: Option<String>,
    pub driver_opts: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

/// A named volume's options.
pub type VolumeSpec = ObjectSpec;
/// A network's options.
pub type NetworkSpec = ObjectSpec;

/// A service's attachment to one network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    /// Names the service answers to on that network, besides its own.
    pub aliases: Option<Vec<String>>,
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
    /// Compose `healthcheck`: the test alone, or the test with its timings.
    pub healthcheck: Option<Healthcheck>,
    pub probe: Option<Probe>,
    pub timeout: Option<String>,
    /// Build the image from a context inside the project (Compose `build`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Compose `deploy.resources.limits`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<String>,
    /// Mount points (`/run` or `/run:size=64m`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ulimits: Option<BTreeMap<String, Ulimit>>,
    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<DependsOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Compose `container_name`: the container's name instead of `<project>-<service>-1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin_open: Option<bool>,
    /// `host:ip` entries for the container's /etc/hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_hosts: Option<Vec<String>>,
    /// `linux/amd64` and the like.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// `host`, `none`, `bridge` or `service:NAME` (instead of the project's networks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// The networks of the profile the service joins (default: the project's `default`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, ServiceNetwork>>,
    /// Compose `deploy.resources.reservations` (memory, cpus).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<Resources>,
    /// Linux capabilities added to the container's default set (`SYS_PTRACE`, `ALL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap_add: Option<Vec<String>>,
    /// Linux capabilities removed from the container's default set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap_drop: Option<Vec<String>>,
    /// Engine security options as Compose passes them (`seccomp:unconfined`,
    /// `no-new-privileges:true`, `label:disable`, `apparmor:unconfined`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_opt: Option<Vec<String>>,
    /// The user namespace mode (`host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Run an init process (PID 1) that reaps zombies and forwards signals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Container ports exposed to the other services only (`6379`, `8000-8010/udp`), as
    /// Compose `expose`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose: Option<Vec<String>>,
    /// Compose `environment` names written without a value that no variable sets: not given
    /// to the container, and kept (as Compose keeps them) in the config hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_unset: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Healthcheck {
    Test(Vec<String>),
    Full(HealthcheckSpec),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthcheckSpec {
    pub test: Option<Vec<String>>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub start_period: Option<String>,
    pub disable: Option<bool>,
}

impl Healthcheck {
    pub fn spec(&self) -> HealthcheckSpec {
        match self {
            Healthcheck::Test(t) => HealthcheckSpec {
                test: Some(t.clone()),
                ..HealthcheckSpec::default()
            },
            Healthcheck::Full(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Directory inside the project, sent to the engine as a tar archive.
    pub context: String,
    pub dockerfile: Option<String>,
    pub args: Option<BTreeMap<String, String>>,
    /// The stage of a multi-stage Dockerfile to build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// `512m`, `2g`, or bytes.
    pub memory: Option<String>,
    pub cpus: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ulimit {
    Single(i64),
    Pair { soft: i64, hard: i64 },
}

impl Ulimit {
    pub fn soft_hard(self) -> (i64, i64) {
        match self {
            Ulimit::Single(n) => (n, n),
            Ulimit::Pair { soft, hard } => (soft, hard),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DependsOn {
    List(Vec<String>),
    Map(BTreeMap<String, Dependency>),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    pub condition: Option<Condition>,
    /// Compose: restart the dependant when this dependency is updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<bool>,
    /// `false`: a missing or failing dependency does not stop the dependant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// When a dependant may start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Once the dependency's container runs.
    #[default]
    ServiceStarted,
    /// Once the dependency answers its probe (onramp's probe, not the Docker healthcheck).
    ServiceHealthy,
    /// Once the dependency (a one-shot init service) has run to completion with exit code 0.
    ServiceCompletedSuccessfully,
}

impl DependsOn {
    /// Each dependency with its condition, in name order.
    pub fn entries(&self) -> Vec<(String, Condition)> {
        match self {
            DependsOn::List(l) => l
                .iter()
                .map(|n| (n.clone(), Condition::ServiceStarted))
                .collect(),
            DependsOn::Map(m) => m
                .iter()
                .map(|(n, d)| (n.clone(), d.condition.unwrap_or_default()))
                .collect(),
        }
    }
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

impl ProbeKind {
    /// The name a profile writes (`probe = { kind = "neo4j" }`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Postgres => "postgres",
            ProbeKind::Redis => "redis",
            ProbeKind::Neo4j => "neo4j",
            ProbeKind::Chroma => "chroma",
            ProbeKind::Http => "http",
            ProbeKind::Tcp => "tcp",
        }
    }
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

    /// The services this one depends on, with their conditions; `network_mode: service:NAME`
    /// depends on NAME being started, as Compose adds it.
    pub fn dependencies(&self) -> Vec<(String, Condition)> {
        let mut deps = self
            .depends_on
            .as_ref()
            .map(DependsOn::entries)
            .unwrap_or_default();
        if let Some(shared) = self.network_service()
            && !deps.iter().any(|(n, _)| n == shared)
        {
            deps.push((shared.to_string(), Condition::ServiceStarted));
        }
        deps
    }

    /// NAME of `network_mode: service:NAME`.
    pub fn network_service(&self) -> Option<&str> {
        self.network_mode.as_deref()?.strip_prefix("service:")
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
        let ports: Vec<PortMap> = self.ports().into_iter().filter(|p| !p.udp).collect();
        let wanted = self.probe.as_ref().and_then(|p| p.port);
        let host = match wanted {
            Some(c) => ports.iter().find(|p| p.container == c).map(|p| p.host),
            None => ports.first().map(|p| p.host),
        };
        // A port the engine has not picked yet cannot be probed.
        host.filter(|h| *h != 0)
    }
}

impl Profile {
    /// The profile as JSON, safe to print: every secret replaced by `***`.
    pub fn redacted_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        crate::secrets::mask_json(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_prefix_maps_docker_hub_images_only_and_yields_to_a_docker_io_entry() {
        let n = Network {
            image_prefix: Some("https://artifactory.corp/docker-remote/".into()),
            ..Network::default()
        };
        assert_eq!(
            n.map_image("redis:7"),
            "artifactory.corp/docker-remote/redis:7"
        );
        assert_eq!(
            n.map_image("chromadb/chroma:1.5.9"),
            "artifactory.corp/docker-remote/chromadb/chroma:1.5.9"
        );
        assert_eq!(n.map_image("127.0.0.1:5000/x/y:1"), "127.0.0.1:5000/x/y:1");
        assert_eq!(n.map_image("ghcr.io/a/b"), "ghcr.io/a/b");
        assert_eq!(
            n.map_image("docker.io/library/redis:7"),
            "artifactory.corp/docker-remote/redis:7"
        );
        assert_eq!(Network::default().map_image("redis:7"), "redis:7");
        let both = Network {
            images: Some(BTreeMap::from([(
                "index.docker.io".to_string(),
                "corp/hub".to_string(),
            )])),
            ..n
        };
        assert_eq!(both.map_image("redis:7"), "corp/hub/redis:7");
    }

    #[test]
    fn secrets_are_redacted_but_users_kept() {
        assert_eq!(
            crate::secrets::mask_value("POSTGRES_PASSWORD", "hunter2"),
            "***"
        );
        assert_eq!(
            crate::secrets::mask_value("NEO4J_AUTH", "neo4j/testpassword"),
            "neo4j/***"
        );
        assert_eq!(
            crate::secrets::mask_value("POSTGRES_USER", "test_user"),
            "test_user"
        );
        assert_eq!(crate::secrets::mask_value("GITHUB_TOKEN", "abc"), "***");
    }

    #[test]
    fn text_redaction_covers_env_yaml_and_urls() {
        let text = "-POSTGRES_PASSWORD=old\n+POSTGRES_PASSWORD=new\n      POSTGRES_PASSWORD: \"x\"\nDATABASE_URL=postgresql://u:pw@h:5432/db\nPOSTGRES_USER=u";
        let r = crate::secrets::mask_text(text);
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
