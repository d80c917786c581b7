//! One normalised service spec: a profile service (or a Compose service read into one) as
//! Compose would hold it after loading. The compose file onramp writes, the containers `up`
//! creates and the config hash are all rendered from it, so they cannot differ.
//!
//! How to add a field: see `/work/scratch/spec/NOTES.md` (spec field here, the compose
//! template in `templates/docker-compose.test.yml` through `generate::context`, the container
//! in `stack::container_spec` and `engine::api::create`, the hash in `spec::hash`).

pub mod hash;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::naming::{self, LABEL_PROFILE, Origin};
/// A ulimit, as the profile and Compose give it (one value, or soft and hard).
pub use crate::profile::Ulimit;
use crate::profile::kinds;
use crate::profile::{Condition, Service, parse_duration, parse_size};

/// Where the services were defined, which decides the defaults Compose would apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A profile: onramp writes the compose file (ports on 127.0.0.1 unless an address is
    /// given, the catalogue's healthcheck, the profile label).
    Profile { profile: String },
    /// A team's Compose file in `dir`: taken as Compose takes it (relative binds from its
    /// folder, ports on every address unless one is given, nothing added).
    ComposeFile { dir: PathBuf },
}

/// One service, normalised.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceSpec {
    pub name: String,
    /// The image to run (for a built service, the tag it is built as).
    pub image: String,
    /// Whether `image` was written (false: a built service whose tag Compose derives).
    pub image_explicit: bool,
    pub build: Option<crate::profile::Build>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    /// `environment` names written without a value that nothing sets (hashed as `null`).
    pub env_unset: Vec<String>,
    /// `expose` entries as written.
    pub expose: Vec<String>,
    pub ports: Vec<Port>,
    pub volumes: Vec<Mount>,
    /// `tmpfs:` entries as written (`/run` or `/run:size=64m`).
    pub tmpfs: Vec<String>,
    pub healthcheck: Option<Health>,
    /// The service's own labels (the profile label included for generated services).
    pub labels: BTreeMap<String, String>,
    pub limits: Resources,
    pub reservations: Resources,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub shm_size: Option<i64>,
    pub ulimits: BTreeMap<String, Ulimit>,
    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`, as written.
    pub restart: Option<String>,
    pub depends_on: BTreeMap<String, Dependency>,
    /// Networks by their name in the file; `None` = attached without options.
    pub networks: BTreeMap<String, Option<NetworkAttach>>,
    pub network_mode: Option<String>,
    pub container_name: Option<String>,
    /// `host=ip` pairs, sorted as Compose writes them.
    pub extra_hosts: Vec<String>,
    pub platform: Option<String>,
    pub tty: bool,
    pub stdin_open: bool,
    pub init: Option<bool>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub userns_mode: Option<String>,
    pub privileged: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    /// `None`: every address (Compose's default); generated services always name one.
    pub host_ip: Option<String>,
    /// 0: picked by the engine when the container starts.
    pub host: u16,
    pub container: u16,
    pub protocol: String,
}

impl Port {
    /// The address the engine binds.
    pub fn bind_ip(&self) -> &str {
        self.host_ip.as_deref().unwrap_or("0.0.0.0")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MountKind {
    /// A named volume: its name in the file and on the engine.
    Volume { name: String, engine: String },
    /// An anonymous volume (`/data` alone).
    Anonymous,
    /// A host path, absolute.
    Bind { source: String },
    Tmpfs {
        size: Option<i64>,
        mode: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub kind: MountKind,
    pub target: String,
    pub read_only: bool,
    pub selinux: Option<String>,
    pub propagation: Option<String>,
    pub nocopy: bool,
    /// `bind.create_host_path`: always for the short syntax, as written for the long one.
    pub create_host_path: bool,
    /// The short syntax (`a:b:ro`) as written, for the compose file; `None` for the long
    /// syntax (`type=tmpfs,target=/tmp`), whose options Compose keeps only when written.
    pub short: Option<String>,
}

/// A Docker healthcheck; durations in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    pub test: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub retries: Option<u64>,
    pub start_period: Option<i64>,
    pub start_interval: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Resources {
    pub cpus: Option<f64>,
    pub memory: Option<i64>,
    pub pids: Option<i64>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// `service_started`, `service_healthy`, `service_completed_successfully`.
    pub condition: String,
    pub restart: bool,
    pub required: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworkAttach {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub priority: Option<i64>,
}

impl ServiceSpec {
    /// The spec of a managed service (one with an image); `None` for an external one.
    /// The spec of a managed service of the project `origin` describes.
    pub fn of(origin: &Origin<'_>, name: &str, svc: &Service) -> Option<ServiceSpec> {
        let source = match &origin.compose_dir {
            Some(dir) => Source::ComposeFile { dir: dir.clone() },
            None => Source::Profile {
                profile: origin.profile.clone(),
            },
        };
        let mut spec = ServiceSpec::from_source(origin.project, origin.dir, &source, name, svc)?;
        for m in &mut spec.volumes {
            if let MountKind::Volume { name, engine } = &mut m.kind {
                *engine = origin.volume(name);
            }
        }
        Some(spec)
    }

    /// `dir` is the project directory (relative binds of a profile start there).
    pub fn from_source(
        project: &str,
        dir: &Path,
        source: &Source,
        name: &str,
        svc: &Service,
    ) -> Option<ServiceSpec> {
        let image = svc.image.clone()?;
        let (dir, generated) = match source {
            Source::Profile { .. } => (dir, true),
            Source::ComposeFile { dir } => (dir.as_path(), false),
        };
        let image_explicit =
            generated || svc.build.is_none() || image != naming::built_image_name(project, name);
        let mut labels = svc.labels.clone().unwrap_or_default();
        if let Source::Profile { profile } = source {
            labels.insert(LABEL_PROFILE.to_string(), profile.clone());
        }
        let limits = svc.resources.as_ref();
        Some(ServiceSpec {
            name: name.to_string(),
            image,
            image_explicit,
            build: svc.build.clone(),
            command: svc.command.clone(),
            entrypoint: svc.entrypoint.clone(),
            env: svc.env(),
            expose: svc.expose.clone().unwrap_or_default(),
            env_unset: svc.env_unset.clone().unwrap_or_default(),
            ports: svc
                .ports
                .iter()
                .flatten()
                .filter_map(|p| port(p, generated))
                .collect(),
            volumes: svc
                .volumes
                .iter()
                .flatten()
                .filter_map(|v| mount(v, project, dir))
                .collect(),
            tmpfs: svc.tmpfs.clone().unwrap_or_default(),
            healthcheck: health(svc, generated),
            labels,
            limits: Resources {
                cpus: limits.and_then(|r| r.cpus),
                memory: limits
                    .and_then(|r| r.memory.as_deref())
                    .and_then(|m| parse_size(m).ok()),
                pids: None,
            },
            user: svc.user.clone(),
            working_dir: svc.working_dir.clone(),
            shm_size: svc.shm_size.as_deref().and_then(|s| parse_size(s).ok()),
            ulimits: svc
                .ulimits
                .iter()
                .flatten()
                .map(|(n, u)| (n.clone(), *u))
                .collect(),
            restart: svc.restart.clone(),
            depends_on: dependencies(svc),
            networks: networks(svc),
            reservations: Resources {
                cpus: svc.reservations.as_ref().and_then(|r| r.cpus),
                memory: svc
                    .reservations
                    .as_ref()
                    .and_then(|r| r.memory.as_deref())
                    .and_then(|m| parse_size(m).ok()),
                pids: None,
            },
            network_mode: svc.network_mode.clone(),
            container_name: svc.container_name.clone(),
            extra_hosts: extra_hosts(svc),
            platform: svc.platform.clone(),
            tty: svc.tty == Some(true),
            stdin_open: svc.stdin_open == Some(true),
            init: svc.init,
            cap_add: svc.cap_add.clone().unwrap_or_default(),
            cap_drop: svc.cap_drop.clone().unwrap_or_default(),
            security_opt: svc.security_opt.clone().unwrap_or_default(),
            userns_mode: svc.userns_mode.clone().filter(|m| !m.is_empty()),
            privileged: svc.privileged == Some(true),
        })
    }

    /// The project networks the service is attached to, as engine names with aliases.
    pub fn engine_networks(&self, origin: &Origin<'_>) -> Vec<(String, Vec<String>)> {
        if self.network_mode.is_some() {
            return Vec::new();
        }
        let mut nets: Vec<(i64, String, Vec<String>)> = self
            .networks
            .iter()
            .map(|(n, a)| {
                let mut aliases = vec![self.name.clone()];
                if let Some(a) = a {
                    aliases.extend(a.aliases.iter().cloned());
                }
                let priority = a.as_ref().and_then(|a| a.priority).unwrap_or(0);
                (priority, origin.network_of(n), aliases)
            })
            .collect();
        nets.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        nets.into_iter().map(|(_, n, a)| (n, a)).collect()
    }

    /// Named volumes the service mounts, as (name in the file, engine name).
    pub fn named_volumes(&self) -> Vec<(String, String)> {
        self.volumes
            .iter()
            .filter_map(|m| match &m.kind {
                MountKind::Volume { name, engine } => Some((name.clone(), engine.clone())),
                _ => None,
            })
            .collect()
    }

    /// The config hash Compose v2 computes for this service.
    pub fn config_hash(&self) -> String {
        naming::config_hash(&hash::service_json(self))
    }
}

/// `depends_on` as compose-go normalises it: a condition (default `service_started`),
/// `restart` (default false) and `required` (default true) for each dependency.
fn dependencies(svc: &Service) -> BTreeMap<String, Dependency> {
    let detail = |n: &str| match &svc.depends_on {
        Some(crate::profile::DependsOn::Map(m)) => m.get(n).cloned(),
        _ => None,
    };
    svc.dependencies()
        .into_iter()
        .map(|(n, c)| {
            // Compose adds the service whose network it shares with `restart: true`.
            let explicit = svc
                .depends_on
                .as_ref()
                .is_some_and(|d| d.entries().iter().any(|(e, _)| *e == n));
            let implied = !explicit && svc.network_service() == Some(n.as_str());
            let d = detail(&n).unwrap_or_default();
            let dep = Dependency {
                condition: match c {
                    Condition::ServiceStarted => "service_started",
                    Condition::ServiceHealthy => "service_healthy",
                    Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
                }
                .to_string(),
                restart: d.restart.unwrap_or(implied),
                required: d.required.unwrap_or(true),
            };
            (n, dep)
        })
        .collect()
}

/// The networks a service joins: those it names (with their aliases), else `default`.
fn networks(svc: &Service) -> BTreeMap<String, Option<NetworkAttach>> {
    match &svc.networks {
        Some(n) if !n.is_empty() => n
            .iter()
            .map(|(name, a)| {
                let attach = a.aliases.as_ref().map(|aliases| NetworkAttach {
                    aliases: aliases.clone(),
                    ..NetworkAttach::default()
                });
                (name.clone(), attach)
            })
            .collect(),
        _ => BTreeMap::from([("default".to_string(), None)]),
    }
}

/// `extra_hosts` as `host=ip`, sorted (the reader gives `host:ip`; a host has no `:`).
fn extra_hosts(svc: &Service) -> Vec<String> {
    let mut v: Vec<String> = svc
        .extra_hosts
        .iter()
        .flatten()
        .map(|e| match e.split_once(':') {
            Some((h, ip)) => format!("{h}={ip}"),
            None => e.clone(),
        })
        .collect();
    v.sort();
    v
}

/// `[ip:][host:]container[/proto]`; a generated service's port without an address is published
/// on 127.0.0.1, as the compose file onramp writes says.
fn port(text: &str, generated: bool) -> Option<Port> {
    let (body, protocol) = match text.rsplit_once('/') {
        Some((b, p)) => (b, p.to_ascii_lowercase()),
        None => (text, "tcp".to_string()),
    };
    let parts: Vec<&str> = body.rsplitn(3, ':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => (None, "", *c),
        [c, h] => (None, *h, *c),
        [c, h, ip] => (Some(ip.trim_matches(['[', ']']).to_string()), *h, *c),
        _ => return None,
    };
    let ip = ip.or_else(|| generated.then(|| "127.0.0.1".to_string()));
    Some(Port {
        host_ip: ip,
        // 0: the engine picks the host port when the container starts.
        host: if host.is_empty() {
            0
        } else {
            host.parse().ok()?
        },
        container: container.parse().ok()?,
        protocol,
    })
}

/// A volume entry as Compose parses it: the short syntax `src:target[:opts]` or `target`
/// alone, or the long one written as `type=KIND,source=S,target=T[,OPTION...]`. Binds are made
/// absolute against the Compose file's folder (the project for generated files).
fn mount(text: &str, project: &str, dir: &Path) -> Option<Mount> {
    if text.starts_with("type=") {
        return long_mount(text, project, dir);
    }
    let mut parts = text.splitn(3, ':');
    let first = parts.next()?;
    let (source, target, opts) = match (parts.next(), parts.next()) {
        (None, _) => (None, first, ""),
        (Some(t), o) => (Some(first), t, o.unwrap_or("")),
    };
    let mut m = Mount {
        kind: MountKind::Anonymous,
        target: clean_path(target),
        read_only: false,
        selinux: None,
        propagation: None,
        nocopy: false,
        create_host_path: true,
        short: Some(text.to_string()),
    };
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => m.read_only = true,
            "rw" => m.read_only = false,
            "nocopy" => m.nocopy = true,
            "z" | "Z" => m.selinux = Some(o.to_string()),
            "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" => {
                m.propagation = Some(o.to_string())
            }
            _ => {}
        }
    }
    m.kind = match source {
        None => MountKind::Anonymous,
        Some(s) if naming::named_volume(text).is_some() => MountKind::Volume {
            name: s.to_string(),
            engine: naming::volume_name(project, s),
        },
        Some(s) => MountKind::Bind {
            source: absolute(s, dir),
        },
    };
    Some(m)
}

/// The long syntax, one `key=value` or flag per comma: `type` (`bind`, `volume`, `tmpfs`),
/// `source`, `target`, `readonly`, `bind-selinux=z|Z`, `bind-propagation=P`,
/// `bind-create-host-path`, `volume-nocopy`, `tmpfs-size=SIZE`, `tmpfs-mode=OCTAL`.
fn long_mount(text: &str, project: &str, dir: &Path) -> Option<Mount> {
    let mut kind = "";
    let mut source = None;
    let mut m = Mount {
        kind: MountKind::Anonymous,
        target: String::new(),
        read_only: false,
        selinux: None,
        propagation: None,
        nocopy: false,
        create_host_path: false,
        short: None,
    };
    let (mut size, mut mode) = (None, None);
    for part in text.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k {
            "type" => kind = v,
            "source" => source = Some(v),
            "target" => m.target = clean_path(v),
            "readonly" => m.read_only = true,
            "bind-selinux" => m.selinux = Some(v.to_string()),
            "bind-propagation" => m.propagation = Some(v.to_string()),
            "bind-create-host-path" => m.create_host_path = true,
            "volume-nocopy" => m.nocopy = true,
            "tmpfs-size" => size = Some(parse_size(v).ok()?),
            "tmpfs-mode" => mode = Some(u32::from_str_radix(v, 8).ok()?),
            _ => return None,
        }
    }
    m.kind = match (kind, source) {
        ("tmpfs", _) => MountKind::Tmpfs { size, mode },
        ("bind", Some(s)) => MountKind::Bind {
            source: absolute(s, dir),
        },
        ("volume", Some(s)) if !s.is_empty() => MountKind::Volume {
            name: s.to_string(),
            engine: naming::volume_name(project, s),
        },
        ("volume", _) => MountKind::Anonymous,
        _ => return None,
    };
    (!m.target.is_empty()).then_some(m)
}

/// A bind source made absolute against `dir`. (`~` is left as written: the home folder comes
/// through Host, which the reader of the Compose file has.)
fn absolute(source: &str, dir: &Path) -> String {
    if source.starts_with(['/', '~']) {
        return clean_path(source);
    }
    let joined = dir.join(source);
    if std::path::MAIN_SEPARATOR != '/' {
        // Windows: Compose cleans the host path with the host's separator (`C:\app\conf`).
        return clean_components(&joined);
    }
    clean_path(&joined.display().to_string())
}

/// `filepath.Clean` by path components: no `.`, `..` folded, joined with the host separator.
fn clean_components(p: &Path) -> String {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}

/// Go's `path.Clean` for absolute and relative paths: no `.`, `..` folded, no double or
/// trailing slashes.
pub fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// The healthcheck: the service's own, else (generated services) the catalogue's, with
/// onramp's timings (every 5 s, 5 s timeout, as many retries as the service's timeout allows).
fn health(svc: &Service, generated: bool) -> Option<Health> {
    let own = svc.healthcheck.as_ref().map(|h| h.spec());
    let nanos = |d: &Option<String>| {
        d.as_deref()
            .and_then(|d| parse_duration(d).ok())
            .and_then(|d| i64::try_from(d.as_nanos()).ok())
    };
    if !generated {
        let h = own?;
        let test = if h.disable == Some(true) {
            vec!["NONE".to_string()]
        } else {
            h.test.clone().unwrap_or_default()
        };
        return Some(Health {
            test,
            interval: nanos(&h.interval),
            timeout: nanos(&h.timeout),
            retries: h.retries.map(u64::from),
            start_period: nanos(&h.start_period),
            start_interval: None,
        });
    }
    let h = own.unwrap_or_default();
    let interval_secs: u64 = 5;
    let test = if h.disable == Some(true) {
        vec!["NONE".to_string()]
    } else {
        h.test.clone().unwrap_or_else(|| {
            kinds::connection(svc)
                .map(|c| c.healthcheck())
                .unwrap_or_default()
        })
    };
    if test.is_empty() {
        return None;
    }
    Some(Health {
        test,
        interval: Some(nanos(&h.interval).unwrap_or(interval_secs as i64 * 1_000_000_000)),
        timeout: Some(nanos(&h.timeout).unwrap_or(5_000_000_000)),
        retries: Some(
            h.retries
                .map(u64::from)
                .unwrap_or((svc.timeout().as_secs() / interval_secs).max(3)),
        ),
        start_period: nanos(&h.start_period),
        start_interval: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kailash() -> crate::profile::Profile {
        crate::profile::load(&crate::profile::Choice::Named("kailash".into()))
            .unwrap()
            .profile
    }

    fn generated() -> Source {
        Source::Profile {
            profile: "kailash".into(),
        }
    }

    #[test]
    fn a_generated_service_gets_the_catalogue_healthcheck_and_the_profile_label() {
        let p = kailash();
        let s = ServiceSpec::from_source(
            "horme",
            Path::new("/p"),
            &generated(),
            "postgres",
            &p.services["postgres"],
        )
        .unwrap();
        let h = s.healthcheck.as_ref().unwrap();
        assert_eq!(h.test[..2], ["CMD".to_string(), "pg_isready".to_string()]);
        assert_eq!(h.interval, Some(5_000_000_000));
        assert_eq!(h.retries, Some(18), "90 s at one check every 5 s");
        assert_eq!(s.labels[LABEL_PROFILE], "kailash");
        assert_eq!(s.ports[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            s.volumes[0].kind,
            MountKind::Volume {
                name: "postgres_test_data".into(),
                engine: "horme_postgres_test_data".into()
            }
        );
    }

    // The Compose file's folder and a bind source below it, as Compose writes host paths here.
    #[cfg(windows)]
    const TEAM_APP: &str = r"C:\team\app";
    #[cfg(windows)]
    const TEAM_APP_CONF: &str = r"C:\team\app\conf";
    #[cfg(not(windows))]
    const TEAM_APP: &str = "/team/app";
    #[cfg(not(windows))]
    const TEAM_APP_CONF: &str = "/team/app/conf";

    #[test]
    fn compose_file_services_are_taken_as_compose_takes_them() {
        let svc: Service = toml::from_str(
            "image = \"x\"\nports = [\"8080:80/udp\", \"5432:5432\"]\nvolumes = [\"./conf:/etc/x/:ro,z\", \"/data\"]\n",
        )
        .unwrap();
        let src = Source::ComposeFile {
            dir: PathBuf::from(TEAM_APP),
        };
        let s = ServiceSpec::from_source("p", Path::new("/elsewhere"), &src, "x", &svc).unwrap();
        assert_eq!(s.ports[0].protocol, "udp");
        assert_eq!(s.ports[1].host_ip, None);
        assert_eq!(s.ports[1].bind_ip(), "0.0.0.0");
        assert_eq!(
            s.volumes[0].kind,
            MountKind::Bind {
                source: TEAM_APP_CONF.into()
            }
        );
        assert_eq!(s.volumes[0].target, "/etc/x");
        assert!(s.volumes[0].read_only);
        assert_eq!(s.volumes[0].selinux.as_deref(), Some("z"));
        assert_eq!(s.volumes[1].kind, MountKind::Anonymous);
        assert!(s.healthcheck.is_none(), "nothing added to a team's file");
        assert!(!s.labels.contains_key(LABEL_PROFILE));
    }

    #[test]
    fn a_shared_network_namespace_is_a_dependency_with_restart_as_compose_adds_it() {
        let src = Source::ComposeFile {
            dir: PathBuf::from(TEAM_APP),
        };
        let of = |text: &str| {
            let svc: Service = toml::from_str(text).unwrap();
            ServiceSpec::from_source("p", Path::new("/p"), &src, "x", &svc).unwrap()
        };
        let s = of("image = \"x\"\nnetwork_mode = \"service:vpn\"\n");
        let d = &s.depends_on["vpn"];
        assert_eq!(
            (d.condition.as_str(), d.restart, d.required),
            ("service_started", true, true)
        );
        let s = of("image = \"x\"\nnetwork_mode = \"service:vpn\"\ndepends_on = [\"vpn\"]\n");
        assert!(!s.depends_on["vpn"].restart, "written: as written");
    }

    #[test]
    fn paths_are_cleaned_as_go_cleans_them() {
        assert_eq!(clean_path("/a/./b/../c/"), "/a/c");
        assert_eq!(clean_path("a//b"), "a/b");
        assert_eq!(clean_path("/.."), "/");
        assert_eq!(clean_path("../x"), "../x");
    }
}
