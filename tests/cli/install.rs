//! Getting onramp onto a machine: `--version`, completions, the release archive from
//! scripts/dist.sh installed by scripts/install.sh (local, and downloaded over HTTP from
//! 127.0.0.1), shellcheck over scripts/, and the wheel installed into a venv with no Rust.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::{bin, json, onramp, run, skip_or_fail};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn host_target() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

fn archive_name() -> String {
    format!("onramp-{VERSION}-{}.tar.gz", host_target())
}

/// Two release directories made by scripts/dist.sh, each with its archive and SHA256SUMS: `a`
/// from this build's onramp (stripped, to keep it small), `b` from the same binary with bytes
/// appended, so the two installs differ in content. Made once per build of the binary and
/// shared by the tests (each runs in its own process): built aside, then renamed into place.
struct Releases {
    a: PathBuf,
    b: PathBuf,
}

fn releases() -> Releases {
    let meta = std::fs::metadata(bin()).unwrap();
    let key = format!("{}-{}", meta.len(), meta.mtime_nsec() ^ meta.mtime());
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("install-releases-{key}"));
    if !cache.join("b/SHA256SUMS").exists() {
        // Those of earlier builds of the binary are of no more use.
        for entry in std::fs::read_dir(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("install-releases-") && entry.path() != cache {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let a_bin = work.path().join("onramp-a");
        std::fs::copy(bin(), &a_bin).unwrap();
        let _ = Command::new("strip").arg(&a_bin).status();
        let b_bin = work.path().join("onramp-b");
        let mut bytes = std::fs::read(&a_bin).unwrap();
        bytes.extend_from_slice(&[0x5a; 4096]);
        std::fs::write(&b_bin, bytes).unwrap();
        set_mode(&b_bin, 0o755);
        let built = work.path().join("built");
        for (name, binary) in [("a", &a_bin), ("b", &b_bin)] {
            let r = run(Command::new(root().join("scripts/dist.sh"))
                .arg("--binary")
                .arg(binary)
                .arg("--out")
                .arg(built.join(name)));
            assert_eq!(r.code, 0, "dist.sh failed: {}", r.stderr);
        }
        // Another test process may have won the race; its copy is as good as ours.
        let _ = std::fs::rename(&built, &cache);
    }
    Releases {
        a: cache.join("a"),
        b: cache.join("b"),
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// scripts/install.sh with a clean environment for the variables it reads.
fn install_sh() -> Command {
    let mut c = Command::new(root().join("scripts/install.sh"));
    for var in [
        "ONRAMP_INSTALL_BASE",
        "ONRAMP_INSTALL_DIR",
        "ONRAMP_VERSION",
        "ONRAMP_INSTALL_TARGET",
        "XDG_BIN_HOME",
    ] {
        c.env_remove(var);
    }
    c
}

fn install_archive(release: &Path, dir: &Path, extra: &[&str]) -> crate::common::Run {
    run(install_sh()
        .arg("--archive")
        .arg(release.join(archive_name()))
        .arg("--dir")
        .arg(dir)
        .args(extra))
}

/// Every entry of `dir` with its inode, size and modification time.
fn listing(dir: &Path) -> Vec<(String, u64, u64, i64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = entries
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                m.ino(),
                m.len(),
                m.mtime_nsec(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn version_names_version_commit_and_target() {
    let r = run(onramp(&root()).arg("--version"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = r.stdout.trim();
    let target = host_target();
    assert!(
        line.starts_with(&format!("onramp {VERSION} (commit "))
            && line.ends_with(&format!(", target {target})")),
        "unexpected --version: {line}"
    );
    let commit = line
        .split("(commit ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap();
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        // Built from this checkout: the short form of the commit the sources are at.
        Some(head) => assert!(
            commit.len() >= 7 && head.starts_with(commit),
            "commit {commit} is not HEAD {head}"
        ),
        None => assert_eq!(commit, "unknown"),
    }
    let short = run(onramp(&root()).arg("-V"));
    assert_eq!(short.stdout.trim(), line);
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = run(onramp(&root()).args(["completions", shell]));
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        for word in ["doctor", "validate", "gate", "completions", "profile"] {
            assert!(r.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    // The bash script is valid bash, and completes subcommands once loaded.
    let script = run(onramp(&root()).args(["completions", "bash"])).stdout;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.bash"), &script).unwrap();
    let r = run(Command::new("bash")
        .arg("-c")
        .arg(
            "source ./c.bash && COMP_WORDS=(onramp do) COMP_CWORD=1 COMP_LINE='onramp do' \
         COMP_POINT=9 && _onramp onramp do onramp && printf '%s\\n' \"${COMPREPLY[@]}\"",
        )
        .current_dir(dir.path()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.lines().any(|l| l == "doctor"),
        "bash completion of `onramp do`: {:?}",
        r.stdout
    );
    let bad = run(onramp(&root()).args(["completions", "tcsh"]));
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("bash"), "{}", bad.stderr);
}

#[test]
fn help_shows_the_first_day_examples() {
    let r = run(onramp(&root()).arg("--help"));
    assert_eq!(r.code, 0);
    let examples = r
        .stdout
        .split("Examples:")
        .nth(1)
        .expect("an Examples section");
    for cmd in ["onramp doctor", "onramp status", "onramp completions bash"] {
        assert!(examples.contains(cmd), "no `{cmd}` in:\n{examples}");
    }
}

#[test]
fn dist_archive_holds_the_binary_and_its_checksum() {
    let rel = releases();
    let name = archive_name();
    let sums = std::fs::read_to_string(rel.a.join("SHA256SUMS")).unwrap();
    let line = sums
        .lines()
        .find(|l| l.ends_with(&format!("  {name}")))
        .unwrap_or_else(|| panic!("SHA256SUMS has no {name}:\n{sums}"));
    let r = run(Command::new("sha256sum").arg(rel.a.join(&name)));
    assert_eq!(
        r.stdout.split_whitespace().next(),
        line.split_whitespace().next()
    );
    let r = run(Command::new("tar").arg("-tzf").arg(rel.a.join(&name)));
    let dir = name.trim_end_matches(".tar.gz");
    for member in ["onramp", "README.md", "completions/onramp.bash"] {
        assert!(
            r.stdout.lines().any(|l| l == format!("{dir}/{member}")),
            "{member} not in the archive:\n{}",
            r.stdout
        );
    }
}

#[test]
fn install_from_archive_and_replace_atomically() {
    let rel = releases();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("bin");
    let dest = target.join("onramp");

    let r = install_archive(&rel.a, &target, &[]);
    assert_eq!(r.code, 0, "first install failed:\n{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("checksum: ok"), "{}", r.stdout);
    assert!(r.stdout.contains("is not on your PATH"), "{}", r.stdout);
    assert!(r.stdout.contains("fish_add_path"), "{}", r.stdout);
    let v = run(Command::new(&dest).arg("--version"));
    assert_eq!(v.code, 0);
    assert!(v.stdout.starts_with(&format!("onramp {VERSION} ")));
    let mode = std::fs::metadata(&dest).unwrap().mode();
    assert_eq!(mode & 0o777, 0o755);
    let old = std::fs::read(&dest).unwrap();
    let ino = std::fs::metadata(&dest).unwrap().ino();

    // While the second install runs, every read of the destination sees one whole binary, the
    // old or the new, never a missing or partly written file.
    let a_len = old.len();
    let b_len = a_len + 4096;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let dest = dest.clone();
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let bytes = std::fs::read(&dest).expect("the binary is always there");
                assert!(
                    bytes.len() == a_len || bytes.len() == b_len,
                    "saw a partial binary of {} bytes",
                    bytes.len()
                );
                reads += 1;
            }
            reads
        })
    };
    let r = install_archive(&rel.b, &target, &[]);
    stop.store(true, Ordering::Relaxed);
    let reads = watcher.join().expect("the watcher saw only whole files");
    assert!(reads > 0);
    assert_eq!(
        r.code, 0,
        "second install failed:\n{}{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("replacing onramp"), "{}", r.stdout);
    let new = std::fs::read(&dest).unwrap();
    assert_eq!(new.len(), b_len);
    assert_ne!(
        std::fs::metadata(&dest).unwrap().ino(),
        ino,
        "replaced in place"
    );
    let names: Vec<_> = listing(&target).into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["onramp"], "temporary files left behind");
    assert_eq!(run(Command::new(&dest).arg("--version")).code, 0);
}

#[test]
fn tampered_archive_is_refused_and_nothing_installed() {
    let rel = releases();
    let dir = tempfile::tempdir().unwrap();
    let name = archive_name();
    // The published SHA256SUMS beside an archive with one byte changed.
    let evil = dir.path().join("release");
    std::fs::create_dir(&evil).unwrap();
    std::fs::copy(rel.a.join("SHA256SUMS"), evil.join("SHA256SUMS")).unwrap();
    let mut bytes = std::fs::read(rel.a.join(&name)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(evil.join(&name), bytes).unwrap();

    // Into a directory that does not exist: it is not even created.
    let fresh = dir.path().join("fresh");
    let r = install_archive(&evil, &fresh, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("checksum mismatch") && r.stderr.contains("tampered"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("nothing was installed"), "{}", r.stderr);
    assert!(!fresh.exists());

    // Over an existing install: the old binary stays, same inode, same bytes, nothing beside it.
    let target = dir.path().join("bin");
    assert_eq!(install_archive(&rel.a, &target, &[]).code, 0);
    let before = listing(&target);
    let content = std::fs::read(target.join("onramp")).unwrap();
    let r = install_archive(&evil, &target, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("checksum mismatch"), "{}", r.stderr);
    assert_eq!(listing(&target), before);
    assert_eq!(std::fs::read(target.join("onramp")).unwrap(), content);

    // --dry-run checks the checksum too.
    let r = install_archive(&evil, &target, &["--dry-run"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("checksum mismatch"), "{}", r.stderr);
}

/// A release directory: an archive packed from what `prepare` puts in a folder, and a
/// SHA256SUMS that matches it (so only the archive's content can be refused).
fn release_of(dir: &Path, prepare: impl Fn(&Path)) -> PathBuf {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    prepare(&stage);
    let rel = dir.join("release");
    std::fs::create_dir_all(&rel).unwrap();
    let name = archive_name();
    let r = run(Command::new("tar")
        .arg("-czf")
        .arg(rel.join(&name))
        .arg("-C")
        .arg(&stage)
        .arg("."));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sum = run(Command::new("sha256sum").arg(rel.join(&name)));
    let hash = sum.stdout.split_whitespace().next().unwrap().to_string();
    std::fs::write(rel.join("SHA256SUMS"), format!("{hash}  {name}\n")).unwrap();
    rel
}

#[test]
fn an_archive_whose_onramp_is_a_link_or_not_a_file_is_refused() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    // What the link points at: a program that would pass the `--version` check.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("onramp"), "#!/bin/sh\necho onramp 9.9.9\n").unwrap();
    set_mode(&elsewhere.join("onramp"), 0o755);
    let top = archive_name().trim_end_matches(".tar.gz").to_string();
    type Prepare<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: Vec<(&str, Prepare)> = vec![
        (
            "the binary is a link",
            Box::new(|s: &Path| {
                std::fs::create_dir(s.join(&top)).unwrap();
                symlink(elsewhere.join("onramp"), s.join(&top).join("onramp")).unwrap();
            }),
        ),
        (
            "its folder is a link",
            Box::new(|s: &Path| symlink(&elsewhere, s.join(&top)).unwrap()),
        ),
        (
            "a bare link at the top",
            Box::new(|s: &Path| symlink(elsewhere.join("onramp"), s.join("onramp")).unwrap()),
        ),
        (
            "a directory named onramp",
            Box::new(|s: &Path| std::fs::create_dir_all(s.join(&top).join("onramp")).unwrap()),
        ),
    ];
    for (i, (case, prepare)) in cases.iter().enumerate() {
        let work = dir.path().join(format!("case{i}"));
        let rel = release_of(&work, prepare);
        let target = work.join("bin");
        let r = install_archive(&rel, &target, &[]);
        assert_eq!(r.code, 1, "{case}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("symbolic link") || r.stderr.contains("not a regular file"),
            "{case}: {}",
            r.stderr
        );
        assert!(!target.join("onramp").exists(), "{case}: installed anyway");
    }
}

#[test]
fn dry_run_changes_nothing() {
    let rel = releases();
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh");
    let r = install_archive(&rel.a, &fresh, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("dry run: nothing was downloaded, written or changed")
    );
    assert!(
        r.stdout
            .contains(&format!("{}", fresh.join("onramp").display()))
    );
    assert!(!fresh.exists(), "dry run created the directory");

    let target = dir.path().join("bin");
    assert_eq!(install_archive(&rel.a, &target, &[]).code, 0);
    let before = listing(&target);
    let r = install_archive(&rel.b, &target, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("replacing onramp"), "{}", r.stdout);
    assert_eq!(listing(&target), before);

    // From a release location: it is not even contacted.
    let r = run(install_sh()
        .args(["--base", "http://127.0.0.1:9/nowhere", "--dry-run", "--dir"])
        .arg(&fresh));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!fresh.exists());
}

#[test]
fn default_directory_is_local_bin_in_home() {
    let rel = releases();
    let home = tempfile::tempdir().unwrap();
    let r = run(install_sh()
        .env("HOME", home.path())
        .arg("--archive")
        .arg(rel.a.join(archive_name()))
        .arg("--dry-run"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dest = home.path().join(".local/bin/onramp");
    assert!(
        r.stdout.contains(&format!("install:  {}", dest.display())),
        "{}",
        r.stdout
    );
    let r = run(install_sh()
        .env("HOME", home.path())
        .env("XDG_BIN_HOME", home.path().join("xdg"))
        .arg("--archive")
        .arg(rel.a.join(archive_name())));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(home.path().join("xdg/onramp").is_file());
    assert!(!dest.exists());
}

#[test]
fn checksum_file_is_required_and_may_be_named() {
    let rel = releases();
    let dir = tempfile::tempdir().unwrap();
    let name = archive_name();
    let alone = dir.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::copy(rel.a.join(&name), alone.join(&name)).unwrap();
    let target = dir.path().join("bin");
    let r = install_archive(&alone, &target, &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no checksum file") && r.stderr.contains("--sha256 FILE"),
        "{}",
        r.stderr
    );
    assert!(!target.exists());

    let sums = rel.a.join("SHA256SUMS");
    let r = install_archive(&alone, &target, &["--sha256", sums.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(target.join("onramp").is_file());

    // A checksum file that does not list the archive.
    let other = dir.path().join("OTHER");
    std::fs::write(
        &other,
        format!("{}  something-else.tar.gz\n", "0".repeat(64)),
    )
    .unwrap();
    let r = install_archive(&alone, &target, &["--sha256", other.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!("has no checksum for {name}")),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // No release location configured.
    let r = run(install_sh().args(["--dir", d]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("ONRAMP_INSTALL_BASE"), "{}", r.stderr);
    // Plain http to another machine.
    let r = run(install_sh().args(["--base", "http://192.0.2.1/releases", "--dir", d]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("plain http"), "{}", r.stderr);
    // An archive for another platform.
    let wrong = dir
        .path()
        .join("onramp-1.0.0-riscv64gc-unknown-linux-gnu.tar.gz");
    std::fs::write(&wrong, b"x").unwrap();
    let r = run(install_sh().arg("--archive").arg(&wrong).args(["--dir", d]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("not an onramp archive for this machine"),
        "{}",
        r.stderr
    );
    // Usage.
    let r = run(install_sh().arg("--frobnicate"));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unknown option: --frobnicate"),
        "{}",
        r.stderr
    );
    let r = run(install_sh().arg("--dir"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--dir needs a value"), "{}", r.stderr);
    assert!(std::fs::read_dir(dir.path()).unwrap().count() == 1);
}

/// A one-directory HTTP server on 127.0.0.1 (an ephemeral port), for the download path.
fn serve(root: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let file = root.join(path.trim_start_matches('/'));
            let response = match std::fs::File::open(&file).and_then(|mut f| {
                let mut body = Vec::new();
                f.read_to_end(&mut body).map(|_| body)
            }) {
                Ok(body) if !path.contains("..") => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend(body);
                    r
                }
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    port
}

#[test]
fn downloads_from_the_release_location_and_verifies() {
    if Command::new("curl").arg("--version").output().is_err() {
        return skip_or_fail("curl is not installed");
    }
    let rel = releases();
    let dir = tempfile::tempdir().unwrap();
    let port = serve(rel.a.clone());
    let target = dir.path().join("bin");
    // The newest archive for this target, picked from SHA256SUMS.
    let r = run(install_sh()
        .env("ONRAMP_INSTALL_BASE", format!("http://127.0.0.1:{port}/"))
        .arg("--dir")
        .arg(&target));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("checksum: ok"));
    assert_eq!(
        run(Command::new(target.join("onramp")).arg("--version")).code,
        0
    );

    // A version the release does not have.
    let r = run(install_sh()
        .args([
            "--base",
            &format!("http://127.0.0.1:{port}"),
            "--version",
            "0.0.0-none",
        ])
        .arg("--dir")
        .arg(&target));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cannot download"), "{}", r.stderr);

    // A release location serving a tampered archive under the published checksum.
    let evil = dir.path().join("evil");
    std::fs::create_dir(&evil).unwrap();
    std::fs::copy(rel.a.join("SHA256SUMS"), evil.join("SHA256SUMS")).unwrap();
    std::fs::copy(rel.b.join(archive_name()), evil.join(archive_name())).unwrap();
    let evil_port = serve(evil);
    let before = listing(&target);
    let r = run(install_sh()
        .args([
            "--base",
            &format!("http://127.0.0.1:{evil_port}"),
            "--version",
            VERSION,
        ])
        .arg("--dir")
        .arg(&target));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("checksum mismatch"), "{}", r.stderr);
    assert_eq!(listing(&target), before);
}

#[test]
fn shellcheck_passes_on_the_scripts() {
    if Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_err()
    {
        return skip_or_fail("shellcheck is not installed (scripts/provision.sh installs it)");
    }
    let mut scripts = Vec::new();
    for sub in ["scripts", "scripts/bench", "scripts/images", ".ci"] {
        for entry in std::fs::read_dir(root().join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let head = std::fs::read(&path)
                .map(|b| b.starts_with(b"#!"))
                .unwrap_or(false);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let first = text.lines().next().unwrap_or("");
            if head && (first.contains("sh") && !first.contains("python")) {
                scripts.push(path);
            }
        }
    }
    assert!(scripts.len() >= 8, "found only {scripts:?}");
    assert!(scripts.iter().any(|p| p.ends_with("scripts/install.sh")));
    let r = run(Command::new("shellcheck")
        .arg("--external-sources")
        .args(&scripts)
        .current_dir(root()));
    assert_eq!(r.code, 0, "shellcheck:\n{}{}", r.stdout, r.stderr);
}

/// PATH without any directory holding cargo, rustc or rustup.
fn path_without_rust() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|d| {
            !["cargo", "rustc", "rustup"]
                .iter()
                .any(|t| d.join(t).exists())
                && !d.to_string_lossy().contains(".cargo")
                && !d.to_string_lossy().contains("rustup")
        })
        .map(|d| d.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn glibc_versions(bytes: &[u8]) -> Vec<u32> {
    let needle = b"GLIBC_2.";
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(pos) = bytes[i..].windows(needle.len()).position(|w| w == needle) {
        let start = i + pos + needle.len();
        let digits: String = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| b as char)
            .collect();
        if let Ok(n) = digits.parse() {
            found.push(n);
        }
        i = start;
    }
    found
}

#[test]
fn wheel_installs_and_runs_without_rust() {
    let Some(wheels) = std::env::var_os("ONRAMP_TEST_WHEEL_DIR") else {
        return skip_or_fail(
            "ONRAMP_TEST_WHEEL_DIR is not set (scripts/test.sh builds the wheel with \
             scripts/wheel.sh when ONRAMP_TEST_WHEEL=1 or in CI)",
        );
    };
    let found: Vec<PathBuf> = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one wheel in {wheels:?}: {found:?}"
    );
    let wheel = &found[0];

    // onramp-<version>-py3-none-<platform tags>.whl, manylinux for this machine's architecture.
    let file = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let stem = file.strip_suffix(".whl").unwrap();
    let parts: Vec<&str> = stem.split('-').collect();
    assert_eq!(parts.len(), 5, "{file}");
    assert_eq!(&parts[..4], ["onramp", VERSION, "py3", "none"], "{file}");
    let arch = std::env::consts::ARCH;
    let platforms: Vec<&str> = parts[4].split('.').collect();
    let glibc_tags: Vec<u32> = platforms
        .iter()
        .filter_map(|p| {
            let rest = p.strip_prefix("manylinux_2_")?;
            rest.strip_suffix(&format!("_{arch}"))?.parse().ok()
        })
        .collect();
    assert!(
        !glibc_tags.is_empty(),
        "{file}: no manylinux_2_N_{arch} tag (a bare linux_{arch} wheel cannot be published)"
    );

    // The WHEEL metadata says the same, and the wheel is not pure Python.
    let python = {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let meta = run(Command::new(&python)
        .arg("-c")
        .arg(
            "import sys, zipfile\n\
         z = zipfile.ZipFile(sys.argv[1])\n\
         names = z.namelist()\n\
         w = [n for n in names if n.endswith('.dist-info/WHEEL')][0]\n\
         print(z.read(w).decode())\n\
         print('\\n'.join('MEMBER ' + n for n in names))",
        )
        .arg(wheel));
    assert_eq!(meta.code, 0, "{}", meta.stderr);
    assert!(
        meta.stdout.contains("Root-Is-Purelib: false"),
        "{}",
        meta.stdout
    );
    let tags: Vec<&str> = meta
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Tag: "))
        .collect();
    let expected: Vec<String> = platforms.iter().map(|p| format!("py3-none-{p}")).collect();
    assert_eq!(tags, expected, "WHEEL tags vs the file name");
    assert!(
        meta.stdout
            .contains(&format!("MEMBER onramp-{VERSION}.data/scripts/onramp")),
        "{}",
        meta.stdout
    );

    // Into a fresh venv, with no cargo, rustc or rustup on PATH.
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("v");
    let path = path_without_rust();
    let strip = |c: &mut Command| {
        c.env("PATH", &path);
        for var in [
            "CARGO_HOME",
            "RUSTUP_HOME",
            "RUSTUP_TOOLCHAIN",
            "CARGO",
            "RUSTC",
        ] {
            c.env_remove(var);
        }
    };
    let mut c = Command::new(&python);
    c.args(["-m", "venv"]).arg(&venv);
    strip(&mut c);
    assert_eq!(run(&mut c).code, 0);
    let mut c = Command::new(venv.join("bin/pip"));
    c.args(["install", "--no-index", "--disable-pip-version-check", "-q"])
        .arg(wheel);
    strip(&mut c);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "pip install failed: {}", r.stderr);

    let installed = venv.join("bin/onramp");
    let mut c = Command::new(&installed);
    c.arg("--version");
    strip(&mut c);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(&format!("onramp {VERSION} (commit "))
            && r.stdout.contains(&format!("target {}", host_target())),
        "{}",
        r.stdout
    );

    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let mut c = Command::new(&installed);
    c.args(["doctor", "--json", "--dir"]).arg(&project);
    strip(&mut c);
    let r = run(&mut c);
    assert!(r.code == 0 || r.code == 1, "doctor: {}{}", r.code, r.stderr);
    let doc = json(&r);
    assert!(
        doc["checks"].as_array().is_some_and(|c| !c.is_empty()),
        "{doc}"
    );
    assert_eq!(doc["platform"]["arch"], arch);

    // The tag is honest: the binary needs no newer glibc than the tag promises, and this
    // machine's glibc satisfies the tag.
    let needed = glibc_versions(&std::fs::read(&installed).unwrap())
        .into_iter()
        .max()
        .expect("a glibc-linked binary");
    let tag = glibc_tags.iter().copied().max().unwrap();
    assert!(
        needed <= tag,
        "binary needs glibc 2.{needed}, tag says 2.{tag}"
    );
    let host = run(Command::new("getconf").arg("GNU_LIBC_VERSION"));
    let host_minor: u32 = host
        .stdout
        .trim()
        .rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("getconf names the glibc version");
    assert!(
        tag <= host_minor,
        "tag 2.{tag} is newer than this glibc 2.{host_minor}"
    );
}

/// install.ps1 cannot run here (no PowerShell on this machine): at least hold it to the same
/// steps, variables, placeholder and messages as install.sh, so the two do not drift apart.
#[test]
fn powershell_installer_mirrors_the_shell_one() {
    let sh = std::fs::read_to_string(root().join("scripts/install.sh")).unwrap();
    let ps = std::fs::read_to_string(root().join("scripts/install.ps1")).unwrap();
    for step in 1..=6 {
        let marker = format!("# Step {step}:");
        let title = |text: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(&marker))
                .map(|l| l.trim().to_string())
        };
        let (a, b) = (title(&sh), title(&ps));
        assert!(a.is_some() && b.is_some(), "{marker} missing: {a:?} {b:?}");
    }
    let placeholder = |text: &str| {
        text.lines()
            .find(|l| l.contains("DefaultBase =") || l.starts_with("DEFAULT_BASE="))
            .and_then(|l| l.split(['"', '\'']).nth(1))
            .map(str::to_string)
    };
    assert_eq!(placeholder(&sh), placeholder(&ps));
    for shared in [
        "ONRAMP_INSTALL_BASE",
        "ONRAMP_INSTALL_DIR",
        "ONRAMP_VERSION",
        "ONRAMP_INSTALL_TARGET",
        "SHA256SUMS",
        "the file is corrupt or was tampered with",
        "nothing was installed",
        "dry run: nothing was downloaded, written or changed",
        "is not on your PATH",
        "no release location is configured",
    ] {
        assert!(sh.contains(shared), "install.sh lacks {shared:?}");
        assert!(ps.contains(shared), "install.ps1 lacks {shared:?}");
    }
    assert!(ps.contains("%LOCALAPPDATA%\\onramp\\bin") || ps.contains("'onramp\\bin'"));
    assert!(
        ps.lines().count() < sh.lines().count(),
        "install.ps1 should stay short"
    );
}
