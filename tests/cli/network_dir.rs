//! The team's network file belongs to the project `--dir` names, never to the current folder:
//! every command that shows or uses network settings, run from an unrelated folder that has a
//! team file of its own, sees the project's. Hostile team files (outside the project, a link, a
//! folder, over 1 MiB, not UTF-8) are read or refused with the file, the line and the fix.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Run, engine_up, json, onramp, run, skip_or_fail, write};

/// The project's team file: a proxy, a root beside it and Docker Hub mapped to a closed port
/// on 127.0.0.1 (nothing answers there, so nothing leaves the machine).
const PROJECT_TEAM: &str = "[network]\nproxy = \"http://127.0.0.1:9\"\nca_file = \"certs/team-root.pem\"\n\n[network.images]\n\"docker.io\" = \"127.0.0.1:9/teamhub\"\n";
/// The unrelated folder's team file, which no command may read.
const CWD_TEAM: &str = "[network]\nproxy = \"http://127.0.0.1:8\"\nca_file = \"cwd-root.pem\"\n\n[network.images]\n\"docker.io\" = \"127.0.0.1:8/cwdhub\"\n";
const MAPPED: &str = "127.0.0.1:9/teamhub/postgres:";

/// A project `p` with its team file, and a sibling folder `elsewhere` with another.
struct Dirs {
    _tmp: tempfile::TempDir,
    project: PathBuf,
    cwd: PathBuf,
}

fn two_team_files() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("p");
    let cwd = tmp.path().join("elsewhere");
    write(&project, "onramp.toml", "extends = \"minimal\"\n");
    write(&project, "onramp-network.toml", PROJECT_TEAM);
    write(&cwd, "onramp-network.toml", CWD_TEAM);
    Dirs {
        _tmp: tmp,
        project,
        cwd,
    }
}

impl Dirs {
    /// onramp run in `elsewhere` on the project `../p`, as a relative `--dir`.
    fn onramp(&self, args: &[&str]) -> Command {
        let mut c = onramp(&self.cwd);
        c.args(["--dir", "../p"]).args(args);
        c
    }

    /// What is in `elsewhere`: only its team file, whatever ran.
    fn cwd_untouched(&self) {
        let names: Vec<String> = std::fs::read_dir(&self.cwd)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["onramp-network.toml"], "nothing written in the cwd");
    }
}

/// The output names the project's team settings and nothing of the cwd's.
fn sees_the_project_s(what: &str, r: &Run) {
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains(MAPPED), "{what}: no {MAPPED}:\n{all}");
    assert!(
        !all.contains("cwdhub") && !all.contains("127.0.0.1:8") && !all.contains("cwd-root"),
        "{what} read the cwd's team file:\n{all}"
    );
}

/// `profiles NAME`, `generate` and `doctor` (its network checks on, the engine absent, every
/// request refused on 127.0.0.1) from an unrelated folder all use the project's team file.
#[test]
fn commands_run_elsewhere_use_the_team_file_of_the_dir_project() {
    let d = two_team_files();
    let no_engine = format!("unix://{}/no-engine.sock", d.cwd.display());

    let shown = run(&mut d.onramp(&["profiles", "minimal"]));
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    sees_the_project_s("profiles minimal", &shown);
    assert!(
        shown.stdout.contains("proxy = \"http://127.0.0.1:9\""),
        "{}",
        shown.stdout
    );
    let root = d.project.join("certs/team-root.pem");
    let root = root.strip_prefix(d.project.parent().unwrap()).unwrap();
    assert!(
        shown.stdout.contains(&root.display().to_string()),
        "ca_file beside the project's team file:\n{}",
        shown.stdout
    );
    // The same profile shown with an absolute --dir maps the same way.
    let absolute = run(onramp(&d.cwd)
        .arg("--dir")
        .arg(&d.project)
        .args(["profiles", "minimal"]));
    sees_the_project_s("profiles minimal --dir ABSOLUTE", &absolute);

    let generated = run(d.onramp(&["generate"]).env("DOCKER_HOST", &no_engine));
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    let compose = std::fs::read_to_string(d.project.join("docker-compose.test.yml")).unwrap();
    assert!(compose.contains(&format!("image: \"{MAPPED}")), "{compose}");
    assert!(!compose.contains("cwdhub"), "{compose}");

    let doctor = run(d
        .onramp(&["--json", "doctor"])
        .env_remove("ONRAMP_NETWORK")
        .env("DOCKER_HOST", &no_engine)
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("https_proxy")
        .env_remove("http_proxy"));
    assert_eq!(doctor.code, 1, "not ready, not refused: {}", doctor.stderr);
    sees_the_project_s("doctor", &doctor);
    let doc = json(&doctor);
    let detail = |id: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id}: {doc}"))["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let settings = detail("network:settings");
    for want in [
        "team file ../p/onramp-network.toml (found in the project)",
        "proxy = http://127.0.0.1:9 (team file ../p/onramp-network.toml:2)",
        "images.\"docker.io\" = 127.0.0.1:9/teamhub (team file ../p/onramp-network.toml:6)",
    ] {
        assert!(settings.contains(want), "{want}\nnot in: {settings}");
    }
    // The root is looked for beside the project's team file (not at ../p/../p/...).
    let ca = detail("network:ca-file");
    assert!(
        ca.contains("elsewhere/../p/certs/team-root.pem: No such file"),
        "{ca}"
    );
    d.cwd_untouched();
}

