//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test. Built for Windows on Linux (under Wine), cargo names it by its Unix
/// path, which is `Z:\` (Wine's drive for the Unix root) to a Windows program.
pub fn bin() -> PathBuf {
    let path = env!("CARGO_BIN_EXE_onramp");
    match path.strip_prefix('/').filter(|_| cfg!(windows)) {
        Some(rest) => PathBuf::from(format!(r"Z:\{}", rest.replace('/', r"\"))),
        None => PathBuf::from(path),
    }
}

/// `onramp` in `dir`, with a clean environment for the variables onramp reads.
pub fn onramp(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir);
    for var in [
        "ONRAMP_PROFILE",
        "ONRAMP_SYSROOT",
        "ONRAMP_NETWORK_FILE",
        "DOCKER_CONTEXT",
        "CLICOLOR_FORCE",
        "WSL_DISTRO_NAME",
        "WSL_INTEROP",
    ] {
        c.env_remove(var);
    }
    // Tests reach services on 127.0.0.1 only: doctor's network check is asked for explicitly.
    c.env("ONRAMP_NETWORK", "off");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("onramp runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// What a finished command printed: its stdout, then its stderr.
#[cfg(unix)]
pub fn printed(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        )
    })
}

pub fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Whether tests must not skip for want of infrastructure (set by `.ci/run`).
#[cfg(unix)]
pub fn strict() -> bool {
    std::env::var("ONRAMP_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Skip (or, in strict mode, fail) a test whose infrastructure is missing.
#[cfg(unix)]
pub fn skip_or_fail(why: &str) {
    if strict() {
        panic!("required for the test suite: {why}");
    }
    eprintln!("SKIP: {why}");
}

/// Stand-ins for the Microsoft Store's `python3`/`python` aliases: they print the Store's
/// message and exit 9009.
#[cfg(unix)]
pub fn stub_python(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for name in ["python3", "python"] {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\necho 'Python was not found; run without arguments to install from the Microsoft Store, or disable this shortcut from Settings > Manage App Execution Aliases.'\nexit 9009\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// The local test registry (scripts/images.sh pushes the test images there).
#[cfg(unix)]
pub fn registry() -> String {
    std::env::var("ONRAMP_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into())
}

/// A test image by name and tag, in the local registry.
#[cfg(unix)]
pub fn image(name: &str) -> String {
    format!("{}/onramp-test/{name}", registry())
}

/// Run the Docker CLI; its stdout when it succeeded.
#[cfg(unix)]
pub fn docker(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run a shell script; whether it succeeded.
#[cfg(unix)]
pub fn sh(script: &str) -> bool {
    Command::new("sh")
        .args(["-c", script])
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the shared engine on the default socket answers.
#[cfg(unix)]
pub fn engine_up() -> bool {
    sh("docker -H unix:///var/run/docker.sock info >/dev/null 2>&1")
}

/// The plan steps `doctor --fix --json` applied (not those already satisfied), as (id, done).
#[cfg(unix)]
pub fn applied(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["fix"]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["done"] != "satisfied")
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["done"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
