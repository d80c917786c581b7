//! One catalogue of service kinds: for each kind (postgres, redis, neo4j, chroma, http, tcp)
//! its default port, where its credentials come from (the official images' env contracts,
//! command flags such as `--requirepass`, the probe settings), and the one `Connection` that
//! the probe, the `.env` writer and the compose healthcheck all read, so they cannot disagree.

use std::collections::BTreeMap;

use crate::profile::{ProbeKind, Profile, Service};

/// What the catalogue knows of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub kind: ProbeKind,
    /// The port the official image listens on.
    pub default_port: Option<u16>,
    /// The user when nothing names one.
    pub default_user: Option<&'static str>,
    /// The URL scheme of its connection string.
    pub scheme: Option<&'static str>,
}

/// The catalogue itself: data, one row per kind.
pub const KINDS: &[Kind] = &[
    Kind {
        kind: ProbeKind::Postgres,
        default_port: Some(5432),
        default_user: Some("postgres"),
        scheme: Some("postgresql"),
    },
    Kind {
        kind: ProbeKind::Redis,
        default_port: Some(6379),
        default_user: None,
        scheme: Some("redis"),
    },
    Kind {
        kind: ProbeKind::Neo4j,
        default_port: Some(7687),
        default_user: Some("neo4j"),
        scheme: Some("bolt"),
    },
    Kind {
        kind: ProbeKind::Chroma,
        default_port: Some(8000),
        default_user: None,
        scheme: Some("http"),
    },
    Kind {
        kind: ProbeKind::Http,
        default_port: None,
        default_user: None,
        scheme: Some("http"),
    },
    Kind {
        kind: ProbeKind::Tcp,
        default_port: None,
        default_user: None,
        scheme: None,
    },
];

/// The probe kind an image stands for, from its repository name: the official images and the
/// common derivatives (pgvector, PostGIS, TimescaleDB; Valkey, Redis Stack).
pub fn kind_of_image(image: &str) -> Option<ProbeKind> {
    let repo = image.rsplit('/').next().unwrap_or(image);
    let repo = repo
        .split([':', '@'])
        .next()
        .unwrap_or(repo)
        .to_ascii_lowercase();
    let table: &[(&[&str], ProbeKind)] = &[
        (
            &["postgres", "pgvector", "postgis", "timescale"],
            ProbeKind::Postgres,
        ),
        (&["redis", "valkey"], ProbeKind::Redis),
        (&["neo4j"], ProbeKind::Neo4j),
        (&["chroma"], ProbeKind::Chroma),
    ];
    table
        .iter()
        .find(|(names, _)| names.iter().any(|n| repo.contains(n)))
        .map(|(_, k)| *k)
}

/// The kind of a service the native backend can run from wheels (PostgreSQL, Redis, Chroma),
/// from its probe or else its image; `None` for every other service.
pub fn native_kind(svc: &Service) -> Option<ProbeKind> {
    let kind = match &svc.probe {
        Some(p) => Some(p.kind),
        None => svc.image.as_deref().and_then(kind_of_image),
    }?;
    matches!(
        kind,
        ProbeKind::Postgres | ProbeKind::Redis | ProbeKind::Chroma
    )
    .then_some(kind)
}

/// The catalogue row of a kind.
pub fn of(kind: ProbeKind) -> &'static Kind {
    KINDS
        .iter()
        .find(|k| k.kind == kind)
        .unwrap_or(&KINDS[KINDS.len() - 1])
}

/// How clients reach one service, and as whom: the single source of every credential.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub kind: ProbeKind,
    /// Host and port as clients on this machine reach it (published port or external address).
    pub host: String,
    pub port: u16,
    /// The port inside the container (for the healthcheck); none for external services.
    pub container_port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
    /// HTTP path and expected status (http, chroma).
    pub path: Option<String>,
    pub status: Option<u16>,
}

