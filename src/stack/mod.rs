//! The services of a profile as Docker objects, named and labelled as Compose names them, and
//! the decisions that make `up` converge and `down` remove only what is ours.

pub mod context;
pub mod diagnose;
#[cfg(test)]
pub mod fake;
pub mod ignore;
pub mod native;
pub mod ops;
pub mod ready;
pub mod reset;
pub mod up;

use crate::engine::api::{ContainerInfo, ContainerSpec, Extras, Health, MountSource, Published};
use crate::errors::{Error, Result};
pub use crate::naming::{
    COMPOSE_VERSION, LABEL_COMPOSE_HASH, LABEL_CONFIG_FILES, LABEL_DEPENDS_ON, LABEL_HASH,
    LABEL_IMAGE, LABEL_NUMBER, LABEL_ONEOFF, LABEL_ONRAMP, LABEL_PROJECT, LABEL_SERVICE,
    LABEL_VERSION, LABEL_WORKING_DIR, Origin, built_image_name, container_name, container_name_v1,
    named_volume, network_name, object_labels, volume_name,
};
use crate::profile::Profile;
use crate::spec::{MountKind, ServiceSpec};

/// The container spec of a managed service, rendered from its one service spec, with the
/// labels Compose v2 writes (its config hash among them).
pub fn spec(
    origin: &Origin<'_>,
    name: &str,
    svc: &crate::profile::Service,
) -> Option<ContainerSpec> {
    ServiceSpec::of(origin, name, svc).map(|s| container_spec(origin, &s))
}

/// The engine's view of one service spec.
pub fn container_spec(origin: &Origin<'_>, s: &ServiceSpec) -> ContainerSpec {
    let (project, dir) = (origin.project, origin.dir);
    let env = s.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let ports = s
        .ports
        .iter()
        .map(|p| Published {
            ip: p.bind_ip().to_string(),
            host: p.host,
            container: p.container,
            udp: p.protocol == "udp",
        })
        .collect();
    let mounts = s
        .volumes
        .iter()
        .filter_map(|m| {
            let source = match &m.kind {
                MountKind::Volume { engine, .. } => MountSource::Volume(engine.clone()),
                MountKind::Bind { source } => MountSource::Bind(source.clone()),
                MountKind::Anonymous => MountSource::Anonymous,
                MountKind::Tmpfs { .. } => return None,
            };
            Some((source, m.target.clone()))
        })
        .collect();
    let hash = s.config_hash();
    let mut labels = s.labels.clone();
    let depends: Vec<String> = s
        .depends_on
        .iter()
        .map(|(n, d)| format!("{n}:{}:{}", d.condition, d.restart))
        .collect();
    labels.extend([
        (LABEL_PROJECT.to_string(), project.to_string()),
        (LABEL_SERVICE.to_string(), s.name.clone()),
        (LABEL_NUMBER.to_string(), "1".to_string()),
        (LABEL_ONEOFF.to_string(), "False".to_string()),
        (LABEL_VERSION.to_string(), COMPOSE_VERSION.to_string()),
        (LABEL_WORKING_DIR.to_string(), dir.display().to_string()),
        (LABEL_CONFIG_FILES.to_string(), origin.config_files.clone()),
        (LABEL_DEPENDS_ON.to_string(), depends.join(",")),
        (LABEL_ONRAMP.to_string(), "1".to_string()),
        (LABEL_HASH.to_string(), hash.clone()),
        (LABEL_COMPOSE_HASH.to_string(), hash),
    ]);
    let network = networking(origin, s);
    ContainerSpec {
        name: s
            .container_name
            .clone()
            .unwrap_or_else(|| container_name(project, &s.name)),
        image: s.image.clone(),
        env,
        cmd: s.command.clone(),
        labels,
        ports,
        mounts,
        network: network.0,
        alias: s.name.clone(),
        working_dir: s.working_dir.clone(),
        extras: Extras {
            networks: network.1,
            network_mode: s.network_mode.is_some(),
            ..extras(s)
        },
    }
}

