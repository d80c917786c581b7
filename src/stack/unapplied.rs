//! Keys the Compose reader takes that `up` does not apply yet: a service that will start with
//! one of them is refused by name, so nothing read is silently dropped.

use crate::profile::{Profile, Service};

/// The first key of the selected services (or of the networks and volumes they use) that `up`
/// cannot apply yet, as `(service, key)`.
pub fn first(profile: &Profile, selected: &[String]) -> Option<(String, String)> {
    for name in selected {
        let Some(svc) = profile.services.get(name) else {
            continue;
        };
        if let Some(key) = in_service(svc) {
            return Some((name.clone(), format!("`{key}`")));
        }
        for v in svc.volumes.iter().flatten() {
            let Some(vol) = super::named_volume(v) else {
                continue;
            };
            if profile.volumes.get(vol).is_some_and(|o| {
                o.name.is_some()
                    || o.external.is_some()
                    || o.driver_opts.is_some()
                    || o.labels.is_some()
            }) {
                return Some((name.clone(), format!("the options of volume `{vol}`")));
            }
        }
        if !profile.networks.is_empty() {
            return Some((name.clone(), "the top-level `networks`".into()));
        }
    }
    None
}

fn in_service(svc: &Service) -> Option<&'static str> {
    let build_target = svc.build.as_ref().is_some_and(|b| b.target.is_some());
    [
        ("container_name", svc.container_name.is_some()),
        ("tty", svc.tty.is_some()),
        ("stdin_open", svc.stdin_open.is_some()),
        ("extra_hosts", svc.extra_hosts.is_some()),
        ("platform", svc.platform.is_some()),
        ("network_mode", svc.network_mode.is_some()),
        ("networks", svc.networks.is_some()),
        ("deploy.resources.reservations", svc.reservations.is_some()),
        ("build.target", build_target),
    ]
    .into_iter()
    .find(|(_, set)| *set)
    .map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_service_with_a_key_up_cannot_apply_is_named() {
        let mut p = Profile::default();
        p.services.insert("db".into(), Service::default());
        p.services.insert(
            "ai".into(),
            Service {
                container_name: Some("x".into()),
                ..Service::default()
            },
        );
        assert_eq!(first(&p, &["db".into()]), None);
        assert_eq!(
            first(&p, &["ai".into(), "db".into()]),
            Some(("ai".into(), "`container_name`".into()))
        );
    }
}
