//! The native backend on a machine where onramp sees no engine (DOCKER_HOST names a socket
//! that does not exist): `setup` installs the services venv offline from the pinned wheels
//! (scripts/provision.sh caches them, and uv), starts PostgreSQL, Redis and Chroma as
//! processes and validates them; real clients (psql, redis-py over the `.env` URLs, Chroma's
//! heartbeat) use them; a second `up` leaves them running; a crash shows its log; `down` stops
//! them and keeps their data; `down --volumes` removes it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{json, onramp, printed, run, skip_or_fail, write};

const NO_ENGINE: &str = "unix:///nonexistent/onramp-native-test/docker.sock";

struct Env {
    wheels: PathBuf,
    uv_dir: PathBuf,
    venv: PathBuf,
}

fn env() -> Option<Env> {
    let var = |k: &str, d: &str| PathBuf::from(std::env::var(k).unwrap_or_else(|_| d.into()));
    let e = Env {
        wheels: var(
            "ONRAMP_TEST_NATIVE_WHEELS",
            "/var/cache/onramp-test/wheels-native",
        ),
        uv_dir: var("ONRAMP_TEST_UV_DIR", "/var/cache/onramp-test/uv").join("bin"),
        venv: PathBuf::from(std::env::var("ONRAMP_TEST_VENV").ok()?),
    };
    let ready = e.wheels.is_dir() && e.uv_dir.join("uv").is_file() && e.venv.is_dir();
    ready.then_some(e)
}

/// Ports nothing listens on now.
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

struct Project {
    dir: tempfile::TempDir,
    env: Env,
}

impl Project {
    fn cmd(&self, args: &[&str]) -> crate::common::Run {
        run(self.onramp().args(args))
    }