/// The host settings beyond image, command, env, ports and mounts.
/// The network the container is created on (or its network mode), and every network it joins
/// with its aliases when that is more than the project's default network under its own name.
fn networking(origin: &Origin<'_>, s: &ServiceSpec) -> (String, Vec<(String, Vec<String>)>) {
    if let Some(mode) = &s.network_mode {
        let mode = match mode.strip_prefix("service:") {
            Some(svc) => format!("container:{}", origin.container_of(svc)),
            None => mode.clone(),
        };
        return (mode, Vec::new());
    }
    let nets = s.engine_networks(origin);
    let plain = vec![(origin.network(), vec![s.name.clone()])];
    match nets.first() {
        Some((first, _)) if nets != plain => (first.clone(), nets),
        _ => (origin.network(), Vec::new()),
    }
}

fn extras(s: &ServiceSpec) -> Extras {
    let healthcheck = s.healthcheck.as_ref().map(|h| Health {
        test: h.test.clone(),
        interval: h.interval,
        timeout: h.timeout,
        retries: h.retries.map(|r| r as i64),
        start_period: h.start_period,
    });
    let mut tmpfs: Vec<(String, String)> = s
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((path, opts)) => (path.to_string(), opts.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    tmpfs.extend(s.volumes.iter().filter_map(|m| match &m.kind {
        MountKind::Tmpfs { size, mode } => {
            let mut opts = Vec::new();
            if let Some(n) = size {
                opts.push(format!("size={n}"));
            }
            if let Some(md) = mode {
                opts.push(format!("mode={md:o}"));
            }
            Some((m.target.clone(), opts.join(",")))
        }
        _ => None,
    }));
    Extras {
        read_only: s
            .volumes
            .iter()
            .filter(|m| m.read_only)
            .map(|m| m.target.clone())
            .collect(),
        entrypoint: s.entrypoint.clone(),
        user: s.user.clone(),
        memory: s.limits.memory,
        nano_cpus: s.limits.cpus.map(|c| (c * 1e9).round() as i64),
        memory_reservation: s.reservations.memory,
        shm_size: s.shm_size,
        tmpfs,
        ulimits: s
            .ulimits
            .iter()
            .map(|(n, u)| {
                let (soft, hard) = u.soft_hard();
                (n.clone(), soft, hard)
            })
            .collect(),
        restart: s.restart.as_ref().map(|r| match r.split_once(':') {
            Some((name, max)) => (name.to_string(), max.parse().unwrap_or(0)),
            None => (r.clone(), 0),
        }),
        healthcheck,
        extra_hosts: s.extra_hosts.clone(),
        platform: s.platform.clone(),
        tty: s.tty,
        stdin_open: s.stdin_open,
        init: s.init,
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        security_opt: s.security_opt.clone(),
        userns_mode: s.userns_mode.clone(),
        privileged: s.privileged,
        ..Extras::default()
    }
}

/// The service with the host ports the engine picked filled in (for ports written without one,
/// `"5432"` or `"127.0.0.1::5432"`), from the container's bindings: what `up` probes, `status`
/// reports and `.env` names. Unchanged when it has no such port or the container has not
/// bound it.
pub fn with_bound_ports(
    svc: &crate::profile::Service,
    c: &ContainerInfo,
) -> crate::profile::Service {
    let Some(ports) = &svc.ports else {
        return svc.clone();
    };
    let resolved = ports
        .iter()
        .map(|text| {
            let Ok(p) = crate::profile::parse_port(text) else {
                return text.clone();
            };
            let bound = c
                .bound
                .iter()
                .filter(|b| b.container == p.container && b.udp == p.udp && b.host != 0)
                .min_by_key(|b| b.ip.contains(':'));
            match bound {
                Some(b) if p.host == 0 => {
                    let ip = if b.ip.is_empty() || b.ip.contains(':') {
                        "0.0.0.0"
                    } else {
                        b.ip.as_str()
                    };
                    let proto = if p.udp { "/udp" } else { "" };
                    format!("{ip}:{}:{}{proto}", b.host, p.container)
                }
                _ => text.clone(),
            }
        })
        .collect();
    crate::profile::Service {
        ports: Some(resolved),
        ..svc.clone()
    }
}

/// The services an `up`, `status` or `down` of `only` works on, in name order: all enabled
/// services when `only` is empty, else those named and, transitively, what they depend on.
pub fn select(profile: &Profile, only: &[String]) -> Result<Vec<String>> {
    let known: Vec<&String> = profile.services().map(|(n, _)| n).collect();
    if only.is_empty() {
        return Ok(known.into_iter().cloned().collect());
    }
    let mut out: Vec<String> = Vec::new();
    let mut todo: Vec<String> = only.to_vec();
    while let Some(name) = todo.pop() {
        if out.contains(&name) {
            continue;
        }
        let Some(svc) = profile
            .services()
            .find(|(n, _)| **n == name)
            .map(|(_, s)| s)
        else {
            let list: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            return Err(Error::Usage(format!(
                "no service named `{name}`; the profile's services are: {}",
                list.join(", ")
            )));
        };
        todo.extend(svc.dependencies().into_iter().map(|(d, _)| d));
        out.push(name);
    }
    out.sort();
    Ok(out)
}

/// Named volumes the managed services use, as (name in the profile, engine name).
pub fn volumes(project: &str, profile: &Profile) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (_, svc) in profile.services() {
        if svc.image.is_none() {
            continue;
        }
        for v in svc.volumes.iter().flatten() {
            if let Some(n) = named_volume(v)
                && !out.iter().any(|(x, _)| x == n)
            {
                out.push((n.to_string(), volume_name(project, n)));
            }
        }
    }
    out
}

