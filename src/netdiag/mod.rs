//! Company networks: each registry the profile needs is reached the way the engine reaches it
//! (`/v2/`, the token flow, a manifest `HEAD`, through the engine's proxy and with its trust)
//! and the package index the way pip does (pip's proxy and certificate settings), and a
//! failure is classified (`fault`). `Setup` is what this machine's clients are configured with:
//! the proxies each one uses, the roots each one trusts.

pub mod budget;
pub mod bundle;
pub mod desktop;
pub mod fault;
pub mod jks;
pub mod pip;
pub mod podman;
pub mod proxy;
pub mod wire;
pub mod x509;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::host::Host;
pub use fault::Fault;
use fault::TrustFacts;
pub use proxy::ProxyConf;
use proxy::{PipConf, Rules};
use wire::{Request, Response, Url, WireError};

/// How long one request may take, each step.
pub const TIMEOUT: Duration = Duration::from_secs(4);

/// Where Go (and so dockerd and Podman) looks for the system's roots, in its order.
pub const OS_STORES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Docker Hub's registry endpoint, as the engine resolves `docker.io`.
pub const HUB_ENDPOINT: &str = "registry-1.docker.io";

/// A set of roots with the subjects they name.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    pub path: Option<String>,
    pub der: Vec<Vec<u8>>,
    pub subjects: Vec<String>,
}

impl Roots {
    pub fn from_pem(path: Option<String>, pem: &[u8]) -> Roots {
        let der = x509::pem_certs(pem);
        let subjects = der
            .iter()
            .filter_map(|d| x509::parse(d))
            .map(|c| c.subject)
            .collect();
        Roots {
            path,
            der,
            subjects,
        }
    }

    fn extend(&mut self, other: &Roots) {
        self.der.extend(other.der.iter().cloned());
        self.subjects.extend(other.subjects.iter().cloned());
    }
}

/// How this machine's clients are set up to reach the network.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The user's environment (`HTTPS_PROXY`, ...).
    pub user: ProxyConf,
    /// The proxy the engine uses (its own answer when it gave one, else its configuration).
    pub engine: ProxyConf,
    /// pip's settings and the proxy it uses.
    pub pip: PipConf,
    pub pip_proxy: ProxyConf,
    /// The machine's trust store.
    pub os: Roots,
    /// The CA file the user named (`network.ca_file`).
    pub ca_file: Option<Roots>,
    /// Podman rather than dockerd (its per-registry trust lives in `/etc/containers/certs.d`).
    pub podman: bool,
    /// What the interpreter that will install says of its pip (version, certifi), when asked.
    pub pip_facts: Option<pip::PipFacts>,
}

/// The engine's proxy as it reported it (`docker info`: HttpProxy, HttpsProxy, NoProxy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineProxy {
    pub http: Option<String>,
    pub https: Option<String>,
    pub no_proxy: Option<String>,
    /// Its version (`20.10.24+dfsg1`, Podman's `4.3.1`).
    pub version: Option<String>,
}