    fn onramp(&self) -> Command {
        let mut c = onramp(self.dir.path());
        c.env("DOCKER_HOST", NO_ENGINE)
            .env("ONRAMP_NATIVE_WHEELS", &self.env.wheels)
            .env("UV_CACHE_DIR", self.dir.path().join(".uv-cache"))
            .env("VIRTUAL_ENV", &self.env.venv)
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", self.env.uv_dir.display()),
            )
            .env_remove("CI");
        c
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn env_value(&self, key: &str) -> String {
        let text = std::fs::read_to_string(self.path(".env")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} in .env:\n{text}"))
            .trim_matches('"')
            .to_string()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.cmd(&["down", "--volumes"]);
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn pid_of(p: &Project, service: &str) -> u32 {
    let text = std::fs::read_to_string(p.path(&format!(".onramp/run/{service}.pid"))).unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

fn sh(cmd: &str) -> (bool, String) {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    (out.status.success(), printed(&out))
}

fn state_of<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {doc}"))
}

fn project() -> Option<Project> {
    let Some(env) = env() else {
        skip_or_fail(
            "the native wheels, uv and the kailash venv (ONRAMP_TEST_NATIVE_WHEELS, ONRAMP_TEST_UV_DIR, ONRAMP_TEST_VENV from scripts/provision.sh)",
        );
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    // As root, PostgreSQL runs as nobody, who must be able to enter the project.
    sh(&format!("chmod 755 {}", dir.path().display()));
    let [pg, redis, chroma] = free_ports(3)[..] else {
        unreachable!()
    };
    write(
        dir.path(),
        "onramp.toml",
        &format!(
            r#"extends = "kailash"
backend = "native"
[requirements]
disk_free_gib = {{ min = 1, recommended = 1 }}
[services.postgres]
ports = ["{pg}:5432"]
[services.redis]
ports = ["{redis}:6379"]
command = ["redis-server", "--requirepass", "native-pw", "--appendonly", "yes"]
[services.chroma]
ports = ["{chroma}:8000"]
"#
        ),
    );
    Some(Project { dir, env })
}

#[test]
fn setup_without_an_engine_runs_postgres_redis_and_chroma_natively() {
    let Some(p) = project() else { return };
    let setup = p.cmd(&["setup", "--yes", "--json"]);
    assert_eq!(setup.code, 0, "{}\n{}", setup.stdout, setup.stderr);
    let doc = json(&setup);
    for name in ["postgres", "redis", "chroma"] {
        assert_eq!(state_of(&doc, name)["state"], "ready", "{doc}");
        assert_eq!(
            state_of(&doc["validate"], name)["status"],
            "ok",
            "{}",
            doc["validate"]
        );
    }
    let names: Vec<&str> = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"neo4j"), "{names:?}");
    assert!(
        setup.stderr.contains("no wheel carries Neo4j") && setup.stderr.contains("external"),
        "{}",
        setup.stderr
    );
    assert!(
        setup.stderr.contains("native backend") && !setup.stderr.contains("✗ docker"),
        "{}",
        setup.stderr
    );

    // Real clients, through the .env the engine's services get too.
    let url = p.env_value("POSTGRES_URL");
    let (ok, out) = sh(&format!(
        "psql '{url}' -Atc \"create table t(x text); insert into t values ('kept'); select current_user, current_database(), pg_encoding_to_char(encoding) from pg_database where datname = current_database()\""
    ));
    assert!(ok, "{out}");
    assert!(out.contains("test_user|horme_test_db|UTF8"), "{out}");
    let py = p.env.venv.join("bin/python");
    let redis_url = p.env_value("REDIS_URL");
    let (ok, out) = sh(&format!(
        "{} -c \"import redis; r = redis.from_url('{redis_url}'); r.set('k', 'v'); print(r.get('k'), r.config_get('appendonly'))\"",
        py.display()
    ));
    assert!(ok && out.contains("b'v'") && out.contains("'yes'"), "{out}");
    let redis_port = redis_url.rsplit(':').next().unwrap().trim_end_matches("/0");
    let (_, out) = sh(&format!("redis-cli -p {redis_port} ping"));
    assert!(out.contains("NOAUTH"), "the password is required: {out}");
    let chroma = p.env_value("CHROMA_URL");
    let (ok, out) = sh(&format!("curl -sf {chroma}/api/v2/heartbeat"));
    assert!(ok && out.contains("heartbeat"), "{out}");

    // A second up finds them running and leaves them.
    let pids: Vec<u32> = ["postgres", "redis", "chroma"]
        .iter()
        .map(|s| pid_of(&p, s))
        .collect();
    let again = p.cmd(&["up", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let doc = json(&again);
    for (name, pid) in ["postgres", "redis", "chroma"].iter().zip(&pids) {
        assert_eq!(state_of(&doc, name)["action"], "unchanged", "{doc}");
        assert_eq!(pid_of(&p, name), *pid);
        assert!(alive(*pid));
    }

    // A crash: status says the process exited and shows its log's tail.
    sh(&format!("kill -9 {}", pids[1]));
    let mut status = json(&p.cmd(&["status", "--json"]));
    for _ in 0..50 {
        if state_of(&status, "redis")["state"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        status = json(&p.cmd(&["status", "--json"]));
    }
    let redis = state_of(&status, "redis");
    assert_eq!(redis["state"], "stopped", "{status}");
    assert!(
        redis["error"].as_str().unwrap().contains("redis.log")
            && redis["logs"]
                .as_str()
                .unwrap()
                .contains("Ready to accept connections"),
        "{redis}"
    );
    assert_eq!(state_of(&status, "postgres")["state"], "ready");
    assert_eq!(
        state_of(&status, "postgres")["container"],
        format!("pid {}", pids[0])
    );

    // down stops every process and keeps the data; up brings the same data back.
    let down = p.cmd(&["down"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    for pid in [pids[0], pids[2]] {
        assert!(!alive(pid), "pid {pid} was stopped");
    }
    assert!(p.path(".onramp/data/postgres/PG_VERSION").is_file());
    let up = p.cmd(&["up", "postgres"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let (ok, out) = sh(&format!("psql '{url}' -Atc 'select x from t'"));
    assert!(ok && out.trim() == "kept", "{out}");

    // reset takes a service's data and starts the stack again.
    let reset = p.cmd(&["reset", "--yes", "redis", "--json"]);
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    assert!(
        json(&reset)["removed"]
            .to_string()
            .contains(".onramp/data/redis"),
        "{}",
        reset.stdout
    );
    let (ok, out) = sh(&format!(
        "{} -c \"import redis; print(redis.from_url('{redis_url}').get('k'))\"",
        py.display()
    ));
    assert!(
        ok && out.trim() == "None",
        "the key went with the data: {out}"
    );

    // A changed command line restarts the server with it; the others are left alone.
    let before = pid_of(&p, "redis");
    let toml = std::fs::read_to_string(p.path("onramp.toml")).unwrap();
    let toml = toml.replace(
        "\"--appendonly\"",
        "\"--maxmemory\", \"64mb\", \"--appendonly\"",
    );
    std::fs::write(p.path("onramp.toml"), toml).unwrap();
    let changed = json(&p.cmd(&["up", "--json"]));
    assert_eq!(
        state_of(&changed, "redis")["action"],
        "recreated",
        "{changed}"
    );
    assert_eq!(state_of(&changed, "postgres")["action"], "unchanged");
    assert!(!alive(before));
    let (ok, out) = sh(&format!(
        "{} -c \"import redis; print(redis.from_url('{redis_url}').config_get('maxmemory'))\"",
        py.display()
    ));
    assert!(ok && out.contains("67108864"), "{out}");

    // down --volumes removes the data of those services, and only that.
    let gone = p.cmd(&["down", "--volumes", "postgres"]);
    assert_eq!(gone.code, 0, "{}", gone.stderr);
    assert!(!p.path(".onramp/data/postgres").exists());
    assert!(p.path(".onramp/data/redis").is_dir());
    assert!(p.path(".onramp/native/venv").is_dir(), "the venv stays");
}

#[test]
fn a_held_port_names_its_holder_and_starts_nothing() {
    let Some(p) = project() else { return };
    let toml = std::fs::read_to_string(p.path("onramp.toml")).unwrap();
    let port: u16 = toml
        .split("ports = [\"")
        .nth(2)
        .and_then(|s| s.split(':').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let _held = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let up = p.cmd(&["up", "redis"]);
    assert_eq!(up.code, 1, "{}", up.stderr);
    assert!(
        up.stderr
            .contains(&format!("port {port} for redis is held by"))
            && up.stderr.contains(&format!("(pid {})", std::process::id())),
        "{}",
        up.stderr
    );
    assert!(!Path::new(&p.path(".onramp/run/redis.pid")).exists());
}
