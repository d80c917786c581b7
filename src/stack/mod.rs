//! The services of a profile as Docker objects, named and labelled as Compose names them, and
//! the decisions that make `up` converge and `down` remove only what is ours.

#[cfg(test)]
pub mod fake;
pub mod ops;
pub mod ready;
pub mod up;

use std::collections::BTreeMap;
use std::path::Path;

use crate::engine::api::{ContainerInfo, ContainerSpec, MountSource, Published};
use crate::generate::sha256;
use crate::profile::{Profile, Service};

pub const LABEL_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
pub const LABEL_HASH: &str = "dev.onramp.config-hash";
pub const LABEL_ONRAMP: &str = "dev.onramp";

pub fn container_name(project: &str, service: &str) -> String {
    format!("{project}-{service}-1")
}

pub fn network_name(project: &str) -> String {
    format!("{project}_default")
}

pub fn volume_name(project: &str, volume: &str) -> String {
    format!("{project}_{volume}")
}

/// A named volume (`data:/var/lib/x`), as opposed to a bind mount (`./data:/x`, `/abs:/x`).
pub fn named_volume(spec: &str) -> Option<&str> {
    let (src, _) = spec.split_once(':')?;
    let drive_letter = src.len() == 1 && spec.chars().nth(1) == Some(':');
    let path_like = src.starts_with(['.', '/', '~']) || src.contains(['/', '\\']);
    let named = !src.is_empty() && !path_like && !drive_letter;
    named.then_some(src)
}

/// Labels on networks and volumes onramp creates.
pub fn object_labels(project: &str, extra: (&str, &str)) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_PROJECT.to_string(), project.to_string()),
        (extra.0.to_string(), extra.1.to_string()),
        (LABEL_ONRAMP.to_string(), "1".to_string()),
    ])
}

/// The container spec of a managed service, its config hash among its labels.
pub fn spec(project: &str, name: &str, svc: &Service, dir: &Path) -> Option<ContainerSpec> {
    let image = svc.image.clone()?;
    let mut env: Vec<String> = svc.env().iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.sort();
    let ports = svc
        .ports()
        .iter()
        .map(|p| Published {
            ip: p.host_ip.to_string(),
            host: p.host,
            container: p.container,
        })
        .collect();
    let mounts = svc
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| {
            let (src, target) = v.split_once(':')?;
            let target = target.split(':').next().unwrap_or(target).to_string();
            let source = match named_volume(v) {
                Some(n) => MountSource::Volume(volume_name(project, n)),
                None => MountSource::Bind(dir.join(src).display().to_string()),
            };
            Some((source, target))
        })
        .collect();
    let labels = BTreeMap::from([
        (LABEL_PROJECT.to_string(), project.to_string()),
        (LABEL_SERVICE.to_string(), name.to_string()),
        (
            "com.docker.compose.container-number".to_string(),
            "1".to_string(),
        ),
        ("com.docker.compose.oneoff".to_string(), "False".to_string()),
        (LABEL_ONRAMP.to_string(), "1".to_string()),
    ]);
    let mut spec = ContainerSpec {
        name: container_name(project, name),
        image,
        env,
        cmd: svc.command.clone(),
        labels,
        ports,
        mounts,
        network: network_name(project),
        alias: name.to_string(),
        working_dir: None,
    };
    let hash = sha256(&serde_json::to_string(&spec).unwrap_or_default());
    spec.labels.insert(LABEL_HASH.to_string(), hash);
    Some(spec)
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
    /// A container of that name that onramp did not create.
    Refuse(String),
}

pub fn decide(existing: Option<&ContainerInfo>, spec: &ContainerSpec, project: &str) -> Decision {
    let Some(c) = existing else {
        return Decision::Create;
    };
    let ours = c.labels.get(LABEL_PROJECT).map(String::as_str) == Some(project)
        && c.labels.contains_key(LABEL_HASH);
    if !ours {
        let who = if c.labels.contains_key(LABEL_PROJECT) {
            "was created by docker compose, not onramp"
        } else {
            "was not created by onramp"
        };
        return Decision::Refuse(format!(
            "a container named {} already exists and {who}",
            spec.name
        ));
    }
    if c.labels.get(LABEL_HASH) != spec.labels.get(LABEL_HASH) {
        Decision::Recreate
    } else if c.running {
        Decision::Keep
    } else {
        Decision::Start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kailash() -> Profile {
        crate::profile::load(&crate::profile::Choice::Named("kailash".into()))
            .unwrap()
            .profile
    }

    #[test]
    fn specs_are_named_and_labelled_like_compose() {
        let p = kailash();
        let s = spec(
            "horme",
            "postgres",
            &p.services["postgres"],
            Path::new("/p"),
        )
        .unwrap();
        assert_eq!(s.name, "horme-postgres-1");
        assert_eq!(s.network, "horme_default");
        assert_eq!(s.labels[LABEL_PROJECT], "horme");
        assert_eq!(s.labels[LABEL_SERVICE], "postgres");
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
    fn the_hash_changes_with_the_configuration_only() {
        let p = kailash();
        let a = spec("horme", "redis", &p.services["redis"], Path::new("/p")).unwrap();
        let b = spec("horme", "redis", &p.services["redis"], Path::new("/p")).unwrap();
        assert_eq!(a.labels[LABEL_HASH], b.labels[LABEL_HASH]);
        let mut changed = p.services["redis"].clone();
        changed.env = Some(BTreeMap::from([("X".to_string(), "1".to_string())]));
        let c = spec("horme", "redis", &changed, Path::new("/p")).unwrap();
        assert_ne!(a.labels[LABEL_HASH], c.labels[LABEL_HASH]);
    }

    #[test]
    fn named_volumes_and_bind_mounts() {
        assert_eq!(
            named_volume("pg_data:/var/lib/postgresql/data"),
            Some("pg_data")
        );
        assert_eq!(named_volume("./data:/data"), None);
        assert_eq!(named_volume("/srv/data:/data"), None);
        assert_eq!(named_volume("C:\\data:/data"), None);
    }

    #[test]
    fn decisions() {
        let p = kailash();
        let s = spec("horme", "redis", &p.services["redis"], Path::new("/p")).unwrap();
        assert_eq!(decide(None, &s, "horme"), Decision::Create);
        let mut c = ContainerInfo {
            labels: s.labels.clone(),
            running: true,
            ..ContainerInfo::default()
        };
        assert_eq!(decide(Some(&c), &s, "horme"), Decision::Keep);
        c.running = false;
        assert_eq!(decide(Some(&c), &s, "horme"), Decision::Start);
        c.labels.insert(LABEL_HASH.into(), "old".into());
        assert_eq!(decide(Some(&c), &s, "horme"), Decision::Recreate);
        c.labels.clear();
        assert!(matches!(decide(Some(&c), &s, "horme"), Decision::Refuse(_)));
        c.labels.insert(LABEL_PROJECT.into(), "horme".into());
        let Decision::Refuse(why) = decide(Some(&c), &s, "horme") else {
            panic!()
        };
        assert!(why.contains("docker compose"));
    }
}
