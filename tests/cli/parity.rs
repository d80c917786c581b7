//! Compose v2 parity: the config hash onramp writes is the one `docker compose config --hash`
//! computes (every shipped profile, the Compose fixtures); `docker compose up -d` over a stack
//! onramp started recreates nothing and `onramp up` over a stack Compose v2 started recreates
//! nothing; and the generated compose file (`docker compose config`) agrees with what `up`
//! created (`docker inspect`). Compose v2 is Debian 13's plugin (scripts/provision.sh).
//! Host ports of this module: 35000-35199.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::{docker, image, json, onramp, run, skip_or_fail, write};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Whether `docker compose` (v2) answers; skipped (failed under CI) otherwise.
fn compose_v2() -> bool {
    let ok = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip_or_fail("no Compose v2 plugin (scripts/provision.sh installs it)");
    }
    ok
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
    compose_v2()
}

/// `docker compose -f FILE [-p NAME] ARGS` in `dir`.
fn compose(dir: &Path, file: &str, project: Option<&str>, args: &[&str]) -> crate::common::Run {
    let mut cmd = Command::new("docker");
    cmd.current_dir(dir).args(["compose", "-f", file]);
    if let Some(p) = project {
        cmd.args(["-p", p]);
    }
    cmd.args(args);
    run(&mut cmd)
}

/// `service hash` lines of `docker compose config --hash '*'`.
fn compose_hashes(dir: &Path, file: &str, envs: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut cmd = Command::new("docker");
    cmd.current_dir(dir)
        .args(["compose", "-f", file, "config", "--hash", "*"])
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())));
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "docker compose config --hash: {}", r.stderr);
    r.stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(s, h)| (s.to_string(), h.to_string()))
        .collect()
}

/// The hashes `onramp generate --json` reports for the project's managed services.
fn onramp_hashes(dir: &Path, args: &[&str], envs: &[(&str, String)]) -> BTreeMap<String, String> {
    let r = run(onramp(dir)
        .args(args)
        .args(["generate", "--json"])
        .env("VIRTUAL_ENV", "/nonexistent")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str()))));
    assert_eq!(r.code, 0, "{}", r.stderr);
    json(&r)["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["config_hash"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn shipped_profiles() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("profiles"))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            (p.extension()? == "toml").then_some(stem)
        })
        .collect();
    names.sort();
    names
}

/// An overlay that uses every key a profile service can hold, over `minimal`.
const ALL_KEYS: &str = r#"extends = "minimal"
project = "keys"

[services.app]
build = { context = "app", dockerfile = "Dockerfile", args = { BASE = "x" } }
ports = ["35097:8080", "0.0.0.0:35098:8081"]
volumes = ["app_data:/data", "./conf:/etc/app:ro", "/srv/shared:/shared:ro,z", "/cache"]
entrypoint = ["/bin/sh", "-c"]
command = ["exec server --flag=<a&b>"]
user = "1000:1000"
working_dir = "/srv"
env = { MODE = "test", EMPTY = "" }
resources = { memory = "2g", cpus = 1.5 }
shm_size = "256m"
tmpfs = ["/run:size=64m", "/tmp"]
ulimits = { nofile = { soft = 1024, hard = 4096 }, nproc = 512 }
restart = "on-failure:3"
depends_on = { postgres = { condition = "service_healthy" }, redis = { condition = "service_started" } }
labels = { "com.example.team" = "data" }
healthcheck = { test = ["CMD", "true"], interval = "2s", timeout = "1500ms", retries = 4, start_period = "90s" }

[services.off]
image = "x:1"
healthcheck = { disable = true }
command = []
"#;

