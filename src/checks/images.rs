//! Images: is every service's image pinned to a version? A reference with no tag or the tag
//! `latest` floats: two developers a month apart get different servers. A tag that names a
//! version, even a major one (`redis:7`), or a digest counts as pinned.

use super::{Ctx, Outcome, Status};

/// The tag of an image reference (`registry:port/name:tag@digest`), `None` when it has none.
pub fn tag(image: &str) -> Option<&str> {
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    last.split_once(':').map(|(_, t)| t)
}

/// Why a reference floats, or `None` when it is pinned.
pub fn floating(image: &str) -> Option<&'static str> {
    if image.contains('@') {
        return None;
    }
    match tag(image) {
        None => Some("has no tag, so it means `latest`"),
        Some("latest") => Some("uses the tag `latest`"),
        Some(_) => None,
    }
}

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    if ctx.profile.backend == Some(crate::profile::Backend::Native) {
        return vec![Outcome::new(
            "images",
            Status::Skip,
            "native backend: no images; the services venv's wheels are pinned with hashes",
        )];
    }
    let mut pinned = Vec::new();
    let mut out = Vec::new();
    for (name, svc) in ctx.profile.services() {
        let Some(image) = &svc.image else { continue };
        match floating(image) {
            None => pinned.push(format!("{name} {image}")),
            Some(why) => {
                let bare = match tag(image) {
                    Some(t) => &image[..image.len() - t.len() - 1],
                    None => image.as_str(),
                };
                out.push(
                    Outcome::new(
                        &format!("image:{name}"),
                        Status::Warn,
                        format!("{name}'s image {image} {why}: it changes whenever a new version is published"),
                    )
                    .remedy(format!(
                        "pin a version in onramp.toml: [services.{name}] image = \"{bare}:X.Y.Z\" (the version you test against)"
                    )),
                );
            }
        }
    }
    if out.is_empty() && !pinned.is_empty() {
        out.push(Outcome::new(
            "images",
            Status::Pass,
            format!("pinned: {}", pinned.join(", ")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_found_after_the_last_slash() {
        assert_eq!(tag("postgres:15.13-alpine"), Some("15.13-alpine"));
        assert_eq!(tag("127.0.0.1:5000/onramp-test/redis"), None);
        assert_eq!(tag("127.0.0.1:5000/onramp-test/redis:7"), Some("7"));
        assert_eq!(tag("chromadb/chroma"), None);
    }

    #[test]
    fn no_tag_and_latest_float_versions_and_digests_do_not() {
        assert!(floating("chromadb/chroma:latest").is_some());
        assert!(floating("redis").is_some());
        assert!(floating("127.0.0.1:5000/x/redis").is_some());
        assert!(floating("redis:7").is_none());
        assert!(floating("neo4j:5.26.0").is_none());
        assert!(floating("redis@sha256:0123abcd").is_none());
    }
}
