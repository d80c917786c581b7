//! Company networks on 127.0.0.1: a proxy wanting authentication (407), a proxy that inspects
//! TLS with its own root, Debian's docker-registry behind TLS with a private root, a registry
//! answering 429 with its limit headers, a certificate from the future (clock skew), and a port
//! nobody listens on. Each is diagnosed by `onramp doctor` as what it is (stand-ins:
//! tests/net/standin.py).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::{applied, engine_up, json, onramp, run, sh, skip_or_fail, write};

/// A name that resolves to 127.0.0.1 while the guard lives (an /etc/hosts line), for clients
/// (Go's, the engine's) that never proxy loopback names.
pub const TEST_HOST: &str = "registry.onramp.test";

/// The network stand-ins' Python (`ONRAMP_TEST_NET_VENV`, from scripts/provision.sh); when it is
/// missing the test is skipped (a failure under `ONRAMP_TEST_STRICT`), said once here.
pub fn net_python() -> Option<PathBuf> {
    let venv = std::env::var("ONRAMP_TEST_NET_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/net-venv"));
    let py = venv.join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip_or_fail("the network stand-ins' venv (ONRAMP_TEST_NET_VENV, scripts/provision.sh)");
    }
    ok.then_some(py)
}

fn standin_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/net/standin.py")
}

/// A stand-in server, killed when dropped.
pub struct Standin {
    child: Child,
    pub port: u16,
}

impl Standin {
    pub fn start(py: &Path, args: &[&str]) -> Standin {
        Standin::script(py, &standin_script(), args)
    }

    /// A server script of tests/net/ that prints `ready PORT` once it listens.
    pub fn script(py: &Path, script: &Path, args: &[&str]) -> Standin {
        let mut child = Command::new(py)
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            // What it did goes to the test's captured output, shown when the test fails.
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the stand-in starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("stand-in {args:?} said {line:?}"));
        Standin { child, port }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn make_ca(py: &Path, dir: &Path, name: &str, cn: &str) -> PathBuf {
    let st = Command::new(py)
        .arg(standin_script())
        .args(["ca", dir.to_str().unwrap(), name, cn])
        .status()
        .unwrap();
    assert!(st.success());
    dir.join(name)
}

/// `127.0.0.1 registry.onramp.test` in /etc/hosts while this lives (one holder at a time).
pub struct HostsEntry {
    _lock: std::fs::File,
    added: bool,
}

const HOSTS_LINE: &str = "127.0.0.1 registry.onramp.test # onramp tests";

impl HostsEntry {
    pub fn add() -> HostsEntry {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::env::temp_dir().join("onramp-test-hosts.lock"))
            .unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor this value owns.
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let added = !hosts.lines().any(|l| l == HOSTS_LINE);
        if added {
            let mut text = hosts.clone();
            if !text.ends_with('\n') && !text.is_empty() {
                text.push('\n');
            }
            text.push_str(HOSTS_LINE);
            text.push('\n');
            std::fs::write("/etc/hosts", text).unwrap();
        }
        HostsEntry { _lock: lock, added }
    }
}

impl Drop for HostsEntry {
    fn drop(&mut self) {
        if !self.added {
            return;
        }
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let kept: String = hosts
            .lines()
            .filter(|l| *l != HOSTS_LINE)
            .map(|l| format!("{l}\n"))
            .collect();
        let _ = std::fs::write("/etc/hosts", kept);
    }
}

/// Debian's docker-registry serving TLS with a certificate for `registry.onramp.test` signed by
/// `ca`, on a free port; storage in `dir`.
pub struct TlsRegistry {
    child: Child,
    pub port: u16,
}

