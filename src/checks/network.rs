//! Can the registries and the package index the profile needs be reached, the way the engine and
//! pip reach them, and if not, why (DNS, refused, timeout, proxy 407, an unknown TLS authority
//! with its issuer, clock skew, 429, credentials)? The proxies each client uses are shown, and
//! whether they agree. `ONRAMP_NETWORK=off` leaves the network alone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Ctx, Outcome, Status};
use crate::host::{Cmd, Host};
use crate::install::net::{Ca, NetWants};
use crate::netdiag::{self, Fault, Finding, Setup};
use crate::profile::Profile;

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    // The CA file is the project's, not the network's: a wrong one is said even offline.
    let mut out: Vec<Outcome> = ca_file_problem(ctx).into_iter().collect();
    let desktop = desktop(ctx);
    // A recorded machine's network is not this one's.
    if ctx.host.env("ONRAMP_NETWORK") == Some("off") || ctx.host.sysroot_overridden() {
        out.extend(desktop);
        return out;
    }
    let setup = setup(ctx);
    out.push(proxies(ctx, &setup));
    out.extend(settings(ctx));
    out.extend(desktop);
    // The native backend pulls no image: only the package index matters to it.
    let images = match ctx.profile.backend {
        Some(crate::profile::Backend::Native) => Vec::new(),
        _ => crate::images::needed(&ctx.profile),
    };
    let mut per_registry: Vec<(String, String)> = Vec::new();
    for image in &images {
        let (registry, _, _) = netdiag::split_image(image);
        if !per_registry.iter().any(|(r, _)| *r == registry) {
            per_registry.push((registry, image.clone()));
        }
    }
    let insecure = ctx
        .engine_info()
        .map(|i| i.net.insecure_registries.clone())
        .unwrap_or_default();
    let registries = per_registry
        .iter()
        .map(|(_, image)| netdiag::reach_registry(&ctx.host, &setup, image, &insecure));
    let index = index(ctx, &setup);
    let (found, index) =
        futures_util::future::join(futures_util::future::join_all(registries), index).await;
    out.extend(found.iter().map(|f| outcome(ctx, &setup, f, None)));
    out.extend(index.map(|(f, trust)| outcome(ctx, &setup, &f, Some(&trust))));
    out
}

/// On an engine in a VM or on another OS (Docker Desktop, colima, Rancher Desktop, a WSL2
/// distro's engine), what its trust and proxy still lack, from this run's facts: its own store
/// cannot be asked from here, and it fails the same way the host's reach does.
fn desktop(ctx: &Ctx) -> Option<Outcome> {
    let engine = crate::install::net_desktop::engine(&ctx.machine.facts)?;
    let whys: Vec<String> = ctx
        .plan()
        .todo()
        // python-trust is the project's (pip's bundle), not the engine's.
        .filter(|s| crate::install::answers(&s.id).contains(&"network") && s.id != "python-trust")
        .map(|s| s.why.clone())
        .collect();
    let fix = ctx.fix_for("network").filter(|_| !whys.is_empty())?;
    let detail = format!("{}: {}", engine.name(), whys.join("; "));
    Some(Outcome::new("network:desktop", Status::Warn, detail).remedy(fix))
}