/// The connection of a service with a probe, or `None` when it has no probe or no endpoint.
pub fn connection(svc: &Service) -> Option<Connection> {
    let probe = svc.probe.as_ref()?;
    let (host, port) = svc.endpoint()?;
    let container_port = svc.address.is_none().then(|| container_port(svc)).flatten();
    let env = svc.env();
    let row = of(probe.kind);
    let (user, password, database) = match probe.kind {
        ProbeKind::Postgres => {
            let user = probe
                .user
                .clone()
                .or_else(|| env.get("POSTGRES_USER").cloned())
                .or_else(|| row.default_user.map(String::from));
            let password = probe
                .password
                .clone()
                .or_else(|| env.get("POSTGRES_PASSWORD").cloned());
            let database = probe
                .database
                .clone()
                .or_else(|| env.get("POSTGRES_DB").cloned())
                .or_else(|| user.clone());
            (user, password, database)
        }
        ProbeKind::Redis => (
            probe.user.clone(),
            probe
                .password
                .clone()
                .or_else(|| requirepass(svc.command.as_deref().unwrap_or_default()))
                .or_else(|| env.get("REDIS_PASSWORD").cloned()),
            probe.database.clone(),
        ),
        ProbeKind::Neo4j => {
            let (u, p) = neo4j_auth(&env);
            (
                probe.user.clone().or(u),
                probe.password.clone().or(p),
                probe.database.clone(),
            )
        }
        ProbeKind::Chroma | ProbeKind::Http | ProbeKind::Tcp => {
            (probe.user.clone(), probe.password.clone(), None)
        }
    };
    let path = probe.path.clone();
    Some(Connection {
        kind: probe.kind,
        host,
        port,
        container_port,
        user,
        password,
        database,
        path,
        status: probe.status,
    })
}

/// The container port the probe talks to: `probe.port`, else the first published one, else
/// the kind's default.
fn container_port(svc: &Service) -> Option<u16> {
    let probe = svc.probe.as_ref()?;
    probe
        .port
        .or_else(|| svc.ports().iter().find(|p| !p.udp).map(|p| p.container))
        .or(of(probe.kind).default_port)
}

/// `--requirepass X` (or `--requirepass=X`) in a Redis command, argv or one shell string.
pub fn requirepass(command: &[String]) -> Option<String> {
    let words: Vec<&str> = if command.len() == 1 {
        command[0].split_whitespace().collect()
    } else {
        command.iter().map(String::as_str).collect()
    };
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if *w == "--requirepass" {
            return it.next().map(|s| s.to_string());
        }
        if let Some(v) = w.strip_prefix("--requirepass=") {
            return Some(v.to_string());
        }
    }
    None
}

/// The official Neo4j image's `NEO4J_AUTH`: `user/password`, `none` (no auth), or unset
/// (the image's own `neo4j/neo4j`).
fn neo4j_auth(env: &BTreeMap<String, String>) -> (Option<String>, Option<String>) {
    match env.get("NEO4J_AUTH").map(String::as_str) {
        Some("none") => (None, None),
        Some(auth) => match auth.split_once('/') {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
            None => (Some(auth.to_string()), None),
        },
        None => (Some("neo4j".into()), Some("neo4j".into())),
    }
}

impl Connection {
    /// The connection URL clients take (`postgresql://`, `redis://`, `bolt://`, `http://`).
    pub fn url(&self) -> Option<String> {
        let scheme = of(self.kind).scheme?;
        let at = format!("{}:{}", url_host(&self.host), self.port);
        Some(match self.kind {
            ProbeKind::Postgres => format!(
                "{scheme}://{}{at}/{}",
                self.userinfo(),
                enc(self.database.as_deref().unwrap_or_default())
            ),
            ProbeKind::Redis => format!(
                "{scheme}://{}{at}/{}",
                self.userinfo(),
                self.database.as_deref().unwrap_or("0")
            ),
            ProbeKind::Neo4j => format!("{scheme}://{at}"),
            _ => format!("{scheme}://{at}"),
        })
    }

    /// `user:password@`, percent-encoded; empty when there are no credentials.
    fn userinfo(&self) -> String {
        match (&self.user, &self.password) {
            (None, None) => String::new(),
            (Some(u), None) => format!("{}@", enc(u)),
            (u, Some(p)) => format!("{}:{}@", enc(u.as_deref().unwrap_or_default()), enc(p)),
        }
    }

