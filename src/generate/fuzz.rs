//! Bounded property test over the profile loader and the renderers: any string placed in any
//! profile field either is refused as bad input (exit 2, with a location) or yields a compose
//! file and a `.env` that parse back (YAML, dotenv, shell words) with exactly the same values.
// The fuzz tests write their profiles with std::fs.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::{context, render, shim};
use crate::errors::Error;
use crate::profile::{Choice, load};

/// Characters that break formats: quotes, `$`, backslash, comment and YAML markers, shell
/// metacharacters, line breaks, NUL and other controls, non-ASCII.
const ALPHABET: &[char] = &[
    'a', 'b', 'Z', '0', '9', '_', '-', '.', ' ', ':', '/', '@', '%', '+', ',', '=', '$', '{', '}',
    '(', ')', '\'', '"', '`', '\\', '#', ';', '&', '|', '<', '>', '*', '!', '[', ']', '\n', '\r',
    '\t', '\0', '\u{1b}', '\u{7f}', '\u{85}', '\u{2028}', 'é', '漢',
];

/// Printable metacharacters most of the time (these must round-trip), control characters
/// sometimes (these must be refused).
fn hostile() -> impl Strategy<Value = String> {
    let printable: Vec<char> = ALPHABET
        .iter()
        .copied()
        .filter(|c| !c.is_control())
        .collect();
    let printable = prop::collection::vec(prop::sample::select(printable), 0..10);
    let any = prop::collection::vec(prop::sample::select(ALPHABET), 0..10);
    prop_oneof![8 => printable, 1 => any].prop_map(|cs| cs.into_iter().collect())
}

/// Mostly plain names, sometimes hostile ones, so both outcomes are exercised.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![8 => "[a-z][a-z0-9_-]{0,6}", 1 => hostile()]
}

fn env_key() -> impl Strategy<Value = String> {
    prop_oneof![8 => "[A-Z_][A-Z0-9_]{0,6}", 1 => hostile()]
}

#[derive(Debug, Clone)]
struct Case {
    profile: String,
    service: String,
    key: String,
    value: String,
    user: String,
    password: String,
    db: String,
    arg: String,
    host: String,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (name(), name(), env_key(), hostile()),
        (
            hostile(),
            hostile(),
            hostile(),
            hostile(),
            prop_oneof![4 => "[a-z][a-z0-9.-]{0,8}", 1 => hostile()],
        ),
    )
        .prop_map(
            |((profile, service, key, value), (user, password, db, arg, host))| Case {
                profile,
                service,
                key,
                value,
                user,
                password,
                db,
                arg,
                host,
            },
        )
}

fn profile_text(c: &Case) -> String {
    let mut env = toml::Table::new();
    env.insert("POSTGRES_USER".into(), c.user.clone().into());
    env.insert("POSTGRES_PASSWORD".into(), c.password.clone().into());
    env.insert("POSTGRES_DB".into(), c.db.clone().into());
    env.entry(c.key.clone()).or_insert(c.value.clone().into());
    let mut svc = toml::Table::new();
    svc.insert("image".into(), "postgres:15".into());
    svc.insert("ports".into(), vec!["15432:5432"].into());
    svc.insert("env".into(), env.into());
    svc.insert(
        "command".into(),
        vec!["postgres".to_string(), c.arg.clone()].into(),
    );
    let mut probe = toml::Table::new();
    probe.insert("kind".into(), "postgres".into());
    svc.insert("probe".into(), probe.into());
    let mut ext = toml::Table::new();
    ext.insert("address".into(), format!("{}:6390", c.host).into());
    let mut ext_probe = toml::Table::new();
    ext_probe.insert("kind".into(), "redis".into());
    ext_probe.insert("password".into(), c.password.clone().into());
    ext.insert("probe".into(), ext_probe.into());
    let mut services = toml::Table::new();
    services.insert(c.service.clone(), svc.into());
    services.entry("ext").or_insert(ext.into());
    let mut files = Vec::new();
    for (t, p) in [("env", ".env"), ("docker-compose.test.yml", "compose.yml")] {
        let mut f = toml::Table::new();
        f.insert("template".into(), t.into());
        f.insert("path".into(), p.into());
        files.push(toml::Value::Table(f));
    }
    let mut root = toml::Table::new();
    root.insert("name".into(), c.profile.clone().into());
    root.insert("project".into(), "fuzz".into());
    root.insert("services".into(), services.into());
    root.insert("files".into(), files.into());
    toml::to_string(&root).expect("a table serializes")
}

