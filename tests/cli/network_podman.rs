//! The engine's proxy where no init holds it, for real: Podman's API service behind an
//! intercepting proxy (its trust in /etc/containers/certs.d, its proxy in a containers.conf
//! drop-in, the service restarted as it was started), and a detached dockerd started with its
//! own environment, which `.onramp/net/undo.sh` starts again with that environment. Both run
//! under the engine lock: they restart the shared daemons.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{applied, engine_up, json, onramp, printed, run, sh, skip_or_fail, write};
use crate::network::{
    InspectedRegistry, TEST_HOST, check, class_of, differences, net_python, snapshot,
};

const SOCKET: &str = "/run/podman/podman.sock";

fn curl_podman(path: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-fsS", "--unix-socket", SOCKET, &format!("http://d{path}")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The proxy Podman's service reports (`/info` HttpsProxy).
fn podman_https_proxy() -> Option<String> {
    let info: serde_json::Value = serde_json::from_str(&curl_podman("/info")?).ok()?;
    info["HttpsProxy"].as_str().map(String::from)
}

/// A process's argv and environment (sorted), from /proc.
fn process(pid: u32) -> Option<(Vec<String>, Vec<String>)> {
    let split = |raw: Vec<u8>| -> Vec<String> {
        raw.split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect()
    };
    let argv = split(std::fs::read(format!("/proc/{pid}/cmdline")).ok()?);
    let mut env = split(std::fs::read(format!("/proc/{pid}/environ")).ok()?);
    env.sort();
    Some((argv, env))
}

/// The process serving Podman's socket (of several, the one started last has it: Podman
/// unlinks the socket it finds and binds anew).
fn podman_service() -> Option<u32> {
    let started = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
        after
            .split_whitespace()
            .nth(19)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let all: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|d| {
            let pid: u32 = d.file_name().to_str()?.parse().ok()?;
            let (argv, _) = process(pid)?;
            let serves = argv.first().is_some_and(|a| a.ends_with("podman"))
                && argv.iter().any(|a| a == "service")
                && argv.iter().any(|a| a == &format!("unix://{SOCKET}"));
            serves.then_some(pid)
        })
        .collect();
    assert!(all.len() <= 1, "more than one Podman service: {all:?}");
    all.into_iter().max_by_key(|p| started(*p))
}

