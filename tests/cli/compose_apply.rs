//! What `up` applies from a team's Compose file, checked on the real engine: capabilities,
//! security options, init, UDP ports and host ports the engine picks (reported by `up` and
//! `status`, written to `.env`), and one-shot init services run to completion with their exit
//! code checked. Host ports of this module: 33600-33699.

use std::path::Path;

use crate::common::{docker, image, json, onramp, run, skip_or_fail, write};

fn ready() -> bool {
    if docker(&["info"]).is_none() {
        skip_or_fail("no Docker engine (scripts/provision.sh starts one)");
        return false;
    }
    if docker(&["image", "inspect", &image("redis:7")]).is_none() {
        skip_or_fail("no test images (scripts/images.sh builds them)");
        return false;
    }
    true
}

/// A project folder with one Compose file, taken down (volumes too) when dropped.
struct Stack {
    dir: tempfile::TempDir,
    name: String,
}

impl Stack {
    fn new(tag: &str, services: &str) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("capply{tag}{}", std::process::id());
        write(
            dir.path(),
            "compose.yml",
            &format!("name: {name}\nservices:\n{services}"),
        );
        Stack { dir, name }
    }

    fn onramp(&self, args: &[&str]) -> crate::common::Run {
        run(onramp(self.dir.path())
            .args(args)
            .args(["--compose", "compose.yml"]))
    }

    fn container(&self, service: &str) -> String {
        format!("{}-{service}-1", self.name)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.onramp(&["down", "--volumes", "--yes"]);
        let _ = docker(&["rmi", &format!("{}-app", self.name)]);
    }
}

fn inspect(container: &str, format: &str) -> String {
    docker(&["inspect", container, "--format", format])
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn service<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

#[test]
fn capabilities_security_options_udp_and_picked_ports_reach_the_container() {
    if !ready() {
        return;
    }
    let s = Stack::new(
        "opts",
        &format!(
            "  cache:\n    image: {}\n    cap_add: [NET_ADMIN]\n    cap_drop: [MKNOD]\n    security_opt:\n      - no-new-privileges:true\n    init: true\n    ports:\n      - \"127.0.0.1::6379\"\n      - \"127.0.0.1:33601:9999/udp\"\n",
            image("redis:7")
        ),
    );
    let up = s.onramp(&["up", "--json"]);
    let c = s.container("cache");
    let caps = inspect(&c, "{{.HostConfig.CapAdd}} {{.HostConfig.CapDrop}}");
    let sec = inspect(&c, "{{.HostConfig.SecurityOpt}} {{.HostConfig.Init}}");
    let bound = inspect(
        &c,
        "{{(index (index .NetworkSettings.Ports \"6379/tcp\") 0).HostPort}}",
    );
    let udp = inspect(
        &c,
        "{{(index (index .NetworkSettings.Ports \"9999/udp\") 0).HostPort}}",
    );
    let status = s.onramp(&["status", "--json"]);
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    let cache = service(&json(&up), "cache").clone();
    assert_eq!(
        cache["state"], "ready",
        "probed on the port the engine picked: {cache}"
    );
    assert_eq!(caps, "[NET_ADMIN] [MKNOD]");
    assert_eq!(sec, "[no-new-privileges:true] true");
    assert_eq!(udp, "33601");
    let picked: u16 = bound
        .parse()
        .unwrap_or_else(|_| panic!("no binding: {bound:?}"));
    assert_ne!(picked, 0);
    assert!(
        cache["host_ports"]
            .as_array()
            .unwrap()
            .contains(&picked.into()),
        "up reports {picked}: {cache}"
    );
    assert_eq!(status.code, 0, "{}", status.stderr);
    let st = service(&json(&status), "cache").clone();
    assert_eq!(st["state"], "ready", "{st}");
    assert!(
        st["host_ports"]
            .as_array()
            .unwrap()
            .contains(&picked.into()),
        "status reports {picked}: {st}"
    );
}

#[test]
fn a_picked_port_is_written_to_the_env_file_onramp_wrote() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let name = format!("capplyenv{}", std::process::id());
    write(
        dir.path(),
        "onramp.toml",
        &format!(
            "extends = \"kailash\"\nproject = \"{name}\"\n[services.redis]\nimage = \"{}\"\nports = [\"127.0.0.1::6379\"]\n[services.postgres]\nenabled = false\n[services.chroma]\nenabled = false\n[services.neo4j]\nenabled = false\n",
            image("redis:7")
        ),
    );
    let onramp_in = |args: &[&str]| run(onramp(dir.path()).args(args));
    let generated = onramp_in(&["generate"]);
    let up = onramp_in(&["up", "redis"]);
    let c = format!("{name}-redis-1");
    let bound = inspect(
        &c,
        "{{(index (index .NetworkSettings.Ports \"6379/tcp\") 0).HostPort}}",
    );
    let env = std::fs::read_to_string(dir.path().join(".env")).unwrap_or_default();
    let compose =
        std::fs::read_to_string(dir.path().join("docker-compose.test.yml")).unwrap_or_default();
    let down = onramp_in(&["down", "--volumes", "--yes"]);
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    assert!(!bound.is_empty(), "no binding");
    assert!(
        env.contains(&format!("REDIS_PORT={bound}")) && env.contains(&format!("127.0.0.1:{bound}")),
        "{env}"
    );
    assert!(
        compose.contains("\"127.0.0.1::6379\"") || compose.contains("127.0.0.1::6379"),
        "the compose file keeps the port unpicked: {compose}"
    );
    assert_eq!(down.code, 0, "{}", down.stderr);
}

