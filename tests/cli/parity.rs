//! Compose parity: the config hash onramp writes is the one Compose v2's `up` writes (every
//! shipped profile, the Compose fixtures, every service of the corpus files); `docker compose
//! up -d` over a stack onramp started recreates nothing and `onramp up` over a stack Compose v2
//! started recreates nothing (shipped profiles, the fixture, two corpus files); docker-compose
//! 1.29 lists, stops and removes onramp's containers and onramp adopts 1.29's without
//! recreating them; and the generated compose file (`docker compose config`) agrees with what
//! `up` created (`docker inspect`). Compose v2 is Debian 13's plugin (scripts/provision.sh).
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
volumes = ["app_data:/data", "./conf:/etc/app:ro", "/srv/shared:/shared:ro,z", "/cache", "type=tmpfs,target=/scratch,tmpfs-size=1000000", "type=bind,source=./conf,target=/conf2,readonly,bind-propagation=rshared"]
expose = ["9000", "9001/udp"]
cap_add = ["SYS_PTRACE"]
cap_drop = ["MKNOD"]
security_opt = ["no-new-privileges:true"]
privileged = true
init = true
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

/// The hash `docker compose up` writes (`com.docker.compose.config-hash`) for each service of
/// the file. Compose's `ServiceHash` is the sha256 of the service as compose-go marshals it
/// (build, pull_policy, scale and deploy.replicas dropped) after `env_file` is merged into
/// `environment` and dropped; `docker compose config --format json` prints that same value
/// (indented, each `$` doubled), so compacting its text back gives the bytes Compose hashes.
/// (`config --hash` does not merge `env_file`: for such a service it differs from what `up`
/// writes, which is what the other side compares.)
fn up_hashes(dir: &Path, file: &str, envs: &[(&str, String)]) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    let mut cmd = Command::new("docker");
    cmd.current_dir(dir)
        .args(["compose", "-f", file, "config", "--format", "json"])
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())));
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "docker compose config: {}", r.stderr);
    let text = go_compact(&r.stdout).replace("$$", "$");
    let services = members(&text)
        .into_iter()
        .find(|(k, _)| k == "\"services\"")
        .expect("services")
        .1;
    members(services)
        .into_iter()
        .map(|(name, body)| {
            let kept: Vec<String> = members(body)
                .into_iter()
                .filter(|(k, _)| {
                    !["\"build\"", "\"pull_policy\"", "\"scale\""].contains(&k.as_str())
                })
                .map(|(k, v)| match k.as_str() {
                    "\"deploy\"" => format!("{k}:{}", without(v, "\"replicas\"")),
                    _ => format!("{k}:{v}"),
                })
                .collect();
            let json = format!("{{{}}}", kept.join(","));
            let hash: String = Sha256::digest(json.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (name.trim_matches('"').to_string(), hash)
        })
        .collect()
}

/// The services of the file that name an `env_file` (from the model before it is merged).
fn env_file_services(dir: &Path, file: &str, envs: &[(&str, String)]) -> Vec<String> {
    let mut cmd = Command::new("docker");
    cmd.current_dir(dir)
        .args([
            "compose",
            "-f",
            file,
            "config",
            "--no-interpolate",
            "--format",
            "json",
        ])
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())));
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "docker compose config: {}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    doc["services"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| s.get("env_file").is_some())
        .map(|(n, _)| n.clone())
        .collect()
}

/// An object's text without one member.
fn without(obj: &str, key: &str) -> String {
    let kept: Vec<String> = members(obj)
        .into_iter()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    format!("{{{}}}", kept.join(","))
}

/// Go's `json.Compact`: the whitespace outside strings removed.
fn go_compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_str, mut escaped) = (false, false);
    for c in text.chars() {
        if in_str {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
        } else if !c.is_ascii_whitespace() {
            in_str = c == '"';
            out.push(c);
        }
    }
    out
}

/// The members of a compact JSON object as (key with its quotes, value text), in order.
fn members(obj: &str) -> Vec<(String, &str)> {
    let b = obj.as_bytes();
    let mut out = Vec::new();
    let mut i = 1;
    while i < b.len() && b[i] != b'}' {
        let key_end = value_end(b, i);
        let key = obj[i..key_end].to_string();
        let end = value_end(b, key_end + 1);
        out.push((key, &obj[key_end + 1..end]));
        i = end + usize::from(b.get(end) == Some(&b','));
    }
    out
}

