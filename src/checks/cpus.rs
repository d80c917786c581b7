//! CPUs: logical CPUs this process may use, under any cgroup quota and the engine VM's count.

use super::{Ctx, Outcome, Status, judge, trim_float, wanted};
use crate::platform::Kind;
use crate::resources;

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let t = ctx.profile.requirements.cpus;
    let Some(c) = resources::cpus(&ctx.host) else {
        return vec![Outcome::new(
            "cpus",
            Status::Skip,
            "cannot read the CPU count",
        )];
    };
    let mut value = c.effective();
    let mut parts = vec![format!("{} logical", c.logical)];
    if let Some(p) = c.physical {
        parts.push(format!("{p} physical"));
    }
    if let Some(q) = c.quota {
        parts.push(format!("cgroup quota {}", trim_float(q)));
    }
    if let Some(n) = ctx.engine_info().and_then(|i| i.ncpu) {
        parts.push(format!("engine {n}"));
        value = value.min(f64::from(n));
    }
    let detail = format!(
        "{} ({}; {})",
        trim_float(value),
        parts.join(", "),
        wanted(t, "")
    );
    let status = judge(value, t);
    let mut o = Outcome::new("cpus", status, detail);
    if status != Status::Pass {
        o = o.remedy(remedy(ctx));
    }
    vec![o]
}

fn remedy(ctx: &Ctx) -> String {
    if ctx.machine.platform.container {
        return "start this container with more CPUs (docker run --cpus N ...)".into();
    }
    match ctx.kind() {
        Kind::Wsl2 => format!(
            "raise `processors=` under [wsl2] in %UserProfile%\\.wslconfig, then `{}`",
            crate::install::pkg::WSL_SHUTDOWN.join(" ")
        ),
        Kind::Windows | Kind::Macos => "give Docker Desktop more CPUs: Settings > Resources > CPUs".into(),
        _ => "services will start more slowly; use a machine with more cores for the full stack, or --profile minimal".into(),
    }
}
