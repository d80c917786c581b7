//! Profiles from the command line: listing, resolving, overlays, and every kind of bad input.

use crate::common::{json, onramp, run, write};

#[test]
fn profiles_lists_the_embedded_ones() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path()).arg("profiles"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("kailash") && r.stdout.contains("minimal"));
    assert!(r.stdout.contains("(default)"));
}

#[test]
fn a_resolved_profile_never_shows_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path()).args(["profiles", "kailash"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("test_password"), "{}", r.stdout);
    assert!(!r.stdout.contains("testpassword"));
    assert!(r.stdout.contains("POSTGRES_PASSWORD = \"***\""));
    assert!(r.stdout.contains("neo4j/***"));
    let j = json(&run(
        onramp(dir.path()).args(["profiles", "kailash", "--json"])
    ));
    assert_eq!(j["services"]["postgres"]["env"]["POSTGRES_PASSWORD"], "***");
}

#[test]
fn project_overlay_extends_and_overrides_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "onramp.toml",
        "extends = \"kailash\"\n[services.postgres]\nports = [\"15432:5432\"]\n[services.neo4j]\nenabled = false\n",
    );
    let r = run(onramp(dir.path()).args(["doctor", "--json"]));
    let doc = json(&r);
    let ids: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"port:postgres:15432"), "{ids:?}");
    assert!(!ids.iter().any(|i| i.starts_with("port:neo4j")), "{ids:?}");
    assert!(ids.contains(&"port:redis:6379"), "base services stay");
}

fn bad(profile: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "onramp.toml", profile);
    let r = run(onramp(dir.path()).arg("doctor"));
    (r.code, r.stderr)
}

fn assert_located(profile: &str, line_col: &str, says: &str) {
    let (code, stderr) = bad(profile);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("onramp.toml:{line_col}:")),
        "expected onramp.toml:{line_col} in:\n{stderr}"
    );
    assert!(stderr.contains(says), "expected `{says}` in:\n{stderr}");
    assert!(stderr.contains("help:"), "a fix is offered:\n{stderr}");
}

#[test]
fn bad_toml_syntax() {
    assert_located(
        "extends = \"kailash\"\n[services.redis\nimage = \"r\"\n",
        "2:16",
        "expected `]`",
    );
}

#[test]
fn unknown_key() {
    assert_located(
        "extends = \"kailash\"\n[services.redis]\nimgae = \"redis:7\"\n",
        "3:1",
        "unknown field `imgae`",
    );
}

#[test]
fn wrong_type() {
    assert_located(
        "extends = \"kailash\"\n[services.redis]\nports = 6379\n",
        "3:9",
        "invalid type",
    );
}

#[test]
fn unknown_probe_kind() {
    assert_located(
        "extends = \"kailash\"\n[services.redis]\nprobe = { kind = \"mysql\" }\n",
        "3:18",
        "unknown variant `mysql`",
    );
}

#[test]
fn port_not_host_container() {
    assert_located(
        "extends = \"kailash\"\n[services.redis]\nports = [\"6379/sctp\"]\n",
        "3:10",
        "HOST:CONTAINER",
    );
}

#[test]
fn duplicate_host_port() {
    assert_located(
        "extends = \"kailash\"\n[services.redis]\nports = [\"5432:6379\"]\n",
        "3:10",
        "host port 5432 is published by both",
    );
}

#[test]
fn short_neo4j_password() {
    assert_located(
        "extends = \"kailash\"\n[services.neo4j]\nenv = { NEO4J_AUTH = \"neo4j/short\" }\n",
        "3:22",
        "shorter than 8",
    );
}

#[test]
fn missing_profile_name_lists_the_embedded_ones() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(onramp(dir.path()).args(["doctor", "--profile", "kailsh"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no profile named `kailsh`"));
    assert!(r.stderr.contains("kailash, minimal"));
    let r = run(onramp(dir.path())
        .arg("doctor")
        .env("ONRAMP_PROFILE", "./missing.toml"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing.toml"));
}

#[test]
fn usage_errors_exit_2_and_unbuilt_commands_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(onramp(dir.path()).arg("frobnicate")).code, 2);
    let help = run(onramp(dir.path()).arg("--help"));
    assert_eq!(help.code, 0);
    for cmd in [
        "setup", "doctor", "generate", "up", "status", "validate", "gate", "down", "profiles",
    ] {
        assert!(help.stdout.contains(cmd), "--help lists {cmd}");
    }
}
