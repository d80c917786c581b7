//! All access to the host: environment, system files (under `ONRAMP_SYSROOT`), processes, clock.
//!
//! Platform-specific code (`cfg(unix)`, `cfg(windows)`) lives here and nowhere else, so the logic
//! that consumes these facts is pure and tested on recorded inputs. With `fsx`, the only module
//! that may touch `std::fs`, `std::process` and the clocks (clippy.toml enforces it).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

/// The monotonic clock (for durations and deadlines): the one place it is read.
pub fn now() -> Instant {
    Instant::now()
}

/// The wall clock: the one place it is read.
pub fn system_now() -> SystemTime {
    SystemTime::now()
}

#[cfg(windows)]
mod win;

/// The operating system onramp was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    Windows,
    Macos,
    Other,
}

impl Os {
    pub fn current() -> Os {
        match std::env::consts::OS {
            "linux" => Os::Linux,
            "windows" => Os::Windows,
            "macos" => Os::Macos,
            _ => Os::Other,
        }
    }
}

/// The one injected value through which onramp touches the machine.
#[derive(Debug, Clone)]
pub struct Host {
    sysroot: PathBuf,
    env: BTreeMap<String, String>,
    os: Os,
}

/// One listening TCP socket as Windows reports it (`GetExtendedTcpTable`): the state, the local
/// port in network byte order in the low 16 bits, and the owning process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRow {
    pub state: u32,
    pub local_port: u32,
    pub pid: u32,
}

/// How a process ended, in words: `exit 1`, or `killed by a signal`.
pub fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit {c}"),
        None => "killed by a signal".into(),
    }
}

/// What a finished child process left behind.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Why a child process gave no output.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} did not finish within {secs:.1} s (killed)")]
    Timeout { program: String, secs: f64 },
}

