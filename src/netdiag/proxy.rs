//! Which proxy a client uses for a URL, read from where each client reads it: the user's
//! environment, the engine (`proxies` in daemon.json, a systemd drop-in's `Environment=`, the
//! engine's own answer), pip (`proxy` in pip.conf, `PIP_PROXY`). Parsing is pure; the
//! password in a proxy URL is never shown (`masked`).

use std::net::IpAddr;

use serde::Serialize;

/// One client's proxy settings and where they came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProxyConf {
    pub http: Option<String>,
    pub https: Option<String>,
    pub no_proxy: Option<String>,
    /// Where these were read (`environment`, `/etc/docker/daemon.json`, ...).
    pub source: String,
}

/// Whose rules pick the proxy: Go's (the engines) never proxies loopback names and addresses;
/// Python's (pip) proxies whatever `NO_PROXY` does not exclude.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    Go,
    Python,
}

impl ProxyConf {
    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// The proxy for a request to `host` over `scheme`, or `None` for a direct connection.
    pub fn for_url(&self, scheme: &str, host: &str, port: u16, rules: Rules) -> Option<&str> {
        let proxy = if scheme == "https" {
            self.https.as_deref()
        } else {
            self.http.as_deref()
        }?;
        if rules == Rules::Go && is_loopback(host) {
            return None;
        }
        if self
            .no_proxy
            .as_deref()
            .is_some_and(|n| excluded(n, host, port))
        {
            return None;
        }
        Some(proxy)
    }

    /// The settings as a person may read them: no password.
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return format!("none ({})", self.source);
        }
        let mut parts = Vec::new();
        if let Some(h) = &self.https {
            parts.push(format!("HTTPS_PROXY={}", masked(h)));
        }
        if let Some(h) = &self.http
            && self.https.as_ref() != Some(h)
        {
            parts.push(format!("HTTP_PROXY={}", masked(h)));
        }
        if let Some(n) = &self.no_proxy {
            parts.push(format!("NO_PROXY={n}"));
        }
        format!("{} ({})", parts.join(" "), self.source)
    }

    /// The same proxy for HTTPS (what registries and the index are reached over)?
    pub fn agrees(&self, other: &ProxyConf) -> bool {
        same_proxy(self.https.as_deref(), other.https.as_deref())
    }
}

/// The credentials the Docker engine shows in place of a proxy's own (`docker info` masks them).
const ENGINE_MASK: &str = "xxxxx:xxxxx@";

/// Two proxy settings name the same proxy: compared as the engines read them (no surrounding
/// space, no trailing slash, case aside). A side showing the engine's masked credentials
/// (`http://xxxxx:xxxxx@proxy:3128`, as `docker info` reports any `user:password@`) matches the
/// same proxy with any credentials: which ones the engine holds cannot be read back that way.
pub fn same_proxy(a: Option<&str>, b: Option<&str>) -> bool {
    let norm = |p: &str| p.trim().trim_end_matches('/').to_ascii_lowercase();
    let (Some(a), Some(b)) = (a.map(norm), b.map(norm)) else {
        return a.is_none() && b.is_none();
    };
    if a == b {
        return true;
    }
    let masked = |p: &str| -> String {
        let Some((scheme, rest)) = p.split_once("://") else {
            return p.to_string();
        };
        let end = rest.find('/').unwrap_or(rest.len());
        match rest[..end].rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://{ENGINE_MASK}{host}{}", &rest[end..]),
            None => p.to_string(),
        }
    };
    (a.contains(ENGINE_MASK) || b.contains(ENGINE_MASK)) && masked(&a) == masked(&b)
}

/// `localhost`, `*.localhost` and loopback addresses, which Go's proxy logic never proxies.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.to_ascii_lowercase().ends_with(".localhost")
        || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `NO_PROXY` excludes `host:port` (`*`, domains with or without a leading dot, exact
/// hosts, `host:port`, IP addresses and CIDR ranges).
pub fn excluded(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host.to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|e| entry_matches(&e, &host, port))
}

fn entry_matches(entry: &str, host: &str, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((net, bits)) = entry.split_once('/') {
        return cidr_contains(net, bits, host);
    }
    let (name, want_port) = match entry.rsplit_once(':') {
        Some((n, p)) if !n.contains(':') => (n, p.parse::<u16>().ok()),
        _ => (entry, None),
    };
    if want_port.is_some_and(|p| p != port) {
        return false;
    }
    let name = name.trim_start_matches("*.");
    match name.strip_prefix('.') {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => host == name || host.ends_with(&format!(".{name}")),
    }
}

