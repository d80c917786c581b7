//! The test images keep the official images' contracts that tests depend on (DESIGN.md
//! section 6): PostgreSQL initialised UTF8 with the `en_US.UTF-8` locale and
//! `POSTGRES_INITDB_ARGS`, `POSTGRES_INITDB_WALDIR`, `POSTGRES_HOST_AUTH_METHOD` and server
//! options in the command honoured, so that psycopg 3 hands back `str`, not `bytes`. Ports
//! 33600-33699, projects named `probe*`.

use std::path::PathBuf;
use std::process::Command;

use crate::common::skip_or_fail;
use crate::refusals::{Project, engine_ready, image};

const PG: u16 = 33600;

fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            &format!("postgresql://app:pw-for-images@127.0.0.1:{PG}/appdb"),
            "-tAc",
            sql,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "psql {sql}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn postgres_is_utf8_with_en_us_and_honours_initdb_args() {
    if !engine_ready() {
        return;
    }
    let p = Project::new(
        "pgimage",
        &format!(
            "[services.postgres]\nimage = \"{}\"\nports = [\"{PG}:5432\"]\nenv = {{ POSTGRES_USER = \"app\", POSTGRES_PASSWORD = \"pw-for-images\", POSTGRES_DB = \"appdb\", POSTGRES_INITDB_ARGS = \"--data-checksums --locale-provider=libc\" }}\nvolumes = [\"pgdata:/var/lib/postgresql/data\"]\nprobe = {{ kind = \"postgres\" }}\ntimeout = \"60s\"\n",
            image("postgres:15")
        ),
    );
    let r = p.onramp(&["up", "--json"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);

    assert_eq!(psql("SHOW server_encoding"), "UTF8");
    assert_eq!(psql("SHOW lc_collate"), "en_US.UTF-8");
    assert_eq!(psql("SHOW lc_ctype"), "en_US.UTF-8");
    assert_eq!(psql("SHOW data_checksums"), "on", "POSTGRES_INITDB_ARGS");
    // en_US collation orders case-insensitively first, unlike C (where 'B' < 'a').
    assert_eq!(
        psql("SELECT string_agg(x, ',' ORDER BY x) FROM (VALUES ('a'), ('B')) v(x)"),
        "a,B"
    );

    // psycopg 3 decodes text with the server's encoding: str, not bytes.
    let venv = std::env::var("ONRAMP_TEST_VENV").map(PathBuf::from);
    let python = venv.map(|v| v.join("bin/python"));
    let Some(python) = python.ok().filter(|p| p.exists()) else {
        skip_or_fail("the test venv with psycopg (ONRAMP_TEST_VENV, from scripts/provision.sh)");
        return;
    };
    let script = format!(
        "import psycopg\nwith psycopg.connect('postgresql://app:pw-for-images@127.0.0.1:{PG}/appdb') as c:\n    v = c.execute(\"SELECT 'h\u{e9}llo'::text\").fetchone()[0]\n    print(type(v).__name__, v, c.info.encoding)\n"
    );
    let out = Command::new(python).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "str h\u{e9}llo utf-8"
    );
}

#[test]
fn postgres_honours_host_auth_trust_and_server_options_in_the_command() {
    if !engine_ready() {
        return;
    }
    const PORT: u16 = 33601;
    let p = Project::new(
        "pgtrust",
        &format!(
            "[services.postgres]\nimage = \"{}\"\nports = [\"{PORT}:5432\"]\nenv = {{ POSTGRES_HOST_AUTH_METHOD = \"trust\", POSTGRES_INITDB_WALDIR = \"/var/lib/postgresql/wal\" }}\ncommand = [\"postgres\", \"-c\", \"max_connections=42\"]\nprobe = {{ kind = \"postgres\" }}\ntimeout = \"60s\"\n",
            image("postgres:15")
        ),
    );
    let r = p.onramp(&["up", "--json"]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    // No password at all: the host rule is `trust`.
    let out = Command::new("psql")
        .args([
            &format!("postgresql://postgres@127.0.0.1:{PORT}/postgres"),
            "-tAc",
            "SHOW max_connections",
        ])
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    let wal = crate::refusals::docker(&[
        "exec",
        &format!("{}-postgres-1", p.name),
        "readlink",
        "/var/lib/postgresql/data/pg_wal",
    ])
    .unwrap_or_default();
    assert_eq!(
        wal.trim(),
        "/var/lib/postgresql/wal",
        "POSTGRES_INITDB_WALDIR"
    );
}