/// Where the JSON value starting at `i` ends.
fn value_end(b: &[u8], mut i: usize) -> usize {
    let (mut depth, mut in_str, mut escaped) = (0i32, false, false);
    while i < b.len() {
        let c = b[i];
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => {
                    in_str = false;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => return i,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                b',' | b':' if depth == 0 => return i,
                _ => {}
            }
        }
        i += 1;
    }
    i
}

/// A copy of a folder (files and subfolders) under `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// onramp's hashes (`generate --dry-run --json`) for a Compose file, or its refusal.
fn onramp_compose_hashes(
    dir: &Path,
    file: &str,
    envs: &[(&str, String)],
) -> Result<BTreeMap<String, String>, String> {
    let r = run(onramp(dir)
        .args(["--compose", file, "generate", "--dry-run", "--json"])
        .env("VIRTUAL_ENV", "/nonexistent")
        .env_remove("COMPOSE_PROFILES")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str()))));
    if r.code != 0 {
        return Err(r.stderr);
    }
    Ok(json(&r)["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["config_hash"].as_str().unwrap().to_string(),
            )
        })
        .collect())
}

#[test]
fn the_config_hash_is_the_one_compose_v2_up_writes_for_every_corpus_service() {
    if !compose_v2() {
        return;
    }
    let (mut compared, mut checked_oracle) = (0, 0);
    let mut table = Vec::new();
    for (i, case) in crate::corpus::CASES.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        copy_tree(&Path::new(crate::corpus::CORPUS).join(case.dir), d);
        let envs = [("COMPOSE_PROJECT_NAME", format!("corpus{i}"))];
        let config = compose_hashes(d, case.file, &envs);
        let up = up_hashes(d, case.file, &envs);
        let with_env_file = env_file_services(d, case.file, &envs);
        assert_eq!(
            config.keys().collect::<Vec<_>>(),
            up.keys().collect::<Vec<_>>()
        );
        // Where no env_file is merged, `config --hash` and the hash of `config`'s service are
        // the same value, so the second is Compose's own hash, not a copy of onramp's.
        for (svc, h) in &config {
            if !with_env_file.contains(svc) {
                assert_eq!(Some(h), up.get(svc), "{}: {svc}: config --hash", case.dir);
                checked_oracle += 1;
            }
        }
        let ours = match onramp_compose_hashes(d, case.file, &envs) {
            Ok(h) => h,
            Err(e) => {
                // A file with a service onramp leaves out is refused by `generate` as a whole.
                let (svc, at) = case
                    .left_out
                    .first()
                    .unwrap_or_else(|| panic!("{}: {e}", case.dir));
                assert!(
                    e.contains(at.split_once(": ").unwrap().1),
                    "{}: {svc}: {e}",
                    case.dir
                );
                table.push(format!("{}: refused ({svc})", case.dir));
                continue;
            }
        };
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            up.keys().collect::<Vec<_>>(),
            "{}",
            case.dir
        );
        let agree = ours.iter().filter(|(s, h)| up.get(*s) == Some(*h)).count();
        table.push(format!("{}: {agree}/{}", case.dir, up.len()));
        for (svc, hash) in &ours {
            assert_eq!(Some(hash), up.get(svc), "{}: {svc}", case.dir);
            compared += 1;
        }
    }
    eprintln!("{}", table.join("\n"));
    assert!(checked_oracle >= 50, "{checked_oracle}");
    assert!(compared >= 66, "only {compared} services compared");
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

/// The `minimal` and `kailash` stacks on this module's ports with images from the local
/// registry (Neo4j stood in for by Redis listening on the Bolt port, probed over TCP), and
/// limits, ulimits, shm and a restart policy on postgres so that they are compared too.
fn inspect_overlay(profile: &str, project: &str, base: u16) -> String {
    let mut text = format!(
        "extends = \"{profile}\"\nproject = \"{project}\"\n\n[services.postgres]\nimage = \"{}\"\nports = [\"{}:5432\"]\nresources = {{ memory = \"512m\", cpus = 1.5 }}\nshm_size = \"128m\"\nulimits = {{ nofile = {{ soft = 4096, hard = 8192 }} }}\nrestart = \"unless-stopped\"\n\n[services.redis]\nimage = \"{}\"\nports = [\"{}:6379\"]\n",
        image("postgres:15"),
        base,
        image("redis:7"),
        base + 1,
    );
    if profile == "kailash" {
        text.push_str(&format!(
            "\n[services.chroma]\nimage = \"{}\"\nports = [\"{}:8000\"]\n\n[services.neo4j]\nimage = \"{}\"\ncommand = [\"redis-server\", \"--port\", \"7687\"]\nports = [\"{}:7474\", \"{}:7687\"]\nprobe = {{ kind = \"tcp\", port = 7687 }}\n",
            image("chroma:1.5.9"),
            base + 2,
            image("redis:7"),
            base + 3,
            base + 4,
        ));
    }
    text
}

