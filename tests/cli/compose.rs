//! Compose parity both ways, against the real engine and Debian's docker-compose 1.29: a
//! team's own Compose file (tests/fixtures/compose) brought up by `onramp up --compose`, seen
//! and removed by `docker-compose`; and containers `docker-compose up -d` made, adopted by
//! `onramp up`, reported by `status` and removed by `down`, never duplicated.

use std::path::Path;
use std::process::Command;

use crate::common::{docker, json, onramp, registry, run, skip_or_fail};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/compose");

/// Host ports of one test (this module's range is 33000-33499).
struct Ports {
    pg: u16,
    redis: u16,
    app: u16,
}

fn ready() -> bool {
    if docker(&["info"]).is_none() {
        skip_or_fail("no Docker engine (scripts/provision.sh starts one)");
        return false;
    }
    let base = format!("{}/onramp-test/postgres:15", registry());
    if docker(&["image", "inspect", &base]).is_none() {
        skip_or_fail("no test images (scripts/images.sh builds them)");
        return false;
    }
    if Command::new("docker-compose")
        .arg("version")
        .output()
        .is_err()
    {
        skip_or_fail("no docker-compose (scripts/provision.sh installs it)");
        return false;
    }
    true
}

/// A copy of the fixture project whose containers, network, volumes and built images are
/// removed when dropped, whoever made them.
struct Project {
    dir: tempfile::TempDir,
    name: String,
    ports: Ports,
}

impl Project {
    fn new(tag: &str, ports: Ports) -> Project {
        let dir = tempfile::tempdir().unwrap();
        for rel in ["docker-compose.yml", "app/Dockerfile"] {
            let to = dir.path().join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(Path::new(FIXTURE).join(rel), to).unwrap();
        }
        let name = format!("compose{tag}{}", std::process::id());
        Project { dir, name, ports }
    }

    /// The variables the Compose file interpolates, the same for both tools.
    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("COMPOSE_PROJECT_NAME", self.name.clone()),
            ("REGISTRY", registry()),
            ("PG_PORT", self.ports.pg.to_string()),
            ("REDIS_PORT", self.ports.redis.to_string()),
            ("APP_PORT", self.ports.app.to_string()),
        ]
    }

    fn onramp(&self, args: &[&str]) -> crate::common::Run {
        let mut cmd = onramp(self.dir.path());
        cmd.args(args)
            .envs(self.vars())
            .env_remove("COMPOSE_PROFILES");
        run(&mut cmd)
    }

    fn compose(&self, args: &[&str]) -> crate::common::Run {
        let mut cmd = Command::new("docker-compose");
        cmd.current_dir(self.dir.path())
            .args(["-f", "docker-compose.yml", "-p", &self.name])
            .args(args)
            .envs(self.vars());
        run(&mut cmd)
    }

    /// `name status` of the project's containers, sorted.
    fn containers(&self) -> Vec<String> {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let out = docker(&[
            "ps",
            "-a",
            "--filter",
            &filter,
            "--format",
            "{{.Names}} {{.State}}",
        ]);
        let mut v: Vec<String> = out.unwrap_or_default().lines().map(String::from).collect();
        v.sort();
        v
    }

    fn networks(&self) -> String {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        docker(&["network", "ls", "-q", "--filter", &filter]).unwrap_or_default()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--remove-orphans"]);
        let _ = self.onramp(&["down", "--volumes", "--compose", "docker-compose.yml"]);
        for image in [format!("{}-app", self.name), format!("{}_app", self.name)] {
            let _ = docker(&["rmi", &image]);
        }
    }
}

fn service<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

