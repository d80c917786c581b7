//! The service spec as Compose v2 marshals its `ServiceConfig` for the config hash
//! (compose `pkg/compose/hash.go`; compose-go `types.ServiceConfig`, as Debian 13's Compose
//! 2.26 is built): JSON members in the struct's field order, `omitempty` honoured, build,
//! pull policy, scale and replicas left out.

use super::{Dependency, Health, Mount, MountKind, NetworkAttach, Port, Resources, ServiceSpec};
use crate::naming::{GoJson, go_duration, go_float32};

type Members = Vec<(String, GoJson)>;

fn put(m: &mut Members, key: &str, v: GoJson) {
    m.push((key.to_string(), v));
}

fn put_opt_str(m: &mut Members, key: &str, v: &Option<String>) {
    if let Some(s) = v.as_deref().filter(|s| !s.is_empty()) {
        put(m, key, GoJson::str(s));
    }
}

fn put_true(m: &mut Members, key: &str, v: bool) {
    if v {
        put(m, key, GoJson::Bool(true));
    }
}

/// A Go `ShellCommand`: `null` when unset (the field has no `omitempty`).
fn command(c: &Option<Vec<String>>) -> GoJson {
    c.as_ref().map_or(GoJson::Null, |c| GoJson::strs(c))
}

/// `types.UnitBytes` marshals as a quoted decimal.
fn bytes(n: i64) -> GoJson {
    GoJson::Str(n.to_string())
}

/// The service as compose-go marshals it, in `ServiceConfig` field order.
pub fn service_json(s: &ServiceSpec) -> GoJson {
    let mut m = Members::new();
    if !s.cap_add.is_empty() {
        put(&mut m, "cap_add", GoJson::strs(&s.cap_add));
    }
    if !s.cap_drop.is_empty() {
        put(&mut m, "cap_drop", GoJson::strs(&s.cap_drop));
    }
    put(&mut m, "command", command(&s.command));
    put_opt_str(&mut m, "container_name", &s.container_name);
    if !s.depends_on.is_empty() {
        let deps = s
            .depends_on
            .iter()
            .map(|(n, d)| (n.clone(), dependency(d)))
            .collect();
        put(&mut m, "depends_on", GoJson::Obj(deps));
    }
    if !s.limits.is_empty() || !s.reservations.is_empty() {
        put(&mut m, "deploy", deploy(&s.limits, &s.reservations));
    }
    put(&mut m, "entrypoint", command(&s.entrypoint));
    if !s.env.is_empty() || !s.env_unset.is_empty() {
        put(&mut m, "environment", environment(s));
    }
    if !s.expose.is_empty() {
        put(&mut m, "expose", GoJson::strs(&s.expose));
    }
    if !s.extra_hosts.is_empty() {
        let mut hosts = s.extra_hosts.clone();
        hosts.sort();
        put(&mut m, "extra_hosts", GoJson::strs(&hosts));
    }
    if let Some(h) = &s.healthcheck {
        put(&mut m, "healthcheck", health(h));
    }
    if s.image_explicit {
        put(&mut m, "image", GoJson::str(&s.image));
    }
    if let Some(i) = s.init {
        put(&mut m, "init", GoJson::Bool(i));
    }
    if !s.labels.is_empty() {
        put(&mut m, "labels", GoJson::map(&s.labels));
    }
    put_opt_str(&mut m, "network_mode", &s.network_mode);
    if s.network_mode.is_none() && !s.networks.is_empty() {
        let nets = s
            .networks
            .iter()
            .map(|(n, a)| (n.clone(), a.as_ref().map_or(GoJson::Null, network)))
            .collect();
        put(&mut m, "networks", GoJson::Obj(nets));
    }
    put_opt_str(&mut m, "platform", &s.platform);
    if !s.ports.is_empty() {
        put(
            &mut m,
            "ports",
            GoJson::Arr(s.ports.iter().map(port).collect()),
        );
    }
    put_true(&mut m, "privileged", s.privileged);
    put_opt_str(&mut m, "restart", &s.restart);
    if !s.security_opt.is_empty() {
        put(&mut m, "security_opt", GoJson::strs(&s.security_opt));
    }
    if let Some(n) = s.shm_size.filter(|n| *n != 0) {
        put(&mut m, "shm_size", bytes(n));
    }
    put_true(&mut m, "stdin_open", s.stdin_open);
    if !s.tmpfs.is_empty() {
        put(&mut m, "tmpfs", GoJson::strs(&s.tmpfs));
    }
    put_true(&mut m, "tty", s.tty);
    if !s.ulimits.is_empty() {
        let u = s
            .ulimits
            .iter()
            .map(|(n, u)| (n.clone(), ulimit(*u)))
            .collect();
        put(&mut m, "ulimits", GoJson::Obj(u));
    }
    put_opt_str(&mut m, "user", &s.user);
    put_opt_str(&mut m, "userns_mode", &s.userns_mode);
    if !s.volumes.is_empty() {
        put(
            &mut m,
            "volumes",
            GoJson::Arr(s.volumes.iter().map(volume).collect()),
        );
    }
    put_opt_str(&mut m, "working_dir", &s.working_dir);
    GoJson::Obj(m)
}

