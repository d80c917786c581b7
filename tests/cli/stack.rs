//! `up`, `status`, `down` against the real Docker engine, the local registry and the test
//! images built from Debian packages (`scripts/images.sh`). These run one at a time
//! (`.config/nextest.toml`): they share the engine and the test ports.

use std::path::Path;
use std::process::Command;

use crate::common::{docker, image, json, onramp, run, skip_or_fail, write};

const PG: u16 = 25432;
const REDIS: u16 = 26379;
const CHROMA: u16 = 28000;

/// The test profile: the kailash stack with images from the local registry, test ports, and no
/// Neo4j (no Debian package; the Bolt probe is tested against boltstub). `extra` holds
/// `(service, lines)` added inside that service's table, or `("", lines)` at the end.
fn test_profile(project: &str, extra: &[(&str, &str)]) -> String {
    let more = |svc: &str| {
        extra
            .iter()
            .filter(|(s, _)| *s == svc)
            .map(|(_, l)| format!("{l}\n"))
            .collect::<String>()
    };
    format!(
        r#"extends = "kailash"
project = "{project}"

[services.postgres]
image = "{pg}"
ports = ["{PG}:5432"]
timeout = "60s"
{pg_more}
[services.redis]
image = "{redis}"
ports = ["{REDIS}:6379"]
{redis_more}
[services.chroma]
image = "{chroma}"
ports = ["{CHROMA}:8000"]
{chroma_more}
[services.neo4j]
enabled = false
{tail}"#,
        pg = image("postgres:15"),
        redis = image("redis:7"),
        chroma = image("chroma:1.5.9"),
        pg_more = more("postgres"),
        redis_more = more("redis"),
        chroma_more = more("chroma"),
        tail = more(""),
    )
}

fn engine_ready() -> bool {
    if docker(&["info"]).is_none() {
        skip_or_fail("no Docker engine (scripts/provision.sh starts one)");
        return false;
    }
    if docker(&["image", "inspect", &image("postgres:15")]).is_none() {
        skip_or_fail("no test images (scripts/images.sh builds them)");
        return false;
    }
    true
}

/// Objects labelled for a project, in one line each.
fn leftovers(project: &str) -> String {
    let filter = format!("label=com.docker.compose.project={project}");
    let mut out = String::new();
    for args in [
        vec!["ps", "-a", "-q", "--filter", &filter],
        vec!["network", "ls", "-q", "--filter", &filter],
        vec!["volume", "ls", "-q", "--filter", &filter],
    ] {
        out.push_str(&docker(&args).unwrap_or_default());
    }
    out
}

/// A temporary project that removes everything of its own when dropped.
struct Project {
    dir: tempfile::TempDir,
    name: String,
}

