//! `[network] ca_into`: a started service trusts the company root. A TLS server on 127.0.0.1
//! with a private root (tests/net/standin.py); a service from the local test image (it has
//! Python) on the host's network; an HTTPS request from inside the container fails with an
//! unknown authority before `ca_into` and succeeds after it, and after the root changes;
//! `docker compose up -d` over the generated file recreates nothing; `docker inspect` shows the
//! bind and the variables. The same service through Podman's API trusts the root too. A JVM
//! in the same container (the host's JDK bound read-only: the test image is Debian bookworm
//! too) fails with PKIX's "unable to find valid certification path" before `ca_into` and
//! succeeds after it, through the Java trust store and `JAVA_TOOL_OPTIONS` onramp gives it; so
//! does Debian's wget (GnuTLS, as in the Neo4j image that downloads its plugins with it), through
//! the startup file `WGETRC` names.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{docker, engine_up, image, json, onramp, printed, run, skip_or_fail, write};
use crate::network::{Standin, make_ca, net_python};

/// The bundle inside the container, and the variables pointing at it.
const IN_CONTAINER: &str = "/etc/ssl/certs/onramp-ca-bundle.pem";
/// The Java trust store inside the container, and what `JAVA_TOOL_OPTIONS` becomes: onramp's
/// options, then the service's own.
const STORE_IN_CONTAINER: &str = "/etc/ssl/certs/onramp-ca-truststore.jks";
const OWN_JAVA_OPTIONS: &str = "-Donramp.kept=yes";
const JAVA_OPTIONS: &str = "-Djavax.net.ssl.trustStore=/etc/ssl/certs/onramp-ca-truststore.jks -Djavax.net.ssl.trustStoreType=JKS -Donramp.kept=yes";

/// An HTTPS GET with the JVM's default TLS settings: the status and the service's own option
/// (proof its `JAVA_TOOL_OPTIONS` was kept), or the exception.
const FETCH_JAVA: &str = r#"public class Fetch {
    public static void main(String[] args) {
        try {
            var c = (java.net.HttpURLConnection) new java.net.URI(args[0]).toURL().openConnection();
            c.setConnectTimeout(10000);
            c.setReadTimeout(10000);
            System.out.println(c.getResponseCode() + " kept=" + System.getProperty("onramp.kept"));
        } catch (Exception e) {
            System.out.println(e);
        }
    }
}
"#;

/// The host's JDK, for a JVM inside the test image: its home and the folders its symlinks point
/// into (Debian keeps the JDK's settings in /etc/java-N-openjdk and its roots in
/// /etc/ssl/certs/java), each bound read-only at its own path, and `Fetch` compiled into a
/// folder bound at /opt/onramp-fetch.
struct Jdk {
    java: PathBuf,
    binds: Vec<String>,
}

impl Jdk {
    fn find(tmp: &Path) -> Option<Jdk> {
        let java = which("java")?.canonicalize().ok()?;
        let home = java.parent()?.parent()?.to_path_buf();
        let mut dirs = vec![home.clone()];
        for (link, up) in [
            ("conf/security/java.security", 2),
            ("lib/security/cacerts", 1),
        ] {
            let mut target = home.join(link).canonicalize().ok()?;
            for _ in 0..up {
                target = target.parent()?.to_path_buf();
            }
            if !target.starts_with(&home) {
                dirs.push(target);
            }
        }
        let classes = tmp.join("fetch-classes");
        write(&classes, "Fetch.java", FETCH_JAVA);
        let javac = Command::new(home.join("bin/javac"))
            .args(["-d"])
            .arg(&classes)
            .arg(classes.join("Fetch.java"))
            .output()
            .ok()?;
        assert!(
            javac.status.success(),
            "{}",
            String::from_utf8_lossy(&javac.stderr)
        );
        let mut binds: Vec<String> = dirs
            .iter()
            .map(|d| format!("{0}:{0}:ro", d.display()))
            .collect();
        binds.push(format!("{}:/opt/onramp-fetch:ro", classes.display()));
        Some(Jdk { java, binds })
    }
}