#[test]
fn init_services_run_to_completion_and_a_failing_one_stops_up_with_its_code_and_log() {
    if !ready() {
        return;
    }
    let services = |code: u8| {
        format!(
            "  seed:\n    image: {redis}\n    entrypoint: [\"sh\", \"-c\", \"echo seeding step {code}; exit {code}\"]\n  app:\n    image: {redis}\n    depends_on:\n      seed:\n        condition: service_completed_successfully\n",
            redis = image("redis:7")
        )
    };
    let s = Stack::new("init", &services(0));
    let up = s.onramp(&["up", "--json"]);
    let seed_state = inspect(
        &s.container("seed"),
        "{{.State.Status}} {{.State.ExitCode}}",
    );
    let app_state = inspect(&s.container("app"), "{{.State.Status}}");
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    let doc = json(&up);
    assert_eq!(service(&doc, "seed")["state"], "ready", "{doc}");
    assert_eq!(service(&doc, "app")["state"], "ready", "{doc}");
    assert_eq!(seed_state, "exited 0");
    assert_eq!(app_state, "running");

    let _ = s.onramp(&["down", "--yes"]);
    write(
        s.dir.path(),
        "compose.yml",
        &format!("name: {}\nservices:\n{}", s.name, services(3)),
    );
    let failed = s.onramp(&["up"]);
    let app = docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("name={}", s.container("app")),
    ]);
    assert_ne!(failed.code, 0, "{}", failed.stdout);
    let all = format!("{}\n{}", failed.stdout, failed.stderr);
    assert!(all.contains("exited with code 3"), "{all}");
    assert!(
        all.contains("seeding step 3"),
        "the log tail is shown: {all}"
    );
    assert!(all.contains("seed"), "{all}");
    assert_eq!(
        app.unwrap_or_default().trim(),
        "",
        "the dependant is never created"
    );
    assert!(Path::new(&s.dir.path().join("compose.yml")).exists());
}