/// `lock`, `up` and `images save` from an unrelated folder ask the engine for the images by
/// the project's mapped names (the closed port refuses each at once; nothing is created).
#[test]
fn engine_commands_run_elsewhere_pull_by_the_dir_project_s_names() {
    if !engine_up() {
        return skip_or_fail("a running engine (scripts/provision.sh)");
    }
    let d = two_team_files();
    let out = d.cwd.join("images.tar");
    let out = out.display().to_string();
    for args in [
        vec!["lock"],
        vec!["up"],
        vec!["images", "save", "-o", out.as_str()],
    ] {
        let r = run(&mut d.onramp(&args));
        assert_ne!(r.code, 0, "{args:?} cannot reach 127.0.0.1:9: {}", r.stdout);
        sees_the_project_s(&args.join(" "), &r);
    }
    d.cwd_untouched();
}

/// `profiles ./onramp.toml` in the project `dir` exits 2, its error line holding every one of
/// `error_has` and its help line every one of `help_has`.
fn refused(dir: &Path, env: Option<(&str, &Path)>, error_has: &[&str], help_has: &[&str]) {
    let mut c = onramp(dir);
    c.args(["profiles", "./onramp.toml"]);
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    let r = run(&mut c);
    assert_eq!(r.code, 2, "bad input: {}{}", r.stdout, r.stderr);
    for (prefix, parts) in [("error:", error_has), ("help:", help_has)] {
        let line = r
            .stderr
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {}", r.stderr));
        for part in parts {
            assert!(line.contains(part), "{part:?} not in: {line}");
        }
    }
}

/// A team file outside the project is read when the profile or the environment names it (and
/// nothing is written there); the project's own is a regular file (no link, no folder); over
/// 1 MiB or not UTF-8 is refused, at the byte's line and column, with the fix.
#[test]
fn hostile_team_files_are_read_only_where_named_and_refused_with_file_line_and_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let (project, shared) = (tmp.path().join("p"), tmp.path().join("shared"));
    let shared_team = "[network]\nproxy = \"http://127.0.0.1:7\"\n";
    write(&shared, "net.toml", shared_team);
    let own = |extra: &str| {
        write(
            &project,
            "onramp.toml",
            &format!("extends = \"minimal\"\n{extra}"),
        )
    };
    let shows_shared = |what: &str, c: &mut Command| {
        let r = run(c);
        assert_eq!(r.code, 0, "{what}: {}", r.stderr);
        assert!(
            r.stdout.contains("http://127.0.0.1:7"),
            "{what}:\n{}",
            r.stdout
        );
    };

    // Outside the project, named: read, relative to the profile or absolute.
    let absolute = shared.join("net.toml").display().to_string();
    for named in ["../shared/net.toml", absolute.as_str()] {
        own(&format!("[network]\nteam_file = \"{named}\"\n"));
        shows_shared(named, onramp(&project).args(["profiles", "./onramp.toml"]));
    }
    let generated = run(onramp(&project).arg("generate"));
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    let listed: Vec<_> = std::fs::read_dir(&shared).unwrap().collect();
    assert_eq!(listed.len(), 1, "nothing written beside a shared team file");
    assert_eq!(
        std::fs::read_to_string(shared.join("net.toml")).unwrap(),
        shared_team
    );
    own("");
    // A link the environment names is the user's choice: followed.
    std::os::unix::fs::symlink(shared.join("net.toml"), tmp.path().join("link.toml")).unwrap();
    shows_shared(
        "ONRAMP_NETWORK_FILE=link",
        onramp(&project)
            .args(["profiles", "./onramp.toml"])
            .env("ONRAMP_NETWORK_FILE", tmp.path().join("link.toml")),
    );

    // The project's own: a link is not followed, a folder is not a file.
    let team = project.join("onramp-network.toml");
    let at_1_1 = format!("{}:1:1:", team.display());
    std::os::unix::fs::symlink(shared.join("net.toml"), &team).unwrap();
    let shared_named = ["ONRAMP_NETWORK_FILE", "team_file"];
    refused(&project, None, &[&at_1_1, "symbolic link"], &shared_named);
    std::fs::remove_file(&team).unwrap();
    std::fs::create_dir(&team).unwrap();
    refused(
        &project,
        None,
        &[&at_1_1, "is not a regular file"],
        &shared_named,
    );
    std::fs::remove_dir(&team).unwrap();

    // Over 1 MiB, from each of the three places.
    let huge = format!("[network]\n{}", "# padding\n".repeat(110_000));
    let too_big = "larger than 1024 KiB";
    write(&shared, "huge.toml", &huge);
    write(&project, "onramp-network.toml", &huge);
    refused(&project, None, &[&at_1_1, too_big], &["right file"]);
    std::fs::remove_file(&team).unwrap();
    let named = shared.join("huge.toml");
    let named_at = format!("{}:1:1:", named.display());
    let env = Some(("ONRAMP_NETWORK_FILE", named.as_path()));
    refused(&project, env, &[&named_at, too_big], &["unset it"]);
    own("[network]\nteam_file = \"../shared/huge.toml\"\n");
    refused(&project, None, &["onramp.toml:3:", too_big], &["team_file"]);
    own("");

    // Not UTF-8: at the byte's line and column, with the command that converts it.
    let latin1 = b"[network]\n\nproxy = \"http://caf\xe9:3128\"\n";
    std::fs::write(shared.join("latin1.toml"), latin1).unwrap();
    std::fs::write(&team, latin1).unwrap();
    let at = format!("{}:3:20:", team.display());
    refused(&project, None, &[&at, "not UTF-8", "0xe9"], &["iconv"]);
    // The list of shipped profiles belongs to no project: it reads no team file.
    let listed = run(onramp(&project).arg("profiles"));
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("minimal"), "{}", listed.stdout);
    std::fs::remove_file(&team).unwrap();
    let named = shared.join("latin1.toml");
    let at = format!("{}:3:20:", named.display());
    let env = Some(("ONRAMP_NETWORK_FILE", named.as_path()));
    refused(&project, env, &[&at, "not UTF-8"], &["iconv", "unset it"]);
}
