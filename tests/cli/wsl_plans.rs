//! WSL situations as plans, from recorded machines (`tests/fixtures/sysroot/windows-wsl*`,
//! `wsl2-clock-skew`, `wsl2-dns-vpn`: wsl.exe's UTF-16LE output, netsh, `.wslconfig`,
//! `wsl.conf`, `resolv.conf`, clock offsets): `onramp migrate wsl --dry-run --json` from Windows
//! and the guardian's checks with `doctor --fix --dry-run --json`, snapshotted.

use std::path::{Path, PathBuf};

use crate::common::{Run, json, onramp, run};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sysroot")
        .join(name)
}

/// A project folder named `horme` (the name it gets in the distro's home).
fn project() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("horme");
    std::fs::create_dir(&p).unwrap();
    (d, p)
}

fn onramp_on(machine: &str, dir: &Path, args: &[&str]) -> Run {
    run(onramp(dir)
        .env("ONRAMP_SYSROOT", fixture(machine))
        .args(["--profile", "minimal", "--json"])
        .args(args))
}

/// `migrate wsl --dry-run` for a recorded Windows machine: its plan.
fn migrate(machine: &str) -> serde_json::Value {
    let (_d, dir) = project();
    let r = onramp_on(machine, &dir, &["migrate", "wsl", "--dry-run"]);
    assert_eq!(r.code, 0, "{machine}: {}", r.stderr);
    let doc = json(&r);
    assert_eq!(doc["dry_run"], true);
    assert!(
        std::fs::read_dir(&dir).unwrap().next().is_none(),
        "a dry run writes nothing"
    );
    let text = serde_json::to_string_pretty(&doc["plan"])
        .unwrap()
        .replace(&dir.display().to_string(), "[PROJECT]");
    insta::assert_snapshot!(format!("migrate-{machine}"), text);
    serde_json::from_str(&text).unwrap()
}

/// `doctor --fix --dry-run` for a recorded machine: the guardian's checks and the plan.
fn doctor(machine: &str) -> (Vec<serde_json::Value>, serde_json::Value) {
    let (_d, dir) = project();
    let r = onramp_on(machine, &dir, &["doctor", "--fix", "--dry-run"]);
    let text = r.stdout.replace(&dir.display().to_string(), "[PROJECT]");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let guard: Vec<serde_json::Value> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("wsl-"))
        .cloned()
        .collect();
    let plan = doc["fix"]["plan"].clone();
    insta::assert_snapshot!(
        format!("doctor-{machine}"),
        serde_json::to_string_pretty(&serde_json::json!({"checks": guard, "plan": plan})).unwrap()
    );
    (guard, plan)
}

fn step<'a>(plan: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {plan:#}"))
}

fn check<'a>(checks: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    checks
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

fn argv(action: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(action["argv"].clone()).unwrap()
}

fn todo(plan: &serde_json::Value) -> Vec<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] != "satisfied")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn windows_without_wsl_installs_it_then_the_ubuntu_lts_then_everything_else() {
    let p = migrate("windows-wsl-none");
    assert_eq!(
        todo(&p),
        [
            "wsl",
            "distro",
            "distro-user",
            "wslconfig",
            "distro-systemd",
            "wsl-restart",
            "onramp",
            "project",
            "setup"
        ]
    );
    assert_eq!(
        argv(&step(&p, "wsl")["change"][0]),
        ["wsl.exe", "--install", "--no-distribution"]
    );
    assert_eq!(
        argv(&step(&p, "distro")["change"][0]),
        ["wsl.exe", "--install", "-d", "Ubuntu-24.04", "--no-launch"]
    );
    let user = step(&p, "distro-user")["change"][0]["text"]
        .as_str()
        .unwrap();
    assert!(user.contains("UNIX user name and password"), "{user}");
    // A project without a git remote is copied from where WSL mounts it.
    let copy = argv(&step(&p, "project")["change"][0]);
    assert!(
        copy.contains(&"/mnt/c/Users/dev/src/horme".to_string()),
        "{copy:?}"
    );
    let (checks, _) = doctor("windows-wsl-none");
    assert!(checks.iter().all(|c| c["status"] == "skip"), "{checks:?}");
}

