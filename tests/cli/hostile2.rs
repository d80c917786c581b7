//! Hostile input, second round (issue 16): folder names that are shell syntax reaching the
//! installer. Tests named `engine_*` use the shared engine (one at a time, under its lock).

use std::path::{Path, PathBuf};

use crate::common::{json, onramp, run};

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
