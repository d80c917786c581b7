//! `onramp doctor` on this machine and on recorded systems (`ONRAMP_SYSROOT`).

use std::path::Path;

use crate::common::{json, onramp, run, skip_or_fail, write};

fn check<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {doc}"))
}

fn meminfo_total_gib() -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kb: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    kb / 1024.0 / 1024.0
}

fn command_stdout(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd).args(args).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// The first number in a detail line.
fn leading_number(s: &str) -> f64 {
    s.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn doctor_reports_this_machine_as_proc_nproc_and_df_do() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path()).args(["doctor", "--json"]));
    let doc = json(&r);
    let any_fail = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["status"] == "fail");
    assert_eq!(r.code, if any_fail { 1 } else { 0 }, "{}", r.stderr);
    assert_eq!(doc["ok"], !any_fail);

    let mem = check(&doc, "memory");
    let reported = leading_number(mem["detail"].as_str().unwrap());
    let detail = mem["detail"].as_str().unwrap();
    // Host memory is reported beside the effective value, to one decimal.
    assert!(
        detail.contains(&format!("host {:.1} GiB", meminfo_total_gib())),
        "{detail}"
    );
    assert!(reported <= meminfo_total_gib() + 0.05);

    let nproc: f64 = command_stdout("nproc", &[]).trim().parse().unwrap();
    let cpus = check(&doc, "cpus");
    let logical = format!("{} logical", nproc);
    assert!(
        cpus["detail"].as_str().unwrap().contains(&logical),
        "{cpus}"
    );
    // The kailash profile recommends 8 CPUs: fewer is a warning, not a failure.
    if (2.0..8.0).contains(&nproc) {
        assert_eq!(cpus["status"], "warn");
        assert!(cpus["remedy"].is_string());
    }

    let df = command_stdout(
        "df",
        &["-k", "--output=avail", dir.path().to_str().unwrap()],
    );
    let avail_kb: f64 = df.lines().nth(1).unwrap().trim().parse().unwrap();
    let disk = check(&doc, "disk");
    let free = leading_number(disk["detail"].as_str().unwrap());
    let df_gib = avail_kb / 1024.0 / 1024.0;
    assert!(
        (free - df_gib).abs() < 0.5,
        "onramp {free} GiB, df {df_gib} GiB"
    );

    // Human output went to stderr, so stdout held only the JSON parsed above.
    assert!(r.stderr.contains("onramp doctor"));
}

#[test]
fn a_dead_docker_endpoint_is_reported_not_running_with_a_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path())
        .args(["doctor", "--json"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock"));
    let doc = json(&r);
    let d = check(&doc, "docker");
    assert_eq!(d["status"], "fail");
    let detail = d["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("not running") || detail.starts_with("not installed"),
        "{detail}"
    );
    let remedy = d["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("docker") || remedy.contains("Docker"),
        "{remedy}"
    );
    assert!(!remedy.contains("777"));
    assert_eq!(r.code, 1);
}

#[test]
fn human_output_is_a_table_without_colour_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path()).arg("doctor"));
    assert!(!r.stdout.contains('\u{1b}'), "escape codes off a terminal");
    assert!(r.stdout.contains("memory"));
    assert!(r.stdout.lines().any(|l| l.trim_start().starts_with('✓')));
    let forced = run(onramp(dir.path()).arg("doctor").env("CLICOLOR_FORCE", "1"));
    assert!(forced.stdout.contains('\u{1b}'));
    let both = run(onramp(dir.path())
        .arg("doctor")
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1"));
    assert!(!both.stdout.contains('\u{1b}'));
}