fn cidr_contains(net: &str, bits: &str, host: &str) -> bool {
    let (Ok(net), Ok(bits), Ok(ip)) = (
        net.parse::<IpAddr>(),
        bits.parse::<u32>(),
        host.parse::<IpAddr>(),
    ) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// A URL with its userinfo's password replaced by `***`; a userinfo without a password (a
/// token given as the user name) is all replaced.
pub fn masked(url: &str) -> String {
    let (scheme, rest) = split_scheme(url);
    let mask = crate::secrets::MASK;
    match rest.rsplit_once('@') {
        Some((info, host)) => match info.split_once(':') {
            Some((user, _)) => format!("{scheme}{user}:{mask}@{host}"),
            None => format!("{scheme}{mask}@{host}"),
        },
        None => url.to_string(),
    }
}

/// `("http://", "user:pw@host:port")`; a value without a scheme (`user:pw@host:port`, as curl
/// and pip take it) is all rest.
fn split_scheme(url: &str) -> (&str, &str) {
    match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    }
}

/// Register the password in a proxy value as a secret, so that it is masked wherever it
/// appears (a restart line, a drop-in shown in the plan). The userinfo runs to the last `@`:
/// a password may hold `/`, `@` or a space, and the value may have no scheme. A userinfo
/// without a password is a token given as the user name, all of it secret.
pub fn register_password(url: &str) {
    let (_, rest) = split_scheme(url);
    if let Some((info, _)) = rest.rsplit_once('@') {
        crate::secrets::register(info.split_once(':').map_or(info, |(_, pw)| pw));
    }
}

/// The proxy the environment gives (uppercase first, as Go and Python read it).
pub fn from_env(get: impl Fn(&str) -> Option<String>, source: &str) -> ProxyConf {
    let any = |names: &[&str]| names.iter().find_map(|n| get(n).filter(|v| !v.is_empty()));
    ProxyConf {
        http: any(&["HTTP_PROXY", "http_proxy"]),
        https: any(&["HTTPS_PROXY", "https_proxy"]),
        no_proxy: any(&["NO_PROXY", "no_proxy"]),
        source: source.into(),
    }
}

/// `proxies` of a daemon.json (`http-proxy`, `https-proxy`, `no-proxy`).
pub fn from_daemon_json(text: &str, source: &str) -> ProxyConf {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let p = &v["proxies"];
    let s = |k: &str| p[k].as_str().filter(|s| !s.is_empty()).map(String::from);
    ProxyConf {
        http: s("http-proxy"),
        https: s("https-proxy"),
        no_proxy: s("no-proxy"),
        source: source.into(),
    }
}

/// The first proxy a unit's systemd drop-ins (`DIR/*.conf`, in systemd's order) set.
pub fn from_systemd_dropins(host: &crate::host::Host, dir: &str) -> Option<ProxyConf> {
    let mut names = host.sys_list(dir);
    names.sort();
    names
        .iter()
        .filter(|n| n.ends_with(".conf"))
        .filter_map(|n| {
            let path = format!("{dir}/{n}");
            host.sys_read(&path).map(|t| from_systemd(&t, &path))
        })
        .find(|c| !c.is_empty())
}

/// The proxy variables of a systemd unit or drop-in's `Environment=` lines.
pub fn from_systemd(text: &str, source: &str) -> ProxyConf {
    let mut vars = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("Environment=") else {
            continue;
        };
        for word in split_quoted(rest) {
            if let Some((k, v)) = word.split_once('=') {
                vars.push((k.to_string(), v.to_string()));
            }
        }
    }
    from_vars(&vars, source)
}

/// The proxy in `vars` (`NAME=value` pairs, the last of a name winning), as Go reads it.
pub fn from_vars(vars: &[(String, String)], source: &str) -> ProxyConf {
    from_env(
        |k| {
            vars.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        },
        source,
    )
}

/// Words of an `Environment=` value: space-separated, double or single quotes group, a
/// backslash escapes the next character and `%%` is one `%` (systemd.syntax).
fn split_quoted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => cur.extend(chars.next()),
            (_, '%') if chars.peek() == Some(&'%') => {
                chars.next();
                cur.push('%');
            }
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// pip's settings that reach the network, from its configuration files and environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PipConf {
    pub index_url: Option<String>,
    pub proxy: Option<String>,
    pub cert: Option<String>,
    /// Where each was read, for the report.
    pub sources: Vec<String>,
}