impl Setup {
    /// What a TLS failure is judged against: the OS store's and the named CA file's subjects,
    /// and the clock now.
    fn trust(&self) -> TrustFacts<'_> {
        TrustFacts {
            os_subjects: &self.os.subjects,
            file_subjects: self
                .ca_file
                .as_ref()
                .map(|r| r.subjects.as_slice())
                .unwrap_or_default(),
            now: unix_now(),
        }
    }

    /// Read this machine's configuration: environment, daemon.json, systemd drop-ins, pip's
    /// files, the trust store, and the CA file the user named.
    pub fn gather(
        host: &Host,
        reported: Option<&EngineProxy>,
        podman: bool,
        ca_file: Option<&Path>,
        dir: &Path,
    ) -> Setup {
        let env = |k: &str| host.env(k).map(String::from);
        let user = proxy::from_env(env, "your environment");
        let engine = engine_proxy(host, reported, podman);
        let pip = proxy::pip_conf(&pip_files(host, dir), env);
        let pip_proxy = proxy::pip_proxy(&pip, &user);
        let os = os_store(host);
        let ca_file = ca_file.map(|p| {
            let text = crate::fsx::read_regular(p, crate::fsx::SYSTEM_CAP).unwrap_or_default();
            Roots::from_pem(Some(p.display().to_string()), &text)
        });
        // Any password in a proxy URL is masked wherever it may appear.
        for p in [&user, &engine, &pip_proxy] {
            for url in [&p.http, &p.https].into_iter().flatten() {
                proxy::register_password(url);
            }
        }
        Setup {
            user,
            engine,
            pip,
            pip_proxy,
            os,
            ca_file,
            podman,
            pip_facts: None,
        }
    }

    /// The roots the engine trusts for `registry`: the OS store and its `certs.d`.
    pub fn engine_roots(&self, host: &Host, registry: &str) -> Roots {
        let mut r = self.os.clone();
        r.extend(&certs_d(host, registry, self.podman));
        r
    }

    /// Which roots pip verifies with (`pip::trust`: its `cert`, `REQUESTS_CA_BUNDLE`, then by
    /// its version the OS store or its own certifi bundle).
    pub fn pip_trust(&self, host: &Host) -> pip::PipTrust {
        let from = if host.env("PIP_CERT").is_some_and(|v| !v.is_empty()) {
            "PIP_CERT"
        } else {
            "`cert` in pip.conf"
        };
        // An empty `cert =` is no setting (pip falls back to its default).
        let cert = self
            .pip
            .cert
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| (c, from));
        pip::trust(
            cert,
            |k| host.env(k).map(String::from),
            self.pip_facts.as_ref(),
        )
    }

    /// The roots pip trusts, as `pip_trust` says. A certifi bundle not on disk yet (a venv
    /// still to be made) is the OS store without the named company roots: certifi never has
    /// them.
    pub fn pip_roots(&self, host: &Host) -> Roots {
        let trust = self.pip_trust(host);
        if let Some(p) = trust.file() {
            let text =
                crate::fsx::read_regular(Path::new(p), crate::fsx::SYSTEM_CAP).unwrap_or_default();
            return Roots::from_pem(Some(p.to_string()), &text);
        }
        match (&trust, &self.ca_file) {
            (pip::PipTrust::Certifi { .. }, Some(company)) => {
                let der: Vec<Vec<u8>> = self
                    .os
                    .der
                    .iter()
                    .filter(|d| !company.der.contains(d))
                    .cloned()
                    .collect();
                Roots {
                    path: None,
                    subjects: der
                        .iter()
                        .filter_map(|d| x509::parse(d))
                        .map(|c| c.subject)
                        .collect(),
                    der,
                }
            }
            _ => self.os.clone(),
        }
    }
}

/// The proxy the engine uses: its own answer when it gave one, else its configuration files.
pub fn engine_proxy(host: &Host, reported: Option<&EngineProxy>, podman: bool) -> ProxyConf {
    if podman {
        let version = reported
            .and_then(|r| r.version.as_deref())
            .and_then(podman::version);
        let seen = podman::gather(host, &podman::socket(host), version).proxy;
        // Podman's answer is its service's environment: where that came from is known here.
        let answered = reported.filter(|r| r.http.is_some() || r.https.is_some());
        return match answered {
            Some(r) if seen.https != r.https || seen.http != r.http => ProxyConf {
                http: r.http.clone(),
                https: r.https.clone(),
                no_proxy: r.no_proxy.clone(),
                source: "Podman's own answer".into(),
            },
            _ => seen,
        };
    }
    if let Some(r) = reported.filter(|r| r.http.is_some() || r.https.is_some()) {
        return ProxyConf {
            http: r.http.clone(),
            https: r.https.clone(),
            no_proxy: r.no_proxy.clone(),
            source: "the engine's own answer".into(),
        };
    }
    if let Some(t) = host.sys_read("/etc/docker/daemon.json") {
        let c = proxy::from_daemon_json(&t, "/etc/docker/daemon.json");
        if !c.is_empty() {
            return c;
        }
    }
    if let Some(c) = proxy::from_systemd_dropins(host, "/etc/systemd/system/docker.service.d") {
        return c;
    }
    ProxyConf {
        source: if reported.is_some() {
            "the engine reports none".into()
        } else {
            "no engine answered; none configured".into()
        },
        ..ProxyConf::default()
    }
}