/// What the profile and the environment want of the network, for the installer's plan.
pub fn net_wants(host: &Host, p: &Profile, dir: &Path) -> NetWants {
    if host.env("ONRAMP_NETWORK") == Some("off") {
        return NetWants::default();
    }
    let user = netdiag::proxy::from_env(|k| host.env(k).map(String::from), "");
    let named = p.network.proxy.clone();
    let values = [&named, &user.http, &user.https];
    for url in values.into_iter().flatten() {
        netdiag::proxy::register_password(url);
    }
    let ca = p.network.ca_file.as_deref().and_then(|f| {
        let path = dir.join(f);
        let pem = crate::fsx::read_regular(&path, 1 << 20).ok()?;
        Ca::from_file(path.display().to_string(), &pem)
    });
    let python = ca.as_ref().map(|ca| {
        let usable = crate::python::venv_python(&dir.join(".venv"), host.os()).exists();
        let package = p
            .sdk
            .packages
            .as_ref()
            .and_then(|ps| ps.first())
            .map(|first| crate::sdk::deps::requirement(first).0);
        netdiag::pip::project(host, dir, Path::new(&ca.path), usable, package)
    });
    let mut registries: Vec<String> = Vec::new();
    for image in crate::images::needed(p) {
        let (r, _, _) = netdiag::split_image(&image);
        // Loopback registries are insecure to the engine: no certificate is checked there.
        let host = r.rsplit_once(':').map_or(r.as_str(), |(h, _)| h);
        if r != "docker.io" && !netdiag::proxy::is_loopback(host) && !registries.contains(&r) {
            registries.push(r);
        }
    }
    NetWants {
        https_proxy: named.clone().or(user.https.clone()).or(user.http.clone()),
        http_proxy: named.or(user.http).or(user.https),
        no_proxy: user.no_proxy,
        ca,
        registries,
        mirrors: p.network.mirrors.clone().unwrap_or_default(),
        python,
    }
}

/// A `[network] ca_file` that cannot be read or holds no certificate: without this, every step
/// that installs the root would be left out of the plan without a word.
fn ca_file_problem(ctx: &Ctx) -> Option<Outcome> {
    let path = ca_file(ctx)?;
    let shown = path.display();
    let why = match crate::fsx::read_regular(&path, 1 << 20) {
        Err(e) => format!("the CA file `[network] ca_file` names cannot be read: {e}"),
        Ok(bytes) if Ca::from_file(shown.to_string(), &bytes).is_none() => {
            format!("{shown} (`[network] ca_file`) holds no certificate (PEM or DER)")
        }
        Ok(_) => return None,
    };
    Some(
        Outcome::new("network:ca-file", Status::Fail, why).remedy(format!(
            "save the company's root certificate as PEM (`-----BEGIN CERTIFICATE-----`) at {shown}, or name the file that holds it in onramp.toml (`[network] ca_file`), then run `onramp doctor --fix`"
        )),
    )
}

/// The CA file the profile names, relative to the project.
pub fn ca_file(ctx: &Ctx) -> Option<PathBuf> {
    let named = ctx.profile.network.ca_file.as_deref()?;
    Some(ctx.dir.join(named))
}

fn setup(ctx: &Ctx) -> Setup {
    let reported = ctx.engine_info().map(|i| netdiag::EngineProxy {
        http: i.net.http_proxy.clone(),
        https: i.net.https_proxy.clone(),
        no_proxy: i.net.no_proxy.clone(),
        version: Some(i.version.clone()),
    });
    let podman = ctx.machine.facts.podman_endpoint();
    Setup::gather(
        &ctx.host,
        reported.as_ref(),
        podman,
        ca_file(ctx).as_deref(),
        &ctx.dir,
    )
}

/// The proxy in effect for you, the engine and pip, and whether they agree.
fn proxies(ctx: &Ctx, s: &Setup) -> Outcome {
    let detail = format!(
        "you: {}; engine: {}; pip: {}",
        s.user.describe(),
        s.engine.describe(),
        s.pip_proxy.describe()
    );
    let named = ctx.profile.network.proxy.as_deref();
    let detail = match named {
        Some(p) => format!(
            "{detail}; wanted for the engine: {}",
            netdiag::proxy::masked(p)
        ),
        None => detail,
    };
    if proxies_agree(s, named) {
        return Outcome::new("network:proxy", Status::Pass, detail);
    }
    let fix = ctx.fix_for("network").unwrap_or_else(|| {
        let engine = if s.podman {
            "Podman's (`[engine] env` in a containers.conf drop-in)"
        } else {
            "the engine's (`proxies` in /etc/docker/daemon.json)"
        };
        format!("give every client the same proxy: `onramp doctor --fix` writes {engine}; pip reads HTTPS_PROXY or `proxy` in pip.conf")
    });
    Outcome::new(
        "network:proxy",
        Status::Warn,
        format!("the proxies differ: {detail}"),
    )
    .remedy(fix)
}

