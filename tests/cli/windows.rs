//! The Windows suite: the real `onramp.exe` (run here under Wine by `scripts/windows.sh test`)
//! with projects on `C:\` (the temporary folder) and `Z:\` (a drive mapped to a Unix folder).

use std::path::Path;
use std::process::Command;

use crate::common::{Run, bin, json, run, write};

fn onramp(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir);
    for var in [
        "ONRAMP_PROFILE",
        "ONRAMP_SYSROOT",
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
    ] {
        c.env_remove(var);
    }
    c
}

/// A project folder on `C:` (the Windows temporary folder).
fn c_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    assert!(
        d.path().to_string_lossy().starts_with(r"C:\"),
        "{:?}",
        d.path()
    );
    d
}

/// A project folder on `Z:` (Wine's drive for the Unix root).
fn z_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir_in(r"Z:\tmp").unwrap();
    assert!(
        d.path().to_string_lossy().starts_with(r"Z:\"),
        "{:?}",
        d.path()
    );
    d
}

fn check<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {doc}"))
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

#[test]
fn version_names_the_windows_target() {
    let d = c_dir();
    let r = run(onramp(d.path()).arg("--version"));
    ok(&r);
    assert!(r.stdout.starts_with("onramp "), "{}", r.stdout);
    assert!(r.stdout.contains("x86_64-pc-windows-gnu"), "{}", r.stdout);
}

