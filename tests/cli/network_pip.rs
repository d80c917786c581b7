//! A private package index behind TLS: pypiserver serving the kailash wheels over HTTPS with a
//! certificate from a private root (tests/net/index.py), and a project venv whose pip is older
//! than 24.2, so it verifies with its own certifi bundle and the OS store does not help it.
//! doctor says which roots pip used and that they lack the issuer; `doctor --fix --yes` applies
//! `python-trust` (the project's CA bundle and the venv's pip.conf), pip's own check passes, the
//! venv rung installs kailash from the index, and the undo script takes it all back.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::common::{json, onramp, printed, run, sh, skip_or_fail, write};
use crate::network::{
    Standin, Undo, check, class_of, differences, machine_state, make_ca, net_python,
};

/// The variables this machine may set that would give pip other roots or another index.
const CLEARED: &[&str] = &[
    "PIP_CERT",
    "PIP_CONFIG_FILE",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "PIP_EXTRA_INDEX_URL",
    "PIP_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "VIRTUAL_ENV",
    "XDG_CONFIG_HOME",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "CI",
];

/// The venv's pip asks the index itself (`pip index versions`), with its own configuration.
fn pip_check(venv_py: &Path, home: &Path, index: &str) -> (bool, String) {
    let mut c = Command::new(venv_py);
    c.args([
        "-m",
        "pip",
        "index",
        "versions",
        "--disable-pip-version-check",
        "kailash",
    ]);
    for v in CLEARED {
        c.env_remove(v);
    }
    let out = c
        .env("HOME", home)
        .env("PIP_INDEX_URL", index)
        .output()
        .unwrap();
    let text = printed(&out);
    (out.status.success(), text)
}

/// The project's own files (not the venv's packages, not onramp's state under `.onramp/`).
fn project_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    crate::network::snapshot(dir.to_str().unwrap())
        .into_iter()
        .filter(|(p, _)| !p.contains("/.venv/") && !p.contains("/.onramp/"))
        .collect()
}

