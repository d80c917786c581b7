//! Why pulls failed, in words a person can act on: a registry that cannot be reached is told
//! apart from one that refuses, and one cause shared by several images is said once, naming
//! them. `up`, `setup` and `images save` say it the same way.

use super::api::{EngineError, registry_of};

/// Whether a pull failed because the registry cannot be reached at all (as Docker and Podman
/// word it), rather than because it refused.
pub fn registry_unreachable(e: &EngineError) -> bool {
    let lower = e.to_string().to_ascii_lowercase();
    [
        "connection refused",
        "no such host",
        "i/o timeout",
        "network is unreachable",
        "no route to host",
        "tls handshake timeout",
        "request canceled while waiting for connection",
        "server misbehaving",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// One line saying why a pull failed, naming the image and its registry.
pub fn pull_error(image: &str, e: &EngineError) -> String {
    let t = e.to_string();
    let lower = t.to_ascii_lowercase();
    let registry = registry_of(image);
    if registry_unreachable(e) {
        format!("cannot pull {image}: the registry {registry} is unreachable ({t})")
    } else if lower.contains("manifest unknown") || lower.contains("not found") {
        format!("cannot pull {image}: no such image or tag in {registry} ({t})")
    } else {
        format!("cannot pull {image}: {t}")
    }
}

/// The remedies for a registry that cannot be reached while images are missing.
pub fn unreachable_help(registry: &str) -> String {
    format!(
        "the engine cannot reach {registry}: behind a proxy, give the engine HTTP(S)_PROXY (dockerd: a systemd drop-in or `proxies` in /etc/docker/daemon.json; Podman: `[engine] env` in containers.conf or the environment of `podman system service`; `onramp doctor --fix` writes either); or add a registry mirror to the engine's config (`registry-mirrors` in /etc/docker/daemon.json, a [[registry.mirror]] in /etc/containers/registries.conf); or carry the images over: `onramp images save -o images.tar` where the registry is reachable, then `onramp images load images.tar` here"
    )
}

/// Several failed pulls as one message and its help. Images whose registry cannot be reached
/// are named together, once per registry, with the first error the engine gave; any other
/// failure keeps its own line.
pub fn failed_pulls(failures: &[(&str, &EngineError)]) -> (String, String) {
    let mut unreachable: Vec<(String, Vec<&str>, String)> = Vec::new();
    let mut others = Vec::new();
    for (image, e) in failures {
        if !registry_unreachable(e) {
            others.push(pull_error(image, e));
            continue;
        }
        let registry = registry_of(image);
        match unreachable.iter_mut().find(|(r, _, _)| *r == registry) {
            Some((_, images, _)) => images.push(image),
            None => unreachable.push((registry, vec![image], e.to_string())),
        }
    }
    let mut lines: Vec<String> = unreachable
        .iter()
        .map(|(registry, images, first)| {
            format!(
                "cannot pull {}: the registry {registry} is unreachable ({first})",
                images.join(", ")
            )
        })
        .collect();
    lines.extend(others);
    let registries: Vec<&str> = unreachable.iter().map(|(r, _, _)| r.as_str()).collect();
    let help = if registries.is_empty() {
        "check the image name and tag in the profile, and the registry's credentials (`docker login REGISTRY`); `docker pull IMAGE` shows the same".into()
    } else {
        unreachable_help(&registries.join(", "))
    };
    (lines.join("; "), help)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Errors of a pull from a registry nobody listens on, as the engines word them (recorded).
    #[test]
    fn unreachable_registries_are_told_apart_from_refusals() {
        let podman = EngineError::Failed("initializing source docker://127.0.0.1:5999/repair/redis:7: pinging container registry 127.0.0.1:5999: Get \"https://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: connection refused".into());
        let docker = EngineError::Failed("Get \"http://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: connection refused".into());
        let dns = EngineError::Failed(
            "Get \"https://registry.invalid/v2/\": dial tcp: lookup registry.invalid: no such host"
                .into(),
        );
        for e in [&podman, &docker, &dns] {
            assert!(registry_unreachable(e), "{e}");
        }
        let missing = EngineError::NotFound("manifest unknown: manifest unknown".into());
        assert!(!registry_unreachable(&missing));
        let line = pull_error("127.0.0.1:5999/repair/redis:7", &docker);
        assert!(
            line.contains("the registry 127.0.0.1:5999 is unreachable"),
            "{line}"
        );
    }

    #[test]
    fn the_unreachable_registry_help_names_every_way_out() {
        let h = unreachable_help("127.0.0.1:5999");
        for part in ["PROXY", "registry-mirrors", "onramp images load"] {
            assert!(h.contains(part), "{part}: {h}");
        }
    }

    #[test]
    fn one_unreachable_registry_is_said_once_naming_every_image() {
        let dns = EngineError::Failed(
            "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host"
                .into(),
        );
        let missing = EngineError::NotFound("manifest unknown".into());
        let (message, help) = failed_pulls(&[
            ("postgres:15", &dns),
            ("redis:7", &dns),
            ("127.0.0.1:5000/x/y:1", &missing),
            ("neo4j:5", &dns),
        ]);
        assert_eq!(message.matches("unreachable").count(), 1, "{message}");
        assert!(
            message.starts_with(
                "cannot pull postgres:15, redis:7, neo4j:5: the registry docker.io is unreachable"
            ),
            "{message}"
        );
        assert!(message.contains("cannot pull 127.0.0.1:5000/x/y:1: no such image"));
        assert!(
            help.contains("docker.io") && help.contains("images load"),
            "{help}"
        );
    }
}