impl Project {
    fn new(tag: &str, extra: &[(&str, &str)]) -> Project {
        let name = format!("onrampt{tag}{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "onramp.toml", &test_profile(&name, extra));
        Project { dir, name }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn onramp(&self, args: &[&str]) -> crate::common::Run {
        run(onramp(self.path())
            .args(args)
            .env("VIRTUAL_ENV", "/nonexistent"))
    }

    fn service(&self, json: &serde_json::Value, name: &str) -> serde_json::Value {
        json["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {json}"))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.onramp(&["down", "--volumes"]);
    }
}

fn env_value(dir: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(dir.join(".env")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} in .env"))
        .trim_matches('\'')
        .to_string()
}

#[test]
fn up_pulls_starts_converges_and_down_cleans_up() {
    if !engine_ready() {
        return;
    }
    let p = Project::new("main", &[]);
    // Remove the local tags so that `up` really pulls them from the registry (`-f`: a stopped
    // container an interrupted run left behind keeps the image by its id, not the tag).
    for img in ["postgres:15", "redis:7", "chroma:1.5.9"] {
        let _ = docker(&["rmi", "-f", &image(img)]);
    }
    assert_eq!(p.onramp(&["generate"]).code, 0);
    let r = p.onramp(&["up", "--json"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["ok"], true);
    assert!(
        doc["engine"]["endpoint"]
            .as_str()
            .unwrap()
            .starts_with("unix://")
    );
    for s in ["postgres", "redis", "chroma"] {
        let svc = p.service(&doc, s);
        assert_eq!(svc["state"], "ready", "{svc}");
        assert_eq!(svc["action"], "created");
        assert!(svc["ready_ms"].as_u64().is_some());
    }
    assert!(
        r.stderr.contains("pulled in"),
        "pulls reported: {}",
        r.stderr
    );
    assert!(r.stderr.contains("postgres ready in"), "{}", r.stderr);

    // The .env values work with the real clients.
    let url = env_value(p.path(), "DATABASE_URL");
    assert!(url.contains(&format!(":{PG}/")), "{url}");
    let out = Command::new("psql")
        .args([&url, "-tAc", "SELECT 40 + 2"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42", "{out:?}");
    let out = Command::new("redis-cli")
        .args(["-u", &env_value(p.path(), "REDIS_URL"), "ping"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "PONG");
    let out = Command::new("curl")
        .args([
            "-fsS",
            &format!("{}/api/v2/heartbeat", env_value(p.path(), "CHROMA_URL")),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("heartbeat"),
        "{out:?}"
    );

    // A second `up` changes nothing.
    let ids_before = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={}", p.name),
    ])
    .unwrap();
    let again = json(&p.onramp(&["up", "--json"]));
    for s in ["postgres", "redis", "chroma"] {
        assert_eq!(p.service(&again, s)["action"], "unchanged");
    }
    let ids_after = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={}", p.name),
    ])
    .unwrap();
    assert_eq!(ids_before, ids_after);

    // `status` agrees.
    let st = json(&p.onramp(&["status", "--json"]));
    assert_eq!(st["ok"], true);
    assert_eq!(p.service(&st, "redis")["state"], "ready");

    // `doctor` knows the held ports are this project's own.
    let doc = json(&p.onramp(&["doctor", "--json"]));
    let port = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == format!("port:redis:{REDIS}"))
        .cloned()
        .unwrap();
    assert_eq!(port["status"], "pass", "{port}");
    assert!(
        port["detail"]
            .as_str()
            .unwrap()
            .contains("this project's redis")
    );

    // Changing one service's env recreates only that one.
    let pg_id = p.service(&again, "postgres")["container"].clone();
    write(
        p.path(),
        "onramp.toml",
        &test_profile(&p.name, &[("redis", "env = { ONRAMP_MARK = \"changed\" }")]),
    );
    let changed = json(&p.onramp(&["up", "--json"]));
    assert_eq!(p.service(&changed, "redis")["action"], "recreated");
    assert_eq!(p.service(&changed, "postgres")["action"], "unchanged");
    assert_eq!(p.service(&changed, "postgres")["container"], pg_id);

    // `down` keeps volumes; `down --volumes` removes them; nothing labelled remains.
    assert_eq!(p.onramp(&["down"]).code, 0);
    let filter = format!("label=com.docker.compose.project={}", p.name);
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &filter]).unwrap().trim(),
        ""
    );
    assert_eq!(
        docker(&["network", "ls", "-q", "--filter", &filter])
            .unwrap()
            .trim(),
        ""
    );
    assert_ne!(
        docker(&["volume", "ls", "-q", "--filter", &filter])
            .unwrap()
            .trim(),
        ""
    );
    assert_eq!(p.onramp(&["down", "--volumes"]).code, 0);
    assert_eq!(leftovers(&p.name).trim(), "");
    assert_eq!(
        p.onramp(&["down", "--volumes"]).code,
        0,
        "down is idempotent"
    );
}