/// `build` with `dockerfile`, `target` and `args`; a volume's `driver_opts`; `network_mode:
/// service:NAME` naming a service with a `container_name`; and a dependant with `restart:
/// true` restarted when its dependency is recreated.
#[test]
fn build_target_driver_opts_network_mode_by_container_name_and_restart_true() {
    if !ready() {
        return;
    }
    let redis = image("redis:7");
    let services = |mark: &str| {
        format!(
            "  app:\n    container_name: capply-app-{pid}\n    build:\n      context: ./app\n      dockerfile: Dockerfile.dev\n      target: dev\n      args: {{MARK: from-args}}\n    volumes: [scratch:/scratch]\n  \
               side:\n    image: {redis}\n    network_mode: service:app\n  \
               db:\n    image: {redis}\n    environment: {{MARK: {mark}}}\n  \
               watcher:\n    image: {redis}\n    depends_on:\n      db:\n        condition: service_started\n        restart: true\n\
             volumes:\n  scratch:\n    driver_opts: {{type: tmpfs, device: tmpfs, o: \"size=1m\"}}\n",
            pid = std::process::id()
        )
    };
    let s = Stack::new("build", &services("a"));
    write(
        s.dir.path(),
        "app/Dockerfile.dev",
        &format!(
            "FROM {redis} AS base\nARG MARK\nRUN echo \"$MARK\" > /mark\nFROM base AS dev\nRUN echo dev >> /mark\nFROM base AS prod\nRUN echo prod >> /mark\n"
        ),
    );
    let up = s.onramp(&["up", "--json"]);
    let app = format!("capply-app-{}", std::process::id());
    let mark = docker(&["exec", &app, "cat", "/mark"]).unwrap_or_default();
    let opts = docker(&[
        "volume",
        "inspect",
        &format!("{}_scratch", s.name),
        "--format",
        "{{.Options.o}}",
    ])
    .unwrap_or_default();
    let mode = inspect(&s.container("side"), "{{.HostConfig.NetworkMode}}");
    let app_id = inspect(&app, "{{.Id}}");
    let started = inspect(&s.container("watcher"), "{{.State.StartedAt}}");
    write(
        s.dir.path(),
        "compose.yml",
        &format!("name: {}\nservices:\n{}", s.name, services("b")),
    );
    let again = s.onramp(&["up", "--json"]);
    let restarted = inspect(&s.container("watcher"), "{{.State.StartedAt}}");
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    assert_eq!(mark.trim(), "from-args\ndev", "args and target applied");
    assert_eq!(opts.trim(), "size=1m");
    assert!(
        mode == format!("container:{app}") || mode == format!("container:{app_id}"),
        "{mode}: shares {app}'s network"
    );
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let doc = json(&again);
    assert_eq!(service(&doc, "db")["action"], "recreated", "{doc}");
    assert_eq!(service(&doc, "watcher")["action"], "restarted", "{doc}");
    assert_eq!(service(&doc, "app")["action"], "unchanged", "{doc}");
    assert_ne!(started, restarted, "the watcher really restarted");
}

/// Corpus files' database services brought up unchanged, the test images standing in for
/// their public images under those names (tagged for the test, untagged after): each service
/// must answer its own protocol.
fn corpus_services_answer(dir: &str, file: &str, services: &[&str], stand_ins: &[(&str, &str)]) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compose-corpus")
        .join(dir);
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join(dir);
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::create_dir_all(&project).unwrap();
            std::fs::copy(entry.path(), project.join(entry.file_name())).unwrap();
        }
    }
    let mut tagged = Vec::new();
    for (theirs, ours) in stand_ins {
        if docker(&["image", "inspect", theirs]).is_none() {
            docker(&["tag", &image(ours), theirs]).expect("tag the stand-in image");
            tagged.push(theirs.to_string());
        }
    }
    let onramp_in = |args: &[&str]| {
        run(onramp(&project)
            .args(args)
            .args(["--compose", file])
            .env_remove("COMPOSE_PROFILES")
            .env_remove("COMPOSE_PROJECT_NAME"))
    };
    let mut args = vec!["up", "--json"];
    args.extend(services);
    let up = onramp_in(&args);
    let down = onramp_in(&["down", "--volumes", "--yes"]);
    for t in &tagged {
        let _ = docker(&["rmi", t]);
    }
    assert_eq!(up.code, 0, "{dir}: {}\n{}", up.stdout, up.stderr);
    let doc = json(&up);
    for name in services {
        let s = service(&doc, name);
        assert_eq!(s["state"], "ready", "{dir}: {s}");
        assert!(
            s["ready_ms"].is_u64(),
            "{dir}: probed, not only started: {s}"
        );
    }
    assert_eq!(down.code, 0, "{dir}: {}", down.stderr);
}

#[test]
fn corpus_database_services_come_up_and_answer() {
    if !ready() {
        return;
    }
    corpus_services_answer(
        "dd-trace-py",
        "docker-compose.yml",
        &["postgres", "redis"],
        &[
            ("postgres:12-alpine", "postgres:15"),
            ("redis:4.0-alpine", "redis:7"),
        ],
    );
    corpus_services_answer(
        "saleor-platform",
        "docker-compose.yml",
        &["db", "cache"],
        &[
            ("library/postgres:15-alpine", "postgres:15"),
            ("valkey/valkey:8.1-alpine", "redis:7"),
        ],
    );
}
