//! Images by digest: what a registry serves for a reference (its manifest digest and the
//! platforms its index offers), what this machine holds for a reference, and the engine's own
//! version and platform. `lock` writes these down; `verify` compares against them.

use serde::Serialize;

use super::api::{Bollard, EngineError, timed};

/// What the registry serves for a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remote {
    /// The manifest (or index) digest: what `repo@digest` pulls on every platform.
    pub digest: String,
    /// `os/arch[/variant]` of every platform it offers.
    pub platforms: Vec<String>,
}

/// An image as this machine holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Local {
    pub id: String,
    /// `repo@sha256:...` of every registry manifest it came from.
    pub repo_digests: Vec<String>,
    /// `os/arch[/variant]` of the image's own config.
    pub platform: String,
}

/// The engine's version, API version and platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineVersion {
    pub version: String,
    pub api_version: String,
    /// `Docker Engine - Community`, `Podman Engine`, ...
    pub product: String,
    pub platform: String,
}

/// Ask the registry (through the engine, with the stored credentials) what a reference is.
pub async fn remote(api: &Bollard, image: &str) -> Result<Remote, EngineError> {
    let answer = timed(
        api.docker()
            .inspect_registry_image(image, api.credentials_for(image)),
    )
    .await?;
    let digest = answer
        .descriptor
        .digest
        .filter(|d| d.starts_with("sha256:"))
        .ok_or_else(|| EngineError::Failed(format!("the registry gave no digest for {image}")))?;
    let mut platforms: Vec<String> = answer
        .platforms
        .iter()
        .filter_map(|p| {
            Some(platform(
                p.os.as_deref()?,
                p.architecture.as_deref()?,
                p.variant.as_deref(),
            ))
        })
        .filter(|p| p != "unknown/unknown")
        .collect();
    platforms.sort();
    platforms.dedup();
    Ok(Remote { digest, platforms })
}

/// The image this machine holds under `reference` (a tag or `repo@digest`), if any.
pub async fn local(api: &Bollard, reference: &str) -> Result<Option<Local>, EngineError> {
    match timed(api.docker().inspect_image(reference)).await {
        Ok(i) => Ok(Some(Local {
            id: i.id.unwrap_or_default(),
            repo_digests: i.repo_digests.unwrap_or_default(),
            platform: platform(
                i.os.as_deref().unwrap_or("linux"),
                i.architecture.as_deref().unwrap_or(""),
                i.variant.as_deref(),
            ),
        })),
        Err(EngineError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The engine's own answer about itself.
pub async fn version(api: &Bollard) -> Result<EngineVersion, EngineError> {
    let v = timed(api.docker().version()).await?;
    Ok(EngineVersion {
        version: v.version.unwrap_or_default(),
        api_version: v.api_version.unwrap_or_default(),
        product: v
            .platform
            .map(|p| p.name)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "Docker Engine".into()),
        platform: platform(
            v.os.as_deref().unwrap_or(""),
            v.arch.as_deref().unwrap_or(""),
            None,
        ),
    })
}

/// `os/arch[/variant]`, with the variant that is implied left out (`linux/arm64/v8` is
/// `linux/arm64`), so two spellings of one platform compare equal.
pub fn platform(os: &str, arch: &str, variant: Option<&str>) -> String {
    let os = if os.is_empty() { "unknown" } else { os };
    let arch = match arch {
        "" => "unknown",
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    match variant.filter(|v| !v.is_empty()) {
        Some("v8") if arch == "arm64" => format!("{os}/{arch}"),
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    }
}

/// Whether `offered` (a lock's or registry's list) serves `machine` (`linux/arm64`): an entry
/// with a variant serves the machine's architecture too (`linux/arm/v7` for `linux/arm`).
pub fn offers(offered: &[String], machine: &str) -> bool {
    offered
        .iter()
        .any(|p| p == machine || p.starts_with(&format!("{machine}/")))
}

/// The repository of a reference: without its tag and digest (`reg:5000/a/b:1` -> `reg:5000/a/b`).
pub fn repository(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[last_slash..].rfind(':') {
        Some(colon) => &no_digest[..last_slash + colon],
        None => no_digest,
    }
}

/// The reference that pulls exactly `digest` from the repository of `reference`.
pub fn pinned(reference: &str, digest: &str) -> String {
    format!("{}@{digest}", repository(reference))
}

/// The digest a reference names itself (`repo@sha256:...`), if it names one.
pub fn named_digest(reference: &str) -> Option<&str> {
    reference
        .split_once('@')
        .map(|(_, d)| d)
        .filter(|d| d.starts_with("sha256:"))
}

/// One spelling of a repository: Docker Hub's `docker.io/library/` prefix dropped.
fn familiar(repo: &str) -> &str {
    let r = repo
        .strip_prefix("docker.io/")
        .or_else(|| repo.strip_prefix("index.docker.io/"))
        .unwrap_or(repo);
    r.strip_prefix("library/").unwrap_or(r)
}

/// The digests among `repo_digests` (`repo@sha256:...`) that belong to the repository of
/// `reference`.
pub fn digests_for<'a>(repo_digests: &'a [String], reference: &str) -> Vec<&'a str> {
    let want = familiar(repository(reference));
    repo_digests
        .iter()
        .filter_map(|rd| rd.split_once('@'))
        .filter(|(repo, _)| familiar(repo) == want)
        .map(|(_, d)| d)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_lose_tag_and_digest_but_keep_a_registry_port() {
        assert_eq!(
            repository("127.0.0.1:5000/onramp-test/postgres:15"),
            "127.0.0.1:5000/onramp-test/postgres"
        );
        assert_eq!(
            repository("127.0.0.1:5000/x/redis"),
            "127.0.0.1:5000/x/redis"
        );
        assert_eq!(repository("redis:7@sha256:ab"), "redis");
        assert_eq!(repository("redis"), "redis");
        assert_eq!(
            pinned("reg:5000/a/b:1", "sha256:00ff"),
            "reg:5000/a/b@sha256:00ff"
        );
        assert_eq!(named_digest("a/b@sha256:12"), Some("sha256:12"));
        assert_eq!(named_digest("a/b:1"), None);
    }

    #[test]
    fn platforms_compare_in_one_spelling() {
        assert_eq!(platform("linux", "arm64", Some("v8")), "linux/arm64");
        assert_eq!(platform("linux", "aarch64", None), "linux/arm64");
        assert_eq!(platform("linux", "arm", Some("v7")), "linux/arm/v7");
        assert!(offers(&["linux/arm/v7".into()], "linux/arm"));
        assert!(!offers(&["linux/amd64".into()], "linux/arm64"));
        assert!(offers(
            &["linux/amd64".into(), "linux/arm64".into()],
            "linux/arm64"
        ));
    }

    #[test]
    fn repo_digests_are_matched_to_their_repository_in_any_spelling() {
        let rd = vec![
            "postgres@sha256:aa".to_string(),
            "127.0.0.1:5000/t/postgres@sha256:bb".to_string(),
        ];
        assert_eq!(
            digests_for(&rd, "docker.io/library/postgres:15"),
            ["sha256:aa"]
        );
        assert_eq!(
            digests_for(&rd, "127.0.0.1:5000/t/postgres:15"),
            ["sha256:bb"]
        );
        assert!(digests_for(&rd, "redis:7").is_empty());
    }
}
