//! Hostile Compose files, through the real binary: secrets read from the file, its `.env` or
//! interpolation never printed (human and `--json`); nesting, size and many variables fail
//! fast with a located error instead of crashing or crawling; keys that normalise alike are
//! refused at their place instead of silently dropping a service.

use std::path::Path;

use crate::common::{Run, onramp, run, write};

fn from_compose(dir: &Path, json: bool) -> Run {
    let mut cmd = onramp(dir);
    cmd.args(["profiles", "--from-compose", "compose.yml"])
        .env_remove("COMPOSE_PROFILES");
    if json {
        cmd.arg("--json");
    }
    run(&mut cmd)
}

/// A command that starts from the whole file (`generate` through `compose =`): what onramp
/// cannot apply is an error here, where `profiles --from-compose` only warns.
fn strict(dir: &Path, json: bool) -> Run {
    write(dir, "onramp.toml", "compose = \"compose.yml\"\n");
    let mut cmd = onramp(dir);
    cmd.args(["generate", "--dry-run"])
        .env_remove("COMPOSE_PROFILES");
    if json {
        cmd.arg("--json");
    }
    run(&mut cmd)
}

fn assert_hidden(label: &str, r: &Run, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "{label}: `{s}` printed\nstdout:\n{}\nstderr:\n{}",
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn a_password_with_a_dollar_is_not_echoed_by_the_interpolation_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (n, text) in [
        "services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: Tr0ub4dor$1x\n",
        "services:\n  db:\n    image: postgres\n    environment:\n      - POSTGRES_PASSWORD=Tr0ub4dor$1x\n",
        "services:\n  db:\n    image: postgres\n    command: [\"postgres\", \"--password=Tr0ub4dor$1x\"]\n",
    ]
    .iter()
    .enumerate()
    {
        write(d, "compose.yml", text);
        for json in [false, true] {
            let label = format!("case {n}, json {json}");
            let r = strict(d, json);
            assert_eq!(r.code, 2, "{label}: {}", r.stderr);
            assert_hidden(&label, &r, &["Tr0ub4dor"]);
            assert!(r.stderr.contains("compose.yml:"), "{label}: {}", r.stderr);
            // Imported only, the service is left out with the same located warning.
            let r = from_compose(d, json);
            assert_eq!(r.code, 0, "{label}: {}", r.stderr);
            assert_hidden(&label, &r, &["Tr0ub4dor"]);
        }
    }
}

#[test]
fn values_from_the_dotenv_are_masked_in_labels_numbers_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        ".env",
        "DB_PASSWORD=dotenv-s3cret-77\nAPI_TOKEN=tok-4f1e9a2b\nPORT=15432\n",
    );
    // Imported: the label's value is printed, masked.
    write(
        d,
        "compose.yml",
        "services:\n  db:\n    image: postgres\n    ports: [\"${PORT}:5432\"]\n    labels:\n      hint: \"pw=${DB_PASSWORD}\"\n      token: ${API_TOKEN}\n",
    );
    for json in [false, true] {
        let r = from_compose(d, json);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_hidden("label", &r, &["dotenv-s3cret-77", "tok-4f1e9a2b"]);
        assert!(
            r.stdout.contains("15432"),
            "a plain value stays: {}",
            r.stdout
        );
    }
    // Errors that quote the value: a number field and a port.
    for text in [
        "services:\n  db:\n    image: postgres\n    healthcheck:\n      test: [CMD, x]\n      retries: ${DB_PASSWORD}\n",
        "services:\n  db:\n    image: postgres\n    ports: [\"${API_TOKEN}:5432\"]\n",
        "services:\n  db:\n    image: postgres\n    ulimits:\n      nofile: ${API_TOKEN}\n",
    ] {
        write(d, "compose.yml", text);
        for json in [false, true] {
            let r = strict(d, json);
            assert_eq!(r.code, 2, "{text}: {}", r.stderr);
            assert_hidden(text, &r, &["dotenv-s3cret-77", "tok-4f1e9a2b"]);
            let r = from_compose(d, json);
            assert_hidden(text, &r, &["dotenv-s3cret-77", "tok-4f1e9a2b"]);
        }
    }
}

#[test]
fn an_env_file_secret_is_masked_wherever_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "db.env", "POSTGRES_PASSWORD=envfile-pw-31337\n");
    write(
        d,
        "compose.yml",
        "services:\n  db:\n    image: postgres\n    env_file: db.env\n    labels:\n      copy: envfile-pw-31337\n",
    );
    for json in [false, true] {
        let r = from_compose(d, json);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_hidden("env_file", &r, &["envfile-pw-31337"]);
    }
}

#[test]
fn deep_nesting_and_huge_inputs_fail_fast_with_a_location() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let deep_interp = format!(
        "services:\n  db:\n    image: \"{}x{}\"\n",
        "${A:-".repeat(20_000),
        "}".repeat(20_000)
    );
    let deep_flow = format!("services:\n  db:\n    image: {}\n", "[".repeat(40_000));
    let brackets = "[".repeat(1 << 20);
    let deep_block: String = (0..1000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    for (label, text, at) in [
        ("nested interpolation", deep_interp, "compose.yml:3:5"),
        ("flow nesting", deep_flow, "compose.yml:3:"),
        ("a mebibyte of [", brackets, "compose.yml:1:"),
        ("block nesting", deep_block, "compose.yml:"),
    ] {
        write(d, "compose.yml", &text);
        // Through `compose =` in the project's profile, as every command reads it.
        write(d, "onramp.toml", "compose = \"compose.yml\"\n");
        for args in [&["generate", "--dry-run"][..], &["--json", "status"][..]] {
            let r = run(onramp(d).args(args));
            assert_eq!(r.code, 2, "{label} {args:?}: {}", r.stderr);
            let all = format!("{}{}", r.stdout, r.stderr);
            assert!(all.contains(at), "{label} {args:?}: {all}");
        }
    }
}

#[test]
fn many_distinct_variables_are_read_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let vars: String = (0..100_000).map(|i| format!("${{V{i}}}")).collect();
    write(
        d,
        "compose.yml",
        &format!("services:\n  db:\n    image: postgres\n    labels:\n      many: \"{vars}\"\n"),
    );
    let r = from_compose(d, true);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn keys_that_become_the_same_name_are_refused_at_the_second() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (text, at) in [
        (
            "services:\n  1:\n    image: a\n  \"1\":\n    image: b\n",
            "compose.yml:4:3",
        ),
        (
            "services:\n  true:\n    image: a\n  \"true\":\n    image: b\n",
            "compose.yml:4:3",
        ),
        (
            "services:\n  db:\n    image: a\n    environment:\n      A: 1\n      A: 2\n",
            "compose.yml:6:7",
        ),
    ] {
        write(d, "compose.yml", text);
        for r in [from_compose(d, false), strict(d, false)] {
            assert_eq!(r.code, 2, "{text}: {}", r.stderr);
            assert!(
                r.stderr.contains(at) && r.stderr.contains("repeats"),
                "{text}: {}",
                r.stderr
            );
        }
    }
}
