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

/// What a pid file says: the process id and, where the OS reports it, its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub pid: u32,
    pub start: Option<u64>,
}

/// `"PID START\n"` (START is `-` where the OS does not report it).
pub fn parse(text: &str) -> Option<Recorded> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let start = match words.next() {
        Some("-") | None => None,
        Some(s) => Some(s.parse().ok()?),
    };
    Some(Recorded { pid, start })
}

pub fn render(r: &Recorded) -> String {
    match r.start {
        Some(s) => format!("{} {s}\n", r.pid),
        None => format!("{} -\n", r.pid),
    }
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
    fn pid_files_round_trip_and_bad_ones_are_ignored() {
        let r = Recorded {
            pid: 42,
            start: Some(123456),
        };
        assert_eq!(parse(&render(&r)), Some(r));
        let bare = Recorded {
            pid: 7,
            start: None,
        };
        assert_eq!(render(&bare), "7 -\n");
        assert_eq!(parse("7 -\n"), Some(bare));
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
        assert!(is_ours(&host, &Recorded { pid: me, start }));
        let other = Recorded {
            pid: me,
            start: start.map(|s| s + 1),
        };
        assert!(!is_ours(&host, &other), "same pid, another start: not ours");
        let gone = Recorded {
            pid: u32::MAX - 1,
            start: Some(1),
        };
        assert!(!is_ours(&host, &gone));
    }
}
