//! The installer's plan for recorded machines (`tests/fixtures/sysroot/<platform>/`), end to end:
//! `ONRAMP_SYSROOT=... onramp doctor --fix --dry-run --json`, the plan snapshotted.

use std::path::{Path, PathBuf};

use crate::common::{json, onramp, run};

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sysroot")
        .join(name)
}

/// The plan for one recorded machine, with the project directory written as `[PROJECT]`.
fn plan_for(name: &str, prepare: impl Fn(&Path)) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path());
    let r = run(onramp(dir.path())
        .env("ONRAMP_SYSROOT", fixture(name))
        .args([
            "doctor",
            "--fix",
            "--dry-run",
            "--json",
            "--profile",
            "minimal",
        ]));
    let doc = json(&r);
    assert!(
        doc["fix"]["dry_run"].as_bool() == Some(true),
        "{name}: {}",
        r.stdout
    );
    let text = serde_json::to_string_pretty(&doc["fix"]["plan"])
        .unwrap()
        .replace(&dir.path().display().to_string(), "[PROJECT]");
    serde_json::from_str(&text).unwrap()
}

fn snapshot(name: &str) -> serde_json::Value {
    let plan = plan_for(name, |_| {});
    insta::assert_snapshot!(
        name.replace('.', "_"),
        serde_json::to_string_pretty(&plan).unwrap()
    );
    plan
}