/// A command to run through [`Host::run`].
#[derive(Debug, Clone)]
pub struct Cmd {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// Bytes written to the child's standard input (then closed); none means /dev/null.
    pub stdin: Option<Vec<u8>>,
    /// Run as this (uid, gid) instead of onramp's own user (Unix, when onramp is root).
    pub user: Option<(u32, u32)>,
    /// Start from an empty environment (only `env`), not onramp's.
    pub clear_env: bool,
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>, timeout: Duration) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            timeout,
            stdin: None,
            user: None,
            clear_env: false,
        }
    }

    /// Give the program only the variables set with `env`.
    pub fn env_clear(mut self) -> Cmd {
        self.clear_env = true;
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn user(mut self, user: Option<(u32, u32)>) -> Cmd {
        self.user = user;
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, A>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Cmd {
        self.env.push((key.into(), value.into()));
        self
    }
}

impl Host {
    /// The real machine: process environment, `ONRAMP_SYSROOT` or `/`.
    pub fn from_process() -> Host {
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let sysroot = env
            .get("ONRAMP_SYSROOT")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        Host {
            sysroot,
            env,
            os: Os::current(),
        }
    }

    /// A host with a given environment and system root, for tests.
    pub fn with(sysroot: impl Into<PathBuf>, env: &[(&str, &str)], os: Os) -> Host {
        Host {
            sysroot: sysroot.into(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            os,
        }
    }

    pub fn os(&self) -> Os {
        self.os
    }

    /// An environment variable, treating empty as unset.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.env
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether system files are read from somewhere other than `/`.
    pub fn sysroot_overridden(&self) -> bool {
        self.sysroot != Path::new("/")
    }

    /// Map an absolute system path (`/proc/...`) under the system root.
    pub fn sys_path(&self, abs: &str) -> PathBuf {
        self.sysroot.join(abs.trim_start_matches('/'))
    }

    /// Read a system file as text; `None` when it is missing or unreadable.
    pub fn sys_read(&self, abs: &str) -> Option<String> {
        let bytes = crate::fsx::read_regular(&self.sys_path(abs), crate::fsx::SYSTEM_CAP).ok()?;
        String::from_utf8(bytes).ok()
    }

    pub fn sys_exists(&self, abs: &str) -> bool {
        self.sys_path(abs).exists()
    }

    /// Names in a system directory (empty when it cannot be read).
    pub fn sys_list(&self, abs: &str) -> Vec<String> {
        std::fs::read_dir(self.sys_path(abs))
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Target of a symbolic link under the system root.
    pub fn sys_read_link(&self, abs: &str) -> Option<String> {
        std::fs::read_link(self.sys_path(abs))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }

    /// The user's home directory.
    pub fn home(&self) -> Option<PathBuf> {
        let var = if self.os == Os::Windows {
            "USERPROFILE"
        } else {
            "HOME"
        };
        self.env(var)
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()))
    }

    /// Find a program on this host's `PATH`.
    pub fn which(&self, name: &str) -> Option<PathBuf> {
        let path = self.env("PATH")?;
        let cwd = std::env::current_dir().ok()?;
        which::which_in(name, Some(path), cwd).ok()
    }

    /// The effective user id (`None` where there is no such thing).
    pub fn euid(&self) -> Option<u32> {
        euid()
    }

    /// The owner (uid) of a path on the real file system.
    pub fn owner_of(&self, path: &Path) -> Option<u32> {
        owner_of(path)
    }

    /// Read a system file as text only when it is a regular file of at most `max` bytes.
    pub fn sys_read_small(&self, abs: &str, max: u64) -> Option<String> {
        let path = self.sys_path(abs);
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > max {
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The volume holding `path` (its root) and the bytes free there, from the OS where it
    /// answers for a path (Windows); `None` elsewhere (the caller lists mounted volumes).
    pub fn volume_free(&self, path: &Path) -> Option<(PathBuf, u64)> {
        volume_free(path)
    }

    /// Listening TCP sockets with their owners, where the OS reports them as a table (Windows);
    /// empty elsewhere (Linux reads `/proc`).
    pub fn tcp_listeners(&self) -> Vec<TcpRow> {
        tcp_listeners()
    }

    /// Windows' product name and build number (`Windows 10 Pro`, `19045`), on Windows.
    pub fn windows_version(&self) -> Option<(String, String)> {
        windows_version()
    }

    /// The name of a running process, where the OS reports it by id (Windows).
    pub fn process_name(&self, pid: u32) -> Option<String> {
        process_name(pid)
    }

    pub fn now(&self) -> Instant {
        now()
    }

    /// Seconds since the Unix epoch by the system clock (for names and archive times).
    pub fn unix_time(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// Run a program to completion: the one place processes are spawned. A child that outlives
    /// its timeout is killed with its whole process group.
    pub async fn run(&self, cmd: &Cmd) -> Result<Output, RunError> {
        let program = cmd.program.display().to_string();
        let mut command = tokio::process::Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .stdin(match cmd.stdin {
                Some(_) => Stdio::piped(),
                None => Stdio::null(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        if let Some((uid, gid)) = cmd.user {
            command.uid(uid).gid(gid);
        }
        if let Some(dir) = &cmd.cwd {
            command.current_dir(dir);
        }
        if cmd.clear_env {
            command.env_clear();
        }
        for (k, v) in &cmd.env {
            command.env(k, v);
        }
        new_process_group(&mut command);
        let mut child = command.spawn().map_err(|source| RunError::Spawn {
            program: program.clone(),
            source,
        })?;
        let pid = child.id();
        if let (Some(bytes), Some(mut input)) = (&cmd.stdin, child.stdin.take()) {
            use tokio::io::AsyncWriteExt;
            // A child that exits without reading its input is judged by its exit code.
            let _ = input.write_all(bytes).await;
        }
        match tokio::time::timeout(cmd.timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => Ok(Output {
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }),
            Ok(Err(source)) => Err(RunError::Spawn { program, source }),
            Err(_) => {
                kill_process_group(pid);
                Err(RunError::Timeout {
                    program,
                    secs: cmd.timeout.as_secs_f64(),
                })
            }
        }
    }

    /// Start a daemon and leave it running: its own process group (a Ctrl-C to onramp does
    /// not reach it), stdin closed, stdout and stderr into `output` (a file the caller opened
    /// safely). The one spawn without a timeout, because outliving onramp is its purpose;
    /// returns its process id.
    pub fn spawn_detached(&self, cmd: &Cmd, output: std::fs::File) -> Result<u32, RunError> {
        let program = cmd.program.display().to_string();
        let spawn_err = |source| RunError::Spawn {
            program: program.clone(),
            source,
        };
        let err_out = output.try_clone().map_err(spawn_err)?;
        let mut command = std::process::Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(output))
            .stderr(Stdio::from(err_out));
        if let Some(dir) = &cmd.cwd {
            command.current_dir(dir);
        }
        if cmd.clear_env {
            command.env_clear();
        }
        for (k, v) in &cmd.env {
            command.env(k, v);
        }
        detach_group(&mut command);
        #[cfg(unix)]
        if let Some((uid, gid)) = cmd.user {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        command.spawn().map(|child| child.id()).map_err(spawn_err)
    }

    /// When a running process started, in clock ticks since boot (Linux: field 22 of
    /// `/proc/PID/stat`), so a pid reused by another process is told apart; `None` when no
    /// such process runs (a zombie counts as gone) or the OS does not say.
    pub fn process_start(&self, pid: u32) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        proc_stat_start(&stat)
    }

    /// Whether a process with this id exists (and is not a zombie, where the OS says).
    pub fn process_alive(&self, pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => proc_stat_start(&stat).is_some(),
            Err(_) => signal_alive(pid),
        }
    }

    /// Send a signal to a whole process group; false when there is no such group (or no
    /// process groups, on Windows).
    pub fn signal_group(&self, pgid: u32, signal: Signal) -> bool {
        signal_group(pgid, signal)
    }
}

/// The signals onramp sends to the servers it supervises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Stop (most servers).
    Term,
    /// Stop now, closing sessions (PostgreSQL's fast shutdown, its image's stop signal).
    Int,
    /// The last resort.
    Kill,
}

/// The start time in a `/proc/PID/stat` line, unless the process is a zombie (`Z`) or dead
/// (`X`). The command name in parentheses may hold spaces and parentheses: fields count from
/// the last `)`.
pub fn proc_stat_start(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is the state (field 3); the start time is field 22.
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

#[cfg(unix)]
fn signal_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[cfg(not(unix))]
fn signal_alive(_pid: u32) -> bool {
    false
}

#[cfg(unix)]
fn signal_group(pgid: u32, signal: Signal) -> bool {
    let Ok(pgid) = i32::try_from(pgid) else {
        return false;
    };
    if pgid <= 1 {
        return false;
    }
    let sig = match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Int => libc::SIGINT,
        Signal::Kill => libc::SIGKILL,
    };
    // SAFETY: killpg only sends a signal to the group named.
    unsafe { libc::killpg(pgid, sig) == 0 }
}

#[cfg(not(unix))]
fn signal_group(_pgid: u32, _signal: Signal) -> bool {
    false
}

/// A path without Windows' verbatim prefix: `\\?\C:\p` is `C:\p` and `\\?\UNC\srv\share` is
/// `\\srv\share` (what `canonicalize` returns on Windows, and what no mount point starts with).
pub fn plain_path(path: &Path) -> PathBuf {
    let Some(s) = path.to_str() else {
        return path.to_path_buf();
    };
    if let Some(rest) = s.strip_prefix(r"\\?\UNC\") {
        return PathBuf::from(format!(r"\\{rest}"));
    }
    match s.strip_prefix(r"\\?\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => PathBuf::from(rest),
        _ => path.to_path_buf(),
    }
}

/// Whether a named pipe (`\\.\pipe\NAME`) exists; never on systems without named pipes.
pub fn pipe_exists(name: &str) -> bool {
    #[cfg(windows)]
    return win::pipe_exists(name);
    #[cfg(not(windows))]
    {
        let _ = name;
        false
    }
}

#[cfg(windows)]
fn volume_free(path: &Path) -> Option<(PathBuf, u64)> {
    win::volume_free(path)
}

#[cfg(not(windows))]
fn volume_free(_path: &Path) -> Option<(PathBuf, u64)> {
    None
}

#[cfg(windows)]
fn tcp_listeners() -> Vec<TcpRow> {
    win::tcp_listeners()
}

#[cfg(not(windows))]
fn tcp_listeners() -> Vec<TcpRow> {
    Vec::new()
}

#[cfg(windows)]
fn windows_version() -> Option<(String, String)> {
    win::windows_version()
}

#[cfg(not(windows))]
fn windows_version() -> Option<(String, String)> {
    None
}

#[cfg(windows)]
fn process_name(pid: u32) -> Option<String> {
    win::process_name(pid)
}

#[cfg(not(windows))]
fn process_name(_pid: u32) -> Option<String> {
    None
}

#[cfg(unix)]
fn detach_group(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    // SAFETY: the hook runs in the child between fork and exec and calls only getrlimit and
    // fcntl, which are async-signal-safe; it touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            close_inherited_on_exec();
            Ok(())
        });
    }
}

/// Mark every descriptor above stderr close-on-exec in a daemon about to start: it must not
/// keep what onramp inherited (a lock held by `flock` for onramp's caller stays held for as
/// long as the daemon runs otherwise). The spawner's own pipes are close-on-exec already.
#[cfg(unix)]
fn close_inherited_on_exec() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur.min(65_536) as libc::c_int
    } else {
        1024
    };
    for fd in 3..max {
        // SAFETY: F_SETFD on a descriptor that may not be open only fails with EBADF.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

#[cfg(not(unix))]
fn detach_group(_command: &mut std::process::Command) {}

#[cfg(unix)]
fn euid() -> Option<u32> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    Some(unsafe { libc::geteuid() })
}

