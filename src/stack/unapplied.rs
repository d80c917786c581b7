//! Keys the Compose reader takes that `up` does not apply yet: a service that will start with
//! one of them is refused by name, so nothing read is silently dropped.

use crate::profile::{NetworkSpec, Profile, Service, VolumeSpec};

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
            if profile.volumes.get(vol).is_some_and(volume_unapplied) {
                return Some((name.clone(), format!("the options of volume `{vol}`")));
            }
        }
        if let Some(net) = profile
            .networks
            .iter()
            .find(|(n, spec)| network_unapplied(n, spec))
            .map(|(n, _)| n)
        {
            return Some((name.clone(), format!("the top-level network `{net}`")));
        }
    }
    None
}

/// A volume's `name` and `driver: local` are applied; `external`, `driver_opts` and `labels`
/// not yet.
fn volume_unapplied(o: &VolumeSpec) -> bool {
    o.external == Some(true) || o.driver_opts.is_some() || o.labels.is_some()
}

/// The `default` network's `name` (bridge driver) is applied; other networks not yet.
fn network_unapplied(name: &str, o: &NetworkSpec) -> bool {
    name != "default" || o.external == Some(true) || o.driver_opts.is_some() || o.labels.is_some()
}

fn in_service(svc: &Service) -> Option<&'static str> {
    let build_target = svc.build.as_ref().is_some_and(|b| b.target.is_some());
    let only_default = svc.networks.as_ref().is_none_or(|n| {
        n.iter()
            .all(|(name, a)| name == "default" && a.aliases.is_none())
    });
    let cpu_reservation = svc.reservations.as_ref().is_some_and(|r| r.cpus.is_some());
    [
        ("platform", svc.platform.is_some()),
        ("network_mode", svc.network_mode.is_some()),
        ("networks", !only_default),
        ("deploy.resources.reservations.cpus", cpu_reservation),
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
                network_mode: Some("host".into()),
                container_name: Some("applied".into()),
                ..Service::default()
            },
        );
        assert_eq!(first(&p, &["db".into()]), None);
        assert_eq!(
            first(&p, &["ai".into(), "db".into()]),
            Some(("ai".into(), "`network_mode`".into()))
        );
        p.networks.insert(
            "default".into(),
            NetworkSpec {
                name: Some("team_net".into()),
                ..NetworkSpec::default()
            },
        );
        assert_eq!(
            first(&p, &["db".into()]),
            None,
            "a named default network is applied"
        );
        p.networks.insert("back".into(), NetworkSpec::default());
        assert!(first(&p, &["db".into()]).is_some());
    }
}
