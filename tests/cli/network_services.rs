//! `[network] ca_into`: a started service trusts the company root. A TLS server on 127.0.0.1
//! with a private root (tests/net/standin.py); a service from the local test image (it has
//! Python) on the host's network; an HTTPS request from inside the container fails with an
//! unknown authority before `ca_into` and succeeds after it, and after the root changes;
//! `docker compose up -d` over the generated file recreates nothing; `docker inspect` shows the
//! bind and the variables. The same service through Podman's API trusts the root too.

use std::path::Path;
use std::process::Command;

use crate::common::{docker, engine_up, image, json, onramp, run, skip_or_fail, write};
use crate::network::{Standin, make_ca, net_python};

/// The bundle inside the container, and the variables pointing at it.
const IN_CONTAINER: &str = "/etc/ssl/certs/onramp-ca-bundle.pem";
const VARS: [&str; 5] = [
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "NODE_EXTRA_CA_CERTS",
];

fn profile(name: &str, ca_into: Option<&str>) -> String {
    let mut t = format!(
        "name = \"svc-trust\"\nproject = \"{name}\"\n\n[requirements]\ndocker = \"required\"\n\n\
         [services.app]\nimage = \"{img}\"\nentrypoint = [\"sh\", \"-c\"]\n\
         command = [\"trap 'exit 0' TERM; sleep infinity & wait\"]\n\
         network_mode = \"host\"\nenv = {{ REQUESTS_CA_BUNDLE = \"/own/bundle.pem\" }}\n\n\
         [[files]]\ntemplate = \"docker-compose.test.yml\"\npath = \"docker-compose.test.yml\"\n\n\
         [network]\nca_file = \"company-root.pem\"\n",
        img = image("redis:7")
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
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .trim()
        .to_string()
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
    let env = engine.inspect(container, "{{range .Config.Env}}{{println .}}{{end}}");
    for var in VARS {
        let want = if var == "REQUESTS_CA_BUNDLE" {
            format!("{var}=/own/bundle.pem")
        } else {
            format!("{var}={IN_CONTAINER}")
        };
        assert!(env.lines().any(|l| l == want), "{want} in\n{env}");
    }
}

/// Before `ca_into` the container does not trust the company root; after it, it does, and
/// after the root is replaced it trusts the new one. Returns the project directory and name.
fn trust_flow(engine: Engine, py: &Path, tmp: &Path) -> (std::path::PathBuf, String) {
    let root = make_ca(py, tmp, "company", "Onramp Test Service Root");
    let server = Standin::start(py, &["registry", "--tls", root.to_str().unwrap()]);
    let url = format!("https://127.0.0.1:{}/simple/", server.port);
    let dir = tmp.join("project");
    let name = format!("netsvc{}{}", engine.cli, std::process::id());
    let container = format!("{name}-app-1");
    write(&dir, "onramp.toml", &profile(&name, None));
    std::fs::copy(root.with_extension("pem"), dir.join("company-root.pem")).unwrap();

    // Without ca_into the image's own store does not know the company root.
    assert_eq!(action(engine, &dir), "created");
    let before = engine.fetch_inside(&container, &url);
    assert!(
        before.contains("CERTIFICATE_VERIFY_FAILED") && before.contains("local issuer"),
        "without ca_into: {before}"
    );

    // With it, `up` writes the bundle, recreates the container with the bind and the variables.
    write(&dir, "onramp.toml", &profile(&name, Some("[\"app\"]")));
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

    assert_bind_and_env(engine, &dir, &container);

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
    assert_eq!(action(engine, &dir), "unchanged");
    (dir, name)
}

#[test]
fn ca_into_a_started_service_makes_its_https_requests_trust_the_company_root() {
    let Some(py) = net_python() else {
        return skip_or_fail(
            "the network stand-ins' venv (ONRAMP_TEST_NET_VENV, scripts/provision.sh)",
        );
    };
    if !engine_up() || docker(&["image", "inspect", &image("redis:7")]).is_none() {
        return skip_or_fail("a running engine with the test images (scripts/provision.sh)");
    }
    let started = std::time::Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    let _down = Down(DOCKER, &dir);
    let (dir, name) = trust_flow(DOCKER, &py, tmp.path());
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
        return skip_or_fail(
            "the network stand-ins' venv (ONRAMP_TEST_NET_VENV, scripts/provision.sh)",
        );
    };
    if !PODMAN.ready() {
        return skip_or_fail(
            "no Podman API service on /run/podman/podman.sock (scripts/provision.sh starts one)",
        );
    }
    let started = std::time::Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    let _down = Down(PODMAN, &dir);
    // One `up` (each costs seconds through Podman's API): created with the bind and variables.
    let root = make_ca(&py, tmp.path(), "company", "Onramp Test Service Root");
    let server = Standin::start(&py, &["registry", "--tls", root.to_str().unwrap()]);
    let url = format!("https://127.0.0.1:{}/simple/", server.port);
    let name = format!("netsvcpodman{}", std::process::id());
    write(&dir, "onramp.toml", &profile(&name, Some("\"*\"")));
    std::fs::copy(root.with_extension("pem"), dir.join("company-root.pem")).unwrap();
    assert_eq!(action(PODMAN, &dir), "created");
    let container = format!("{name}-app-1");
    assert_eq!(PODMAN.fetch_inside(&container, &url), "200");
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
