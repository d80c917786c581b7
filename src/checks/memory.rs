//! Memory: the smaller of the host's and the cgroup limit, and the engine VM's when it has one.

use super::{Ctx, Outcome, Status, judge, trim_float, wanted};
use crate::platform::Kind;
use crate::resources::{self, gib};

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let t = ctx.profile.requirements.memory_gib;
    let Some(mem) = resources::memory(&ctx.host) else {
        return vec![Outcome::new(
            "memory",
            Status::Skip,
            "cannot read /proc/meminfo",
        )];
    };
    let mut value = mem.effective_gib();
    let mut detail = format!("{:.1} GiB", value);
    let mut parts = vec![format!("host {:.1} GiB", gib(mem.host_bytes))];
    if let Some(l) = mem.cgroup_limit_bytes {
        parts.push(format!("cgroup limit {:.1} GiB", gib(l)));
    }
    let engine_mem = ctx.engine_info().and_then(|i| i.mem_total);
    if let Some(e) = engine_mem {
        parts.push(format!("engine {:.1} GiB", gib(e)));
        value = value.min(gib(e));
        detail = format!("{:.1} GiB", value);
    }
    detail.push_str(&format!(" ({}; {})", parts.join(", "), wanted(t, " GiB")));
    let status = judge(value, t);
    let mut o = Outcome::new("memory", status, detail);
    if status != Status::Pass {
        let need = t.and_then(|t| {
            if status == Status::Fail {
                t.min
            } else {
                t.recommended
            }
        });
        o = o.remedy(remedy(ctx, need.map(trim_float).unwrap_or_default()));
    }
    vec![o]
}

fn remedy(ctx: &Ctx, need: String) -> String {
    if ctx.machine.platform.container {
        return format!("start this container with more memory (docker run --memory {need}g ...)");
    }
    match ctx.kind() {
        Kind::Wsl2 => format!(
            "raise `memory={need}GB` under [wsl2] in %UserProfile%\\.wslconfig, then run `{}` from Windows",
            crate::install::pkg::WSL_SHUTDOWN.join(" ")
        ),
        Kind::Windows | Kind::Macos => format!(
            "give Docker Desktop at least {need} GiB: Settings > Resources > Memory; or use --profile minimal"
        ),
        _ => "close memory-hungry programs, or run a smaller stack with --profile minimal".into(),
    }
}