/// pip.conf keys (`[global]` then `[install]`), later files overriding earlier ones.
pub fn pip_conf(files: &[(String, String)], env: impl Fn(&str) -> Option<String>) -> PipConf {
    let mut c = PipConf::default();
    for (path, text) in files {
        let mut section = String::new();
        for line in text.lines() {
            let l = line.trim();
            if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                section = s.trim().to_ascii_lowercase();
                continue;
            }
            if !matches!(section.as_str(), "global" | "install" | "download") {
                continue;
            }
            let Some((k, v)) = l.split_once(['=', ':']) else {
                continue;
            };
            let v = v.trim().to_string();
            let slot = match k.trim().to_ascii_lowercase().replace('_', "-").as_str() {
                "index-url" | "i" => &mut c.index_url,
                "proxy" => &mut c.proxy,
                "cert" => &mut c.cert,
                _ => continue,
            };
            *slot = Some(v);
            if !c.sources.contains(path) {
                c.sources.push(path.clone());
            }
        }
    }
    for (var, slot) in [
        ("PIP_INDEX_URL", &mut c.index_url),
        ("PIP_PROXY", &mut c.proxy),
        ("PIP_CERT", &mut c.cert),
    ] {
        if let Some(v) = env(var).filter(|v| !v.is_empty()) {
            *slot = Some(v);
            c.sources.push(var.to_string());
        }
    }
    c
}

