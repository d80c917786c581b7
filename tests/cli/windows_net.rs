//! The Windows suite, company network: `onramp.exe doctor --fix --dry-run` on recorded Windows
//! machines (Docker Desktop; Docker Engine inside a WSL2 distro) for a project on `C:` that names
//! the company root, with the user's proxy (and its password) in the environment.

use std::path::Path;
use std::process::Command;

use crate::common::{Run, bin, run};

const PASSWORD: &str = "s3cret-Pw-42";
const PROXY: &str = "http://alice:s3cret-Pw-42@proxy.corp.example:3128";

/// A recorded machine of the Unix suite, as a Windows path (`Z:\...`).
fn recorded(name: &str) -> std::path::PathBuf {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sysroot/");
    let path = format!("{path}{name}");
    match path.strip_prefix('/') {
        Some(rest) => std::path::PathBuf::from(format!(r"Z:\{}", rest.replace('/', r"\"))),
        None => std::path::PathBuf::from(path),
    }
}

/// The human `doctor --fix --dry-run` of a project on `C:` naming the root, on that machine.
fn dry_run(name: &str, dir: &Path) -> Run {
    std::fs::write(
        dir.join("corp-root.pem"),
        include_str!("../fixtures/net-desktop/corp-root.pem"),
    )
    .unwrap();
    std::fs::write(
        dir.join("onramp.toml"),
        "extends = \"minimal\"\n\n[network]\nca_file = \"corp-root.pem\"\n",
    )
    .unwrap();
    let mut c = Command::new(bin());
    c.current_dir(dir);
    for var in [
        "ONRAMP_PROFILE",
        "ONRAMP_NETWORK",
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "https_proxy",
        "http_proxy",
    ] {
        c.env_remove(var);
    }
    let r = run(c
        .env("ONRAMP_SYSROOT", recorded(name))
        .env("HTTPS_PROXY", PROXY)
        .env("NO_PROXY", "localhost,127.0.0.1")
        .args(["doctor", "--fix", "--dry-run"]));
    let all = format!("{}\n{}", r.stdout, r.stderr);
    assert!(!all.contains(PASSWORD), "the password was printed:\n{all}");
    assert!(all.contains("dry run: nothing was changed"), "{all}");
    r
}

fn has(r: &Run, lines: &[&str]) {
    let all = format!("{}\n{}", r.stdout, r.stderr);
    for l in lines {
        assert!(all.contains(l), "no `{l}`:\n{all}");
    }
}

#[test]
fn docker_desktops_network_plan_is_printed_from_a_recorded_machine() {
    let d = tempfile::tempdir().unwrap();
    let r = dry_run("windows-desktop-net", d.path());
    let pem = d.path().join("corp-root.pem").display().to_string();
    has(
        &r,
        &[
            "ca-os-store",
            "Import-Certificate -FilePath",
            &pem,
            "-CertStoreLocation Cert:\\LocalMachine\\Root",
            "desktop-proxy",
            "Settings > Resources > Proxies",
            "http://alice:***@proxy.corp.example:3128",
            "desktop-restart",
            "docker desktop restart",
            "network:desktop",
        ],
    );
    assert!(
        std::fs::read_dir(d.path()).unwrap().count() == 2,
        "files were written"
    );
}

#[test]
fn a_wsl2_distros_engine_gets_the_root_from_the_windows_drive() {
    let d = tempfile::tempdir().unwrap();
    let r = dry_run("windows-wsl2-engine-net", d.path());
    let pem = d.path().join("corp-root.pem").display().to_string();
    let inside = format!(
        "/mnt/{}{}",
        pem[..1].to_ascii_lowercase(),
        pem[2..].replace('\\', "/")
    );
    has(
        &r,
        &[
            "wsl-distro-trust:Ubuntu-24.04",
            "wsl.exe -d Ubuntu-24.04 -u root -- sh -c",
            &inside,
            "wsl-distro-restart:Ubuntu-24.04",
        ],
    );
}
