//! Hostile input, tried as a careless or hostile user would (issue 9): planted links, outside
//! symlinks and templates, the user's side files, secrets in every output, injection through
//! every profile string, modes under umask 000, concurrent and killed runs, bad input. Each test
//! is written from its class and tries several cases; none may write or read outside the
//! project.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Run, bin, json, onramp, run, skip_or_fail, write};

/// A small project profile: `.env` and the compose file, no shim (no Python scan).
const PROJECT: &str = "extends = \"minimal\"\n\n[[files]]\ntemplate = \"env\"\npath = \".env\"\n\n[[files]]\ntemplate = \"docker-compose.test.yml\"\npath = \"docker-compose.test.yml\"\n";

fn gen_in(d: &Path, args: &[&str]) -> Run {
    run(onramp(d)
        .arg("generate")
        .args(args)
        .env("VIRTUAL_ENV", "/nonexistent"))
}

/// A sandbox: a project beside an `outside` directory holding a secret and a victim file.
struct Sandbox {
    _tmp: tempfile::TempDir,
    top: PathBuf,
    project: PathBuf,
    outside: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().to_path_buf();
        let project = top.join("project");
        let outside = top.join("outside");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("id_key"), "PRIVATE-KEY-MATERIAL-41\n").unwrap();
        std::fs::write(outside.join("victim"), "untouched\n").unwrap();
        write(&project, "onramp.toml", PROJECT);
        Sandbox {
            _tmp: tmp,
            top,
            project,
            outside,
        }
    }

    fn generate(&self, args: &[&str]) -> Run {
        gen_in(&self.project, args)
    }

    fn outside_untouched(&self, before: &Tree) {
        assert_eq!(&snapshot(&self.outside), before, "the outside tree changed");
        assert_eq!(
            std::fs::read_to_string(self.outside.join("victim")).unwrap(),
            "untouched\n"
        );
    }
}

/// Every entry under a directory (not following links): kind, size, mode, mtime and content hash.
type Tree = BTreeMap<PathBuf, String>;

fn snapshot(root: &Path) -> Tree {
    use std::os::unix::fs::MetadataExt;
    let mut out = Tree::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let content = if m.is_file() {
                let bytes = std::fs::read(&p).unwrap_or_default();
                format!("{:x}", md5_like(&bytes))
            } else if m.file_type().is_symlink() {
                format!("-> {:?}", std::fs::read_link(&p).ok())
            } else {
                String::new()
            };
            if m.is_dir() {
                stack.push(p.clone());
            }
            out.insert(
                p,
                format!(
                    "{:o} {} {}.{} {content}",
                    m.mode(),
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec()
                ),
            );
        }
    }
    out
}

/// FNV-1a: enough to tell contents apart in a snapshot.
fn md5_like(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn temps_in(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for sub in [dir.to_path_buf(), dir.join(".onramp")] {
        for e in std::fs::read_dir(&sub).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().contains(".onramp-tmp.")
                || e.file_name().to_string_lossy().ends_with(".tmp")
            {
                found.push(e.path());
            }
        }
    }
    found
}

// ---- class 1: writes outside the project -------------------------------------------------

#[test]
fn planted_links_at_state_target_side_and_temp_paths_never_write_outside() {
    use std::os::unix::fs::symlink;
    let mut cases = 0;
    // (what to plant, relative path, link target inside `outside`, whether generate must fail)
    let plants: &[(&str, &str, bool)] = &[
        (".onramp", "", true),
        (".onramp/manifest.json", "victim", true),
        (".onramp/lock", "victim", true),
        (".env", "victim", true),
        ("docker-compose.test.yml", "victim", true),
        (".onramp/.onramp-tmp.0000000000000000..env", "victim", false),
        (".onramp-tmp.0123456789abcdef..env", "victim", false),
        (
            ".onramp-tmp.ffffffffffffffff.docker-compose.test.yml",
            "victim",
            false,
        ),
    ];
    for (at, to, fails) in plants {
        let s = Sandbox::new();
        let before = snapshot(&s.outside);
        let p = s.project.join(at);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(s.outside.join(to), &p).unwrap();
        let r = s.generate(&[]);
        if *fails {
            assert_eq!(r.code, 2, "{at}: {}", r.stderr);
            assert!(r.stderr.contains("symbolic link"), "{at}: {}", r.stderr);
        } else {
            assert_eq!(r.code, 0, "{at}: {}", r.stderr);
            assert!(
                std::fs::symlink_metadata(&p).is_err(),
                "{at}: a planted temp link is removed"
            );
        }
        s.outside_untouched(&before);
        cases += 1;
    }
    // Side files: a link at `.env.new` / `.env.bak` is never written through; a free name is used.
    for (side, force) in [(".env.new", false), (".env.bak", true)] {
        let s = Sandbox::new();
        assert_eq!(s.generate(&[]).code, 0);
        let edited = std::fs::read_to_string(s.project.join(".env")).unwrap() + "MINE=1\n";
        std::fs::write(s.project.join(".env"), &edited).unwrap();
        symlink(s.outside.join("victim"), s.project.join(side)).unwrap();
        let before = snapshot(&s.outside);
        let r = s.generate(if force { &["--force"] } else { &[] });
        assert_eq!(r.code, 0, "{side}: {}", r.stderr);
        let free = format!("{side}.1");
        assert!(s.project.join(&free).is_file(), "{side}: {free} written");
        assert!(
            format!("{}{}", r.stdout, r.stderr).contains(&free),
            "{side}: the free name is said: {}{}",
            r.stdout,
            r.stderr
        );
        s.outside_untouched(&before);
        cases += 1;
    }
    eprintln!("class 1 cases: {cases}");
}