impl TlsRegistry {
    pub fn start(py: &Path, dir: &Path, ca: &Path, storage: &Path) -> Option<TlsRegistry> {
        let exe = which("docker-registry")?;
        // A leaf for the name, signed by the private root.
        let leaf = dir.join("registry-leaf");
        let st = Command::new(py)
            .arg(standin_script())
            .args(["leaf", ca.to_str()?, TEST_HOST, leaf.to_str()?])
            .status()
            .ok()?;
        assert!(st.success());
        let port = free_port();
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {}.pem\n    key: {}.key\n",
                storage.display(),
                leaf.display(),
                leaf.display()
            ),
        )
        .unwrap();
        let child = Command::new(exe)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(TlsRegistry { child, port });
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(p: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(p))
            .find(|c| c.is_file())
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `onramp doctor --json` in `dir` with the network check on and these variables.
pub(crate) fn doctor(dir: &Path, env: &[(&str, &str)]) -> (serde_json::Value, String) {
    let mut c = onramp(dir);
    c.args(["--profile", "onramp.toml", "--json", "doctor"]);
    c.env_remove("ONRAMP_NETWORK");
    for v in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
        "PIP_INDEX_URL",
        "PIP_CERT",
        "PIP_PROXY",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "PIP_CONFIG_FILE",
    ] {
        c.env_remove(v);
    }
    c.env("PIP_CONFIG_FILE", "/dev/null");
    for (k, v) in env {
        c.env(k, v);
    }
    let r = run(&mut c);
    let all = format!("{}\n{}", r.stdout, r.stderr);
    (json(&r), all)
}

pub(crate) fn check<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {doc}"))
}

fn profile(services: &[(&str, String)], ca_file: Option<&str>) -> String {
    let mut t = String::from("name = \"net\"\n[requirements]\ndocker = \"optional\"\n");
    for (name, image) in services {
        t.push_str(&format!("[services.{name}]\nimage = \"{image}\"\n"));
    }
    t.push_str("[sdk]\npackages = [\"kailash\"]\n");
    if let Some(f) = ca_file {
        t.push_str(&format!("[network]\nca_file = \"{f}\"\n"));
    }
    t
}

/// The fault classes doctor gave, by check id (`[class]` ends a failing detail).
pub(crate) fn class_of(c: &serde_json::Value) -> String {
    let d = c["detail"].as_str().unwrap_or_default();
    d.rsplit_once('[')
        .and_then(|(_, r)| r.strip_suffix(']'))
        .unwrap_or("")
        .to_string()
}