fn unescape_compose(s: &str) -> String {
    s.replace("$$", "$")
}

/// `Ok(true)` when the profile was accepted and its files parsed back, `Ok(false)` when it was
/// refused as bad input with a location.
fn check(c: &Case, dir: &Path) -> Result<bool, TestCaseError> {
    let path = dir.join("p.toml");
    std::fs::write(&path, profile_text(c)).expect("temp write");
    let loaded = match load(&Choice::Named(path.display().to_string())) {
        Ok(l) => l,
        Err(e) => {
            prop_assert_eq!(e.exit_code(), 2, "{}", e);
            prop_assert!(matches!(e, Error::Profile { .. }), "located: {e}");
            return Ok(false);
        }
    };
    let ctx = context::build(&loaded.profile, dir, &shim::Scan::default());
    // Compose: the values come back from a YAML parser.
    let yaml_text = render(dir, "docker-compose.test.yml", &ctx).expect("compose renders");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&yaml_text)
        .map_err(|e| TestCaseError::fail(format!("YAML: {e}\n{yaml_text}")))?;
    let svc = &yaml["services"][c.service.as_str()];
    let env_val = svc["environment"][c.key.as_str()]
        .as_str()
        .unwrap_or("<none>");
    let expected_value =
        if ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"].contains(&c.key.as_str()) {
            loaded.profile.services[&c.service].env()[&c.key].clone()
        } else {
            c.value.clone()
        };
    prop_assert_eq!(unescape_compose(env_val), expected_value);
    let command: Vec<String> = svc["command"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(unescape_compose))
        .collect();
    prop_assert_eq!(command, vec!["postgres".to_string(), c.arg.clone()]);
    let test: Vec<String> = svc["healthcheck"]["test"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(unescape_compose))
        .collect();
    let env = loaded.profile.services[&c.service].env();
    let (user, db) = (&env["POSTGRES_USER"], &env["POSTGRES_DB"]);
    let words = match test.first().map(String::as_str) {
        Some("CMD") => test[1..].to_vec(),
        Some("CMD-SHELL") => shlex::split(&test[1]).unwrap_or_default(),
        other => return Err(TestCaseError::fail(format!("healthcheck {other:?}"))),
    };
    prop_assert!(words.contains(user) && words.contains(db), "{words:?}");
    // `.env`: the values come back from a dotenv parser.
    let env_text = render(dir, "env", &ctx).expect(".env renders");
    let parsed: BTreeMap<String, String> = dotenvy::from_read_iter(env_text.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(format!("dotenv: {e}\n{env_text}")))?;
    let p = crate::profile::kinds::env_prefix(&c.service);
    prop_assert_eq!(&parsed[&format!("{p}_USER")], user);
    prop_assert_eq!(&parsed[&format!("{p}_PASSWORD")], &env["POSTGRES_PASSWORD"]);
    prop_assert_eq!(&parsed[&format!("{p}_DB")], db);
    prop_assert_eq!(&parsed["EXT_HOST"], &c.host);
    Ok(true)
}

/// How many generated profiles one run tries (a few seconds in a debug build).
const CASES: u32 = 300;

#[test]
fn any_profile_string_is_refused_or_parses_back_unchanged() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use std::cell::Cell;
    // A fresh seed each run (more ground covered over time), printed on failure; set
    // ONRAMP_FUZZ_SEED to replay one.
    let seed: u64 = std::env::var("ONRAMP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let mut b = [0u8; 8];
            let _ = getrandom::fill(&mut b);
            u64::from_le_bytes(b)
        });
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let (accepted, refused) = (Cell::new(0u32), Cell::new(0u32));
    let result = runner.run(&case(), |c| {
        let dir = tempfile::tempdir().expect("temp dir");
        let counter = if check(&c, dir.path())? {
            &accepted
        } else {
            &refused
        };
        counter.set(counter.get() + 1);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\nreplay with ONRAMP_FUZZ_SEED={seed}");
    }
    eprintln!(
        "fuzz: {CASES} profiles, {} accepted and parsed back, {} refused with a location",
        accepted.get(),
        refused.get()
    );
    assert!(accepted.get() >= CASES / 10 && refused.get() >= CASES / 10);
}
