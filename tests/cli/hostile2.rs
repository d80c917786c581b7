//! Hostile input, second round (issue 16): folder names that are shell syntax reaching the
//! installer, project names that normalising would lose, archives that lie, links in release
//! archives, durations that wrap around, build contexts that carry secrets, volumes that only
//! share a name. Tests named `engine_*` use the shared engine (one at a time, under its lock).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{Run, docker, image, json, onramp, run, skip_or_fail, write};

/// A project profile that renders `.env` (with COMPOSE_PROJECT_NAME) and the compose file.
const PROJECT: &str = "extends = \"minimal\"\n\n[[files]]\ntemplate = \"env\"\npath = \".env\"\n\n[[files]]\ntemplate = \"docker-compose.test.yml\"\npath = \"docker-compose.test.yml\"\n";

/// Folder names a shell would run or split: spaces, quotes, `;`, `$(...)`, backticks, a line
/// break, non-ASCII.
const SHELL_NAMES: &[&str] = &[
    "my proj",
    "a;touch pwned-semicolon;b",
    "$(touch pwned-subst)",
    "`touch pwned-backtick`",
    "it's \"quoted\"",
    "line\nbreak",
    "проект & co",
];

fn in_dir(d: &Path, args: &[&str]) -> Run {
    run(onramp(d).args(args).env("VIRTUAL_ENV", "/nonexistent"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sysroot")
        .join(name)
}

#[test]
fn the_installer_plan_for_a_hostile_folder_keeps_its_path_out_of_every_shell() {
    let top = tempfile::tempdir().unwrap();
    for name in SHELL_NAMES {
        let dir = top.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        // A recorded WSL2 distro without systemd: dockerd is started detached.
        let r = run(onramp(&dir)
            .env("ONRAMP_SYSROOT", fixture("wsl2-ubuntu-nosystemd"))
            .args([
                "doctor",
                "--fix",
                "--dry-run",
                "--json",
                "--profile",
                "minimal",
            ]));
        let doc = json(&r);
        let steps = doc["fix"]["plan"]["steps"].as_array().unwrap();
        for action in steps.iter().flat_map(|s| s["change"].as_array().unwrap()) {
            let argv: Vec<&str> = action["argv"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| a.as_str().unwrap())
                .collect();
            if let Some(i) = argv.iter().position(|a| *a == "-c") {
                let script = argv[i + 1];
                assert!(!script.contains(name), "{name:?} reaches a shell: {script}");
                assert!(shlex::split(script).is_some(), "{script}");
            }
        }
        let start = steps.iter().find(|s| s["id"] == "engine-start").unwrap();
        assert_eq!(start["change"][0]["kind"], "detach", "{start}");
        let argv = start["change"][0]["argv"].as_array().unwrap();
        assert_eq!(argv.last().unwrap(), "dockerd", "{start}");
        assert_eq!(start["change"][0]["log"], ".onramp/logs/dockerd.log");
    }
    let made: Vec<String> = std::fs::read_dir(top.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        made.len(),
        SHELL_NAMES.len(),
        "nothing else appeared: {made:?}"
    );
}

/// COMPOSE_PROJECT_NAME as `generate` wrote it into `.env`.
fn project_name_of(dir: &Path) -> String {
    let r = in_dir(dir, &["generate"]);
    assert_eq!(r.code, 0, "{}: {}", dir.display(), r.stderr);
    let env = std::fs::read_to_string(dir.join(".env")).unwrap();
    env.lines()
        .find_map(|l| l.strip_prefix("COMPOSE_PROJECT_NAME="))
        .unwrap()
        .to_string()
}

#[test]
fn folders_that_normalising_would_empty_get_distinct_valid_project_names() {
    let top = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for folder in [
        "проект",
        "项目",
        "!!!",
        "???",
        "Проект",
        "my proj",
        "café",
        "cafe",
    ] {
        let d = top.path().join(folder);
        write(&d, "onramp.toml", PROJECT);
        names.push((folder, project_name_of(&d)));
    }
    // A Compose file whose `name` is not ASCII.
    let d = top.path().join("compose");
    write(
        &d,
        "docker-compose.yml",
        "name: \"тест\"\nservices:\n  cache:\n    image: redis:7\n",
    );
    write(
        &d,
        "onramp.toml",
        &format!("compose = \"docker-compose.yml\"\n{PROJECT}"),
    );
    names.push(("name: тест", project_name_of(&d)));
    for (folder, name) in &names {
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));
        assert!(valid, "{folder} -> {name}");
        assert_ne!(name, "onramp", "{folder}");
    }
    let get = |f: &str| names.iter().find(|(n, _)| *n == f).unwrap().1.clone();
    assert_eq!(get("проект"), get("Проект"), "case folds, as in Compose");
    assert_eq!(get("my proj"), "myproj", "ASCII names stay Compose's");
    assert_eq!(get("cafe"), "cafe");
    let mut distinct: Vec<&String> = names
        .iter()
        .filter(|(f, _)| *f != "Проект")
        .map(|(_, n)| n)
        .collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), names.len() - 1, "{names:?}");
    // Stable: the same folder gets the same name on the next run.
    assert_eq!(project_name_of(&top.path().join("项目")), get("项目"));
}