/// What `up` does with one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Create,
    /// Ours, identical and running: leave it alone.
    Keep,
    /// Ours and identical, but stopped.
    Start,
    /// Ours, but its configuration changed: recreate it (volumes are kept).
    Recreate,
    /// Made by Compose for this project and service with the same configuration: used as it is
    /// (started when stopped).
    Adopt {
        running: bool,
    },
    /// A container onramp will not touch: why, and the exact command that clears the way.
    Refuse {
        why: String,
        help: String,
    },
}

/// Decide from the containers that exist for this service: those with its project and
/// service labels (Compose v1 or v2 naming, or onramp's) and any holding the name onramp uses.
pub fn decide(existing: &[ContainerInfo], spec: &ContainerSpec, project: &str) -> Decision {
    let service = spec.alias.as_str();
    let compose_down = format!("docker-compose -p {project} down");
    let [c] = existing else {
        if existing.is_empty() {
            return Decision::Create;
        }
        let names: Vec<&str> = existing.iter().map(|c| c.name.as_str()).collect();
        return Decision::Refuse {
            why: format!(
                "service {service} of project {project} already has {} containers ({})",
                names.len(),
                names.join(", ")
            ),
            help: format!(
                "remove them with `{compose_down}` or `docker rm -f {}`, then run `onramp up` again",
                names.join(" ")
            ),
        };
    };
    let label = |k: &str| c.labels.get(k).map(String::as_str);
    if label(LABEL_PROJECT) != Some(project) || label(LABEL_SERVICE) != Some(service) {
        let who = if label(LABEL_PROJECT).is_some() {
            "was created by docker compose for another project or service"
        } else {
            "was not created by onramp"
        };
        return Decision::Refuse {
            why: format!("a container named {} already exists and {who}", c.name),
            help: format!(
                "if it holds nothing you need, remove it with `docker rm -f {}`; or set `project = \"another-name\"` in onramp.toml",
                c.name
            ),
        };
    }
    if c.labels.contains_key(LABEL_HASH) {
        return if c.labels.get(LABEL_HASH) != spec.labels.get(LABEL_HASH) {
            Decision::Recreate
        } else if c.running {
            Decision::Keep
        } else {
            Decision::Start
        };
    }
    // Compose v2 made it from the same configuration: the same config hash.
    if c.labels.contains_key(LABEL_COMPOSE_HASH)
        && c.labels.get(LABEL_COMPOSE_HASH) == spec.labels.get(LABEL_COMPOSE_HASH)
    {
        return Decision::Adopt { running: c.running };
    }
    match mismatch(c, spec, project) {
        None => Decision::Adopt { running: c.running },
        Some(diff) => Decision::Refuse {
            why: format!(
                "{} was made by docker compose for service {service} with another configuration ({diff})",
                c.name
            ),
            help: format!(
                "remove Compose's containers with `{compose_down}` (volumes are kept) or `docker rm -f {}`, then run `onramp up` again",
                c.name
            ),
        },
    }
}

