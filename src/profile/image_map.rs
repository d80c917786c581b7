//! The image mapping of a company network (`[network.images]`): a source registry or path
//! prefix mapped to the company's path, the longest match winning, Docker Hub's spellings
//! (`redis`, `library/redis`, `docker.io/...`, `index.docker.io/...`) read as one, and the
//! tag or digest kept.

use std::collections::BTreeMap;

/// Docker Hub's name, as the engine normalises it.
pub const HUB: &str = "docker.io";

/// The spellings of Docker Hub's registry that mean `docker.io`.
const HUB_ALIASES: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// An image reference split as the engine reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The registry host (with its port), `docker.io` for Docker Hub in any spelling.
    pub registry: String,
    /// The repository path; Docker Hub's official images carry `library/`.
    pub path: String,
    /// `:tag`, `@digest`, both, or nothing, exactly as written.
    pub suffix: String,
}

impl Reference {
    /// Split a reference: the first component is a registry when it has a `.` or a `:` or is
    /// `localhost` (the engine's rule); everything else is on Docker Hub.
    pub fn parse(image: &str) -> Reference {
        let (name_tag, digest) = match image.split_once('@') {
            Some((n, d)) => (n, format!("@{d}")),
            None => (image, String::new()),
        };
        let (name, tag) = match name_tag.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, format!(":{t}")),
            _ => (name_tag, String::new()),
        };
        let (registry, path) = split_registry(name);
        Reference {
            registry,
            path,
            suffix: format!("{tag}{digest}"),
        }
    }

    /// `registry/path`, the form mapping keys are matched against.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }
}

/// The registry and the path of a name without tag or digest (`library/` added on Hub).
fn split_registry(name: &str) -> (String, String) {
    let (registry, path) = match name.split_once('/') {
        Some((first, rest)) if is_registry(first) => (hub_alias(first), rest.to_string()),
        _ => (HUB.to_string(), name.to_string()),
    };
    let path = if registry == HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    (registry, path)
}

/// Whether the first component of a name is a registry host.
fn is_registry(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost"
}

fn hub_alias(host: &str) -> String {
    if HUB_ALIASES.contains(&host.to_ascii_lowercase().as_str()) {
        HUB.to_string()
    } else {
        host.to_string()
    }
}

/// A mapping key in its one spelling: a registry (`ghcr.io`, `127.0.0.1:5000`; any spelling
/// of Docker Hub is `docker.io`) or a path under one (`quay.io/prometheus`). A key without a
/// registry is on Docker Hub, where one name is both an organisation and an official image
/// (`bitnami`, `postgres`; `library/postgres` is the same key as `postgres`, and
/// `docker.io/library` is every official image).
pub fn normalise_key(key: &str) -> Result<String, String> {
    let key = key.trim_end_matches('/');
    if key.is_empty() {
        return Err("an empty key".into());
    }
    let tagged = || {
        format!(
            "`{key}` names a tag or digest; a key is a registry or a path prefix (`docker.io`, `quay.io/prometheus`)"
        )
    };
    let (registry, path) = match key.split_once('/') {
        Some((first, rest)) if is_registry(first) => (hub_alias(first), Some(rest)),
        None if is_registry(key) => {
            // A lone `name:N` is a registry host and port; `name:tag` is an image.
            if key
                .rsplit_once(':')
                .is_some_and(|(_, p)| !p.chars().all(|c| c.is_ascii_digit()))
            {
                return Err(tagged());
            }
            (hub_alias(key), None)
        }
        _ => (HUB.to_string(), Some(key)),
    };
    check_host(&registry)?;
    let Some(path) = path else {
        return Ok(registry);
    };
    if path.contains(['@', ':']) {
        return Err(tagged());
    }
    check_path(path)?;
    let path = match path.strip_prefix("library/") {
        Some(official) if registry == HUB && !official.contains('/') => official,
        _ => path,
    };
    Ok(format!("{registry}/{path}"))
}

