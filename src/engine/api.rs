//! A narrow view of the Docker Engine API, so `up`/`down` logic can be tested against a fake;
//! `Bollard` is the real one. Every call has a timeout; a pull stream has an idle timeout.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, Mount, MountType,
    NetworkConnectRequest, NetworkCreateRequest, NetworkingConfig, PortBinding, ResourcesUlimits,
    RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;

/// How long one engine call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a pull may go without a message before it counts as stalled.
pub const PULL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long `remove_network` waits for an engine to let go of a network whose containers were
/// just removed (Podman tears their network down after answering the removal).
pub const NETWORK_RELEASE_WAIT: Duration = Duration::from_secs(15);

/// Whether a network removal failed only because containers are still being detached.
pub fn still_in_use(e: &EngineError) -> bool {
    let t = e.to_string().to_ascii_lowercase();
    [
        "active endpoints",
        "being used",
        "associated containers",
        "in use",
    ]
    .iter()
    .any(|p| t.contains(p))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Failed(String),
    #[error("the engine did not answer within {0} s")]
    Timeout(u64),
}

/// A port published on the host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Published {
    pub ip: String,
    /// 0: the engine picks a free port when the container starts.
    pub host: u16,
    pub container: u16,
    pub udp: bool,
}

impl Published {
    /// The engine's name of the container port (`5432/tcp`).
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.container,
            if self.udp { "udp" } else { "tcp" }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum MountSource {
    Volume(String),
    Bind(String),
    /// A volume the engine names (`/data` alone in Compose).
    Anonymous,
}

/// Everything needed to create one container.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<Published>,
    pub mounts: Vec<(MountSource, String)>,
    pub network: String,
    pub alias: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Compose's host settings: limits, restart policy, healthcheck and the like.
    #[serde(skip_serializing_if = "Extras::is_empty")]
    pub extras: Extras,
}

/// Container settings beyond image, command, env, ports and mounts; `None` means the engine's
/// default, so a service that sets none of them hashes as it did before they existed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Extras {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<(String, i64, i64)>,
    /// (policy name, maximum retries)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<(String, i64)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Health>,
    /// Mount targets mounted read-only (`:ro`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_only: Vec<String>,
    /// `host=ip` entries for /etc/hosts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tty: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stdin_open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Every network the container joins with its aliases, first the one it is created on;
    /// empty: only `ContainerSpec.network` with `alias`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<(String, Vec<String>)>,
    /// `ContainerSpec.network` is a network mode (`host`, `none`, `container:ID`): no endpoints.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub network_mode: bool,
    /// `os/arch` of the image to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns_mode: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
}

impl Extras {
    pub fn is_empty(&self) -> bool {
        *self == Extras::default()
    }
}

/// A Docker healthcheck, durations in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    pub test: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub retries: Option<i64>,
    pub start_period: Option<i64>,
}

/// An image to build from a context archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSpec {
    pub tag: String,
    /// The context as an uncompressed tar archive.
    pub context_tar: Vec<u8>,
    pub dockerfile: Option<String>,
    pub args: BTreeMap<String, String>,
    /// The stage of a multi-stage Dockerfile to build.
    pub target: Option<String>,
}

/// What the engine says about a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub running: bool,
    pub restarting: bool,
    pub status: String,
    pub exit_code: i64,
    pub oom_killed: bool,
    pub restart_count: i64,
    /// The bindings the container was created with (host port 0: picked by the engine).
    pub ports: Vec<Published>,
    /// The bindings the engine made when it started the container (the host ports it picked).
    pub bound: Vec<Published>,
    /// The image as the container was created with it (`Config.Image`).
    pub image: String,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
}

/// Progress of one image pull.
#[derive(Debug, Clone, PartialEq)]
pub enum PullEvent {
    Status(String),
    Bytes { current: u64, total: u64 },
}