    /// The `.env` lines of this service: `<PREFIX>_HOST`, `_PORT`, the kind's own variables and
    /// URL, and the conventional name (`DATABASE_URL`, `REDIS_URL`, `NEO4J_URI`) when this is
    /// the first service of its kind.
    pub fn env_vars(
        &self,
        service: &str,
        http_port: Option<u16>,
        first: bool,
    ) -> Vec<(String, String)> {
        let prefix = env_prefix(service);
        let var = |suffix: &str, value: String| (format!("{prefix}_{suffix}"), value);
        let mut out = vec![
            var("HOST", self.host.clone()),
            var("PORT", self.port.to_string()),
        ];
        let url = self.url();
        match self.kind {
            ProbeKind::Postgres => {
                let url = url.unwrap_or_default();
                out.extend([
                    var("DB", self.database.clone().unwrap_or_default()),
                    var("USER", self.user.clone().unwrap_or_default()),
                    var("PASSWORD", self.password.clone().unwrap_or_default()),
                    var("URL", url.clone()),
                ]);
                if first {
                    out.push(("DATABASE_URL".into(), url));
                }
            }
            ProbeKind::Redis => {
                let url = url.unwrap_or_default();
                if let Some(p) = &self.password {
                    out.push(var("PASSWORD", p.clone()));
                }
                out.push(var("URL", url.clone()));
                if first && prefix != "REDIS" {
                    out.push(("REDIS_URL".into(), url));
                }
            }
            ProbeKind::Neo4j => {
                let uri = url.unwrap_or_default();
                out.extend([
                    var("URI", uri.clone()),
                    var("USER", self.user.clone().unwrap_or_default()),
                    var("PASSWORD", self.password.clone().unwrap_or_default()),
                ]);
                if let Some(http) = http_port {
                    out.push(var(
                        "HTTP_URL",
                        format!("http://{}:{http}", url_host(&self.host)),
                    ));
                }
                if first && prefix != "NEO4J" {
                    out.push(("NEO4J_URI".into(), uri));
                }
            }
            ProbeKind::Chroma | ProbeKind::Http => {
                out.push(var("URL", url.unwrap_or_default()));
            }
            ProbeKind::Tcp => {}
        }
        out
    }

    /// The compose healthcheck, run inside the container against its own port with the same
    /// credentials: exec form, so no value ever passes through a shell.
    pub fn healthcheck(&self) -> Vec<String> {
        let port = self
            .container_port
            .or(of(self.kind).default_port)
            .unwrap_or(self.port)
            .to_string();
        let mut test: Vec<String> = vec!["CMD".into()];
        let mut push = |xs: &[&str]| test.extend(xs.iter().map(|s| s.to_string()));
        match self.kind {
            ProbeKind::Postgres => {
                push(&["pg_isready", "-h", "127.0.0.1", "-p", &port]);
                if let Some(u) = &self.user {
                    push(&["-U", u]);
                }
                if let Some(d) = &self.database {
                    push(&["-d", d]);
                }
            }
            ProbeKind::Redis => {
                push(&["redis-cli", "-h", "127.0.0.1", "-p", &port]);
                if let Some(u) = &self.user {
                    push(&["--user", u]);
                }
                if let Some(p) = &self.password {
                    push(&["-a", p, "--no-auth-warning"]);
                }
                push(&["ping"]);
            }
            ProbeKind::Neo4j => {
                let addr = format!("bolt://127.0.0.1:{port}");
                push(&["cypher-shell", "-a", &addr]);
                if let Some(u) = &self.user {
                    push(&["-u", u]);
                }
                if let Some(p) = &self.password {
                    push(&["-p", p]);
                }
                push(&["RETURN 1"]);
            }
            ProbeKind::Chroma | ProbeKind::Http => {
                // No curl in these images: bash's /dev/tcp, the path passed as an argument.
                let status = self.status.unwrap_or(200);
                let script = format!(
                    "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' \"$1\" >&3 && head -n 1 <&3 | grep -q ' {status} '"
                );
                let path = match (self.kind, &self.path) {
                    (_, Some(p)) => p.clone(),
                    (ProbeKind::Chroma, None) => "/api/v2/heartbeat".into(),
                    _ => "/".into(),
                };
                push(&["bash", "-c", &script, "healthcheck", &path]);
            }
            ProbeKind::Tcp => {
                let script = format!(": > /dev/tcp/127.0.0.1/{port}");
                push(&["bash", "-c", &script]);
            }
        }
        test
    }
}