/// The host's wget (Debian's, built with GnuTLS) for the container: the binary at
/// /opt/onramp-wget/wget and the one library the test image lacks (libpsl), at its own path.
fn wget_binds() -> Option<Vec<String>> {
    let wget = which("wget")?.canonicalize().ok()?;
    let ldd = Command::new("ldd").arg(&wget).output().ok()?;
    let libs = String::from_utf8_lossy(&ldd.stdout).into_owned();
    let psl = libs
        .lines()
        .find(|l| l.trim_start().starts_with("libpsl.so"))?
        .split_whitespace()
        .nth(2)?
        .to_string();
    let real = Path::new(&psl).canonicalize().ok()?;
    Some(vec![
        format!("{}:/opt/onramp-wget/wget:ro", wget.display()),
        format!("{}:{psl}:ro", real.display()),
    ])
}

/// A program on PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}
const VARS: [&str; 5] = [
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "NODE_EXTRA_CA_CERTS",
];

fn profile(name: &str, ca_into: Option<&str>, binds: &[String]) -> String {
    let volumes: Vec<String> = binds.iter().map(|b| format!("\"{b}\"")).collect();
    let mut t = format!(
        "name = \"svc-trust\"\nproject = \"{name}\"\n\n[requirements]\ndocker = \"required\"\n\n\
         [services.app]\nimage = \"{img}\"\nentrypoint = [\"sh\", \"-c\"]\n\
         command = [\"trap 'exit 0' TERM; sleep infinity & wait\"]\n\
         network_mode = \"host\"\n\
         env = {{ REQUESTS_CA_BUNDLE = \"/own/bundle.pem\", JAVA_TOOL_OPTIONS = \"{OWN_JAVA_OPTIONS}\" }}\n\
         volumes = [{volumes}]\n\n\
         [[files]]\ntemplate = \"docker-compose.test.yml\"\npath = \"docker-compose.test.yml\"\n\n\
         [network]\nca_file = \"company-root.pem\"\n",
        img = image("redis:7"),
        volumes = volumes.join(", ")
    );
    if let Some(c) = ca_into {
        t.push_str(&format!("ca_into = {c}\n"));
    }
    t
}

/// The engine a flow runs on: its CLI, and the socket onramp is pointed at (`None`: the
/// default Docker socket).
#[derive(Clone, Copy)]
struct Engine {
    cli: &'static str,
    socket: Option<&'static str>,
}

const DOCKER: Engine = Engine {
    cli: "docker",
    socket: None,
};
const PODMAN: Engine = Engine {
    cli: "podman",
    socket: Some("unix:///run/podman/podman.sock"),
};

