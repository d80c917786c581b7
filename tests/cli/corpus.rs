//! Real Compose files from public Python projects (tests/fixtures/compose-corpus, sources in
//! its SOURCES file): each is imported by `profiles --from-compose` with the same services
//! `docker compose config` (v2) lists, what onramp cannot apply is named at its line and
//! column, and `doctor --compose` checks the file (refusing, at the same place, only what a
//! started service would need).

use std::path::Path;
use std::process::Command;

use crate::common::{Run, json, onramp, run};

pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/compose-corpus");

/// A corpus file: its folder, the file in it, the services Compose v2 lists, and the services
/// onramp leaves out with where the key it cannot apply is.
pub struct Case {
    pub dir: &'static str,
    pub file: &'static str,
    pub services: &'static [&'static str],
    pub left_out: &'static [(&'static str, &'static str)],
}

pub const CASES: &[Case] = &[
    Case {
        dir: "kailash-sdk",
        file: "tests/utils/docker-compose.test.yml",
        services: &[
            "mock-api", "mongodb", "mysql", "ollama", "postgres", "redis",
        ],
        left_out: &[],
    },
    Case {
        dir: "saleor-platform",
        file: "docker-compose.yml",
        services: &[
            "api",
            "cache",
            "dashboard",
            "db",
            "jaeger",
            "mailpit",
            "worker",
        ],
        left_out: &[],
    },
    Case {
        dir: "netbox-docker",
        file: "docker-compose.yml",
        services: &[
            "netbox",
            "netbox-housekeeping",
            "netbox-worker",
            "postgres",
            "redis",
            "redis-cache",
        ],
        left_out: &[],
    },
    Case {
        dir: "airflow",
        file: "docker-compose.yaml",
        services: &[
            "airflow-apiserver",
            "airflow-dag-processor",
            "airflow-init",
            "airflow-scheduler",
            "airflow-triggerer",
            "airflow-worker",
            "postgres",
            "redis",
        ],
        left_out: &[],
    },
    Case {
        dir: "milvus",
        file: "docker-compose.yml",
        services: &["etcd", "minio", "standalone"],
        left_out: &[],
    },
    Case {
        dir: "weaviate-python-client",
        file: "docker-compose.yml",
        services: &["contextionary", "i2v-neural", "weaviate"],
        left_out: &[],
    },
    Case {
        dir: "qdrant",
        file: "compose-dev.yaml",
        services: &["debian"],
        left_out: &[],
    },
    Case {
        dir: "dd-trace-py",
        file: "docker-compose.yml",
        services: &[
            "azureeventhubsemulator",
            "azureservicebusemulator",
            "azuresqledge",
            "azurite",
            "cassandra",
            "consul",
            "ddagent",
            "elasticsearch",
            "httpbin",
            "kafka",
            "localstack",
            "mariadb",
            "memcached",
            "mongo",
            "moto",
            "mysql",
            "opensearch",
            "postgres",
            "rabbitmq",
            "redis",
            "rediscluster",
            "testagent",
            "testrunner",
            "valkey",
            "valkeycluster",
            "vertica",
        ],
        left_out: &[],
    },
    Case {
        dir: "agent-memory-server",
        file: "docker-compose.yml",
        services: &["api", "redis"],
        left_out: &[],
    },
    Case {
        dir: "full-stack-fastapi-template",
        file: "compose.yml",
        services: &["adminer", "backend", "db", "proxy"],
        left_out: &[],
    },
];

fn in_case(case: &Case, args: &[&str]) -> Run {
    let dir = Path::new(CORPUS).join(case.dir);
    let mut cmd = onramp(&dir);
    cmd.args(args)
        .env_remove("COMPOSE_PROFILES")
        .env_remove("COMPOSE_PROJECT_NAME");
    run(&mut cmd)
}