fn ids(plan: &serde_json::Value, state: &str) -> Vec<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == state)
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn commands(plan: &serde_json::Value) -> Vec<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] != "satisfied")
        .flat_map(|s| s["change"].as_array().unwrap().clone())
        .filter_map(|a| {
            let argv = a["argv"].as_array()?;
            Some(
                argv.iter()
                    .map(|x| x.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .collect()
}

#[test]
fn debian_12_installs_docker_io_with_sudo_and_starts_it_with_systemd() {
    let p = snapshot("debian-12");
    let c = commands(&p);
    assert!(
        c.iter().any(|c| c
            .starts_with("sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install")
            && c.ends_with("docker.io")),
        "{c:?}"
    );
    assert!(c.contains(&"sudo -n systemctl enable --now docker".to_string()));
    assert!(c.contains(&"sudo -n usermod -aG docker dev".to_string()));
    assert!(c.iter().any(|c| c.ends_with("python3.11-venv")), "{c:?}");
}

#[test]
fn ubuntu_22_04_plan() {
    let p = snapshot("ubuntu-22.04");
    assert!(!commands(&p).iter().any(|c| c.contains("groupadd")));
}

#[test]
fn ubuntu_24_04_starts_the_installed_engine_and_never_installs_a_second() {
    let p = snapshot("ubuntu-24.04");
    assert_eq!(ids(&p, "todo"), vec!["stale-pidfiles", "engine-start"]);
    assert!(!commands(&p).iter().any(|c| c.contains("apt-get")));
}

#[test]
fn a_venv_whose_interpreter_is_gone_is_cleared_for_the_venv_rung() {
    let p = plan_for("ubuntu-24.04", |dir| {
        let v = dir.join(".venv");
        std::fs::create_dir_all(v.join("bin")).unwrap();
        std::fs::write(v.join("pyvenv.cfg"), "home = /usr/local/python3.9/bin\n").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/usr/local/python3.9/bin/python3", v.join("bin/python"))
            .unwrap();
    });
    let step = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "project-venv")
        .expect("a project-venv step");
    assert_eq!(step["change"][0]["kind"], "remove");
    assert_eq!(step["change"][0]["path"], "[PROJECT]/.venv");
    // The SDK ladder's venv rung is the one that creates a venv.
    assert_eq!(step["change"].as_array().unwrap().len(), 1);
    assert_eq!(step["verify"]["kind"], "absent");
}

#[test]
fn mint_22_is_planned_as_ubuntu() {
    let p = snapshot("mint-22");
    assert_eq!(p["family"], "debian");
    assert!(commands(&p).iter().any(|c| c.ends_with("python3.12-venv")));
}

#[test]
fn fedora_40_installs_moby_engine() {
    let p = snapshot("fedora-40");
    assert!(commands(&p).contains(&"sudo -n dnf install -y moby-engine".to_string()));
}

#[test]
fn arch_installs_docker_and_python_with_pacman() {
    let p = snapshot("arch");
    let c = commands(&p);
    assert!(c.contains(&"sudo -n pacman -S --needed --noconfirm docker".to_string()));
    assert!(c.contains(&"sudo -n pacman -S --needed --noconfirm python".to_string()));
}

#[test]
fn alpine_uses_apk_and_openrc_as_root() {
    let p = snapshot("alpine");
    let c = commands(&p);
    assert_eq!(
        c,
        vec![
            "apk update",
            "apk add docker",
            "rc-update add docker default",
            "rc-service docker start"
        ]
    );
}

#[test]
fn opensuse_tumbleweed_uses_zypper() {
    let p = snapshot("opensuse-tumbleweed");
    assert!(commands(&p).contains(&"sudo -n zypper --non-interactive install docker".to_string()));
}

#[test]
fn wsl2_with_docker_desktop_fixes_the_integration_instead_of_installing() {
    for name in [
        "wsl2-ubuntu-desktop-systemd",
        "wsl2-ubuntu-desktop-nosystemd",
    ] {
        let p = snapshot(name);
        assert_eq!(ids(&p, "manual"), vec!["desktop-integration"], "{name}");
        assert!(
            commands(&p).iter().all(|c| !c.contains("docker.io")),
            "{name}"
        );
    }
}

#[test]
fn wsl2_without_desktop_installs_the_engine_in_the_distro() {
    let p = snapshot("wsl2-ubuntu-systemd");
    assert!(commands(&p).contains(&"sudo -n systemctl enable --now docker".to_string()));
    let p = snapshot("wsl2-ubuntu-nosystemd");
    let c = commands(&p);
    assert!(c.iter().any(|c| c.contains("/etc/wsl.conf")), "{c:?}");
    assert!(c.iter().any(|c| c.contains("iptables-legacy")), "{c:?}");
    assert!(c.contains(&"sudo -n dockerd".to_string()), "{c:?}");
    let start = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "engine-start")
        .unwrap();
    assert_eq!(start["change"][0]["kind"], "detach", "{start}");
    assert_eq!(start["change"][0]["log"], ".onramp/logs/dockerd.log");
}

#[test]
fn wsl1_asks_for_the_conversion_to_wsl2() {
    let p = snapshot("wsl1-ubuntu");
    assert_eq!(p["platform"], "wsl1");
    let text = p["steps"][0]["change"][0]["text"].as_str().unwrap();
    assert!(text.contains("wsl --set-version Ubuntu-22.04 2"), "{text}");
}

#[test]
fn windows_without_wsl_installs_wsl_and_never_docker_desktop_unasked() {
    let p = snapshot("windows-11-no-wsl");
    let c = commands(&p);
    assert!(c.contains(&"wsl --install --no-distribution".to_string()));
    assert!(c.iter().any(|c| c.contains("Python.Python.3.12")));
    assert!(!c.iter().any(|c| c.contains("Docker.DockerDesktop")));
    // Without an engine, what the native backend can and cannot offer here.
    let notes = p["notes"].to_string();
    assert!(
        notes.contains("win_amd64 for PostgreSQL and ChromaDB")
            && notes.contains("none carries a Redis server")
            && notes.contains("inside WSL2"),
        "{notes}"
    );
}

#[test]
fn where_the_engine_is_still_to_come_the_native_backend_is_offered_and_not_once_it_is_chosen() {
    let p = snapshot("debian-12");
    assert!(
        p["notes"].to_string().contains("--backend native"),
        "{}",
        p["notes"]
    );
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path())
        .env("ONRAMP_SYSROOT", fixture("debian-12"))
        .args(["doctor", "--fix", "--dry-run", "--json"])
        .args(["--profile", "minimal", "--backend", "native"]));
    let native = json(&r)["fix"]["plan"].clone();
    assert!(r.stderr.contains("native backend"), "{}", r.stderr);
    assert!(
        !ids(&native, "todo").iter().any(|i| i.starts_with("engine")),
        "{native}"
    );
    assert!(!native["notes"].to_string().contains("--backend native"));
}

#[test]
fn macos_plans_homebrew_then_colima_sized_by_the_profile() {
    let p = snapshot("macos-homebrew");
    assert!(commands(&p).contains(&"colima start --cpu 2 --memory 4".to_string()));
    let p = snapshot("macos-bare");
    assert_eq!(ids(&p, "todo")[0], "homebrew");
}

#[test]
fn a_home_that_is_not_the_users_is_refused() {
    let p = snapshot("debian-12-sudo-home");
    assert!(p["refused"].as_str().unwrap().contains("/home/dev"));
    assert!(p["steps"].as_array().unwrap().is_empty());
}

#[test]
fn a_plan_for_the_system_under_onramp_sysroot_is_never_applied_here() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path())
        .env("ONRAMP_SYSROOT", fixture("arch"))
        .args(["doctor", "--fix", "--yes", "--json", "--profile", "minimal"]));
    let doc = json(&r);
    assert_eq!(doc["fix"]["dry_run"], true);
    assert_eq!(doc["fix"]["changed"], false);
    assert!(doc["fix"]["applied"].as_array().unwrap().is_empty());
    assert!(r.stderr.contains("shown, not applied"), "{}", r.stderr);
    assert!(!dir.path().join(".onramp/logs").exists());
}