#[test]
fn the_store_blocked_by_policy_installs_with_web_download() {
    let p = migrate("windows-wsl-store-blocked");
    for id in ["wsl", "distro"] {
        let a = argv(&step(&p, id)["change"][0]);
        assert_eq!(a.last().unwrap(), "--web-download", "{id}: {a:?}");
    }
    assert!(
        step(&p, "wsl")["note"]
            .as_str()
            .unwrap()
            .contains("blocked by policy")
    );
}

#[test]
fn a_wsl1_distro_is_converted_not_reinstalled() {
    let p = migrate("windows-wsl1-distro");
    assert_eq!(
        argv(&step(&p, "distro")["change"][0]),
        ["wsl.exe", "--set-version", "Ubuntu-24.04", "2"]
    );
    let (checks, _) = doctor("windows-wsl1-distro");
    let d = check(&checks, "wsl-dns")["detail"].as_str().unwrap();
    assert!(d.contains("WSL1"), "{d}");
}

#[test]
fn wsl2_without_systemd_gets_it_merged_into_wsl_conf_and_a_sized_wslconfig() {
    let p = migrate("windows-wsl2-nosystemd");
    assert_eq!(
        todo(&p),
        [
            "wslconfig",
            "distro-systemd",
            "wsl-restart",
            "onramp",
            "project",
            "setup"
        ]
    );
    let sd = argv(&step(&p, "distro-systemd")["change"][0]);
    assert_eq!(
        &sd[..6],
        ["wsl.exe", "-d", "Ubuntu-24.04", "-u", "root", "--"]
    );
    assert_eq!(
        &sd[sd.len() - 4..],
        ["/etc/wsl.conf", "boot", "systemd", "true"]
    );
    let edit = &step(&p, "wslconfig")["change"][0];
    assert_eq!(edit["kind"], "edit");
    assert_eq!(edit["path"], r"C:\Users\dev\.wslconfig");
    assert_eq!(edit["backup"], r"C:\Users\dev\.wslconfig.before-onramp");
    // The minimal profile recommends 4 GiB and 2 CPUs.
    let set: Vec<String> = edit["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}.{}={}", s["section"], s["option"], s["value"]).replace('"', ""))
        .collect();
    assert_eq!(
        set,
        [
            "wsl2.memory=4GB",
            "wsl2.processors=2",
            "experimental.autoMemoryReclaim=gradual"
        ]
    );
    let (checks, plan) = doctor("windows-wsl2-nosystemd");
    assert_eq!(check(&checks, "wsl-memory")["status"], "warn");
    assert_eq!(
        step(&plan, "wsl-restart")["change"][0]["argv"][0],
        "wsl.exe"
    );
}

#[test]
fn docker_desktops_integration_switched_off_is_turned_on_before_setup() {
    let p = migrate("windows-wsl2-desktop-off");
    assert_eq!(todo(&p), ["wsl-desktop", "setup"]);
    assert_eq!(step(&p, "wsl-desktop")["state"], "manual");
    let (checks, _) = doctor("windows-wsl2-desktop-off");
    let c = check(&checks, "wsl-desktop");
    assert_eq!(c["status"], "fail");
    assert!(
        c["remedy"]
            .as_str()
            .unwrap()
            .contains("WSL integration: turn Ubuntu-24.04 on")
    );
}