/// pip's configuration files, in the order pip reads them (later ones win).
fn pip_files(host: &Host, dir: &Path) -> Vec<(String, String)> {
    let mut paths: Vec<String> = vec!["/etc/pip.conf".into(), "/etc/xdg/pip/pip.conf".into()];
    if let Some(h) = host.home() {
        paths.push(h.join(".pip/pip.conf").display().to_string());
        paths.push(h.join(".config/pip/pip.conf").display().to_string());
    }
    if let Some(v) = host.env("VIRTUAL_ENV") {
        paths.push(format!("{v}/pip.conf"));
    }
    paths.push(dir.join(".venv/pip.conf").display().to_string());
    if let Some(f) = host.env("PIP_CONFIG_FILE") {
        paths.push(f.to_string());
    }
    paths
        .into_iter()
        .filter_map(|p| {
            let t = crate::fsx::read_regular(Path::new(&p), 1 << 20).ok()?;
            Some((p, String::from_utf8_lossy(&t).into_owned()))
        })
        .collect()
}

/// The machine's trust store (the first bundle Go would read).
pub fn os_store(host: &Host) -> Roots {
    for p in OS_STORES {
        if let Some(t) = host.sys_read(p) {
            return Roots::from_pem(Some((*p).to_string()), t.as_bytes());
        }
    }
    Roots::default()
}

/// The registries the engine has its own trust for (the directories of `certs.d`).
pub fn certs_d_registries(host: &Host, podman: bool) -> Vec<String> {
    let base = if podman {
        "/etc/containers/certs.d"
    } else {
        "/etc/docker/certs.d"
    };
    host.sys_list(base)
}

/// The engine's own trust for one registry (`/etc/docker/certs.d/<registry>/*.crt`, Podman's
/// `/etc/containers/certs.d`).
pub fn certs_d(host: &Host, registry: &str, podman: bool) -> Roots {
    let base = if podman {
        "/etc/containers/certs.d"
    } else {
        "/etc/docker/certs.d"
    };
    let dir = format!("{base}/{registry}");
    let mut r = Roots::default();
    for n in host.sys_list(&dir) {
        if n.ends_with(".crt")
            && let Some(t) = host.sys_read(&format!("{dir}/{n}"))
        {
            r.extend(&Roots::from_pem(None, t.as_bytes()));
        }
    }
    r
}

/// What a registry or index said about the pull budget.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub limit: Option<String>,
    pub remaining: Option<String>,
}

impl Budget {
    /// The count before `;w=...`.
    pub fn remaining_count(&self) -> Option<u64> {
        count(self.remaining.as_deref()?)
    }
    pub fn limit_count(&self) -> Option<u64> {
        count(self.limit.as_deref()?)
    }
}

fn count(v: &str) -> Option<u64> {
    v.split([';', ',']).next()?.trim().parse().ok()
}

/// The outcome of reaching one registry or index.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `docker.io`, `127.0.0.1:5000`, or `index`.
    pub target: String,
    /// Whose way it was reached: `engine` or `pip`.
    pub client: &'static str,
    pub url: String,
    /// The proxy it went through (masked), if any.
    pub proxy: Option<String>,
    pub fault: Option<Fault>,
    pub budget: Option<Budget>,
}

/// One image split as the engine does: registry, repository, tag or digest.
pub fn split_image(image: &str) -> (String, String, String) {
    let registry = crate::engine::api::registry_of(image);
    let rest = match image.split_once('/') {
        Some((first, rest)) if first == registry => rest,
        _ => image,
    };
    let (repo, reference) = match rest.split_once('@') {
        Some((r, d)) => (r.to_string(), d.to_string()),
        None => match rest.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
            _ => (rest.to_string(), "latest".to_string()),
        },
    };
    let repo = if registry == "docker.io" && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo
    };
    (registry, repo, reference)
}

/// The host the engine talks to for a registry name.
pub fn endpoint(registry: &str) -> &str {
    if registry == "docker.io" {
        HUB_ENDPOINT
    } else {
        registry
    }
}

/// Whether the engine treats a registry as insecure (loopback, dockerd's default insecure
/// range, or listed by the engine): any certificate is accepted, and plain HTTP is tried after
/// TLS.
fn insecure_ok(registry: &str, insecure: &[String]) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    proxy::is_loopback(host) || insecure.iter().any(|i| i == registry)
}