#[test]
fn doctor_reports_windows_with_its_evidence_and_resources() {
    for d in [c_dir(), z_dir()] {
        let drive = &d.path().to_string_lossy()[..3];
        let r = run(onramp(d.path()).args(["doctor", "--json"]));
        assert_eq!(r.code, 1, "no engine, no Python: not ready\n{}", r.stderr);
        let doc = json(&r);
        let p = &doc["platform"];
        assert_eq!(p["kind"], "windows", "{p}");
        let evidence = p["evidence"].to_string();
        assert!(evidence.contains("built for Windows"), "{evidence}");
        assert!(evidence.contains("build "), "the Windows build: {evidence}");
        assert!(
            p["distro"].as_str().is_some_and(|s| s.contains("Windows")),
            "{p}"
        );
        for id in ["memory", "cpus"] {
            let c = check(&doc, id);
            assert!(c["status"] == "pass" || c["status"] == "warn", "{c}");
        }
        // The free space of the project's own drive (`C:\` or `Z:\`), never a skip.
        let disk = check(&doc, "disk");
        assert_ne!(disk["status"], "skip", "{disk}");
        let detail = disk["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("GiB free on {drive}")), "{detail}");
        assert!(!detail.contains(r"\\?\"), "{detail}");
        // No engine here: the Windows remedy, never a Linux one.
        let docker = check(&doc, "docker");
        assert_eq!(docker["status"], "fail", "{docker}");
        assert!(
            docker["detail"]
                .as_str()
                .unwrap()
                .contains("npipe:////./pipe/docker_engine")
        );
        let remedy = docker["remedy"].as_str().unwrap();
        assert!(
            !remedy.contains("sudo") && !remedy.contains("apt"),
            "{remedy}"
        );
        assert!(
            remedy.contains("Docker Desktop") || remedy.contains("winget"),
            "{remedy}"
        );
    }
}

#[test]
fn doctor_reports_a_held_port_with_its_holder() {
    let d = c_dir();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    write(
        d.path(),
        "onramp.toml",
        &format!("extends = \"minimal\"\n[services.redis]\nports = [\"{port}:6379\"]\n"),
    );
    let doc = json(&run(onramp(d.path()).args(["doctor", "--json"])));
    let ports = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["detail"]
                .as_str()
                .is_some_and(|s| s.contains(&port.to_string()))
        })
        .unwrap_or_else(|| panic!("no check names port {port}: {doc}"));
    let detail = ports["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("pid {}", std::process::id())),
        "the holder is this test program: {detail}"
    );
}

#[test]
fn human_doctor_names_the_platform_and_the_drive() {
    let d = z_dir();
    let r = run(onramp(d.path()).arg("doctor"));
    assert_eq!(r.code, 1);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("windows"), "{all}");
    assert!(all.contains(r"GiB free on Z:\"), "{all}");
}

#[test]
fn generate_writes_three_files_keeps_edits_and_shows_no_modes() {
    for d in [c_dir(), z_dir()] {
        let dir = d.path();
        let r = run(onramp(dir).args(["generate", "--profile", "minimal"]));
        ok(&r);
        for f in ["windows_patch.py", "docker-compose.test.yml", ".env"] {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            assert!(!text.contains('\r'), "{f} has LF endings");
        }
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(!all.contains("mode 0"), "no file modes on Windows: {all}");

        let again = run(onramp(dir).args(["generate", "--profile", "minimal"]));
        ok(&again);
        let all = format!("{}{}", again.stdout, again.stderr);
        assert_eq!(all.matches("unchanged").count(), 3, "{all}");

        let env = dir.join(".env");
        let mine = format!("{}MY_OWN=1\n", std::fs::read_to_string(&env).unwrap());
        std::fs::write(&env, &mine).unwrap();
        let r = run(onramp(dir).args(["generate", "--profile", "minimal"]));
        ok(&r);
        assert_eq!(std::fs::read_to_string(&env).unwrap(), mine);
        assert!(dir.join(".env.new").is_file());
        assert_eq!(temps(dir), 0);
    }
}

#[test]
fn profiles_list_resolve_and_import_compose() {
    let d = z_dir();
    let r = run(onramp(d.path()).arg("profiles"));
    ok(&r);
    assert!(r.stdout.contains("kailash") && r.stdout.contains("minimal"));
    let r = run(onramp(d.path()).args(["profiles", "kailash"]));
    ok(&r);
    assert!(
        r.stdout.contains("POSTGRES_PASSWORD = \"***\""),
        "{}",
        r.stdout
    );

    write(
        d.path(),
        "compose.yml",
        "services:\n  db:\n    image: postgres:15-alpine\n    ports: [\"5432:5432\"]\n    environment:\n      POSTGRES_PASSWORD: pw\n  cache:\n    image: redis:7-alpine\n",
    );
    let file = d.path().join("compose.yml");
    let r = run(onramp(d.path())
        .args(["profiles", "--from-compose"])
        .arg(&file));
    ok(&r);
    let doc: toml::Table =
        toml::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}\n{}", r.stdout));
    let services = doc["services"].as_table().unwrap();
    assert_eq!(services["db"]["probe"]["kind"].as_str(), Some("postgres"));
    assert_eq!(
        services["db"]["env"]["POSTGRES_PASSWORD"].as_str(),
        Some("***")
    );
    assert_eq!(services["cache"]["image"].as_str(), Some("redis:7-alpine"));
}

#[test]
fn a_project_overlay_naming_a_windows_path_loads() {
    let d = c_dir();
    write(
        d.path(),
        "compose.yml",
        "services:\n  cache:\n    image: redis:7-alpine\n",
    );
    // A literal string: the path's backslashes are not escapes.
    let file = d.path().join("compose.yml");
    write(
        d.path(),
        "onramp.toml",
        &format!("compose = '{}'\n", file.display()),
    );
    let r = run(onramp(d.path())
        .args(["profiles", "--json"])
        .arg(d.path().join("onramp.toml")));
    ok(&r);
    assert!(json(&r)["services"]["cache"].is_object(), "{}", r.stdout);
}

#[test]
fn fix_dry_run_plans_the_windows_way() {
    let d = c_dir();
    let r = run(onramp(d.path()).args(["doctor", "--fix", "--dry-run", "--json"]));
    let doc = json(&r);
    let text = doc["fix"].to_string();
    assert!(text.contains("winget"), "{text}");
    assert!(
        !text.contains("apt-get") && !text.contains("sudo"),
        "{text}"
    );
    // Docker Desktop is never planned without the licence flag.
    assert!(!text.contains("Docker.DockerDesktop"), "{text}");
    let r = run(onramp(d.path()).args([
        "doctor",
        "--fix",
        "--dry-run",
        "--json",
        "--accept-docker-desktop-license",
    ]));
    let text = json(&r)["fix"].to_string();
    assert!(text.contains("Docker.DockerDesktop"), "{text}");
}

#[test]
fn status_and_up_without_an_engine_say_what_to_do() {
    let d = z_dir();
    for cmd in ["status", "up"] {
        let r = run(onramp(d.path()).args([cmd, "--profile", "minimal"]));
        assert_eq!(r.code, 1, "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("docker_engine"), "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("help:"), "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("Docker Desktop"), "{cmd}: {}", r.stderr);
        assert!(
            r.stderr.contains("licen"),
            "{cmd}: the licence rule: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("sudo"), "{cmd}: {}", r.stderr);
    }
}

#[test]
fn a_missing_dir_is_bad_input_with_a_way_out() {
    let d = c_dir();
    let missing = d.path().join("no-such-project");
    let r = run(onramp(d.path()).arg("generate").arg("--dir").arg(&missing));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    assert!(r.stderr.contains("help:"), "{}", r.stderr);
    assert!(!missing.exists());
}

#[test]
fn the_project_lock_admits_one_run_at_a_time() {
    let d = c_dir();
    let dir = d.path();
    ok(&run(onramp(dir).args(["generate", "--profile", "minimal"])));
    let lock = dir.join(".onramp").join("lock");
    assert!(lock.is_file());
    // Hold the lock as another onramp run would, from this process.
    let held = std::fs::OpenOptions::new().write(true).open(&lock).unwrap();
    held.try_lock().unwrap();
    let r = run(onramp(dir).args(["generate", "--profile", "minimal"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("another onramp run"), "{}", r.stderr);
    drop(held);
    ok(&run(onramp(dir).args(["generate", "--profile", "minimal"])));
}

/// Open a file as another program would: `share` says what it lets others do meanwhile.
fn hold(path: &Path, share: u32) -> std::fs::File {
    use std::os::windows::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .share_mode(share)
        .open(path)
        .unwrap()
}

const SHARE_READ: u32 = 1;
const SHARE_WRITE: u32 = 2;
const SHARE_DELETE: u32 = 4;

fn temps(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".onramp-tmp."))
        .count()
}

/// Change the overlay so the next `generate` rewrites the Compose file with `port`.
fn want_port(dir: &Path, port: u16) {
    write(
        dir,
        "onramp.toml",
        &format!("extends = \"minimal\"\n[services.redis]\nports = [\"{port}:6379\"]\n"),
    );
}

#[test]
fn a_file_held_open_is_replaced_whole_or_refused_intact() {
    use std::io::Read;
    let d = z_dir();
    let dir = d.path();
    ok(&run(onramp(dir).args(["generate", "--profile", "minimal"])));
    let compose = dir.join("docker-compose.test.yml");
    let before = std::fs::read_to_string(&compose).unwrap();

    // A reader that allows deletion (as programs built on Rust or .NET do). With POSIX rename
    // semantics (Windows 10 1607+ on NTFS) the new file replaces the old one whole and the
    // reader keeps what it opened; Wine refuses the replace as it refuses the next case. Either
    // way nothing is half-written, lost, or left behind.
    want_port(dir, 16379);
    let mut reader = hold(&compose, SHARE_READ | SHARE_WRITE | SHARE_DELETE);
    let r = run(onramp(dir).args(["generate"]));
    let now = std::fs::read_to_string(&compose).unwrap();
    if r.code == 0 {
        assert!(now.contains("16379"), "{now}");
        let mut seen = String::new();
        reader.read_to_string(&mut seen).unwrap();
        assert_eq!(seen, before);
        eprintln!("replaced while a reader that allows deletion held it");
    } else {
        assert!(r.stderr.contains("holds it open"), "{}", r.stderr);
        assert_eq!(now, before);
        eprintln!("refused while a reader that allows deletion held it (Wine)");
    }
    assert_eq!(temps(dir), 0);
    drop(reader);
    ok(&run(onramp(dir).args(["generate"])));
    let after = std::fs::read_to_string(&compose).unwrap();
    assert!(after.contains("16379"), "{after}");

    // A holder that does not allow deletion (Python's open(), many editors): onramp retries
    // briefly, then refuses with the reason; the file stays whole, no temporary file is left.
    want_port(dir, 26379);
    let holder = hold(&compose, SHARE_READ | SHARE_WRITE);
    let r = run(onramp(dir).args(["generate"]));
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("holds it open"), "{}", r.stderr);
    assert!(r.stderr.contains("docker-compose.test.yml"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&compose).unwrap(), after);
    assert_eq!(temps(dir), 0);
    // Released: the next run replaces it.
    drop(holder);
    ok(&run(onramp(dir).args(["generate"])));
    assert!(std::fs::read_to_string(&compose).unwrap().contains("26379"));
}

/// A stand-in for an engine on a named pipe: it answers `_ping`, `version` and `info` as the
/// Docker API does, and 404 to anything else.
mod standin {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::windows::named_pipe::{NamedPipeServer, ServerOptions};

    pub const VERSION: &str = "27.5.1-standin";

    fn answer(path: &str) -> (u16, &'static str, String) {
        let path = path.split('?').next().unwrap_or(path);
        if path.ends_with("/_ping") {
            (200, "text/plain", "OK".into())
        } else if path.ends_with("/version") {
            (
                200,
                "application/json",
                format!(
                    r#"{{"Version":"{VERSION}","ApiVersion":"1.47","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"}}"#
                ),
            )
        } else if path.ends_with("/info") {
            (
                200,
                "application/json",
                r#"{"MemTotal":8589934592,"NCPU":4,"DockerRootDir":"/var/lib/docker","OperatingSystem":"Docker Desktop"}"#.into(),
            )
        } else {
            (
                404,
                "application/json",
                r#"{"message":"page not found"}"#.into(),
            )
        }
    }

    async fn serve_one(
        mut pipe: NamedPipeServer,
        log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    ) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match pipe.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end);
            let line = head.lines().next().unwrap_or("");
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            log.lock().unwrap().push(line.to_string());
            let (code, kind, body) = answer(path);
            let reply = format!(
                "HTTP/1.1 {code} X\r\nApi-Version: 1.47\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if pipe.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    /// Serve on `\\.\pipe\NAME` until the runtime stops; every request line is logged.
    pub async fn serve(name: String, log: std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let path = format!(r"\\.\pipe\{name}");
        let mut server = ServerOptions::new()
            .first_pipe_instance(true)
            .create(&path)
            .expect("create the pipe");
        loop {
            if server.connect().await.is_err() {
                return;
            }
            let next = ServerOptions::new().create(&path).expect("next instance");
            tokio::spawn(serve_one(std::mem::replace(&mut server, next), log.clone()));
        }
    }
}

#[test]
fn an_engine_on_a_named_pipe_is_found_and_reached() {
    let name = format!("onramp-standin-{}", std::process::id());
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (n, l) = (name.clone(), log.clone());
    std::thread::spawn(move || rt.block_on(standin::serve(n, l)));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let d = c_dir();
    let r = run(onramp(d.path())
        .args(["doctor", "--json"])
        .env("DOCKER_HOST", format!("npipe:////./pipe/{name}")));
    let doc = json(&r);
    let docker = check(&doc, "docker");
    assert_eq!(docker["status"], "pass", "{docker}\n{}", r.stderr);
    let detail = docker["detail"].as_str().unwrap();
    assert!(detail.contains(standin::VERSION), "{detail}");
    assert!(
        detail.contains(&format!("npipe:////./pipe/{name}")),
        "{detail}"
    );
    let seen = log.lock().unwrap().clone();
    assert!(seen.iter().any(|l| l.contains("/version")), "{seen:?}");
}

/// A recorded machine of the Unix suite, as a Windows path (`Z:\...`).
fn recorded(name: &str) -> std::path::PathBuf {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sysroot/");
    let path = format!("{root}{name}");
    match path.strip_prefix('/') {
        Some(rest) => std::path::PathBuf::from(format!(r"Z:\{}", rest.replace('/', r"\"))),
        None => std::path::PathBuf::from(path),
    }
}

/// The steps of `migrate wsl`, in order.
const MIGRATE_STEPS: &[&str] = &[
    "wsl",
    "distro",
    "distro-user",
    "wslconfig",
    "distro-systemd",
    "wsl-restart",
    "onramp",
    "project",
    "setup",
];

#[test]
fn migrate_wsl_dry_run_prints_the_whole_plan_from_recorded_facts() {
    let d = c_dir();
    let project = d.path().join("horme");
    std::fs::create_dir(&project).unwrap();
    let r = run(onramp(&project)
        .env("ONRAMP_SYSROOT", recorded("windows-wsl-store-blocked"))
        .args(["--profile", "minimal", "migrate", "wsl", "--dry-run"]));
    ok(&r);
    for id in MIGRATE_STEPS {
        assert!(
            r.stdout.lines().any(|l| {
                let mut words = l.split_whitespace();
                ["✓", "→", "!"].contains(&words.next().unwrap_or_default())
                    && words.next() == Some(*id)
            }),
            "no step {id}:\n{}",
            r.stdout
        );
    }
    for line in [
        "wsl.exe --install --no-distribution --web-download",
        "wsl.exe --install -d Ubuntu-24.04 --no-launch --web-download",
        r"in C:\Users\dev\.wslconfig set [wsl2] memory=4GB, [wsl2] processors=2",
        "/mnt/c/Users/dev/src/horme",
        "code --remote wsl+Ubuntu-24.04",
        "dry run: nothing was changed",
    ] {
        assert!(r.stdout.contains(line), "no `{line}`:\n{}", r.stdout);
    }
    assert!(std::fs::read_dir(&project).unwrap().next().is_none());
}

#[test]
fn migrate_wsl_dry_run_asks_this_windows_and_plans_from_its_answers() {
    // Wine has no wsl.exe: WSL is not installed; .wslconfig is the user's profile folder's.
    let d = c_dir();
    let r = run(onramp(d.path()).args(["--json", "migrate", "wsl", "--dry-run"]));
    ok(&r);
    let doc = json(&r);
    let steps = doc["plan"]["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, MIGRATE_STEPS, "{}", r.stderr);
    assert_eq!(steps[0]["state"], "todo");
    let profile = std::env::var("USERPROFILE").unwrap();
    let edit = &steps[3]["change"][0];
    assert_eq!(edit["kind"], "edit");
    assert_eq!(edit["path"], format!(r"{profile}\.wslconfig"));
    // The project on C: is copied from where WSL mounts it.
    let copy = steps[7]["change"][0]["argv"].to_string();
    assert!(copy.contains("/mnt/c/"), "{copy}");
    assert!(std::fs::read_dir(d.path()).unwrap().next().is_none());
}

#[test]
fn migrate_wsl_applied_without_wsl_exe_stops_at_the_first_step_with_its_log_and_state() {
    // Wine has no wsl.exe: the first step's change cannot start. Nothing after it runs, the
    // user's .wslconfig is not touched, and the log and the state say where it stopped.
    let wslconfig = format!(r"{}\.wslconfig", std::env::var("USERPROFILE").unwrap());
    let had = std::path::Path::new(&wslconfig).exists();
    let d = c_dir();
    let r = run(onramp(d.path()).args(["--yes", "migrate", "wsl"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("wsl failed"), "{}", r.stdout);
    assert!(
        r.stdout.contains("run `onramp migrate wsl` again"),
        "{}",
        r.stdout
    );
    let log = std::fs::read_to_string(d.path().join(r".onramp\logs\install-wsl.log")).unwrap();
    assert!(
        log.contains("$ wsl.exe --install --no-distribution"),
        "{log}"
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join(r".onramp\migrate-wsl.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["distro"], "Ubuntu-24.04");
    assert_eq!(state["done"], serde_json::json!([]));
    assert_eq!(std::path::Path::new(&wslconfig).exists(), had);
}
