//! Under WSL, is it WSL2 (which can run Docker Engine and the services)?

use super::{Ctx, Outcome, Status};
use crate::platform::Kind;

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let o = match ctx.kind() {
        Kind::Wsl2 => Outcome::new("wsl", Status::Pass, "WSL2"),
        Kind::Wsl1 => Outcome::new(
            "wsl",
            Status::Fail,
            "WSL1: no real Linux kernel, so no Docker Engine and slow file access",
        )
        .remedy(super::fix_or_doctor(ctx, "wsl")),
        _ => Outcome::new("wsl", Status::Skip, "not running under WSL"),
    };
    vec![o]
}