#[test]
fn durations_that_would_wrap_around_are_refused_with_their_location() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    for (place, why) in [
        (
            "healthcheck = { test = [\"CMD\", \"true\"], interval = \"6000000h\" }",
            "longer than the longest",
        ),
        (
            "healthcheck = { test = [\"CMD\", \"true\"], start_period = \"2562048h\" }",
            "longer than the longest",
        ),
        ("timeout = \"99999999999h\"", "longer than the longest"),
        (
            "healthcheck = { test = [\"CMD\", \"true\"], timeout = \"0.0005s\" }",
            "under 1ms",
        ),
    ] {
        write(
            d,
            "onramp.toml",
            &format!("{PROJECT}\n[services.postgres]\n{place}\n"),
        );
        let r = in_dir(d, &["generate", "--json"]);
        assert_eq!(r.code, 2, "{place}: {}", r.stderr);
        assert!(
            r.stderr.contains("onramp.toml:12:"),
            "{place}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(why), "{place}: {}", r.stderr);
        assert!(!d.join("docker-compose.test.yml").exists());
    }
    // The same through a Compose file, located in it.
    write(
        d,
        "docker-compose.yml",
        "services:\n  cache:\n    image: redis:7\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 6000000h\n",
    );
    write(d, "onramp.toml", "compose = \"docker-compose.yml\"\n");
    let r = in_dir(d, &["generate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("docker-compose.yml:6:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("`6000000h` is longer than"),
        "{}",
        r.stderr
    );
}

#[cfg(unix)]
#[test]
fn images_load_refuses_a_fifo_a_directory_and_a_link_to_a_fifo_at_once() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    write(d, "onramp.toml", "extends = \"minimal\"\n");
    let fifo = d.join("images.tar");
    let c = std::ffi::CString::new(fifo.display().to_string()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink(&fifo, d.join("link.tar")).unwrap();
    std::fs::create_dir(d.join("dir.tar")).unwrap();
    for name in ["images.tar", "link.tar", "dir.tar"] {
        let started = Instant::now();
        // No engine needed: the file is refused before one is asked.
        let r = run(onramp(d)
            .args(["images", "load", name])
            .env("DOCKER_HOST", "unix:///nonexistent.sock"));
        assert!(started.elapsed() < Duration::from_secs(20), "{name} hung");
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains("not a regular file"),
            "{name}: {}",
            r.stderr
        );
    }
}

// ---- on the engine --------------------------------------------------------------------------

fn engine_with_images() -> bool {
    if docker(&["info"]).is_none() {
        skip_or_fail("no Docker engine (scripts/provision.sh starts one)");
        return false;
    }
    for img in ["postgres:15", "redis:7"] {
        if docker(&["image", "inspect", &image(img)]).is_none()
            && docker(&["pull", "-q", &image(img)]).is_none()
        {
            skip_or_fail("no test images (scripts/images.sh builds them)");
            return false;
        }
    }
    true
}

