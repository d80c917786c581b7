//! System files the network steps write, and how to put them back. Before a file is first
//! written, what was there is kept under `.onramp/net/backup/` (or that there was nothing, and
//! which directories were made); the commands the steps ran are recorded too. `.onramp/net/undo.sh`
//! is written from that journal after every change: it works in the project it names (not where
//! it is run from), restores each file byte for byte (into the same inode, so its mode and owner
//! stay) and removes what was new, but only while the file still holds what onramp last wrote
//! (its SHA-256 is journalled): a file changed since is left, named, and the script fails. Then
//! it runs the recorded commands again (the trust store rebuilt, the engine restarted).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fsx::Root;
use crate::host::{Cmd, Host};

const JOURNAL: &str = ".onramp/net/journal.json";
/// What each system file is written from (copies of the root and of daemon.json).
const STAGE: &str = ".onramp/net/stage";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Journal {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Entry {
    File {
        path: String,
        /// The file as it was, relative to the project; `None`: there was none.
        backup: Option<String>,
        /// Directories made for it, deepest first.
        made: Vec<String>,
        /// SHA-256 of what onramp last wrote there: the undo leaves a file that no longer
        /// holds it (the user changed it since) and says so. `None` in an older journal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
    Run {
        argv: Vec<String>,
        /// Started detached with its output into this log (relative to the project).
        log: Option<String>,
    },
    /// A daemon onramp restarted: how it ran before (its argv and its whole environment,
    /// which may hold a proxy password: the journal and the undo script are 0600 and never
    /// printed), the pid onramp's restart has now, and a command that succeeds once it answers.
    Daemon {
        argv: Vec<String>,
        env: Vec<(String, String)>,
        log: String,
        ready: Vec<String>,
        pid: Option<u32>,
    },
}

fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Record that onramp has just written `bytes` to `path` (an entry for it already there).
fn wrote(j: &mut Journal, path: &str, bytes: &[u8]) {
    for e in &mut j.entries {
        if let Entry::File {
            path: p, sha256, ..
        } = e
            && p == path
        {
            *sha256 = Some(digest(bytes));
        }
    }
}

fn flat(path: &str) -> String {
    path.trim_start_matches('/').replace('/', "__")
}

fn load(root: &Root) -> Journal {
    root.read(JOURNAL)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn save(root: &Root, j: &Journal) -> Result<(), String> {
    let text = serde_json::to_string_pretty(j).map_err(|e| e.to_string())?;
    root.write(JOURNAL, text.as_bytes(), 0o600)
        .map_err(|e| e.to_string())?;
    root.write(
        super::net::UNDO,
        undo_script(j, root.dir()).as_bytes(),
        0o600,
    )
    .map_err(|e| e.to_string())
}

/// Write `content` to the system file `path` (as root, through `sudo -n` when asked), keeping
/// what was there first. Returns the commands run.
pub async fn write(
    host: &Host,
    root: &Root,
    path: &str,
    content: &str,
    sudo: bool,
) -> Result<Vec<String>, String> {
    let mut j = load(root);
    let known = j
        .entries
        .iter()
        .any(|e| matches!(e, Entry::File { path: p, .. } if p == path));
    if !known {
        let target = Path::new(path);
        let entry = if target.exists() {
            let bytes = crate::fsx::read_regular(target, crate::fsx::SYSTEM_CAP)
                .map_err(|e| format!("cannot keep a copy of {path} before changing it: {e}"))?;
            let rel = format!(".onramp/net/backup/{}", flat(path));
            root.write(&rel, &bytes, 0o600).map_err(|e| e.to_string())?;
            Entry::File {
                path: path.into(),
                backup: Some(rel),
                made: Vec::new(),
                sha256: None,
            }
        } else {
            let mut made = Vec::new();
            let mut dir = target.parent();
            while let Some(d) = dir.filter(|d| !d.exists()) {
                made.push(d.display().to_string());
                dir = d.parent();
            }
            Entry::File {
                path: path.into(),
                backup: None,
                made,
                sha256: None,
            }
        };
        j.entries.push(entry);
        save(root, &j)?;
    }
    let staged = format!("{STAGE}/{}", flat(path));
    root.write(&staged, content.as_bytes(), 0o600)
        .map_err(|e| e.to_string())?;
    let staged_abs = root.dir().join(&staged).display().to_string();
    let mut argv: Vec<String> = Vec::new();
    if sudo {
        argv.extend(["sudo".into(), "-n".into()]);
    }
    argv.extend([
        "sh".into(),
        "-c".into(),
        "mkdir -p \"$(dirname \"$1\")\" && cat \"$0\" > \"$1\"".into(),
        staged_abs,
        path.into(),
    ]);
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let out = host
        .run(&Cmd::new(program, Duration::from_secs(30)).args(args))
        .await
        .map_err(|e| e.to_string())?;
    if out.code != Some(0) {
        return Err(format!("cannot write {path}: {}", out.stderr.trim()));
    }
    let mut j = load(root);
    wrote(&mut j, path, content.as_bytes());
    save(root, &j)?;
    Ok(argv)
}

/// Remember a file a step added inside the project (`rel`) and, outside `.onramp/`, what it
/// holds now, for the undo script to remove (while it still holds that).
pub fn added(root: &Root, rel: &str) -> Result<(), String> {
    let mut j = load(root);
    let known = j
        .entries
        .iter()
        .any(|e| matches!(e, Entry::File { path, .. } if path == rel));
    if !known {
        j.entries.push(Entry::File {
            path: rel.into(),
            backup: None,
            made: Vec::new(),
            sha256: None,
        });
    }
    // onramp's own state (the CA bundle, rewritten whenever the OS store changes) is always
    // onramp's to remove; a file the user may edit (a venv's pip.conf) is checked first.
    if !rel.starts_with(".onramp/")
        && let Ok(Some(bytes)) = root.read(rel)
    {
        wrote(&mut j, rel, &bytes);
    }
    save(root, &j)
}

/// Write a file inside the project (`path` absolute, under the project) through the safe-write
/// path; a file there whose first line is not `content`'s is not onramp's and is left alone.
pub fn write_project(root: &Root, path: &str, content: &str) -> Result<(), String> {
    let rel = Path::new(path)
        .strip_prefix(root.dir())
        .ok()
        .and_then(|r| r.to_str())
        .ok_or_else(|| format!("refusing to write {path}: it is not inside the project"))?
        .to_string();
    let mark = content.lines().next().unwrap_or_default();
    if let Some(t) = root.read(&rel).map_err(|e| e.to_string())?
        && !t.starts_with(mark.as_bytes())
    {
        return Err(format!(
            "{path} is not a file onramp wrote: onramp never replaces it"
        ));
    }
    root.write(&rel, content.as_bytes(), 0o644)
        .map_err(|e| e.to_string())?;
    added(root, &rel)
}

/// Remember a command a network step ran, for the undo script to run again. A daemon started
/// with a proxy in its environment (`env HTTPS_PROXY=... dockerd`) is started again without it.
pub fn record(root: &Root, argv: &[String], log: Option<&str>) -> Result<(), String> {
    let mut j = load(root);
    let mut argv = argv.to_vec();
    if let Some(at) = argv.iter().position(|a| a == "env") {
        let tail: Vec<String> = argv[at + 1..]
            .iter()
            .skip_while(|a| a.contains('='))
            .cloned()
            .collect();
        argv.truncate(at);
        argv.extend(tail);
    }
    let e = Entry::Run {
        argv,
        log: log.map(String::from),
    };
    if !j.entries.contains(&e) {
        j.entries.push(e);
    }
    save(root, &j)
}

/// What a restart sets over the daemon's own environment: `KEY=value` words.
fn with_set(env: &[(String, String)], set: &[String]) -> Vec<(String, String)> {
    let mut out = env.to_vec();
    for kv in set {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        out.retain(|(n, _)| n != k);
        out.push((k.to_string(), v.to_string()));
    }
    out
}

/// One daemon to restart as it was started (`Action::Restart`).
pub struct Restart<'a> {
    pub pid: u32,
    pub argv: &'a [String],
    pub set: &'a [String],
    pub log: &'a str,
    pub ready: &'a [String],
}

/// Stop the daemon `r.pid` (only while it still runs `r.argv`) and start it again detached with
/// its own environment and `r.set` over it. The first time, its argv and environment are
/// journalled so the undo script starts it again as it was. Returns the new pid.
pub async fn restart(host: &Host, root: &Root, r: &Restart<'_>) -> Result<u32, String> {
    let line = crate::install::shell_line(r.argv);
    let running = host
        .sys_read_small(&format!("/proc/{}/cmdline", r.pid), 1 << 16)
        .map(|c| crate::netdiag::podman::parse_cmdline(&c));
    if running.as_deref() != Some(r.argv) {
        return Err(format!(
            "pid {} no longer runs `{line}`: start the daemon again yourself, then run `onramp doctor --fix` again",
            r.pid
        ));
    }
    let env = host
        .sys_read_small(&format!("/proc/{}/environ", r.pid), 1 << 20)
        .map(|e| crate::netdiag::podman::parse_environ(&e))
        .ok_or_else(|| {
            format!(
                "cannot read the environment of pid {} (`{line}`): run onramp as root or as the daemon's user",
                r.pid
            )
        })?;
    let mut j = load(root);
    let known = j
        .entries
        .iter()
        .any(|e| matches!(e, Entry::Daemon { argv, .. } if argv == r.argv));
    if !known {
        j.entries.push(Entry::Daemon {
            argv: r.argv.to_vec(),
            env: env.clone(),
            log: r.log.into(),
            ready: r.ready.to_vec(),
            pid: None,
        });
        save(root, &j)?;
    }
    let out = host
        .run(&Cmd::new("kill", Duration::from_secs(10)).arg(r.pid.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    if out.code != Some(0) {
        return Err(format!("cannot stop pid {}: {}", r.pid, out.stderr.trim()));
    }
    let deadline = host.now() + Duration::from_secs(30);
    while host.process_alive(r.pid) {
        if host.now() > deadline {
            return Err(format!("pid {} (`{line}`) did not exit within 30 s", r.pid));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (program, args) = r.argv.split_first().ok_or("empty command")?;
    let mut cmd = Cmd::new(program, Duration::ZERO).args(args).env_clear();
    for (k, v) in with_set(&env, r.set) {
        cmd = cmd.env(&k, &v);
    }
    let file = root.open_log(r.log).map_err(|e| e.to_string())?;
    let new = host.spawn_detached(&cmd, file).map_err(|e| e.to_string())?;
    for e in &mut j.entries {
        if let Entry::Daemon { argv, pid, .. } = e
            && argv == r.argv
        {
            *pid = Some(new);
        }
    }
    save(root, &j)?;
    Ok(new)
}

/// The undo script's lines for a daemon: stop the one onramp started (while it still runs the
/// same program), then start it as it was, with its own environment, and wait for it.
fn undo_daemon(
    argv: &[String],
    env: &[(String, String)],
    log: &str,
    ready: &[String],
    pid: Option<u32>,
) -> String {
    let q = |s: &str| crate::escape::shell(s);
    let line = crate::install::shell_line(argv);
    let mut out = String::new();
    if let Some(pid) = pid {
        let cmdline: String = argv.iter().map(|a| format!("{a} ")).collect();
        out.push_str(&format!(
            "if [ \"$(tr '\\0' ' ' 2>/dev/null < /proc/{pid}/cmdline)\" = {} ]; then kill {pid}; for i in $(seq 1 300); do [ -d /proc/{pid} ] && ! grep -qs '^State:[[:space:]]*Z' /proc/{pid}/status || break; sleep 0.1; done; fi\n",
            q(&cmdline)
        ));
    }
    let vars: Vec<String> = env.iter().map(|(k, v)| q(&format!("{k}={v}"))).collect();
    let start = format!(
        "nohup env -i {} {line} >> {} 2>&1 < /dev/null &",
        vars.join(" "),
        q(log)
    );
    if ready.is_empty() {
        out.push_str(&format!("{start}\n"));
        return out;
    }
    // Started only when nothing answers (a second run of the script starts no second one).
    let ready = crate::install::shell_line(ready);
    out.push_str(&format!(
        "if ! {ready} >/dev/null 2>&1; then\n  {start}\n  for i in $(seq 1 600); do {ready} >/dev/null 2>&1 && break; sleep 0.1; done\nfi\n"
    ));
    out
}

/// The script's start: into the project (named, so a link to the script elsewhere changes
/// nothing), and how a file's digest is read (coreutils, or macOS's shasum).
fn undo_head(dir: &Path) -> String {
    format!(
        "#!/bin/sh\n# Puts back what `onramp doctor --fix` changed for the network (written by onramp).\nset -e\ncd {}\nonramp_sum() {{ if command -v sha256sum >/dev/null 2>&1; then sha256sum < \"$1\"; else shasum -a 256 < \"$1\"; fi | cut -d ' ' -f 1; }}\nkept=0\n",
        crate::escape::shell(&dir.display().to_string())
    )
}

/// Put one file back: only while it holds what onramp last wrote (when that is known); a file
/// changed since is left, and the script says which, why, and where the original is.
fn undo_file(
    dir: &Path,
    path: &str,
    backup: Option<&str>,
    made: &[String],
    sha: Option<&str>,
) -> String {
    let q = |s: &str| crate::escape::shell(s);
    let mut put = match backup {
        Some(b) => format!("cat {} > {}\n", q(b), q(path)),
        None => format!("rm -f {}\n", q(path)),
    };
    if backup.is_none() {
        for d in made {
            put.push_str(&format!("rmdir {} 2>/dev/null || true\n", q(d)));
        }
    }
    let Some(sha) = sha else {
        return put;
    };
    let shown = match Path::new(path).is_absolute() {
        true => path.to_string(),
        false => dir.join(path).display().to_string(),
    };
    let by_hand = match backup {
        Some(b) => format!("what was there before is {}", dir.join(b).display()),
        None => "onramp created it: remove it yourself once you no longer need it".into(),
    };
    let say = format!(
        "onramp: {shown} was changed after onramp wrote it, so it is left as it is; {by_hand}"
    );
    format!(
        "if [ ! -e {p} ] || [ \"$(onramp_sum {p} 2>/dev/null)\" = {sha} ]; then\n{}else\n  printf '%s\\n' {} >&2\n  kept=1\nfi\n",
        put.lines().map(|l| format!("  {l}\n")).collect::<String>(),
        q(&say),
        p = q(path),
    )
}

fn undo_script(j: &Journal, dir: &Path) -> String {
    let q = |s: &str| crate::escape::shell(s);
    let mut out = undo_head(dir);
    for e in j.entries.iter().rev() {
        if let Entry::File {
            path,
            backup,
            made,
            sha256,
        } = e
        {
            out.push_str(&undo_file(
                dir,
                path,
                backup.as_deref(),
                made,
                sha256.as_deref(),
            ));
        }
    }
    for e in &j.entries {
        match e {
            Entry::Run { argv, log } => {
                let line = crate::install::shell_line(argv);
                match log {
                    Some(l) => out.push_str(&format!(
                        "nohup {line} >> {} 2>&1 < /dev/null &\nfor i in $(seq 1 600); do docker info >/dev/null 2>&1 && break; sleep 0.1; done\n",
                        q(l)
                    )),
                    None => out.push_str(&format!("{line}\n")),
                }
            }
            Entry::Daemon {
                argv,
                env,
                log,
                ready,
                pid,
            } => out.push_str(&undo_daemon(argv, env, log, ready, *pid)),
            Entry::File { .. } => {}
        }
    }
    // Done: the journal and this script go (running it again would undo nothing), and the
    // staged copies once every file is back; a file left is an error the user must see.
    out.push_str(&format!(
        "rm -f {} {}\nif [ \"$kept\" = 0 ]; then rm -rf {}; else exit 1; fi\n",
        q(JOURNAL),
        q(super::net::UNDO),
        q(STAGE)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_undo_script_restores_in_reverse_then_runs_the_commands_again() {
        let j = Journal {
            entries: vec![
                Entry::File {
                    path: "/etc/docker/daemon.json".into(),
                    backup: Some(".onramp/net/backup/etc__docker__daemon.json".into()),
                    made: vec![],
                    sha256: None,
                },
                Entry::File {
                    path: "/etc/docker/certs.d/r:5000/onramp-company-root.crt".into(),
                    backup: None,
                    made: vec!["/etc/docker/certs.d/r:5000".into()],
                    sha256: None,
                },
                Entry::Run {
                    argv: vec!["update-ca-certificates".into()],
                    log: None,
                },
                Entry::Run {
                    argv: vec!["dockerd".into()],
                    log: Some(".onramp/logs/dockerd.log".into()),
                },
            ],
        };
        let s = undo_script(&j, Path::new("/p"));
        let rm = s.find("rm -f /etc/docker/certs.d/r:5000/").unwrap();
        let cat = s
            .find("cat .onramp/net/backup/etc__docker__daemon.json > /etc/docker/daemon.json")
            .unwrap();
        let update = s.find("\nupdate-ca-certificates\n").unwrap();
        assert!(rm < cat && cat < update, "{s}");
        assert!(s.contains("rmdir /etc/docker/certs.d/r:5000"), "{s}");
        assert!(
            s.contains("nohup dockerd >> .onramp/logs/dockerd.log"),
            "{s}"
        );
    }

    #[test]
    fn a_restarted_daemon_is_started_again_by_the_undo_with_its_own_environment() {
        let j = Journal {
            entries: vec![Entry::Daemon {
                argv: ["podman", "system", "service", "--time=0"]
                    .map(String::from)
                    .to_vec(),
                env: vec![
                    ("PATH".into(), "/usr/bin:/bin".into()),
                    ("HTTPS_PROXY".into(), "http://a:it's@p:1".into()),
                ],
                log: ".onramp/logs/podman-service.log".into(),
                ready: vec!["true".into()],
                pid: Some(99),
            }],
        };
        let s = undo_script(&j, Path::new("/p"));
        assert!(
            s.contains("= 'podman system service --time=0 ' ]; then kill 99;"),
            "{s}"
        );
        assert!(
            s.contains("nohup env -i PATH=/usr/bin:/bin 'HTTPS_PROXY=http://a:it'\\''s@p:1' podman system service --time=0 >> .onramp/logs/podman-service.log"),
            "{s}"
        );
        assert!(
            s.contains("if ! true >/dev/null 2>&1; then\n  nohup env -i"),
            "{s}"
        );
        assert!(
            s.ends_with("rm -f .onramp/net/journal.json .onramp/net/undo.sh\nif [ \"$kept\" = 0 ]; then rm -rf .onramp/net/stage; else exit 1; fi\n"),
            "{s}"
        );
    }

    /// Real files and a real `sh`: a file onramp wrote (and rewrote) is removed; one the user
    /// changed since is left, named with the reason, and the script fails; run through a link
    /// from another directory, it works in the project it was written for.
    #[cfg(unix)]
    #[test]
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    fn the_undo_leaves_a_file_the_user_changed_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("a 'p' $(touch PWNED)");
        std::fs::create_dir(&project).unwrap();
        let root = Root::new(&project);
        root.write(".venv/pip.conf", b"[global]\ncert = x\n", 0o644)
            .unwrap();
        added(&root, ".venv/pip.conf").unwrap();
        root.write("kept.txt", b"one\n", 0o644).unwrap();
        added(&root, "kept.txt").unwrap();
        // Rewritten by onramp: the digest follows.
        root.write("kept.txt", b"two\n", 0o644).unwrap();
        added(&root, "kept.txt").unwrap();
        root.write(".onramp/net/stage/x", b"s", 0o600).unwrap();
        root.write(
            ".venv/pip.conf",
            b"[global]\ncert = x\n[install]\nno-cache-dir = true\n",
            0o644,
        )
        .unwrap();
        let link = dir.path().join("undo-net");
        std::os::unix::fs::symlink(project.join(super::super::net::UNDO), &link).unwrap();
        let out = std::process::Command::new("sh")
            .arg(&link)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{said}");
        assert!(
            said.contains(&format!(
                "{} was changed after onramp wrote it, so it is left as it is; onramp created it",
                project.join(".venv/pip.conf").display()
            )),
            "{said}"
        );
        assert!(project.join(".venv/pip.conf").exists());
        assert!(!project.join("kept.txt").exists(), "{said}");
        assert!(
            project.join(".onramp/net/stage/x").exists(),
            "kept while a file is left"
        );
        assert!(!project.join(super::super::net::UNDO).exists());
        assert!(!dir.path().join("PWNED").exists() && !project.join("PWNED").exists());

        // Nothing changed by the user: every file goes, and the staged copies with them.
        root.write("again.txt", b"a\n", 0o644).unwrap();
        added(&root, "again.txt").unwrap();
        root.write(".onramp/net/stage/x", b"s", 0o600).unwrap();
        let out = std::process::Command::new("sh")
            .arg(project.join(super::super::net::UNDO))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(!project.join("again.txt").exists());
        assert!(!project.join(".onramp/net/stage").exists());
    }

    /// A real process (`sleep`) with its own environment: restarted with that environment and
    /// the proxy set over it; the undo script starts it again as it was, stopping onramp's.
    #[cfg(target_os = "linux")]
    #[test]
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    fn restart_keeps_the_daemons_environment_and_the_undo_brings_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        let argv: Vec<String> = ["sleep", "301"].map(String::from).to_vec();
        let mut child = std::process::Command::new("sleep")
            .arg("301")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("OWN", "kept")
            .env("HTTPS_PROXY", "http://old:1")
            .spawn()
            .unwrap();
        let host = Host::from_process();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let set = vec!["HTTPS_PROXY=http://new:2".to_string()];
        let r = Restart {
            pid: child.id(),
            argv: &argv,
            set: &set,
            log: ".onramp/logs/sleep.log",
            ready: &[],
        };
        let new = rt.block_on(restart(&host, &root, &r)).unwrap();
        let _ = child.wait();
        let environ = |pid: u32| {
            let raw = std::fs::read_to_string(format!("/proc/{pid}/environ")).unwrap_or_default();
            crate::netdiag::podman::parse_environ(&raw)
        };
        let e = environ(new);
        assert!(e.contains(&("OWN".into(), "kept".into())), "{e:?}");
        assert!(
            e.contains(&("HTTPS_PROXY".into(), "http://new:2".into())),
            "{e:?}"
        );
        assert!(
            !e.iter().any(|(k, _)| k == "HOME"),
            "onramp's own environment leaked: {e:?}"
        );
        let undo = dir.path().join(super::super::net::UNDO);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&undo).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let out = std::process::Command::new("sh")
            .arg(&undo)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(!host.process_alive(new), "onramp's restart is stopped");
        // The undo starts it in the background: on a busy machine it may not have reached
        // `exec sleep` yet when the script returns.
        let find = || {
            std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter_map(|d| d.file_name().to_str()?.parse::<u32>().ok())
                .find(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| c == "sleep\x00301\x00")
                        && environ(*pid).contains(&("HTTPS_PROXY".into(), "http://old:1".into()))
                })
        };
        let back = (0..100).find_map(|_| {
            find().or_else(|| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                None
            })
        });
        let pid = back.expect("the undo started it again with its own environment");
        assert!(environ(pid).contains(&("OWN".into(), "kept".into())));
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
}