impl Engine {
    /// The engine's CLI; its stdout when it succeeded.
    fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new(self.cli).args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether the engine's API answers on its socket (the CLI alone may work without it).
    fn ready(&self) -> bool {
        let Some(socket) = self.socket else {
            return engine_up();
        };
        let path = socket.trim_start_matches("unix://");
        Command::new("curl")
            .args(["-fsS", "--unix-socket", path, "http://d/_ping"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// `onramp ARGS` in `dir` against this engine.
    fn onramp(&self, dir: &Path, args: &[&str]) -> crate::common::Run {
        let mut c = onramp(dir);
        c.args(args);
        if let Some(s) = self.socket {
            c.env("DOCKER_HOST", s);
        }
        run(&mut c)
    }

    /// An HTTPS GET from inside the container with Python's default context (OpenSSL's
    /// `SSL_CERT_FILE`): `200`, or the error.
    fn fetch_inside(&self, container: &str, url: &str) -> String {
        let script = format!(
            "import urllib.request\ntry:\n    print(urllib.request.urlopen('{url}', timeout=10).status)\nexcept Exception as e:\n    print(repr(e))\n"
        );
        let out = Command::new(self.cli)
            .args(["exec", container, "python3", "-c", &script])
            .output()
            .expect("exec runs");
        printed(&out).trim().to_string()
    }

    /// The same GET from a JVM in the container (the host's JDK, bound): `200 kept=yes`, or
    /// the exception.
    fn java_inside(&self, container: &str, jdk: &Jdk, url: &str) -> String {
        let java = jdk.java.to_str().unwrap();
        let started = std::time::Instant::now();
        let out = Command::new(self.cli)
            .args([
                "exec",
                container,
                java,
                "-cp",
                "/opt/onramp-fetch",
                "Fetch",
                url,
            ])
            .output()
            .expect("exec runs");
        eprintln!(
            "network_services: a JVM's request in {container}: {:.2} s",
            started.elapsed().as_secs_f64()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The same GET by wget in the container (`WGETRC` from its environment): its exit code,
    /// 0 when it was fetched, 5 when the certificate was not trusted.
    fn wget_inside(&self, container: &str, url: &str) -> String {
        let out = Command::new(self.cli)
            .args([
                "exec",
                container,
                "/opt/onramp-wget/wget",
                "-q",
                "-O",
                "/dev/null",
                url,
            ])
            .output()
            .expect("exec runs");
        format!("wget exit {}", out.status.code().unwrap_or(-1))
    }

    fn inspect(&self, container: &str, format: &str) -> String {
        self.cli(&["inspect", "--format", format, container])
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

/// Takes the project down when dropped (also after a failed assertion).
struct Down<'a>(Engine, &'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.onramp(self.1, &["down"]);
    }
}

/// The action `up --json` took for the one service.
fn action(engine: Engine, dir: &Path) -> String {
    let up = engine.onramp(dir, &["--json", "up"]);
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    json(&up)["services"][0]["action"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// What the container got: the bind, read-only, and each variable but the service's own.
fn assert_bind_and_env(engine: Engine, dir: &Path, container: &str) {
    let mounts = engine.inspect(
        container,
        "{{range .Mounts}}{{.Source}} {{.Destination}} {{.RW}};{{end}}",
    );
    let source = dir
        .join(".onramp/net/ca-bundle.pem")
        .canonicalize()
        .unwrap();
    assert!(
        mounts.contains(&format!("{} {IN_CONTAINER} false;", source.display())),
        "{mounts}"
    );
    let store = source.with_file_name("ca-truststore.jks");
    assert!(
        mounts.contains(&format!("{} {STORE_IN_CONTAINER} false;", store.display())),
        "{mounts}"
    );
    let env = engine.inspect(container, "{{range .Config.Env}}{{println .}}{{end}}");
    for var in VARS {
        let want = if var == "REQUESTS_CA_BUNDLE" {
            format!("{var}=/own/bundle.pem")
        } else {
            format!("{var}={IN_CONTAINER}")
        };
        assert!(env.lines().any(|l| l == want), "{want} in\n{env}");
    }
    let want = format!("JAVA_TOOL_OPTIONS={JAVA_OPTIONS}");
    assert!(env.lines().any(|l| l == want), "{want} in\n{env}");
    let want = "WGETRC=/etc/ssl/certs/onramp-wgetrc";
    assert!(env.lines().any(|l| l == want), "{want} in\n{env}");
}

/// `keytool -list` reads the trust store onramp wrote, its integrity checked with the JDK's
/// default password: one trusted entry per certificate of the bundle, and the company root's
/// entry is that root. Returns the number of entries.
fn assert_keytool_reads_the_store(jdk: &Jdk, dir: &Path, root_pem: &Path) -> usize {
    let store = dir.join(".onramp/net/ca-truststore.jks");
    let keytool = jdk.java.with_file_name("keytool");
    let list = |extra: &[&str]| {
        let out = Command::new(&keytool)
            .args(["-list", "-storepass", "changeit", "-keystore"])
            .arg(&store)
            .args(extra)
            .output()
            .expect("keytool runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let all = list(&[]);
    let entries = all.matches("trustedCertEntry").count();
    let bundle = std::fs::read_to_string(dir.join(".onramp/net/ca-bundle.pem")).unwrap();
    assert_eq!(
        entries,
        bundle.matches("BEGIN CERTIFICATE").count(),
        "{all}"
    );
    let company = list(&["-rfc", "-alias", "onramp-company-0001"]);
    let body = |pem: &str| -> String {
        pem.lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
            .filter(|l| !l.starts_with("-----"))
            .collect()
    };
    let root = std::fs::read_to_string(root_pem).unwrap();
    assert_eq!(body(&company), body(&root), "{company}");
    entries
}

/// Before `ca_into` the container does not trust the company root; after it, it does, and
/// after the root is replaced it trusts the new one. Returns the project directory and name.
fn trust_flow(
    engine: Engine,
    py: &Path,
    tmp: &Path,
    jdk: &Jdk,
    binds: &[String],
) -> (PathBuf, String) {
    let root = make_ca(py, tmp, "company", "Onramp Test Service Root");
    let server = Standin::start(py, &["registry", "--tls", root.to_str().unwrap()]);
    let url = format!("https://127.0.0.1:{}/simple/", server.port);
    let dir = tmp.join("project");
    let name = format!("netsvc{}{}", engine.cli, std::process::id());
    let container = format!("{name}-app-1");
    write(&dir, "onramp.toml", &profile(&name, None, binds));
    std::fs::copy(root.with_extension("pem"), dir.join("company-root.pem")).unwrap();

    // Without ca_into the image's own store does not know the company root.
    assert_eq!(action(engine, &dir), "created");
    let before = engine.fetch_inside(&container, &url);
    assert!(
        before.contains("CERTIFICATE_VERIFY_FAILED") && before.contains("local issuer"),
        "without ca_into: {before}"
    );
    let java_before = engine.java_inside(&container, jdk, &url);
    assert!(
        java_before.contains("unable to find valid certification path"),
        "a JVM without ca_into: {java_before}"
    );
    assert_eq!(engine.wget_inside(&container, &url), "wget exit 5");

    // With it, `up` writes the bundle, recreates the container with the bind and the variables.
    write(
        &dir,
        "onramp.toml",
        &profile(&name, Some("[\"app\"]"), binds),
    );
    let up = engine.onramp(&dir, &["--json", "up"]);
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    assert_eq!(json(&up)["services"][0]["action"], "recreated");
    assert!(
        up.stderr
            .contains("app sets REQUESTS_CA_BUNDLE itself: its value is kept"),
        "{}",
        up.stderr
    );
    let bundle = std::fs::read_to_string(dir.join(".onramp/net/ca-bundle.pem")).unwrap();
    let company = std::fs::read_to_string(root.with_extension("pem")).unwrap();
    assert!(bundle.contains(company.trim()), "the bundle holds the root");
    assert_eq!(engine.fetch_inside(&container, &url), "200", "with ca_into");
    assert_eq!(
        engine.java_inside(&container, jdk, &url),
        "200 kept=yes",
        "a JVM with ca_into"
    );
    assert_eq!(engine.wget_inside(&container, &url), "wget exit 0");

    assert_bind_and_env(engine, &dir, &container);
    let entries = assert_keytool_reads_the_store(jdk, &dir, &dir.join("company-root.pem"));
    eprintln!("network_services: the Java trust store holds {entries} certificates");

    // A new company root: `up` rewrites the bundle and recreates the container (a bind holds
    // the file it was made with), and the new root is trusted inside.
    let next = make_ca(py, tmp, "next", "Onramp Test Next Root");
    let next_server = Standin::start(py, &["registry", "--tls", next.to_str().unwrap()]);
    let next_url = format!("https://127.0.0.1:{}/simple/", next_server.port);
    std::fs::copy(next.with_extension("pem"), dir.join("company-root.pem")).unwrap();
    assert_eq!(action(engine, &dir), "recreated");
    assert_eq!(
        engine.fetch_inside(&container, &next_url),
        "200",
        "the new root"
    );
    assert_eq!(
        engine.java_inside(&container, jdk, &next_url),
        "200 kept=yes",
        "the new root, in a JVM"
    );
    assert_eq!(action(engine, &dir), "unchanged");
    (dir, name)
}

#[test]
fn ca_into_a_started_service_makes_its_https_requests_trust_the_company_root() {
    let Some(py) = net_python() else {
        return;
    };
    if !engine_up() || docker(&["image", "inspect", &image("redis:7")]).is_none() {
        return skip_or_fail("a running engine with the test images (scripts/provision.sh)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let (Some(jdk), Some(wget)) = (Jdk::find(tmp.path()), wget_binds()) else {
        return skip_or_fail("a JDK (java, javac, keytool) and wget (scripts/provision.sh)");
    };
    let binds = [jdk.binds.clone(), wget].concat();
    let started = std::time::Instant::now();
    let dir = tmp.path().join("project");
    let _down = Down(DOCKER, &dir);
    let (dir, name) = trust_flow(DOCKER, &py, tmp.path(), &jdk, &binds);
    let flow = started.elapsed().as_secs_f64();

    // The generated compose file says the same: Compose v2 over it recreates nothing.
    let g = run(onramp(&dir)
        .args(["generate"])
        .env("VIRTUAL_ENV", "/nonexistent"));
    assert_eq!(g.code, 0, "{}", g.stderr);
    let container = format!("{name}-app-1");
    let id = DOCKER.inspect(&container, "{{.Id}}");
    let compose = Command::new("docker")
        .current_dir(&dir)
        .args(["compose", "-f", "docker-compose.test.yml", "-p", &name])
        .args(["up", "-d"])
        .output()
        .expect("docker compose runs");
    let said = String::from_utf8_lossy(&compose.stderr).into_owned();
    assert!(compose.status.success(), "{said}");
    assert_eq!(
        DOCKER.inspect(&container, "{{.Id}}"),
        id,
        "compose recreated it: {said}"
    );
    assert!(!said.contains("Recreate"), "{said}");
    eprintln!(
        "network_services (docker): trust flow {flow:.1} s, {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

/// Through Podman's Docker-compatible API (its own bind and environment handling), with
/// `ca_into = "*"`: the service trusts the company root.
#[test]
fn ca_into_works_the_same_through_podman() {
    let Some(py) = net_python() else {
        return;
    };
    if !PODMAN.ready() {
        return skip_or_fail(
            "no Podman API service on /run/podman/podman.sock (scripts/provision.sh starts one)",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(jdk) = Jdk::find(tmp.path()) else {
        return skip_or_fail("a JDK: java, javac and keytool (scripts/provision.sh)");
    };
    let started = std::time::Instant::now();
    let dir = tmp.path().join("project");
    let _down = Down(PODMAN, &dir);
    // One `up` (each costs seconds through Podman's API): created with the bind and variables.
    let root = make_ca(&py, tmp.path(), "company", "Onramp Test Service Root");
    let server = Standin::start(&py, &["registry", "--tls", root.to_str().unwrap()]);
    let url = format!("https://127.0.0.1:{}/simple/", server.port);
    let name = format!("netsvcpodman{}", std::process::id());
    write(
        &dir,
        "onramp.toml",
        &profile(&name, Some("\"*\""), &jdk.binds),
    );
    std::fs::copy(root.with_extension("pem"), dir.join("company-root.pem")).unwrap();
    assert_eq!(action(PODMAN, &dir), "created");
    let container = format!("{name}-app-1");
    assert_eq!(PODMAN.fetch_inside(&container, &url), "200");
    assert_eq!(PODMAN.java_inside(&container, &jdk, &url), "200 kept=yes");
    assert_bind_and_env(PODMAN, &dir, &container);
    eprintln!(
        "network_services (podman): {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn ca_into_naming_no_service_is_refused_at_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        dir,
        "onramp.toml",
        "extends = \"minimal\"\n\n[network]\nca_file = \"root.pem\"\nca_into = [\"redis\",\n  \"web\"]\n",
    );
    let r = run(onramp(dir).args(["generate", "--dry-run"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("onramp.toml:6") && r.stderr.contains("`web`"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("postgres, redis"), "{}", r.stderr);
}