/// Whether the proxies agree: the engine's is the one `[network] proxy` names (profile or team
/// file) when one is named, else yours; pip's is yours.
fn proxies_agree(s: &Setup, named: Option<&str>) -> bool {
    match named {
        Some(p) => netdiag::proxy::same_proxy(Some(p), s.engine.https.as_deref()),
        None => s.user.agrees(&s.engine) && s.user.agrees(&s.pip_proxy),
    }
}

/// Where each network setting in effect came from: the profile, the team's network file, or
/// the environment (a proxy neither names); nothing when no setting is made anywhere.
fn settings(ctx: &Ctx) -> Option<Outcome> {
    let n = &ctx.profile.network;
    let mut parts: Vec<String> = n
        .origins
        .iter()
        .map(|o| match o.setting.as_str() {
            "team file" => format!("team file {} ({})", o.value, o.from),
            _ => format!("{} = {} ({})", o.setting, o.value, o.from),
        })
        .collect();
    if n.proxy.is_none() {
        let env = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
            .into_iter()
            .find_map(|k| Some((k, ctx.host.env(k).filter(|v| !v.is_empty())?)));
        if let Some((k, v)) = env {
            parts.push(format!("proxy = {v} (environment {k})"));
        }
    }
    if parts.is_empty() {
        return None;
    }
    let detail = crate::secrets::mask_text(&parts.join("; "));
    Some(Outcome::new("network:settings", Status::Pass, detail))
}

/// Reach the index pip would use, when the profile installs packages, with the roots the pip
/// that will install trusts; and which roots those are, in words.
async fn index(ctx: &Ctx, s: &Setup) -> Option<(Finding, String)> {
    let package = ctx.profile.sdk.packages.as_ref()?.first()?.clone();
    let package = crate::sdk::deps::requirement(&package).0;
    let mut s = s.clone();
    s.pip_facts = pip_facts(ctx).await;
    let url = match &s.pip.index_url {
        Some(u) => u.clone(),
        None => s.pip_facts.as_ref()?.index.clone()?,
    };
    let venv = s.pip_facts.as_ref().is_some_and(|f| f.venv);
    let trust = s.pip_trust(&ctx.host).describe(venv);
    Some((
        netdiag::reach_index(&ctx.host, &s, &url, &package).await,
        trust,
    ))
}

/// What the interpreter that will install says of its pip: the project venv's when it is
/// there, else the one a new venv would be made from.
async fn pip_facts(ctx: &Ctx) -> Option<netdiag::pip::PipFacts> {
    let venv_py = crate::python::venv_python(&ctx.dir.join(".venv"), ctx.host.os());
    let (program, args, venv) = if venv_py.exists() {
        (venv_py, Vec::new(), true)
    } else {
        let i = ctx.machine.python.interpreter.as_ref()?;
        (i.program.clone(), i.args.clone(), false)
    };
    let cmd = Cmd::new(&program, Duration::from_secs(10))
        .args(&args)
        .args(["-I", "-c", netdiag::pip::QUERY]);
    let out = ctx.host.run(&cmd).await.ok()?;
    netdiag::pip::PipFacts::parse(&out.stdout, venv)
}

fn outcome(ctx: &Ctx, s: &Setup, f: &Finding, trust: Option<&str>) -> Outcome {
    let id = format!("network:{}", f.target);
    let who = if f.client == "pip" {
        "pip"
    } else {
        "the engine"
    };
    let via = f
        .proxy
        .as_ref()
        .map(|p| format!(" through {p}"))
        .unwrap_or_else(|| " directly".into());
    if let Some(p) = f.proxy.as_deref().filter(|p| !checkable_proxy(p)) {
        return Outcome::new(
            &id,
            Status::Warn,
            format!("{who} goes to {} through {p}, which onramp cannot go through to check it (only http:// proxies)", f.url),
        )
        .remedy("check by hand that the proxy lets this through (pip needs PySocks for a SOCKS proxy: `pip install pysocks`)");
    }
    let Some(fault) = &f.fault else {
        let mut detail = format!("{who} reaches {}{via}", f.url);
        if let Some(b) = &f.budget {
            detail.push_str(&budget_text(b));
        }
        if let Some(t) = trust {
            detail.push_str(&format!("; {t}"));
        }
        return Outcome::new(&id, Status::Pass, detail);
    };
    // Which roots pip used, for a certificate failure: it names the right fix.
    let trust = trust
        .filter(|_| fault.class().starts_with("tls"))
        .map(|t| format!("; {t}"))
        .unwrap_or_default();
    let detail = format!(
        "{who} cannot use {}{via}: {}{trust} [{}]",
        f.url,
        fault.describe(),
        fault.class()
    );
    let fix = ctx
        .fix_for("network")
        .filter(|_| planned_for(fault, f.client))
        .unwrap_or_else(|| remedy(fault, f, s.ca_file.is_some()));
    Outcome::new(&id, Status::Fail, detail).remedy(fix)
}