#[test]
fn mirrored_networking_with_published_ports_goes_back_to_nat() {
    let p = migrate("windows-wsl2-mirrored");
    let edit = &step(&p, "wsl-network")["change"][0];
    assert_eq!(edit["settings"][0]["value"], "nat");
    assert_eq!(step(&p, "wsl-restart")["state"], "todo");
    let clone = argv(&step(&p, "project")["change"][0]);
    assert!(clone.contains(&"git@example.invalid:team/horme.git".to_string()));
    let (checks, _) = doctor("windows-wsl2-mirrored");
    let c = check(&checks, "wsl-network");
    assert_eq!(c["status"], "warn");
    assert!(c["detail"].as_str().unwrap().contains("5432 (postgres)"));
    assert!(
        c["remedy"]
            .as_str()
            .unwrap()
            .ends_with("then wsl.exe --shutdown")
    );
    assert_eq!(check(&checks, "wsl-dns")["status"], "skip");
    assert!(
        check(&checks, "wsl-dns")["detail"]
            .as_str()
            .unwrap()
            .contains("DNS tunnelling on")
    );
}

#[test]
fn a_reserved_range_clash_names_the_port_the_range_and_the_fix() {
    let (checks, plan) = doctor("windows-wsl2-reserved-ports");
    let c = check(&checks, "wsl-ports");
    assert_eq!(c["status"], "fail");
    let d = c["detail"].as_str().unwrap();
    assert!(d.contains("5432 (postgres) in 5400-5499"), "{d}");
    assert!(
        d.contains("6379 (redis) in 6379-6379 (administered)"),
        "{d}"
    );
    let r = c["remedy"].as_str().unwrap();
    assert!(r.contains("net stop winnat"), "{r}");
    assert!(r.contains("ports = [\"16379:6379\"]"), "{r}");
    assert_eq!(step(&plan, "wsl-ports")["state"], "manual");
    let p = migrate("windows-wsl2-reserved-ports");
    assert!(todo(&p).contains(&"wsl-ports".to_string()));
}

#[test]
fn clock_skew_inside_wsl2_is_set_from_the_hardware_clock() {
    let (checks, plan) = doctor("wsl2-clock-skew");
    let c = check(&checks, "wsl-clock");
    assert_eq!(c["status"], "fail");
    assert!(c["detail"].as_str().unwrap().contains("-12 min 30 s"));
    assert_eq!(
        argv(&step(&plan, "wsl-clock")["change"][0]),
        ["sudo", "-n", "hwclock", "-s"]
    );
    assert_eq!(c["remedy"], "sudo -n hwclock -s");
}

#[test]
fn dns_that_does_not_answer_under_a_vpn_turns_tunnelling_on() {
    let (checks, plan) = doctor("wsl2-dns-vpn");
    let c = check(&checks, "wsl-dns");
    assert_eq!(c["status"], "fail");
    let edit = &step(&plan, "wsl-dns")["change"][0];
    assert_eq!(edit["path"], "/mnt/c/Users/dev/.wslconfig");
    assert_eq!(edit["settings"][0]["option"], "dnsTunneling");
    let r = c["remedy"].as_str().unwrap();
    assert!(r.contains("wsl.exe --shutdown"), "{r}");
}

#[test]
fn a_second_run_resumes_and_says_what_it_will_check_again() {
    let (_d, dir) = project();
    std::fs::create_dir(dir.join(".onramp")).unwrap();
    std::fs::write(
        dir.join(".onramp/migrate-wsl.json"),
        r#"{"distro":"Ubuntu-24.04","done":["wsl","distro","distro-user","wslconfig"],"restart_pending":true,"at":1}"#,
    )
    .unwrap();
    let r = onramp_on(
        "windows-wsl2-desktop-off",
        &dir,
        &["migrate", "wsl", "--dry-run"],
    );
    let doc = json(&r);
    let notes = doc["plan"]["notes"].to_string();
    assert!(
        notes.contains("resuming: an earlier run finished 4"),
        "{notes}"
    );
    // WSL was not restarted after the last edit: the restart is still to do.
    assert!(todo(&doc["plan"]).contains(&"wsl-restart".to_string()));
}

#[test]
fn migrate_refuses_off_windows_with_the_command_to_use() {
    let (_d, dir) = project();
    let r = onramp_on("wsl2-clock-skew", &dir, &["migrate", "wsl", "--dry-run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("onramp setup"), "{}", r.stderr);
}
