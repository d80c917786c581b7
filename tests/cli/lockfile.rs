//! `lock`, `verify` and `report` against the real engine, the local registry and a real venv:
//! ten drifts induced one at a time on a freshly-up machine, each found with its fix, none on
//! the clean machine; twenty secrets seeded everywhere a report reads, none in its archive.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{docker, image, json, onramp, registry, run, skip_or_fail, write};

const PG: u16 = 35432;
const REDIS: u16 = 36379;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

/// `scripts/images.sh scratch ...`: the one way these tests write to the registry.
fn scratch(args: &[&str]) {
    let out = Command::new(root().join("scripts/images.sh"))
        .arg("scratch")
        .args(args)
        .output()
        .expect("images.sh runs");
    assert!(
        out.status.success(),
        "images.sh scratch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sh(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A project whose containers, volumes and scratch images go when it is dropped.
struct Project {
    dir: tempfile::TempDir,
    name: String,
    scratch: Vec<String>,
}

impl Project {
    fn new(tag: &str, profile: impl Fn(&str) -> String) -> Project {
        let name = format!("onrampt{tag}{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "onramp.toml", &profile(&name));
        Project {
            dir,
            name,
            scratch: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn onramp(&self, args: &[&str]) -> crate::common::Run {
        run(onramp(self.path())
            .args(args)
            .env("VIRTUAL_ENV", "/nonexistent"))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.onramp(&["down", "--volumes"]);
        for s in &self.scratch {
            let _ = Command::new(root().join("scripts/images.sh"))
                .args(["scratch", "drop", s])
                .output();
        }
    }
}

/// The failing checks of a `verify --json` run, as `KIND:SUBJECT` ids, each with its fix.
fn drifts(p: &Project, args: &[&str]) -> Vec<String> {
    let mut all = vec!["verify", "--json"];
    all.extend(args);
    let r = p.onramp(&all);
    let doc = json(&r);
    let failing: Vec<&serde_json::Value> = doc["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("{doc}"))
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    for c in &failing {
        assert!(
            c["remedy"].as_str().is_some_and(|r| !r.is_empty()),
            "a drift without a fix: {c}"
        );
    }
    assert_eq!(r.code, if failing.is_empty() { 0 } else { 1 }, "{doc}");
    assert_eq!(doc["drifts"], failing.len(), "{doc}");
    failing
        .iter()
        .map(|c| c["id"].as_str().unwrap_or("").to_string())
        .collect()
}

fn has(found: &[String], kind: &str) -> bool {
    found.iter().any(|d| d.split(':').next() == Some(kind))
}

fn edit(path: &Path, from: &str, to: &str) -> String {
    let before = std::fs::read_to_string(path).unwrap();
    assert!(
        before.contains(from),
        "{from} in {}:\n{before}",
        path.display()
    );
    std::fs::write(path, before.replacen(from, to, 1)).unwrap();
    before
}

/// The value of `key = "..."` in the first `[[image]]` table of the lock that has `reference`.
fn lock_value(lock: &str, reference: &str, key: &str) -> String {
    let table = lock
        .split("[[image]]")
        .find(|t| t.contains(&format!("reference = \"{reference}\"")))
        .unwrap_or_else(|| panic!("{reference} in\n{lock}"));
    table
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{key} in\n{table}"))
        .to_string()
}

/// A project venv with the SDK from the test wheelhouse.
fn make_venv(dir: &Path) -> Option<String> {
    let wheels = std::env::var("ONRAMP_TEST_WHEELS").ok()?;
    sh(dir, "python3", &["-m", "venv", ".venv"]);
    let py = dir.join(".venv/bin/python").display().to_string();
    sh(
        dir,
        &py,
        &[
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            &wheels,
            "kailash",
        ],
    );
    Some(wheels)
}

fn drift_profile(name: &str, redis: &str) -> String {
    format!(
        r#"extends = "minimal"
project = "{name}"

[services.postgres]
image = "{pg}"
ports = ["{PG}:5432"]
timeout = "60s"

[services.redis]
image = "{redis}"
ports = ["{REDIS}:6379"]
"#,
        pg = image("postgres:15"),
    )
}

#[test]
fn verify_finds_ten_induced_drifts_and_none_on_a_clean_machine() {
    if !engine_ready() {
        return;
    }
    let scratch_name = format!("lock{}/redis:7", std::process::id());
    let redis = format!("{}/onramp-test/scratch/{scratch_name}", registry());
    scratch(&["push", &image("redis:7"), &scratch_name]);
    let mut p = Project::new("lock", |n| drift_profile(n, &redis));
    p.scratch.push(scratch_name.clone());
    let dir = p.path().to_path_buf();
    let Some(wheels) = make_venv(&dir) else {
        skip_or_fail("ONRAMP_TEST_WHEELS is not set (scripts/test.sh sets it)");
        return;
    };
    let py = dir.join(".venv/bin/python").display().to_string();

    assert_eq!(p.onramp(&["generate"]).code, 0);
    let r = p.onramp(&["lock", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let lock_path = dir.join("onramp.lock");
    let lock = std::fs::read_to_string(&lock_path).unwrap();
    assert!(lock.contains("name = \"kailash\""), "{lock}");
    assert!(lock.contains("[python]"), "{lock}");
    let pg_digest = lock_value(&lock, &image("postgres:15"), "digest");
    let redis_digest = lock_value(&lock, &redis, "digest");
    assert!(pg_digest.starts_with("\"sha256:"), "{pg_digest}");
    assert_eq!(p.onramp(&["lock", "--check"]).code, 0);
    p.scratch.push(format!(
        "lock{}/redis@{}",
        std::process::id(),
        redis_digest.trim_matches('"')
    ));
    let r = p.onramp(&["up"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // up ran the locked images by digest.
    let running = docker(&[
        "inspect",
        "-f",
        "{{.Config.Image}}",
        &format!("{}-redis-1", p.name),
    ])
    .unwrap();
    assert_eq!(
        running.trim(),
        format!(
            "{}@{}",
            redis.trim_end_matches(":7"),
            redis_digest.trim_matches('"')
        )
    );

    // A clean, freshly-up machine: no drift at all.
    assert_eq!(drifts(&p, &[]), Vec::<String>::new());
    let mut found = Vec::new();

    // 1. A moved tag: the registry's tag now names another image, and so does the local tag.
    let moved = format!("FROM {redis}\nLABEL dev.onramp.test.moved=1\n");
    let mut build = Command::new("docker")
        .args(["build", "-q", "-t", &redis, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(build.stdin.as_mut().unwrap(), moved.as_bytes()).unwrap();
    drop(build.stdin.take());
    assert!(build.wait().unwrap().success());
    let moved_id = docker(&["image", "inspect", "-f", "{{.Id}}", &redis]).unwrap();
    scratch(&["push", &redis, &scratch_name]);
    let d = drifts(&p, &["--online"]);
    assert!(has(&d, "image.tag"), "moved tag: {d:?}");
    found.push("moved tag");
    let pinned_redis = format!(
        "{}@{}",
        redis.trim_end_matches(":7"),
        redis_digest.trim_matches('"')
    );
    docker(&["tag", &pinned_redis, &redis]).expect("tag back");
    let _ = docker(&["rmi", moved_id.trim()]);
    assert_eq!(
        drifts(&p, &[]),
        Vec::<String>::new(),
        "after the tag is back"
    );

    // 2. Another digest: a teammate's lock pins postgres to an image this machine lacks.
    let before = edit(&lock_path, &pg_digest, &redis_digest);
    let d = drifts(&p, &[]);
    assert!(has(&d, "image.digest"), "another digest: {d:?}");
    found.push("another digest");
    std::fs::write(&lock_path, &before).unwrap();

    // 3. A missing architecture: the lock's index offers no build for this machine.
    let platforms = lock_value(&lock, &image("postgres:15"), "platforms");
    let before = edit(&lock_path, &platforms, "[\"linux/s390x\"]");
    let d = drifts(&p, &[]);
    assert!(has(&d, "image.platform"), "missing architecture: {d:?}");
    found.push("missing architecture");
    std::fs::write(&lock_path, &before).unwrap();

    // 4. An old engine: the lock demands a newer minimum than this engine.
    let before = edit(&lock_path, "minimum = \"20.10\"", "minimum = \"99.0\"");
    let d = drifts(&p, &[]);
    assert!(has(&d, "engine"), "old engine: {d:?}");
    found.push("old engine");
    std::fs::write(&lock_path, &before).unwrap();

    // 5. A stopped service.
    docker(&["stop", "-t", "1", &format!("{}-redis-1", p.name)]).expect("docker stop");
    let d = drifts(&p, &[]);
    assert!(has(&d, "service.running"), "stopped service: {d:?}");
    found.push("stopped service");
    assert_eq!(p.onramp(&["up"]).code, 0);

    // 6. A changed environment value: the profile says another value than the container has.
    let profile_path = dir.join("onramp.toml");
    let before = edit(
        &profile_path,
        "timeout = \"60s\"",
        "timeout = \"60s\"\nenv = { POSTGRES_DB = \"another_db\" }",
    );
    let d = drifts(&p, &[]);
    assert!(
        d.iter().any(|x| x == "service.config:postgres"),
        "changed environment value: {d:?}"
    );
    found.push("changed environment value");
    std::fs::write(&profile_path, &before).unwrap();

    // 7. Another Python: the lock was made with a Python this machine's venv is not.
    let py_line = lock
        .lines()
        .skip_while(|l| *l != "[python]")
        .find(|l| l.starts_with("version = "))
        .unwrap()
        .to_string();
    let before = edit(
        &lock_path,
        &format!("[python]\n{py_line}"),
        "[python]\nversion = \"3.99.0\"",
    );
    let d = drifts(&p, &[]);
    assert!(has(&d, "python"), "another Python: {d:?}");
    found.push("another Python");
    std::fs::write(&lock_path, &before).unwrap();

    // 8. A missing SDK package.
    sh(
        &dir,
        &py,
        &["-m", "pip", "uninstall", "-q", "-y", "kailash"],
    );
    let d = drifts(&p, &[]);
    assert!(
        d.iter().any(|x| x == "package:kailash"),
        "missing SDK package: {d:?}"
    );
    found.push("missing SDK package");
    sh(
        &dir,
        &py,
        &[
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--find-links",
            &wheels,
            "kailash",
        ],
    );

    // 9. An edited shim.
    let shim = dir.join("windows_patch.py");
    let before = std::fs::read_to_string(&shim).unwrap();
    std::fs::write(&shim, format!("{before}\n# edited by hand\n")).unwrap();
    let d = drifts(&p, &[]);
    assert!(has(&d, "shim"), "edited shim: {d:?}");
    found.push("edited shim");
    std::fs::write(&shim, &before).unwrap();

    // 10. A taken port: redis is down and another process holds its port.
    docker(&["stop", "-t", "1", &format!("{}-redis-1", p.name)]).expect("docker stop");
    let listener = std::net::TcpListener::bind(("127.0.0.1", REDIS)).expect("bind the redis port");
    let r = p.onramp(&["verify", "--json"]);
    let doc = json(&r);
    let port = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == format!("port:redis:{REDIS}"))
        .cloned()
        .unwrap();
    assert_eq!(port["status"], "fail", "taken port: {doc}");
    assert!(
        port["remedy"]
            .as_str()
            .unwrap()
            .contains(&std::process::id().to_string()),
        "the holder is named: {port}"
    );
    found.push("taken port");
    drop(listener);
    assert_eq!(p.onramp(&["up"]).code, 0);

    assert_eq!(found.len(), 10, "{found:?}");
    assert_eq!(
        drifts(&p, &[]),
        Vec::<String>::new(),
        "clean again after every repair"
    );
}

#[test]
fn lock_check_fails_with_the_fix_when_the_profile_changed() {
    if !engine_ready() {
        return;
    }
    let p = Project::new("lockcheck", |n| drift_profile(n, &image("redis:7")));
    let r = p.onramp(&["lock", "--check"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("onramp lock"), "{}", r.stderr);
    assert_eq!(p.onramp(&["lock"]).code, 0);
    assert_eq!(p.onramp(&["lock", "--check"]).code, 0);
    let profile = p.path().join("onramp.toml");
    let text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &profile,
        text.replace("timeout = \"60s\"", "timeout = \"61s\""),
    )
    .unwrap();
    let r = p.onramp(&["lock", "--check", "--json"]);
    assert_eq!(r.code, 1);
    assert_eq!(json(&r)["ok"], false);
    assert!(
        r.stderr.contains("stale") && r.stderr.contains("run `onramp lock`"),
        "{}",
        r.stderr
    );
    // A generated compose file names each locked image by digest, as `up` runs it.
    assert_eq!(p.onramp(&["lock"]).code, 0);
    assert_eq!(p.onramp(&["generate", "--force"]).code, 0);
    let compose = std::fs::read_to_string(p.path().join("docker-compose.test.yml")).unwrap();
    assert!(
        compose.contains("/onramp-test/postgres@sha256:"),
        "{compose}"
    );
}

#[test]
fn a_broken_lock_is_bad_input_named_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "onramp.toml", "extends = \"minimal\"\n");
    write(dir.path(), "onramp.lock", "format = 1\nprofile = [\n");
    let r = run(onramp(dir.path()).args(["verify"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("onramp.lock:"), "{}", r.stderr);
    let r = run(onramp(dir.path()).args(["up"]));
    assert_eq!(r.code, 2, "up refuses a broken lock too: {}", r.stderr);
}

/// Where each of the twenty seeded secrets lives.
const SEEDS: [&str; 20] = [
    "seed01-compose-pgpass",
    "seed02-cmd-redispass",
    "seed03-compose-talkpass",
    "seed04-cmdurl-pass",
    "seed05-label-apikey",
    "seed06-label-token",
    "seed07-profile-token",
    "seed08-profile-urlpass",
    "seed09-dotenv-pass",
    "seed10-dotenv-stripe",
    "seed11-dotenv-dsnuser",
    "seed12-dotenv-ghtoken",
    "seed13-log-bearer",
    "seed14-log-indexpass",
    "seed15-log-cliarg",
    "seed16-log-pgpassword",
    "seed17-log-dockerpass",
    "seed18-label-dbpass",
    "seed19-interp-session",
    "seed20-profile-replpass",
];

fn seeded_project(name: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let compose = format!(
        r#"services:
  db:
    image: {pg}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: seed01-compose-pgpass
    labels:
      com.example.db.password: seed18-label-dbpass
    ports:
      - "{PG}:5432"
  cache:
    image: {redis}
    command: ["redis-server", "--requirepass", "seed02-cmd-redispass"]
    ports:
      - "{REDIS}:6379"
  talker:
    image: {pg}
    entrypoint: ["sh", "-c"]
    command: ["echo start; echo login with $$TALK_PASSWORD; echo token $$API_TOKEN; echo session=$$SESSION_SECRET; echo url postgres://bob:seed04-cmdurl-pass@db/x; sleep 3600"]
    environment:
      TALK_PASSWORD: seed03-compose-talkpass
      SESSION_SECRET: ${{SESSION_SECRET}}
    labels:
      com.example.api-key: seed05-label-apikey
      dev.team.auth-token: seed06-label-token
"#,
        pg = image("postgres:15"),
        redis = image("redis:7"),
    );
    write(d, "compose.yml", &compose);
    write(
        d,
        "onramp.toml",
        &format!(
            r#"extends = "minimal"
project = "{name}"
compose = "compose.yml"

[services.db]
env = {{ REPLICATION_PASSWORD = "seed20-profile-replpass" }}
timeout = "60s"

[services.talker]
env = {{ API_TOKEN = "seed07-profile-token", DATABASE_URL = "postgres://app:seed08-profile-urlpass@db:5432/app" }}
"#
        ),
    );
    write(
        d,
        ".env",
        "MY_PASSWORD=seed09-dotenv-pass\nSTRIPE_SECRET_KEY=seed10-dotenv-stripe\nSENTRY_DSN=https://seed11-dotenv-dsnuser@sentry.invalid/1\nexport GITHUB_TOKEN=seed12-dotenv-ghtoken\nSESSION_SECRET=seed19-interp-session\n",
    );
    write(
        d,
        ".onramp/logs/install-engine.log",
        "curl -H 'Authorization: Bearer seed13-log-bearer' https://example.invalid\n\
         pip install --index-url https://ci:seed14-log-indexpass@pypi.internal.invalid/simple kailash\n\
         redis-cli -a seed15-log-cliarg ping\n\
         PGPASSWORD=seed16-log-pgpassword psql -h 127.0.0.1\n\
         docker login --password seed17-log-dockerpass registry.invalid\n",
    );
    (dir, name.to_string())
}

/// Unpack a report archive and return every file's text, by path.
fn unpack(archive: &Path) -> Vec<(String, String)> {
    let out = tempfile::tempdir().unwrap();
    sh(out.path(), "tar", &["-xzf", &archive.display().to_string()]);
    let mut files = Vec::new();
    let mut stack = vec![out.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(out.path()).unwrap().display().to_string();
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                files.push((rel, text));
            }
        }
    }
    files
}

#[test]
fn a_report_of_a_running_project_holds_none_of_twenty_seeded_secrets() {
    if !engine_ready() {
        return;
    }
    let name = format!("onramptreport{}", std::process::id());
    let (dir, name) = seeded_project(&name);
    let p = Project {
        dir,
        name,
        scratch: Vec::new(),
    };
    let r = p.onramp(&["up"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The secrets really are where the report looks: in the container logs too.
    let logs = docker(&["logs", &format!("{}-talker-1", p.name)]).unwrap_or_default();
    assert!(logs.contains("seed03-compose-talkpass"), "{logs}");
    let out = p.path().join("support.tar.gz");
    let r = p.onramp(&["report", "-o", &out.display().to_string(), "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for s in SEEDS {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "{s} printed"
        );
    }
    let files = unpack(&out);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "onramp-report/verdict.txt",
        "onramp-report/doctor.json",
        "onramp-report/plan.json",
        "onramp-report/verify.json",
        "onramp-report/engine/info.json",
        "onramp-report/containers.json",
        "onramp-report/onramp-logs/install-engine.log",
        "onramp-report/versions.txt",
        "onramp-report/project/env",
        "onramp-report/project/compose.yml",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let talker_log = files
        .iter()
        .find(|(n, _)| n.ends_with(&format!("containers/{}-talker-1.log", p.name)))
        .map(|(_, t)| t.clone())
        .unwrap_or_else(|| panic!("the talker's log in {names:?}"));
    assert!(talker_log.contains("login with ***"), "{talker_log}");
    let mut leaks = Vec::new();
    for s in SEEDS {
        for (n, text) in &files {
            if text.contains(s) {
                leaks.push(format!("{s} in {n}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets in the report: {leaks:#?}");
    // The same file is never replaced.
    let again = p.onramp(&["report", "-o", &out.display().to_string()]);
    assert_eq!(again.code, 2, "{}", again.stderr);
}

#[test]
fn a_report_is_made_without_an_engine() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "onramp.toml",
        "extends = \"minimal\"\n[services.postgres]\nenv = { POSTGRES_PASSWORD = \"no-engine-seed-pw\" }\n",
    );
    let r = run(onramp(dir.path())
        .args(["generate"])
        .env("VIRTUAL_ENV", "/nonexistent"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(onramp(dir.path())
        .args(["report", "-o", "r.tar.gz"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files = unpack(&dir.path().join("r.tar.gz"));
    let get = |n: &str| {
        files
            .iter()
            .find(|(f, _)| f == n)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("{n}"))
    };
    assert!(get("onramp-report/engine/unreachable.txt").contains("/nonexistent/docker.sock"));
    let verdict = get("onramp-report/verdict.txt");
    assert!(verdict.contains("fix:"), "{verdict}");
    assert!(get("onramp-report/README.txt").contains("verdict.txt"));
    let compose = get("onramp-report/project/generated/docker-compose.test.yml");
    assert!(compose.contains("POSTGRES_PASSWORD"), "{compose}");
    for (name, text) in &files {
        assert!(
            !text.contains("no-engine-seed-pw"),
            "the password in {name}"
        );
    }
}