pub trait Engine {
    fn image_exists(&self, image: &str) -> impl Future<Output = Result<bool, EngineError>>;
    /// The id (`sha256:...`) of a local image, which Compose v2 labels containers with.
    fn image_id(&self, image: &str) -> impl Future<Output = Result<Option<String>, EngineError>>;
    fn pull(
        &self,
        image: &str,
        on: &mut (dyn FnMut(PullEvent) + Send),
    ) -> impl Future<Output = Result<(), EngineError>>;
    fn inspect(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ContainerInfo>, EngineError>>;
    fn list(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<ContainerInfo>, EngineError>>;
    /// Create the network unless it exists; `true` when this call created it.
    fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        driver_opts: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<bool, EngineError>>;
    /// Create the volume unless it exists; `true` when this call created it.
    fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        driver_opts: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<bool, EngineError>>;
    fn volume_exists(&self, name: &str) -> impl Future<Output = Result<bool, EngineError>>;
    fn networks(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<String>, EngineError>>;
    fn volumes(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<String>, EngineError>>;
    fn create(&self, spec: &ContainerSpec) -> impl Future<Output = Result<String, EngineError>>;
    fn start(&self, id: &str) -> impl Future<Output = Result<(), EngineError>>;
    /// Stop and start a running container again (the engine's restart).
    fn restart(&self, id: &str) -> impl Future<Output = Result<(), EngineError>>;
    /// Build and tag an image; `on` receives the build's output lines.
    fn build(
        &self,
        spec: &BuildSpec,
        on: &mut (dyn FnMut(PullEvent) + Send),
    ) -> impl Future<Output = Result<(), EngineError>>;
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), EngineError>>;
    fn remove_network(&self, name: &str) -> impl Future<Output = Result<(), EngineError>>;
    fn remove_volume(&self, name: &str) -> impl Future<Output = Result<(), EngineError>>;
    fn logs_tail(
        &self,
        id: &str,
        lines: usize,
    ) -> impl Future<Output = Result<String, EngineError>>;
}

/// The real engine.
#[derive(Clone)]
pub struct Bollard {
    docker: Docker,
    auths: BTreeMap<String, bollard::auth::DockerCredentials>,
}

impl Bollard {
    pub fn new(
        docker: Docker,
        auths: BTreeMap<String, bollard::auth::DockerCredentials>,
    ) -> Bollard {
        Bollard { docker, auths }
    }

    /// The client, for the image and registry queries of `engine::distribution`.
    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The credentials `docker login` stored for the registry of `image`.
    pub(crate) fn credentials_for(&self, image: &str) -> Option<bollard::auth::DockerCredentials> {
        self.auths.get(&registry_of(image)).cloned()
    }
}

/// How long loading an image archive may take before the engine answers (it reads the whole
/// archive first).
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(1800);
/// Bytes read from an archive per chunk sent to the engine.
const LOAD_CHUNK: usize = 1 << 20;

impl Bollard {
    /// Write one archive holding `images` (the engine's `save` of several images; shared layers
    /// once) to `out`; returns the bytes written.
    pub async fn export_images(
        &self,
        images: &[String],
        out: &mut dyn std::io::Write,
    ) -> Result<u64, EngineError> {
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        let mut stream = self.docker.export_images(&names);
        let mut written = 0u64;
        loop {
            let next = tokio::time::timeout(PULL_IDLE_TIMEOUT, stream.next())
                .await
                .map_err(|_| EngineError::Timeout(PULL_IDLE_TIMEOUT.as_secs()))?;
            let Some(chunk) = next else {
                return Ok(written);
            };
            let chunk = chunk.map_err(classify)?;
            out.write_all(&chunk)
                .map_err(|e| EngineError::Failed(format!("cannot write the archive: {e}")))?;
            written += chunk.len() as u64;
        }
    }

    /// Load an image archive into the engine; returns the engine's `Loaded image: ...` lines.
    pub async fn load_images(
        &self,
        archive: Box<dyn std::io::Read + Send>,
    ) -> Result<Vec<String>, EngineError> {
        let chunks = futures_util::stream::iter(Chunks(archive));
        let opts = bollard::query_parameters::ImportImageOptionsBuilder::new()
            .quiet(true)
            .build();
        let docker = self.docker.clone().with_timeout(LOAD_TIMEOUT);
        let mut stream = docker.import_image_stream(opts, chunks, None);
        let mut loaded = Vec::new();
        let read = async {
            while let Some(item) = stream.next().await {
                let info = item.map_err(classify)?;
                if let Some(err) = info.error_detail.and_then(|d| d.message) {
                    return Err(EngineError::Failed(err));
                }
                if let Some(line) = info.stream {
                    loaded.extend(
                        line.lines()
                            .map(|l| l.trim().to_string())
                            .filter(|l| !l.is_empty()),
                    );
                }
            }
            Ok(())
        };
        match tokio::time::timeout(LOAD_TIMEOUT, read).await {
            Ok(r) => r?,
            Err(_) => return Err(EngineError::Timeout(LOAD_TIMEOUT.as_secs())),
        }
        Ok(loaded)
    }
}

/// A file (or a stream made from one) read in chunks, as a request body.
struct Chunks(Box<dyn std::io::Read + Send>);

impl Iterator for Chunks {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut buf = vec![0u8; LOAD_CHUNK];
        match self.0.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some(Ok(bytes::Bytes::from(buf)))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

fn classify(e: bollard::errors::Error) -> EngineError {
    use bollard::errors::Error as B;
    match e {
        B::DockerResponseServerError {
            status_code: 404,
            message,
        } => EngineError::NotFound(message),
        B::DockerResponseServerError {
            status_code: 409,
            message,
        } => EngineError::Conflict(message),
        B::DockerResponseServerError { message, .. } => EngineError::Failed(message),
        other => EngineError::Failed(other.to_string()),
    }
}

pub(crate) async fn timed<T>(
    f: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, EngineError> {
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Ok(r) => r.map_err(classify),
        Err(_) => Err(EngineError::Timeout(CALL_TIMEOUT.as_secs())),
    }
}

fn label_filter(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let values = labels
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.to_string()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    HashMap::from([("label".to_string(), values)])
}

/// The registry host of an image reference (`127.0.0.1:5000/x/y:1` -> `127.0.0.1:5000`).
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.to_string(),
        _ => "docker.io".to_string(),
    }
}

/// The next item of an engine stream (pull, build), or a failure once it has been silent for
/// `PULL_IDLE_TIMEOUT`: `stalled` says what stalled.
async fn next_within<S: futures_util::Stream + Unpin>(
    stream: &mut S,
    stalled: &str,
) -> Result<Option<S::Item>, EngineError> {
    tokio::time::timeout(PULL_IDLE_TIMEOUT, stream.next())
        .await
        .map_err(|_| {
            EngineError::Failed(format!("{stalled} for {} s", PULL_IDLE_TIMEOUT.as_secs()))
        })
}

/// `auths` of a Docker CLI config.json, keyed by registry host.
pub fn parse_auths(config_json: &str) -> BTreeMap<String, bollard::auth::DockerCredentials> {
    use base64::Engine as _;
    let v: serde_json::Value = serde_json::from_str(config_json).unwrap_or_default();
    let mut out = BTreeMap::new();
    for (key, entry) in v["auths"].as_object().into_iter().flatten() {
        let Some(decoded) = entry["auth"]
            .as_str()
            .and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok())
            .and_then(|b| String::from_utf8(b).ok())
        else {
            continue;
        };
        let Some((user, pass)) = decoded.split_once(':') else {
            continue;
        };
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or(key);
        let host = if host == "index.docker.io" {
            "docker.io"
        } else {
            host
        };
        out.insert(
            host.to_string(),
            bollard::auth::DockerCredentials {
                username: Some(user.to_string()),
                password: Some(pass.to_string()),
                serveraddress: Some(key.clone()),
                ..Default::default()
            },
        );
    }
    out
}

/// Port bindings as the engine lists them (`5432/tcp` -> host address and port), sorted.
fn published(bindings: Option<HashMap<String, Option<Vec<PortBinding>>>>) -> Vec<Published> {
    let mut ports = Vec::new();
    for (key, bindings) in bindings.unwrap_or_default() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let container: u16 = port.parse().unwrap_or(0);
        for b in bindings.unwrap_or_default() {
            ports.push(Published {
                ip: b.host_ip.unwrap_or_default(),
                host: b.host_port.and_then(|p| p.parse().ok()).unwrap_or(0),
                container,
                udp: proto == "udp",
            });
        }
    }
    ports.sort();
    ports
}