#[test]
fn five_network_faults_are_each_classified_as_what_they_are() {
    let Some(py) = net_python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path();
    let inspect = make_ca(&py, certs, "inspect", "Onramp Test Inspection Root");
    let private = make_ca(&py, certs, "private", "Onramp Test Registry Root");
    let future = make_ca(&py, certs, "future", "Onramp Test Future Root");
    let _hosts = HostsEntry::add();
    let mut results: Vec<(&str, String, String)> = Vec::new();

    // The index behind both proxies (plain HTTP: the proxy's TLS is what the client sees).
    let index = Standin::start(&py, &["registry"]);
    let map = format!("index.onramp.test:443=127.0.0.1:{}", index.port);

    // 1. A proxy wanting other credentials than the URL carries (407).
    let auth_proxy = Standin::start(&py, &["proxy", "--auth", "alice:right-pw", "--map", &map]);
    let dir = tmp.path().join("p407");
    write(&dir, "onramp.toml", &profile(&[], None));
    let proxy_url = format!("http://alice:wrong-pw-4711@127.0.0.1:{}", auth_proxy.port);
    let (doc, all) = doctor(
        &dir,
        &[
            ("HTTPS_PROXY", &proxy_url),
            ("PIP_INDEX_URL", "https://index.onramp.test/simple"),
        ],
    );
    assert!(
        !all.contains("wrong-pw-4711"),
        "the proxy password leaked:\n{all}"
    );
    let c = check(&doc, "network:index");
    results.push(("proxy-auth", class_of(c), c["detail"].to_string()));

    // 2. A proxy that inspects TLS with its own root, which only the user's file holds.
    let mitm = Standin::start(
        &py,
        &[
            "proxy",
            "--intercept",
            inspect.to_str().unwrap(),
            "--map",
            &map,
        ],
    );
    let dir = tmp.path().join("pmitm");
    write(&dir, "onramp.toml", &profile(&[], Some("company-root.pem")));
    std::fs::copy(inspect.with_extension("pem"), dir.join("company-root.pem")).unwrap();
    let proxy_url = format!("http://127.0.0.1:{}", mitm.port);
    let (doc, _) = doctor(
        &dir,
        &[
            ("HTTPS_PROXY", &proxy_url),
            ("PIP_INDEX_URL", "https://index.onramp.test/simple"),
        ],
    );
    let c = check(&doc, "network:index");
    let d = c["detail"].as_str().unwrap();
    assert!(
        d.contains("Onramp Test Inspection Root")
            && d.contains("does not have it")
            && d.contains("the CA file you named has it"),
        "{d}"
    );
    results.push(("tls-unknown-authority", class_of(c), d.to_string()));

    // 3. Debian's docker-registry behind TLS with a private root, reached as the engine would;
    // 4. a registry answering 429 with its limit headers; 6. a port nobody listens on.
    let storage = tmp.path().join("storage");
    std::fs::create_dir_all(&storage).unwrap();
    let Some(tls_registry) = TlsRegistry::start(&py, tmp.path(), &private, &storage) else {
        return skip_or_fail("Debian's docker-registry (scripts/provision.sh)");
    };
    let limited = Standin::start(
        &py,
        &[
            "registry",
            "--status429",
            "--limit",
            "100",
            "--remaining",
            "0",
        ],
    );
    let dead = free_port();
    let dir = tmp.path().join("pregistries");
    let tls_image = format!("{TEST_HOST}:{}/onramp-test/redis:7", tls_registry.port);
    let limited_image = format!("127.0.0.1:{}/library/redis:7", limited.port);
    let dead_image = format!("127.0.0.1:{dead}/x/y:1");
    write(
        &dir,
        "onramp.toml",
        &profile(
            &[("a", tls_image), ("b", limited_image), ("c", dead_image)],
            None,
        ),
    );
    let index_url = format!("http://127.0.0.1:{}/simple", index.port);
    let (doc, _) = doctor(&dir, &[("PIP_INDEX_URL", &index_url)]);
    let c = check(&doc, &format!("network:{TEST_HOST}:{}", tls_registry.port));
    let d = c["detail"].as_str().unwrap();
    assert!(
        d.contains("Onramp Test Registry Root") && d.contains("does not have it"),
        "{d}"
    );
    results.push(("tls-unknown-authority", class_of(c), d.to_string()));
    let c = check(&doc, &format!("network:127.0.0.1:{}", limited.port));
    let d = c["detail"].as_str().unwrap();
    assert!(d.contains("ratelimit-remaining: 0;w=21600"), "{d}");
    results.push(("rate-limited", class_of(c), d.to_string()));
    let c = check(&doc, &format!("network:127.0.0.1:{dead}"));
    results.push(("refused", class_of(c), c["detail"].to_string()));
    assert_eq!(check(&doc, "network:index")["status"], "pass", "{doc}");

    // 5. A certificate that is not valid for two more days: this clock is behind.
    let skewed = Standin::start(
        &py,
        &[
            "registry",
            "--tls",
            future.to_str().unwrap(),
            "--future-days",
            "2",
        ],
    );
    let dir = tmp.path().join("pskew");
    write(&dir, "onramp.toml", &profile(&[], None));
    let url = format!("https://127.0.0.1:{}/simple", skewed.port);
    let cert = future.with_extension("pem");
    let (doc, _) = doctor(
        &dir,
        &[
            ("PIP_INDEX_URL", &url),
            ("PIP_CERT", cert.to_str().unwrap()),
        ],
    );
    let c = check(&doc, "network:index");
    let d = c["detail"].as_str().unwrap();
    assert!(
        d.contains("1 d 23 h behind") || d.contains("1 d 22 h behind"),
        "{d}"
    );
    results.push(("clock-skew", class_of(c), d.to_string()));

    let right = results.iter().filter(|(want, got, _)| want == got).count();
    for (want, got, detail) in &results {
        eprintln!("{want:>22} -> {got:<22} {detail}");
    }
    assert_eq!(right, results.len(), "{results:#?}");
}

/// Every file under a directory with its bytes (symbolic links as their targets).
pub(crate) fn snapshot(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.push((
                    p.display().to_string(),
                    t.display().to_string().into_bytes(),
                ));
            } else if meta.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.display().to_string(),
                    std::fs::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// The paths whose content differs between two snapshots (or is in only one).
pub(crate) fn differences(a: &[(String, Vec<u8>)], b: &[(String, Vec<u8>)]) -> Vec<String> {
    a.iter()
        .chain(b.iter())
        .filter(|e| !a.contains(e) || !b.contains(e))
        .map(|(p, _)| p.clone())
        .collect()
}

