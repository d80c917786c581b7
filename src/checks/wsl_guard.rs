//! The WSL guardian's checks (DNS, networking mode, clock, memory cap, Windows drive, reserved
//! ports, Docker Desktop's integration), inside WSL2 and from Windows about its distro; each
//! fix is the installer's plan step for it.

use super::{Ctx, Outcome, Status};
use crate::install::guard::{self, Input, Level};

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let f = &ctx.machine.facts;
    let w = super::wants(&ctx.profile, &ctx.dir, false);
    let mut input = Input::of(f, &w);
    let r = &ctx.profile.requirements;
    input.memory = (
        r.memory_gib.and_then(|t| t.min),
        r.memory_gib.and_then(|t| t.recommended),
    );
    guard::examine(&input)
        .into_iter()
        .map(|x| {
            let status = match x.level {
                Level::Pass => Status::Pass,
                Level::Warn => Status::Warn,
                Level::Fail => Status::Fail,
                Level::Skip => Status::Skip,
            };
            let o = Outcome::new(x.id, status, x.detail);
            if matches!(status, Status::Warn | Status::Fail) {
                o.remedy(super::fix_or_doctor(ctx, x.id))
            } else {
                o
            }
        })
        .collect()
}
