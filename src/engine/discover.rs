//! Which Docker endpoint to talk to, in the Docker CLI's order, and why. Pure over its inputs.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::host::{Host, Os};

/// Where the engine is and how onramp found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// `unix:///var/run/docker.sock`, `tcp://127.0.0.1:2375`, `npipe:////./pipe/docker_engine`.
    pub endpoint: String,
    /// Why this one: `DOCKER_HOST`, `DOCKER_CONTEXT=x`, `currentContext=x`, `default socket`...
    pub source: String,
}

impl Endpoint {
    /// The socket path of a `unix://` endpoint.
    pub fn unix_path(&self) -> Option<PathBuf> {
        self.endpoint.strip_prefix("unix://").map(PathBuf::from)
    }

    /// Whether this is Podman's API socket (rootful or rootless) rather than Docker's.
    pub fn is_podman(&self) -> bool {
        self.unix_path().is_some_and(|p| {
            p.file_name().is_some_and(|n| n == "podman.sock")
                || p.components().any(|c| c.as_os_str() == "podman")
        })
    }

    /// Whether a Podman socket lives in the user's runtime directory (rootless Podman).
    pub fn is_rootless_podman(&self) -> bool {
        self.is_podman()
            && !self
                .endpoint
                .starts_with(&format!("unix://{PODMAN_ROOTFUL}"))
    }
}

/// What discovery may look at: the environment and a few files.
pub struct Inputs<'a> {
    pub os: Os,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub read: &'a dyn Fn(&Path) -> Option<String>,
    pub exists: &'a dyn Fn(&Path) -> bool,
    pub home: Option<PathBuf>,
    /// Whether a program is on `PATH` (`docker`, `dockerd`, `podman`).
    pub installed: &'a dyn Fn(&str) -> bool,
    /// Whether onramp runs as root (rootful Podman's socket is the one to start then).
    pub root: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoverError {
    #[error("Docker context `{name}` ({source_of_name}) is not defined: {meta} is missing")]
    UnknownContext {
        name: String,
        source_of_name: String,
        meta: String,
    },
    #[error("Docker context `{name}` has no docker endpoint in {meta}")]
    ContextWithoutHost { name: String, meta: String },
}

const DEFAULT_UNIX: &str = "/var/run/docker.sock";
const DEFAULT_PIPE: &str = "docker_engine";
/// Rootful Podman's API socket (`podman system service`, or the `podman.socket` unit).
pub const PODMAN_ROOTFUL: &str = "/run/podman/podman.sock";

/// The engines' named pipes on Windows, in the order tried; the first that exists wins.
/// `docker_engine` is served by Docker Desktop, Docker Engine for Windows, Rancher Desktop (moby)
/// and Podman machine (when its Docker API pipe is on); `dockerDesktopLinuxEngine` is Docker
/// Desktop's Linux engine (its `desktop-linux` context); `podman-machine-default` is Podman
/// machine's own pipe.
pub const WINDOWS_PIPES: &[(&str, &str)] = &[
    (DEFAULT_PIPE, "default named pipe"),
    (
        "dockerDesktopLinuxEngine",
        "Docker Desktop's Linux engine pipe",
    ),
    ("podman-machine-default", "Podman machine's pipe"),
];

/// A Unix socket path below a Unix directory, always joined with `/` (the socket is a Unix path
/// whatever the host's separator is).
fn unix_join(dir: &str, rel: &str) -> String {
    format!("{}/{rel}", dir.trim_end_matches('/'))
}

/// Rootless Podman's API socket under `$XDG_RUNTIME_DIR`.
pub fn podman_rootless(runtime_dir: &str) -> PathBuf {
    PathBuf::from(unix_join(runtime_dir, "podman/podman.sock"))
}

/// The Windows path of a named pipe (`\\.\pipe\NAME`), as the OS opens it.
pub fn pipe_path(name: &str) -> PathBuf {
    PathBuf::from(format!(r"\\.\pipe\{name}"))
}

/// The name of the pipe an `npipe://` endpoint names (`npipe:////./pipe/NAME`, or with `\`).
pub fn pipe_name(endpoint: &str) -> Option<&str> {
    let rest = endpoint.strip_prefix("npipe://")?;
    let rest = rest.trim_start_matches(['/', '\\']);
    let rest = rest.strip_prefix('.')?.trim_start_matches(['/', '\\']);
    let name = rest.strip_prefix("pipe")?.strip_prefix(['/', '\\'])?;
    (!name.is_empty()).then_some(name)
}

