//! Is a Docker engine reachable, and if not, exactly why; the fix is the installer's plan for
//! this machine.

use super::{Ctx, Outcome, Status};
use crate::engine::{self, Reach};
use crate::profile::Need;

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    if ctx.profile.backend == Some(crate::profile::Backend::Native) {
        return vec![Outcome::new(
            "docker",
            Status::Skip,
            "native backend: services run as processes from pinned wheels, no engine needed",
        )];
    }
    let probe = ctx.engine();
    let at = probe
        .endpoint
        .as_ref()
        .map(|e| format!("{} ({})", e.endpoint, e.source))
        .unwrap_or_else(|| "no endpoint".into());
    let optional = ctx.profile.requirements.docker == Some(Need::Optional);
    let bad = if optional { Status::Warn } else { Status::Fail };
    let detail = match &probe.reach {
        Reach::Ready(i) => {
            let text = format!(
                "{} {} (API {}) at {at}",
                engine::product(probe.endpoint.as_ref()),
                i.version,
                i.api_version
            );
            return vec![Outcome::new("docker", Status::Pass, text)];
        }
        Reach::NotInstalled => format!("not installed (nothing at {at})"),
        Reach::NotRunning(why) => format!("not running: {why}"),
        Reach::PermissionDenied(why) => format!("permission denied at {at}: {why}"),
        Reach::Timeout => format!(
            "no answer within {} ms at {at}: hung or starting",
            engine::PROBE_TIMEOUT.as_millis()
        ),
        Reach::ApiTooOld(why) => format!("engine API too old: {why}"),
        Reach::Unreachable(why) => format!("unreachable: {why}"),
    };
    let fix = ctx
        .fix_for("docker")
        .unwrap_or_else(|| engine::generic_remedy(&probe.reach));
    vec![Outcome::new("docker", bad, detail).remedy(fix)]
}
