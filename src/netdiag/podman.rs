//! The proxy Podman pulls through, read from where Podman reads it: the environment of the
//! process doing the pull (the API service `podman system service`, seen in
//! `/proc/PID/environ` when readable), then `[engine] env` of containers.conf and its drop-ins
//! (a variable already in the environment wins: Podman sets only the missing ones), then a
//! systemd drop-in's `Environment=` for podman.service where the service is not running.
//! `[containers] http_proxy` is about the containers' environment, not pulls, and is ignored.
//!
//! containers.conf is read as containers/common reads it (checked against its source):
//! `CONTAINERS_CONF` alone when set; else `/usr/share/containers/containers.conf`,
//! `/etc/containers/containers.conf`, `/etc/containers/containers.conf.d/*.conf` (sorted; the
//! `.d` directories since containers/common 0.40, Podman 3.3), then for rootless Podman
//! `~/.config/containers/containers.conf` and its `.d` (`$XDG_CONFIG_HOME` first). Podman 5.7
//! and later also read `/etc/containers/containers.rootless.conf`, its `.d` and `.d/<uid>`
//! for rootless, and the user's file for root too. `CONTAINERS_CONF_OVERRIDE` (Podman 4.5) is
//! read last. A later file's `env` replaces an earlier one's, unless it ends in
//! `{append = true}` (containers/common 0.57).

use super::proxy::{self, ProxyConf};
use crate::host::Host;

/// The proxy variables Podman's HTTP client (Go's) reads, in its order.
pub const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A Podman version as (major, minor), from `4.3.1` or `5.0.0-dev`.
pub fn version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.trim().trim_start_matches('v').split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// Whether this Podman reads `containers.conf.d` drop-ins (3.3 and later; unknown: yes).
pub fn reads_dropins(v: Option<(u32, u32)>) -> bool {
    v.is_none_or(|v| v >= (3, 3))
}

/// Who the Podman process is and what its environment says about configuration.
#[derive(Debug, Clone, Default)]
pub struct Whose {
    /// Its uid (0: rootful).
    pub uid: u32,
    /// `CONTAINERS_CONF`, `CONTAINERS_CONF_OVERRIDE`, `XDG_CONFIG_HOME` and `HOME` as that
    /// process sees them.
    pub containers_conf: Option<String>,
    pub containers_conf_override: Option<String>,
    pub xdg_config_home: Option<String>,
    pub home: Option<String>,
    pub version: Option<(u32, u32)>,
}

/// One step of the search: a file, or a directory whose `*.conf` files are read sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(String),
    Dir(String),
}

/// The places containers.conf is read from, in Podman's order.
pub fn search_order(w: &Whose) -> Vec<Source> {
    use Source::{Dir, File};
    let mut out = Vec::new();
    if let Some(c) = &w.containers_conf {
        out.push(File(c.clone()));
    } else {
        let dropins = reads_dropins(w.version);
        let new_order = w.version.is_some_and(|v| v >= (5, 7));
        out.push(File("/usr/share/containers/containers.conf".into()));
        out.push(File("/etc/containers/containers.conf".into()));
        if dropins {
            out.push(Dir("/etc/containers/containers.conf.d".into()));
        }
        if new_order && w.uid > 0 {
            out.push(File("/etc/containers/containers.rootless.conf".into()));
            out.push(Dir("/etc/containers/containers.rootless.conf.d".into()));
            out.push(Dir(format!(
                "/etc/containers/containers.rootless.conf.d/{}",
                w.uid
            )));
        }
        if w.uid > 0 || new_order {
            let user = match (&w.xdg_config_home, &w.home) {
                (Some(x), _) => Some(format!("{x}/containers/containers.conf")),
                (None, Some(h)) => Some(format!("{h}/.config/containers/containers.conf")),
                _ => None,
            };
            if let Some(u) = user {
                if dropins {
                    out.push(File(u.clone()));
                    out.push(Dir(format!("{u}.d")));
                } else {
                    out.push(File(u));
                }
            }
        }
    }
    let override_read = w.version.is_none_or(|v| v >= (4, 5));
    if let Some(o) = w
        .containers_conf_override
        .as_ref()
        .filter(|_| override_read)
    {
        out.push(File(o.clone()));
    }
    out
}