#[test]
fn the_config_hash_is_compose_v2s_for_every_shipped_profile() {
    if !compose_v2() {
        return;
    }
    let mut compared = 0;
    let mut cases: Vec<(String, Option<&str>)> =
        shipped_profiles().into_iter().map(|p| (p, None)).collect();
    cases.push(("all-keys".into(), Some(ALL_KEYS)));
    for (name, overlay) in &cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let args: Vec<&str> = match overlay {
            Some(text) => {
                write(d, "onramp.toml", text);
                write(d, "app/Dockerfile", "FROM scratch\n");
                vec![]
            }
            None => vec!["--profile", name.as_str()],
        };
        let ours = onramp_hashes(d, &args, &[]);
        if !d.join("docker-compose.test.yml").exists() {
            assert!(ours.is_empty(), "{name}: services but no compose file");
            continue;
        }
        let theirs = compose_hashes(d, "docker-compose.test.yml", &[]);
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (svc, hash) in &ours {
            assert_eq!(
                Some(hash),
                theirs.get(svc),
                "{name}: {svc}\n{}",
                std::fs::read_to_string(d.join("docker-compose.test.yml")).unwrap()
            );
            compared += 1;
        }
    }
    assert!(compared >= 10, "only {compared} services compared");
    eprintln!("{compared} services agree with docker compose config --hash");
}

#[test]
fn the_config_hash_is_compose_v2s_for_the_compose_fixtures() {
    if !compose_v2() {
        return;
    }
    let fixtures = Path::new(ROOT).join("tests/fixtures/compose");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for rel in ["docker-compose.yml", "app/Dockerfile"] {
        write(
            d,
            rel,
            &std::fs::read_to_string(fixtures.join(rel)).unwrap(),
        );
    }
    let envs = [
        ("COMPOSE_PROJECT_NAME", "fixture".to_string()),
        ("PG_PORT", "35010".to_string()),
    ];
    let ours = onramp_hashes(d, &["--compose", "docker-compose.yml"], &envs);
    let theirs = compose_hashes(d, "docker-compose.yml", &envs);
    assert!(ours.len() >= 4, "{ours:?}");
    for (svc, hash) in &ours {
        assert_eq!(Some(hash), theirs.get(svc), "{svc}");
    }
}

/// A project from the `minimal` profile on this module's ports, images from the local
/// registry; removed (whoever made its containers) when dropped.
struct Stack {
    dir: tempfile::TempDir,
    name: String,
}

impl Stack {
    fn new(tag: &str, pg: u16, redis: u16) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("parity{tag}{}", std::process::id());
        write(
            dir.path(),
            "onramp.toml",
            &format!(
                "extends = \"minimal\"\nproject = \"{name}\"\n\n[services.postgres]\nimage = \"{}\"\nports = [\"{pg}:5432\"]\n\n[services.redis]\nimage = \"{}\"\nports = [\"{redis}:6379\"]\n",
                image("postgres:15"),
                image("redis:7")
            ),
        );
        Stack { dir, name }
    }

    fn onramp(&self, args: &[&str]) -> crate::common::Run {
        run(onramp(self.dir.path())
            .args(args)
            .env("VIRTUAL_ENV", "/nonexistent"))
    }

    fn compose(&self, args: &[&str]) -> crate::common::Run {
        compose(
            self.dir.path(),
            "docker-compose.test.yml",
            Some(&self.name),
            args,
        )
    }

    /// `name id state` of the project's containers, sorted.
    fn containers(&self) -> Vec<String> {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let out = docker(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &filter,
            "--format",
            "{{.Names}} {{.ID}} {{.State}}",
        ]);
        let mut v: Vec<String> = out.unwrap_or_default().lines().map(String::from).collect();
        v.sort();
        v
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--remove-orphans"]);
        let _ = self.onramp(&["down", "--volumes"]);
    }
}