fn image_id(reference: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", reference])
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Tags this test made, removed when it ends.
struct Tags(Vec<String>);

impl Drop for Tags {
    fn drop(&mut self) {
        for t in &self.0 {
            let _ = docker(&["rmi", t]);
        }
    }
}

#[test]
fn engine_images_load_sets_only_the_profiles_tags_and_says_what_else_the_archive_holds() {
    if !engine_with_images() {
        return;
    }
    let ns = format!("127.0.0.1:5999/hostile{}", std::process::id());
    let wanted = format!("{ns}/cache:7");
    let extra = format!("{ns}/victim:1");
    let tags = Tags(vec![wanted.clone(), extra.clone()]);
    let (redis, pg) = (image("redis:7"), image("postgres:15"));
    docker(&["tag", &redis, &wanted]).expect("tag");
    // The archive re-points `extra` at postgres...
    docker(&["tag", &pg, &extra]).expect("tag");
    let d = tempfile::tempdir().unwrap();
    let archive = d.path().join("images.tar");
    let archive_s = archive.display().to_string();
    docker(&["save", "-o", &archive_s, &wanted, &extra]).expect("docker save");
    // ...while on this machine `extra` names redis, and must go on naming it.
    docker(&["tag", &redis, &extra]).expect("tag");
    docker(&["rmi", &wanted]).expect("untag");
    let before = image_id(&extra);
    write(
        d.path(),
        "onramp.toml",
        &format!(
            "name = \"h\"\n[services.cache]\nimage = \"{wanted}\"\nports = [\"34090:6379\"]\n"
        ),
    );
    let r = run(onramp(d.path()).args(["images", "load", &archive_s, "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json(&r);
    assert_eq!(doc["loaded"]["skipped"], serde_json::json!([extra]));
    assert!(
        r.stderr.contains(&format!("also carries {extra}")),
        "{}",
        r.stderr
    );
    assert_eq!(
        image_id(&extra),
        before,
        "the archive re-pointed a tag the profile does not name"
    );
    assert_eq!(
        image_id(&wanted),
        image_id(&redis),
        "the profile's image is loaded"
    );
    drop(tags);
}

#[test]
fn engine_build_contexts_leave_out_what_dockerignore_excludes_and_onramps_state() {
    if !engine_with_images() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let name = format!("hostilebuild{}", std::process::id());
    let built = format!("{name}-app");
    let _tags = Tags(vec![built.clone()]);
    write(
        p,
        "Dockerfile",
        &format!("FROM {}\nCOPY . /ctx/\n", image("redis:7")),
    );
    write(
        p,
        ".dockerignore",
        "# secrets and noise\n.env\n.git\n**/*.log\n!keep.log\nsecret/\nDockerfile\n",
    );
    write(p, ".env", "POSTGRES_PASSWORD=never-in-an-image\n");
    write(p, ".git/config", "[core]\n");
    write(p, "a.log", "noise\n");
    write(p, "deep/b.log", "noise\n");
    write(p, "keep.log", "kept\n");
    write(p, "secret/key", "k\n");
    write(p, "app.py", "print('hi')\n");
    write(p, ".onramp/state", "onramp's own\n");
    write(
        p,
        "onramp.toml",
        &format!(
            "name = \"{name}\"\nproject = \"{name}\"\n[services.app]\nbuild = {{ context = \".\" }}\ncommand = [\"sleep\", \"600\"]\n"
        ),
    );
    let r = in_dir(p, &["up", "--json"]);
    let listing = docker(&["run", "--rm", "--entrypoint", "find", &built, "/ctx"]);
    let _ = in_dir(p, &["down"]);
    assert!(r.stderr.contains("built in"), "{}", r.stderr);
    let listing = listing.expect("the built image runs find");
    let mut files: Vec<&str> = listing
        .lines()
        .map(|l| l.trim_start_matches("/ctx"))
        .collect();
    files.sort();
    // The Dockerfile is sent (the build needs it) but, as .dockerignore names it, the engine
    // leaves it out of what COPY sees, as it does for `docker build`.
    assert_eq!(
        files,
        [
            "",
            "/.dockerignore",
            "/app.py",
            "/deep",
            "/keep.log",
            "/onramp.toml"
        ],
        "the context sent to the engine"
    );
}

#[test]
fn engine_reset_deletes_volumes_by_label_and_refuses_one_that_only_shares_the_name() {
    if !engine_with_images() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let name = format!("hostilereset{}", std::process::id());
    write(
        p,
        "onramp.toml",
        &format!(
            "name = \"{name}\"\nproject = \"{name}\"\n[services.cache]\nimage = \"{}\"\nports = [\"34091:6379\"]\nvolumes = [\"data:/data\"]\nprobe = {{ kind = \"redis\" }}\n",
            image("redis:7")
        ),
    );
    let volume = format!("{name}_data");
    // Someone else's volume that happens to have the name onramp would give it.
    docker(&["volume", "create", &volume]).expect("volume create");
    let r = in_dir(p, &["reset", "--yes", "cache"]);
    let still = docker(&["volume", "inspect", &volume]).is_some();
    let _ = docker(&["volume", "rm", &volume]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("will not delete"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("docker volume rm {volume}")),
        "{}",
        r.stderr
    );
    assert!(still, "the unlabelled volume was deleted");
    // Its own, labelled volume: reset deletes and recreates it.
    let up = in_dir(p, &["up"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let r = in_dir(p, &["reset", "--yes", "cache", "--json"]);
    let _ = in_dir(p, &["down", "--volumes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("volume {volume}")),
        "{}",
        r.stderr
    );
}
