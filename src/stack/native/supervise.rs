//! Supervised server processes: each started detached in its own process group with its
//! output in `.onramp/logs/<service>.log`, its pid and start time in `.onramp/run/<service>.pid`
//! (a pid that another process reuses later is not ours), stopped with its image's stop signal,
//! then SIGKILL.

use std::io::Write;
use std::time::Duration;

use crate::errors::{Error, Result};
use crate::fsx::Root;
use crate::host::{Cmd, Host, Signal};

/// How long a server has to stop before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub fn pid_file(service: &str) -> String {
    format!("{}/run/{service}.pid", crate::project::STATE_DIR)
}

pub fn log_file(service: &str) -> String {
    format!("{}/logs/{service}.log", crate::project::STATE_DIR)
}

/// What a pid file says: the process id, its start time where the OS reports it, and the
/// hash of the command line it was started with (a changed one is started again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub pid: u32,
    pub start: Option<u64>,
    pub config: Option<String>,
}

/// `"PID START CONFIG\n"` (START is `-` where the OS does not report it).
pub fn parse(text: &str) -> Option<Recorded> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let start = match words.next() {
        Some("-") | None => None,
        Some(s) => Some(s.parse().ok()?),
    };
    let config = words.next().map(String::from);
    Some(Recorded { pid, start, config })
}

pub fn render(r: &Recorded) -> String {
    let start = r.start.map_or("-".to_string(), |s| s.to_string());
    match &r.config {
        Some(c) => format!("{} {start} {c}\n", r.pid),
        None => format!("{} {start}\n", r.pid),
    }
}

/// The hash of what a server is started with (program, arguments, environment, user), so a
/// changed profile restarts it.
pub fn config_of(cmd: &Cmd) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(cmd.program.display().to_string().as_bytes());
    for a in &cmd.args {
        h.update(b"\0");
        h.update(a.to_string_lossy().as_bytes());
    }
    for (k, v) in &cmd.env {
        h.update(format!("\0{k}={v}").as_bytes());
    }
    h.update(format!("\0{:?}", cmd.user).as_bytes());
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether the recorded process is the one running now: alive, and started when it was
/// recorded to have started.
pub fn is_ours(host: &Host, r: &Recorded) -> bool {
    match (r.start, host.process_start(r.pid)) {
        (Some(want), Some(now)) => want == now,
        (Some(_), None) => false,
        (None, _) => host.process_alive(r.pid),
    }
}

/// The service's recorded process, and whether it still runs.
pub fn recorded(root: &Root, service: &str) -> Option<Recorded> {
    root.read_text(&pid_file(service))
        .ok()
        .flatten()
        .and_then(|t| parse(&t))
}

/// The running process of a service, if it runs.
pub fn running(host: &Host, root: &Root, service: &str) -> Option<Recorded> {
    recorded(root, service).filter(|r| is_ours(host, r))
}

/// Start a server detached, its output appended to its log after a header line, and record it.
pub fn launch(host: &Host, root: &Root, service: &str, cmd: &Cmd) -> Result<Recorded> {
    let log = log_file(service);
    let mut file = root.open_log(&log)?;
    let _ = writeln!(
        file,
        "--- onramp started {} at unix time {}",
        cmd.program.display(),
        host.unix_time()
    );
    let pid = host
        .spawn_detached(cmd, file)
        .map_err(|e| Error::NotReady {
            message: format!("{service}: {e}"),
            help: format!(
                "`onramp down --backend native {service}` then `onramp up` again reinstalls nothing; `onramp reset {service}` starts it afresh"
            ),
        })?;
    let r = Recorded {
        pid,
        start: host.process_start(pid),
        config: Some(config_of(cmd)),
    };
    root.write(&pid_file(service), render(&r).as_bytes(), 0o644)?;
    Ok(r)
}

/// Stop the service's process (if it is ours and runs) and forget it; true when one was
/// stopped.
pub async fn stop(host: &Host, root: &Root, service: &str, signal: Signal) -> Result<bool> {
    let Some(r) = recorded(root, service) else {
        return Ok(false);
    };
    let mut stopped = false;
    if is_ours(host, &r) {
        host.signal_group(r.pid, signal);
        let since = host.now();
        while is_ours(host, &r) && since.elapsed() < STOP_GRACE {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if is_ours(host, &r) {
            host.signal_group(r.pid, Signal::Kill);
            let since = host.now();
            while is_ours(host, &r) && since.elapsed() < Duration::from_secs(2) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        stopped = true;
    }
    root.remove(&pid_file(service))?;
    Ok(stopped)
}

/// The last `lines` lines of a service's log (for a crash).
pub fn log_tail(root: &Root, service: &str, lines: usize) -> Option<String> {
    let text = root.read_text(&log_file(service)).ok().flatten()?;
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    Some(all[from..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_hash_changes_with_the_command_line_only() {
        let a = Cmd::new("/v/valkey-server", Duration::ZERO).args(["--port", "1"]);
        let b = Cmd::new("/v/valkey-server", Duration::ZERO).args(["--port", "1"]);
        assert_eq!(config_of(&a), config_of(&b));
        assert_ne!(config_of(&a), config_of(&b.clone().arg("--appendonly")));
        assert_ne!(config_of(&a), config_of(&a.clone().env("K", "v")));
        assert_ne!(config_of(&a), config_of(&a.clone().user(Some((1, 1)))));
    }

    #[test]
    fn pid_files_round_trip_and_bad_ones_are_ignored() {
        let r = Recorded {
            pid: 42,
            start: Some(123456),
            config: Some("0a1b".into()),
        };
        assert_eq!(parse(&render(&r)), Some(r.clone()));
        let bare = Recorded {
            pid: 7,
            start: None,
            config: None,
        };
        assert_eq!(render(&bare), "7 -\n");
        assert_eq!(parse("7 -\n"), Some(bare.clone()));
        assert_eq!(parse("7"), Some(bare));
        assert_eq!(parse(""), None);
        assert_eq!(parse("x 1"), None);
        assert_eq!(parse("7 soon"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_reused_pid_is_not_ours() {
        let host = Host::from_process();
        let me = std::process::id();
        let start = host.process_start(me);
        assert!(start.is_some(), "this process runs and reports its start");
        let mine = Recorded {
            pid: me,
            start,
            config: None,
        };
        assert!(is_ours(&host, &mine));
        let other = Recorded {
            start: start.map(|s| s + 1),
            ..mine.clone()
        };
        assert!(!is_ours(&host, &other), "same pid, another start: not ours");
        let gone = Recorded {
            pid: u32::MAX - 1,
            start: Some(1),
            config: None,
        };
        assert!(!is_ours(&host, &gone));
    }
}