// ---- class 2: reads outside the project --------------------------------------------------

#[test]
fn outside_symlinks_and_templates_from_outside_are_never_read() {
    use std::os::unix::fs::symlink;
    let mut cases = 0;
    // A project file that is a link to a key elsewhere: not read, not shown, not backed up.
    for args in [&[][..], &["--force"][..], &["--dry-run"][..]] {
        let s = Sandbox::new();
        symlink(s.outside.join("id_key"), s.project.join(".env")).unwrap();
        let r = s.generate(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(!all.contains("PRIVATE-KEY-MATERIAL"), "{args:?}: {all}");
        assert!(!s.project.join(".env.bak").exists());
        cases += 1;
    }
    // Templates: absolute, `..`, a link inside the project pointing out, a directory.
    let s = Sandbox::new();
    symlink(s.outside.join("id_key"), s.project.join("t.j2")).unwrap();
    std::fs::create_dir(s.project.join("tdir")).unwrap();
    let key = s.outside.join("id_key");
    for (template, want) in [
        (key.to_str().unwrap(), "onramp.toml:"),
        ("../outside/id_key", "onramp.toml:"),
        ("sub/../../outside/id_key", "onramp.toml:"),
        ("t.j2", "symbolic link"),
        ("tdir", "not a regular file"),
    ] {
        write(
            &s.project,
            "onramp.toml",
            &format!(
                "extends = \"minimal\"\n\n[[files]]\ntemplate = {}\npath = \"out.txt\"\n",
                toml_str(template)
            ),
        );
        let r = s.generate(&[]);
        assert_eq!(r.code, 2, "{template}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{template}: {}", r.stderr);
        assert!(!r.stderr.contains("PRIVATE-KEY-MATERIAL"));
        assert!(!s.project.join("out.txt").exists(), "{template}");
        cases += 1;
    }
    eprintln!("class 2 cases: {cases}");
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

// ---- class 3: the user's files -----------------------------------------------------------

#[test]
fn users_side_files_are_never_replaced_and_backups_accumulate() {
    let s = Sandbox::new();
    let d = &s.project;
    assert_eq!(s.generate(&[]).code, 0);
    std::fs::write(d.join(".env.new"), "my own notes\n").unwrap();
    std::fs::write(d.join(".env.bak"), "my own backup\n").unwrap();
    let original = std::fs::read_to_string(d.join(".env")).unwrap();

    let edit = |n: u32| {
        std::fs::write(d.join(".env"), format!("{original}EDIT={n}\n")).unwrap();
    };
    edit(1);
    let r = s.generate(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains(".env.new.1"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(d.join(".env.new")).unwrap(),
        "my own notes\n"
    );
    // onramp's own `.env.new.1` is reused on the next run, not multiplied.
    let r = s.generate(&[]);
    assert!(r.stderr.contains(".env.new.1"), "{}", r.stderr);
    assert!(!d.join(".env.new.2").exists());

    // Two `--force` runs: two backups, the user's own `.env.bak` untouched.
    let r = s.generate(&["--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(".env.bak.1"), "{}", r.stdout);
    edit(2);
    let r = s.generate(&["--force"]);
    assert!(r.stdout.contains(".env.bak.2"), "{}", r.stdout);
    assert_eq!(
        std::fs::read_to_string(d.join(".env.bak")).unwrap(),
        "my own backup\n"
    );
    assert!(
        std::fs::read_to_string(d.join(".env.bak.1"))
            .unwrap()
            .contains("EDIT=1")
    );
    assert!(
        std::fs::read_to_string(d.join(".env.bak.2"))
            .unwrap()
            .contains("EDIT=2")
    );
    for b in [".env.bak.1", ".env.bak.2"] {
        assert_eq!(mode_of(&d.join(b)), 0o600, "{b} keeps the secret mode");
    }
    // A non-secret file's backup keeps its original mode.
    let compose = d.join("docker-compose.test.yml");
    std::fs::write(&compose, "services: {}\n").unwrap();
    std::fs::set_permissions(
        &compose,
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    let r = s.generate(&["--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        mode_of(&d.join("docker-compose.test.yml.bak")),
        0o640 & 0o600
    );
    eprintln!("class 3 cases: 6");
}

// ---- class 4: secrets in every output ----------------------------------------------------

const SECRETS: &[&str] = &[
    "pg-Secret-0a1",
    "redis-Secret-0b2",
    "hc-Secret-0c3",
    "pgpass-Secret-0d4",
    "stripe-Secret-0e5",
    "ghp_token-Secret-0f6",
    "dsn-Secret-0g7",
    "url-Secret-0h8",
];

fn secret_profile() -> String {
    format!(
        r#"extends = "minimal"

[services.postgres]
env = {{ POSTGRES_PASSWORD = "{0}", PGPASS = "{3}", SENTRY_DSN = "https://{6}@sentry.example/1", APP_URL = "postgresql://app:{7}@db:5432/x", STRIPE_KEY = "{4}", GITHUB_TOKEN = "{5}" }}

[services.redis]
command = ["redis-server", "--requirepass", "{1}"]
healthcheck = ["CMD-SHELL", "redis-cli -a {2} ping"]
probe = {{ kind = "redis", password = "{1}" }}

[[files]]
template = "env"
path = ".env"

[[files]]
template = "docker-compose.test.yml"
path = "docker-compose.test.yml"
"#,
        SECRETS[0],
        SECRETS[1],
        SECRETS[2],
        SECRETS[3],
        SECRETS[4],
        SECRETS[5],
        SECRETS[6],
        SECRETS[7]
    )
}

fn assert_no_secret(label: &str, r: &Run) {
    for s in SECRETS {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "{label}: {s} shown\nstdout:\n{}\nstderr:\n{}",
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn no_secret_appears_in_any_output() {
    let s = Sandbox::new();
    let d = &s.project;
    write(d, "onramp.toml", &secret_profile());
    let mut cases = 0;
    for args in [
        vec!["profiles", "./onramp.toml"],
        vec!["profiles", "./onramp.toml", "--json"],
        vec!["profiles", "./onramp.toml", "-vv"],
        vec!["generate", "--dry-run", "-vv"],
        vec!["generate", "--json", "-vv"],
    ] {
        let r = run(onramp(d).args(&args).env("VIRTUAL_ENV", "/nonexistent"));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert_no_secret(&format!("{args:?}"), &r);
        cases += 1;
    }
    // The user's own secrets in an edited `.env`: diffs (kept, forced, dry run) show none.
    let edited = std::fs::read_to_string(d.join(".env")).unwrap()
        + &format!(
            "STRIPE_KEY={}\nGITHUB_TOKEN={}\nMY_DSN=https://u:{}@x.example/1\n",
            SECRETS[4], SECRETS[5], SECRETS[7]
        );
    for args in [
        vec!["generate", "-vv"],
        vec!["generate", "--dry-run", "-vv"],
        vec!["generate", "--json", "-vv"],
    ] {
        std::fs::write(d.join(".env"), &edited).unwrap();
        // A profile change so that the diff has something to show.
        write(
            d,
            "onramp.toml",
            &secret_profile().replace(
                "extends = \"minimal\"",
                "extends = \"minimal\"\nproject = \"other\"",
            ),
        );
        let r = run(onramp(d).args(&args).env("VIRTUAL_ENV", "/nonexistent"));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(
            r.stdout.contains("***") || r.stderr.contains("***"),
            "{args:?}: a diff with masked lines is shown: {}",
            r.stderr
        );
        assert_no_secret(&format!("edited .env {args:?}"), &r);
        cases += 1;
    }
    // Errors: a type error, a bad address, a bad port next to secrets; human and --json.
    for (bad, json_too) in [
        (
            "[services.postgres.env]\nPOSTGRES_PASSWORD = 12345678\n",
            "12345678",
        ),
        (
            "[services.ext]\naddress = \"user:url-Secret-0h8@host\"\nprobe = { kind = \"tcp\" }\n",
            "url-Secret-0h8",
        ),
        (
            "[services.redis]\ncommand = [\"redis-server\", \"--requirepass\", \"redis-Secret-0b2\"]\nports = [\"x:1\"]\n",
            "redis-Secret-0b2",
        ),
    ] {
        write(d, "onramp.toml", &format!("extends = \"minimal\"\n{bad}"));
        for flags in [vec!["-vv"], vec!["--json"]] {
            let r = run(onramp(d).arg("generate").args(&flags));
            assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
            assert!(r.stderr.contains("onramp.toml:"), "{}", r.stderr);
            assert!(
                !r.stdout.contains(json_too) && !r.stderr.contains(json_too),
                "{bad} {flags:?}: the value is echoed:\n{}\n{}",
                r.stdout,
                r.stderr
            );
            cases += 1;
        }
    }
    eprintln!("class 4 cases: {cases}");
}

// ---- class 5: injection --------------------------------------------------------------------

/// Hostile strings, each placed in every profile string in turn.
const HOSTILE: &[&str] = &[
    "a\nINJECTED: 1",
    "a\rb",
    "nul\u{0}byte",
    "esc\u{1b}[31m",
    "tab\there",
];

#[test]
fn control_characters_in_any_profile_string_exit_2_with_a_location() {
    let places: &[&str] = &[
        "name = {v}",
        "description = {v}",
        "project = {v}",
        "[services.{v}]\nimage = \"x\"",
        "[services.postgres]\nimage = {v}",
        "[services.postgres.env]\n{v} = \"x\"",
        "[services.postgres.env]\nPOSTGRES_USER = {v}",
        "[services.postgres]\nprobe = { kind = \"postgres\", user = {v} }",
        "[services.postgres]\nprobe = { kind = \"postgres\", password = {v} }",
        "[services.postgres]\ncommand = [\"postgres\", {v}]",
        "[services.postgres]\nhealthcheck = [\"CMD\", {v}]",
        "[services.postgres]\nvolumes = [{v}]",
        "[services.ext]\naddress = {v}\nprobe = { kind = \"tcp\" }",
        "[sdk]\npackages = [{v}]",
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut cases = 0;
    for place in places {
        for h in HOSTILE {
            let v = toml_str(h);
            write(
                d,
                "onramp.toml",
                &format!("extends = \"minimal\"\n{}\n", place.replace("{v}", &v)),
            );
            let r = gen_in(d, &[]);
            assert_eq!(r.code, 2, "{place} / {h:?}: {}", r.stderr);
            assert!(
                r.stderr.contains("onramp.toml:2:") || r.stderr.contains("onramp.toml:3:"),
                "{place} / {h:?}: {}",
                r.stderr
            );
            assert!(!d.join(".env").exists() && !d.join("docker-compose.test.yml").exists());
            cases += 1;
        }
    }
    // Names that are not names: empty, spaced, leading dash, shell metacharacters.
    for bad in ["", "my svc", "-x", "a;b", "a/b", "a:b"] {
        for place in [
            "[services.{v}]\nimage = \"x\"",
            "[services.postgres.env]\n{v} = \"x\"",
            "[services.postgres]\nvolumes = [\"{raw}:/data\"]",
        ] {
            if place.contains("{raw}") && (bad.is_empty() || bad.contains(['/', ':'])) {
                continue; // not a named volume at all
            }
            let text = place.replace("{v}", &toml_str(bad)).replace("{raw}", bad);
            write(
                d,
                "onramp.toml",
                &format!("extends = \"minimal\"\n{text}\n"),
            );
            let r = gen_in(d, &[]);
            assert_eq!(r.code, 2, "{text}: {}", r.stderr);
            assert!(r.stderr.contains("onramp.toml:"), "{text}: {}", r.stderr);
            cases += 1;
        }
    }
    eprintln!("class 5 (control characters and names) cases: {cases}");
}

#[test]
fn metacharacters_reach_yaml_env_and_healthchecks_only_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let marker = d.join("pwned");
    let values = [
        format!("u;touch {};#", marker.display()),
        format!("$(touch {})", marker.display()),
        "`id`".to_string(),
        "a'b".to_string(),
        "a\"b # c".to_string(),
        "${HOME}".to_string(),
        "x: y\n".trim_end().to_string(),
        "- [a]".to_string(),
        "ünï cödé".to_string(),
    ];
    let mut cases = 0;
    for v in &values {
        let profile = format!(
            "extends = \"minimal\"\n\n[services.postgres.env]\nPOSTGRES_USER = {u}\nPOSTGRES_PASSWORD = {u}\nPOSTGRES_DB = {u}\n\n[[files]]\ntemplate = \"env\"\npath = \".env\"\n\n[[files]]\ntemplate = \"docker-compose.test.yml\"\npath = \"docker-compose.test.yml\"\n",
            u = toml_str(v)
        );
        write(d, "onramp.toml", &profile);
        let _ = std::fs::remove_dir_all(d.join(".onramp"));
        let _ = std::fs::remove_file(d.join(".env"));
        let _ = std::fs::remove_file(d.join("docker-compose.test.yml"));
        let r = gen_in(d, &[]);
        assert_eq!(r.code, 0, "{v}: {}", r.stderr);
        // YAML parses back with the exact values (Compose's `$$` is its literal `$`).
        let yaml: serde_yaml::Value = serde_yaml::from_str(
            &std::fs::read_to_string(d.join("docker-compose.test.yml")).unwrap(),
        )
        .unwrap();
        let pg = &yaml["services"]["postgres"];
        let env_user = pg["environment"]["POSTGRES_USER"].as_str().unwrap();
        assert_eq!(env_user.replace("$$", "$"), *v);
        let test: Vec<String> = pg["healthcheck"]["test"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().replace("$$", "$"))
            .collect();
        assert_eq!(test[0], "CMD", "exec form: {test:?}");
        assert!(test.contains(v), "{v} is one argument: {test:?}");
        // `.env` parses back with the exact values.
        let env: BTreeMap<String, String> = dotenvy::from_path_iter(d.join(".env"))
            .unwrap()
            .map(|kv| kv.unwrap())
            .collect();
        assert_eq!(env["POSTGRES_USER"], *v, "{v}");
        assert_eq!(env["POSTGRES_PASSWORD"], *v, "{v}");
        assert!(!marker.exists());
        cases += 1;
    }
    eprintln!("class 5 (escaping) cases: {cases}");
}

// ---- class 6: modes -----------------------------------------------------------------------

#[test]
fn secret_files_are_0600_under_umask_000_whatever_an_overlay_says() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sh = |args: &str| {
        let out = Command::new("/bin/sh")
            .args([
                "-c",
                &format!("umask 000; exec {} generate {args}", bin().display()),
            ])
            .current_dir(d)
            .env("VIRTUAL_ENV", "/nonexistent")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mut cases = 0;
    for (env_mode, other_mode, other_want) in [
        ("mode = \"0666\"", "mode = \"0755\"", 0o755),
        ("", "", 0o644),
        ("mode = \"0644\"", "mode = \"0640\"", 0o640),
    ] {
        let _ = std::fs::remove_dir_all(d.join(".onramp"));
        for f in [".env", "windows_patch.py"] {
            let _ = std::fs::remove_file(d.join(f));
        }
        write(
            d,
            "onramp.toml",
            &format!(
                "extends = \"minimal\"\n\n[[files]]\ntemplate = \"env\"\npath = \".env\"\n{env_mode}\n\n[[files]]\ntemplate = \"windows_patch.py\"\npath = \"windows_patch.py\"\n{other_mode}\n"
            ),
        );
        let (code, err) = sh("");
        if env_mode.contains("0666") {
            assert_eq!(code, Some(2), "world-writable refused: {err}");
            cases += 1;
            continue;
        }
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(mode_of(&d.join(".env")), 0o600, "{env_mode}");
        assert_eq!(
            mode_of(&d.join("windows_patch.py")),
            other_want,
            "{other_mode}"
        );
        assert_eq!(mode_of(&d.join(".onramp/manifest.json")), 0o644);
        cases += 1;
    }
    // A loosened `.env` is brought back to 0600, with a warning, even when unchanged.
    std::fs::set_permissions(
        d.join(".env"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let (code, err) = sh("");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("0644") && err.contains("0600"), "{err}");
    assert_eq!(mode_of(&d.join(".env")), 0o600);
    cases += 1;
    eprintln!("class 6 cases: {cases}");
}

// ---- class 7: races and interruptions -----------------------------------------------------

/// Two profiles that render different files, so every run switches.
fn switch_profiles(d: &Path) -> [PathBuf; 2] {
    let mut out = Vec::new();
    for (name, pw) in [("a.toml", "first-password"), ("b.toml", "second-password")] {
        write(
            d,
            &format!("profiles/{name}"),
            &format!(
                "{}\n[services.postgres.env]\nPOSTGRES_PASSWORD = \"{pw}\"\n",
                PROJECT
            ),
        );
        out.push(d.join("profiles").join(name));
    }
    [out[0].clone(), out[1].clone()]
}

#[test]
fn kill_9_during_profile_switches_never_leaves_onramps_files_as_changed_by_you() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let profiles = switch_profiles(d);
    let rounds = 100;
    let (mut killed, mut mid_write) = (0, 0);
    let start = Instant::now();
    for round in 0..rounds {
        let p = &profiles[round % 2];
        let mut child = Command::new(bin())
            .current_dir(d)
            .args(["generate", "--profile", p.to_str().unwrap()])
            .env("VIRTUAL_ENV", "/nonexistent")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill at a different moment each round, spread over a whole run (tens of ms).
        std::thread::sleep(Duration::from_micros((round as u64 * 7919) % 60_000));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed += 1;
        }
        // Killed between the first manifest (old and new hashes) and the last one.
        let manifest = std::fs::read_to_string(d.join(".onramp/manifest.json")).unwrap_or_default();
        if manifest.contains("pending") {
            mid_write += 1;
        }
        let next = &profiles[(round + 1) % 2];
        let r = gen_in(d, &["--profile", next.to_str().unwrap()]);
        assert_eq!(r.code, 0, "round {round}: {}", r.stderr);
        assert!(
            !r.stderr.contains("changed by you"),
            "round {round}: onramp's own file taken for the user's: {}",
            r.stderr
        );
        let temps = temps_in(d);
        assert!(
            temps.is_empty(),
            "round {round}: temp files left: {temps:?}"
        );
        assert!(!d.join(".env.new").exists(), "round {round}");
    }
    eprintln!(
        "class 7: {rounds} kill -9 rounds ({killed} killed, {mid_write} while writing) in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn concurrent_runs_take_the_lock_and_leave_consistent_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let profiles = switch_profiles(d);
    let mut refused = 0;
    for batch in 0..5 {
        let children: Vec<_> = (0..6)
            .map(|i| {
                Command::new(bin())
                    .current_dir(d)
                    .args([
                        "generate",
                        "--profile",
                        profiles[(batch + i) % 2].to_str().unwrap(),
                    ])
                    .env("VIRTUAL_ENV", "/nonexistent")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => {}
                Some(1) => {
                    assert!(err.contains("another onramp run"), "{err}");
                    refused += 1;
                }
                other => panic!("{other:?}: {err}"),
            }
            assert!(!err.contains("changed by you"), "{err}");
        }
        assert!(temps_in(d).is_empty());
    }
    // A held lock refuses `generate` at once.
    std::fs::create_dir_all(d.join(".onramp")).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(d.join(".onramp/lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let r = gen_in(d, &["--profile", profiles[0].to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("another onramp run"), "{}", r.stderr);
    eprintln!("class 7: 30 concurrent runs ({refused} refused by the lock) + 1 held lock");
}

// ---- class 8: wrong or unclear answers ----------------------------------------------------

/// One bad input: the files to write, the arguments, the exit code and words the error has.
struct Bad {
    files: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    code: i32,
    says: &'static [&'static str],
}

#[test]
fn bad_input_gets_exit_2_with_a_location_and_json_gets_one_document() {
    let cases: &[Bad] = &[
        Bad {
            files: &[("onramp.toml", "")],
            args: &["generate"],
            code: 2,
            says: &["onramp.toml:1:1", "empty"],
        },
        Bad {
            files: &[("onramp.toml", "# only a comment\n\n")],
            args: &["generate"],
            code: 2,
            says: &["empty"],
        },
        Bad {
            files: &[("onramp.toml/x", "")],
            args: &["generate"],
            code: 2,
            says: &["not a regular file"],
        },
        Bad {
            files: &[("onramp.toml", "extends = \"kailsh\"\n")],
            args: &["generate"],
            code: 2,
            says: &["onramp.toml:1:11", "kailsh", "kailash, minimal"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[services.postgres]\nports = [\"[::]:5432:5432\"]\n[services.redis]\nports = [\"127.0.0.1:5432:6379\"]\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["onramp.toml:5:", "5432", "postgres", "redis"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[services.postgres]\nports = [\"0.0.0.0:6379:5432\"]\n[services.redis]\nports = [\"[::]:6379:6379\"]\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["6379", "postgres", "redis"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[[files]]\ntemplate = \"env\"\npath = \"x\"\nmode = \"4777\"\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["onramp.toml:5:", "setuid"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[[files]]\ntemplate = \"env\"\npath = \"x\"\nmode = \"0777\"\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["world-writable"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[[files]]\ntemplate = \"env\"\npath = \".onramp/manifest.json\"\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["onramp.toml:4:", ".onramp"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[[files]]\ntemplate = \"env\"\npath = \"sub/.git/config\"\n",
            )],
            args: &["generate"],
            code: 2,
            says: &[".git"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[[files]]\ntemplate = \"env\"\npath = \"../x\"\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["outside the project"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[[files]]\ntemplate = \"env\"\npath = \"/tmp/x\"\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["outside the project"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[[files]]\ntemplate = \"env\"\npath = \"a\"\n[[files]]\ntemplate = \"env\"\npath = \"./a\"\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["onramp.toml:7:", "twice"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[requirements]\nmemory_gib = { min = -1 }\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["onramp.toml:3:", "memory_gib"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[requirements]\ncpus = { min = nan }\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["cpus"],
        },
        Bad {
            files: &[(
                "onramp.toml",
                "extends = \"minimal\"\n[requirements]\ndisk_free_gib = { recommended = inf }\n",
            )],
            args: &["generate"],
            code: 2,
            says: &["disk_free_gib"],
        },
        Bad {
            files: &[("p.toml", "name = \"x\"\ndescription = \"caf\u{e9}\"\n")],
            args: &["profiles", "./p.toml"],
            code: 0,
            says: &[],
        },
        Bad {
            files: &[],
            args: &["generate", "--dir", "onramp-no-such-dir"],
            code: 2,
            says: &["does not exist"],
        },
        Bad {
            files: &[("afile", "x")],
            args: &["generate", "--dir", "afile"],
            code: 2,
            says: &["is a file, not a directory"],
        },
        Bad {
            files: &[],
            args: &["profiles", "/dev/zero"],
            code: 2,
            says: &["/dev/zero", "not a regular file"],
        },
        Bad {
            files: &[],
            args: &["no-such-command", "--json"],
            code: 2,
            says: &[],
        },
    ];
    let mut n = 0;
    for c in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (p, t) in c.files {
            write(d, p, t);
        }
        for json_flag in [false, true] {
            let mut cmd = onramp(d);
            cmd.args(c.args).env("VIRTUAL_ENV", "/nonexistent");
            if json_flag && !c.args.contains(&"--json") {
                cmd.arg("--json");
            }
            let r = run(&mut cmd);
            assert_eq!(r.code, c.code, "{:?} {:?}: {}", c.files, c.args, r.stderr);
            for w in c.says {
                assert!(
                    r.stderr.contains(w),
                    "{:?}: `{w}` missing: {}",
                    c.args,
                    r.stderr
                );
            }
            if json_flag {
                let doc = json(&r);
                if c.code != 0 {
                    assert_eq!(doc["ok"].as_bool(), Some(false), "{}", r.stdout);
                    assert!(doc["error"].as_str().is_some_and(|e| !e.is_empty()));
                }
            }
            n += 1;
        }
    }
    eprintln!("class 8 (table) cases: {n}");
}

#[test]
fn special_files_as_profiles_and_odd_environments_get_clear_answers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A FIFO nobody writes to: refused at once, not read forever.
    let fifo = d.join("p.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let t = Instant::now();
    let r = run(onramp(d).args(["profiles", "./p.toml"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    assert!(t.elapsed() < Duration::from_secs(10));

    // Not UTF-8: the location of the first bad byte.
    std::fs::remove_file(&fifo).unwrap();
    std::fs::write(&fifo, b"name = \"x\"\ndescription = \"\xff\xfe\"\n").unwrap();
    let r = run(onramp(d).args(["profiles", "./p.toml"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("p.toml:2:16"), "{}", r.stderr);

    // An overlay probe merges key by key with the base's.
    write(
        d,
        "o.toml",
        "extends = \"kailash\"\n[services.neo4j]\nprobe = { port = 7474 }\n",
    );
    let r = run(onramp(d).args(["profiles", "./o.toml", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json(&r);
    assert_eq!(doc["services"]["neo4j"]["probe"]["kind"], "neo4j");
    assert_eq!(doc["services"]["neo4j"]["probe"]["port"], 7474);

    // A deleted working directory: exit 2 and what to do.
    let gone = d.join("gone");
    std::fs::create_dir(&gone).unwrap();
    let mut cmd = Command::new("/bin/sh");
    cmd.args([
        "-c",
        &format!(
            "cd {0} && rmdir {0} && exec {1} generate",
            gone.display(),
            bin().display()
        ),
    ]);
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--dir"), "{err}");

    // A write error on stdout is not success.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    if let Ok(full) = full {
        let out = Command::new(bin())
            .args(["profiles", "kailash"])
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // `Cpus_allowed_list: 5-0` does not wrap around to billions of CPUs.
    let root = tempfile::tempdir().unwrap();
    write(
        root.path(),
        "proc/self/status",
        "Name:\tx\nCpus_allowed_list:\t5-0\n",
    );
    let r = run(onramp(d)
        .args(["doctor", "--json"])
        .env("ONRAMP_SYSROOT", root.path()));
    assert!(!r.stdout.contains("4294967"), "{}", r.stdout);
    eprintln!("class 8 (special) cases: 7");
}

#[test]
fn gate_reports_an_exit_code_as_a_number() {
    let Some(venv) = std::env::var("ONRAMP_TEST_VENV")
        .ok()
        .filter(|v| Path::new(v).join("bin/python").exists())
    else {
        skip_or_fail("ONRAMP_TEST_VENV with kailash and pytest");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "onramp.toml",
        "extends = \"minimal\"\n\n[gates.x]\n[[gates.x.criteria]]\nname = \"fails\"\ncommand = [\"{python}\", \"-c\", \"import sys; sys.exit(1)\"]\nmetric = \"pytest_collected\"\nmin = 1\n",
    );
    let r = run(onramp(d).args(["gate", "x"]).env("VIRTUAL_ENV", &venv));
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(!all.contains("Some("), "{all}");
    assert!(all.contains("exit 1"), "{all}");
}

// ---- the filesystem outside the project, around generate, up, down and setup --------------

const WATCH_PG: u16 = 34010;
const WATCH_REDIS: u16 = 34011;

fn engine_and_images() -> Option<String> {
    let registry =
        std::env::var("ONRAMP_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into());
    let ok = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ok(&["info"]) {
        skip_or_fail("no Docker engine (scripts/provision.sh starts one)");
        return None;
    }
    let pg = format!("{registry}/onramp-test/postgres:15");
    if !ok(&["image", "inspect", &pg]) {
        skip_or_fail("no test images (scripts/images.sh builds them)");
        return None;
    }
    Some(registry)
}

/// Removes what the watched project created, also when the test fails.
struct Down(PathBuf, PathBuf);

impl Down {
    fn run(&self) -> bool {
        (0..3).any(|_| {
            Command::new(bin())
                .current_dir(&self.0)
                .args(["down", "--volumes", "--yes"])
                .env("HOME", &self.1)
                .output()
                .is_ok_and(|o| o.status.success())
        })
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        self.run();
    }
}

#[test]
fn generate_up_down_and_setup_touch_nothing_outside_the_project() {
    let Some(registry) = engine_and_images() else {
        return;
    };
    let s = Sandbox::new();
    let home = s.top.join("home");
    let tmp = s.top.join("tmp");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    write(&home, ".bashrc", "# the user's\n");
    // A fixed name: a run that could not clean up (engine gone) is cleaned by the next one.
    let project = "harden-watch";
    write(
        &s.project,
        "onramp.toml",
        &format!(
            "extends = \"minimal\"\nproject = \"{project}\"\n\n[services.postgres]\nimage = \"{registry}/onramp-test/postgres:15\"\nports = [\"{WATCH_PG}:5432\"]\n\n[services.redis]\nimage = \"{registry}/onramp-test/redis:7\"\nports = [\"{WATCH_REDIS}:6379\"]\n\n[[files]]\ntemplate = \"env\"\npath = \".env\"\n\n[[files]]\ntemplate = \"docker-compose.test.yml\"\npath = \"docker-compose.test.yml\"\n"
        ),
    );
    let down = Down(s.project.clone(), home.clone());
    assert!(down.run(), "leftovers of an earlier run removed");
    let watched = |label: &str, args: &[&str], ok: &[i32]| {
        let before: Vec<Tree> = [&s.outside, &home, &tmp]
            .iter()
            .map(|p| snapshot(p))
            .collect();
        let r = run(onramp(&s.project)
            .args(args)
            .env("HOME", &home)
            .env("TMPDIR", &tmp)
            .env("VIRTUAL_ENV", "/nonexistent"));
        assert!(ok.contains(&r.code), "{label}: {}\n{}", r.stdout, r.stderr);
        let after: Vec<Tree> = [&s.outside, &home, &tmp]
            .iter()
            .map(|p| snapshot(p))
            .collect();
        assert_eq!(
            before, after,
            "{label} changed something outside the project"
        );
        // Nothing new beside the project either.
        let names: Vec<_> = std::fs::read_dir(&s.top)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 4, "{label}: {names:?}");
        r
    };
    watched("generate", &["generate"], &[0]);
    watched("up", &["up"], &[0]);
    watched("down", &["down"], &[0]);
    // setup runs doctor, generate, up and validate; validate may find no SDK here (exit 1).
    watched("setup", &["setup", "--yes"], &[0, 1]);
    watched("down --volumes", &["down", "--volumes", "--yes"], &[0]);
}
