//! The command lines of the native servers, decided from the profile's settings alone: what
//! `initdb`, `postgres`, the Redis server and `chroma run` are given (pure, tested here).

use std::collections::BTreeMap;

use crate::profile::kinds::Connection;

/// Locales tried for a new PostgreSQL cluster, in order: the official image's, then the one
/// every glibc and macOS has.
pub const LOCALES: [&str; 2] = ["en_US.UTF-8", "C.UTF-8"];

/// `initdb`'s arguments for a new cluster in `data`, as the official image initialises one:
/// the profile's user as superuser with its password (from `pwfile`), UTF8, `locale`, local
/// connections trusted and TCP ones by password (`POSTGRES_HOST_AUTH_METHOD` when given), then
/// `POSTGRES_INITDB_ARGS` word by word (later flags win).
pub fn initdb(
    conn: &Connection,
    env: &BTreeMap<String, String>,
    data: &str,
    pwfile: Option<&str>,
    locale: &str,
) -> Vec<String> {
    let user = conn.user.as_deref().unwrap_or("postgres");
    let auth = env
        .get("POSTGRES_HOST_AUTH_METHOD")
        .cloned()
        .unwrap_or_else(|| match pwfile {
            Some(_) => "scram-sha-256".into(),
            None => "trust".into(),
        });
    let mut args = vec![
        "-D".to_string(),
        data.to_string(),
        "-U".into(),
        user.into(),
        "-E".into(),
        "UTF8".into(),
        format!("--locale={locale}"),
        "--auth-local=trust".into(),
        format!("--auth-host={auth}"),
        "--no-sync".into(),
    ];
    if let Some(f) = pwfile {
        args.push(format!("--pwfile={f}"));
    }
    if let Some(extra) = env.get("POSTGRES_INITDB_ARGS") {
        args.extend(extra.split_whitespace().map(String::from));
    }
    args
}

/// The SQL that creates the profile's database, for a single-user `postgres` (the official
/// image creates `POSTGRES_DB` unless it is `postgres`); `None` when there is nothing to make.
pub fn create_database(conn: &Connection) -> Option<String> {
    let db = conn.database.as_deref()?;
    (db != "postgres").then(|| format!("CREATE DATABASE \"{}\";\n", db.replace('"', "\"\"")))
}

/// The server: on 127.0.0.1 at the host port only, no Unix socket (clients use TCP, as they
/// do with the container).
pub fn postgres(data: &str, port: u16) -> Vec<String> {
    vec![
        "-D".into(),
        data.into(),
        "-p".into(),
        port.to_string(),
        "-c".into(),
        "listen_addresses=127.0.0.1".into(),
        "-c".into(),
        "unix_socket_directories=".into(),
    ]
}

/// The Redis server's arguments from the profile's command (`redis-server --requirepass x
/// --appendonly yes`, an argv or one string): the server's own name dropped, protected mode
/// off first as the official image's entrypoint puts it (so an explicit `--protected-mode yes`
/// still wins), and last what must be onramp's: 127.0.0.1, the host port, the data directory,
/// in the foreground. A configuration file (a path inside the image) is refused.
pub fn redis(command: &[String], port: u16, dir: &str) -> Result<Vec<String>, String> {
    let words: Vec<String> = if command.len() == 1 {
        command[0].split_whitespace().map(String::from).collect()
    } else {
        command.to_vec()
    };
    let mut rest = words.as_slice();
    if let Some(first) = rest.first()
        && (first.ends_with("redis-server") || first.ends_with("valkey-server"))
    {
        rest = &rest[1..];
    }
    if let Some(first) = rest.first()
        && !first.starts_with("--")
    {
        return Err(format!(
            "the command names `{first}`, a file inside the image; the native server takes only `--option value` arguments: put the settings from that file into the command"
        ));
    }
    let mut args: Vec<String> = vec!["--protected-mode".into(), "no".into()];
    args.extend(rest.iter().cloned());
    args.extend(
        [
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--dir",
            dir,
            "--daemonize",
            "no",
        ]
        .map(String::from),
    );
    Ok(args)
}

