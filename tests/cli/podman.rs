//! `up`, `status` and `down` over Podman's Docker-compatible API socket (Debian `podman`,
//! `podman system service` started by scripts/provision.sh), with the test images from the
//! local registry. Podman is another engine than Docker, but the host ports are the same: this
//! module uses its own ports and project names.

use std::path::Path;
use std::process::Command;

use crate::common::{image, json, onramp, run, skip_or_fail, write};

const SOCKET: &str = "/run/podman/podman.sock";
const PG: u16 = 32541;
const REDIS: u16 = 32542;

fn podman(args: &[&str]) -> Option<String> {
    let out = Command::new("podman").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn podman_ready() -> bool {
    let ping = Command::new("curl")
        .args(["-fsS", "--unix-socket", SOCKET, "http://d/_ping"])
        .output();
    if !ping.is_ok_and(|o| o.status.success()) {
        skip_or_fail(
            "no Podman API service on /run/podman/podman.sock (scripts/provision.sh starts one)",
        );
        return false;
    }
    true
}

/// Objects of a project in Podman, one name a line.
fn leftovers(project: &str) -> String {
    let filter = format!("label=com.docker.compose.project={project}");
    let mut out = String::new();
    for args in [
        vec!["ps", "-a", "--format", "{{.Names}}", "--filter", &filter],
        vec![
            "network",
            "ls",
            "--format",
            "{{.Name}}",
            "--filter",
            &filter,
        ],
        vec!["volume", "ls", "--format", "{{.Name}}", "--filter", &filter],
    ] {
        out.push_str(&podman(&args).unwrap_or_default());
    }
    out
}

/// A project on the Podman engine that removes what it made when dropped.
struct Project {
    dir: tempfile::TempDir,
    name: String,
}

impl Project {
    fn new() -> Project {
        let name = format!("repairpod{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let profile = format!(
            r#"extends = "minimal"
project = "{name}"

[services.postgres]
image = "{pg}"
ports = ["{PG}:5432"]
timeout = "90s"

[services.redis]
image = "{redis}"
ports = ["{REDIS}:6379"]
"#,
            pg = image("postgres:15"),
            redis = image("redis:7"),
        );
        write(dir.path(), "onramp.toml", &profile);
        Project { dir, name }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn onramp(&self, args: &[&str]) -> crate::common::Run {
        run(onramp(self.path())
            .args(args)
            .env("DOCKER_HOST", format!("unix://{SOCKET}")))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.onramp(&["down", "--volumes"]);
    }
}

fn service(doc: &serde_json::Value, name: &str) -> serde_json::Value {
    doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

#[test]
fn up_status_down_over_podman() {
    if !podman_ready() {
        return;
    }
    let p = Project::new();
    // Untag Redis in Podman's own store (Docker's is another store) so `up` really pulls it
    // from the registry; its layers stay, shared with the postgres image.
    let _ = podman(&["untag", &image("redis:7")]);

    let r = p.onramp(&["up", "--json"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["engine"]["endpoint"], format!("unix://{SOCKET}"));
    assert_eq!(doc["engine"]["source"], "DOCKER_HOST");
    for s in ["postgres", "redis"] {
        assert_eq!(service(&doc, s)["state"], "ready", "{doc}");
    }
    assert!(
        r.stderr.contains("pulled in"),
        "redis was pulled: {}",
        r.stderr
    );
    let names = podman(&["ps", "--format", "{{.Names}}"]).unwrap();
    assert!(
        names.contains(&format!("{}-redis-1", p.name)),
        "the container runs in Podman: {names}"
    );

    let out = Command::new("redis-cli")
        .args(["-p", &REDIS.to_string(), "ping"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "PONG");

    let st = p.onramp(&["status", "--json"]);
    assert_eq!(st.code, 0, "{}", st.stderr);
    let st = json(&st);
    assert_eq!(service(&st, "postgres")["state"], "ready");
    assert_eq!(service(&st, "redis")["state"], "ready");

    // `down` removes the containers and the network (the reported flake left the network).
    let d = p.onramp(&["down"]);
    assert_eq!(d.code, 0, "{}", d.stderr);
    assert!(d.stdout.contains("1 network(s)"), "{}", d.stdout);
    let filter = format!("label=com.docker.compose.project={}", p.name);
    assert_eq!(
        podman(&["ps", "-a", "--format", "{{.Names}}", "--filter", &filter])
            .unwrap()
            .trim(),
        ""
    );
    assert_eq!(
        podman(&[
            "network",
            "ls",
            "--format",
            "{{.Name}}",
            "--filter",
            &filter
        ])
        .unwrap()
        .trim(),
        ""
    );
    assert_eq!(p.onramp(&["down", "--volumes"]).code, 0);
    assert_eq!(leftovers(&p.name).trim(), "");
}

#[test]
fn a_podman_socket_that_is_not_served_names_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "onramp.toml", "extends = \"minimal\"\n");
    let r = run(onramp(dir.path())
        .arg("status")
        .env("DOCKER_HOST", "unix:///nonexistent/run/podman/podman.sock"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("Podman"), "{}", r.stderr);
    assert!(
        r.stderr.contains("podman system service --time=0") || r.stderr.contains("podman.socket"),
        "{}",
        r.stderr
    );
}