#[test]
fn a_held_port_is_named_with_its_holder_and_nothing_is_created() {
    if !engine_ready() {
        return;
    }
    let p = Project::new("port", &[]);
    let _held = std::net::TcpListener::bind(("127.0.0.1", REDIS)).unwrap();
    let r = p.onramp(&["up"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("port {REDIS} for redis is held")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("pid {}", std::process::id())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("ports = ["),
        "a way to pick another port: {}",
        r.stderr
    );
    assert_eq!(leftovers(&p.name).trim(), "", "nothing half-made");
}

#[test]
fn a_same_named_container_that_is_not_ours_is_refused() {
    if !engine_ready() {
        return;
    }
    let p = Project::new("foreign", &[]);
    let name = format!("{}-redis-1", p.name);
    docker(&["create", "--name", &name, &image("redis:7")]).expect("docker create");
    let r = p.onramp(&["up"]);
    let _ = docker(&["rm", "-f", &name]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("was not created by onramp"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("docker rm -f {name}")),
        "{}",
        r.stderr
    );
}

#[test]
fn a_service_that_exits_fails_at_once_with_its_log_tail() {
    if !engine_ready() {
        return;
    }
    let p = Project::new(
        "exit",
        &[(
            "redis",
            "command = [\"sh\", \"-c\", \"echo the-redis-broke >&2; exit 3\"]\ntimeout = \"300s\"",
        )],
    );
    let r = p.onramp(&["up", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let redis = p.service(&json(&r), "redis");
    assert_eq!(redis["state"], "failed");
    assert!(
        redis["error"]
            .as_str()
            .unwrap()
            .contains("exited with code 3"),
        "{redis}"
    );
    assert!(
        redis["logs"].as_str().unwrap().contains("the-redis-broke"),
        "{redis}"
    );
    assert!(
        r.stderr.contains("the-redis-broke"),
        "the log tail is shown"
    );
}

#[test]
fn a_wrong_password_says_authentication_failed() {
    if !engine_ready() {
        return;
    }
    let p = Project::new(
        "auth",
        &[(
            "postgres",
            "probe = { kind = \"postgres\", password = \"not-the-password\" }",
        )],
    );
    let r = p.onramp(&["up", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let pg = p.service(&json(&r), "postgres");
    assert_eq!(pg["state"], "failed");
    let err = pg["error"].as_str().unwrap();
    assert!(err.contains("authentication failed"), "{err}");
    assert!(!err.contains("not ready after"), "not a timeout: {err}");
    assert!(!r.stdout.contains("not-the-password") && !r.stderr.contains("not-the-password"));
}

#[test]
fn docker_host_at_a_missing_socket() {
    let p = Project::new("nosock", &[]);
    let r = run(onramp(p.path())
        .arg("up")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("/nonexistent/docker.sock"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("help:"), "{}", r.stderr);
}

#[test]
fn an_unreachable_registry_for_a_missing_image_creates_nothing() {
    if !engine_ready() {
        return;
    }
    // Nothing listens on this port: a registry that has stopped.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let p = Project::new("noreg", &[]);
    let text = test_profile(&p.name, &[]).replace(
        &image("redis:7"),
        &format!("127.0.0.1:{port}/onramp-test/redis:7"),
    );
    write(p.path(), "onramp.toml", &text);
    let r = p.onramp(&["up"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("registry 127.0.0.1:{port} is unreachable")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("nothing was created"));
    assert_eq!(leftovers(&p.name).trim(), "");
}

#[cfg(unix)]
#[test]
fn sigint_in_the_middle_of_up_then_up_converges_and_down_is_clean() {
    if !engine_ready() {
        return;
    }
    let p = Project::new("sigint", &[]);
    let mut child = onramp(p.path())
        .arg("up")
        .env("VIRTUAL_ENV", "/nonexistent")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let filter = format!("label=com.docker.compose.project={}", p.name);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while docker(&["ps", "-aq", "--filter", &filter])
        .unwrap_or_default()
        .trim()
        .is_empty()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: sending a signal to our own child.
    unsafe {
        libc_kill(child.id() as i32, 2);
    }
    let status = child.wait().unwrap();
    assert!(status.code() == Some(130) || status.success(), "{status:?}");
    let r = p.onramp(&["up", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(p.onramp(&["down", "--volumes"]).code, 0);
    assert_eq!(leftovers(&p.name).trim(), "");
}

#[cfg(unix)]
unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// A Bolt server from the Neo4j drivers' own test kit, answering one script.
fn boltstub(script: &str, port: u16) -> Option<std::process::Child> {
    let venv = std::env::var("ONRAMP_TEST_BOLT_VENV").ok()?;
    let dir = tempfile::tempdir().ok()?.keep();
    let path = dir.join("script.bolt");
    std::fs::write(&path, script).ok()?;
    let mut child = Command::new(format!("{venv}/bin/boltstub"))
        .args([&port.to_string(), path.to_str()?])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    // It serves one connection, so readiness is read from its log, not by connecting.
    use std::io::BufRead;
    let out = child.stdout.take()?;
    let mut lines = std::io::BufReader::new(out).lines();
    lines
        .find(|l| l.as_ref().is_ok_and(|l| l.contains("Listening")))?
        .ok()?;
    std::thread::spawn(move || lines.for_each(drop));
    Some(child)
}

fn bolt_project(port: u16, password: &str) -> Project {
    let p = Project::new("bolt", &[]);
    let text = format!(
        "extends = \"minimal\"\nproject = \"{}\"\n[services.postgres]\nenabled = false\n[services.redis]\nenabled = false\n\
         [services.graph]\naddress = \"127.0.0.1:{port}\"\nenv = {{ NEO4J_AUTH = \"neo4j/{password}\" }}\nprobe = {{ kind = \"neo4j\" }}\ntimeout = \"10s\"\n",
        p.name
    );
    write(p.path(), "onramp.toml", &text);
    p
}

const HELLO: &str = r#"C: HELLO {"user_agent": "onramp/VERSION", "scheme": "basic", "principal": "neo4j", "credentials": "PASSWORD"}"#;

#[test]
fn the_bolt_probe_logs_in_and_runs_return_1_against_a_real_bolt_peer() {
    let port = 27687;
    let script = format!(
        "!: BOLT 4\n\n{}\nS: SUCCESS {{\"server\": \"Neo4j/4.0.0\", \"connection_id\": \"bolt-1\"}}\nC: RUN \"RETURN 1\" {{}} {{}}\n   PULL {{\"n\": -1}}\nS: SUCCESS {{\"fields\": [\"1\"]}}\n   RECORD [1]\n   SUCCESS {{}}\n",
        HELLO
            .replace("VERSION", env!("CARGO_PKG_VERSION"))
            .replace("PASSWORD", "testpassword")
    );
    let Some(mut stub) = boltstub(&script, port) else {
        skip_or_fail("boltstub (ONRAMP_TEST_BOLT_VENV, from scripts/provision.sh)");
        return;
    };
    let p = bolt_project(port, "testpassword");
    // Nothing to start, so no engine is needed: only the external service is probed.
    let r = run(onramp(p.path())
        .args(["up", "--json"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock"));
    let status = stub.wait().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(json(&r)["engine"].is_null());
    let graph = p.service(&json(&r), "graph");
    assert_eq!(graph["state"], "external");
    assert!(graph["error"].is_null(), "{graph}");
    assert!(
        status.success(),
        "boltstub saw the whole script: {status:?}"
    );
}

#[test]
fn a_bolt_login_with_the_wrong_password_says_authentication_failed() {
    let port = 27688;
    let script = format!(
        "!: BOLT 4\n\n{}\nS: FAILURE {{\"code\": \"Neo.ClientError.Security.Unauthorized\", \"message\": \"The client is unauthorized due to authentication failure.\"}}\n",
        HELLO
            .replace("VERSION", env!("CARGO_PKG_VERSION"))
            .replace("PASSWORD", "wrong-password")
    );
    let Some(mut stub) = boltstub(&script, port) else {
        skip_or_fail("boltstub (ONRAMP_TEST_BOLT_VENV, from scripts/provision.sh)");
        return;
    };
    let p = bolt_project(port, "wrong-password");
    let r = p.onramp(&["up", "--json"]);
    let _ = stub.kill();
    assert_eq!(r.code, 1, "{}", r.stderr);
    let err = p.service(&json(&r), "graph")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("authentication failed"), "{err}");
}

#[test]
fn inside_a_container_limited_with_memory_and_cpus_doctor_reports_the_limits() {
    if !engine_ready() {
        return;
    }
    let bin = crate::common::bin();
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--memory",
            "1g",
            "--cpus",
            "1.5",
            "-v",
            &format!("{}:/onramp:ro", bin.display()),
            "--entrypoint",
            "/onramp",
            &image("redis:7"),
            "doctor",
            "--json",
            "--profile",
            "minimal",
        ])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(doc["platform"]["container"], true);
    let find = |id: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap()
    };
    let mem = find("memory");
    assert!(
        mem["detail"].as_str().unwrap().starts_with("1.0 GiB"),
        "{mem}"
    );
    let cpus = find("cpus");
    assert!(
        cpus["detail"].as_str().unwrap().starts_with("1.5 "),
        "{cpus}"
    );
}

fn venv() -> String {
    std::env::var("ONRAMP_TEST_VENV").unwrap_or_else(|_| "/nonexistent".into())
}

#[test]
fn validate_passes_against_running_services_and_names_one_that_stopped() {
    if !engine_ready() {
        return;
    }
    let p = Project::new("validate", &[]);
    assert_eq!(p.onramp(&["up"]).code, 0);
    let ok = run(onramp(p.path())
        .args(["validate", "--json"])
        .env("VIRTUAL_ENV", venv()));
    let doc = json(&ok);
    assert!(
        doc["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "ok"),
        "{doc}"
    );
    assert_eq!(ok.code, if doc["sdk"]["ok"] == true { 0 } else { 1 });
    docker(&["stop", "-t", "1", &format!("{}-redis-1", p.name)]).expect("docker stop");
    let r = run(onramp(p.path())
        .args(["validate", "--json"])
        .env("VIRTUAL_ENV", venv()));
    assert_eq!(r.code, 1);
    let doc = json(&r);
    let redis = p.service(&doc, "redis");
    assert_eq!(redis["status"], "failed");
    let detail = redis["detail"].as_str().unwrap();
    assert!(
        detail.contains(&REDIS.to_string()) && detail.contains("onramp up"),
        "{detail}"
    );
    assert_eq!(p.service(&doc, "postgres")["status"], "ok");
}

#[test]
fn setup_rollback_on_fail_leaves_nothing_behind_and_restores_a_replaced_file() {
    if !engine_ready() {
        return;
    }
    let small =
        "[requirements]\nmemory_gib = { min = 1 }\ncpus = { min = 1 }\ndisk_free_gib = { min = 1 }";
    let p = Project::new("rollback", &[("", small)]);
    // An earlier run wrote .env; this run changes it (a new password) and redis cannot start.
    assert_eq!(p.onramp(&["generate"]).code, 0);
    let env_before = std::fs::read_to_string(p.path().join(".env")).unwrap();
    for f in ["windows_patch.py", "docker-compose.test.yml"] {
        std::fs::remove_file(p.path().join(f)).unwrap();
    }
    let profile = test_profile(
        &p.name,
        &[
            ("", small),
            (
                "postgres",
                "env = { POSTGRES_PASSWORD = \"another-password\" }",
            ),
            ("redis", "command = [\"sh\", \"-c\", \"exit 1\"]"),
        ],
    );
    write(p.path(), "onramp.toml", &profile);
    let r = run(onramp(p.path())
        .args(["setup", "--rollback-on-fail", "--yes"])
        .env("VIRTUAL_ENV", venv()));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("rolled back"), "{}", r.stdout);
    assert!(r.stdout.contains("setup stopped at up"), "{}", r.stdout);
    let filter = format!("label=com.docker.compose.project={}", p.name);
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &filter]).unwrap().trim(),
        ""
    );
    assert_eq!(
        docker(&["network", "ls", "-q", "--filter", &filter])
            .unwrap()
            .trim(),
        ""
    );
    assert_eq!(
        docker(&["volume", "ls", "-q", "--filter", &filter])
            .unwrap()
            .trim(),
        ""
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join(".env")).unwrap(),
        env_before,
        ".env restored"
    );
    for f in [
        "windows_patch.py",
        "docker-compose.test.yml",
        ".env.new",
        ".env.bak",
    ] {
        assert!(!p.path().join(f).exists(), "{f} left behind");
    }
}

#[test]
fn setup_runs_every_step_to_ready() {
    if !engine_ready() {
        return;
    }
    let small =
        "[requirements]\nmemory_gib = { min = 1 }\ncpus = { min = 1 }\ndisk_free_gib = { min = 1 }";
    let p = Project::new("setup", &[("", small)]);
    let r = run(onramp(p.path())
        .args(["setup", "--yes"])
        .env("VIRTUAL_ENV", venv()));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("setup: ready"), "{}", r.stdout);
    for f in ["windows_patch.py", "docker-compose.test.yml", ".env"] {
        assert!(p.path().join(f).exists(), "{f}");
    }
}

#[cfg(unix)]
#[test]
fn with_no_interpreter_on_the_host_the_container_rung_validates_offline() {
    if !engine_ready() {
        return;
    }
    let Ok(wheels) = std::env::var("ONRAMP_TEST_WHEELS") else {
        skip_or_fail("ONRAMP_TEST_WHEELS (kailash wheels, from scripts/provision.sh)");
        return;
    };
    let bin = tempfile::tempdir().unwrap();
    crate::common::stub_python(bin.path());
    let p = Project::new("container", &[]);
    let text = format!(
        "extends = \"minimal\"\nproject = \"{}\"\n[services.postgres]\nenabled = false\n[services.redis]\nenabled = false\n[sdk]\ncontainer_image = \"{}\"\n",
        p.name,
        image("redis:7")
    );
    write(p.path(), "onramp.toml", &text);
    let r = run(onramp(p.path())
        .args(["validate", "--json", "--wheelhouse", &wheels])
        .env_remove("VIRTUAL_ENV")
        .env("HOME", p.path())
        .env("PATH", format!("{}:/bin:/usr/bin", bin.path().display())));
    let doc = json(&r);
    assert_eq!(r.code, 0, "{doc}\n{}", r.stderr);
    assert_eq!(doc["sdk"]["rung"], "container");
    assert!(
        doc["sdk"]["imports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "ok")
    );
    assert_eq!(
        leftovers(&p.name).trim(),
        "",
        "the validation container is removed"
    );
}

#[test]
fn up_rollback_on_fail_removes_what_this_run_created() {
    if !engine_ready() {
        return;
    }
    let p = Project::new(
        "uprollback",
        &[("redis", "command = [\"sh\", \"-c\", \"exit 2\"]")],
    );
    let r = p.onramp(&["up", "--rollback-on-fail"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("rolled back: removed"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("network {}_default", p.name)),
        "{}",
        r.stdout
    );
    assert_eq!(
        leftovers(&p.name).trim(),
        "",
        "containers, network and volumes removed"
    );
}

/// Every setting `.env` gets connects with the real clients, for a Postgres password full of
/// URL-special characters (SCRAM auth) and a Redis password set only in its command; and
/// `validate` agrees with them.
#[test]
fn every_env_setting_connects_with_real_clients_and_validate_agrees() {
    if !engine_ready() {
        return;
    }
    let python = format!("{}/bin/python", venv());
    if !Path::new(&python).exists() {
        skip_or_fail("no test venv with redis-py (scripts/provision.sh makes one)");
        return;
    }
    let pg_password = "p@ss:w/rd%#1 x";
    let redis_password = "r3d!s:p@ss/w#rd";
    let p = Project::new(
        "conn",
        &[
            (
                "postgres",
                &format!(
                    "env = {{ POSTGRES_DB = \"conn_db\", POSTGRES_USER = \"conn_user\", POSTGRES_PASSWORD = \"{pg_password}\" }}"
                ),
            ),
            (
                "redis",
                &format!(
                    "command = [\"redis-server\", \"--requirepass\", \"{redis_password}\", \"--save\", \"\"]"
                ),
            ),
        ],
    );
    let up = p.onramp(&["up", "--json"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let generated = p.onramp(&["generate"]);
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    assert!(
        !generated.stdout.contains(pg_password) && !generated.stderr.contains(pg_password),
        "a secret was printed"
    );
    let script = format!(
        r#"set -euo pipefail
set -a; . ./.env; set +a
psql "$DATABASE_URL" -tAc "select current_user || ' ' || current_database()"
PGHOST="$POSTGRES_HOST" PGPORT="$POSTGRES_PORT" PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD" PGDATABASE="$POSTGRES_DB" \
  psql -tAc "select rolpassword like 'SCRAM-SHA-256%' from pg_authid where rolname = current_user"
"{python}" -c 'import os, redis; print("redis", redis.Redis.from_url(os.environ["REDIS_URL"]).ping())'
curl -fsS "$CHROMA_URL/api/v2/heartbeat" >/dev/null && echo chroma ok
"#
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(p.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        ["conn_user conn_db", "t", "redis True", "chroma ok"],
        "{stdout}"
    );
    // The compose healthcheck carries the same credentials, and works inside the container.
    let compose = std::fs::read_to_string(p.path().join("docker-compose.test.yml")).unwrap();
    assert!(
        compose.contains("\"-U\", \"conn_user\", \"-d\", \"conn_db\""),
        "{compose}"
    );
    let check = docker(&[
        "exec",
        &format!("{}-redis-1", p.name),
        "redis-cli",
        "-a",
        redis_password,
        "--no-auth-warning",
        "ping",
    ]);
    assert_eq!(check.as_deref().map(str::trim), Some("PONG"));
    let v = p.onramp(&["validate", "--json", "--python", &python]);
    let doc = json(&v);
    for s in ["postgres", "redis", "chroma"] {
        assert_eq!(p.service(&doc, s)["status"], "ok", "{doc}");
    }
    assert!(!v.stdout.contains(pg_password) && !v.stderr.contains(pg_password));
}