#[test]
fn docker_compose_v2_over_an_onramp_stack_recreates_nothing_and_can_stop_and_remove_it() {
    if !engine_ready() {
        return;
    }
    let s = Stack::new("a", 35020, 35021);
    let g = s.onramp(&["generate"]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    let up = s.onramp(&["up", "--json"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let before = s.containers();
    assert_eq!(before.len(), 2, "{before:?}");
    let r = s.compose(&["up", "-d"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.containers(), before, "v2 recreated onramp's containers");
    assert!(
        !r.stderr.contains("Recreate"),
        "v2 says it recreated: {}",
        r.stderr
    );
    let ps = s.compose(&["ps", "--format", "{{.Name}}"]);
    assert!(
        ps.stdout.contains(&format!("{}-postgres-1", s.name))
            && ps.stdout.contains(&format!("{}-redis-1", s.name)),
        "{}",
        ps.stdout
    );
    let stop = s.compose(&["stop"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    assert!(s.containers().iter().all(|c| c.ends_with(" exited")));
    // onramp starts the stopped containers again, the same ones.
    let again = s.onramp(&["up", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let ids = |v: Vec<String>| -> Vec<String> {
        v.iter()
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(ids(s.containers()), ids(before));
    let down = s.compose(&["down"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(s.containers().is_empty(), "{:?}", s.containers());
}

#[test]
fn onramp_up_over_a_compose_v2_stack_adopts_it_and_recreates_nothing() {
    if !engine_ready() {
        return;
    }
    let s = Stack::new("b", 35030, 35031);
    let g = s.onramp(&["generate"]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    let r = s.compose(&["up", "-d"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = s.containers();
    assert_eq!(before.len(), 2, "{before:?}");
    let up = s.onramp(&["up", "--json"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let doc = json(&up);
    for svc in doc["services"].as_array().unwrap() {
        assert_eq!(svc["action"], "adopted", "{svc}");
    }
    assert_eq!(s.containers(), before, "onramp recreated v2's containers");
    // And v2 again over them: still nothing recreated.
    let r = s.compose(&["up", "-d"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.containers(), before);
    let down = s.onramp(&["down"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(s.containers().is_empty(), "{:?}", s.containers());
}

#[test]
fn a_team_compose_file_interoperates_with_v2_both_ways() {
    if !engine_ready() {
        return;
    }
    let fixtures = Path::new(ROOT).join("tests/fixtures/compose");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "docker-compose.yml",
        &std::fs::read_to_string(fixtures.join("docker-compose.yml")).unwrap(),
    );
    let name = format!("parityc{}", std::process::id());
    let envs = [
        ("COMPOSE_PROJECT_NAME", name.clone()),
        ("REGISTRY", crate::common::registry()),
        ("PG_PORT", "35040".to_string()),
        ("REDIS_PORT", "35041".to_string()),
    ];
    let v2 = |args: &[&str]| {
        let mut cmd = Command::new("docker");
        cmd.current_dir(d)
            .args(["compose", "-f", "docker-compose.yml"])
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())));
        run(&mut cmd)
    };
    let ours = |args: &[&str]| {
        run(onramp(d)
            .args(args)
            .args(["--compose", "docker-compose.yml"])
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str()))))
    };
    let ids = || {
        let filter = format!("label=com.docker.compose.project={name}");
        let mut v: Vec<String> = docker(&["ps", "-aq", "--no-trunc", "--filter", &filter])
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    let result = std::panic::catch_unwind(|| {
        let up = ours(&["up", "--json", "postgres", "redis"]);
        assert_eq!(up.code, 0, "{}", up.stderr);
        let before = ids();
        assert_eq!(before.len(), 2);
        let r = v2(&["up", "-d", "postgres", "redis"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(ids(), before, "v2 recreated onramp's containers");
        let r = v2(&["down"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(ids().is_empty());
        let r = v2(&["up", "-d", "postgres", "redis"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let before = ids();
        let up = ours(&["up", "--json", "postgres", "redis"]);
        assert_eq!(up.code, 0, "{}", up.stderr);
        for svc in json(&up)["services"].as_array().unwrap() {
            assert_eq!(svc["action"], "adopted", "{svc}");
        }
        assert_eq!(ids(), before, "onramp recreated v2's containers");
    });
    let _ = v2(&["down", "-v", "--remove-orphans"]);
    let _ = ours(&["down", "--volumes"]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
