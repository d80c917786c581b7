//! The installer for real, on this Debian machine: stop the engine and remove `docker.io`, then
//! `setup --dry-run` shows the plan, `setup --yes` installs and starts the engine and brings every
//! service up, running exactly the commands the dry run printed, and a second `setup` finds every
//! step satisfied; then a stopped daemon with a stale pid file is repaired by `doctor --fix`. A
//! guard puts a running engine back whatever happens. Serial with the other
//! engine tests (`.config/nextest.toml`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{applied, engine_up, json, onramp, run, sh, skip_or_fail, write};

const PG: u16 = 32010;
const REDIS: u16 = 32011;
const SOCKET: &str = "unix:///var/run/docker.sock";

fn state_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-state")
}

/// Stop the daemon that serves the default socket and wait until it is gone.
fn stop_engine() {
    sh(
        "pid=$(cat /var/run/docker.pid 2>/dev/null) && kill \"$pid\" && \
        for i in $(seq 1 300); do kill -0 \"$pid\" 2>/dev/null || exit 0; sleep 0.1; done; exit 1",
    );
}

/// Whatever happened, leave a running engine behind: reinstall `docker.io` and start `dockerd`
/// the way `scripts/provision.sh` does.
struct EngineGuard;

impl Drop for EngineGuard {
    fn drop(&mut self) {
        if engine_up() {
            return;
        }
        let log = state_dir().join("dockerd.log");
        sh(
            "command -v dockerd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null",
        );
        sh(&format!(
            "for f in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do \
               [ -f $f ] && ! kill -0 $(cat $f) 2>/dev/null && rm -f $f; done; \
             nohup dockerd >>{} 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &",
            log.display()
        ));
        for _ in 0..600 {
            if engine_up() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("the engine did not come back; see {}", log.display());
    }
}

/// A project directory that stays (the daemon this test starts logs into its `.onramp/`).
struct Project {
    dir: PathBuf,
    name: String,
}

impl Project {
    fn new() -> Project {
        let name = format!("install{}", std::process::id());
        // Not removed afterwards: the daemon this test starts keeps writing its log here.
        let dir = state_dir().join(format!("installer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let registry =
            std::env::var("ONRAMP_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into());
        write(
            &dir,
            "onramp.toml",
            &format!(
                r#"extends = "minimal"
project = "{name}"

[requirements]
memory_gib = {{ min = 1 }}
cpus = {{ min = 1 }}
disk_free_gib = {{ min = 1 }}

[services.postgres]
image = "{registry}/onramp-test/postgres:15"
ports = ["{PG}:5432"]

[services.redis]
image = "{registry}/onramp-test/redis:7"
ports = ["{REDIS}:6379"]
"#
            ),
        );
        Project { dir, name }
    }

    fn onramp(&self, args: &[&str], venv: &str) -> crate::common::Run {
        run(onramp(&self.dir)
            .args(args)
            .env("DOCKER_HOST", SOCKET)
            .env("VIRTUAL_ENV", venv)
            .env_remove("CI"))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if engine_up() {
            let _ = run(onramp(&self.dir)
                .args(["down", "--volumes"])
                .env("DOCKER_HOST", SOCKET));
        }
    }
}

/// The commands of the steps still to do, as the dry run planned them.
fn planned(plan: &serde_json::Value) -> Vec<Vec<String>> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "todo")
        .flat_map(|s| s["change"].as_array().unwrap().clone())
        .filter_map(|a| serde_json::from_value(a["argv"].clone()).ok())
        .collect()
}

fn ran(applied: &serde_json::Value) -> Vec<Vec<String>> {
    applied
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["ran"].as_array().unwrap().clone())
        .map(|argv| serde_json::from_value(argv).unwrap())
        .collect()
}

#[cfg(unix)]
#[test]
fn setup_installs_and_starts_the_engine_on_bare_debian_and_a_second_run_changes_nothing() {
    let root = unsafe { libc::geteuid() } == 0;
    let debian = std::fs::read_to_string("/etc/os-release").is_ok_and(|t| t.contains("ID=debian"));
    if !root || !debian || !sh("command -v apt-get >/dev/null") {
        skip_or_fail("the installer test needs root on Debian with apt-get");
        return;
    }
    let Ok(venv) = std::env::var("ONRAMP_TEST_VENV") else {
        skip_or_fail("ONRAMP_TEST_VENV (the kailash venv from scripts/provision.sh)");
        return;
    };
    if !engine_up() {
        skip_or_fail("no Docker engine to start from (scripts/provision.sh starts one)");
        return;
    }
    let _guard = EngineGuard;
    let project = Project::new();

    // A bare machine: no daemon, no docker.io (its data in /var/lib/docker stays).
    stop_engine();
    assert!(sh(
        "DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq docker.io >/dev/null"
    ));
    assert!(!engine_up());

    let dry = project.onramp(&["setup", "--dry-run", "--yes", "--json"], &venv);
    let dry_doc = json(&dry);
    assert_eq!(dry.code, 1, "nothing is ready yet: {}", dry.stderr);
    assert_eq!(dry_doc["dry_run"], true);
    let plan = &dry_doc["fix"]["plan"];
    let todo: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "todo")
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(todo, vec!["engine-package", "engine-start"], "{plan}");
    assert!(dry.stderr.contains("apt-get install"), "{}", dry.stderr);
    assert!(
        !engine_up() && !sh("command -v dockerd >/dev/null"),
        "the dry run changed nothing"
    );

    let started = Instant::now();
    let first = project.onramp(&["setup", "--yes", "--json"], &venv);
    let took = started.elapsed();
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let doc = json(&first);
    for s in doc["services"].as_array().unwrap() {
        assert_eq!(s["state"], "ready", "{s}");
    }
    assert_eq!(
        ran(&doc["fix"]["applied"]),
        planned(plan),
        "the commands that ran are the dry run's"
    );
    assert_eq!(doc["fix"]["changed"], true);
    assert!(
        project
            .dir
            .join(".onramp/logs/install-engine-package.log")
            .is_file(),
        "each step logs under .onramp/logs"
    );
    let steps: Vec<String> = doc["fix"]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {} ms", a["id"].as_str().unwrap_or("?"), a["ms"]))
        .collect();
    eprintln!(
        "installer: from no engine to every service ready in {:.1} s ({}; {})",
        took.as_secs_f64(),
        project.name,
        steps.join(", ")
    );

    let second = project.onramp(&["setup", "--yes", "--json"], &venv);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    let doc = json(&second);
    assert_eq!(doc["fix"]["changed"], false);
    for a in doc["fix"]["applied"].as_array().unwrap() {
        assert_eq!(a["done"], "satisfied", "{a}");
        assert!(a["ran"].as_array().unwrap().is_empty());
    }
    assert!(
        second
            .stderr
            .contains("every step satisfied, nothing changed"),
        "{}",
        second.stderr
    );

    // Repair: a stopped daemon that left a pid file naming a process that is gone.
    stop_engine();
    std::fs::write("/var/run/docker.pid", "4194000\n").unwrap();
    let fixed = project.onramp(&["doctor", "--fix", "--yes", "--json"], &venv);
    assert_eq!(fixed.code, 0, "{}\n{}", fixed.stdout, fixed.stderr);
    let doc = json(&fixed);
    let done = applied(&doc);
    assert_eq!(
        done,
        vec![
            ("stale-pidfiles".to_string(), "changed".to_string()),
            ("engine-start".to_string(), "changed".to_string())
        ]
    );
    assert!(engine_up());
}