#[test]
fn setup_dry_run_prints_the_plan_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path())
        .env("ONRAMP_SYSROOT", fixture("fedora-40"))
        .args(["setup", "--dry-run", "--json", "--profile", "minimal"]));
    let doc = json(&r);
    assert_eq!(doc["dry_run"], true);
    assert_eq!(r.code, 1, "an engine is still to be installed");
    assert!(
        r.stderr.contains("sudo -n dnf install -y moby-engine"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_answering_podman_socket_is_the_engine_and_nothing_is_installed() {
    let p = snapshot("ubuntu-24.04-podman");
    assert!(commands(&p).is_empty(), "{:?}", commands(&p));
    let engine = &p["steps"][0];
    assert_eq!(engine["id"], "engine");
    assert_eq!(engine["state"], "satisfied");
    let why = engine["why"].as_str().unwrap();
    assert!(why.contains("/run/user/1000/podman/podman.sock"), "{why}");
}

/// `doctor --fix --dry-run --json` for a recorded machine: the checks and the plan.
fn doctor_doc(name: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path())
        .env("ONRAMP_SYSROOT", fixture(name))
        .args([
            "doctor",
            "--fix",
            "--dry-run",
            "--json",
            "--profile",
            "minimal",
        ]));
    json(&r)
}

/// What the plan (as JSON) does about a check: its refusal, or its steps still to do that
/// answer the check, each as one line.
pub(crate) fn plan_fix(plan: &serde_json::Value, check: &str) -> Option<String> {
    if let Some(why) = plan["refused"].as_str() {
        return Some(why.to_string());
    }
    let lines: Vec<String> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] != "satisfied")
        .filter(|s| onramp::install::answers(s["id"].as_str().unwrap()).contains(&check))
        .map(|s| {
            let mut out = String::new();
            let mut last_run = false;
            for a in s["change"].as_array().unwrap() {
                let (text, is_run) = match a["kind"].as_str().unwrap() {
                    "run" => {
                        let argv: Vec<String> = serde_json::from_value(a["argv"].clone()).unwrap();
                        (onramp::install::shell_line(&argv), true)
                    }
                    "detach" => {
                        let argv: Vec<String> = serde_json::from_value(a["argv"].clone()).unwrap();
                        let log = a["log"].as_str().unwrap();
                        (onramp::install::detach_line(&argv, log), false)
                    }
                    "remove" => (format!("remove {}", a["path"].as_str().unwrap()), false),
                    "write-file" | "project-file" => {
                        (format!("write {}", a["path"].as_str().unwrap()), false)
                    }
                    "ca-bundle" => (
                        format!(
                            "write {} (the OS trust store's roots and {})",
                            a["path"].as_str().unwrap(),
                            a["ca_file"].as_str().unwrap()
                        ),
                        false,
                    ),
                    "edit" => {
                        let settings: Vec<onramp::wsl::ini::Setting> = a["settings"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|s| {
                                onramp::wsl::ini::Setting::new(
                                    s["section"].as_str().unwrap(),
                                    s["option"].as_str().unwrap(),
                                    s["value"].as_str().unwrap(),
                                )
                            })
                            .collect();
                        let path = a["path"].as_str().unwrap();
                        let backup = a["backup"].as_str().unwrap();
                        (onramp::wsl::ini::edit_line(path, &settings, backup), false)
                    }
                    _ => (a["text"].as_str().unwrap().to_string(), false),
                };
                if !out.is_empty() {
                    out.push_str(if last_run && is_run { " && " } else { "; " });
                }
                out.push_str(&text);
                last_run = is_run;
            }
            out
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("; then "))
}

#[test]
fn every_recorded_machines_failing_checks_are_fixed_as_its_plan_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysroot");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut compared = 0;
    for name in &names {
        let doc = doctor_doc(name);
        let plan = &doc["fix"]["plan"];
        for c in doc["checks"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap();
            let guardian = onramp::wsl::CHECKS.contains(&id);
            if !(c["status"] == "fail" || (guardian && c["status"] == "warn"))
                || !(["docker", "python", "wsl", "platform"].contains(&id) || guardian)
            {
                continue;
            }
            let want = plan_fix(plan, id);
            assert!(
                want.is_some(),
                "{name}: check {id} fails but the plan has no step for it"
            );
            assert_eq!(c["remedy"].as_str(), want.as_deref(), "{name}: check {id}");
            compared += 1;
        }
    }
    assert!(compared >= 15, "only {compared} failing checks compared");
}

#[test]
fn doctor_never_tells_a_wsl2_desktop_user_to_install_an_engine() {
    let doc = doctor_doc("wsl2-ubuntu-desktop-systemd");
    let docker = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "docker")
        .unwrap();
    let remedy = docker["remedy"].as_str().unwrap();
    assert!(remedy.contains("WSL integration"), "{remedy}");
    assert!(!remedy.contains("apt-get"), "{remedy}");
}
