//! Rebuilding a broken workstation against the real Docker engine: images carried in an
//! archive when no registry answers (`images save` / `images load`), and a PostgreSQL volume
//! from another major version named and repaired only through `reset`. Own ports and
//! project names; everything made here is removed on drop.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{docker, image, json, onramp, run, skip_or_fail, write};

fn engine_ready() -> bool {
    if docker(&["info"]).is_none() {
        skip_or_fail("no Docker engine (scripts/provision.sh starts one)");
        return false;
    }
    for img in ["postgres:15", "redis:7"] {
        if docker(&["image", "inspect", &image(img)]).is_none()
            && docker(&["pull", &image(img)]).is_none()
        {
            skip_or_fail("no test images (scripts/images.sh builds them)");
            return false;
        }
    }
    true
}

/// A project with postgres and redis on this module's ports, torn down with its volumes and
/// any image tags it made when dropped.
struct Project {
    dir: tempfile::TempDir,
    name: String,
    tags: Vec<String>,
}

impl Project {
    fn new(tag: &str, pg_image: &str, redis_image: &str, ports: (u16, u16)) -> Project {
        let name = format!("repair{tag}{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let profile = format!(
            r#"extends = "minimal"
project = "{name}"

[services.postgres]
image = "{pg_image}"
ports = ["{}:5432"]
timeout = "90s"

[services.redis]
image = "{redis_image}"
ports = ["{}:6379"]
"#,
            ports.0, ports.1
        );
        write(dir.path(), "onramp.toml", &profile);
        Project {
            dir,
            name,
            tags: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn onramp(&self, args: &[&str]) -> crate::common::Run {
        run(onramp(self.path()).args(args).env_remove("DOCKER_HOST"))
    }

    fn volume(&self, short: &str) -> String {
        format!("{}_{short}", self.name)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.onramp(&["down", "--volumes"]);
        for t in &self.tags {
            let _ = docker(&["rmi", t]);
        }
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
fn images_round_trip_through_an_archive_and_up_needs_no_registry() {
    if !engine_ready() {
        return;
    }
    // Tags of our own under a registry that does not exist (nothing listens on 5999), so
    // once they are removed locally, only the archive can bring them back.
    let ns = format!("127.0.0.1:5999/repair{}", std::process::id());
    let (pg, redis) = (format!("{ns}/postgres:15"), format!("{ns}/redis:7"));
    let mut p = Project::new("img", &pg, &redis, (32551, 32552));
    for (from, to) in [(image("postgres:15"), &pg), (image("redis:7"), &redis)] {
        docker(&["tag", &from, to]).expect("docker tag");
        p.tags.push(to.clone());
    }
    let archive = p.path().join("images.tar");
    let archive = archive.to_str().unwrap();

    let s = p.onramp(&["images", "save", "-o", archive, "--json"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let saved = json(&s);
    assert_eq!(saved["saved"]["images"], serde_json::json!([pg, redis]));
    assert!(saved["saved"]["bytes"].as_u64().unwrap() > 1_000_000);

    for t in &p.tags {
        docker(&["rmi", t]).expect("untag");
    }
    let r = p.onramp(&["up"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("registry 127.0.0.1:5999 is unreachable"),
        "{}",
        r.stderr
    );
    for remedy in ["PROXY", "registry-mirrors", "onramp images load"] {
        assert!(r.stderr.contains(remedy), "{remedy}: {}", r.stderr);
    }
    let error = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert_eq!(error.matches("is unreachable").count(), 1, "{error}");
    assert!(error.contains(&pg) && error.contains(&redis), "{error}");
    // setup stops at the same step with the same help.
    let s = run(onramp(p.path())
        .args(["setup", "--yes"])
        .env_remove("DOCKER_HOST")
        .env(
            "VIRTUAL_ENV",
            std::env::var("ONRAMP_TEST_VENV").unwrap_or_default(),
        ));
    assert_eq!(s.code, 1, "{}\n{}", s.stdout, s.stderr);
    assert!(s.stdout.contains("setup stopped at up"), "{}", s.stdout);
    for remedy in ["PROXY", "registry-mirrors", "onramp images load"] {
        assert!(s.stdout.contains(remedy), "{remedy}: {}", s.stdout);
    }

    let l = p.onramp(&["images", "load", archive]);
    assert_eq!(l.code, 0, "{}", l.stderr);
    assert!(
        l.stdout
            .contains("every image the profile needs is present")
    );
    let up = p.onramp(&["up", "--json"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let doc = json(&up);
    assert_eq!(service(&doc, "postgres")["state"], "ready");
    assert_eq!(service(&doc, "redis")["state"], "ready");
    assert!(
        !up.stderr.contains("pulled in"),
        "nothing pulled: {}",
        up.stderr
    );

    // An archive that lacks an image the profile needs: loaded, then the gap is named.
    let wider = format!("{ns}/chroma:1");
    let text = std::fs::read_to_string(p.path().join("onramp.toml")).unwrap()
        + &format!(
            "\n[services.chroma]\nimage = \"{wider}\"\nports = [\"32553:8000\"]\nprobe = {{ kind = \"chroma\", port = 8000 }}\n"
        );
    write(p.path(), "onramp.toml", &text);
    let l = p.onramp(&["images", "load", archive]);
    assert_eq!(l.code, 1, "{}", l.stderr);
    assert!(
        l.stderr.contains(&format!("misses {wider}")),
        "{}",
        l.stderr
    );

    // Not an archive at all: bad input, said so.
    std::fs::write(p.path().join("notes.txt"), "hello").unwrap();
    let bad = p.onramp(&["images", "load", "notes.txt"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("not an image archive"),
        "{}",
        bad.stderr
    );
}

/// Write `PG_VERSION` of another major into a postgres data volume.
fn downgrade_pg_version(volume: &str) {
    docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "-v",
        &format!("{volume}:/d"),
        &image("postgres:15"),
        "-c",
        "test -s /d/PG_VERSION && echo 14 > /d/PG_VERSION",
    ])
    .expect("rewrite PG_VERSION");
}

/// A marker in the redis volume, to see that reset leaves other services' data alone.
fn redis_marker(volume: &str, write: bool) -> bool {
    let script = if write {
        "echo kept > /d/onramp-marker"
    } else {
        "test \"$(cat /d/onramp-marker)\" = kept"
    };
    docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "-v",
        &format!("{volume}:/d"),
        &image("redis:7"),
        "-c",
        script,
    ])
    .is_some()
}

#[test]
fn a_postgres_volume_of_another_major_is_named_and_only_reset_repairs_it() {
    if !engine_ready() {
        return;
    }
    let p = Project::new(
        "pg",
        &image("postgres:15"),
        &image("redis:7"),
        (32561, 32562),
    );
    let first = p.onramp(&["up"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(p.onramp(&["down"]).code, 0);
    let (pg_vol, redis_vol) = (p.volume("postgres_data"), p.volume("redis_data"));
    downgrade_pg_version(&pg_vol);
    assert!(redis_marker(&redis_vol, true));

    let started = Instant::now();
    let r = p.onramp(&["up", "--json"]);
    let took = started.elapsed();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        took < Duration::from_secs(45),
        "fails fast, not at the 90 s timeout: {took:?}"
    );
    let pg = service(&json(&r), "postgres");
    assert_eq!(pg["state"], "failed");
    assert!(
        pg["error"].as_str().unwrap().contains("PostgreSQL 14"),
        "{pg}"
    );
    assert!(
        pg["remedy"]
            .as_str()
            .unwrap()
            .contains("onramp reset postgres"),
        "{pg}"
    );
    assert!(r.stderr.contains("onramp reset postgres"), "{}", r.stderr);

    let st = p.onramp(&["status"]);
    assert_eq!(st.code, 1);
    assert!(
        st.stdout.contains("database files are incompatible"),
        "{}",
        st.stdout
    );
    assert!(st.stdout.contains("onramp reset postgres"), "{}", st.stdout);

    // Without a terminal and without --yes, nothing is deleted.
    let refused = p.onramp(&["reset", "postgres"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("onramp reset --yes postgres"),
        "{}",
        refused.stderr
    );
    assert!(
        docker(&["volume", "inspect", &pg_vol]).is_some(),
        "volume kept"
    );

    let dry = p.onramp(&["reset", "--dry-run", "postgres"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains(&format!("would remove volume {pg_vol}")),
        "{}",
        dry.stdout
    );
    assert!(!dry.stdout.contains(&redis_vol), "{}", dry.stdout);
    assert!(
        docker(&["volume", "inspect", &pg_vol]).is_some(),
        "dry run deletes nothing"
    );

    let reset = p.onramp(&["reset", "--yes", "postgres", "--json"]);
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    let doc = json(&reset);
    assert_eq!(service(&doc, "postgres")["state"], "ready", "{doc}");
    assert_eq!(service(&doc, "postgres")["action"], "created");
    assert_eq!(service(&doc, "redis")["state"], "ready");
    assert!(doc["removed"].to_string().contains(&pg_vol), "{doc}");
    assert!(
        redis_marker(&redis_vol, false),
        "the redis volume is untouched"
    );
}