/// The company's path an image moves to: `registry.corp.example/hub` (a leading `https://`
/// and a trailing `/` are dropped).
pub fn normalise_target(target: &str) -> Result<String, String> {
    let t = target
        .split_once("://")
        .map_or(target, |(_, rest)| rest)
        .trim_end_matches('/');
    if t.is_empty() {
        return Err("an empty registry path".into());
    }
    let (first, rest) = match t.split_once('/') {
        Some((f, r)) => (f, Some(r)),
        None => (t, None),
    };
    if is_registry(first) {
        check_host(first)?;
    } else {
        check_path(first)?;
    }
    if let Some(rest) = rest {
        if rest.contains(['@', ':']) {
            return Err(format!(
                "`{target}` names a tag or digest; give the registry path the images move under (`registry.corp.example/hub`), the tag stays the image's own"
            ));
        }
        check_path(rest)?;
    }
    Ok(t.to_string())
}

/// A registry host with an optional port.
fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    if name_ok && port_ok {
        Ok(())
    } else {
        Err(format!(
            "`{host}` is not a registry host (letters, digits, `.` and `-`, then an optional `:PORT`)"
        ))
    }
}

/// Repository path components: lower-case letters, digits and `._-`, none empty.
fn check_path(path: &str) -> Result<(), String> {
    let ok = path.split('/').all(|c| {
        !c.is_empty()
            && c.chars().all(|ch| {
                ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-')
            })
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{path}` is not a repository path (lower-case letters, digits and `._-` between slashes)"
        ))
    }
}

/// An image as the company's registry serves it: the longest key that is the image's
/// registry, or a whole-component prefix of its `registry/path`, replaces that prefix with its
/// target; the tag or digest stays. A Docker Hub official image is matched by its short name
/// (`docker.io/redis`) and its full one (`docker.io/library/redis`), so under a `docker.io` key
/// `redis:7` becomes `TARGET/redis:7`, and under `docker.io/library` it keeps no `library/`
/// either (map `docker.io/library` to `.../library` to keep that level).
/// Keys and targets that do not normalise are ignored here (loading refuses them).
pub fn map(table: &BTreeMap<String, String>, image: &str) -> String {
    let r = Reference::parse(image);
    let full = r.name();
    let mut names = Vec::new();
    if r.registry == HUB
        && let Some(official) = r.path.strip_prefix("library/")
    {
        names.push(format!("{HUB}/{official}"));
    }
    names.push(full);
    let best = table
        .iter()
        .filter_map(|(k, v)| Some((normalise_key(k).ok()?, normalise_target(v).ok()?)))
        .filter_map(|(k, t)| {
            let name = names
                .iter()
                .find(|n| **n == k || n.starts_with(&format!("{k}/")))?;
            let rest = name[k.len()..].trim_start_matches('/').to_string();
            Some((k.len(), t, rest))
        })
        .max_by_key(|(len, _, _)| *len);
    match best {
        None => image.to_string(),
        Some((_, target, rest)) if rest.is_empty() => format!("{target}{}", r.suffix),
        Some((_, target, rest)) => format!("{target}/{rest}{}", r.suffix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn references_split_as_the_engine_reads_them() {
        let r = Reference::parse("localhost:5000/team/app:1.2@sha256:abc");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.path, "team/app");
        assert_eq!(r.suffix, ":1.2@sha256:abc");
        let r = Reference::parse("redis");
        assert_eq!(r.name(), "docker.io/library/redis");
        assert_eq!(r.suffix, "");
        assert_eq!(
            Reference::parse("index.docker.io/bitnami/redis:7").name(),
            "docker.io/bitnami/redis"
        );
        assert_eq!(
            Reference::parse("localhost/app").registry,
            "localhost",
            "localhost is a registry even without a port"
        );
        let r = Reference::parse("127.0.0.1:5000/x");
        assert_eq!(
            (r.registry.as_str(), r.suffix.as_str()),
            ("127.0.0.1:5000", "")
        );
    }

    #[test]
    fn every_spelling_of_docker_hub_maps_through_the_docker_io_key() {
        let t = table(&[("docker.io", "registry.corp.example/hub")]);
        for image in [
            "redis:7",
            "library/redis:7",
            "docker.io/redis:7",
            "docker.io/library/redis:7",
            "index.docker.io/library/redis:7",
            "registry-1.docker.io/library/redis:7",
        ] {
            assert_eq!(
                map(&t, image),
                "registry.corp.example/hub/redis:7",
                "{image}"
            );
        }
        assert_eq!(
            map(&t, "chromadb/chroma:1.5.9"),
            "registry.corp.example/hub/chromadb/chroma:1.5.9"
        );
        assert_eq!(
            map(&t, "ghcr.io/a/b:1"),
            "ghcr.io/a/b:1",
            "other registries stay"
        );
        assert_eq!(map(&t, "localhost/app"), "localhost/app");
        assert_eq!(map(&BTreeMap::new(), "redis:7"), "redis:7");
    }

    #[test]
    fn the_longest_match_wins_on_whole_components() {
        let t = table(&[
            ("docker.io", "corp/hub"),
            ("docker.io/library", "corp/official/library"),
            ("postgres", "corp/pinned/pg"),
            ("quay.io", "corp/quay"),
            ("quay.io/prometheus", "corp/prom"),
            ("ghcr.io", "https://corp.example:8443/ghcr/"),
        ]);
        assert_eq!(map(&t, "postgres:15"), "corp/pinned/pg:15");
        assert_eq!(
            map(&t, "postgres-exporter:1"),
            "corp/official/library/postgres-exporter:1"
        );
        assert_eq!(map(&t, "redis"), "corp/official/library/redis");
        assert_eq!(
            map(&t, "docker.io/library/postgres@sha256:ab"),
            "corp/pinned/pg@sha256:ab",
            "a key naming one image replaces the whole name"
        );
        assert_eq!(
            map(&table(&[("bitnami", "corp/bn")]), "bitnami/redis:7"),
            "corp/bn/redis:7",
            "a Docker Hub organisation"
        );
        assert_eq!(map(&t, "neo4j/neo4j:5"), "corp/hub/neo4j/neo4j:5");
        assert_eq!(
            map(&t, "quay.io/prometheus/node-exporter:v1"),
            "corp/prom/node-exporter:v1"
        );
        assert_eq!(
            map(&t, "quay.io/prometheusx/y:1"),
            "corp/quay/prometheusx/y:1",
            "a key matches whole path components only"
        );
        assert_eq!(
            map(&t, "ghcr.io/org/app@sha256:0123"),
            "corp.example:8443/ghcr/org/app@sha256:0123"
        );
    }

    #[test]
    fn registries_with_ports_map_as_written() {
        let t = table(&[("127.0.0.1:5000/old", "127.0.0.1:5000/new")]);
        assert_eq!(
            map(&t, "127.0.0.1:5000/old/pg:15@sha256:ab"),
            "127.0.0.1:5000/new/pg:15@sha256:ab"
        );
        assert_eq!(
            map(&t, "127.0.0.1:5001/old/pg:15"),
            "127.0.0.1:5001/old/pg:15"
        );
    }

    #[test]
    fn keys_and_targets_are_normalised_or_refused() {
        assert_eq!(normalise_key("index.docker.io").unwrap(), "docker.io");
        assert_eq!(normalise_key("docker.io/redis").unwrap(), "docker.io/redis");
        assert_eq!(normalise_key("library/redis").unwrap(), "docker.io/redis");
        assert_eq!(
            normalise_key("docker.io/library").unwrap(),
            "docker.io/library"
        );
        assert_eq!(normalise_key("nexus:8082").unwrap(), "nexus:8082");
        assert_eq!(
            normalise_key("bitnami/redis").unwrap(),
            "docker.io/bitnami/redis"
        );
        assert_eq!(
            normalise_key("quay.io/prometheus/").unwrap(),
            "quay.io/prometheus"
        );
        assert_eq!(normalise_key("localhost:5000").unwrap(), "localhost:5000");
        assert!(
            normalise_key("redis:latest")
                .unwrap_err()
                .contains("tag or digest")
        );
        assert!(
            normalise_key("library/redis:7")
                .unwrap_err()
                .contains("tag or digest")
        );
        assert!(normalise_key("ghcr.io/a@sha256:1").is_err());
        assert!(normalise_key("").is_err());
        assert!(normalise_key("Docker.io/X").is_err(), "upper-case path");
        assert!(normalise_key("bad host:99999/x").is_err());
        assert_eq!(
            normalise_target("https://registry.corp.example/hub/").unwrap(),
            "registry.corp.example/hub"
        );
        assert!(
            normalise_target("registry.corp/hub:1")
                .unwrap_err()
                .contains("tag")
        );
        assert!(normalise_target("registry corp/hub").is_err());
        assert!(normalise_target("").is_err());
    }
}