fn sysroot_platform(files: &[(&str, &str)], env: &[(&str, &str)]) -> serde_json::Value {
    let root = tempfile::tempdir().unwrap();
    for (p, t) in files {
        write(root.path(), p, t);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = onramp(dir.path());
    cmd.args(["doctor", "--json"])
        .env("ONRAMP_SYSROOT", root.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let doc = json(&run(&mut cmd));
    doc["platform"].clone()
}

#[test]
fn sysroot_wsl2_kernel() {
    let p = sysroot_platform(
        &[(
            "proc/sys/kernel/osrelease",
            "5.15.153.1-microsoft-standard-WSL2\n",
        )],
        &[],
    );
    assert_eq!(p["kind"], "wsl2");
    assert!(p["evidence"][0].as_str().unwrap().contains("WSL2 kernel"));
}

#[test]
fn sysroot_wsl1_kernel_fails_with_the_set_version_remedy() {
    let root = tempfile::tempdir().unwrap();
    write(
        root.path(),
        "proc/sys/kernel/osrelease",
        "4.4.0-19041-Microsoft\n",
    );
    write(
        root.path(),
        "proc/version",
        "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) ) #488-Microsoft Mon Sep 01 13:43:00 PST 2020\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path())
        .args(["doctor", "--json"])
        .env("ONRAMP_SYSROOT", root.path())
        .env("WSL_DISTRO_NAME", "Ubuntu-22.04"));
    let doc = json(&r);
    assert_eq!(doc["platform"]["kind"], "wsl1");
    let wsl = check(&doc, "wsl");
    assert_eq!(wsl["status"], "fail");
    assert!(
        wsl["remedy"]
            .as_str()
            .unwrap()
            .contains("wsl --set-version Ubuntu-22.04 2")
    );
    assert_eq!(r.code, 1);
}

#[test]
fn sysroot_custom_wsl2_kernel_found_by_interop() {
    let p = sysroot_platform(
        &[
            ("proc/sys/kernel/osrelease", "6.8.12-custom\n"),
            ("proc/sys/fs/binfmt_misc/WSLInterop", "enabled\n"),
        ],
        &[],
    );
    assert_eq!(p["kind"], "wsl2");
    let ev = p["evidence"].to_string();
    assert!(ev.contains("WSLInterop"), "{ev}");
}

#[test]
fn sysroot_azure_kernel_naming_microsoft_is_plain_linux() {
    let p = sysroot_platform(
        &[
            ("proc/sys/kernel/osrelease", "5.15.0-1073-azure\n"),
            (
                "proc/version",
                "Linux version 5.15.0-1073-azure (Microsoft@azure-kernel-builder) (gcc 11.4.0) #82-Ubuntu SMP\n",
            ),
            (
                "etc/os-release",
                "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nID=ubuntu\nID_LIKE=debian\n",
            ),
        ],
        &[],
    );
    assert_eq!(p["kind"], "linux");
    assert_eq!(p["distro"], "Ubuntu 22.04.4 LTS");
    assert_eq!(p["container"], false);
}

/// Put the current process's child into a cgroup limited to 1 GiB and 1.5 CPUs (v1 or v2) and
/// run doctor there. Needs root and a writable cgroup hierarchy.
#[test]
fn inside_a_cgroup_memory_and_cpus_are_the_limits() {
    let name = format!("onramp-test-{}", std::process::id());
    let Some(procs) = make_cgroup(&name) else {
        skip_or_fail("cannot create a cgroup with memory and cpu limits here (needs root)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "for f in {}; do echo $$ > $f; done; exec {} doctor --json",
        procs.join(" "),
        crate::common::bin().display()
    );
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env_remove("ONRAMP_SYSROOT")
        .output()
        .unwrap();
    remove_cgroup(&name);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mem = check(&doc, "memory");
    assert_eq!(
        leading_number(mem["detail"].as_str().unwrap()),
        1.0,
        "{mem}"
    );
    assert!(
        mem["detail"]
            .as_str()
            .unwrap()
            .contains("cgroup limit 1.0 GiB")
    );
    assert_eq!(
        mem["status"], "fail",
        "1 GiB is under the kailash minimum of 8"
    );
    let cpus = check(&doc, "cpus");
    assert_eq!(
        leading_number(cpus["detail"].as_str().unwrap()),
        1.5,
        "{cpus}"
    );
    assert_eq!(cpus["status"], "fail");
}

const V1: &str = "/sys/fs/cgroup";

fn make_cgroup(name: &str) -> Option<Vec<String>> {
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let limit = 1u64 << 30;
    if v2 {
        let d = format!("{V1}/{name}");
        std::fs::create_dir(&d).ok()?;
        let _ = std::fs::write(format!("{V1}/cgroup.subtree_control"), "+memory +cpu");
        std::fs::write(format!("{d}/memory.max"), limit.to_string()).ok()?;
        std::fs::write(format!("{d}/cpu.max"), "150000 100000").ok()?;
        return Some(vec![format!("{d}/cgroup.procs")]);
    }
    let mem = format!("{V1}/memory/{name}");
    let cpu = format!("{V1}/cpu/{name}");
    std::fs::create_dir(&mem).ok()?;
    if std::fs::create_dir(&cpu).is_err() {
        let _ = std::fs::remove_dir(&mem);
        return None;
    }
    let ok = std::fs::write(format!("{mem}/memory.limit_in_bytes"), limit.to_string()).is_ok()
        && std::fs::write(format!("{cpu}/cpu.cfs_period_us"), "100000").is_ok()
        && std::fs::write(format!("{cpu}/cpu.cfs_quota_us"), "150000").is_ok();
    if !ok {
        remove_cgroup(name);
        return None;
    }
    Some(vec![
        format!("{mem}/cgroup.procs"),
        format!("{cpu}/cgroup.procs"),
    ])
}

fn remove_cgroup(name: &str) {
    for d in [
        format!("{V1}/{name}"),
        format!("{V1}/memory/{name}"),
        format!("{V1}/cpu/{name}"),
    ] {
        let _ = std::fs::remove_dir(d);
    }
}

#[test]
fn doctor_warns_about_floating_image_tags_and_passes_pinned_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "onramp.toml",
        "extends = \"minimal\"\n\n[services.redis]\nimage = \"redis\"\n\n[services.postgres]\nimage = \"127.0.0.1:5000/onramp-test/postgres:latest\"\n",
    );
    let doc = json(&run(onramp(dir.path()).args(["doctor", "--json"])));
    let redis = check(&doc, "image:redis");
    assert_eq!(redis["status"], "warn", "{redis}");
    assert!(
        redis["detail"].as_str().unwrap().contains("no tag"),
        "{redis}"
    );
    assert!(
        redis["remedy"]
            .as_str()
            .unwrap()
            .contains("image = \"redis:X.Y.Z\""),
        "{redis}"
    );
    let pg = check(&doc, "image:postgres");
    assert_eq!(pg["status"], "warn", "{pg}");
    assert!(
        pg["remedy"]
            .as_str()
            .unwrap()
            .contains("\"127.0.0.1:5000/onramp-test/postgres:X.Y.Z\""),
        "{pg}"
    );

    // The shipped profiles pin every image.
    let pinned = tempfile::tempdir().unwrap();
    let doc = json(&run(onramp(pinned.path()).args(["doctor", "--json"])));
    let images = check(&doc, "images");
    assert_eq!(images["status"], "pass", "{images}");
    assert!(
        images["detail"]
            .as_str()
            .unwrap()
            .contains("chromadb/chroma:1.5.9"),
        "{images}"
    );
}
