//! The Docker engine: finding it, reaching it, and saying plainly why not.

pub mod api;
mod discover;
pub mod distribution;
pub mod pull;

use std::time::Duration;

use bollard::Docker;
use serde::Serialize;

pub use discover::{
    DiscoverError, Endpoint, PODMAN_ROOTFUL, current_context, discover_on, podman_rootless,
};

use crate::host::Host;

/// How long a dead or stalled endpoint may hold up a check.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1000);
/// Podman's compatible API gathers `version` and `info` on demand (half a second each on a
/// busy machine), so its socket gets longer.
pub const PODMAN_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The engine's name for people: `Podman` on Podman's socket, `Docker` elsewhere.
pub fn product(endpoint: Option<&Endpoint>) -> &'static str {
    if endpoint.is_some_and(Endpoint::is_podman) {
        "Podman"
    } else {
        "Docker"
    }
}

/// How long a probe of this endpoint may take.
pub fn probe_timeout(endpoint: &Endpoint) -> Duration {
    if endpoint.is_podman() {
        PODMAN_PROBE_TIMEOUT
    } else {
        PROBE_TIMEOUT
    }
}

/// What the engine says about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EngineInfo {
    pub version: String,
    pub api_version: String,
    pub mem_total: Option<u64>,
    pub ncpu: Option<u32>,
    pub root_dir: Option<String>,
    pub operating_system: Option<String>,
    /// How the engine reaches registries.
    pub net: Box<EngineNet>,
}

/// The engine's own network settings, as it reports them (`docker info`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EngineNet {
    /// The proxy the engine itself uses (HttpProxy, HttpsProxy, NoProxy).
    pub http_proxy: Option<String>,
    pub https_proxy: Option<String>,
    pub no_proxy: Option<String>,
    /// Its registry mirrors, and the registries it may reach over plain HTTP.
    pub mirrors: Vec<String>,
    pub insecure_registries: Vec<String>,
}

/// Whether the engine answered, or why not.
#[derive(Debug, Clone, PartialEq)]
pub enum Reach {
    Ready(EngineInfo),
    /// No engine binary or socket anywhere.
    NotInstalled,
    /// Installed, but nothing answers at the endpoint.
    NotRunning(String),
    PermissionDenied(String),
    /// The endpoint could not be resolved or reached for another reason.
    Unreachable(String),
    ApiTooOld(String),
    Timeout,
}

/// The endpoint (when one was found) and what happened there.
#[derive(Debug, Clone)]
pub struct Probe {
    pub endpoint: Option<Endpoint>,
    pub reach: Reach,
}

/// Find the engine and ask it for its version and resources, within `PROBE_TIMEOUT`.
pub async fn probe(host: &Host) -> Probe {
    let endpoint = match discover_on(host) {
        Ok(e) => e,
        Err(e) => {
            return Probe {
                endpoint: None,
                reach: Reach::Unreachable(e.to_string()),
            };
        }
    };
    let reach = reach(host, &endpoint).await;
    Probe {
        endpoint: Some(endpoint),
        reach,
    }
}