/// Whether the probe goes through this proxy: an http one, written with or without its scheme
/// (a SOCKS proxy is not spoken, so a probe "through" it would have gone around it).
fn checkable_proxy(p: &str) -> bool {
    match p.split_once("://") {
        Some((scheme, _)) => scheme.eq_ignore_ascii_case("http"),
        None => true,
    }
}

/// Faults the installer's network steps answer (a proxy, a root, mirrors). Pip's way is yours
/// (your proxy, the project's trust): only a root the plan installs helps it; the engine's
/// proxy, mirrors and restart do not.
fn planned_for(fault: &Fault, client: &str) -> bool {
    if client == "pip" {
        return matches!(fault, Fault::UnknownAuthority { .. });
    }
    matches!(
        fault,
        Fault::UnknownAuthority { .. }
            | Fault::ProxyAuth { .. }
            | Fault::Refused { .. }
            | Fault::Timeout { .. }
            | Fault::Dns { .. }
            | Fault::RateLimited { .. }
    )
}

fn budget_text(b: &netdiag::Budget) -> String {
    match (b.remaining_count(), b.limit_count()) {
        (Some(r), Some(l)) => format!("; pull budget: {r} of {l} left"),
        (Some(r), None) => format!("; pull budget: {r} left"),
        _ => String::new(),
    }
}