/// `chroma run` on 127.0.0.1 at the host port, keeping its data in `path`.
pub fn chroma(port: u16, path: &str) -> Vec<String> {
    vec![
        "run".into(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--path".into(),
        path.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProbeKind;

    fn pg(user: Option<&str>, db: Option<&str>) -> Connection {
        Connection {
            kind: ProbeKind::Postgres,
            host: "127.0.0.1".into(),
            port: 5432,
            container_port: Some(5432),
            user: user.map(String::from),
            password: Some("pw".into()),
            database: db.map(String::from),
            path: None,
            status: None,
        }
    }

    #[test]
    fn initdb_takes_the_profiles_user_auth_and_initdb_args() {
        let env = BTreeMap::from([(
            "POSTGRES_INITDB_ARGS".to_string(),
            "--data-checksums --locale-provider=libc".to_string(),
        )]);
        let a = initdb(
            &pg(Some("test_user"), None),
            &env,
            "/d",
            Some("/p"),
            "en_US.UTF-8",
        );
        let at = |w: &str| a.iter().position(|x| x == w).unwrap();
        assert_eq!(a[at("-U") + 1], "test_user");
        assert_eq!(a[at("-E") + 1], "UTF8");
        assert!(a.contains(&"--locale=en_US.UTF-8".to_string()));
        assert!(a.contains(&"--auth-host=scram-sha-256".to_string()));
        assert!(a.contains(&"--pwfile=/p".to_string()));
        assert_eq!(
            &a[a.len() - 2..],
            ["--data-checksums", "--locale-provider=libc"],
            "the profile's initdb args come last, so they win"
        );
        let trust = BTreeMap::from([("POSTGRES_HOST_AUTH_METHOD".to_string(), "md5".to_string())]);
        let b = initdb(&pg(None, None), &trust, "/d", None, "C.UTF-8");
        assert!(b.contains(&"--auth-host=md5".to_string()));
        assert!(b.contains(&"postgres".to_string()), "{b:?}");
        let c = initdb(&pg(None, None), &BTreeMap::new(), "/d", None, "C.UTF-8");
        assert!(c.contains(&"--auth-host=trust".to_string()));
    }

    #[test]
    fn the_database_is_created_unless_it_is_postgres_and_quoted() {
        assert_eq!(
            create_database(&pg(Some("u"), Some("horme_test_db"))).as_deref(),
            Some("CREATE DATABASE \"horme_test_db\";\n")
        );
        assert_eq!(create_database(&pg(Some("u"), Some("postgres"))), None);
        assert_eq!(
            create_database(&pg(Some("u"), Some("a\"b"))).as_deref(),
            Some("CREATE DATABASE \"a\"\"b\";\n")
        );
    }

    #[test]
    fn postgres_listens_on_loopback_at_the_host_port_only() {
        let a = postgres("/d", 15432);
        assert!(a.windows(2).any(|w| w == ["-p", "15432"]));
        assert!(a.contains(&"listen_addresses=127.0.0.1".to_string()));
    }

    #[test]
    fn redis_keeps_the_profiles_flags_and_binds_loopback_last() {
        let cmd = vec!["redis-server --requirepass s3cret --appendonly yes".to_string()];
        let a = redis(&cmd, 16379, "/data").unwrap();
        assert_eq!(&a[..2], ["--protected-mode", "no"]);
        assert!(a.windows(2).any(|w| w == ["--requirepass", "s3cret"]));
        assert!(a.windows(2).any(|w| w == ["--appendonly", "yes"]));
        let tail: Vec<&str> = a[a.len() - 8..].iter().map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                "--bind",
                "127.0.0.1",
                "--port",
                "16379",
                "--dir",
                "/data",
                "--daemonize",
                "no"
            ]
        );
        let explicit = vec![
            "redis-server".to_string(),
            "--protected-mode".into(),
            "yes".into(),
        ];
        let b = redis(&explicit, 6379, "/d").unwrap();
        let last = b.iter().rposition(|w| w == "--protected-mode").unwrap();
        assert_eq!(b[last + 1], "yes", "an explicit setting comes after ours");
        assert_eq!(
            redis(&[], 6379, "/d").unwrap().len(),
            10,
            "no command: defaults"
        );
        let err = redis(&["redis-server /etc/redis.conf".into()], 6379, "/d").unwrap_err();
        assert!(err.contains("/etc/redis.conf"), "{err}");
    }

    #[test]
    fn chroma_runs_on_loopback_with_its_path() {
        assert_eq!(
            chroma(18000, "/p/.onramp/data/chroma"),
            [
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                "18000",
                "--path",
                "/p/.onramp/data/chroma"
            ]
        );
    }
}