#[cfg(not(unix))]
fn euid() -> Option<u32> {
    None
}

#[cfg(unix)]
fn owner_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.uid())
}

#[cfg(not(unix))]
fn owner_of(_path: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn new_process_group(command: &mut tokio::process::Command) {
    command.process_group(0);
}

#[cfg(not(unix))]
fn new_process_group(_command: &mut tokio::process::Command) {}

#[cfg(unix)]
fn kill_process_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: killpg only sends a signal; the group was created for this child alone.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_process_group(_pid: Option<u32>) {
    // On Windows the child is killed on drop (kill_on_drop); it has no process group here.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_read_past_the_command_name_and_zombies_are_gone() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(proc_stat_start(line), Some(987654));
        let zombie = line.replace(") S 1", ") Z 1");
        assert_eq!(proc_stat_start(&zombie), None);
        assert_eq!(proc_stat_start("garbage"), None);
    }

    #[test]
    fn system_paths_are_read_under_the_sysroot() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/sys/kernel")).unwrap();
        std::fs::write(dir.path().join("proc/sys/kernel/osrelease"), "5.15.0\n").unwrap();
        let host = Host::with(dir.path(), &[], Os::Linux);
        assert_eq!(
            host.sys_read("/proc/sys/kernel/osrelease").as_deref(),
            Some("5.15.0\n")
        );
        assert!(host.sys_read("/etc/os-release").is_none());
        assert!(host.sysroot_overridden());
    }

    #[test]
    fn verbatim_prefixes_are_dropped() {
        assert_eq!(
            plain_path(Path::new(r"\\?\Z:\tmp\p")),
            Path::new(r"Z:\tmp\p")
        );
        assert_eq!(
            plain_path(Path::new(r"\\?\UNC\srv\share\p")),
            Path::new(r"\\srv\share\p")
        );
        // A volume GUID path has no drive letter to fall back to: kept as it is.
        let guid = r"\\?\Volume{0b1c}\p";
        assert_eq!(plain_path(Path::new(guid)), Path::new(guid));
        assert_eq!(plain_path(Path::new("/tmp/p")), Path::new("/tmp/p"));
    }

    #[test]
    fn empty_environment_values_count_as_unset() {
        let host = Host::with("/", &[("A", ""), ("B", "x")], Os::Linux);
        assert_eq!(host.env("A"), None);
        assert_eq!(host.env("B"), Some("x"));
    }

    /// A daemon started under `flock` kept the lock for as long as it ran: descriptors onramp
    /// inherited must not reach it.
    #[cfg(unix)]
    #[test]
    fn a_detached_daemon_inherits_no_descriptor_but_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let held = std::fs::File::create(dir.path().join("lock")).unwrap();
        // A descriptor without close-on-exec, as flock(1) hands its command.
        let fd = {
            use std::os::fd::AsRawFd;
            // SAFETY: dup2 onto a free high number; the descriptor is closed below.
            unsafe { libc::dup2(held.as_raw_fd(), 213) }
        };
        assert_eq!(fd, 213);
        let out = dir.path().join("fds");
        let cmd = Cmd::new("/bin/sh", Duration::ZERO)
            .arg("-c")
            .arg("ls /proc/$$/fd; echo done");
        let file = std::fs::File::create(&out).unwrap();
        let host = Host::from_process();
        host.spawn_detached(&cmd, file).unwrap();
        let mut text = String::new();
        for _ in 0..100 {
            text = std::fs::read_to_string(&out).unwrap_or_default();
            if text.contains("done") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: the descriptor duplicated above.
        unsafe { libc::close(213) };
        let fds: Vec<&str> = text.lines().filter(|l| *l != "done").collect();
        assert!(text.contains("done"), "{text}");
        assert!(!fds.contains(&"213"), "the daemon inherited {fds:?}");
        assert!(fds.contains(&"1") && fds.contains(&"2"), "{fds:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_child_that_overruns_is_killed_with_its_group() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let host = Host::from_process();
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild-survived");
        // The grandchild would write the marker after the timeout unless the group is killed.
        let script = format!("(sleep 1; touch {}) & sleep 5", marker.display());
        let cmd = Cmd::new("/bin/sh", Duration::from_millis(200))
            .arg("-c")
            .arg(script);
        let started = Instant::now();
        let err = rt.block_on(host.run(&cmd)).unwrap_err();
        assert!(matches!(err, RunError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!marker.exists(), "the grandchild outlived the timeout");
    }
}