fn npipe(name: &str) -> String {
    format!("npipe:////./pipe/{name}")
}

pub fn discover(i: &Inputs) -> Result<Endpoint, DiscoverError> {
    if let Some(h) = (i.env)("DOCKER_HOST") {
        return Ok(ep(&h, "DOCKER_HOST"));
    }
    let config_dir = (i.env)("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| i.home.as_ref().map(|h| h.join(".docker")));
    if let Some(name) = (i.env)("DOCKER_CONTEXT") {
        return from_context(i, config_dir.as_deref(), &name, "DOCKER_CONTEXT");
    }
    if let Some(dir) = &config_dir
        && let Some(name) = (i.read)(&dir.join("config.json")).and_then(|t| current_context(&t))
    {
        return from_context(i, Some(dir), &name, "currentContext in config.json");
    }
    Ok(default_endpoint(i))
}

fn ep(uri: &str, source: &str) -> Endpoint {
    Endpoint {
        endpoint: uri.to_string(),
        source: source.to_string(),
    }
}

fn from_context(
    i: &Inputs,
    config_dir: Option<&Path>,
    name: &str,
    why: &str,
) -> Result<Endpoint, DiscoverError> {
    if name == "default" {
        return Ok(default_endpoint(i));
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let meta = config_dir
        .unwrap_or(Path::new(".docker"))
        .join("contexts/meta")
        .join(hex)
        .join("meta.json");
    let text = (i.read)(&meta).ok_or_else(|| DiscoverError::UnknownContext {
        name: name.into(),
        source_of_name: why.into(),
        meta: meta.display().to_string(),
    })?;
    let host = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v["Endpoints"]["docker"]["Host"]
                .as_str()
                .map(str::to_string)
        })
        .ok_or_else(|| DiscoverError::ContextWithoutHost {
            name: name.into(),
            meta: meta.display().to_string(),
        })?;
    Ok(ep(&host, &format!("context `{name}` ({why})")))
}