/// The services `docker compose config` (v2) lists for the file, if the plugin is here.
fn compose_v2_services(case: &Case) -> Option<Vec<String>> {
    let out = Command::new("docker")
        .current_dir(Path::new(CORPUS).join(case.dir))
        .args(["compose", "-f", case.file, "config", "--services"])
        .env_remove("COMPOSE_PROFILES")
        .output()
        .ok()?;
    if !out.status.success() {
        panic!(
            "{}: Compose v2 refuses the file: {}",
            case.dir,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    Some(v)
}

#[test]
fn every_corpus_file_is_imported_with_the_services_compose_v2_lists() {
    assert!(CASES.len() >= 10);
    for case in CASES {
        let r = in_case(case, &["profiles", "--from-compose", case.file, "--json"]);
        assert_eq!(r.code, 0, "{}: {}", case.dir, r.stderr);
        let doc = json(&r);
        let mut taken: Vec<String> = doc["services"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, s)| s.get("enabled") != Some(&serde_json::json!(false)))
            .map(|(n, _)| n.clone())
            .collect();
        let human = in_case(case, &["profiles", "--from-compose", case.file]);
        for (service, at) in case.left_out {
            let line = format!("# service `{service}` left out");
            let note = human.stdout.lines().find(|l| l.starts_with(&line));
            let note = note.unwrap_or_else(|| panic!("{}: no note for {service}", case.dir));
            assert!(note.contains(at), "{}: {note}", case.dir);
            taken.push(service.to_string());
        }
        taken.sort();
        assert_eq!(taken, case.services, "{}", case.dir);
        if let Some(v2) = compose_v2_services(case) {
            assert_eq!(taken, v2, "{}: onramp and Compose v2 disagree", case.dir);
        }
    }
}

#[test]
fn doctor_checks_each_file_and_refuses_only_what_it_cannot_start() {
    for case in CASES {
        let r = in_case(case, &["doctor", "--compose", case.file, "--json"]);
        match case.left_out.first() {
            None => {
                assert!([0, 1].contains(&r.code), "{}: {}", case.dir, r.stderr);
                let doc = json(&r);
                assert!(doc["checks"].as_array().is_some(), "{}", case.dir);
            }
            Some((_, at)) => {
                assert_eq!(r.code, 2, "{}: {}", case.dir, r.stderr);
                assert!(r.stderr.contains(at), "{}: {}", case.dir, r.stderr);
            }
        }
    }
}

/// The SDK's own test stack, unchanged: `onramp up postgres redis` starts those two as
/// Compose would (its container names, its network name, its memory reservations), while the
/// Ollama service it does not start is not read for what onramp cannot apply.
#[test]
fn the_sdks_test_compose_file_runs_unchanged_with_up_postgres_redis() {
    use crate::common::{docker, image, skip_or_fail};
    if docker(&["info"]).is_none() {
        skip_or_fail("no Docker engine (scripts/provision.sh starts one)");
        return;
    }
    // The file names public images; the test images stand in for them under those names.
    let mut tagged = Vec::new();
    for (theirs, ours) in [
        ("pgvector/pgvector:pg15", image("postgres:15")),
        ("redis:7-alpine", image("redis:7")),
    ] {
        if docker(&["image", "inspect", &ours]).is_none() {
            skip_or_fail("no test images (scripts/images.sh builds them)");
            return;
        }
        if docker(&["image", "inspect", theirs]).is_none() {
            docker(&["tag", &ours, theirs]).expect("tag the stand-in image");
            tagged.push(theirs);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(CORPUS).join("kailash-sdk");
    for rel in [
        "tests/utils/docker-compose.test.yml",
        "docker/mock-api-server/README",
    ] {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(rel), to).unwrap();
    }
    let file = "tests/utils/docker-compose.test.yml";
    let onramp_in = |args: &[&str]| {
        let mut cmd = onramp(dir.path());
        cmd.args(args).args(["--compose", file]);
        run(&mut cmd)
    };
    let _ = onramp_in(&["down", "--volumes", "--yes"]);
    let up = onramp_in(&["up", "postgres", "redis", "--json"]);
    let inspect = |c: &str, f: &str| {
        docker(&["inspect", c, "--format", f])
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let pg_net = inspect(
        "kailash_sdk_test_postgres",
        "{{json .NetworkSettings.Networks}}",
    );
    let pg_res = inspect(
        "kailash_sdk_test_postgres",
        "{{.HostConfig.MemoryReservation}}",
    );
    let ollama = docker(&["ps", "-a", "--filter", "name=kailash_sdk_test_ollama", "-q"]);
    let down = onramp_in(&["down", "--volumes", "--yes"]);
    for t in tagged {
        let _ = docker(&["rmi", t]);
    }
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    let doc = json(&up);
    for s in doc["services"].as_array().unwrap() {
        assert_eq!(s["state"], "ready", "{s}");
    }
    assert!(pg_net.contains("kailash_sdk_test_network"), "{pg_net}");
    assert_eq!(pg_res, (1u64 << 30).to_string(), "reservations.memory 1G");
    assert_eq!(
        ollama.unwrap_or_default().trim(),
        "",
        "ollama is not started"
    );
    assert_eq!(down.code, 0, "{}", down.stderr);
}
