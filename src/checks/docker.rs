//! Is a Docker engine reachable, and if not, exactly why and what to do on this platform.

use super::{Ctx, Outcome, Status};
use crate::engine::Reach;
use crate::engine::remedy::Remedies;
use crate::profile::Need;

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let probe = ctx.engine().await;
    let fix =
        Remedies::new(&ctx.host, ctx.kind(), ctx.os_release.as_deref()).at(probe.endpoint.as_ref());
    let at = probe
        .endpoint
        .as_ref()
        .map(|e| format!("{} ({})", e.endpoint, e.source))
        .unwrap_or_else(|| "no endpoint".into());
    let optional = ctx.profile.requirements.docker == Some(Need::Optional);
    let bad = if optional { Status::Warn } else { Status::Fail };
    let o = match &probe.reach {
        Reach::Ready(i) => Outcome::new(
            "docker",
            Status::Pass,
            format!(
                "{} {} (API {}) at {at}",
                crate::engine::product(probe.endpoint.as_ref()),
                i.version,
                i.api_version
            ),
        ),
        Reach::NotInstalled => {
            Outcome::new("docker", bad, format!("not installed (nothing at {at})"))
                .remedy(fix.install())
        }
        Reach::NotRunning(why) => {
            Outcome::new("docker", bad, format!("not running: {why}")).remedy(fix.start())
        }
        Reach::PermissionDenied(why) => {
            Outcome::new("docker", bad, format!("permission denied at {at}: {why}"))
                .remedy(fix.permission())
        }
        Reach::Timeout => Outcome::new(
            "docker",
            bad,
            format!(
                "no answer within {} ms at {at}",
                crate::engine::PROBE_TIMEOUT.as_millis()
            ),
        )
        .remedy(format!("the engine is hung or starting; {}", fix.start())),
        Reach::ApiTooOld(why) => {
            Outcome::new("docker", bad, format!("engine API too old: {why}")).remedy(fix.upgrade())
        }
        Reach::Unreachable(why) => {
            Outcome::new("docker", bad, format!("unreachable: {why}")).remedy(fix.endpoint())
        }
    };
    vec![o]
}