async fn reach(host: &Host, endpoint: &Endpoint) -> Reach {
    let missing = match (
        endpoint.unix_path(),
        discover::pipe_name(&endpoint.endpoint),
    ) {
        (Some(path), _) if !path.exists() => Some(path),
        (_, Some(name)) if !crate::host::pipe_exists(name) => Some(discover::pipe_path(name)),
        _ => None,
    };
    if let Some(path) = missing {
        return if engine_installed(host) {
            Reach::NotRunning(format!("{} does not exist", path.display()))
        } else {
            Reach::NotInstalled
        };
    }
    let docker = match connect(endpoint) {
        Ok(d) => d,
        Err(e) => return Reach::Unreachable(e.to_string()),
    };
    let asked = async { tokio::try_join!(docker.version(), docker.info()) };
    match tokio::time::timeout(probe_timeout(endpoint), asked).await {
        Err(_) => Reach::Timeout,
        Ok(Err(e)) => classify(host, &e),
        Ok(Ok((v, i))) => Reach::Ready(EngineInfo {
            version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
            mem_total: i.mem_total.and_then(|m| u64::try_from(m).ok()),
            ncpu: i.ncpu.and_then(|n| u32::try_from(n).ok()),
            root_dir: i.docker_root_dir,
            operating_system: i.operating_system,
            net: Box::new(EngineNet {
                http_proxy: i.http_proxy.filter(|p| !p.is_empty()),
                https_proxy: i.https_proxy.filter(|p| !p.is_empty()),
                no_proxy: i.no_proxy.filter(|p| !p.is_empty()),
                mirrors: i
                    .registry_config
                    .as_ref()
                    .and_then(|r| r.mirrors.clone())
                    .unwrap_or_default(),
                insecure_registries: i
                    .registry_config
                    .as_ref()
                    .and_then(|r| r.index_configs.as_ref())
                    .map(|ix| {
                        ix.iter()
                            .filter(|(_, v)| v.secure == Some(false))
                            .map(|(k, _)| k.clone())
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
        }),
    }
}

/// An engine ready for use: API version negotiated, registry credentials loaded.
pub struct Connected {
    pub api: api::Bollard,
    pub endpoint: Endpoint,
    pub info: EngineInfo,
}

/// Connect for real work, or say why the engine is not there.
pub async fn connect_ready(host: &Host) -> Result<Connected, Probe> {
    connect_probed(host, &probe(host).await).await
}

/// Connect after a probe already found the engine ready (`doctor` probes once, then connects).
pub async fn connect_probed(host: &Host, p: &Probe) -> Result<Connected, Probe> {
    let (Some(endpoint), Reach::Ready(info)) = (p.endpoint.clone(), p.reach.clone()) else {
        return Err(p.clone());
    };
    let fail = |e: String| Probe {
        endpoint: Some(endpoint.clone()),
        reach: Reach::Unreachable(e),
    };
    // Real work gets the per-call bound of `api`, not the probe's: starting a container on a
    // busy machine can take longer than a version query.
    let docker = connect_within(&endpoint, api::CALL_TIMEOUT).map_err(|e| fail(e.to_string()))?;
    let docker = tokio::time::timeout(probe_timeout(&endpoint), docker.negotiate_version())
        .await
        .map_err(|_| fail("no answer while negotiating the API version".into()))?
        .map_err(|e| fail(e.to_string()))?;
    let config_dir = host
        .env("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| host.home().map(|h| h.join(".docker")));
    let auths = config_dir
        .and_then(|d| crate::fsx::read_text_file(&d.join("config.json")))
        .map(|t| api::parse_auths(&t))
        .unwrap_or_default();
    Ok(Connected {
        api: api::Bollard::new(docker, auths),
        endpoint,
        info,
    })
}

/// A one-line description of why the engine cannot be used.
pub fn describe(p: &Probe) -> String {
    let at = p
        .endpoint
        .as_ref()
        .map(|e| format!(" at {} ({})", e.endpoint, e.source))
        .unwrap_or_default();
    let engine = if p.endpoint.as_ref().is_some_and(Endpoint::is_podman) {
        "Podman's API service"
    } else {
        "the Docker engine"
    };
    match &p.reach {
        Reach::Ready(_) => format!("{engine} is ready{at}"),
        Reach::NotInstalled => format!("Docker is not installed (nothing{at})"),
        Reach::NotRunning(why) => format!("{engine} is not running{at}: {why}"),
        Reach::PermissionDenied(why) => format!("permission denied{at}: {why}"),
        Reach::Unreachable(why) => format!("{engine} is unreachable{at}: {why}"),
        Reach::ApiTooOld(why) => format!("the API of {engine} is too old{at}: {why}"),
        Reach::Timeout => format!(
            "{engine} did not answer within {} ms{at}",
            p.endpoint
                .as_ref()
                .map_or(PROBE_TIMEOUT, probe_timeout)
                .as_millis()
        ),
    }
}

/// What to do about an engine that is not ready where the installer's plan has no step for
/// it (the plan, built from the machine's facts, says how to install and start one).
pub fn generic_remedy(reach: &Reach) -> String {
    match reach {
        Reach::ApiTooOld(_) => "upgrade the engine to a current release".into(),
        Reach::Unreachable(_) => "check DOCKER_HOST / DOCKER_CONTEXT (`docker context ls`), or unset them to use the local engine".into(),
        _ => "`onramp doctor --fix` shows how to install and start an engine on this machine".into(),
    }
}

/// A bollard client for an endpoint, for probing (requests bounded by its probe timeout).
pub fn connect(endpoint: &Endpoint) -> Result<Docker, bollard::errors::Error> {
    connect_within(endpoint, probe_timeout(endpoint))
}

/// A bollard client whose requests time out after `timeout`.
pub fn connect_within(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<Docker, bollard::errors::Error> {
    let secs = timeout.as_secs().max(1);
    let uri = endpoint.endpoint.as_str();
    if uri.starts_with("unix://") {
        #[cfg(unix)]
        return Docker::connect_with_unix(uri, secs, bollard::API_DEFAULT_VERSION);
    }
    if uri.starts_with("npipe://") {
        #[cfg(windows)]
        return Docker::connect_with_named_pipe(uri, secs, bollard::API_DEFAULT_VERSION);
    }
    if uri.starts_with("tcp://") || uri.starts_with("http://") {
        return Docker::connect_with_http(uri, secs, bollard::API_DEFAULT_VERSION);
    }
    Err(bollard::errors::Error::UnsupportedURISchemeError {
        uri: uri.to_string(),
    })
}

fn engine_installed(host: &Host) -> bool {
    ["dockerd", "docker", "podman", "com.docker.backend"]
        .iter()
        .any(|p| host.which(p).is_some())
}

/// Turn a bollard error into a reason a person can act on.
fn classify(host: &Host, e: &bollard::errors::Error) -> Reach {
    if let Some(io) = io_source(e) {
        return match io.kind() {
            std::io::ErrorKind::PermissionDenied => Reach::PermissionDenied(io.to_string()),
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound => {
                if engine_installed(host) {
                    Reach::NotRunning(io.to_string())
                } else {
                    Reach::NotInstalled
                }
            }
            _ => Reach::Unreachable(io.to_string()),
        };
    }
    let text = e.to_string();
    if text.contains("too new") || text.contains("Maximum supported API version") {
        return Reach::ApiTooOld(text);
    }
    Reach::Unreachable(text)
}

fn io_source<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = err.source();
    }
    None
}