/// Reach one registry as the engine would, for one of its images.
pub async fn reach_registry(
    host: &Host,
    setup: &Setup,
    image: &str,
    insecure: &[String],
) -> Finding {
    let (registry, repo, reference) = split_image(image);
    let roots = Arc::new(setup.engine_roots(host, &registry).der);
    let base = format!("https://{}", endpoint(&registry));
    let url = format!("{base}/v2/");
    let proxy_of = |u: &Url| {
        setup
            .engine
            .for_url(&u.scheme, &u.host, u.port, Rules::Go)
            .map(String::from)
    };
    let mut finding = Finding {
        target: registry.clone(),
        client: "engine",
        url: url.clone(),
        proxy: None,
        fault: None,
        budget: None,
    };
    let trust = setup.trust();
    let ctx = Ctx {
        roots,
        proxy_of: &proxy_of,
        insecure: insecure_ok(&registry, insecure),
    };
    let mut base_url = base;
    let mut r = ctx.get("GET", &format!("{base_url}/v2/"), &[]).await;
    if matches!(r, Err((WireError::NotTls(_), _))) && insecure_ok(&registry, insecure) {
        base_url = format!("http://{}", endpoint(&registry));
        finding.url = format!("{base_url}/v2/");
        r = ctx.get("GET", &finding.url, &[]).await;
    }
    finding.proxy = Url::parse(&finding.url)
        .and_then(|u| proxy_of(&u))
        .map(|p| proxy::masked(&p));
    let resp = match r {
        Ok(resp) => resp,
        Err((e, via)) => {
            finding.fault = Some(fault::from_wire(
                &e,
                endpoint(&registry),
                via.as_deref(),
                trust,
            ));
            return finding;
        }
    };
    let mut auth = Vec::new();
    if resp.status == 401 {
        match bearer(&resp) {
            Some((realm, service)) => {
                let scope = format!("repository:{repo}:pull");
                let token_url = format!(
                    "{realm}{}service={}&scope={}",
                    if realm.contains('?') { '&' } else { '?' },
                    query(&service),
                    query(&scope)
                );
                match ctx.get("GET", &token_url, &[]).await {
                    Err((e, via)) => {
                        let h = Url::parse(&realm).map(|u| u.host).unwrap_or_default();
                        finding.fault = Some(fault::from_wire(&e, &h, via.as_deref(), trust));
                        return finding;
                    }
                    Ok(t) if t.status == 200 => {
                        if let Some(tok) = token(&t.body) {
                            crate::secrets::register(&tok);
                            auth.push(("Authorization".to_string(), format!("Bearer {tok}")));
                        }
                    }
                    Ok(t) => {
                        finding.fault = fault::from_status(&t, &format!("{registry}/{repo}")).or(
                            Some(Fault::Other {
                                error: format!("the token service answered {}", t.status),
                            }),
                        );
                        return finding;
                    }
                }
            }
            None => {
                finding.fault = fault::from_status(&resp, &registry);
                return finding;
            }
        }
    } else if let Some(f) = fault::from_status(&resp, &registry) {
        finding.fault = Some(f);
        return finding;
    }
    // A HEAD on a manifest does not count against a pull limit, and carries its headers.
    let manifest = format!("{base_url}/v2/{repo}/manifests/{reference}");
    let mut headers = auth;
    headers.push(("Accept".into(), MANIFEST_TYPES.into()));
    match ctx.get("HEAD", &manifest, &headers).await {
        Ok(m) => {
            let budget = Budget {
                limit: m.header("ratelimit-limit").map(String::from),
                remaining: m.header("ratelimit-remaining").map(String::from),
            };
            if budget.limit.is_some() || budget.remaining.is_some() {
                finding.budget = Some(budget);
            }
            if m.status != 404 {
                finding.fault = fault::from_status(&m, &format!("{registry}/{repo}"));
            }
        }
        Err((e, via)) => {
            finding.fault = Some(fault::from_wire(
                &e,
                endpoint(&registry),
                via.as_deref(),
                trust,
            ))
        }
    }
    finding
}

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

