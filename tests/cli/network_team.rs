//! The team's network file (`onramp-network.toml`) on 127.0.0.1: its image mapping sends
//! Docker Hub and a second registry's images to the local registry, and `generate`, `doctor`'s
//! registry check, `up`'s pulls and `lock` all use the mapped names; a bad team file is refused
//! at its line with the fix.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{docker, engine_up, json, onramp, registry, run, skip_or_fail, write};

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// A project with a scratch image of its own in the registry; both go when it is dropped.
struct Team {
    dir: tempfile::TempDir,
    scratch: String,
    pulled: String,
}

impl Team {
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        let _ = run(onramp(self.path()).args(["down", "--volumes"]));
        let _ = docker(&["rmi", &self.pulled]);
        let _ = Command::new(scripts().join("images.sh"))
            .args(["scratch", "drop", &self.scratch])
            .output();
    }
}

/// The team file maps `docker.io` to the test images' path and `ghcr.io/onramp-team` to a
/// scratch path of this test's own (pushed here, absent from the engine until `up` pulls it).
#[test]
fn team_file_maps_every_image_to_the_company_registry() {
    if !engine_up() {
        return skip_or_fail("a running engine (scripts/provision.sh)");
    }
    let registry = registry();
    let pid = std::process::id();
    let scratch = format!("netteam{pid}/redis:7");
    let pushed = Command::new(scripts().join("images.sh"))
        .args([
            "scratch",
            "push",
            &format!("{registry}/onramp-test/redis:7"),
            &scratch,
        ])
        .output()
        .expect("images.sh runs");
    assert!(
        pushed.status.success(),
        "images.sh scratch push: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let t = Team {
        dir: tempfile::tempdir().unwrap(),
        pulled: format!("{registry}/onramp-test/scratch/{scratch}"),
        scratch,
    };
    // Only the registry has it now: `up` must pull it by its mapped name.
    assert!(docker(&["rmi", &t.pulled]).is_some(), "untag {}", t.pulled);
    let dir = t.path();
    let name = format!("netteam{pid}");
    write(
        dir,
        "onramp-network.toml",
        &format!(
            "# The company's registry serves every image.\n[network.images]\n\"docker.io\" = \"{registry}/onramp-test\"\n\"ghcr.io/onramp-team\" = \"{registry}/onramp-test/scratch/netteam{pid}\"\n"
        ),
    );
    write(
        dir,
        "onramp.toml",
        &format!(
            "extends = \"minimal\"\nproject = \"{name}\"\n\n[requirements]\nmemory_gib = {{ min = 1 }}\ncpus = {{ min = 1 }}\ndisk_free_gib = {{ min = 1 }}\n\n[services.postgres]\nimage = \"postgres:15\"\nports = [\"32042:5432\"]\n\n[services.redis]\nimage = \"ghcr.io/onramp-team/redis:7\"\nports = [\"32043:6379\"]\n\n[sdk]\npackages = []\n"
        ),
    );
    let pg = format!("{registry}/onramp-test/postgres:15");

    let generated = run(onramp(dir).args(["generate"]));
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    let compose = std::fs::read_to_string(dir.join("docker-compose.test.yml")).unwrap();
    for image in [&pg, &t.pulled] {
        assert!(
            compose.contains(&format!("image: \"{image}\"")),
            "{image}:\n{compose}"
        );
    }
    assert!(!compose.contains("ghcr.io"), "{compose}");

    let doctor = run(onramp(dir)
        .args(["--json", "doctor"])
        .env_remove("ONRAMP_NETWORK")
        .env_remove("ONRAMP_NETWORK_FILE"));
    let doc = json(&doctor);
    let checks = doc["checks"].as_array().unwrap();
    let network: Vec<&serde_json::Value> = checks
        .iter()
        .filter(|c| c["id"].as_str().is_some_and(|i| i.starts_with("network:")))
        .collect();
    let reach = network
        .iter()
        .find(|c| c["id"] == format!("network:{registry}"))
        .unwrap_or_else(|| panic!("no check of {registry}: {network:?}"));
    assert_eq!(reach["status"], "pass", "{reach}");
    assert!(
        !network.iter().any(|c| c["id"]
            .as_str()
            .is_some_and(|i| i.contains("docker.io") || i.contains("ghcr.io"))),
        "only the company's registry is asked: {network:?}"
    );
    let settings = network
        .iter()
        .find(|c| c["id"] == "network:settings")
        .unwrap_or_else(|| panic!("no network:settings: {network:?}"));
    let detail = settings["detail"].as_str().unwrap();
    let team = dir.join("onramp-network.toml").display().to_string();
    for want in [
        format!("team file {team} (found in the project)"),
        format!("images.\"docker.io\" = {registry}/onramp-test (team file {team}:3)"),
        format!(
            "images.\"ghcr.io/onramp-team\" = {} (team file {team}:4)",
            t.pulled.trim_end_matches("/redis:7")
        ),
    ] {
        assert!(detail.contains(&want), "{want}\nnot in: {detail}");
    }

    let started = std::time::Instant::now();
    let up = run(onramp(dir).args(["--json", "up"]));
    let up_ms = started.elapsed().as_millis();
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    for s in json(&up)["services"].as_array().unwrap() {
        assert_eq!(s["state"], "ready", "{s}");
    }
    let running = docker(&[
        "ps",
        "--filter",
        &format!("label=com.docker.compose.project={name}"),
        "--format",
        "{{.Image}}",
    ])
    .unwrap_or_default();
    let mut got: Vec<&str> = running.lines().collect();
    got.sort();
    let mut want = vec![pg.as_str(), t.pulled.as_str()];
    want.sort();
    assert_eq!(got, want);
    assert!(
        docker(&["image", "inspect", &t.pulled]).is_some(),
        "{} was pulled",
        t.pulled
    );
    eprintln!("network_team: up with two mapped registries (one image pulled) in {up_ms} ms");

    // The lock records the mapped references, asked of the company's registry.
    let lock = run(onramp(dir).args(["lock"]));
    assert_eq!(lock.code, 0, "{}", lock.stderr);
    let text = std::fs::read_to_string(dir.join("onramp.lock")).unwrap();
    for image in [&pg, &t.pulled] {
        assert!(
            text.contains(&format!("reference = \"{image}\"")),
            "{image}:\n{text}"
        );
    }
}