/// `currentContext` of a Docker CLI config.json.
pub fn current_context(config_json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(config_json).ok()?;
    v["currentContext"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The well-known sockets in the Docker CLI's order, then Podman's, first existing wins. When
/// none exists: Podman's socket if Podman is installed and Docker is not (so the remedy is to
/// start Podman's API service), otherwise Docker's default socket.
fn default_endpoint(i: &Inputs) -> Endpoint {
    if i.os == Os::Windows {
        return windows_pipe(i);
    }
    let runtime = (i.env)("XDG_RUNTIME_DIR").filter(|r| !r.is_empty());
    let mut candidates: Vec<(PathBuf, &str)> = vec![(DEFAULT_UNIX.into(), "default socket")];
    if let Some(run) = &runtime {
        candidates.push((
            unix_join(run, "docker.sock").into(),
            "rootless Docker socket",
        ));
    }
    if let Some(home) = &i.home {
        candidates.push((
            unix_join(&home.to_string_lossy(), ".docker/run/docker.sock").into(),
            "Docker Desktop socket",
        ));
    }
    if let Some(run) = &runtime {
        candidates.push((podman_rootless(run), "rootless Podman socket"));
    }
    candidates.push((PODMAN_ROOTFUL.into(), "Podman socket"));
    if let Some((p, why)) = candidates.iter().find(|(p, _)| (i.exists)(p)) {
        return ep(&format!("unix://{}", p.display()), why);
    }
    let docker = (i.installed)("docker") || (i.installed)("dockerd");
    if !docker && (i.installed)("podman") {
        return match runtime.filter(|_| !i.root) {
            Some(run) => ep(
                &format!("unix://{}", podman_rootless(&run).display()),
                "rootless Podman socket (Podman is installed, its API service is not started)",
            ),
            None => ep(
                &format!("unix://{PODMAN_ROOTFUL}"),
                "Podman socket (Podman is installed, its API service is not started)",
            ),
        };
    }
    ep(
        &format!("unix://{DEFAULT_UNIX}"),
        "default socket (none found)",
    )
}

/// The first engine pipe that exists; Docker's default pipe when none does.
fn windows_pipe(i: &Inputs) -> Endpoint {
    match WINDOWS_PIPES
        .iter()
        .find(|(name, _)| (i.exists)(&pipe_path(name)))
    {
        Some((name, why)) => ep(&npipe(name), why),
        None => ep(&npipe(DEFAULT_PIPE), "default named pipe (none found)"),
    }
}

/// Discovery on the real host.
pub fn discover_on(host: &Host) -> Result<Endpoint, DiscoverError> {
    let env = |k: &str| host.env(k).map(str::to_string);
    let read = |p: &Path| crate::fsx::read_text_file(p);
    let exists = |p: &Path| match p.to_str().and_then(|s| s.strip_prefix(r"\\.\pipe\")) {
        Some(name) => crate::host::pipe_exists(name),
        None => p.exists(),
    };
    let installed = |name: &str| host.which(name).is_some();
    discover(&Inputs {
        os: host.os(),
        env: &env,
        read: &read,
        exists: &exists,
        home: host.home(),
        installed: &installed,
        root: host.euid() == Some(0),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    struct Fake {
        env: BTreeMap<&'static str, &'static str>,
        files: BTreeMap<PathBuf, String>,
        programs: Vec<&'static str>,
        root: bool,
    }

    impl Fake {
        fn run(&self, os: Os) -> Result<Endpoint, DiscoverError> {
            let env = |k: &str| self.env.get(k).map(|v| v.to_string());
            let read = |p: &Path| self.files.get(p).cloned();
            let exists = |p: &Path| self.files.contains_key(p);
            let installed = |n: &str| self.programs.contains(&n);
            discover(&Inputs {
                os,
                env: &env,
                read: &read,
                exists: &exists,
                home: Some("/home/dev".into()),
                installed: &installed,
                root: self.root,
            })
        }

        fn with_programs(mut self, programs: &[&'static str], root: bool) -> Fake {
            self.programs = programs.to_vec();
            self.root = root;
            self
        }
    }

    fn fake(env: &[(&'static str, &'static str)], files: &[(&str, &str)]) -> Fake {
        Fake {
            env: env.iter().copied().collect(),
            files: files
                .iter()
                .map(|(p, t)| (PathBuf::from(p), t.to_string()))
                .collect(),
            programs: Vec::new(),
            root: false,
        }
    }

    const META_DIR: &str = "/home/dev/.docker/contexts/meta";

    fn meta_path(name: &str) -> String {
        let d = Sha256::digest(name.as_bytes());
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        format!("{META_DIR}/{hex}/meta.json")
    }

    #[test]
    fn docker_host_wins() {
        let f = fake(
            &[
                ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
                ("DOCKER_CONTEXT", "x"),
            ],
            &[],
        );
        let e = f.run(Os::Linux).unwrap();
        assert_eq!(
            (e.endpoint.as_str(), e.source.as_str()),
            ("tcp://127.0.0.1:2375", "DOCKER_HOST")
        );
    }

    #[test]
    fn current_context_is_resolved_through_its_meta() {
        let meta = meta_path("desktop-linux");
        let f = fake(
            &[],
            &[
                (
                    "/home/dev/.docker/config.json",
                    r#"{"auths":{},"currentContext":"desktop-linux"}"#,
                ),
                (
                    &meta,
                    r#"{"Name":"desktop-linux","Endpoints":{"docker":{"Host":"unix:///home/dev/.docker/desktop/docker.sock"}}}"#,
                ),
            ],
        );
        let e = f.run(Os::Linux).unwrap();
        assert_eq!(e.endpoint, "unix:///home/dev/.docker/desktop/docker.sock");
        assert!(e.source.contains("desktop-linux"));
    }

    #[test]
    fn an_unknown_context_is_an_error_naming_it() {
        let f = fake(&[("DOCKER_CONTEXT", "gone")], &[]);
        let err = f.run(Os::Linux).unwrap_err();
        assert!(err.to_string().contains("`gone`"));
    }

    #[test]
    fn sockets_in_order_and_the_default_when_none_exist() {
        let f = fake(
            &[("XDG_RUNTIME_DIR", "/run/user/1000")],
            &[("/run/user/1000/docker.sock", "")],
        );
        let e = f.run(Os::Linux).unwrap();
        assert_eq!(e.endpoint, "unix:///run/user/1000/docker.sock");
        assert_eq!(e.source, "rootless Docker socket");
        let e = fake(&[], &[]).run(Os::Linux).unwrap();
        assert_eq!(e.endpoint, "unix:///var/run/docker.sock");
        let e = fake(&[], &[]).run(Os::Windows).unwrap();
        assert_eq!(e.endpoint, "npipe:////./pipe/docker_engine");
        assert_eq!(e.source, "default named pipe (none found)");
        let e = fake(&[("DOCKER_CONTEXT", "default")], &[])
            .run(Os::Linux)
            .unwrap();
        assert!(e.source.starts_with("default socket"));
    }

    /// The engines' pipes on Windows, as Docker Desktop, Podman machine and Rancher Desktop
    /// create them, and DOCKER_HOST naming one.
    #[test]
    fn windows_pipes_in_order() {
        let pipe = |n: &str| pipe_path(n).to_string_lossy().into_owned();
        let desktop = pipe("docker_engine");
        let linux = pipe("dockerDesktopLinuxEngine");
        let podman = pipe("podman-machine-default");
        for (present, endpoint) in [
            (vec![&desktop, &linux], "npipe:////./pipe/docker_engine"),
            (vec![&linux], "npipe:////./pipe/dockerDesktopLinuxEngine"),
            (vec![&podman], "npipe:////./pipe/podman-machine-default"),
            (vec![&podman, &desktop], "npipe:////./pipe/docker_engine"),
        ] {
            let files: Vec<(&str, &str)> = present.iter().map(|p| (p.as_str(), "")).collect();
            let e = fake(&[], &files).run(Os::Windows).unwrap();
            assert_eq!(e.endpoint, endpoint, "{present:?}");
            assert!(!e.source.contains("none found"));
        }
        let e = fake(
            &[("DOCKER_HOST", "npipe:////./pipe/podman-machine-default")],
            &[],
        )
        .run(Os::Windows)
        .unwrap();
        assert_eq!(e.source, "DOCKER_HOST");
        assert_eq!(pipe_name(&e.endpoint), Some("podman-machine-default"));
        assert_eq!(
            pipe_name(r"npipe://\\.\pipe\docker_engine"),
            Some("docker_engine")
        );
        assert_eq!(pipe_name("npipe:////./pipe/"), None);
        assert_eq!(pipe_name("unix:///var/run/docker.sock"), None);
        assert_eq!(desktop, r"\\.\pipe\docker_engine");
    }

    /// Sockets as they exist on real machines, each set with the endpoint the Docker CLI's
    /// order picks: every Docker socket before any Podman socket, rootless Podman before rootful.
    #[test]
    fn discovery_order_over_recorded_sockets() {
        let run = &[("XDG_RUNTIME_DIR", "/run/user/1000")];
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                &[
                    ("/var/run/docker.sock", ""),
                    ("/run/podman/podman.sock", ""),
                ],
                "unix:///var/run/docker.sock",
                "default socket",
            ),
            (
                &[
                    ("/home/dev/.docker/run/docker.sock", ""),
                    ("/run/user/1000/podman/podman.sock", ""),
                ],
                "unix:///home/dev/.docker/run/docker.sock",
                "Docker Desktop socket",
            ),
            (
                &[
                    ("/run/user/1000/podman/podman.sock", ""),
                    ("/run/podman/podman.sock", ""),
                ],
                "unix:///run/user/1000/podman/podman.sock",
                "rootless Podman socket",
            ),
            (
                &[("/run/podman/podman.sock", "")],
                "unix:///run/podman/podman.sock",
                "Podman socket",
            ),
        ];
        for (files, endpoint, source) in cases {
            let e = fake(run, files).run(Os::Linux).unwrap();
            assert_eq!(
                (e.endpoint.as_str(), e.source.as_str()),
                (*endpoint, *source)
            );
        }
        let e = fake(
            &[("DOCKER_HOST", "unix:///run/podman/podman.sock")],
            &[("/var/run/docker.sock", "")],
        )
        .run(Os::Linux)
        .unwrap();
        assert!(e.is_podman() && !e.is_rootless_podman());
        assert_eq!(e.source, "DOCKER_HOST");
    }

    #[test]
    fn podman_installed_without_docker_points_at_the_socket_to_start() {
        let run = &[("XDG_RUNTIME_DIR", "/run/user/1000")];
        let user = fake(run, &[]).with_programs(&["podman"], false);
        let e = user.run(Os::Linux).unwrap();
        assert_eq!(e.endpoint, "unix:///run/user/1000/podman/podman.sock");
        assert!(e.is_rootless_podman());
        assert!(e.source.contains("not started"), "{}", e.source);
        let root = fake(run, &[]).with_programs(&["podman"], true);
        assert_eq!(
            root.run(Os::Linux).unwrap().endpoint,
            "unix:///run/podman/podman.sock"
        );
        let both = fake(run, &[]).with_programs(&["podman", "docker"], false);
        assert_eq!(
            both.run(Os::Linux).unwrap().endpoint,
            "unix:///var/run/docker.sock"
        );
        let docker = Endpoint {
            endpoint: "unix:///var/run/docker.sock".into(),
            source: String::new(),
        };
        assert!(!docker.is_podman());
    }
}
