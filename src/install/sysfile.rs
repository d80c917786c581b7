//! System files the network steps write, and how to put them back. Before a file is first
//! written, what was there is kept under `.onramp/net/backup/` (or that there was nothing, and
//! which directories were made); the commands the steps ran are recorded too. `.onramp/net/undo.sh`
//! is written from that journal after every change: it restores each file byte for byte (into
//! the same inode, so its mode and owner stay), removes what was new, then runs the recorded
//! commands again (the trust store rebuilt, the engine restarted).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fsx::Root;
use crate::host::{Cmd, Host};

const JOURNAL: &str = ".onramp/net/journal.json";

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
    },
    Run {
        argv: Vec<String>,
        /// Started detached with its output into this log (relative to the project).
        log: Option<String>,
    },
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
    root.write(super::net::UNDO, undo_script(j).as_bytes(), 0o700)
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
            }
        };
        j.entries.push(entry);
        save(root, &j)?;
    }
    let staged = format!(".onramp/net/stage/{}", flat(path));
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
    Ok(argv)
}

/// Remember a file a step added inside the project (`rel`), for the undo script to remove.
pub fn added(root: &Root, rel: &str) -> Result<(), String> {
    let mut j = load(root);
    let e = Entry::File {
        path: rel.into(),
        backup: None,
        made: Vec::new(),
    };
    if !j.entries.contains(&e) {
        j.entries.push(e);
        save(root, &j)?;
    }
    Ok(())
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

fn undo_script(j: &Journal) -> String {
    let q = |s: &str| crate::escape::shell(s);
    let mut out = String::from(
        "#!/bin/sh\n# Puts back what `onramp doctor --fix` changed for the network (written by onramp).\nset -e\ncd \"$(dirname \"$0\")/../..\"\n",
    );
    for e in j.entries.iter().rev() {
        if let Entry::File { path, backup, made } = e {
            match backup {
                Some(b) => out.push_str(&format!("cat {} > {}\n", q(b), q(path))),
                None => {
                    out.push_str(&format!("rm -f {}\n", q(path)));
                    for d in made {
                        out.push_str(&format!("rmdir {} 2>/dev/null || true\n", q(d)));
                    }
                }
            }
        }
    }
    for e in &j.entries {
        if let Entry::Run { argv, log } = e {
            let line = crate::install::shell_line(argv);
            match log {
                Some(l) => out.push_str(&format!(
                    "nohup {line} >> {} 2>&1 < /dev/null &\nfor i in $(seq 1 600); do docker info >/dev/null 2>&1 && break; sleep 0.1; done\n",
                    q(l)
                )),
                None => out.push_str(&format!("{line}\n")),
            }
        }
    }
    out.push_str(&format!("rm -f {}\n", q(JOURNAL)));
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
                },
                Entry::File {
                    path: "/etc/docker/certs.d/r:5000/onramp-company-root.crt".into(),
                    backup: None,
                    made: vec!["/etc/docker/certs.d/r:5000".into()],
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
        let s = undo_script(&j);
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
}
