//! `validate`, `gate` and `setup`: the SDK ladder with real interpreters and the real `kailash`
//! package, services probed for real, gates measured with real pytest runs.

use std::path::PathBuf;

use crate::common::{json, onramp, run, skip_or_fail, stub_python, write};

fn test_venv() -> Option<PathBuf> {
    let v = PathBuf::from(std::env::var("ONRAMP_TEST_VENV").ok()?);
    v.join("bin/python").exists().then_some(v)
}

/// A profile with no services, for SDK-only checks.
const NO_SERVICES: &str = "extends = \"minimal\"\n[services.postgres]\nenabled = false\n[services.redis]\nenabled = false\n";

fn rungs(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["sdk"]["rungs_tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rung"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `python3` as this machine has it, without the SDK.
fn bare_python() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys, importlib.util; print(sys.executable); print(importlib.util.find_spec('kailash') is None)"])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines();
    let exe = PathBuf::from(lines.next()?);
    (lines.next()? == "True").then_some(exe)
}

#[test]
fn validate_creates_a_venv_installs_kailash_and_reuses_it() {
    let Some(py) = bare_python() else {
        skip_or_fail("a python3 without kailash on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "onramp.toml", NO_SERVICES);
    let r = run(onramp(d)
        .args(["validate", "--yes", "--json", "--python"])
        .arg(&py)
        .env_remove("VIRTUAL_ENV")
        .env("DOCKER_HOST", "unix:///nonexistent"));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["sdk"]["rung"], "venv");
    assert!(rungs(&doc).contains(&("interpreter".into(), "failed".into())));
    assert!(d.join(".venv/bin/python").exists());
    assert!(
        doc["sdk"]["imports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "ok")
    );

    // The second run finds .venv first and passes on the first rung.
    let again = json(&run(onramp(d)
        .args(["validate", "--yes", "--json"])
        .env_remove("VIRTUAL_ENV")
        .env("DOCKER_HOST", "unix:///nonexistent")));
    assert_eq!(again["sdk"]["rung"], "interpreter");
    assert!(again["sdk"]["python"].as_str().unwrap().contains(".venv"));
}

#[test]
fn with_resource_hidden_rung_1_fails_and_the_shim_rung_passes() {
    let Some(venv) = test_venv() else {
        skip_or_fail("ONRAMP_TEST_VENV with kailash");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The project's own code needs `resource`, as the team's did; kailash is imported too.
    write(d, "core/__init__.py", "");
    write(
        d,
        "core/limits.py",
        "import resource\n\ndef address_space():\n    return resource.getrlimit(resource.RLIMIT_AS)\n",
    );
    write(
        d,
        "onramp.toml",
        &format!(
            "{NO_SERVICES}[sdk]\nimports = [\"kailash.workflow.builder:WorkflowBuilder\", \"kailash.runtime.local:LocalRuntime\", \"core.limits:address_space\"]\ninstantiate = [\"kailash.runtime.local:LocalRuntime\", \"core.limits:address_space\"]\n"
        ),
    );
    // Windows stand-in: a sitecustomize that makes `import resource` fail.
    let hide = tempfile::tempdir().unwrap();
    write(
        hide.path(),
        "sitecustomize.py",
        "import sys\nsys.modules['resource'] = None\n",
    );
    let r = run(onramp(d)
        .args(["validate", "--json"])
        .env("VIRTUAL_ENV", &venv)
        .env("PYTHONPATH", hide.path())
        .env("DOCKER_HOST", "unix:///nonexistent"));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    let tried = rungs(&doc);
    assert_eq!(
        tried[0],
        ("interpreter".into(), "failed".into()),
        "{tried:?}"
    );
    assert_eq!(doc["sdk"]["rung"], "shim");
    assert!(tried.contains(&("shim".into(), "passed".into())));
    assert!(
        doc["sdk"]["conftest"]
            .as_str()
            .unwrap()
            .contains("import windows_patch")
    );
    let first = &doc["sdk"]["rungs_tried"][0]["detail"];
    assert!(first.as_str().unwrap().contains("resource"), "{first}");

    // Without the stand-in, the same project passes on the first rung.
    let plain = json(&run(onramp(d)
        .args(["validate", "--json"])
        .env("VIRTUAL_ENV", &venv)
        .env("DOCKER_HOST", "unix:///nonexistent")));
    assert_eq!(plain["sdk"]["rung"], "interpreter");
}

#[cfg(unix)]
#[test]
fn a_store_stub_is_skipped_and_no_interpreter_at_all_exits_1_with_a_remedy() {
    let bin = tempfile::tempdir().unwrap();
    stub_python(bin.path());
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "onramp.toml", NO_SERVICES);
    let path = format!("{}:/bin", bin.path().display());
    let r = run(onramp(dir.path())
        .args(["validate", "--json"])
        .env_remove("VIRTUAL_ENV")
        .env("PATH", &path)
        .env("HOME", dir.path())
        .env("DOCKER_HOST", "unix:///nonexistent"));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    let skipped: Vec<String> = doc["sdk"]["rungs_tried"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "skipped" && r["rung"] == "interpreter")
        .map(|r| r["detail"].as_str().unwrap().to_string())
        .collect();
    assert!(
        skipped.iter().any(|s| s.contains("Python was not found")),
        "{skipped:?}"
    );
    let remedy = doc["sdk"]["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("apt-get install python3") || remedy.contains("--python"),
        "{remedy}"
    );
    assert_eq!(doc["sdk"]["ok"], false);
}

#[test]
fn an_external_service_nobody_listens_on_fails_with_connection_refused() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "onramp.toml",
        &format!(
            "{NO_SERVICES}[services.cache]\naddress = \"127.0.0.1:{port}\"\nprobe = {{ kind = \"redis\" }}\ntimeout = \"2s\"\n"
        ),
    );
    let venv = test_venv().unwrap_or_else(|| PathBuf::from("/nonexistent"));
    let r = run(onramp(dir.path())
        .args(["validate", "--json"])
        .env("VIRTUAL_ENV", &venv)
        .env("DOCKER_HOST", "unix:///nonexistent"));
    assert_eq!(r.code, 1);
    let doc = json(&r);
    let cache = &doc["services"][0];
    assert_eq!(cache["status"], "failed");
    assert!(
        cache["detail"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{cache}"
    );
}

const MODELS: &str =
    "class Company:\n    pass\n\n\nclass Product:\n    pass\n\n\nclass Vendor:\n    pass\n";
const TESTS: &str = "def test_a():\n    assert True\n\n\ndef test_b():\n    assert 1 + 1 == 2\n\n\ndef test_c():\n    assert 'x'\n";

#[test]
fn gate_1a_reports_criteria_with_actual_values_and_an_unmet_threshold_exits_1() {
    let Some(venv) = test_venv() else {
        skip_or_fail("ONRAMP_TEST_VENV with kailash and pytest");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "core/__init__.py", "");
    write(d, "core/models.py", MODELS);
    write(d, "tests/test_smoke.py", TESTS);
    write(
        d,
        "onramp.toml",
        "extends = \"kailash\"\n\n[gates.strict]\ndescription = \"more tests than exist\"\n\n[[gates.strict.criteria]]\nname = \"tests_discovered\"\ncommand = [\"{python}\", \"-m\", \"pytest\", \"--collect-only\", \"-q\"]\nmetric = \"pytest_collected\"\nmin = 10\n",
    );
    let g = run(onramp(d).arg("generate").env("VIRTUAL_ENV", &venv));
    assert_eq!(g.code, 0, "{}", g.stderr);
    let r = run(onramp(d)
        .args(["gate", "1A", "--json"])
        .env("VIRTUAL_ENV", &venv));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["phase"], "1A");
    assert_eq!(doc["overall_passed"], true);
    assert_eq!(doc["ready_for_next_phase"], true);
    let met = &doc["criteria_met"];
    assert_eq!(met["tests_discovered"]["actual"], 3.0);
    assert_eq!(met["tests_discovered"]["required"], 1.0);
    assert_eq!(met["sdk_imports_functional"]["actual"], true);
    assert_eq!(met["missing_models_resolved"]["passed"], true);

    let strict = run(onramp(d)
        .args(["gate", "strict", "--json"])
        .env("VIRTUAL_ENV", &venv));
    assert_eq!(strict.code, 1);
    let doc = json(&strict);
    assert_eq!(doc["overall_passed"], false);
    assert_eq!(doc["criteria_met"]["tests_discovered"]["actual"], 3.0);
    assert_eq!(doc["criteria_met"]["tests_discovered"]["passed"], false);

    // Without the models, 1A is not passed and says which import failed.
    std::fs::remove_file(d.join("core/models.py")).unwrap();
    let r = run(onramp(d)
        .args(["gate", "1A", "--json"])
        .env("VIRTUAL_ENV", &venv));
    assert_eq!(r.code, 1);
    let doc = json(&r);
    let detail = doc["criteria_met"]["missing_models_resolved"]["detail"]
        .as_str()
        .unwrap();
    assert!(detail.contains("core.models"), "{detail}");
    let unknown = run(onramp(d).args(["gate", "9"]).env("VIRTUAL_ENV", &venv));
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("1A, 1B, 2"), "{}", unknown.stderr);
}
