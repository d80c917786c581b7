//! What templates see: the profile's services flattened for Compose and for `.env`.

use std::path::Path;

use serde::Serialize;

use super::shim::Scan;
use crate::kinds;
use crate::profile::{ProbeKind, Profile, Service};
use crate::project::project_name;
use crate::stack::named_volume;

#[derive(Debug, Clone, Serialize)]
pub struct Kv {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Port {
    pub ip: String,
    pub host: u16,
    pub container: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct Svc {
    pub name: String,
    pub image: Option<String>,
    pub address: Option<String>,
    pub command: Vec<String>,
    pub env: Vec<Kv>,
    pub ports: Vec<Port>,
    pub volumes: Vec<String>,
    pub healthcheck: Vec<String>,
    pub interval: String,
    pub hc_timeout: String,
    pub retries: u64,
    pub start_period: Option<String>,
    /// The keys with Compose's meaning, as Compose spells them.
    pub build: Option<crate::profile::Build>,
    pub entrypoint: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub memory: Option<String>,
    pub cpus: Option<f64>,
    pub shm_size: Option<String>,
    pub tmpfs: Vec<String>,
    pub ulimits: Vec<Ulimit>,
    pub restart: Option<String>,
    pub depends_on: Vec<Kv>,
    pub labels: Vec<Kv>,
    /// Connection settings for the project's tests (`.env`).
    pub connection: Vec<Kv>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub project: String,
    pub profile: String,
    /// Services onramp starts (with an image).
    pub services: Vec<Svc>,
    /// Every service, external ones included (for `.env`).
    pub all_services: Vec<Svc>,
    pub volumes: Vec<String>,
    pub sdk: String,
    pub found: Vec<String>,
    pub extra_constants: Vec<String>,
    pub extra_functions: Vec<String>,
    pub coverage: String,
}

pub fn build(profile: &Profile, dir: &Path, scan: &Scan) -> Context {
    let mut volumes: Vec<String> = Vec::new();
    let mut all = Vec::new();
    let mut first_of_kind: Vec<ProbeKind> = Vec::new();
    for (name, svc) in profile.services() {
        for v in svc.volumes.iter().flatten() {
            if let Some(n) = named_volume(v)
                && !volumes.iter().any(|x| x == n)
            {
                volumes.push(n.to_string());
            }
        }
        let kind = svc.probe.as_ref().map(|p| p.kind);
        let first = kind.is_some_and(|k| !first_of_kind.contains(&k));
        if let Some(k) = kind {
            first_of_kind.push(k);
        }
        all.push(service(name, svc, first));
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
        project: project_name(profile, dir),
        profile: profile.display_name().to_string(),
        services: all.iter().filter(|s| s.image.is_some()).cloned().collect(),
        all_services: all,
        volumes,
        sdk: scan.sdk.clone().unwrap_or_else(|| "no SDK scanned".into()),
        found,
        extra_constants,
        extra_functions,
        coverage,
    }
}

fn service(name: &str, svc: &Service, first_of_kind: bool) -> Svc {
    let env = svc.env();
    let ports: Vec<Port> = svc
        .ports()
        .iter()
        .map(|p| Port {
            ip: p.host_ip.to_string(),
            host: p.host,
            container: p.container,
        })
        .collect();
    let interval_secs = 5;
    let hc = svc
        .healthcheck
        .as_ref()
        .map(|h| h.spec())
        .unwrap_or_default();
    let kvs = |m: Option<&std::collections::BTreeMap<String, String>>| -> Vec<Kv> {
        m.into_iter()
            .flatten()
            .map(|(k, v)| Kv {
                key: k.clone(),
                value: v.clone(),
            })
            .collect()
    };
    Svc {
        name: name.to_string(),
        image: svc.image.clone(),
        address: svc.address.clone(),
        command: svc.command.clone().unwrap_or_default(),
        env: env
            .iter()
            .map(|(k, v)| Kv {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        ports,
        volumes: svc.volumes.clone().unwrap_or_default(),
        // `disable = true` is Compose's `test: ["NONE"]`, as `up` applies it.
        healthcheck: if hc.disable == Some(true) {
            vec!["NONE".into()]
        } else {
            hc.test.clone().unwrap_or_else(|| {
                kinds::connection(svc)
                    .map(|c| c.healthcheck())
                    .unwrap_or_default()
            })
        },
        interval: hc
            .interval
            .clone()
            .unwrap_or_else(|| format!("{interval_secs}s")),
        hc_timeout: hc.timeout.clone().unwrap_or_else(|| "5s".into()),
        retries: hc
            .retries
            .map(u64::from)
            .unwrap_or((svc.timeout().as_secs() / interval_secs).max(3)),
        start_period: hc.start_period.clone(),
        build: svc.build.clone(),
        entrypoint: svc.entrypoint.clone().unwrap_or_default(),
        user: svc.user.clone(),
        working_dir: svc.working_dir.clone(),
        memory: svc.resources.as_ref().and_then(|r| r.memory.clone()),
        cpus: svc.resources.as_ref().and_then(|r| r.cpus),
        shm_size: svc.shm_size.clone(),
        tmpfs: svc.tmpfs.clone().unwrap_or_default(),
        ulimits: svc
            .ulimits
            .iter()
            .flatten()
            .map(|(n, u)| {
                let (soft, hard) = u.soft_hard();
                Ulimit {
                    name: n.clone(),
                    soft,
                    hard,
                }
            })
            .collect(),
        restart: svc.restart.clone(),
        depends_on: svc
            .dependencies()
            .into_iter()
            .map(|(n, c)| Kv {
                key: n,
                value: match c {
                    crate::profile::Condition::ServiceStarted => "service_started".into(),
                    crate::profile::Condition::ServiceHealthy => "service_healthy".into(),
                    crate::profile::Condition::ServiceCompletedSuccessfully => {
                        "service_completed_successfully".into()
                    }
                },
            })
            .collect(),
        labels: kvs(svc.labels.as_ref()),
        connection: connection(name, svc, first_of_kind),
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
