//! The pull budget: before `up` pulls, each registry it will pull from without a login is asked
//! for its limit (a `HEAD` on a manifest, which no limit counts, answers with `RateLimit-*`
//! headers, as Docker Hub does), and a run that needs as many pulls as are left, or more, is
//! warned before it starts, pointing at a login or a mirror.

use std::path::Path;

use super::{Fault, Setup};
use crate::host::Host;

/// Registries the user is logged in to (`auths` and `credHelpers` of the Docker CLI's
/// config.json), as registry hosts (`docker.io` for Docker Hub).
pub fn logged_in(config_json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(config_json).unwrap_or_default();
    let keys = ["auths", "credHelpers"]
        .iter()
        .flat_map(|k| {
            v[k].as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone())
        })
        .collect::<Vec<_>>();
    keys.iter()
        .map(|k| {
            let h = k
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or(k);
            match h {
                "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
                h => h.to_string(),
            }
        })
        .collect()
}

/// The warning for one registry, from what it said and how many pulls this run needs there.
pub fn judge(
    registry: &str,
    needed: usize,
    remaining: Option<u64>,
    limit: Option<u64>,
) -> Option<String> {
    let left = remaining?;
    if left > needed as u64 {
        return None;
    }
    let of = limit.map(|l| format!(" of {l}")).unwrap_or_default();
    Some(format!(
        "{registry} allows {left} more pull(s){of} from this address for now and this run needs {needed}: log in (`docker login{}`: a login has a higher limit) or use a mirror (`[network] mirrors`, or `images` mapping the registry to your company's, in onramp.toml or the team's onramp-network.toml)",
        if registry == "docker.io" {
            String::new()
        } else {
            format!(" {registry}")
        }
    ))
}

/// Warnings for the images this run will pull (empty when every registry has room, or when
/// `ONRAMP_NETWORK=off`).
pub async fn warnings(host: &Host, dir: &Path, images: &[&str]) -> Vec<String> {
    if host.env("ONRAMP_NETWORK") == Some("off") || images.is_empty() {
        return Vec::new();
    }
    let config = host
        .env("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| host.home().map(|h| h.join(".docker")))
        .and_then(|d| crate::fsx::read_regular(&d.join("config.json"), 1 << 20).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let logged = logged_in(&config);
    let mut per: Vec<(String, &str, usize)> = Vec::new();
    for image in images {
        let (registry, _, _) = super::split_image(image);
        if logged.contains(&registry) {
            continue;
        }
        match per.iter_mut().find(|(r, _, _)| *r == registry) {
            Some((_, _, n)) => *n += 1,
            None => per.push((registry, image, 1)),
        }
    }
    if per.is_empty() {
        return Vec::new();
    }
    let setup = Setup::gather(host, None, false, None, dir);
    let asks = per.iter().map(|(r, image, n)| {
        let setup = &setup;
        async move {
            let f = super::reach_registry(host, setup, image, &[]).await;
            if let Some(Fault::RateLimited { .. }) = &f.fault {
                let what = f.fault.as_ref().map(Fault::describe).unwrap_or_default();
                return Some(format!(
                    "{r} refuses pulls from this address now ({what}): log in (`docker login`) or use a mirror (`[network] mirrors`, or `images` mapping the registry to your company's, in onramp.toml or the team's onramp-network.toml)"
                ));
            }
            let b = f.budget?;
            judge(r, *n, b.remaining_count(), b.limit_count())
        }
    });
    futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_read_from_auths_and_credential_helpers() {
        let c = r#"{"auths":{"https://index.docker.io/v1/":{}},"credHelpers":{"registry.corp:5000":"pass"}}"#;
        assert_eq!(logged_in(c), ["docker.io", "registry.corp:5000"]);
        assert!(logged_in("not json").is_empty());
    }

    #[test]
    fn a_run_is_warned_when_it_needs_as_many_pulls_as_are_left() {
        assert_eq!(judge("docker.io", 2, Some(3), Some(100)), None);
        let w = judge("docker.io", 3, Some(3), Some(100)).unwrap();
        assert!(
            w.contains("allows 3 more pull(s) of 100") && w.contains("needs 3"),
            "{w}"
        );
        assert!(w.contains("`docker login`"), "{w}");
        assert!(
            judge("r:5000", 1, Some(0), None)
                .unwrap()
                .contains("docker login r:5000")
        );
        assert_eq!(judge("docker.io", 5, None, Some(100)), None);
    }
}