/// How a container Compose made differs from the spec, if it does: image, published ports,
/// environment, command.
fn mismatch(c: &ContainerInfo, spec: &ContainerSpec, project: &str) -> Option<String> {
    let built_v1 = format!("{project}_{}", spec.alias);
    let same_image = c.image == spec.image
        || (spec.image == built_image_name(project, &spec.alias) && c.image == built_v1);
    if !same_image {
        return Some(format!("image {} instead of {}", c.image, spec.image));
    }
    let pairs = |p: &[Published]| {
        let mut v: Vec<(u16, u16)> = p
            .iter()
            .filter(|p| p.host != 0)
            .map(|p| (p.host, p.container))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    if pairs(&c.ports) != pairs(&spec.ports) {
        let show = |p: &[Published]| {
            pairs(p)
                .iter()
                .map(|(h, c)| format!("{h}:{c}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        return Some(format!(
            "ports {} instead of {}",
            show(&c.ports),
            show(&spec.ports)
        ));
    }
    if let Some(e) = spec.env.iter().find(|e| !c.env.contains(e)) {
        let key = e.split('=').next().unwrap_or(e);
        return Some(format!("environment {key} differs"));
    }
    if spec.cmd.is_some() && spec.cmd != c.cmd {
        return Some("command differs".into());
    }
    None
}

/// The containers that stand for one service of a project: labelled for it (either Compose
/// naming or onramp's), or holding the name onramp would give it. One-off containers
/// (`docker-compose run`) are not the service.
pub async fn existing<E: crate::engine::api::Engine + Sync>(
    engine: &E,
    project: &str,
    service: &str,
) -> Result<Vec<ContainerInfo>, crate::engine::api::EngineError> {
    let mut found: Vec<ContainerInfo> = engine
        .list(&[(LABEL_PROJECT, project), (LABEL_SERVICE, service)])
        .await?
        .into_iter()
        .filter(|c| c.labels.get(LABEL_ONEOFF).map(String::as_str) != Some("True"))
        .collect();
    if let Some(c) = engine.inspect(&container_name(project, service)).await?
        && !found.iter().any(|f| f.id == c.id)
    {
        found.push(c);
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::profile::Service;

    fn kailash() -> Profile {
        crate::profile::load(&crate::profile::Choice::Named("kailash".into()))
            .unwrap()
            .profile
    }

    // The project directory and the Compose file as Compose labels them on this platform (a
    // host path, with the host's separator).
    #[cfg(windows)]
    const DIR: &str = r"C:\p";
    #[cfg(windows)]
    const COMPOSE_FILE: &str = r"C:\p\docker-compose.test.yml";
    #[cfg(not(windows))]
    const DIR: &str = "/p";
    #[cfg(not(windows))]
    const COMPOSE_FILE: &str = "/p/docker-compose.test.yml";

    fn origin() -> Origin<'static> {
        Origin::new("horme", Path::new(DIR), None).with_profile("kailash")
    }

    #[test]
    fn specs_are_named_and_labelled_like_compose() {
        let p = kailash();
        let s = spec(&origin(), "postgres", &p.services["postgres"]).unwrap();
        assert_eq!(s.name, "horme-postgres-1");
        assert_eq!(s.network, "horme_default");
        for (k, v) in [
            (LABEL_PROJECT, "horme"),
            (LABEL_SERVICE, "postgres"),
            (LABEL_NUMBER, "1"),
            (LABEL_ONEOFF, "False"),
            (LABEL_VERSION, COMPOSE_VERSION),
            (LABEL_WORKING_DIR, DIR),
            (LABEL_CONFIG_FILES, COMPOSE_FILE),
        ] {
            assert_eq!(s.labels[k], v, "{k}");
        }
        assert_eq!(s.labels[LABEL_COMPOSE_HASH], s.labels[LABEL_HASH]);
        assert_eq!(s.labels[crate::naming::LABEL_PROFILE], "kailash");
        assert_eq!(
            s.mounts[0],
            (
                MountSource::Volume("horme_postgres_test_data".into()),
                "/var/lib/postgresql/data".into()
            )
        );
        assert_eq!(s.ports[0].ip, "127.0.0.1");
    }

    #[test]
    fn compose_keys_reach_the_container_spec() {
        let svc: Service = toml::from_str(
            r#"image = "x"
entrypoint = ["/bin/sh", "-c"]
user = "1000:1000"
working_dir = "/w"
resources = { memory = "2g", cpus = 1.5 }
shm_size = "256m"
tmpfs = ["/run:size=64m", "/tmp"]
ulimits = { nofile = { soft = 1024, hard = 4096 }, nproc = 512 }
restart = "on-failure:3"
labels = { team = "data" }
healthcheck = { test = ["CMD", "true"], interval = "2s", retries = 4, start_period = "1m" }
"#,
        )
        .unwrap();
        let s = spec(&origin(), "x", &svc).unwrap();
        let x = &s.extras;
        assert_eq!(
            x.entrypoint.as_deref(),
            Some(&["/bin/sh".to_string(), "-c".to_string()][..])
        );
        assert_eq!(x.user.as_deref(), Some("1000:1000"));
        assert_eq!(s.working_dir.as_deref(), Some("/w"));
        assert_eq!(x.memory, Some(2 << 30));
        assert_eq!(x.nano_cpus, Some(1_500_000_000));
        assert_eq!(x.shm_size, Some(256 << 20));
        assert_eq!(
            x.tmpfs,
            [
                ("/run".into(), "size=64m".into()),
                ("/tmp".into(), String::new())
            ]
        );
        assert!(x.ulimits.contains(&("nofile".into(), 1024, 4096)));
        assert!(x.ulimits.contains(&("nproc".into(), 512, 512)));
        assert_eq!(x.restart, Some(("on-failure".into(), 3)));
        let h = x.healthcheck.as_ref().unwrap();
        assert_eq!(
            (h.interval, h.retries, h.start_period),
            (Some(2_000_000_000), Some(4), Some(60_000_000_000))
        );
        assert_eq!(s.labels["team"], "data");
        let mut more = svc.clone();
        more.resources = None;
        let t = spec(&origin(), "x", &more).unwrap();
        assert_ne!(
            s.labels[LABEL_HASH], t.labels[LABEL_HASH],
            "limits are part of the hash"
        );
    }

    #[test]
    fn the_hash_changes_with_the_configuration_only() {
        let p = kailash();
        let a = spec(&origin(), "redis", &p.services["redis"]).unwrap();
        let b = spec(&origin(), "redis", &p.services["redis"]).unwrap();
        assert_eq!(a.labels[LABEL_HASH], b.labels[LABEL_HASH]);
        let mut changed = p.services["redis"].clone();
        changed.env = Some(BTreeMap::from([("X".to_string(), "1".to_string())]));
        let c = spec(&origin(), "redis", &changed).unwrap();
        assert_ne!(a.labels[LABEL_HASH], c.labels[LABEL_HASH]);
    }

    #[test]
    fn ro_volumes_are_mounted_read_only_and_change_the_hash() {
        let p = kailash();
        let plain = spec(&origin(), "redis", &p.services["redis"]).unwrap();
        assert!(plain.extras.read_only.is_empty());
        let mut ro = p.services["redis"].clone();
        ro.volumes = Some(vec![
            "redis_test_data:/data:ro".into(),
            "./conf:/etc/redis:ro,z".into(),
            "./rw:/rw:z".into(),
        ]);
        let s = spec(&origin(), "redis", &ro).unwrap();
        assert_eq!(s.extras.read_only, ["/data", "/etc/redis"]);
        assert_eq!(s.mounts[0].1, "/data");
        assert_ne!(s.labels[LABEL_HASH], plain.labels[LABEL_HASH]);
    }

    #[test]
    fn decisions() {
        let p = kailash();
        let s = spec(&origin(), "redis", &p.services["redis"]).unwrap();
        assert_eq!(decide(&[], &s, "horme"), Decision::Create);
        let mut c = ContainerInfo {
            name: "horme-redis-1".into(),
            labels: s.labels.clone(),
            running: true,
            ..ContainerInfo::default()
        };
        assert_eq!(
            decide(std::slice::from_ref(&c), &s, "horme"),
            Decision::Keep
        );
        c.running = false;
        assert_eq!(
            decide(std::slice::from_ref(&c), &s, "horme"),
            Decision::Start
        );
        c.labels.insert(LABEL_HASH.into(), "old".into());
        assert_eq!(
            decide(std::slice::from_ref(&c), &s, "horme"),
            Decision::Recreate
        );
        c.labels.clear();
        let Decision::Refuse { why, help } = decide(std::slice::from_ref(&c), &s, "horme") else {
            panic!()
        };
        assert!(why.contains("not created by onramp"), "{why}");
        assert!(help.contains("docker rm -f horme-redis-1"), "{help}");
    }

    /// A container as Compose v1 makes it for the same service: its own name and hash.
    fn compose_made(s: &ContainerSpec) -> ContainerInfo {
        ContainerInfo {
            id: "c1".into(),
            name: container_name_v1("horme", "redis"),
            labels: BTreeMap::from([
                (LABEL_PROJECT.into(), "horme".into()),
                (LABEL_SERVICE.into(), "redis".into()),
                (LABEL_COMPOSE_HASH.into(), "compose's".into()),
            ]),
            running: true,
            image: s.image.clone(),
            ports: s
                .ports
                .iter()
                .map(|p| Published {
                    ip: "0.0.0.0".into(),
                    ..p.clone()
                })
                .collect(),
            env: [s.env.clone(), vec!["PATH=/usr/bin".into()]].concat(),
            cmd: s.cmd.clone(),
            ..ContainerInfo::default()
        }
    }

    #[test]
    fn containers_compose_made_are_adopted_when_they_match_and_refused_by_command_otherwise() {
        let mut redis = kailash().services["redis"].clone();
        redis.env = Some(BTreeMap::from([("MODE".to_string(), "test".to_string())]));
        let s = spec(&origin(), "redis", &redis).unwrap();
        let c = compose_made(&s);
        assert_eq!(
            decide(std::slice::from_ref(&c), &s, "horme"),
            Decision::Adopt { running: true }
        );
        let mut other = c.clone();
        other.image = "redis:6".into();
        let Decision::Refuse { why, help } = decide(&[other], &s, "horme") else {
            panic!()
        };
        assert!(
            why.contains("horme_redis_1") && why.contains("image redis:6"),
            "{why}"
        );
        assert!(
            help.contains("`docker-compose -p horme down`")
                && help.contains("docker rm -f horme_redis_1"),
            "{help}"
        );
        let mut moved = c.clone();
        moved.ports[0].host += 1;
        assert!(matches!(
            decide(&[moved], &s, "horme"),
            Decision::Refuse { .. }
        ));
        let mut env = c.clone();
        env.env.clear();
        assert!(matches!(
            decide(&[env], &s, "horme"),
            Decision::Refuse { .. }
        ));
        let ours = ContainerInfo {
            labels: s.labels.clone(),
            name: s.name.clone(),
            ..c.clone()
        };
        let Decision::Refuse { why, .. } = decide(&[c, ours], &s, "horme") else {
            panic!()
        };
        assert!(why.contains("2 containers"), "{why}");
    }

    #[test]
    fn selection_adds_dependencies_and_refuses_unknown_names() {
        let p: Profile = toml::from_str(
            "[services.db]\nimage='a'\n[services.app]\nimage='b'\ndepends_on={db={condition='service_healthy'}}\n[services.other]\nimage='c'\n",
        )
        .unwrap();
        assert_eq!(select(&p, &["app".into()]).unwrap(), ["app", "db"]);
        assert_eq!(select(&p, &[]).unwrap(), ["app", "db", "other"]);
        let err = select(&p, &["nope".into()]).unwrap_err();
        assert!(matches!(err, Error::Usage(_)));
        assert!(err.to_string().contains("app, db, other"), "{err}");
    }

    #[test]
    fn ports_the_engine_picks_and_udp_ports_are_published_and_then_read_back() {
        let svc: Service = toml::from_str(
            "image = \"x\"\nports = [\"5432\", \"127.0.0.1::6379\", \"8125:8125/udp\", \"80:80\"]\n",
        )
        .unwrap();
        let s = spec(&origin(), "x", &svc).unwrap();
        let keys: Vec<(String, u16)> = s.ports.iter().map(|p| (p.key(), p.host)).collect();
        assert_eq!(
            keys,
            [
                ("5432/tcp".to_string(), 0),
                ("6379/tcp".to_string(), 0),
                ("8125/udp".to_string(), 8125),
                ("80/tcp".to_string(), 80),
            ]
        );
        let bound = |ip: &str, host, container| Published {
            ip: ip.into(),
            host,
            container,
            udp: false,
        };
        let c = ContainerInfo {
            bound: vec![
                bound("::", 32768, 5432),
                bound("0.0.0.0", 32768, 5432),
                bound("127.0.0.1", 32769, 6379),
                bound("127.0.0.1", 80, 80),
            ],
            ..ContainerInfo::default()
        };
        let r = with_bound_ports(&svc, &c);
        assert_eq!(
            r.ports.as_deref().unwrap(),
            [
                "0.0.0.0:32768:5432",
                "127.0.0.1:32769:6379",
                "8125:8125/udp",
                "80:80"
            ]
        );
        assert_eq!(r.probe_host_port(), Some(32768));
        assert_eq!(
            svc.probe_host_port(),
            None,
            "not picked yet: nothing to probe"
        );
    }

    fn compose_service(networks: &[(&str, &[&str])], mode: Option<&str>) -> Service {
        Service {
            image: Some("redis:7".into()),
            network_mode: mode.map(String::from),
            platform: Some("linux/amd64".into()),
            networks: (!networks.is_empty()).then(|| {
                networks
                    .iter()
                    .map(|(n, a)| {
                        let aliases =
                            (!a.is_empty()).then(|| a.iter().map(|s| s.to_string()).collect());
                        (n.to_string(), crate::profile::ServiceNetwork { aliases })
                    })
                    .collect()
            }),
            ..Service::default()
        }
    }

    #[test]
    fn networks_aliases_and_network_modes_reach_the_container() {
        let mut o = Origin::new("proj", Path::new(DIR), Some(Path::new("/p/compose.yml")));
        o.network_names
            .insert("shared".into(), "team_shared".into());
        let svc = compose_service(&[("back", &["cache"]), ("shared", &[])], None);
        let spec = ServiceSpec::of(&o, "redis", &svc).unwrap();
        let c = container_spec(&o, &spec);
        assert_eq!(c.network, "proj_back", "created on its first network");
        assert_eq!(
            c.extras.networks,
            vec![
                (
                    "proj_back".to_string(),
                    vec!["redis".to_string(), "cache".to_string()]
                ),
                ("team_shared".to_string(), vec!["redis".to_string()]),
            ]
        );
        assert!(!c.extras.network_mode);
        assert_eq!(c.extras.platform.as_deref(), Some("linux/amd64"));

        let plain = compose_service(&[], None);
        let c = container_spec(&o, &ServiceSpec::of(&o, "redis", &plain).unwrap());
        assert_eq!(
            (c.network.as_str(), c.alias.as_str()),
            ("proj_default", "redis")
        );
        assert!(
            c.extras.networks.is_empty(),
            "the default network alone is as before"
        );

        o.container_names
            .insert("named".into(), "team-named".into());
        for (mode, engine) in [
            ("host", "host"),
            ("none", "none"),
            ("service:db", "proj-db-1"),
            ("service:named", "team-named"),
        ] {
            let svc = compose_service(&[], Some(mode));
            let c = container_spec(&o, &ServiceSpec::of(&o, "redis", &svc).unwrap());
            let want = if mode.starts_with("service:") {
                format!("container:{engine}")
            } else {
                engine.to_string()
            };
            assert_eq!(c.network, want);
            assert!(c.extras.network_mode && c.extras.networks.is_empty());
        }
    }
}