fn wait_for(what: impl Fn() -> bool) -> bool {
    for _ in 0..300 {
        if what() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// Whatever happens, run the undo script if the test did not, and leave Podman's service
/// running (started as scripts/provision.sh starts it).
struct PodmanGuard {
    dir: PathBuf,
}

impl Drop for PodmanGuard {
    fn drop(&mut self) {
        let script = self.dir.join(".onramp/net/undo.sh");
        if script.exists() {
            let _ = Command::new("sh").arg(&script).status();
        }
        if curl_podman("/_ping").is_none() {
            let log = self.dir.join("podman-service.log");
            sh(&format!(
                "rm -f {SOCKET}; nohup podman system service --time=0 unix://{SOCKET} >>{} 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &",
                log.display()
            ));
            wait_for(|| curl_podman("/_ping").is_some());
        }
    }
}

/// What the Podman steps touch: its configuration and the OS trust store.
fn machine_state() -> Vec<(String, Vec<u8>)> {
    let mut s = snapshot("/etc/containers");
    s.extend(snapshot("/etc/ssl/certs"));
    s.extend(snapshot("/usr/local/share/ca-certificates"));
    s
}

/// Podman behind an intercepting proxy whose root only the user's file holds: doctor shows
/// Podman has no proxy (read from its service's environment and containers.conf) and cannot
/// reach the registry; `doctor --fix --yes` installs the root (OS store, Podman's certs.d),
/// writes the proxy into a containers.conf drop-in and restarts the service as it was
/// started; `up` pulls through the proxy and the service answers; the undo script puts
/// /etc/containers back byte for byte and the service runs as before, environment and all.
#[test]
fn podman_pulls_through_the_proxy_after_doctor_fix_and_undo_restores_it() {
    let Some(py) = net_python() else {
        return;
    };
    let root = unsafe { libc::geteuid() } == 0;
    if !root || curl_podman("/_ping").is_none() || podman_service().is_none() {
        return skip_or_fail("root and Podman's API service on /run/podman/podman.sock");
    }
    let service_before = podman_service().and_then(process);
    let before = machine_state();
    let Some(net) = InspectedRegistry::start(&py) else {
        return skip_or_fail("Debian's docker-registry (scripts/provision.sh)");
    };
    let name = format!("netpod{}", std::process::id());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-state")
        .join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let _guard = PodmanGuard { dir: dir.clone() };
    let r = TEST_HOST;
    let image = format!("{r}/onramp-test/redis:7");
    // Podman's own store must not have it already: `up` has to pull it.
    let _ = Command::new("podman").args(["rmi", "-f", &image]).output();
    write(
        &dir,
        "onramp.toml",
        &format!(
            "name = \"netpod\"\nproject = \"{name}\"\n\n[requirements]\ndocker = \"required\"\n\n[services.redis]\nimage = \"{image}\"\nports = [\"32546:6379\"]\n\n[network]\nca_file = \"company-root.pem\"\n"
        ),
    );
    std::fs::copy(&net.inspect_pem, dir.join("company-root.pem")).unwrap();
    let proxy_url = format!("http://127.0.0.1:{}", net.proxy.port);
    let go = |args: &[&str]| {
        let mut c = onramp(&dir);
        c.args(["--profile", "onramp.toml"])
            .args(args)
            .env_remove("ONRAMP_NETWORK")
            .env("HTTPS_PROXY", &proxy_url)
            .env("HTTP_PROXY", &proxy_url)
            .env("NO_PROXY", "localhost,127.0.0.1")
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("DOCKER_HOST", format!("unix://{SOCKET}"))
            .env_remove("CI");
        run(&mut c)
    };

    let started = std::time::Instant::now();
    let diagnosed = go(&["--json", "doctor"]);
    let diagnose_ms = started.elapsed().as_millis();
    let doc = json(&diagnosed);
    // Podman has no proxy: its way to the registry is refused. Where that was read is shown.
    let c = check(&doc, &format!("network:{r}"));
    assert_eq!(class_of(c), "refused", "{c}");
    let p = check(&doc, "network:proxy");
    assert_eq!(p["status"], "warn", "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("engine: none (podman system service (pid"),
        "{detail}"
    );

    let started = std::time::Instant::now();
    let fixed = go(&["--json", "doctor", "--fix", "--yes"]);
    let fix_ms = started.elapsed().as_millis();
    let doc = json(&fixed);
    let done = applied(&doc);
    let ids: Vec<&str> = done.iter().map(|(i, _)| i.as_str()).collect();
    for want in [
        "ca-os-store",
        &format!("engine-trust:{r}"),
        "engine-proxy-podman",
        "engine-restart",
    ] {
        assert!(ids.contains(&want), "{want} in {done:?}\n{}", fixed.stderr);
    }
    assert!(
        done.iter().all(|(_, d)| d == "changed"),
        "{done:?}\n{}\n{}",
        fixed.stdout,
        fixed.stderr
    );
    assert!(
        Path::new(&format!(
            "/etc/containers/certs.d/{r}/onramp-company-root.crt"
        ))
        .exists()
    );
    // The service was restarted with its own environment: the proxy comes from the drop-in.
    assert_eq!(
        podman_https_proxy().as_deref(),
        Some(proxy_url.as_str()),
        "Podman's proxy after the fix"
    );
    let (argv_now, env_now) = podman_service().and_then(process).unwrap();
    let (argv_before, _) = service_before.clone().unwrap();
    assert_eq!(argv_now, argv_before, "restarted with the same arguments");
    assert!(
        !env_now.iter().any(|v| v.starts_with("HTTPS_PROXY=")),
        "the proxy is Podman's (containers.conf), not in the service's environment: {env_now:?}"
    );

    let started = std::time::Instant::now();
    let up = go(&["--json", "up"]);
    let up_ms = started.elapsed().as_millis();
    let _ = go(&["down", "--volumes"]);
    let _ = Command::new("podman").args(["rmi", "-f", &image]).output();
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    for s in json(&up)["services"].as_array().unwrap() {
        assert_eq!(s["state"], "ready", "{s}");
    }
    eprintln!(
        "podman network: diagnosed in {diagnose_ms} ms, fixed in {fix_ms} ms, up through the proxy in {up_ms} ms"
    );

    let undo = dir.join(".onramp/net/undo.sh");
    let started = std::time::Instant::now();
    assert!(Command::new("sh").arg(&undo).status().unwrap().success());
    eprintln!(
        "podman network: undo in {} ms",
        started.elapsed().as_millis()
    );
    assert!(
        wait_for(|| curl_podman("/_ping").is_some()),
        "Podman answers after the undo"
    );
    assert_eq!(podman_https_proxy().as_deref(), Some(""), "no proxy again");
    let service_after = podman_service().and_then(process);
    assert_eq!(
        service_after, service_before,
        "the service runs again as it was started (argv and environment)"
    );
    let changed = differences(&before, &machine_state());
    assert!(changed.is_empty(), "not restored: {changed:?}");
}

/// The dockerd of this machine, as no init runs it: pid, argv, environment.
fn dockerd() -> Option<(u32, Vec<String>, Vec<String>)> {
    let pid: u32 = std::fs::read_to_string("/var/run/docker.pid")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let (argv, env) = process(pid)?;
    Some((pid, argv, env))
}

/// Start dockerd with exactly this argv and environment (after stopping the one running).
fn start_dockerd(argv: &[String], env: &[String], log: &Path) -> bool {
    if let Some((pid, _, _)) = dockerd() {
        sh(&format!(
            "kill {pid}; for i in $(seq 1 300); do [ -d /proc/{pid} ] && ! grep -qs '^State:[[:space:]]*Z' /proc/{pid}/status || break; sleep 0.1; done"
        ));
    }
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]).env_clear();
    for kv in env {
        if let Some((k, v)) = kv.split_once('=') {
            c.env(k, v);
        }
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let err = out.try_clone().unwrap();
    use std::os::unix::process::CommandExt;
    c.stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    c.spawn().is_ok() && wait_for(engine_up)
}

/// Leaves dockerd as the test found it, whatever happened.
struct DockerdGuard {
    argv: Vec<String>,
    env: Vec<String>,
    log: PathBuf,
}

impl Drop for DockerdGuard {
    fn drop(&mut self) {
        let now = dockerd().map(|(_, a, e)| (a, e));
        if now != Some((self.argv.clone(), self.env.clone())) || !engine_up() {
            start_dockerd(&self.argv, &self.env, &self.log);
        }
    }
}

/// A dockerd that whoever started it gave its own environment (a proxy with a password, and
/// another variable): `doctor --fix` restarts it with the user's proxy and everything else it
/// had, never printing either password; the undo script (0600) starts it again with exactly
/// the argv and environment it had.
#[test]
fn undo_starts_dockerd_again_with_the_environment_it_was_started_with() {
    let root = unsafe { libc::geteuid() } == 0;
    let Some((_, argv0, env0)) = dockerd().filter(|_| root && engine_up()) else {
        return skip_or_fail("root and a running dockerd with /var/run/docker.pid");
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log = dir.join("dockerd.log");
    let _guard = DockerdGuard {
        argv: argv0.clone(),
        env: env0.clone(),
        log: log.clone(),
    };
    // Whoever started it gave it a proxy (with a password) and a variable of their own.
    let mut own: Vec<String> = env0
        .iter()
        .filter(|v| !v.to_ascii_uppercase().contains("_PROXY="))
        .cloned()
        .collect();
    own.push("HTTPS_PROXY=http://ops:old-secret-4711@127.0.0.1:9".into());
    own.push("NO_PROXY=localhost,127.0.0.1".into());
    own.push("ONRAMP_TEST_OWN=kept".into());
    own.sort();
    assert!(
        start_dockerd(&argv0, &own, &log),
        "dockerd with its own environment"
    );
    let (_, _, started_env) = dockerd().unwrap();
    assert_eq!(started_env, own);

    write(
        dir,
        "onramp.toml",
        "name = \"netdockerd\"\n[requirements]\ndocker = \"required\"\n",
    );
    let new_proxy = "http://dev:new-secret-0815@127.0.0.1:3128";
    let mut c = onramp(dir);
    c.args([
        "--profile",
        "onramp.toml",
        "--json",
        "doctor",
        "--fix",
        "--yes",
    ])
    .env_remove("ONRAMP_NETWORK")
    .env("HTTPS_PROXY", new_proxy)
    .env("HTTP_PROXY", new_proxy)
    .env("NO_PROXY", "localhost,127.0.0.1")
    .env("PIP_CONFIG_FILE", "/dev/null")
    .env("DOCKER_HOST", "unix:///var/run/docker.sock");
    let started = std::time::Instant::now();
    let fixed = run(&mut c);
    let fix_ms = started.elapsed().as_millis();
    let all = format!("{}\n{}", fixed.stdout, fixed.stderr);
    for secret in ["old-secret-4711", "new-secret-0815"] {
        assert!(
            !all.contains(secret),
            "a proxy password was printed:\n{all}"
        );
    }
    let doc = json(&fixed);
    let restart = doc["fix"]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "engine-restart")
        .unwrap_or_else(|| panic!("no engine-restart in {doc}"));
    assert_eq!(restart["done"], "changed", "{restart}\n{}", fixed.stderr);
    let (_, argv1, env1) = dockerd().unwrap();
    assert_eq!(argv1, argv0);
    assert!(
        env1.contains(&"ONRAMP_TEST_OWN=kept".to_string()),
        "{env1:?}"
    );
    assert!(
        env1.contains(&format!("HTTPS_PROXY={new_proxy}")),
        "{env1:?}"
    );

    let undo = dir.join(".onramp/net/undo.sh");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&undo).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the undo script may hold a proxy password");
    let started = std::time::Instant::now();
    let out = Command::new("sh").arg(&undo).output().unwrap();
    let undo_ms = started.elapsed().as_millis();
    assert!(out.status.success(), "{out:?}");
    let printed = printed(&out);
    assert!(!printed.contains("old-secret-4711"), "{printed}");
    assert!(wait_for(engine_up), "the engine runs after the undo");
    let (_, argv2, env2) = dockerd().unwrap();
    assert_eq!(argv2, argv0);
    assert_eq!(env2, own, "started again with the environment it had");
    eprintln!("dockerd: fixed (restart with the new proxy) in {fix_ms} ms, undone in {undo_ms} ms");
}
