//! What templates see: the profile's services flattened for Compose and for `.env`.

use std::path::Path;

use serde::Serialize;

use super::shim::Scan;
use crate::profile::{ProbeKind, Profile, Service};

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

/// Compose's project name: the profile's `project`, else the directory's name, normalised.
pub fn project_name(profile: &Profile, dir: &Path) -> String {
    let raw = profile.project.clone().unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let name: String = raw
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let name = name.trim_start_matches(['_', '-']).to_string();
    if name.is_empty() {
        "onramp".into()
    } else {
        name
    }
}

/// A named volume (`data:/var/lib/x`), as opposed to a bind mount (`./data:/x`, `/abs:/x`).
pub fn named_volume(spec: &str) -> Option<&str> {
    let (src, _) = spec.split_once(':')?;
    let drive_letter = src.len() == 1 && spec.chars().nth(1) == Some(':');
    let path_like = src.starts_with(['.', '/', '~']) || src.contains(['/', '\\']);
    let named = !src.is_empty() && !path_like && !drive_letter;
    named.then_some(src)
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
        m.into_iter().flatten().map(|(k, v)| kv(k, v)).collect()
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
        healthcheck: hc.test.clone().unwrap_or_else(|| default_healthcheck(svc)),
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
            .map(|(n, c)| {
                let c = match c {
                    crate::profile::Condition::ServiceStarted => "service_started",
                    crate::profile::Condition::ServiceHealthy => "service_healthy",
                };
                kv(&n, c)
            })
            .collect(),
        labels: kvs(svc.labels.as_ref()),
        connection: connection(name, svc, first_of_kind),
    }
}

/// Healthchecks that work with the images as they are: no curl in Chroma, none built into
/// Neo4j, `/api/v2` for Chroma 1.x (which answers 410 on `/api/v1`).
fn default_healthcheck(svc: &Service) -> Vec<String> {
    let env = svc.env();
    let Some(probe) = &svc.probe else {
        return Vec::new();
    };
    let port = probe
        .port
        .or_else(|| svc.ports().first().map(|p| p.container))
        .unwrap_or(0);
    let shell = |cmd: String| vec!["CMD-SHELL".to_string(), cmd];
    let http_get = |path: &str| {
        shell(format!(
            "bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port} && printf \"GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n\" >&3 && head -n 1 <&3 | grep -q \" 200 \"'"
        ))
    };
    match probe.kind {
        ProbeKind::Postgres => {
            let user = env.get("POSTGRES_USER").map_or("postgres", String::as_str);
            let db = env.get("POSTGRES_DB").map_or(user, String::as_str);
            shell(format!("pg_isready -h 127.0.0.1 -U {user} -d {db}"))
        }
        ProbeKind::Redis => vec!["CMD".into(), "redis-cli".into(), "ping".into()],
        ProbeKind::Neo4j => shell(
            "cypher-shell -a bolt://127.0.0.1:7687 -u \"${NEO4J_AUTH%%/*}\" -p \"${NEO4J_AUTH#*/}\" 'RETURN 1'"
                .into(),
        ),
        ProbeKind::Chroma => http_get("/api/v2/heartbeat"),
        ProbeKind::Http => http_get(probe.path.as_deref().unwrap_or("/")),
        ProbeKind::Tcp => shell(format!("bash -c ': > /dev/tcp/127.0.0.1/{port}'")),
    }
}

fn connection(name: &str, svc: &Service, first_of_kind: bool) -> Vec<Kv> {
    let prefix: String = name
        .to_ascii_uppercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let Some((host, port)) = svc.endpoint() else {
        return Vec::new();
    };
    let env = svc.env();
    let probe = svc.probe.as_ref();
    let pick = |probe_val: Option<&String>, key: &str, default: &str| {
        probe_val
            .cloned()
            .or_else(|| env.get(key).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    let mut out = vec![
        kv(&format!("{prefix}_HOST"), &host),
        kv(&format!("{prefix}_PORT"), &port.to_string()),
    ];
    let kind = probe.map(|p| p.kind);
    match kind {
        Some(ProbeKind::Postgres) => {
            let user = pick(
                probe.and_then(|p| p.user.as_ref()),
                "POSTGRES_USER",
                "postgres",
            );
            let db = pick(
                probe.and_then(|p| p.database.as_ref()),
                "POSTGRES_DB",
                &user,
            );
            let pw = pick(
                probe.and_then(|p| p.password.as_ref()),
                "POSTGRES_PASSWORD",
                "",
            );
            let url = format!(
                "postgresql://{}:{}@{host}:{port}/{db}",
                enc(&user),
                enc(&pw)
            );
            out.extend([
                kv(&format!("{prefix}_DB"), &db),
                kv(&format!("{prefix}_USER"), &user),
                kv(&format!("{prefix}_PASSWORD"), &pw),
                kv(&format!("{prefix}_URL"), &url),
            ]);
            if first_of_kind {
                out.push(kv("DATABASE_URL", &url));
            }
        }
        Some(ProbeKind::Redis) => {
            let pw = probe.and_then(|p| p.password.clone());
            let auth = pw.map(|p| format!(":{}@", enc(&p))).unwrap_or_default();
            let url = format!("redis://{auth}{host}:{port}/0");
            out.push(kv(&format!("{prefix}_URL"), &url));
            if first_of_kind && prefix != "REDIS" {
                out.push(kv("REDIS_URL", &url));
            }
        }
        Some(ProbeKind::Neo4j) => {
            let auth = env
                .get("NEO4J_AUTH")
                .cloned()
                .unwrap_or_else(|| "neo4j/neo4j".into());
            let (user, pw) = auth.split_once('/').unwrap_or(("neo4j", ""));
            let user = probe
                .and_then(|p| p.user.clone())
                .unwrap_or_else(|| user.to_string());
            let pw = probe
                .and_then(|p| p.password.clone())
                .unwrap_or_else(|| pw.to_string());
            let uri = format!("bolt://{host}:{port}");
            out.extend([
                kv(&format!("{prefix}_URI"), &uri),
                kv(&format!("{prefix}_USER"), &user),
                kv(&format!("{prefix}_PASSWORD"), &pw),
            ]);
            if let Some(http) = svc.ports().iter().find(|p| p.container == 7474) {
                out.push(kv(
                    &format!("{prefix}_HTTP_URL"),
                    &format!("http://{host}:{}", http.host),
                ));
            }
            if first_of_kind && prefix != "NEO4J" {
                out.push(kv("NEO4J_URI", &uri));
            }
        }
        Some(ProbeKind::Chroma) | Some(ProbeKind::Http) => {
            out.push(kv(
                &format!("{prefix}_URL"),
                &format!("http://{host}:{port}"),
            ));
        }
        Some(ProbeKind::Tcp) | None => {}
    }
    out
}

fn kv(key: &str, value: &str) -> Kv {
    Kv {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// Percent-encode a URL user-info part.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_normalised_like_compose() {
        let p = Profile::default();
        assert_eq!(project_name(&p, Path::new("/x/My Project")), "myproject");
        assert_eq!(project_name(&p, Path::new("/x/_tmp.Ab")), "tmpab");
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
    fn passwords_are_encoded_in_urls() {
        assert_eq!(enc("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
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