/// What to do about a fault that no plan step fixes.
fn remedy(fault: &Fault, f: &Finding, named_ca: bool) -> String {
    let pip = f.client == "pip";
    match fault {
        Fault::Dns { host, .. } => format!(
            "check the name {host} (a typo in the image or index URL?) and this machine's DNS; if only a proxy can resolve it, set HTTPS_PROXY and run `onramp doctor --fix`"
        ),
        Fault::Refused { .. } | Fault::Timeout { .. } if pip => "check the index URL (`PIP_INDEX_URL`, `index-url` in pip.conf); behind a company proxy, set HTTPS_PROXY (and NO_PROXY) or `proxy` in pip.conf".into(),
        Fault::Refused { .. } | Fault::Timeout { .. } => "behind a company proxy? set HTTPS_PROXY (and NO_PROXY) and run `onramp doctor --fix` to give the engine the same; or name a registry mirror in onramp.toml (`[network] mirrors`)".into(),
        Fault::ProxyAuth { .. } => "put your proxy credentials in the proxy URL (HTTPS_PROXY=http://USER:PASSWORD@proxy:PORT), then run `onramp doctor --fix` so the engine uses the same".into(),
        Fault::ProxyRefused { .. } => "ask whoever runs the proxy whether this host is allowed, or add it to NO_PROXY if it is reachable directly".into(),
        Fault::UnknownAuthority { issuer, .. } if named_ca => format!(
            "the CA file named in onramp.toml does not hold \"{issuer}\": name the file that does (`[network] ca_file`)"
        ),
        Fault::UnknownAuthority { issuer, .. } => format!(
            "save the root \"{issuer}\" (your IT department's, as PEM) and name it in onramp.toml (`[network] ca_file = \"company-root.pem\"`), then run `onramp doctor --fix`{}",
            if pip { "" } else { " (it installs it into the OS store and the engine's trust)" }
        ),
        Fault::NotYetValid { .. } => "set this machine's clock: turn on network time (`timedatectl set-ntp true`, or the OS's date settings), then try again".into(),
        Fault::Expired { .. } | Fault::WrongName { .. } => "the server's certificate is wrong, not your machine: tell whoever runs it".into(),
        Fault::RateLimited { .. } => "log in (`docker login`: authenticated pulls have a higher limit) or use a mirror (`[network] mirrors` in onramp.toml)".into(),
        Fault::AuthRequired { .. } if pip => "give pip the index's credentials (in the index URL, or with keyring)".into(),
        Fault::AuthRequired { what, .. } => format!("log in: `docker login {}`", what.split('/').next().unwrap_or(what)),
        Fault::NotTls { .. } => "the registry speaks plain HTTP: list it in the engine's `insecure-registries` only if that is what your team intends".into(),
        Fault::Other { .. } => "`onramp report` collects the details for whoever runs the network".into(),
    }
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;
    use crate::host::Os;
    use crate::profile::{Choice, ComposeOptions, load_with};

    /// `[network] proxy` (profile or team file) is the engine's proxy: an engine without it
    /// does not agree, though you and pip have none (the plan restarts the engine with it).
    #[test]
    fn the_engine_must_use_the_proxy_the_network_settings_name() {
        let named = Some("http://team:pw@proxy.corp.example:3128");
        let mut s = Setup::default();
        assert!(proxies_agree(&s, None));
        assert!(!proxies_agree(&s, named));
        s.engine.https = Some("http://xxxxx:xxxxx@proxy.corp.example:3128".into());
        assert!(proxies_agree(&s, named));
        assert!(
            !proxies_agree(&s, None),
            "the engine differs from you and pip"
        );
    }

    /// pip refused by your proxy is not fixed by restarting the engine: its remedy is its own,
    /// while the engine's refusal is answered by the plan.
    #[test]
    fn pip_s_refused_proxy_is_not_answered_by_the_engine_s_steps() {
        let refused = Fault::Refused {
            addr: "127.0.0.1:9".into(),
        };
        assert!(!planned_for(&refused, "pip"));
        assert!(planned_for(&refused, "engine"));
    }

    /// A SOCKS proxy is not spoken by the probe: what it found did not go through the proxy,
    /// so it is said instead of passed.
    #[test]
    fn only_an_http_proxy_is_checked_through() {
        assert!(checkable_proxy("http://alice:***@proxy:3128"));
        assert!(checkable_proxy("alice:***@proxy:3128"));
        assert!(!checkable_proxy("socks5://alice:***@127.0.0.1:9"));
        assert!(!checkable_proxy("socks5h://proxy:1080"));
    }

    #[test]
    fn the_plan_trusts_the_mapped_registries_and_uses_the_team_file_s_proxy_and_mirrors() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::write(
            dir.join("onramp-network.toml"),
            "[network]\nproxy = \"http://proxy.corp.example:3128\"\nmirrors = [\"https://mirror.corp.example\"]\n[network.images]\n\"docker.io\" = \"registry.corp.example/hub\"\n\"ghcr.io\" = \"ghcr.corp.example:8443/ghcr\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("onramp.toml"),
            "extends = \"minimal\"\n[services.redis]\nimage = \"ghcr.io/team/redis:7\"\n",
        )
        .unwrap();
        let none = |_: &str| None;
        let opts = ComposeOptions {
            dir,
            file: None,
            profiles: Vec::new(),
            named: Vec::new(),
            env: &none,
            import_only: false,
        };
        let p = load_with(&Choice::ProjectFile(dir.join("onramp.toml")), &opts)
            .unwrap()
            .profile;
        let w = net_wants(&Host::with("/", &[], Os::Linux), &p, dir);
        assert_eq!(
            w.registries,
            ["registry.corp.example", "ghcr.corp.example:8443"],
            "engine-trust steps for the company's registries, none for Docker Hub or ghcr.io"
        );
        assert_eq!(
            w.https_proxy.as_deref(),
            Some("http://proxy.corp.example:3128")
        );
        assert_eq!(w.mirrors, ["https://mirror.corp.example"]);
    }
}
