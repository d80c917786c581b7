//! The venv rung installs the project's own dependencies with the tool it declares (DESIGN.md
//! section 5, "Project dependencies"): a checkout with `pyproject.toml` editable with its
//! extras, `requirements.txt`, `uv.lock` through uv. Offline: tiny packages built here as
//! wheels, plus setuptools and uv from the tools wheelhouse (`ONRAMP_TEST_TOOL_WHEELS`, filled by
//! scripts/provision.sh), passed with `--wheelhouse`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{json, onramp, run, skip_or_fail, write};

/// Writes a pure-Python wheel `NAME-VERSION-py3-none-any.whl` whose module sets `VALUE`.
const WHEEL_PY: &str = r#"
import base64, hashlib, sys, zipfile
out, name, version, value = sys.argv[1:5]
info = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"VALUE = {value}\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: onramp-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(f"{out}/{name}-{version}-py3-none-any.whl", "w") as z:
    for path, text in files.items():
        data = text.encode()
        z.writestr(path, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    z.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
"#;

fn python3() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn wheel(dir: &Path, name: &str, value: u32) {
    let st = Command::new("python3")
        .args(["-c", WHEEL_PY])
        .arg(dir)
        .args([name, "0.1", &value.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// A wheelhouse with the tools (setuptools, uv) and the tiny packages: `tinyextra` and
/// `tinyreq` (VALUE 1), and an index copy of `tinysdk` (VALUE 2) that a checkout of tinysdk must
/// not be replaced with.
fn wheelhouse() -> Option<tempfile::TempDir> {
    let tools = PathBuf::from(
        std::env::var("ONRAMP_TEST_TOOL_WHEELS")
            .unwrap_or_else(|_| "/var/cache/onramp-test/wheels-tools".into()),
    );
    let entries: Vec<PathBuf> = std::fs::read_dir(&tools)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    let has = |prefix: &str| {
        entries
            .iter()
            .any(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
    };
    if !(has("setuptools-") && has("uv-")) {
        return None;
    }
    let w = tempfile::tempdir().unwrap();
    for p in &entries {
        std::fs::copy(p, w.path().join(p.file_name().unwrap())).unwrap();
    }
    wheel(w.path(), "tinyextra", 1);
    wheel(w.path(), "tinyreq", 1);
    wheel(w.path(), "tinysdk", 2);
    Some(w)
}

fn setup() -> Option<(PathBuf, tempfile::TempDir)> {
    let Some(py) = python3() else {
        skip_or_fail("python3 on PATH");
        return None;
    };
    let Some(w) = wheelhouse() else {
        skip_or_fail(
            "setuptools and uv wheels (ONRAMP_TEST_TOOL_WHEELS, from scripts/provision.sh)",
        );
        return None;
    };
    Some((py, w))
}

/// A profile with no services whose SDK is `packages` and whose check imports `imports`.
fn profile(packages: &str, imports: &str, more: &str) -> String {
    format!(
        "extends = \"minimal\"\n[services.postgres]\nenabled = false\n[services.redis]\nenabled = false\n[sdk]\npackages = [{packages}]\nimports = [{imports}]\ninstantiate = []\n{more}"
    )
}

/// PATH without any directory that holds a `uv`, so that the rung has to install its own.
fn path_without_uv() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !d.join("uv").exists())
        .collect();
    std::env::join_paths(dirs)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn validate(dir: &Path, py: &Path, wheels: &Path) -> serde_json::Value {
    let r = run(onramp(dir)
        .env("PATH", path_without_uv())
        .args(["validate", "--yes", "--json", "--python"])
        .arg(py)
        .arg("--wheelhouse")
        .arg(wheels)
        .env_remove("VIRTUAL_ENV")
        .env("DOCKER_HOST", "unix:///nonexistent"));
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["sdk"]["rung"], "venv", "{doc}");
    doc
}

fn venv_detail(doc: &serde_json::Value) -> String {
    doc["sdk"]["rungs_tried"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rung"] == "venv" && r["status"] == "passed")
        .and_then(|r| r["detail"].as_str())
        .unwrap_or_else(|| panic!("no passed venv rung: {doc}"))
        .to_string()
}

/// `python -c CODE` with the project's venv, its stdout.
fn in_venv(dir: &Path, code: &str) -> String {
    let out = Command::new(dir.join(".venv/bin/python"))
        .args(["-c", code])
        .current_dir("/")
        .output()
        .unwrap();
    assert!(out.status.success(), "{code}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_checkout_of_the_sdk_is_installed_editable_with_its_extras() {
    let Some((py, w)) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"tinysdk\"\nversion = \"0.1\"\n\n[project.optional-dependencies]\nfast = [\"tinyextra\"]\n\n[tool.setuptools]\npackages = [\"tinysdk\"]\n",
    );
    write(d, "tinysdk/__init__.py", "VALUE = 3\n");
    write(
        d,
        "onramp.toml",
        &profile(
            "\"tinysdk[fast]\"",
            "\"tinysdk:VALUE\", \"tinyextra:VALUE\"",
            "",
        ),
    );
    let doc = validate(d, &py, w.path());
    let detail = venv_detail(&doc);
    assert!(detail.contains("pip install -e .[fast]"), "{detail}");
    assert!(!detail.contains("pip install tinysdk"), "{detail}");
    // The checkout itself, editable: its own VALUE, from its own directory; and the extra.
    let seen = in_venv(
        d,
        "import tinysdk, tinyextra; print(tinysdk.VALUE, tinysdk.__file__, tinyextra.VALUE)",
    );
    let file = d.join("tinysdk/__init__.py").canonicalize().unwrap();
    let mut parts = seen.split_whitespace();
    assert_eq!(parts.next(), Some("3"), "{seen}");
    assert_eq!(
        Path::new(parts.next().unwrap()).canonicalize().unwrap(),
        file,
        "{seen}"
    );
    assert_eq!(parts.next(), Some("1"), "{seen}");
}

#[test]
fn requirements_txt_is_installed_then_the_profiles_packages() {
    let Some((py, w)) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "requirements.txt", "# the app's own\ntinyreq==0.1\n");
    write(
        d,
        "onramp.toml",
        &profile("\"tinysdk\"", "\"tinysdk:VALUE\", \"tinyreq:VALUE\"", ""),
    );
    let doc = validate(d, &py, w.path());
    let detail = venv_detail(&doc);
    assert!(
        detail.contains("pip install -r requirements.txt; pip install tinysdk"),
        "{detail}"
    );
    assert_eq!(
        in_venv(
            d,
            "import tinyreq, tinysdk; print(tinyreq.VALUE, tinysdk.VALUE)"
        ),
        "1 2"
    );
}

#[test]
fn uv_lock_is_synced_with_uv_installed_when_missing() {
    let Some((py, w)) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tinyreq = w.path().join("tinyreq-0.1-py3-none-any.whl");
    write(
        d,
        "pyproject.toml",
        &format!(
            "[project]\nname = \"uvapp\"\nversion = \"0.1\"\nrequires-python = \">=3.8\"\ndependencies = [\"tinyreq\"]\n\n[tool.uv]\npackage = false\n\n[tool.uv.sources]\ntinyreq = {{ path = \"{}\" }}\n",
            tinyreq.display()
        ),
    );
    write(
        d,
        "onramp.toml",
        &profile("\"tinysdk\"", "\"tinysdk:VALUE\", \"tinyreq:VALUE\"", ""),
    );
    // Lock it with uv from the wheelhouse (the wheel holds the binary), offline.
    let tools = tempfile::tempdir().unwrap();
    let uv_wheel = std::fs::read_dir(w.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("uv-"))
        .unwrap();
    let unzip = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile, os\nz = zipfile.ZipFile(sys.argv[1])\nn = next(n for n in z.namelist() if n.endswith('/scripts/uv'))\nopen(sys.argv[2], 'wb').write(z.read(n))\nos.chmod(sys.argv[2], 0o755)",
        ])
        .arg(&uv_wheel)
        .arg(tools.path().join("uv"))
        .status()
        .unwrap();
    assert!(unzip.success());
    let lock = Command::new(tools.path().join("uv"))
        .args(["lock", "--offline"])
        .current_dir(d)
        .env("UV_CACHE_DIR", tools.path().join("cache"))
        .output()
        .unwrap();
    assert!(lock.status.success(), "uv lock: {lock:?}");
    let locked = std::fs::read(d.join("uv.lock")).unwrap();

    let doc = validate(d, &py, w.path());
    let detail = venv_detail(&doc);
    assert!(
        detail.contains("pip install uv; uv sync; pip install tinysdk"),
        "{detail}"
    );
    assert!(d.join(".venv/bin/uv").exists(), "uv went into the venv");
    assert_eq!(
        in_venv(
            d,
            "import tinyreq, tinysdk; print(tinyreq.VALUE, tinysdk.VALUE)"
        ),
        "1 2"
    );
    assert_eq!(
        std::fs::read(d.join("uv.lock")).unwrap(),
        locked,
        "the lock file is left as it was"
    );
}