/// What the network steps touch, as it is now.
pub(crate) fn machine_state() -> Vec<(String, Vec<u8>)> {
    let mut s = snapshot("/etc/ssl/certs");
    s.extend(snapshot("/usr/local/share/ca-certificates"));
    s.extend(snapshot("/etc/docker"));
    s
}

/// Debian's docker-registry over TLS with a private root, named `TEST_HOST` and reached only
/// through the intercepting proxy (nothing answers on its name's port 443), which re-signs with
/// its own inspection root. Everything stops when it is dropped.
pub(crate) struct InspectedRegistry {
    /// The intercepting proxy.
    pub(crate) proxy: Standin,
    /// The inspection root's certificate, as the company would hand it out.
    pub(crate) inspect_pem: PathBuf,
    _registry: TlsRegistry,
    _hosts: HostsEntry,
    _tmp: tempfile::TempDir,
}

impl InspectedRegistry {
    /// `None` when Debian's docker-registry is not installed.
    pub(crate) fn start(py: &Path) -> Option<InspectedRegistry> {
        let cache =
            std::env::var("ONRAMP_TEST_CACHE").unwrap_or_else(|_| "/var/cache/onramp-test".into());
        let storage = PathBuf::from(cache).join("registry");
        let tmp = tempfile::tempdir().unwrap();
        let inspect = make_ca(py, tmp.path(), "inspect", "Onramp Test Inspection Root");
        let private = make_ca(py, tmp.path(), "private", "Onramp Test Registry Root");
        let hosts = HostsEntry::add();
        let registry = TlsRegistry::start(py, tmp.path(), &private, &storage)?;
        let private_pem = private.with_extension("pem");
        let map = format!("{TEST_HOST}:443=127.0.0.1:{}", registry.port);
        let proxy = Standin::start(
            py,
            &[
                "proxy",
                "--map",
                &map,
                "--intercept",
                inspect.to_str().unwrap(),
                "--upstream-tls",
                "--upstream-ca",
                private_pem.to_str().unwrap(),
            ],
        );
        Some(InspectedRegistry {
            proxy,
            inspect_pem: inspect.with_extension("pem"),
            _registry: registry,
            _hosts: hosts,
            _tmp: tmp,
        })
    }
}

/// Runs the undo script if the test did not, and leaves a running engine behind.
pub(crate) struct Undo {
    pub(crate) dir: PathBuf,
}