/// `environment`: the values, and `null` for a name nothing sets; sorted by name.
fn environment(s: &ServiceSpec) -> GoJson {
    let mut all: Vec<(String, GoJson)> = s
        .env
        .iter()
        .map(|(k, v)| (k.clone(), GoJson::str(v)))
        .chain(s.env_unset.iter().map(|k| (k.clone(), GoJson::Null)))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.dedup_by(|a, b| a.0 == b.0);
    GoJson::Obj(all)
}

fn dependency(d: &Dependency) -> GoJson {
    let mut m = Members::new();
    if !d.condition.is_empty() {
        put(&mut m, "condition", GoJson::str(&d.condition));
    }
    put_true(&mut m, "restart", d.restart);
    put(&mut m, "required", GoJson::Bool(d.required));
    GoJson::Obj(m)
}

/// `DeployConfig`: its `resources` and `placement` are structs, never left out.
fn deploy(limits: &Resources, reservations: &Resources) -> GoJson {
    let mut res = Members::new();
    if !limits.is_empty() {
        put(&mut res, "limits", resource(limits));
    }
    if !reservations.is_empty() {
        put(&mut res, "reservations", resource(reservations));
    }
    GoJson::Obj(vec![
        ("resources".into(), GoJson::Obj(res)),
        ("placement".into(), GoJson::Obj(Vec::new())),
    ])
}

fn resource(r: &Resources) -> GoJson {
    let mut m = Members::new();
    if let Some(c) = r.cpus.map(|c| c as f32).filter(|c| *c != 0.0) {
        put(&mut m, "cpus", GoJson::Num(go_float32(c)));
    }
    if let Some(n) = r.memory.filter(|n| *n != 0) {
        put(&mut m, "memory", bytes(n));
    }
    if let Some(n) = r.pids.filter(|n| *n != 0) {
        put(&mut m, "pids", GoJson::int(n));
    }
    GoJson::Obj(m)
}

fn health(h: &Health) -> GoJson {
    let mut m = Members::new();
    if !h.test.is_empty() {
        put(&mut m, "test", GoJson::strs(&h.test));
    }
    let dur = |m: &mut Members, key: &str, v: Option<i64>| {
        if let Some(n) = v {
            put(m, key, GoJson::Str(go_duration(n)));
        }
    };
    dur(&mut m, "timeout", h.timeout);
    dur(&mut m, "interval", h.interval);
    if let Some(r) = h.retries {
        put(&mut m, "retries", GoJson::int(r));
    }
    dur(&mut m, "start_period", h.start_period);
    dur(&mut m, "start_interval", h.start_interval);
    GoJson::Obj(m)
}

fn network(a: &NetworkAttach) -> GoJson {
    let mut m = Members::new();
    if let Some(p) = a.priority.filter(|p| *p != 0) {
        put(&mut m, "priority", GoJson::int(p));
    }
    if !a.aliases.is_empty() {
        put(&mut m, "aliases", GoJson::strs(&a.aliases));
    }
    put_opt_str(&mut m, "ipv4_address", &a.ipv4_address);
    put_opt_str(&mut m, "ipv6_address", &a.ipv6_address);
    GoJson::Obj(m)
}

