//! What templates see: the profile's services flattened for Compose and for `.env`.

use std::path::Path;

use serde::Serialize;

use super::shim::Scan;
use crate::naming::{Origin, go_duration, project_name};
use crate::profile::kinds;
use crate::profile::{ProbeKind, Profile, Service};
use crate::spec::{MountKind, ServiceSpec, Ulimit as SpecUlimit};

#[derive(Debug, Clone, Serialize)]
pub struct Kv {
    pub key: String,
    pub value: String,
}

/// A service as the compose template writes it: the one service spec in Compose's spelling.
#[derive(Debug, Clone, Serialize)]
pub struct Svc {
    pub name: String,
    pub image: String,
    pub build: Option<crate::profile::Build>,
    /// `None` leaves the image's; `[]` clears it.
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<Kv>,
    /// Names without a value (`NAME:`), taken from the environment by Compose.
    pub env_unset: Vec<String>,
    /// `[ip:]host:container[/udp]`.
    pub ports: Vec<String>,
    pub expose: Vec<String>,
    /// Short syntax (`src:target[:opts]`) or a long-syntax mapping.
    pub volumes: Vec<Volume>,
    pub healthcheck: Option<Health>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// Bytes.
    pub shm_size: Option<i64>,
    pub tmpfs: Vec<String>,
    pub ulimits: Vec<Ulimit>,
    pub restart: Option<String>,
    pub limits: Option<Resources>,
    pub reservations: Option<Resources>,
    pub depends_on: Vec<Dependency>,
    pub labels: Vec<Kv>,
    pub container_name: Option<String>,
    pub extra_hosts: Vec<String>,
    pub platform: Option<String>,
    pub network_mode: Option<String>,
    /// Networks other than a lone `default`, with their aliases.
    pub networks: Vec<Network>,
    pub tty: bool,
    pub stdin_open: bool,
    pub init: Option<bool>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub userns_mode: Option<String>,
    pub privileged: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    pub short: Option<String>,
    pub kind: String,
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub size: Option<i64>,
    /// Long syntax: `bind.selinux`, `bind.propagation`, `bind.create_host_path`,
    /// `volume.nocopy` (only what was written).
    pub selinux: Option<String>,
    pub propagation: Option<String>,
    pub create_host_path: bool,
    pub nocopy: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub test: Vec<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u64>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    pub cpus: Option<String>,
    pub memory: Option<i64>,
    pub pids: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dependency {
    pub name: String,
    pub condition: String,
    pub restart: bool,
    pub required: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub name: String,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub priority: Option<i64>,
}

/// A ulimit: `single` for the one-number form, else soft and hard.
#[derive(Debug, Clone, Serialize)]
pub struct Ulimit {
    pub name: String,
    pub single: Option<i64>,
    pub soft: i64,
    pub hard: i64,
}

/// A service as `.env` sees it: its connection settings.
#[derive(Debug, Clone, Serialize)]
pub struct EnvSvc {
    pub name: String,
    pub image: Option<String>,
    pub address: Option<String>,
    /// Connection settings for the project's tests (`.env`).
    pub connection: Vec<Kv>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub project: String,
    pub profile: String,
    /// Services onramp starts (with an image), from their service specs.
    pub services: Vec<Svc>,
    /// Every service, external ones included (for `.env`).
    pub all_services: Vec<EnvSvc>,
    pub volumes: Vec<String>,
    /// Networks the services name besides `default`.
    pub networks: Vec<String>,
    pub sdk: String,
    pub found: Vec<String>,
    pub extra_constants: Vec<String>,
    pub extra_functions: Vec<String>,
    pub coverage: String,
}

pub fn build(profile: &Profile, dir: &Path, scan: &Scan) -> Context {
    let project = project_name(profile.project.as_deref(), dir);
    let origin = Origin::new(&project, dir, None).with_profile(profile.display_name());
    let mut volumes: Vec<String> = Vec::new();
    let mut networks: Vec<String> = Vec::new();
    let mut services = Vec::new();
    let mut all = Vec::new();
    let mut first_of_kind: Vec<ProbeKind> = Vec::new();
    for (name, svc) in profile.services() {
        if let Some(spec) = ServiceSpec::of(&origin, name, svc) {
            for (short, _) in spec.named_volumes() {
                if !volumes.contains(&short) {
                    volumes.push(short);
                }
            }
            for n in spec.networks.keys().filter(|n| *n != "default") {
                if !networks.contains(n) {
                    networks.push(n.clone());
                }
            }
            services.push(compose_service(&spec));
        }
        let kind = svc.probe.as_ref().map(|p| p.kind);
        let first = kind.is_some_and(|k| !first_of_kind.contains(&k));
        if let Some(k) = kind {
            first_of_kind.push(k);
        }
        all.push(EnvSvc {
            name: name.clone(),
            image: svc.image.clone(),
            address: svc.address.clone(),
            connection: connection(name, svc, first),
        });
    }
    let (found, extra_constants, extra_functions) = scan.split();
    let coverage = match (&scan.sdk, &scan.note) {
        (Some(sdk), _) => format!(
            "covers the {} resource names {sdk} uses ({} files scanned) and the full Unix API",
            found.len(),
            scan.files
        ),
        (None, Some(note)) => format!("{note}: covers the full Unix resource API"),
        (None, None) => "covers the full Unix resource API".into(),
    };
    Context {
        project,
        profile: profile.display_name().to_string(),
        services,
        all_services: all,
        volumes,
        networks,
        sdk: scan.sdk.clone().unwrap_or_else(|| "no SDK scanned".into()),
        found,
        extra_constants,
        extra_functions,
        coverage,
    }
}

fn kvs(m: &std::collections::BTreeMap<String, String>) -> Vec<Kv> {
    m.iter().map(|(k, v)| kv(k, v)).collect()
}

/// The spec in Compose's spelling; what Compose reads back from it is the spec again (the
/// config hash test checks that).
fn compose_service(s: &ServiceSpec) -> Svc {
    let dur = |d: Option<i64>| d.map(go_duration);
    let resources = |r: &crate::spec::Resources| {
        (!r.is_empty()).then(|| Resources {
            cpus: r.cpus.map(|c| (c as f32).to_string()),
            memory: r.memory,
            pids: r.pids,
        })
    };
    Svc {
        name: s.name.clone(),
        image: s.image.clone(),
        build: s.build.clone(),
        command: s.command.clone(),
        entrypoint: s.entrypoint.clone(),
        env: kvs(&s.env),
        env_unset: s.env_unset.clone(),
        expose: s.expose.clone(),
        ports: s
            .ports
            .iter()
            .map(|p| {
                let ip = p
                    .host_ip
                    .as_ref()
                    .map(|i| format!("{i}:"))
                    .unwrap_or_default();
                let proto = if p.protocol == "tcp" {
                    String::new()
                } else {
                    format!("/{}", p.protocol)
                };
                match (p.host, ip.is_empty()) {
                    (0, true) => format!("{}{proto}", p.container),
                    (0, false) => format!("{ip}:{}{proto}", p.container),
                    (h, _) => format!("{ip}{h}:{}{proto}", p.container),
                }
            })
            .collect(),
        volumes: s
            .volumes
            .iter()
            .map(|m| {
                let (kind, source, size) = match &m.kind {
                    MountKind::Volume { name, .. } => ("volume", Some(name.clone()), None),
                    MountKind::Bind { source } => ("bind", Some(source.clone()), None),
                    MountKind::Anonymous => ("volume", None, None),
                    MountKind::Tmpfs { size, .. } => ("tmpfs", None, *size),
                };
                Volume {
                    short: m.short.clone(),
                    kind: kind.into(),
                    source,
                    target: m.target.clone(),
                    read_only: m.read_only,
                    size,
                    selinux: m.selinux.clone(),
                    propagation: m.propagation.clone(),
                    create_host_path: m.create_host_path && kind == "bind",
                    nocopy: m.nocopy,
                }
            })
            .collect(),
        healthcheck: s.healthcheck.as_ref().map(|h| Health {
            test: h.test.clone(),
            interval: dur(h.interval),
            timeout: dur(h.timeout),
            retries: h.retries,
            start_period: dur(h.start_period),
            start_interval: dur(h.start_interval),
        }),
        user: s.user.clone(),
        working_dir: s.working_dir.clone(),
        shm_size: s.shm_size,
        tmpfs: s.tmpfs.clone(),
        ulimits: s
            .ulimits
            .iter()
            .map(|(n, u)| {
                let (soft, hard) = u.soft_hard();
                Ulimit {
                    name: n.clone(),
                    single: match u {
                        SpecUlimit::Single(v) => Some(*v),
                        SpecUlimit::Pair { .. } => None,
                    },
                    soft,
                    hard,
                }
            })
            .collect(),
        restart: s.restart.clone(),
        limits: resources(&s.limits),
        reservations: resources(&s.reservations),
        depends_on: s
            .depends_on
            .iter()
            .map(|(n, d)| Dependency {
                name: n.clone(),
                condition: d.condition.clone(),
                restart: d.restart,
                required: d.required,
            })
            .collect(),
        labels: kvs(&s.labels),
        container_name: s.container_name.clone(),
        extra_hosts: s.extra_hosts.clone(),
        platform: s.platform.clone(),
        network_mode: s.network_mode.clone(),
        networks: if s.networks.len() == 1 && s.networks.get("default") == Some(&None) {
            Vec::new()
        } else {
            s.networks
                .iter()
                .map(|(n, a)| {
                    let a = a.clone().unwrap_or_default();
                    Network {
                        name: n.clone(),
                        aliases: a.aliases,
                        ipv4_address: a.ipv4_address,
                        ipv6_address: a.ipv6_address,
                        priority: a.priority,
                    }
                })
                .collect()
        },
        tty: s.tty,
        stdin_open: s.stdin_open,
        init: s.init,
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        security_opt: s.security_opt.clone(),
        userns_mode: s.userns_mode.clone(),
        privileged: s.privileged,
    }
}

/// The service's connection settings for `.env`, from the catalogue's one `Connection`.
fn connection(name: &str, svc: &Service, first_of_kind: bool) -> Vec<Kv> {
    let Some(c) = kinds::connection(svc) else {
        return match svc.endpoint() {
            Some((host, port)) => {
                let prefix = kinds::env_prefix(name);
                vec![
                    kv(&format!("{prefix}_HOST"), &host),
                    kv(&format!("{prefix}_PORT"), &port.to_string()),
                ]
            }
            None => Vec::new(),
        };
    };
    let http = svc
        .ports()
        .iter()
        .find(|p| c.kind == ProbeKind::Neo4j && p.container == 7474)
        .map(|p| p.host);
    c.env_vars(name, http, first_of_kind)
        .iter()
        .map(|(k, v)| kv(k, v))
        .collect()
}

fn kv(key: &str, value: &str) -> Kv {
    Kv {
        key: key.to_string(),
        value: value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_encoded_in_urls() {
        assert_eq!(kinds::enc("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
    }

    #[test]
    fn kailash_env_has_connection_urls() {
        let loaded =
            crate::profile::load(&crate::profile::Choice::Named("kailash".into())).unwrap();
        let ctx = build(&loaded.profile, Path::new("/tmp/p"), &Scan::default());
        let pg = ctx
            .all_services
            .iter()
            .find(|s| s.name == "postgres")
            .unwrap();
        let url = pg
            .connection
            .iter()
            .find(|k| k.key == "DATABASE_URL")
            .unwrap();
        assert_eq!(
            url.value,
            "postgresql://test_user:test_password@127.0.0.1:5432/horme_test_db"
        );
        assert_eq!(ctx.project, "horme");
        assert_eq!(ctx.volumes.len(), 4);
    }
}