fn inspect(container: &str, format: &str) -> String {
    docker(&["inspect", container, "--format", format])
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn onramp_up_from_a_compose_file_then_docker_compose_lists_and_removes_it() {
    if !ready() {
        return;
    }
    let p = Project::new(
        "fwd",
        Ports {
            pg: 33432,
            redis: 33379,
            app: 33080,
        },
    );
    let up = [
        "up",
        "--json",
        "--compose",
        "docker-compose.yml",
        "postgres",
        "redis",
        "app",
    ];
    let r = p.onramp(&up);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    for s in ["postgres", "redis", "app"] {
        assert_eq!(service(&doc, s)["state"], "ready", "{doc}");
        assert_eq!(service(&doc, s)["action"], "created", "{doc}");
    }
    let started: Vec<&str> = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        !started.contains(&"worker") && !started.contains(&"debug"),
        "{started:?}"
    );
    assert!(
        r.stderr.contains("debug"),
        "inactive Compose profile named: {}",
        r.stderr
    );
    let n = &p.name;
    let expected = |state: &str| {
        ["app", "postgres", "redis"]
            .map(|s| format!("{n}-{s}-1 {state}"))
            .to_vec()
    };
    assert_eq!(p.containers(), expected("running"));

    // The Compose keys reached the containers.
    let app = format!("{n}-app-1");
    assert_eq!(inspect(&app, "{{.HostConfig.Memory}}"), "268435456");
    assert_eq!(inspect(&app, "{{.HostConfig.NanoCpus}}"), "500000000");
    assert_eq!(
        inspect(&app, "{{index .Config.Labels \"com.example.team\"}}"),
        "data"
    );
    assert_eq!(inspect(&app, "{{.Config.Image}}"), format!("{n}-app"));
    let pg = format!("{n}-postgres-1");
    assert!(inspect(&pg, "{{json .Config.Env}}").contains("POSTGRES_INITDB_ARGS=--encoding=UTF8"));
    assert_eq!(inspect(&pg, "{{.HostConfig.ShmSize}}"), "134217728");
    assert_eq!(
        inspect(&pg, "{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    let redis = format!("{n}-redis-1");
    assert!(inspect(&redis, "{{json .Config.Cmd}}").contains("--requirepass"));
    assert!(inspect(&redis, "{{json .HostConfig.Tmpfs}}").contains("/data"));
    // service_healthy: the app started only after postgres answered its probe.
    let started_at = |c: &str| inspect(c, "{{.State.StartedAt}}");
    let pg_ready_ms = service(&doc, "postgres")["ready_ms"].as_u64().unwrap();
    assert!(started_at(&app) > started_at(&pg), "app after postgres");
    assert!(pg_ready_ms > 0);

    // docker-compose sees the same containers, converges on them without crashing on labels
    // and without duplicates, and removes them.
    let ps = p.compose(&["ps"]);
    assert_eq!(ps.code, 0, "{}\n{}", ps.stdout, ps.stderr);
    for s in ["postgres", "redis", "app"] {
        assert!(ps.stdout.contains(&format!("{n}-{s}-1")), "{}", ps.stdout);
    }
    let again = p.compose(&["up", "-d", "--no-recreate", "postgres", "redis", "app"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(!again.stderr.contains("Traceback"), "{}", again.stderr);
    assert_eq!(p.containers(), expected("running"), "no duplicates");
    let down = p.compose(&["down"]);
    assert_eq!(down.code, 0, "{}\n{}", down.stdout, down.stderr);
    assert!(p.containers().is_empty(), "{:?}", p.containers());
    assert!(p.networks().is_empty(), "network left: {}", p.networks());
}

#[test]
fn containers_docker_compose_made_are_adopted_reported_and_removed_by_onramp() {
    if !ready() {
        return;
    }
    let p = Project::new(
        "rev",
        Ports {
            pg: 33442,
            redis: 33389,
            app: 33090,
        },
    );
    let r = p.compose(&["up", "-d", "postgres", "redis", "app"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let n = &p.name;
    let v1 = ["app", "postgres", "redis"]
        .map(|s| format!("{n}_{s}_1 running"))
        .to_vec();
    assert_eq!(p.containers(), v1);

    // Another configuration (here another password): refused with the exact command, and
    // nothing created.
    let mut cmd = onramp(p.dir.path());
    cmd.args(["up", "--compose", "docker-compose.yml", "redis"])
        .envs(p.vars())
        .env("REDIS_PASSWORD", "another");
    let refused = run(&mut cmd);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("docker-compose -p {n} down"))
            && refused
                .stderr
                .contains(&format!("docker rm -f {n}_redis_1")),
        "{}",
        refused.stderr
    );
    assert_eq!(p.containers(), v1, "nothing created");

    // The same configuration: adopted, not duplicated, and ready.
    let up = p.onramp(&[
        "up",
        "--json",
        "--compose",
        "docker-compose.yml",
        "postgres",
        "redis",
        "app",
    ]);
    assert_eq!(up.code, 0, "stdout:\n{}\nstderr:\n{}", up.stdout, up.stderr);
    let doc = json(&up);
    for s in ["postgres", "redis", "app"] {
        assert_eq!(service(&doc, s)["state"], "ready", "{doc}");
        assert_eq!(service(&doc, s)["action"], "adopted", "{doc}");
    }
    assert_eq!(p.containers(), v1, "no duplicates");

    let st = p.onramp(&[
        "status",
        "--json",
        "--compose",
        "docker-compose.yml",
        "postgres",
        "redis",
        "app",
    ]);
    assert_eq!(st.code, 0, "{}\n{}", st.stdout, st.stderr);
    let doc = json(&st);
    for s in ["postgres", "redis", "app"] {
        assert_eq!(service(&doc, s)["state"], "ready", "{doc}");
    }

    let down = p.onramp(&["down", "--compose", "docker-compose.yml"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(p.containers().is_empty(), "{:?}", p.containers());
    assert!(p.networks().is_empty(), "network left: {}", p.networks());
}

#[test]
fn unknown_services_and_unsupported_keys_are_bad_input() {
    let p = Project::new(
        "bad",
        Ports {
            pg: 33452,
            redis: 33399,
            app: 33095,
        },
    );
    let r = p.onramp(&["up", "--compose", "docker-compose.yml", "nosuch"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("nosuch") && r.stderr.contains("app, postgres, redis, worker"),
        "{}",
        r.stderr
    );
    let file = p.dir.path().join("docker-compose.yml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("    shm_size: 128m", "    shm_size: 128m\n    pid: host"),
    )
    .unwrap();
    let r = p.onramp(&["status", "--compose", "docker-compose.yml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("docker-compose.yml:")
            && r.stderr.contains("`pid` of service `postgres`"),
        "{}",
        r.stderr
    );
    let shown = p.onramp(&["profiles", "--from-compose", "../nonexistent.yml"]);
    assert_eq!(shown.code, 2, "{}", shown.stderr);
}

#[test]
fn profiles_from_compose_prints_the_equivalent_profile_without_secrets() {
    let p = Project::new(
        "show",
        Ports {
            pg: 33462,
            redis: 33409,
            app: 33096,
        },
    );
    let r = p.onramp(&["profiles", "--from-compose", "docker-compose.yml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = r
        .stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let profile: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(
        !r.stdout.contains("app_password") && !r.stdout.contains("redis_password"),
        "{}",
        r.stdout
    );
    let services = profile["services"].as_table().unwrap();
    assert_eq!(
        services["postgres"]["probe"]["kind"].as_str(),
        Some("postgres")
    );
    assert_eq!(services["redis"]["probe"]["kind"].as_str(), Some("redis"));
    assert_eq!(services["app"]["build"]["context"].as_str(), Some("app"));
    assert_eq!(
        services["app"]["resources"]["memory"].as_str(),
        Some("256m")
    );
    assert_eq!(services["neo4j"]["enabled"].as_bool(), Some(false));
    assert!(!services.contains_key("debug"));
}

#[test]
fn compose_keys_of_a_profile_render_into_a_compose_file_that_docker_compose_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("app")).unwrap();
    std::fs::write(d.join("app/Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(
        d.join("onramp.toml"),
        r#"extends = "minimal"
project = "keys"

[services.app]
build = { context = "app", dockerfile = "Dockerfile", args = { BASE = "x" } }
ports = ["33097:8080"]
entrypoint = ["/bin/sh", "-c"]
command = ["exec server"]
user = "1000:1000"
working_dir = "/srv"
resources = { memory = "2g", cpus = 1.5 }
shm_size = "256m"
tmpfs = ["/run:size=64m"]
ulimits = { nofile = { soft = 1024, hard = 4096 }, nproc = 512 }
restart = "on-failure:3"
depends_on = { postgres = { condition = "service_healthy" }, redis = { condition = "service_started" } }
labels = { "com.example.team" = "data" }
healthcheck = { test = ["CMD", "true"], interval = "2s", timeout = "1s", retries = 4, start_period = "10s" }
"#,
    )
    .unwrap();
    let r = run(onramp(d).arg("generate").env("VIRTUAL_ENV", "/nonexistent"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let Ok(out) = Command::new("docker-compose")
        .args(["-f", "docker-compose.test.yml", "config"])
        .current_dir(d)
        .output()
    else {
        skip_or_fail("docker-compose (Debian package docker-compose) is not installed");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let app = &doc["services"]["app"];
    assert_eq!(app["image"].as_str(), Some("keys-app"));
    assert!(
        app["build"]["context"].as_str().unwrap().ends_with("/app"),
        "{text}"
    );
    assert_eq!(app["build"]["args"]["BASE"].as_str(), Some("x"));
    assert_eq!(app["user"].as_str(), Some("1000:1000"));
    assert_eq!(app["working_dir"].as_str(), Some("/srv"));
    assert_eq!(app["restart"].as_str(), Some("on-failure:3"));
    assert_eq!(app["ulimits"]["nofile"]["hard"].as_i64(), Some(4096));
    assert_eq!(app["ulimits"]["nproc"].as_i64(), Some(512), "one number");
    assert_eq!(
        app["deploy"]["resources"]["limits"]["memory"].as_str(),
        Some("2147483648")
    );
    assert_eq!(
        app["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    assert_eq!(app["healthcheck"]["start_period"].as_str(), Some("10s"));
    assert_eq!(app["labels"]["com.example.team"].as_str(), Some("data"));
    assert!(text.contains("/run:size=64m"), "{text}");
    assert!(text.contains("shm_size"), "{text}");
    assert_eq!(app["entrypoint"][0].as_str(), Some("/bin/sh"));
}

/// Removes a network the test made itself (an `external` one), whatever happens.
struct OwnNetwork(String);

impl Drop for OwnNetwork {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.0]);
    }
}

#[test]
fn named_and_external_networks_with_aliases_are_created_joined_and_removed() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let name = format!("nets{}", std::process::id());
    let external = OwnNetwork(format!("{name}-ext"));
    assert!(docker(&["network", "create", &external.0]).is_some());
    let redis = format!("{}/onramp-test/redis:7", registry());
    let file = format!(
        "name: {name}\n\
         services:\n  \
           cache:\n    image: {redis}\n    networks:\n      back:\n        aliases: [kv]\n      shared: {{}}\n  \
           client:\n    image: {redis}\n    networks: [back]\n  \
           solo:\n    image: {redis}\n    network_mode: none\n\
         networks:\n  back: {{}}\n  shared:\n    external: true\n    name: {ext}\n",
        ext = external.0
    );
    std::fs::write(dir.path().join("compose.yml"), file).unwrap();
    let onramp_in = |args: &[&str]| run(onramp(dir.path()).args(args));
    let up = onramp_in(&["up", "--compose", "compose.yml"]);
    let cleanup = || onramp_in(&["down", "--compose", "compose.yml"]);
    if up.code != 0 {
        cleanup();
        panic!("stdout:\n{}\nstderr:\n{}", up.stdout, up.stderr);
    }
    let client = format!("{name}-client-1");
    let pong = docker(&["exec", &client, "redis-cli", "-h", "kv", "ping"]);
    let nets = inspect(
        &format!("{name}-cache-1"),
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    let mode = inspect(&format!("{name}-solo-1"), "{{.HostConfig.NetworkMode}}");
    let label = docker(&[
        "network",
        "inspect",
        &format!("{name}_back"),
        "--format",
        "{{index .Labels \"com.docker.compose.network\"}}",
    ]);
    let down = cleanup();
    assert_eq!(
        pong.as_deref().map(str::trim),
        Some("PONG"),
        "the alias resolves"
    );
    assert_eq!(nets, format!("{} {name}_back", external.0));
    assert_eq!(mode, "none");
    assert_eq!(label.as_deref().map(str::trim), Some("back"));
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(
        docker(&["network", "inspect", &format!("{name}_back")]).is_none(),
        "down removes the network it made"
    );
    assert!(
        docker(&["network", "inspect", &external.0]).is_some(),
        "down never removes an external network"
    );
}
