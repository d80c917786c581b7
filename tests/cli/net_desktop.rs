//! A company network on engines in a VM or on another OS, from recorded machines: Docker Desktop
//! on macOS and Windows, colima, Rancher Desktop, Docker Engine inside a WSL2 distro. The project
//! names the company root (`[network] ca_file`), a mirror and an image prefix; the user's proxy,
//! with a password, is in the environment. `doctor --fix --dry-run --json` gives the plan
//! (snapshotted) and the `network:desktop` finding, whose fix line is the plan's.

use std::path::Path;

use crate::common::{Run, json, onramp, run};
use crate::install_plans::{fixture, plan_fix};

const PASSWORD: &str = "s3cret-Pw-42";
const PROXY: &str = "http://alice:s3cret-Pw-42@proxy.corp.example:3128";

/// A project whose onramp.toml names the company's root, mirror and registry.
fn project(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net-desktop");
    std::fs::copy(root.join("corp-root.pem"), dir.join("corp-root.pem")).unwrap();
    std::fs::write(
        dir.join("onramp.toml"),
        "extends = \"minimal\"\n\n[network]\nca_file = \"corp-root.pem\"\nmirrors = [\"https://mirror.corp.example\"]\nimage_prefix = \"registry.corp.example:5000/hub\"\n",
    )
    .unwrap();
}

/// `doctor --fix --dry-run --json` on a recorded machine, for that project and proxy.
fn doctor(name: &str) -> (serde_json::Value, Run) {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let mut cmd = onramp(dir.path());
    for v in ["https_proxy", "http_proxy", "no_proxy", "ONRAMP_NETWORK"] {
        cmd.env_remove(v);
    }
    let r = run(cmd
        .env("ONRAMP_SYSROOT", fixture(name))
        .env("HTTPS_PROXY", PROXY)
        .env("HTTP_PROXY", PROXY)
        .env("NO_PROXY", "localhost,127.0.0.1")
        .args(["doctor", "--fix", "--dry-run", "--json"]));
    let text = r
        .stdout
        .replace(&dir.path().display().to_string(), "[PROJECT]")
        // As JSON writes a Windows name of it (`\\\\wsl.localhost\\<distro>\\tmp\\...`).
        .replace(
            &dir.path().display().to_string().replace('/', r"\\"),
            "[PROJECT]",
        );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| json(&r));
    (doc, r)
}

/// The plan snapshotted, every `network:*` remedy checked against it, no password anywhere.
fn planned(name: &str) -> serde_json::Value {
    let (doc, r) = doctor(name);
    assert!(
        !r.stdout.contains(PASSWORD) && !r.stderr.contains(PASSWORD),
        "{name}: the proxy password was printed:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    let plan = doc["fix"]["plan"].clone();
    insta::assert_snapshot!(
        format!("net-{name}"),
        serde_json::to_string_pretty(&plan).unwrap()
    );
    let finding = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "network:desktop")
        .unwrap_or_else(|| panic!("{name}: no network:desktop finding: {}", doc["checks"]))
        .clone();
    assert_eq!(finding["status"], "warn", "{name}: {finding}");
    assert_eq!(
        finding["remedy"].as_str(),
        plan_fix(&plan, "network").as_deref(),
        "{name}: the fix line is not the plan's"
    );
    plan
}

fn step<'a>(plan: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {plan}"))
}

fn ids(plan: &serde_json::Value) -> Vec<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .filter(|id| onramp::install::answers(id).contains(&"network"))
        // The project's own step (pip's CA bundle, tests/cli/network_pip.rs), not the engine's.
        .filter(|id| id != "python-trust")
        .collect()
}