impl Drop for Undo {
    fn drop(&mut self) {
        let script = self.dir.join(".onramp/net/undo.sh");
        if script.exists() {
            let _ = Command::new("sh").arg(&script).status();
        }
        if !engine_up() {
            let log = self.dir.join(".onramp/logs/dockerd.log");
            sh(&format!(
                "nohup dockerd >>{} 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &",
                log.display()
            ));
            for _ in 0..600 {
                if engine_up() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// The acceptance: an intercepting proxy whose root is only in a file the user named. doctor
/// says so, `doctor --fix --yes` installs the root (OS store, the engine's certs.d) and gives
/// the engine the proxy (daemon.json, restart), then `setup` pulls through the proxy and every
/// service answers; the undo script puts the store, daemon.json and certs.d back byte for byte.
#[test]
fn setup_through_an_intercepting_proxy_after_doctor_fix_then_undo_restores_the_machine() {
    let Some(py) = net_python() else {
        return;
    };
    let Ok(venv) = std::env::var("ONRAMP_TEST_VENV") else {
        return skip_or_fail("ONRAMP_TEST_VENV (the kailash venv from scripts/provision.sh)");
    };
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !engine_up() || !sh("command -v update-ca-certificates >/dev/null") {
        return skip_or_fail("root, a running engine and update-ca-certificates");
    }
    let before = machine_state();
    let Some(net) = InspectedRegistry::start(&py) else {
        return skip_or_fail("Debian's docker-registry (scripts/provision.sh)");
    };
    let name = format!("netsetup{}", std::process::id());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-state")
        .join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let _undo = Undo { dir: dir.clone() };
    let r = TEST_HOST.to_string();
    write(
        &dir,
        "onramp.toml",
        &format!(
            "extends = \"minimal\"\nproject = \"{name}\"\n\n[requirements]\nmemory_gib = {{ min = 1 }}\ncpus = {{ min = 1 }}\ndisk_free_gib = {{ min = 1 }}\n\n[services.postgres]\nimage = \"{r}/onramp-test/postgres:15\"\nports = [\"32030:5432\"]\n\n[services.redis]\nimage = \"{r}/onramp-test/redis:7\"\nports = [\"32031:6379\"]\n\n[network]\nca_file = \"company-root.pem\"\n"
        ),
    );
    std::fs::copy(&net.inspect_pem, dir.join("company-root.pem")).unwrap();
    let proxy_url = format!("http://127.0.0.1:{}", net.proxy.port);
    let index = format!("https://{r}/simple");
    let go = |args: &[&str]| {
        let mut c = onramp(&dir);
        c.args(args)
            .env_remove("ONRAMP_NETWORK")
            .env("HTTPS_PROXY", &proxy_url)
            .env("HTTP_PROXY", &proxy_url)
            .env("NO_PROXY", "localhost,127.0.0.1")
            .env("PIP_INDEX_URL", &index)
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("VIRTUAL_ENV", &venv)
            .env("DOCKER_HOST", "unix:///var/run/docker.sock")
            .env_remove("CI");
        run(&mut c)
    };

    let started = std::time::Instant::now();
    let diagnosed = go(&["doctor", "--json"]);
    let doc = json(&diagnosed);
    // The engine has no proxy yet: its way to the registry is refused. Your way (pip's, through
    // the proxy) meets the inspection root, which only your file holds.
    let c = check(&doc, &format!("network:{r}"));
    assert_eq!(class_of(c), "refused", "{c}");
    let c = check(&doc, "network:index");
    let d = c["detail"].as_str().unwrap();
    assert!(
        d.contains("Onramp Test Inspection Root") && d.contains("the CA file you named has it"),
        "{d}"
    );
    assert_eq!(check(&doc, "network:proxy")["status"], "warn");
    let diagnose_ms = started.elapsed().as_millis();

    let started = std::time::Instant::now();
    let fixed = go(&["doctor", "--fix", "--yes", "--json"]);
    let fix_ms = started.elapsed().as_millis();
    let doc = json(&fixed);
    let done = applied(&doc);
    let ids: Vec<&str> = done.iter().map(|(i, _)| i.as_str()).collect();
    // The proxy goes into daemon.json (engines from 23.0) or the restarted daemon's environment.
    for want in [
        "ca-os-store",
        &format!("engine-trust:{r}"),
        "engine-restart",
    ] {
        assert!(ids.contains(&want), "{want} in {done:?}\n{}", fixed.stderr);
    }
    assert!(
        done.iter().all(|(_, d)| d == "changed"),
        "{done:?}\n{}",
        fixed.stderr
    );
    let failing: Vec<&serde_json::Value> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert_eq!(
        fixed.code, 0,
        "failing after the fix: {failing:#?}\nfix: {}\n{}",
        doc["fix"], fixed.stderr
    );

    let started = std::time::Instant::now();
    let setup = go(&["setup", "--yes", "--json"]);
    let setup_ms = started.elapsed().as_millis();
    assert_eq!(setup.code, 0, "{}\n{}", setup.stdout, setup.stderr);
    let doc = json(&setup);
    for s in doc["services"].as_array().unwrap() {
        assert_eq!(s["state"], "ready", "{s}");
    }
    assert_eq!(doc["fix"]["changed"], false, "a second fix changes nothing");
    eprintln!(
        "network: diagnosed in {diagnose_ms} ms, fixed in {fix_ms} ms, setup through the proxy in {setup_ms} ms"
    );

    let _ = go(&["down", "--volumes"]);
    for image in ["postgres:15", "redis:7"] {
        sh(&format!(
            "docker rmi {r}/onramp-test/{image} >/dev/null 2>&1"
        ));
    }
    let undo = dir.join(".onramp/net/undo.sh");
    assert!(Command::new("sh").arg(&undo).status().unwrap().success());
    assert!(engine_up(), "the engine runs again after the undo");
    assert!(
        sh("[ -z \"$(docker info --format '{{.HTTPSProxy}}')\" ]"),
        "the engine has no proxy again"
    );
    let changed = differences(&before, &machine_state());
    assert!(changed.is_empty(), "not restored: {changed:?}");
}

/// `[network] image_prefix`: the profile names Docker Hub images (`postgres:15`, `redis:7`);
/// every one is pulled from the company's registry path instead (here the local registry).
#[test]
fn prefix_every_hub_image_comes_from_the_company_registry() {
    if !engine_up() {
        return skip_or_fail("a running engine (scripts/provision.sh)");
    }
    let registry =
        std::env::var("ONRAMP_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let name = format!("netprefix{}", std::process::id());
    write(
        dir,
        "onramp.toml",
        &format!(
            "extends = \"minimal\"\nproject = \"{name}\"\n\n[requirements]\nmemory_gib = {{ min = 1 }}\ncpus = {{ min = 1 }}\ndisk_free_gib = {{ min = 1 }}\n\n[services.postgres]\nimage = \"postgres:15\"\nports = [\"32032:5432\"]\n\n[services.redis]\nimage = \"redis:7\"\nports = [\"32033:6379\"]\n\n[network]\nimage_prefix = \"{registry}/onramp-test\"\n"
        ),
    );
    let up = run(onramp(dir).args(["--json", "up"]));
    let images = Command::new("docker")
        .args([
            "ps",
            "--filter",
            &format!("label=com.docker.compose.project={name}"),
            "--format",
            "{{.Image}}",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let _ = run(onramp(dir).args(["down", "--volumes"]));
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    let doc = json(&up);
    for s in doc["services"].as_array().unwrap() {
        assert_eq!(s["state"], "ready", "{s}");
    }
    let mut got: Vec<&str> = images.lines().collect();
    got.sort();
    assert_eq!(
        got,
        [
            format!("{registry}/onramp-test/postgres:15"),
            format!("{registry}/onramp-test/redis:7")
        ]
    );
}

/// The pull budget: a registry that allows one more pull (its `RateLimit-Remaining` header) and
/// one answering 429; `up` needs two pulls from the first and one from the second, and warns
/// about both before it pulls anything.
#[test]
fn budget_up_warns_before_the_pull_limit_runs_out() {
    let Some(py) = net_python() else {
        return;
    };
    if !engine_up() {
        return skip_or_fail("a running engine (scripts/provision.sh)");
    }
    let low = Standin::start(&py, &["registry", "--limit", "100", "--remaining", "1"]);
    let spent = Standin::start(
        &py,
        &[
            "registry",
            "--status429",
            "--limit",
            "100",
            "--remaining",
            "0",
        ],
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let name = format!("netbudget{}", std::process::id());
    write(
        dir,
        "onramp.toml",
        &format!(
            "name = \"net\"\nproject = \"{name}\"\n[requirements]\ndocker = \"required\"\n[services.a]\nimage = \"127.0.0.1:{l}/library/redis:7\"\n[services.b]\nimage = \"127.0.0.1:{l}/library/postgres:15\"\n[services.c]\nimage = \"127.0.0.1:{s}/library/redis:7\"\n",
            l = low.port,
            s = spent.port
        ),
    );
    let mut c = onramp(dir);
    c.args(["--profile", "onramp.toml", "up"])
        .env_remove("ONRAMP_NETWORK")
        .env("DOCKER_CONFIG", dir.join("no-docker-config"));
    let up = run(&mut c);
    let _ = run(onramp(dir).args(["--profile", "onramp.toml", "down"]));
    let err = &up.stderr;
    let warn_low = err
        .find(&format!(
            "127.0.0.1:{} allows 1 more pull(s) of 100 from this address for now and this run needs 2",
            low.port
        ))
        .unwrap_or_else(|| panic!("no budget warning:\n{err}"));
    let warn_spent = err
        .find(&format!(
            "127.0.0.1:{} refuses pulls from this address now",
            spent.port
        ))
        .unwrap_or_else(|| panic!("no 429 warning:\n{err}"));
    // Both before the first pull's own line.
    let first_pull = err.find("cannot pull").unwrap_or(err.len());
    assert!(warn_low < first_pull && warn_spent < first_pull, "{err}");
}