/// What `docker compose config` says of one service and what `docker inspect` says of its
/// container agree: image, command, entrypoint, env, ports, volumes, healthcheck, labels,
/// limits.
fn agree(svc: &str, want: &serde_json::Value, got: &serde_json::Value, project: &str) {
    let want = &unescape_dollars(want.clone());
    let cfg = &got["Config"];
    let host = &got["HostConfig"];
    assert_eq!(want["image"], cfg["Image"], "{svc}: image");
    for key in ["command", "entrypoint"] {
        let field = if key == "command" {
            "Cmd"
        } else {
            "Entrypoint"
        };
        if !want[key].is_null() {
            assert_eq!(want[key], cfg[field], "{svc}: {key}");
        }
    }
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    for (k, v) in want["environment"].as_object().into_iter().flatten() {
        let pair = format!("{k}={}", v.as_str().unwrap_or_default());
        assert!(env.contains(&pair.as_str()), "{svc}: env {k} ({env:?})");
    }
    let mut ports: Vec<(String, String, String)> = Vec::new();
    for (key, binds) in host["PortBindings"].as_object().into_iter().flatten() {
        for b in binds.as_array().into_iter().flatten() {
            ports.push((
                key.clone(),
                b["HostIp"].as_str().unwrap_or_default().to_string(),
                b["HostPort"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    ports.sort();
    let mut wanted: Vec<(String, String, String)> = want["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                format!("{}/{}", p["target"], p["protocol"].as_str().unwrap()),
                p["host_ip"].as_str().unwrap_or_default().to_string(),
                p["published"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    wanted.sort();
    assert_eq!(wanted, ports, "{svc}: ports");
    let mounts = got["Mounts"].as_array().unwrap();
    for v in want["volumes"].as_array().into_iter().flatten() {
        let target = v["target"].as_str().unwrap();
        let m = mounts
            .iter()
            .find(|m| m["Destination"] == target)
            .unwrap_or_else(|| panic!("{svc}: no mount at {target}: {mounts:?}"));
        assert_eq!(m["Type"], v["type"], "{svc}: {target} type");
        if v["type"] == "volume" {
            let name = format!("{project}_{}", v["source"].as_str().unwrap());
            assert_eq!(m["Name"], name.as_str(), "{svc}: {target} volume");
        } else {
            assert_eq!(m["Source"], v["source"], "{svc}: {target} source");
        }
        assert_eq!(
            m["RW"].as_bool(),
            Some(!v["read_only"].as_bool().unwrap_or(false)),
            "{svc}: {target} read-only"
        );
    }
    let hc = &want["healthcheck"];
    let dhc = &cfg["Healthcheck"];
    assert_eq!(hc["test"], dhc["Test"], "{svc}: healthcheck test");
    assert_eq!(hc["retries"], dhc["Retries"], "{svc}: healthcheck retries");
    for (key, field) in [("interval", "Interval"), ("timeout", "Timeout")] {
        let secs: u64 = hc[key]
            .as_str()
            .unwrap()
            .trim_end_matches('s')
            .parse()
            .unwrap();
        assert_eq!(
            dhc[field].as_u64(),
            Some(secs * 1_000_000_000),
            "{svc}: {key}"
        );
    }
    for (k, v) in want["labels"].as_object().into_iter().flatten() {
        assert_eq!(&cfg["Labels"][k], v, "{svc}: label {k}");
    }
    let limits = &want["deploy"]["resources"]["limits"];
    let memory: i64 = limits["memory"].as_str().map_or(0, |m| m.parse().unwrap());
    assert_eq!(host["Memory"].as_i64(), Some(memory), "{svc}: memory");
    let cpus = limits["cpus"]
        .as_f64()
        .map_or(0, |c| (c * 1e9).round() as i64);
    assert_eq!(host["NanoCpus"].as_i64(), Some(cpus), "{svc}: cpus");
    let shm = want["shm_size"].as_str().map(|s| s.parse::<i64>().unwrap());
    if let Some(shm) = shm {
        assert_eq!(host["ShmSize"].as_i64(), Some(shm), "{svc}: shm_size");
    }
    for (name, u) in want["ulimits"].as_object().into_iter().flatten() {
        let d = host["Ulimits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["Name"] == name.as_str())
            .unwrap_or_else(|| panic!("{svc}: no ulimit {name}"));
        assert_eq!(
            (&d["Soft"], &d["Hard"]),
            (&u["soft"], &u["hard"]),
            "{svc}: {name}"
        );
    }
    if let Some(r) = want["restart"].as_str() {
        assert_eq!(host["RestartPolicy"]["Name"], r, "{svc}: restart");
    }
    assert_eq!(
        cfg["Labels"]["com.docker.compose.config-hash"],
        got["Config"]["Labels"]["dev.onramp.config-hash"],
        "{svc}: hashes"
    );
}

/// `docker compose config` writes `$` as `$$` (so that its output reads back the same); the
/// values themselves have one.
fn unescape_dollars(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(s.replace("$$", "$")),
        Value::Array(a) => Value::Array(a.into_iter().map(unescape_dollars).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, unescape_dollars(v)))
                .collect(),
        ),
        other => other,
    }
}

#[test]
fn the_generated_file_and_ups_containers_agree_for_every_shipped_profile() {
    if !engine_ready() {
        return;
    }
    // Every shipped profile that has services to start is brought up here (with the test
    // images standing in): a new one fails this until `inspect_overlay` knows it.
    let covered = ["kailash", "minimal"];
    let mut expected = 0;
    for name in shipped_profiles() {
        let tmp = tempfile::tempdir().unwrap();
        let r = run(onramp(tmp.path())
            .args(["--profile", &name, "generate", "--dry-run", "--json"])
            .env("VIRTUAL_ENV", "/nonexistent"));
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let n = json(&r)["services"].as_array().unwrap().len();
        assert_eq!(
            n > 0,
            covered.contains(&name.as_str()),
            "shipped profile {name} ({n} services to start) must be compared here"
        );
        expected += n;
    }
    let mut compared = 0;
    for (i, profile) in covered.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let project = format!("inspect{i}{}", std::process::id());
        write(
            d,
            "onramp.toml",
            &inspect_overlay(profile, &project, 35100 + 10 * i as u16),
        );
        let down = || {
            run(onramp(d)
                .args(["down", "--volumes"])
                .env("VIRTUAL_ENV", "/nonexistent"))
        };
        let result = std::panic::catch_unwind(|| {
            let g = run(onramp(d).arg("generate").env("VIRTUAL_ENV", "/nonexistent"));
            assert_eq!(g.code, 0, "{}", g.stderr);
            let up = run(onramp(d).args(["up", "--json"]));
            assert_eq!(up.code, 0, "{}", up.stderr);
            let cfg = compose(
                d,
                "docker-compose.test.yml",
                None,
                &["config", "--format", "json"],
            );
            assert_eq!(cfg.code, 0, "{}", cfg.stderr);
            let cfg: serde_json::Value = serde_json::from_str(&cfg.stdout).unwrap();
            assert_eq!(cfg["name"], project.as_str());
            let services = cfg["services"].as_object().unwrap();
            let mut n = 0;
            for (name, want) in services {
                let container = format!("{project}-{name}-1");
                let out = docker(&["inspect", &container]).unwrap_or_else(|| panic!("{container}"));
                let got: serde_json::Value = serde_json::from_str(&out).unwrap();
                agree(name, want, &got[0], &project);
                n += 1;
            }
            n
        });
        down();
        match result {
            Ok(n) => compared += n,
            Err(e) => std::panic::resume_unwind(e),
        }
    }
    assert_eq!(compared, expected, "every service of every shipped profile");
}

/// A corpus file brought up for real: a copy whose images are the test images and whose host
/// ports are this module's (the same file for onramp, Compose v2 and docker-compose 1.29),
/// removed (whoever made its containers) when dropped.
struct Corpus {
    dir: tempfile::TempDir,
    file: &'static str,
    name: String,
    services: Vec<&'static str>,
}

impl Corpus {
    /// `edits` are (text in the file, its replacement).
    fn new(
        case: &str,
        file: &'static str,
        services: &[&'static str],
        edits: &[(&str, String)],
    ) -> Corpus {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&Path::new(crate::corpus::CORPUS).join(case), dir.path());
        let path = dir.path().join(file);
        let mut text = std::fs::read_to_string(&path).unwrap();
        for (from, to) in edits {
            assert!(text.contains(from), "{case}: no {from}");
            text = text.replacen(from, to, 1);
        }
        std::fs::write(&path, text).unwrap();
        let name = format!("corpus{}{}", case.replace('-', ""), std::process::id());
        Corpus {
            dir,
            file,
            name,
            services: services.to_vec(),
        }
    }

    fn envs(&self) -> [(&'static str, String); 1] {
        [("COMPOSE_PROJECT_NAME", self.name.clone())]
    }

    fn onramp_up(&self) -> serde_json::Value {
        let r = run(onramp(self.dir.path())
            .args(["--compose", self.file, "up", "--json"])
            .args(&self.services)
            .env("VIRTUAL_ENV", "/nonexistent")
            .env_remove("COMPOSE_PROFILES")
            .envs(self.envs()));
        assert_eq!(r.code, 0, "{}: onramp up: {}", self.name, r.stderr);
        json(&r)
    }

    /// `docker compose` (v2) or `docker-compose` (1.29) with the file and ARGS.
    fn tool(&self, v1: bool, args: &[&str]) -> crate::common::Run {
        let mut cmd = if v1 {
            Command::new("docker-compose")
        } else {
            let mut c = Command::new("docker");
            c.arg("compose");
            c
        };
        cmd.current_dir(self.dir.path())
            .args(["-f", self.file])
            .args(args)
            .env_remove("COMPOSE_PROFILES")
            .envs(self.envs());
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{}: {args:?}: {}", self.name, r.stderr);
        r
    }

    fn up_with(&self, v1: bool) {
        let mut args = vec!["up", "-d"];
        args.extend(&self.services);
        self.tool(v1, &args);
    }

    /// `name id state` of the project's containers, sorted by service.
    fn containers(&self) -> Vec<(String, String, String)> {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let out = docker(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &filter,
            "--format",
            "{{.Label \"com.docker.compose.service\"}} {{.ID}} {{.State}} {{.Names}}",
        ])
        .unwrap_or_default();
        let mut v: Vec<(String, String, String)> = out
            .lines()
            .filter_map(|l| {
                let mut w = l.split(' ');
                Some((w.next()?.into(), w.next()?.into(), w.next()?.into()))
            })
            .collect();
        v.sort();
        v
    }

    /// The named volumes the project's containers mount, sorted.
    fn volumes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .ids()
            .iter()
            .filter_map(|id| {
                docker(&[
                    "inspect",
                    id,
                    "--format",
                    "{{range .Mounts}}{{.Name}} {{end}}",
                ])
            })
            .flat_map(|s| s.split_whitespace().map(String::from).collect::<Vec<_>>())
            .collect();
        v.sort();
        v
    }

    fn ids(&self) -> Vec<String> {
        self.containers().into_iter().map(|c| c.1).collect()
    }

    /// How many of `before`'s containers are gone (recreated or removed).
    fn replaced(&self, before: &[String]) -> usize {
        let now = self.ids();
        before.iter().filter(|id| !now.contains(id)).count()
    }
}

impl Drop for Corpus {
    fn drop(&mut self) {
        for v1 in [false, true] {
            let mut cmd = if v1 {
                Command::new("docker-compose")
            } else {
                let mut c = Command::new("docker");
                c.arg("compose");
                c
            };
            let _ = cmd
                .current_dir(self.dir.path())
                .args(["-f", self.file, "down", "-v", "--remove-orphans", "-t", "1"])
                .envs(self.envs())
                .output();
        }
    }
}

/// saleor-platform's `db` (a short bind with `ro,z`, a named volume, a custom network) and
/// `cache`; netbox-docker's `postgres` (its environment from an `env_file`).
/// Host ports from `base` (three).
fn corpus_stacks(base: u16) -> Vec<Corpus> {
    let (pg, redis) = (image("postgres:15"), image("redis:7"));
    vec![
        Corpus::new(
            "saleor-platform",
            "docker-compose.yml",
            &["db", "cache"],
            &[
                ("library/postgres:15-alpine", pg.clone()),
                ("valkey/valkey:8.1-alpine", redis),
                ("- 5432:5432", format!("- {base}:5432")),
                ("- 6379:6379", format!("- {}:6379", base + 1)),
            ],
        ),
        Corpus::new(
            "netbox-docker",
            "docker-compose.yml",
            &["postgres"],
            &[
                ("docker.io/postgres:16-alpine", pg),
                (
                    "    env_file: env/postgres.env\n",
                    format!(
                        "    env_file: env/postgres.env\n    ports: [\"{}:5432\"]\n",
                        base + 2
                    ),
                ),
            ],
        ),
    ]
}

#[test]
fn corpus_files_interoperate_with_compose_v2_both_ways() {
    if !engine_ready() {
        return;
    }
    for c in corpus_stacks(35060) {
        let n = c.services.len();
        for s in c.onramp_up()["services"].as_array().unwrap() {
            assert_eq!(s["action"], "created", "{}: {s}", c.name);
        }
        let before = c.ids();
        assert_eq!(before.len(), n, "{:?}", c.containers());
        c.up_with(false);
        let recreated = c.replaced(&before);
        eprintln!(
            "{}: docker compose up -d over onramp's: {recreated}/{n} recreated",
            c.name
        );
        assert_eq!(recreated, 0, "{}: v2 recreated onramp's containers", c.name);
        c.tool(false, &["down", "-t", "1"]);
        assert!(c.ids().is_empty());
        c.up_with(false);
        let before = c.ids();
        let doc = c.onramp_up();
        for s in doc["services"].as_array().unwrap() {
            assert_eq!(s["action"], "adopted", "{}: {s}", c.name);
            assert_eq!(s["state"], "ready", "{}: {s}", c.name);
        }
        let recreated = c.replaced(&before);
        eprintln!(
            "{}: onramp up over docker compose's: {recreated}/{n} recreated",
            c.name
        );
        assert_eq!(recreated, 0, "{}: onramp recreated v2's containers", c.name);
        assert_eq!(c.ids(), before, "{}: no duplicates", c.name);
    }
}

/// docker-compose 1.29 hashes its own service config (not v2's, which onramp writes): its
/// `up -d` recreates onramp's containers once (keeping their volumes); `onramp up` then adopts
/// 1.29's containers by comparing their configuration, and neither recreates the other's after.
#[test]
fn corpus_files_interoperate_with_docker_compose_1_29() {
    if !engine_ready() {
        return;
    }
    if Command::new("docker-compose")
        .arg("version")
        .output()
        .is_err()
    {
        skip_or_fail("no docker-compose 1.29 (scripts/provision.sh installs it)");
        return;
    }
    // netbox's postgres alone: its environment comes from an env_file (1.29 reads it too).
    for c in corpus_stacks(35070).into_iter().skip(1) {
        let n = c.services.len();
        c.onramp_up();
        let ours = c.ids();
        let volumes = c.volumes();
        assert!(!volumes.is_empty());
        let ps = c.tool(true, &["ps"]);
        for s in &c.services {
            assert!(
                ps.stdout.contains(&format!("{}-{s}-1", c.name)),
                "{}",
                ps.stdout
            );
        }
        c.tool(true, &["stop", "-t", "1"]);
        assert!(
            c.containers().iter().all(|x| x.2 == "exited"),
            "{:?}",
            c.containers()
        );
        c.tool(true, &["start"]);
        c.up_with(true);
        let recreated = c.replaced(&ours);
        eprintln!(
            "{}: docker-compose 1.29 up -d over onramp's: {recreated}/{n} recreated",
            c.name
        );
        assert_eq!(
            c.ids().len(),
            n,
            "{}: no duplicates: {:?}",
            c.name,
            c.containers()
        );
        assert_eq!(c.volumes(), volumes, "{}: 1.29 kept the volumes", c.name);
        let theirs = c.ids();
        let doc = c.onramp_up();
        for s in doc["services"].as_array().unwrap() {
            assert_eq!(s["action"], "adopted", "{}: {s}", c.name);
        }
        let again = c.replaced(&theirs);
        eprintln!(
            "{}: onramp up over docker-compose 1.29's: {again}/{n} recreated",
            c.name
        );
        assert_eq!(again, 0, "{}: onramp recreated 1.29's containers", c.name);
        c.up_with(true);
        assert_eq!(
            c.replaced(&theirs),
            0,
            "{}: 1.29 recreated what onramp adopted",
            c.name
        );
        c.tool(true, &["down", "-t", "1"]);
        assert!(c.ids().is_empty(), "{}: {:?}", c.name, c.containers());
    }
}

/// An env file with what Compose's dotenv parser does (interpolation from the lines above and
/// the environment, quotes, escapes, `export`, `KEY: value`, bare keys, comments), and
/// `environment` names without a value (set from the environment, or `null` over the file's
/// value when nothing sets them): onramp's hash is the one Compose v2's `up` writes.
#[test]
fn env_files_are_read_as_compose_reads_them() {
    if !compose_v2() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "app/vars.env",
        "# comment\nA=1\nexport B=\"two words\"\nC='x#y'\nD=v # note\nE=a#b\n\n  F :  yaml style\nG=\nH=${A}x\nI=\"${FROM_ENV}/${A}\"\nJ='${A}'\nK=${NOPE:-dflt}\nL=$$A\nM=\"\\$A\"\nFROM_ENV\nMISSING\nO=\"\\\"q\\\" \\\\ \\0101\\x\"\nQ='it\\'s'\nONRAMP_T_GONE=from-file\n",
    );
    write(
        d,
        "app/compose.yml",
        "services:\n  s:\n    image: x:1\n    env_file: [vars.env, {path: absent.env, required: false}]\n    environment:\n      A: from-environment\n      FROM_ENV:\n      ONRAMP_T_GONE:\n      ONRAMP_T_NEVER:\n",
    );
    let envs = [
        ("COMPOSE_PROJECT_NAME", "envfiles".to_string()),
        ("FROM_ENV", "outside".to_string()),
    ];
    let theirs = up_hashes(&d.join("app"), "compose.yml", &envs);
    let ours = onramp_compose_hashes(d, "app/compose.yml", &envs).unwrap();
    assert_eq!(ours.get("s"), theirs.get("s"));
    let config = compose_hashes(&d.join("app"), "compose.yml", &envs);
    assert_ne!(
        config.get("s"),
        theirs.get("s"),
        "config --hash does not merge env files"
    );
}

/// `network_mode: service:a`: Compose v2 makes `b` depend on `a` and hashes `b` with `a`'s
/// container id; so does onramp, and neither recreates the other's `b`.
#[test]
fn a_shared_network_namespace_interoperates_with_v2_both_ways() {
    if !engine_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let redis = image("redis:7");
    write(
        d,
        "compose.yml",
        &format!(
            "services:\n  a:\n    image: {redis}\n    ports: [\"35090:6379\"]\n  b:\n    image: {redis}\n    network_mode: service:a\n    command: [\"redis-server\", \"--port\", \"6390\"]\n"
        ),
    );
    let name = format!("paritysh{}", std::process::id());
    let envs = [("COMPOSE_PROJECT_NAME", name.clone())];
    let v2 = |args: &[&str]| {
        let mut cmd = Command::new("docker");
        cmd.current_dir(d)
            .args(["compose", "-f", "compose.yml"])
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())));
        run(&mut cmd)
    };
    let ours = || {
        let r = run(onramp(d)
            .args(["--compose", "compose.yml", "up", "--json"])
            .env("VIRTUAL_ENV", "/nonexistent")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str()))));
        assert_eq!(r.code, 0, "{}", r.stderr);
        json(&r)
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
        ours();
        let before = ids();
        assert_eq!(before.len(), 2);
        let r = v2(&["up", "-d"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            ids(),
            before,
            "v2 recreated onramp's containers: {}",
            r.stderr
        );
        let r = v2(&["down", "-t", "1"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = v2(&["up", "-d"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let before = ids();
        for s in ours()["services"].as_array().unwrap() {
            assert_eq!(s["action"], "adopted", "{s}");
        }
        assert_eq!(ids(), before, "onramp recreated v2's containers");
    });
    let _ = v2(&["down", "-v", "-t", "1"]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