fn argv(action: &serde_json::Value) -> String {
    action["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

fn manual_text(step: &serde_json::Value) -> String {
    step["change"][0]["text"].as_str().unwrap().to_string()
}

#[test]
fn docker_desktop_on_macos_gets_the_keychain_its_proxy_setting_and_a_restart() {
    let p = planned("macos-desktop-net");
    assert_eq!(
        ids(&p),
        [
            "ca-os-store",
            "desktop-proxy",
            "desktop-mirrors",
            "desktop-restart"
        ]
    );
    assert!(manual_text(step(&p, "ca-os-store")).contains("/Library/Keychains/System.keychain"));
    let proxy = manual_text(step(&p, "desktop-proxy"));
    assert!(
        proxy.contains("Settings > Resources > Proxies")
            && proxy.contains("http://alice:***@proxy.corp.example:3128")
            && proxy.contains("group.com.docker/settings-store.json"),
        "{proxy}"
    );
    assert!(
        step(&p, "desktop-proxy")["why"]
            .as_str()
            .unwrap()
            .contains("the system's proxy settings")
    );
    let restart = step(&p, "desktop-restart");
    assert_eq!(restart["state"], "todo");
    assert_eq!(argv(&restart["change"][0]), "docker desktop restart");
    // Nothing of the Linux engine's: no daemon.json, no /etc/docker/certs.d.
    assert!(!p.to_string().contains("/etc/docker"), "{p}");
}

#[test]
fn colima_gets_its_vm_store_certs_d_for_the_registry_its_env_and_a_restart() {
    let p = planned("macos-colima-net");
    assert_eq!(
        ids(&p),
        [
            "ca-os-store",
            "colima-vm-trust",
            "engine-trust:registry.corp.example:5000",
            "colima-proxy",
            "colima-restart"
        ]
    );
    let vm = step(&p, "colima-vm-trust");
    assert_eq!(
        vm["change"][0]["path"],
        "/Users/dev/.docker/onramp-company-root.crt"
    );
    assert_eq!(vm["change"][0]["sudo"], false);
    let ssh = argv(&vm["change"][1]);
    assert!(
        ssh.starts_with("colima ssh -- sudo sh -c")
            && ssh.ends_with("/Users/dev/.docker/onramp-company-root.crt"),
        "{ssh}"
    );
    assert_eq!(vm["check"]["argv"][0], "colima");
    let certs = step(&p, "engine-trust:registry.corp.example:5000");
    assert_eq!(
        certs["change"][0]["path"],
        "/Users/dev/.docker/certs.d/registry.corp.example:5000/onramp-company-root.crt"
    );
    let env = manual_text(step(&p, "colima-proxy"));
    assert!(
        env.contains("~/.colima/default/colima.yaml")
            && env.contains("  HTTPS_PROXY: http://alice:***@proxy.corp.example:3128")
            && env.contains("colima restart"),
        "{env}"
    );
    assert_eq!(
        argv(&step(&p, "colima-restart")["change"][0]),
        "colima restart"
    );
}

#[test]
fn docker_desktop_on_windows_gets_the_root_store_its_proxy_setting_and_a_restart() {
    let p = planned("windows-desktop-net");
    assert_eq!(
        ids(&p),
        [
            "ca-os-store",
            "desktop-proxy",
            "desktop-mirrors",
            "desktop-restart"
        ]
    );
    assert!(manual_text(step(&p, "ca-os-store")).contains("Cert:\\LocalMachine\\Root"));
    let proxy = step(&p, "desktop-proxy");
    assert!(
        proxy["why"]
            .as_str()
            .unwrap()
            .contains("the proxy http://old-proxy.corp.example:8080")
    );
    assert!(manual_text(proxy).contains(r"%APPDATA%\Docker\settings-store.json"));
    assert!(
        step(&p, "desktop-restart")["why"]
            .as_str()
            .unwrap()
            .contains("Windows root store")
    );
}

#[test]
fn rancher_desktop_on_windows_gets_the_root_store_a_provisioning_script_and_rdctl() {
    let p = planned("windows-rancher-net");
    assert_eq!(ids(&p), ["ca-os-store", "rancher-proxy", "rancher-restart"]);
    let proxy = manual_text(step(&p, "rancher-proxy"));
    assert!(
        proxy.contains(r"%LOCALAPPDATA%\rancher-desktop\provisioning")
            && proxy.contains("export HTTPS_PROXY='http://alice:***@proxy.corp.example:3128'"),
        "{proxy}"
    );
    let restart = step(&p, "rancher-restart");
    assert_eq!(argv(&restart["change"][0]), "rdctl shutdown");
    assert_eq!(argv(&restart["change"][1]), "rdctl start");
}

#[test]
fn a_wsl2_distros_engine_gets_the_distros_store_its_proxy_and_a_restart() {
    let p = planned("windows-wsl2-engine-net");
    assert_eq!(
        ids(&p),
        [
            "ca-os-store",
            "wsl-distro-trust:Ubuntu-24.04",
            "wsl-distro-proxy:Ubuntu-24.04",
            "wsl-distro-restart:Ubuntu-24.04"
        ]
    );
    // The project here is not on a Windows drive, so the distro cannot read the root from
    // /mnt/c: the step says what to do (the Windows suite shows the command).
    let trust = step(&p, "wsl-distro-trust:Ubuntu-24.04");
    assert_eq!(trust["state"], "manual");
    let proxy = manual_text(step(&p, "wsl-distro-proxy:Ubuntu-24.04"));
    assert!(proxy.contains("onramp doctor --fix"), "{proxy}");
    // Windows itself gets no engine: the one in the distro is named instead.
    assert!(manual_text(step(&p, "engine")).starts_with("Docker Engine runs inside Ubuntu-24.04"));
    let restart = step(&p, "wsl-distro-restart:Ubuntu-24.04");
    assert!(
        argv(&restart["change"][0]).starts_with("wsl.exe -d Ubuntu-24.04 -u root -- sh -c"),
        "{restart}"
    );
}

#[test]
fn inside_wsl2_on_docker_desktops_engine_the_root_goes_into_the_distro_and_windows() {
    let p = planned("wsl2-desktop-net");
    assert_eq!(
        ids(&p),
        [
            "ca-os-store",
            "desktop-windows-store",
            "desktop-restart",
            "desktop-proxy"
        ]
    );
    // The distro's own store (pip and uv inside read it) is a command; Windows' is not.
    let distro = step(&p, "ca-os-store");
    assert_eq!(distro["state"], "todo");
    assert_eq!(argv(&distro["change"][1]), "sudo -n update-ca-certificates");
    let windows = manual_text(step(&p, "desktop-windows-store"));
    assert!(
        windows.contains(r"-FilePath \\wsl.localhost\Ubuntu[PROJECT]\corp-root.pem")
            && windows.contains("Cert:\\LocalMachine\\Root"),
        "{windows}"
    );
    assert_eq!(step(&p, "desktop-restart")["state"], "manual");
    assert!(
        manual_text(step(&p, "desktop-proxy")).contains(r"%APPDATA%\Docker\settings-store.json")
    );
    // Not the distro's own engine: nothing under /etc/docker.
    assert!(!p.to_string().contains("/etc/docker"), "{p}");
}

#[test]
fn a_desktop_that_already_has_the_root_the_proxy_and_the_mirror_is_left_alone() {
    // The Docker Desktop Mac of above, once the root is in the keychain, the proxy is set in
    // Docker Desktop and its engine has the mirror.
    let root = tempfile::tempdir().unwrap();
    let facts = std::fs::read_to_string(fixture("macos-desktop-net").join("onramp-facts.toml"))
        .unwrap()
        .replace(
            "os_subjects = [",
            "engine_mirrors = [\"https://mirror.corp.example\"]\nos_subjects = [\"CN=Example Corp Inspection Root, O=Example Corp\", ",
        )
        .replace(
            r#""ProxyHTTPMode": "system", "OverrideProxyHTTP": "", "OverrideProxyHTTPS": """#,
            &format!(r#""ProxyHTTPMode": "manual", "OverrideProxyHTTP": "{PROXY}", "OverrideProxyHTTPS": "{PROXY}""#),
        );
    assert!(facts.contains("Example Corp Inspection Root") && facts.contains("\"manual\""));
    std::fs::write(root.path().join("onramp-facts.toml"), facts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let mut cmd = onramp(dir.path());
    for v in ["https_proxy", "http_proxy", "no_proxy", "ONRAMP_NETWORK"] {
        cmd.env_remove(v);
    }
    let r = run(cmd
        .env("ONRAMP_SYSROOT", root.path())
        .env("HTTPS_PROXY", PROXY)
        .env("HTTP_PROXY", PROXY)
        .env("NO_PROXY", "localhost,127.0.0.1")
        .args(["doctor", "--fix", "--dry-run", "--json"]));
    let doc = json(&r);
    assert!(
        ids(&doc["fix"]["plan"]).is_empty(),
        "{}",
        doc["fix"]["plan"]
    );
    assert!(
        !doc["checks"].to_string().contains("network:desktop"),
        "{}",
        doc["checks"]
    );
}