fn info_of(c: bollard::models::ContainerInspectResponse) -> ContainerInfo {
    let state = c.state.unwrap_or_default();
    let config = c.config.unwrap_or_default();
    let labels = config.labels.unwrap_or_default().into_iter().collect();
    let ports = published(c.host_config.and_then(|h| h.port_bindings));
    let bound = published(c.network_settings.and_then(|n| n.ports));
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        labels,
        running: state.running.unwrap_or(false),
        restarting: state.restarting.unwrap_or(false),
        status: state.status.map(|s| s.to_string()).unwrap_or_default(),
        exit_code: state.exit_code.unwrap_or(0),
        oom_killed: state.oom_killed.unwrap_or(false),
        restart_count: c.restart_count.unwrap_or(0),
        ports,
        bound,
        image: config.image.unwrap_or_default(),
        env: config.env.unwrap_or_default(),
        cmd: config.cmd,
    }
}

impl Engine for Bollard {
    async fn image_exists(&self, image: &str) -> Result<bool, EngineError> {
        match timed(self.docker.inspect_image(image)).await {
            Ok(_) => Ok(true),
            Err(EngineError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        match timed(self.docker.inspect_image(image)).await {
            Ok(i) => Ok(i.id),
            Err(EngineError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn pull(
        &self,
        image: &str,
        on: &mut (dyn FnMut(PullEvent) + Send),
    ) -> Result<(), EngineError> {
        let opts = CreateImageOptionsBuilder::new().from_image(image).build();
        let creds = self.auths.get(&registry_of(image)).cloned();
        let mut stream = self.docker.create_image(Some(opts), None, creds);
        let mut layers: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        loop {
            let Some(item) = next_within(&mut stream, "the pull stalled: no progress").await?
            else {
                return Ok(());
            };
            let info = item.map_err(classify)?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::Failed(err));
            }
            if let (Some(id), Some(p)) = (info.id.clone(), info.progress_detail)
                && let (Some(c), Some(t)) = (p.current, p.total)
            {
                layers.insert(id, (c.max(0) as u64, t.max(0) as u64));
                let (c, t) = layers
                    .values()
                    .fold((0, 0), |(a, b), (c, t)| (a + c, b + t));
                on(PullEvent::Bytes {
                    current: c,
                    total: t,
                });
            } else if let Some(s) = info.status {
                on(PullEvent::Status(s));
            }
        }
    }

    async fn inspect(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        match timed(self.docker.inspect_container(name, None)).await {
            Ok(c) => Ok(Some(info_of(c))),
            Err(EngineError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>, EngineError> {
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&label_filter(labels))
            .build();
        let summaries = timed(self.docker.list_containers(Some(opts))).await?;
        let mut out = Vec::new();
        for s in summaries {
            if let Some(id) = s.id
                && let Some(info) = self.inspect(&id).await?
            {
                out.push(info);
            }
        }
        Ok(out)
    }

    async fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        driver_opts: &BTreeMap<String, String>,
    ) -> Result<bool, EngineError> {
        if timed(self.docker.inspect_network(
            name,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        ))
        .await
        .is_ok()
        {
            return Ok(false);
        }
        let req = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(labels.clone().into_iter().collect()),
            options: (!driver_opts.is_empty()).then(|| driver_opts.clone().into_iter().collect()),
            ..Default::default()
        };
        match timed(self.docker.create_network(req)).await {
            Ok(_) => Ok(true),
            Err(EngineError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        driver_opts: &BTreeMap<String, String>,
    ) -> Result<bool, EngineError> {
        if timed(self.docker.inspect_volume(name)).await.is_ok() {
            return Ok(false);
        }
        let req = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            driver_opts: (!driver_opts.is_empty())
                .then(|| driver_opts.clone().into_iter().collect()),
            ..Default::default()
        };
        timed(self.docker.create_volume(req)).await.map(|_| true)
    }

    async fn volume_exists(&self, name: &str) -> Result<bool, EngineError> {
        match timed(self.docker.inspect_volume(name)).await {
            Ok(_) => Ok(true),
            Err(EngineError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn networks(&self, labels: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        let opts = ListNetworksOptionsBuilder::new()
            .filters(&label_filter(labels))
            .build();
        let nets = timed(self.docker.list_networks(Some(opts))).await?;
        Ok(nets.into_iter().filter_map(|n| n.name).collect())
    }

    async fn volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        let opts = ListVolumesOptionsBuilder::new()
            .filters(&label_filter(labels))
            .build();
        let vols = timed(self.docker.list_volumes(Some(opts))).await?;
        Ok(vols
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for p in &spec.ports {
            port_bindings
                .entry(p.key())
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: Some(p.ip.clone()),
                    // Empty: the engine picks a free port.
                    host_port: Some(if p.host == 0 {
                        String::new()
                    } else {
                        p.host.to_string()
                    }),
                });
        }
        let mounts = spec
            .mounts
            .iter()
            .map(|(src, target)| {
                let (typ, source) = match src {
                    MountSource::Volume(v) => (MountType::VOLUME, Some(v.clone())),
                    MountSource::Bind(b) => (MountType::BIND, Some(b.clone())),
                    MountSource::Anonymous => (MountType::VOLUME, None),
                };
                Mount {
                    target: Some(target.clone()),
                    source,
                    typ: Some(typ),
                    read_only: spec.extras.read_only.contains(target).then_some(true),
                    ..Default::default()
                }
            })
            .collect();
        let x = &spec.extras;
        let mut endpoints = endpoints(spec).into_iter();
        let first = endpoints.next();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.clone()),
            cmd: spec.cmd.clone(),
            entrypoint: x.entrypoint.clone(),
            user: x.user.clone(),
            healthcheck: x.healthcheck.as_ref().map(|h| HealthConfig {
                test: Some(h.test.clone()),
                interval: h.interval,
                timeout: h.timeout,
                retries: h.retries,
                start_period: h.start_period,
                ..Default::default()
            }),
            working_dir: spec.working_dir.clone(),
            tty: x.tty.then_some(true),
            open_stdin: x.stdin_open.then_some(true),
            labels: Some(spec.labels.clone().into_iter().collect()),
            exposed_ports: Some(spec.ports.iter().map(Published::key).collect()),
            host_config: Some(HostConfig {
                port_bindings: Some(port_bindings),
                mounts: Some(mounts),
                network_mode: Some(spec.network.clone()),
                memory: x.memory,
                memory_reservation: x.memory_reservation,
                nano_cpus: x.nano_cpus,
                init: x.init,
                extra_hosts: (!x.extra_hosts.is_empty()).then(|| {
                    x.extra_hosts
                        .iter()
                        .map(|h| h.replacen('=', ":", 1))
                        .collect()
                }),
                shm_size: x.shm_size,
                cap_add: (!x.cap_add.is_empty()).then(|| x.cap_add.clone()),
                cap_drop: (!x.cap_drop.is_empty()).then(|| x.cap_drop.clone()),
                security_opt: (!x.security_opt.is_empty()).then(|| x.security_opt.clone()),
                userns_mode: x.userns_mode.clone(),
                privileged: x.privileged.then_some(true),
                tmpfs: (!x.tmpfs.is_empty()).then(|| x.tmpfs.iter().cloned().collect()),
                ulimits: (!x.ulimits.is_empty()).then(|| {
                    x.ulimits
                        .iter()
                        .map(|(name, soft, hard)| ResourcesUlimits {
                            name: Some(name.clone()),
                            soft: Some(*soft),
                            hard: Some(*hard),
                        })
                        .collect()
                }),
                restart_policy: x.restart.as_ref().map(|(name, max)| RestartPolicy {
                    name: Some(restart_name(name)),
                    maximum_retry_count: Some(*max),
                }),
                ..Default::default()
            }),
            networking_config: first.map(|(net, endpoint)| NetworkingConfig {
                endpoints_config: Some(HashMap::from([(net, endpoint)])),
            }),
            ..Default::default()
        };
        let mut opts = CreateContainerOptionsBuilder::new().name(&spec.name);
        if let Some(p) = &x.platform {
            opts = opts.platform(p);
        }
        let r = timed(self.docker.create_container(Some(opts.build()), body)).await?;
        // Engines before API 1.44 take one endpoint at creation: the others are connected.
        for (net, endpoint) in endpoints {
            let req = NetworkConnectRequest {
                container: r.id.clone(),
                endpoint_config: Some(endpoint),
            };
            if let Err(e) = timed(self.docker.connect_network(&net, req)).await {
                let _ = self.remove(&r.id).await;
                return Err(e);
            }
        }
        Ok(r.id)
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        timed(self.docker.start_container(id, None)).await
    }

    async fn restart(&self, id: &str) -> Result<(), EngineError> {
        let opts = bollard::query_parameters::RestartContainerOptionsBuilder::new()
            .t(10)
            .build();
        timed(self.docker.restart_container(id, Some(opts))).await
    }

    async fn build(
        &self,
        spec: &BuildSpec,
        on: &mut (dyn FnMut(PullEvent) + Send),
    ) -> Result<(), EngineError> {
        let args: HashMap<String, String> = spec.args.clone().into_iter().collect();
        let mut opts = BuildImageOptionsBuilder::new()
            .t(&spec.tag)
            .rm(true)
            .forcerm(true)
            .buildargs(&args);
        if let Some(d) = &spec.dockerfile {
            opts = opts.dockerfile(d);
        }
        if let Some(t) = &spec.target {
            opts = opts.target(t);
        }
        let body = bollard::body_full(spec.context_tar.clone().into());
        let mut stream = self.docker.build_image(opts.build(), None, Some(body));
        loop {
            let Some(item) = next_within(&mut stream, "the build stalled: no output").await? else {
                return Ok(());
            };
            let info = item.map_err(classify)?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::Failed(err));
            }
            if let Some(line) = info
                .stream
                .as_deref()
                .map(str::trim)
                .filter(|l| !l.is_empty())
            {
                on(PullEvent::Status(line.to_string()));
            }
        }
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(false)
            .build();
        match timed(self.docker.remove_container(id, Some(opts))).await {
            Ok(()) | Err(EngineError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        let started = crate::host::now();
        loop {
            match timed(self.docker.remove_network(name)).await {
                Ok(()) | Err(EngineError::NotFound(_)) => return Ok(()),
                Err(e) if still_in_use(&e) && started.elapsed() < NETWORK_RELEASE_WAIT => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        match timed(
            self.docker
                .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>),
        )
        .await
        {
            Ok(()) | Err(EngineError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn logs_tail(&self, id: &str, lines: usize) -> Result<String, EngineError> {
        let opts = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(id, Some(opts));
        let mut out = String::new();
        let collect = async {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(chunk) => out.push_str(&String::from_utf8_lossy(&chunk.into_bytes())),
                    Err(e) => return Err(classify(e)),
                }
            }
            Ok(())
        };
        match tokio::time::timeout(Duration::from_secs(5), collect).await {
            Ok(r) => r?,
            Err(_) => return Err(EngineError::Timeout(5)),
        }
        Ok(out)
    }
}

/// Docker's name for a Compose restart policy.
/// The networks a container joins with their endpoint settings, the one to create it on first.
fn endpoints(spec: &ContainerSpec) -> Vec<(String, EndpointSettings)> {
    if spec.extras.network_mode {
        return Vec::new();
    }
    let aliased = |aliases: Vec<String>| EndpointSettings {
        aliases: (!aliases.is_empty()).then_some(aliases),
        ..Default::default()
    };
    if spec.extras.networks.is_empty() {
        if spec.alias.is_empty() {
            return Vec::new();
        }
        return vec![(spec.network.clone(), aliased(vec![spec.alias.clone()]))];
    }
    spec.extras
        .networks
        .iter()
        .map(|(n, a)| (n.clone(), aliased(a.clone())))
        .collect()
}

fn restart_name(policy: &str) -> RestartPolicyNameEnum {
    match policy {
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => RestartPolicyNameEnum::NO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_of_image_references() {
        assert_eq!(registry_of("127.0.0.1:5000/onramp/pg:15"), "127.0.0.1:5000");
        assert_eq!(registry_of("postgres:15-alpine"), "docker.io");
        assert_eq!(registry_of("chromadb/chroma:latest"), "docker.io");
        assert_eq!(registry_of("ghcr.io/x/y"), "ghcr.io");
    }

    #[test]
    fn a_network_still_detaching_is_waited_for() {
        // Docker 20.10 and Podman 4.3, as they answer a removal of a network still in use.
        let docker = EngineError::Failed(
            "error while removing network: network x_default id 3f2a has active endpoints".into(),
        );
        let podman = EngineError::Failed("\"x_default\" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used".into());
        assert!(still_in_use(&docker) && still_in_use(&podman));
        assert!(!still_in_use(&EngineError::Failed(
            "permission denied".into()
        )));
        assert!(!still_in_use(&EngineError::Timeout(30)));
    }

    #[test]
    fn auths_are_decoded() {
        let cfg = r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},"127.0.0.1:5000":{"auth":"YTpi"}}}"#;
        let a = parse_auths(cfg);
        assert_eq!(a["docker.io"].username.as_deref(), Some("user"));
        assert_eq!(a["127.0.0.1:5000"].password.as_deref(), Some("b"));
    }
}