/// pip's proxy: its own `proxy` setting for both schemes, else the environment's.
pub fn pip_proxy(pip: &PipConf, user: &ProxyConf) -> ProxyConf {
    match &pip.proxy {
        Some(p) => ProxyConf {
            http: Some(p.clone()),
            https: Some(p.clone()),
            no_proxy: user.no_proxy.clone(),
            source: "pip's proxy setting".into(),
        },
        None => ProxyConf {
            source: "pip: from the environment".into(),
            ..user.clone()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_masked_credentials_match_the_same_proxy_with_any() {
        let engine = Some("http://xxxxx:xxxxx@proxy.corp:3128");
        assert!(same_proxy(
            Some("http://alice:s3cret@proxy.corp:3128/"),
            engine
        ));
        assert!(same_proxy(engine, Some("http://bob@Proxy.corp:3128")));
        assert!(!same_proxy(Some("http://alice:s3cret@other:3128"), engine));
        assert!(!same_proxy(Some("http://proxy.corp:3128"), engine));
        assert!(!same_proxy(
            Some("http://alice:one@proxy.corp:3128"),
            Some("http://alice:two@proxy.corp:3128")
        ));
        assert!(same_proxy(None, None));
        assert!(!same_proxy(Some("http://proxy.corp:3128"), None));
        assert!(same_proxy(
            Some(" http://proxy.corp:3128/ "),
            Some("http://proxy.corp:3128")
        ));
    }

    fn conf(https: &str, no: &str) -> ProxyConf {
        ProxyConf {
            http: Some(https.into()),
            https: Some(https.into()),
            no_proxy: (!no.is_empty()).then(|| no.into()),
            source: "t".into(),
        }
    }

    /// Proxy values as people write them: without a scheme (curl and pip take `user:pw@host`),
    /// with a `/`, a space or an `@` in the password. None of it may be printed.
    #[test]
    fn a_proxy_password_is_masked_however_the_value_is_written() {
        for (url, pw) in [
            ("alice:NoScheme77@127.0.0.1:3999", "NoScheme77"),
            ("http://alice:pa/ss99x@127.0.0.1:3999", "pa/ss99x"),
            ("http://alice:Sp ace99@127.0.0.1:3999", "Sp ace99"),
            ("http://alice:p@ss99x@127.0.0.1:3999", "p@ss99x"),
            ("bob:pw1@proxy.corp:3128", "pw1"),
        ] {
            let shown = masked(url);
            assert!(!shown.contains(pw), "{url} shown as {shown}");
            assert!(shown.ends_with("@127.0.0.1:3999") || shown.ends_with("@proxy.corp:3128"));
            register_password(url);
            let line = format!("restart: HTTPS_PROXY={url} dockerd");
            if pw.len() >= 6 {
                let out = crate::secrets::mask_text(&line);
                assert!(!out.contains(pw), "{line} printed as {out}");
            }
        }
        assert_eq!(masked("http://proxy.corp:3128/"), "http://proxy.corp:3128/");
        assert_eq!(masked("proxy.corp:3128"), "proxy.corp:3128");
    }

    /// A proxy that takes a token as its user name (`http://TOKEN@proxy:3128`, no password):
    /// the whole userinfo is the secret, as `secrets` already treats a URL's.
    #[test]
    fn a_proxy_token_given_as_the_user_name_is_never_shown() {
        let url = "http://tok3nWithoutColon@proxy.corp:3128";
        assert_eq!(masked(url), "http://***@proxy.corp:3128");
        assert_eq!(
            masked("tok3nNoScheme@proxy.corp:3128"),
            "***@proxy.corp:3128"
        );
        register_password(url);
        let out = crate::secrets::mask_text("restart: HTTPS_PROXY=tok3nWithoutColon@p:1 dockerd");
        assert!(!out.contains("tok3nWithoutColon"), "{out}");
    }

    #[test]
    fn go_never_proxies_loopback_but_python_does() {
        let c = conf("http://proxy:3128", "");
        assert_eq!(c.for_url("https", "127.0.0.1", 5000, Rules::Go), None);
        assert_eq!(c.for_url("https", "localhost", 5000, Rules::Go), None);
        assert_eq!(
            c.for_url("https", "127.0.0.1", 5000, Rules::Python),
            Some("http://proxy:3128")
        );
        assert_eq!(
            c.for_url("https", "registry.onramp.test", 443, Rules::Go),
            Some("http://proxy:3128")
        );
    }

    #[test]
    fn no_proxy_matches_domains_hosts_ports_and_ranges() {
        let n = ".corp.example,registry.local:5000,10.0.0.0/8,exact.host";
        assert!(excluded(n, "a.corp.example", 443));
        assert!(!excluded(n, "corp.example.evil", 443));
        assert!(excluded(n, "registry.local", 5000));
        assert!(!excluded(n, "registry.local", 443));
        assert!(excluded(n, "10.1.2.3", 443));
        assert!(!excluded(n, "11.1.2.3", 443));
        assert!(excluded(n, "exact.host", 1));
        assert!(excluded(n, "sub.exact.host", 1));
        assert!(excluded("*", "anything", 1));
    }

    #[test]
    fn a_proxy_password_is_never_shown() {
        assert_eq!(
            masked("http://alice:s3cr3t-pw@proxy.corp:3128"),
            "http://alice:***@proxy.corp:3128"
        );
        assert_eq!(masked("http://proxy:3128"), "http://proxy:3128");
        let c = conf("http://alice:s3cr3t-pw@proxy.corp:3128", "localhost");
        assert!(!c.describe().contains("s3cr3t"), "{}", c.describe());
    }

    #[test]
    fn engine_proxies_come_from_daemon_json_and_systemd_drop_ins() {
        let d = from_daemon_json(
            r#"{"debug":true,"proxies":{"https-proxy":"http://p:1","no-proxy":"x"}}"#,
            "daemon.json",
        );
        assert_eq!(d.https.as_deref(), Some("http://p:1"));
        assert_eq!(d.no_proxy.as_deref(), Some("x"));
        let s = from_systemd(
            "[Service]\nEnvironment=\"HTTPS_PROXY=http://p:1\" \"NO_PROXY=localhost,127.0.0.1\"\nEnvironment=HTTP_PROXY=http://p:2\n",
            "drop-in",
        );
        assert_eq!(s.https.as_deref(), Some("http://p:1"));
        assert_eq!(s.http.as_deref(), Some("http://p:2"));
        assert_eq!(s.no_proxy.as_deref(), Some("localhost,127.0.0.1"));
        assert!(d.agrees(&s));
        assert!(!d.agrees(&ProxyConf::default()));
    }

    #[test]
    fn pip_reads_its_files_then_its_environment() {
        let files = vec![
            (
                "/etc/pip.conf".to_string(),
                "[global]\nindex-url = https://a/simple\ncert = /etc/a.pem\n".to_string(),
            ),
            (
                "~/.config/pip/pip.conf".to_string(),
                "[install]\nproxy = http://p:3128\n".to_string(),
            ),
        ];
        let c = pip_conf(&files, |k| {
            (k == "PIP_INDEX_URL").then(|| "https://b/simple".to_string())
        });
        assert_eq!(c.index_url.as_deref(), Some("https://b/simple"));
        assert_eq!(c.cert.as_deref(), Some("/etc/a.pem"));
        assert_eq!(c.proxy.as_deref(), Some("http://p:3128"));
        let p = pip_proxy(&c, &ProxyConf::default());
        assert_eq!(p.https.as_deref(), Some("http://p:3128"));
    }
}