fn port(p: &Port) -> GoJson {
    let mut m = Members::new();
    put(&mut m, "mode", GoJson::str("ingress"));
    put_opt_str(&mut m, "host_ip", &p.host_ip);
    put(&mut m, "target", GoJson::int(p.container));
    // An ephemeral host port (0) has no `published`.
    if p.host != 0 {
        put(&mut m, "published", GoJson::Str(p.host.to_string()));
    }
    put(&mut m, "protocol", GoJson::str(&p.protocol));
    GoJson::Obj(m)
}

fn ulimit(u: super::Ulimit) -> GoJson {
    match u {
        super::Ulimit::Single(n) => GoJson::int(n),
        super::Ulimit::Pair { soft, hard } => {
            let mut m = Members::new();
            if soft != 0 {
                put(&mut m, "soft", GoJson::int(soft));
            }
            if hard != 0 {
                put(&mut m, "hard", GoJson::int(hard));
            }
            GoJson::Obj(m)
        }
    }
}

/// `ServiceVolumeConfig` as the short syntax leaves it (binds get `create_host_path`, volumes
/// an empty `volume` unless the spec had two characters or fewer), or the long syntax (only
/// the options written).
fn volume(v: &Mount) -> GoJson {
    let mut m = Members::new();
    let kind = match &v.kind {
        MountKind::Bind { .. } => "bind",
        MountKind::Volume { .. } | MountKind::Anonymous => "volume",
        MountKind::Tmpfs { .. } => "tmpfs",
    };
    put(&mut m, "type", GoJson::str(kind));
    match &v.kind {
        MountKind::Volume { name, .. } => put(&mut m, "source", GoJson::str(name)),
        MountKind::Bind { source } => put(&mut m, "source", GoJson::str(source)),
        _ => {}
    }
    put(&mut m, "target", GoJson::str(&v.target));
    put_true(&mut m, "read_only", v.read_only);
    match &v.kind {
        MountKind::Bind { .. } => {
            let mut b = Members::new();
            put_opt_str(&mut b, "selinux", &v.selinux);
            put_opt_str(&mut b, "propagation", &v.propagation);
            put_true(&mut b, "create_host_path", v.create_host_path);
            // The long syntax has a `bind` only when one of its options is written.
            if v.short.is_some() || !b.is_empty() {
                put(&mut m, "bind", GoJson::Obj(b));
            }
        }
        MountKind::Volume { .. } | MountKind::Anonymous => {
            let short_anonymous = v.short.as_ref().is_some_and(|s| s.len() <= 2);
            let long_bare = v.short.is_none() && !v.nocopy;
            if !short_anonymous && !long_bare {
                let mut b = Members::new();
                put_true(&mut b, "nocopy", v.nocopy);
                put(&mut m, "volume", GoJson::Obj(b));
            }
        }
        MountKind::Tmpfs { size, mode } => {
            let mut t = Members::new();
            if let Some(s) = size.filter(|s| *s != 0) {
                put(&mut t, "size", bytes(s));
            }
            if let Some(md) = mode.filter(|m| *m != 0) {
                put(&mut t, "mode", GoJson::int(md));
            }
            if !t.is_empty() {
                put(&mut m, "tmpfs", GoJson::Obj(t));
            }
        }
    }
    GoJson::Obj(m)
}