#[test]
fn private_index_behind_tls_old_pip_doctor_fix_then_the_sdk_installs_from_it_and_undo() {
    let Some(py) = net_python() else {
        return;
    };
    let Ok(wheels) = std::env::var("ONRAMP_TEST_WHEELS") else {
        return skip_or_fail("ONRAMP_TEST_WHEELS (the kailash wheels from scripts/provision.sh)");
    };
    if !sh(&format!("{} -c 'import pypiserver'", py.display())) {
        return skip_or_fail("pypiserver in the stand-ins' venv (scripts/provision.sh)");
    }
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !sh("command -v update-ca-certificates >/dev/null && python3 -c 'import ensurepip'")
    {
        return skip_or_fail("root, update-ca-certificates and python3 with ensurepip");
    }
    let before = machine_state();
    let tmp = tempfile::tempdir().unwrap();
    let ca = make_ca(&py, tmp.path(), "index", "Onramp Test Index Root");
    // pypiserver behind TLS on a free port, killed when dropped.
    let index = Standin::script(
        &py,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/net/index.py"),
        &["--tls", ca.to_str().unwrap(), "--root", &wheels],
    );
    let url = format!("https://127.0.0.1:{}/simple/", index.port);

    let name = format!("netpip{}", std::process::id());
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-state")
        .join(&name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _undo = Undo { dir: dir.clone() };
    write(
        &dir,
        "onramp.toml",
        "name = \"netpip\"\n[requirements]\ndocker = \"optional\"\n[sdk]\npackages = [\"kailash\"]\nimports = [\"kailash.workflow.builder:WorkflowBuilder\"]\n[network]\nca_file = \"company-root.pem\"\n",
    );
    std::fs::copy(ca.with_extension("pem"), dir.join("company-root.pem")).unwrap();
    // This machine's /etc/pip.conf may name the OS bundle as `cert`; the user's pip.conf here
    // clears it (an empty `cert` is no setting), so pip verifies as a stock pip does.
    let home = tmp.path().join("home");
    write(&home, ".config/pip/pip.conf", "[global]\ncert =\n");
    // The project venv, made by Debian's python3: its pip (from ensurepip) is before 24.2.
    let made = Command::new("python3")
        .args(["-m", "venv", dir.join(".venv").to_str().unwrap()])
        .status()
        .unwrap();
    assert!(made.success());
    let venv_py = dir.join(".venv/bin/python");
    let (ok, said) = pip_check(&venv_py, &home, &url);
    assert!(!ok && said.contains("CERTIFICATE_VERIFY_FAILED"), "{said}");
    let project_before = project_files(&dir);

    let go = |args: &[&str]| {
        let mut c = onramp(&dir);
        c.args(["--profile", "onramp.toml"]).args(args);
        c.env_remove("ONRAMP_NETWORK");
        for v in CLEARED {
            c.env_remove(v);
        }
        c.env("HOME", &home)
            .env("PIP_INDEX_URL", &url)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
        run(&mut c)
    };

    let started = Instant::now();
    let doc = json(&go(&["--json", "doctor"]));
    let diagnose_ms = started.elapsed().as_millis();
    let c = check(&doc, "network:index");
    let d = c["detail"].as_str().unwrap();
    assert_eq!(class_of(c), "tls-unknown-authority", "{c}");
    for want in [
        "Onramp Test Index Root",
        "the OS trust store does not have it",
        "the CA file you named has it",
        "the project venv's pip 23.",
        "its own certifi bundle",
    ] {
        assert!(d.contains(want), "{want:?} in {d}");
    }
    assert!(
        c["remedy"].as_str().unwrap().contains("ca-bundle.pem"),
        "the remedy is the python-trust step: {c}"
    );

    let started = Instant::now();
    let fixed = go(&["--json", "doctor", "--fix", "--yes"]);
    let fix_ms = started.elapsed().as_millis();
    let doc = json(&fixed);
    let applied = doc["fix"]["applied"].as_array().unwrap();
    let done = |id: &str| {
        applied
            .iter()
            .find(|a| a["id"] == id)
            .map(|a| a["done"].as_str().unwrap().to_string())
    };
    assert_eq!(
        done("python-trust").as_deref(),
        Some("changed"),
        "{}",
        fixed.stderr
    );
    assert_eq!(
        done("ca-os-store").as_deref(),
        Some("changed"),
        "{}",
        fixed.stderr
    );
    let conf = std::fs::read_to_string(dir.join(".venv/pip.conf")).unwrap();
    let bundle = dir.join(".onramp/net/ca-bundle.pem");
    let store = dir.join(".onramp/net/ca-truststore.jks");
    assert!(
        store.exists(),
        "the Java trust store is written beside the bundle"
    );
    assert!(
        conf.contains(&format!("cert = {}", bundle.display())),
        "{conf}"
    );
    // The root is in the OS store now, and still this pip needed its own configuration.
    let (ok, said) = pip_check(&venv_py, &home, &url);
    assert!(ok && said.contains("kailash"), "{said}");
    let c = check(&json(&go(&["--json", "doctor"])), "network:index").clone();
    assert_eq!(c["status"], "pass", "{c}");
    assert!(
        c["detail"].as_str().unwrap().contains("ca-bundle.pem"),
        "{c}"
    );

    // The SDK ladder's venv rung installs kailash from the TLS index into the venv.
    let started = Instant::now();
    let v = go(&["--json", "validate", "--yes"]);
    let install_ms = started.elapsed().as_millis();
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    let doc = json(&v);
    assert_eq!(doc["sdk"]["rung"], "venv", "{doc}");
    assert!(
        doc["sdk"]["python"].as_str().unwrap().contains(".venv"),
        "{doc}"
    );
    eprintln!(
        "pip index: diagnosed in {diagnose_ms} ms, fixed in {fix_ms} ms, kailash installed from it and imported in {install_ms} ms"
    );

    // Undo: the machine as it was, the project's files as they were (kailash stays installed).
    // The user adds a line to the venv's pip.conf first: the undo keeps that file, says so and
    // fails; everything else goes. Run through a link from elsewhere, it still works in the
    // project.
    let undo = dir.join(".onramp/net/undo.sh");
    let pip_conf = dir.join(".venv/pip.conf");
    let edited = format!("{conf}[install]\nno-cache-dir = true\n");
    std::fs::write(&pip_conf, &edited).unwrap();
    let link = tmp.path().join("undo-net");
    std::os::unix::fs::symlink(&undo, &link).unwrap();
    let out = Command::new("sh")
        .arg(&link)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "{} was changed after onramp wrote it, so it is left as it is",
            pip_conf.display()
        )),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&pip_conf).unwrap(), edited);
    assert!(!bundle.exists() && !store.exists(), "{said}");
    assert!(!undo.exists(), "the undo is done: {said}");
    std::fs::remove_file(&pip_conf).unwrap();
    let (ok, said) = pip_check(&venv_py, &home, &url);
    assert!(!ok && said.contains("CERTIFICATE_VERIFY_FAILED"), "{said}");
    let project_after = project_files(&dir);
    assert_eq!(project_before, project_after);
    let changed = differences(&before, &machine_state());
    assert!(changed.is_empty(), "not restored: {changed:?}");
}