fn refused(dir: &Path, env: Option<(&str, &str)>) -> (String, String) {
    let mut c = onramp(dir);
    c.arg("doctor").env_remove("ONRAMP_NETWORK_FILE");
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    let r = run(&mut c);
    assert_eq!(r.code, 2, "bad input: {}", r.stderr);
    let help = r
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("help:"))
        .unwrap_or_default()
        .to_string();
    (r.stderr, help)
}

/// An unknown key, a mapping with a tag, a team file the profile names that is not there, and
/// one the environment names that is not there: each refused with the file, the line and the
/// fix, before anything runs.
#[test]
fn team_file_errors_point_at_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let profile = "extends = \"minimal\"\n\n[network]\nproxy = \"http://own:8080\"\n";
    write(dir, "onramp.toml", profile);
    let team = dir.join("onramp-network.toml").display().to_string();

    write(
        dir,
        "onramp-network.toml",
        "[network]\nmirrors = [\"https://mirror.corp.example\"]\nca_flie = \"corp-root.pem\"\n",
    );
    let (err, help) = refused(dir, None);
    assert!(
        err.contains(&format!("{team}:3:1: unknown field `ca_flie`")),
        "{err}"
    );
    assert!(help.contains("one `[network]` table"), "{err}");

    write(
        dir,
        "onramp-network.toml",
        "[network.images]\n\"docker.io\" = \"registry.corp.example/hub\"\n\"ghcr.io\" = \"registry.corp.example/ghcr:1\"\n",
    );
    let (err, help) = refused(dir, None);
    assert!(
        err.contains(&format!("{team}:3:")) && err.contains("names a tag or digest"),
        "{err}"
    );
    assert!(help.contains("registry or a path prefix"), "{err}");
    std::fs::remove_file(dir.join("onramp-network.toml")).unwrap();

    write(
        dir,
        "onramp.toml",
        &format!("{profile}team_file = \"corp/network.toml\"\n"),
    );
    let (err, help) = refused(dir, None);
    let own = dir.join("onramp.toml").display().to_string();
    assert!(
        err.contains(&format!("{own}:5:"))
            && err.contains("cannot be read")
            && err.contains("corp/network.toml"),
        "{err}"
    );
    assert!(help.contains("remove `team_file`"), "{err}");

    write(dir, "onramp.toml", profile);
    let missing = dir.join("it/network.toml").display().to_string();
    let (err, help) = refused(dir, Some(("ONRAMP_NETWORK_FILE", &missing)));
    assert!(
        err.contains(&missing) && err.contains("ONRAMP_NETWORK_FILE names"),
        "{err}"
    );
    assert!(help.contains("unset it"), "{err}");
}