// The hash is recorded from Compose v2 on Linux: on Windows the bind source is a Windows path,
// so the hash Compose computes there differs.
#[cfg(all(test, unix))]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::profile::Service;
    use crate::spec::Source;

    /// `docker compose -p horme config --hash '*'` (Compose 2.26.1, Debian 13) of the file in
    /// this test, recorded: the same service as a profile gives the same hash.
    #[test]
    fn the_hash_is_the_one_compose_v2_computes() {
        let svc: Service = toml::from_str(
            r#"image = "postgres:15.13-alpine"
command = ["postgres", "-c", "a=<b>&"]
entrypoint = ["/bin/sh", "-c"]
env = { POSTGRES_DB = "horme_test_db", POSTGRES_PASSWORD = "test_password" }
ports = ["127.0.0.1:5432:5432", "8080:80/udp"]
volumes = ["postgres_test_data:/var/lib/postgresql/data", "./conf:/etc/conf:ro,z", "/abs:/abs"]
user = "1000:1000"
working_dir = "/w"
shm_size = "256m"
tmpfs = ["/run:size=64m", "/tmp"]
ulimits = { nofile = { soft = 1024, hard = 4096 }, nproc = 512 }
restart = "on-failure:3"
resources = { memory = "2g", cpus = 1.5 }
depends_on = { redis = { condition = "service_healthy" } }
healthcheck = { test = ["CMD", "pg_isready", "-U", "test_user"], interval = "5s", timeout = "5s", retries = 18, start_period = "1m" }
labels = { "dev.onramp.profile" = "kailash" }
"#,
        )
        .unwrap();
        let src = Source::ComposeFile {
            dir: "/work/scratch/spec/t1".into(),
        };
        let s = ServiceSpec::from_source("horme", Path::new("/x"), &src, "postgres", &svc).unwrap();
        assert_eq!(
            s.config_hash(),
            "bd04dc03543e1c0234a870d855e9284aff127a87b9feb10157c8d02d2959aa89",
            "{}",
            service_json(&s).encode()
        );
        let redis: Service = toml::from_str("image = \"redis:7\"").unwrap();
        let r = ServiceSpec::from_source("horme", Path::new("/x"), &src, "redis", &redis).unwrap();
        assert_eq!(
            r.config_hash(),
            "c4c5d49051453ad0fbbe92e4bb0bc1e2f7ea4dd7a7111c4f1430b04610ce6c39"
        );
    }

    /// `docker compose -p horme config --hash '*'` (Compose 2.26.1) of a service with
    /// `expose`, short-syntax options (`z,ro`, `nocopy`) and long-syntax mounts (tmpfs with
    /// and without a size, a bind with and without options, a volume with `nocopy`), as the
    /// Compose reader hands them on, recorded.
    #[test]
    fn expose_and_both_volume_syntaxes_hash_as_compose_v2s() {
        let svc: Service = toml::from_str(
            r#"image = "x:1"
expose = ["6379", "8000-8001/udp"]
volumes = [
  "./conf:/etc/conf:z,ro",
  "data:/data:nocopy",
  "type=tmpfs,target=/scratch,tmpfs-size=1000000",
  "type=tmpfs,target=/tmp",
  "type=bind,source=./src,target=/src",
  "type=bind,source=/abs,target=/abs,readonly,bind-selinux=Z,bind-create-host-path",
  "type=volume,source=cache,target=/cache,volume-nocopy",
]
"#,
        )
        .unwrap();
        let src = Source::ComposeFile {
            dir: "/work/scratch/chash/t2".into(),
        };
        let s = ServiceSpec::from_source("horme", Path::new("/x"), &src, "app", &svc).unwrap();
        assert_eq!(
            s.config_hash(),
            "a8f3863e53ce7d69ffee24ce08a844179a6d7f3a6a1a6b6ca57aed58a262af17",
            "{}",
            service_json(&s).encode()
        );
    }

    /// `docker compose -p horme config --hash '*'` (Compose 2.26.1) of a service with
    /// capabilities, security options, `userns_mode`, `privileged`, `init` and ephemeral and
    /// udp ports, recorded.
    #[test]
    fn privileges_and_ephemeral_ports_hash_as_compose_v2s() {
        let svc: Service = toml::from_str(
            r#"image = "x:1"
cap_add = ["SYS_PTRACE", "NET_ADMIN"]
cap_drop = ["ALL"]
security_opt = ["seccomp:unconfined", "no-new-privileges:true"]
userns_mode = "host"
privileged = true
init = true
ports = ["5432", "127.0.0.1::6379", "8080:80/udp"]
"#,
        )
        .unwrap();
        let src = Source::ComposeFile {
            dir: "/work/scratch/chash/t3".into(),
        };
        let s = ServiceSpec::from_source("horme", Path::new("/x"), &src, "app", &svc).unwrap();
        assert_eq!(
            s.config_hash(),
            "d356936f99a756a847d4f845665cd1ecd1de7eb014e962e5a82a2c82ca27e541",
            "{}",
            service_json(&s).encode()
        );
    }
}