/// Reach the package index as pip would: its simple page for the first package.
pub async fn reach_index(host: &Host, setup: &Setup, index: &str, package: &str) -> Finding {
    let roots = Arc::new(setup.pip_roots(host).der);
    let url = format!("{}/{package}/", index.trim_end_matches('/'));
    let proxy_of = |u: &Url| {
        setup
            .pip_proxy
            .for_url(&u.scheme, &u.host, u.port, Rules::Python)
            .map(String::from)
    };
    let trust = setup.trust();
    let ctx = Ctx {
        roots,
        proxy_of: &proxy_of,
        insecure: false,
    };
    let mut finding = Finding {
        target: "index".into(),
        client: "pip",
        url: proxy::masked(&url),
        proxy: Url::parse(&url)
            .and_then(|u| proxy_of(&u))
            .map(|p| proxy::masked(&p)),
        fault: None,
        budget: None,
    };
    let h = Url::parse(&url).map(|u| u.host).unwrap_or_default();
    match ctx.get("GET", &url, &[]).await {
        Err((e, via)) => finding.fault = Some(fault::from_wire(&e, &h, via.as_deref(), trust)),
        Ok(r) if r.status == 404 || r.status < 400 => {}
        Ok(r) => {
            finding.fault = fault::from_status(&r, "the package index").or(Some(Fault::Other {
                error: format!("the index answered {}", r.status),
            }))
        }
    }
    finding
}

struct Ctx<'a> {
    roots: Arc<Vec<Vec<u8>>>,
    proxy_of: &'a dyn Fn(&Url) -> Option<String>,
    insecure: bool,
}

type Got = Result<Response, (WireError, Option<String>)>;

impl Ctx<'_> {
    /// One request off the runtime; the error carries the proxy it went through.
    async fn get(&self, method: &'static str, url: &str, headers: &[(String, String)]) -> Got {
        let Some(u) = Url::parse(url) else {
            return Err((WireError::Io(format!("not a URL: {url}")), None));
        };
        let proxy = (self.proxy_of)(&u);
        let req = Request {
            method,
            url: u,
            headers: headers.to_vec(),
            proxy: proxy.clone(),
            roots: self.roots.clone(),
            insecure: self.insecure,
            timeout: TIMEOUT,
        };
        match tokio::task::spawn_blocking(move || wire::exchange(&req)).await {
            Ok(r) => r.map_err(|e| (e, proxy)),
            Err(e) => Err((WireError::Io(e.to_string()), proxy)),
        }
    }
}

/// `Bearer realm="...",service="..."` of a 401.
fn bearer(r: &Response) -> Option<(String, String)> {
    let h = r.header("www-authenticate")?;
    let rest = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))?;
    let mut realm = None;
    let mut service = String::new();
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        let v = v.trim_matches('"').to_string();
        match k.trim() {
            "realm" => realm = Some(v),
            "service" => service = v,
            _ => {}
        }
    }
    Some((realm?, service))
}

fn token(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["token"]
        .as_str()
        .or_else(|| v["access_token"].as_str())
        .map(String::from)
}

fn query(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unix_now() -> i64 {
    crate::host::system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_as_the_engine_splits_them() {
        assert_eq!(
            split_image("redis:7"),
            ("docker.io".into(), "library/redis".into(), "7".into())
        );
        assert_eq!(
            split_image("registry.onramp.test:5443/onramp/redis:7"),
            (
                "registry.onramp.test:5443".into(),
                "onramp/redis".into(),
                "7".into()
            )
        );
        assert_eq!(
            split_image("chromadb/chroma"),
            (
                "docker.io".into(),
                "chromadb/chroma".into(),
                "latest".into()
            )
        );
        assert_eq!(endpoint("docker.io"), HUB_ENDPOINT);
    }

    #[test]
    fn a_bearer_challenge_names_its_realm_and_service() {
        let r = Response {
            status: 401,
            headers: vec![(
                "Www-Authenticate".into(),
                "Bearer realm=\"https://auth.example/token\",service=\"registry.example\"".into(),
            )],
            body: Vec::new(),
        };
        assert_eq!(
            bearer(&r),
            Some((
                "https://auth.example/token".into(),
                "registry.example".into()
            ))
        );
        assert_eq!(token(br#"{"token":"abc"}"#).as_deref(), Some("abc"));
        assert_eq!(query("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }

    #[test]
    fn budgets_read_the_count_before_the_window() {
        let b = Budget {
            limit: Some("100;w=21600".into()),
            remaining: Some("7;w=21600".into()),
        };
        assert_eq!(b.remaining_count(), Some(7));
        assert_eq!(b.limit_count(), Some(100));
    }
}