/// The `.env` prefix of a service: its name upper-cased, other characters as `_`.
/// A name starting with a digit gets a leading `_`, so every key is a variable name.
pub fn env_prefix(service: &str) -> String {
    let prefix: String = service
        .to_ascii_uppercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if prefix.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{prefix}")
    } else {
        prefix
    }
}

/// An IPv6 literal in a URL needs brackets.
fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Percent-encode a URL user-info or path part.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Tell the masker about every secret value in the profile, so that it is hidden wherever
/// it appears in output: secret env values, probe passwords, URL userinfo, and arguments
/// after secret flags in commands and healthchecks.
pub fn register_secrets(profile: &Profile) {
    use crate::secrets::{SECRET_FLAGS, register, register_from_text, register_public};
    let names = [&profile.name, &profile.project].into_iter().flatten();
    names.for_each(|n| register_public(n));
    for (name, svc) in &profile.services {
        register_public(name);
        svc.image.iter().for_each(|i| register_public(i));
        for (k, v) in svc.env.iter().flatten() {
            if !crate::secrets::is_secret_key(k) {
                register_public(v);
            }
        }
    }
    for svc in profile.services.values() {
        for (k, v) in svc.env.iter().flatten() {
            if crate::secrets::is_secret_key(k) {
                register(
                    v.split_once('/')
                        .filter(|_| k.ends_with("AUTH"))
                        .map_or(v, |(_, p)| p),
                );
            }
            register_from_text(&format!("X={v}"));
        }
        if let Some(pw) = svc.probe.as_ref().and_then(|p| p.password.as_ref()) {
            register(pw);
        }
        // Whatever the catalogue finds (`--requirepass=X`, a one-string command, ...).
        if let Some(pw) = connection(svc).and_then(|c| c.password) {
            register(&pw);
        }
        let test = svc.healthcheck.as_ref().and_then(|h| h.spec().test);
        for argv in [&svc.command, &svc.entrypoint, &test].into_iter().flatten() {
            let words: Vec<&str> = argv.iter().flat_map(|a| a.split_whitespace()).collect();
            for pair in words.windows(2) {
                if SECRET_FLAGS.contains(&pair[0]) {
                    register(pair[1].trim_matches(['"', '\'']));
                }
            }
        }
        if let Some(addr) = &svc.address {
            register_from_text(addr);
            if let Some((info, _)) = addr.rsplit_once('@') {
                let info = info.rsplit("//").next().unwrap_or(info);
                register(info);
                register(info.split_once(':').map_or(info, |(_, p)| p));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_inferred_from_images() {
        use ProbeKind as K;
        for (image, kind) in [
            ("postgres:16-alpine", Some(K::Postgres)),
            ("pgvector/pgvector:pg16", Some(K::Postgres)),
            ("postgis/postgis:16-3.4", Some(K::Postgres)),
            ("timescale/timescaledb:latest-pg16", Some(K::Postgres)),
            ("127.0.0.1:5000/onramp-test/postgres:15", Some(K::Postgres)),
            ("redis:7", Some(K::Redis)),
            ("redis/redis-stack:latest", Some(K::Redis)),
            ("valkey/valkey:8", Some(K::Redis)),
            ("neo4j:5", Some(K::Neo4j)),
            ("chromadb/chroma:1.5.9", Some(K::Chroma)),
            ("nginx:1.27", None),
            ("ghcr.io/org/postgres-exporter@sha256:ab", Some(K::Postgres)),
        ] {
            assert_eq!(kind_of_image(image), kind, "{image}");
        }
    }
    use crate::profile::Probe;

    fn probe(kind: ProbeKind) -> Probe {
        Probe {
            kind,
            port: None,
            path: None,
            status: None,
            user: None,
            password: None,
            database: None,
        }
    }

    fn svc(kind: ProbeKind, ports: &[&str], env: &[(&str, &str)], command: &[&str]) -> Service {
        Service {
            image: Some("img".into()),
            ports: Some(ports.iter().map(|s| s.to_string()).collect()),
            env: Some(
                env.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            command: (!command.is_empty()).then(|| command.iter().map(|s| s.to_string()).collect()),
            probe: Some(probe(kind)),
            ..Service::default()
        }
    }

    fn env_of(c: &Connection, name: &str) -> BTreeMap<String, String> {
        c.env_vars(name, None, true).into_iter().collect()
    }

    /// The value after a flag in a healthcheck argv.
    fn after(test: &[String], flag: &str) -> Option<String> {
        test.iter()
            .position(|t| t == flag)
            .and_then(|i| test.get(i + 1).cloned())
    }

    #[test]
    fn postgres_follows_the_official_image_env_contract() {
        let pw = "p@ss:w/rd%#1 x";
        let s = svc(
            ProbeKind::Postgres,
            &["15432:5432"],
            &[
                ("POSTGRES_USER", "app"),
                ("POSTGRES_PASSWORD", pw),
                ("POSTGRES_DB", "appdb"),
            ],
            &[],
        );
        let c = connection(&s).unwrap();
        let target = crate::probe::Target::from(&c);
        assert_eq!(
            (
                target.port,
                target.user.as_deref(),
                target.password.as_deref()
            ),
            (15432, Some("app"), Some(pw))
        );
        let env = env_of(&c, "postgres");
        assert_eq!(env["POSTGRES_PASSWORD"], pw);
        assert_eq!(env["POSTGRES_USER"], "app");
        assert_eq!(env["POSTGRES_DB"], "appdb");
        assert_eq!(
            env["DATABASE_URL"],
            "postgresql://app:p%40ss%3Aw%2Frd%25%231%20x@127.0.0.1:15432/appdb"
        );
        let hc = c.healthcheck();
        assert_eq!(hc[0], "CMD");
        assert_eq!(after(&hc, "-U").as_deref(), Some("app"));
        assert_eq!(after(&hc, "-d").as_deref(), Some("appdb"));
        assert_eq!(after(&hc, "-p").as_deref(), Some("5432"));
    }

    #[test]
    fn postgres_defaults_and_probe_settings_win_everywhere() {
        let bare = connection(&svc(ProbeKind::Postgres, &["5432:5432"], &[], &[])).unwrap();
        assert_eq!(bare.user.as_deref(), Some("postgres"));
        assert_eq!(bare.database.as_deref(), Some("postgres"));
        let mut s = svc(
            ProbeKind::Postgres,
            &["5432:5432"],
            &[("POSTGRES_USER", "env_user")],
            &[],
        );
        s.probe.as_mut().unwrap().user = Some("probe_user".into());
        let c = connection(&s).unwrap();
        assert_eq!(
            crate::probe::Target::from(&c).user.as_deref(),
            Some("probe_user")
        );
        assert_eq!(env_of(&c, "db")["DB_USER"], "probe_user");
        assert_eq!(after(&c.healthcheck(), "-U").as_deref(), Some("probe_user"));
    }

    #[test]
    fn a_redis_password_from_requirepass_reaches_probe_env_and_healthcheck() {
        for command in [
            &["redis-server", "--requirepass", "s3cr:t@"][..],
            &["redis-server --appendonly no --requirepass s3cr:t@"][..],
            &["redis-server", "--requirepass=s3cr:t@"][..],
        ] {
            let c = connection(&svc(ProbeKind::Redis, &["16379:6379"], &[], command)).unwrap();
            assert_eq!(
                crate::probe::Target::from(&c).password.as_deref(),
                Some("s3cr:t@"),
                "{command:?}"
            );
            let env = env_of(&c, "cache");
            assert_eq!(env["CACHE_URL"], "redis://:s3cr%3At%40@127.0.0.1:16379/0");
            assert_eq!(env["REDIS_URL"], env["CACHE_URL"]);
            assert_eq!(after(&c.healthcheck(), "-a").as_deref(), Some("s3cr:t@"));
        }
        let env_pw = connection(&svc(
            ProbeKind::Redis,
            &["6379:6379"],
            &[("REDIS_PASSWORD", "x")],
            &[],
        ))
        .unwrap();
        assert_eq!(
            env_of(&env_pw, "redis")["REDIS_URL"],
            "redis://:x@127.0.0.1:6379/0"
        );
        let open = connection(&svc(ProbeKind::Redis, &["6379:6379"], &[], &[])).unwrap();
        assert_eq!(
            env_of(&open, "redis")["REDIS_URL"],
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(after(&open.healthcheck(), "-a"), None);
    }

    #[test]
    fn neo4j_auth_none_unset_and_set_agree() {
        let none = connection(&svc(
            ProbeKind::Neo4j,
            &["7474:7474", "7687:7687"],
            &[("NEO4J_AUTH", "none")],
            &[],
        ));
        // The first published port is HTTP; without probe.port the kind's port is not guessed.
        let none = none.unwrap();
        assert_eq!((none.user.clone(), none.password.clone()), (None, None));
        assert!(!none.healthcheck().contains(&"-u".to_string()));
        let unset = connection(&svc(ProbeKind::Neo4j, &["7687:7687"], &[], &[])).unwrap();
        assert_eq!(unset.password.as_deref(), Some("neo4j"));
        assert_eq!(env_of(&unset, "neo4j")["NEO4J_PASSWORD"], "neo4j");
        assert_eq!(after(&unset.healthcheck(), "-p").as_deref(), Some("neo4j"));
        let set = connection(&svc(
            ProbeKind::Neo4j,
            &["7687:7687"],
            &[("NEO4J_AUTH", "neo4j/testpassword")],
            &[],
        ))
        .unwrap();
        let t = crate::probe::Target::from(&set);
        assert_eq!(
            (t.user.as_deref(), t.password.as_deref()),
            (Some("neo4j"), Some("testpassword"))
        );
        assert_eq!(env_of(&set, "graph")["GRAPH_PASSWORD"], "testpassword");
        assert_eq!(env_of(&set, "graph")["NEO4J_URI"], "bolt://127.0.0.1:7687");
    }

    #[test]
    fn an_external_address_is_the_endpoint_everywhere() {
        let s = Service {
            address: Some("db.internal:6543".into()),
            env: Some(BTreeMap::from([(
                "POSTGRES_PASSWORD".to_string(),
                "pw".to_string(),
            )])),
            probe: Some(probe(ProbeKind::Postgres)),
            ..Service::default()
        };
        let c = connection(&s).unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.container_port),
            ("db.internal", 6543, None)
        );
        let t = crate::probe::Target::from(&c);
        assert_eq!((t.host.as_str(), t.port), ("db.internal", 6543));
        assert_eq!(
            env_of(&c, "postgres")["DATABASE_URL"],
            "postgresql://postgres:pw@db.internal:6543/postgres"
        );
    }

    #[test]
    fn chroma_and_http_healthchecks_take_the_path_as_an_argument() {
        let c = connection(&svc(ProbeKind::Chroma, &["18000:8000"], &[], &[])).unwrap();
        let hc = c.healthcheck();
        assert_eq!(hc.last().map(String::as_str), Some("/api/v2/heartbeat"));
        assert!(hc[3].contains("/dev/tcp/127.0.0.1/8000"), "{hc:?}");
        assert_eq!(env_of(&c, "chroma")["CHROMA_URL"], "http://127.0.0.1:18000");
    }

    #[test]
    fn every_kind_has_a_catalogue_row() {
        for k in [
            ProbeKind::Postgres,
            ProbeKind::Redis,
            ProbeKind::Neo4j,
            ProbeKind::Chroma,
            ProbeKind::Http,
            ProbeKind::Tcp,
        ] {
            assert_eq!(of(k).kind, k);
        }
    }
}