/// `[engine] env` after reading `files` (path, text) in order: the list and the file that last
/// set it. A file that is not TOML is skipped (Podman itself would refuse to start with it).
pub fn engine_env(files: &[(String, String)]) -> (Vec<String>, Option<String>) {
    let mut env: Vec<String> = Vec::new();
    let mut from = None;
    for (path, text) in files {
        let Ok(doc) = toml::from_str::<toml::Table>(text) else {
            continue;
        };
        let Some(list) = doc
            .get("engine")
            .and_then(|e| e.get("env"))
            .and_then(|v| v.as_array())
        else {
            continue;
        };
        let append = list.last().is_some_and(|v| {
            v.as_table()
                .and_then(|t| t.get("append"))
                .and_then(toml::Value::as_bool)
                == Some(true)
        });
        if !append {
            env.clear();
        }
        env.extend(list.iter().filter_map(|v| v.as_str().map(String::from)));
        from = Some(path.clone());
    }
    (env, from)
}

/// The variables of a `/proc/PID/environ` (NUL-separated `KEY=value`).
pub fn parse_environ(raw: &str) -> Vec<(String, String)> {
    raw.split('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The words of a `/proc/PID/cmdline`.
pub fn parse_cmdline(raw: &str) -> Vec<String> {
    raw.split('\0')
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect()
}

/// Whether `argv` is `podman [global options] system service [options] [URI]` serving
/// `socket` (a path). Without a URI the service serves its default socket: root's
/// `/run/podman/podman.sock`, a user's `$XDG_RUNTIME_DIR/podman/podman.sock`.
pub fn serves(argv: &[String], socket: &str) -> bool {
    let is_podman = argv
        .first()
        .is_some_and(|a| a.rsplit('/').next() == Some("podman"));
    let Some(at) = argv
        .windows(2)
        .position(|w| w[0] == "system" && w[1] == "service")
    else {
        return false;
    };
    if !is_podman {
        return false;
    }
    let uri = argv[at + 2..]
        .iter()
        .find(|a| !a.starts_with('-') && a.contains("://"));
    match uri {
        Some(u) => u.strip_prefix("unix://").is_some_and(|p| p == socket),
        None => socket.ends_with("/podman/podman.sock"),
    }
}

/// The process serving `socket` among `procs` (pid, start time, argv). Podman unlinks a
/// socket that is there and binds anew, so of several the one started last has it.
pub fn find_service(procs: &[(u32, u64, Vec<String>)], socket: &str) -> Option<u32> {
    procs
        .iter()
        .filter(|(_, _, argv)| serves(argv, socket))
        .max_by_key(|(_, start, _)| *start)
        .map(|(pid, _, _)| *pid)
}

/// The environment the pull sees: the process's own, plus each `[engine] env` entry whose
/// variable it does not already have (as Podman sets them when it starts).
pub fn effective(environ: &[(String, String)], engine_env: &[String]) -> Vec<(String, String)> {
    let mut out = environ.to_vec();
    for kv in engine_env {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        if !out.iter().any(|(n, _)| n == k) {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

/// The proxy in `vars`, as Go reads it.
pub fn proxy_of(vars: &[(String, String)], source: &str) -> ProxyConf {
    proxy::from_vars(vars, source)
}

/// Whether any proxy variable is set in `vars` (then containers.conf cannot change it).
pub fn sets_proxy(vars: &[(String, String)]) -> bool {
    vars.iter()
        .any(|(k, v)| PROXY_VARS.contains(&k.as_str()) && !v.is_empty())
}

/// The API service's process as found in `/proc`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Service {
    pub pid: u32,
    pub argv: Vec<String>,
    pub uid: u32,
}

/// What Podman on this machine is set up with, as read from its process and its files.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub service: Option<Service>,
    /// The service's own environment, when it could be read (never shown: only its proxy
    /// variables are used).
    pub environ: Option<Vec<(String, String)>>,
    /// `[engine] env` and the file that set it last.
    pub engine_env: Vec<String>,
    pub engine_env_from: Option<String>,
    /// The proxy the pulls use, and where it came from.
    pub proxy: ProxyConf,
    /// The service user's configuration directory (`$XDG_CONFIG_HOME`, else `~/.config`).
    pub config_home: Option<String>,
}

impl Seen {
    /// The service's own environment sets a proxy (then containers.conf cannot change it).
    pub fn environ_sets_proxy(&self) -> bool {
        self.environ.as_deref().is_some_and(sets_proxy)
    }
}

/// The socket of the Podman the user means: `DOCKER_HOST` when it names one, else root's
/// socket for root and the user's under `$XDG_RUNTIME_DIR` for anyone else.
pub fn socket(host: &Host) -> String {
    if let Some(p) = host
        .env("DOCKER_HOST")
        .and_then(|h| h.strip_prefix("unix://"))
        .filter(|p| p.contains("podman"))
    {
        return p.to_string();
    }
    match (host.euid(), host.env("XDG_RUNTIME_DIR")) {
        (Some(u), Some(run)) if u != 0 => crate::engine::podman_rootless(run).display().to_string(),
        _ => crate::engine::PODMAN_ROOTFUL.to_string(),
    }
}

/// The uid in `/proc/PID/status` (its real uid).
fn proc_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|u| u.parse().ok())
}

/// A running process: its argv and real uid (`None`: no such process, or unreadable).
pub fn process(host: &Host, pid: u32) -> Option<Service> {
    let raw = host.sys_read_small(&format!("/proc/{pid}/cmdline"), 1 << 16)?;
    let argv = parse_cmdline(&raw);
    let uid = host
        .sys_read_small(&format!("/proc/{pid}/status"), 1 << 16)
        .and_then(|s| proc_uid(&s))?;
    (!argv.is_empty()).then_some(Service { pid, argv, uid })
}

/// dockerd as no init runs it: the process its pid file names, when that is dockerd.
pub fn dockerd(host: &Host) -> Option<Service> {
    let pid = host
        .sys_read_small("/var/run/docker.pid", 64)?
        .trim()
        .parse()
        .ok()?;
    process(host, pid).filter(|s| {
        s.argv
            .first()
            .is_some_and(|a| a.rsplit('/').next() == Some("dockerd"))
    })
}

/// Find the service serving `socket` and read what Podman reads.
pub fn gather(host: &Host, socket: &str, version: Option<(u32, u32)>) -> Seen {
    let procs: Vec<(u32, u64, Vec<String>)> = host
        .sys_list("/proc")
        .iter()
        .filter_map(|n| n.parse::<u32>().ok())
        .filter_map(|pid| {
            let raw = host.sys_read_small(&format!("/proc/{pid}/cmdline"), 1 << 16)?;
            let start = host.process_start(pid).unwrap_or(0);
            Some((pid, start, parse_cmdline(&raw)))
        })
        .collect();
    let service = find_service(&procs, socket).and_then(|pid| process(host, pid));
    let environ = service.as_ref().and_then(|s| {
        host.sys_read_small(&format!("/proc/{}/environ", s.pid), 1 << 20)
            .map(|raw| parse_environ(&raw))
    });
    // The files are the ones the service's user reads (its environment, else onramp's).
    let var = |k: &str| -> Option<String> {
        match &environ {
            Some(e) => e.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            None => host.env(k).map(String::from),
        }
        .filter(|v| !v.is_empty())
    };
    let uid = service
        .as_ref()
        .map(|s| s.uid)
        .or_else(|| {
            socket
                .strip_prefix("/run/user/")
                .and_then(|r| r.split('/').next()?.parse().ok())
        })
        .unwrap_or(0);
    let whose = Whose {
        uid,
        containers_conf: var("CONTAINERS_CONF"),
        containers_conf_override: var("CONTAINERS_CONF_OVERRIDE"),
        xdg_config_home: var("XDG_CONFIG_HOME"),
        home: var("HOME"),
        version,
    };
    let mut files = Vec::new();
    for s in search_order(&whose) {
        match s {
            Source::File(f) => files.extend(host.sys_read(&f).map(|t| (f, t))),
            Source::Dir(d) => {
                let mut names = host.sys_list(&d);
                names.sort();
                for n in names.iter().filter(|n| n.ends_with(".conf")) {
                    let f = format!("{d}/{n}");
                    files.extend(host.sys_read(&f).map(|t| (f, t)));
                }
            }
        }
    }
    let (engine_env, engine_env_from) = engine_env(&files);
    let config_home = whose
        .xdg_config_home
        .clone()
        .or_else(|| whose.home.as_ref().map(|h| format!("{h}/.config")));
    let mut seen = Seen {
        service,
        environ,
        engine_env,
        engine_env_from,
        proxy: ProxyConf::default(),
        config_home,
    };
    seen.proxy = resolve(host, &seen);
    seen
}

/// The proxy the pulls use, with where it came from.
fn resolve(host: &Host, s: &Seen) -> ProxyConf {
    let conf = s
        .engine_env_from
        .as_deref()
        .map(|f| format!("[engine] env in {f}"))
        .unwrap_or_else(|| "containers.conf".into());
    match (&s.service, &s.environ) {
        (Some(svc), Some(environ)) => {
            let own = proxy_of(environ, "");
            let eff = proxy_of(&effective(environ, &s.engine_env), "");
            let who = format!("podman system service (pid {})", svc.pid);
            let source = if eff.is_empty() {
                format!("{who}: neither its environment nor {conf} sets one")
            } else if own == eff {
                format!("{who}: its environment")
            } else {
                format!("{who}: {conf}")
            };
            ProxyConf { source, ..eff }
        }
        (svc, _) => {
            let from_conf = proxy_of(&effective(&[], &s.engine_env), &conf);
            if !from_conf.is_empty() {
                return from_conf;
            }
            if let Some(c) =
                proxy::from_systemd_dropins(host, "/etc/systemd/system/podman.service.d")
            {
                return c;
            }
            let source = match svc {
                Some(svc) => format!(
                    "{conf}; the environment of podman system service (pid {}) cannot be read",
                    svc.pid
                ),
                None => format!("{conf}; no podman system service runs"),
            };
            ProxyConf {
                source,
                ..ProxyConf::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn containers_conf_is_searched_in_podmans_order_per_version_and_user() {
        use Source::{Dir, File};
        let root43 = Whose {
            uid: 0,
            home: Some("/root".into()),
            version: Some((4, 3)),
            ..Whose::default()
        };
        assert_eq!(
            search_order(&root43),
            [
                File("/usr/share/containers/containers.conf".into()),
                File("/etc/containers/containers.conf".into()),
                Dir("/etc/containers/containers.conf.d".into()),
            ]
        );
        let user = Whose {
            uid: 1000,
            home: Some("/home/u".into()),
            ..root43.clone()
        };
        let order = search_order(&user);
        assert_eq!(
            order[3..],
            [
                File("/home/u/.config/containers/containers.conf".into()),
                Dir("/home/u/.config/containers/containers.conf.d".into()),
            ]
        );
        let xdg = Whose {
            xdg_config_home: Some("/x".into()),
            ..user.clone()
        };
        assert_eq!(
            search_order(&xdg)[3],
            File("/x/containers/containers.conf".into())
        );
        // Podman 3.2 has no drop-in directories.
        let old = Whose {
            version: Some((3, 2)),
            ..user.clone()
        };
        assert!(!search_order(&old).iter().any(|s| matches!(s, Dir(_))));
        // 5.7 reads the rootless overrides, and the user's file for root as well.
        let new = Whose {
            version: Some((5, 7)),
            ..user.clone()
        };
        assert!(search_order(&new).contains(&Dir(
            "/etc/containers/containers.rootless.conf.d/1000".into()
        )));
        let new_root = Whose {
            version: Some((5, 7)),
            ..root43.clone()
        };
        assert!(
            search_order(&new_root)
                .contains(&File("/root/.config/containers/containers.conf".into()))
        );
        // CONTAINERS_CONF replaces the search; the override is read last (4.5 on).
        let pinned = Whose {
            containers_conf: Some("/opt/c.conf".into()),
            containers_conf_override: Some("/opt/o.conf".into()),
            version: Some((4, 5)),
            ..root43.clone()
        };
        assert_eq!(
            search_order(&pinned),
            [File("/opt/c.conf".into()), File("/opt/o.conf".into())]
        );
        let pinned43 = Whose {
            version: Some((4, 3)),
            ..pinned
        };
        assert_eq!(search_order(&pinned43), [File("/opt/c.conf".into())]);
    }

    #[test]
    fn a_later_files_engine_env_replaces_unless_it_appends() {
        let files = vec![
            (
                "/etc/containers/containers.conf".to_string(),
                "[containers]\nhttp_proxy = true\n[engine]\nenv = [\"FOO=1\", \"HTTPS_PROXY=http://a:1\"]\n".to_string(),
            ),
            (
                "/etc/containers/containers.conf.d/10-x.conf".to_string(),
                "[engine]\nruntime = \"runc\"\n".to_string(),
            ),
        ];
        let (env, from) = engine_env(&files);
        assert_eq!(env, s(&["FOO=1", "HTTPS_PROXY=http://a:1"]));
        assert_eq!(from.as_deref(), Some("/etc/containers/containers.conf"));
        let mut more = files.clone();
        more.push((
            "/etc/containers/containers.conf.d/20-y.conf".into(),
            "[engine]\nenv = [\"HTTPS_PROXY=http://b:2\"]\n".into(),
        ));
        assert_eq!(engine_env(&more).0, s(&["HTTPS_PROXY=http://b:2"]));
        more.push((
            "/etc/containers/containers.conf.d/30-z.conf".into(),
            "[engine]\nenv = [\"BAR=2\", {append = true}]\n".into(),
        ));
        assert_eq!(engine_env(&more).0, s(&["HTTPS_PROXY=http://b:2", "BAR=2"]));
        more.push(("/broken.conf".into(), "[engine\nenv = 1".into()));
        assert_eq!(
            engine_env(&more).1.as_deref(),
            Some("/etc/containers/containers.conf.d/30-z.conf")
        );
    }

    #[test]
    fn the_processs_own_variable_wins_over_engine_env() {
        let environ = parse_environ("PATH=/bin\0HTTPS_PROXY=http://own:1\0");
        let eff = effective(
            &environ,
            &s(&[
                "HTTPS_PROXY=http://conf:2",
                "HTTP_PROXY=http://conf:2",
                "bad",
            ]),
        );
        let p = proxy_of(&eff, "t");
        assert_eq!(p.https.as_deref(), Some("http://own:1"));
        assert_eq!(p.http.as_deref(), Some("http://conf:2"));
        assert!(sets_proxy(&environ));
        assert!(!sets_proxy(&parse_environ("PATH=/bin\0https_proxy=\0")));
    }

    #[test]
    fn the_service_is_found_by_the_socket_it_serves() {
        let service = |sock: &str| s(&["podman", "system", "service", "--time=0", sock]);
        let procs = vec![
            (10, 1, s(&["dockerd"])),
            (
                11,
                1,
                s(&[
                    "/usr/bin/podman",
                    "--log-level=info",
                    "system",
                    "service",
                    "unix:///tmp/other.sock",
                ]),
            ),
            (12, 5, service("unix:///run/podman/podman.sock")),
            (13, 1, s(&["grep", "podman", "system", "service"])),
            // Started earlier: the one started later took the socket from it.
            (14, 2, service("unix:///run/podman/podman.sock")),
        ];
        assert_eq!(find_service(&procs, "/run/podman/podman.sock"), Some(12));
        assert_eq!(find_service(&procs, "/tmp/other.sock"), Some(11));
        let default = vec![(20, 1, s(&["podman", "system", "service", "-t", "0"]))];
        assert_eq!(
            find_service(&default, "/run/user/1000/podman/podman.sock"),
            Some(20)
        );
        assert_eq!(find_service(&procs[..1], "/run/podman/podman.sock"), None);
        assert_eq!(
            parse_cmdline("podman\0system\0service\0"),
            s(&["podman", "system", "service"])
        );
    }

    #[test]
    fn versions_are_read_from_podmans_answer() {
        assert_eq!(version("4.3.1"), Some((4, 3)));
        assert_eq!(version("v5.0.0-dev"), Some((5, 0)));
        assert_eq!(version("x"), None);
        assert!(reads_dropins(Some((3, 3))) && !reads_dropins(Some((3, 2))));
    }
}
