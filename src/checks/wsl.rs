//! Under WSL, is it WSL2 (which can run Docker Engine and the services)?

use super::{Ctx, Outcome, Status};
use crate::platform::Kind;

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let line = crate::install::pkg::wsl_set_version(ctx.platform.wsl_distro.as_deref());
    let o = match ctx.kind() {
        Kind::Wsl2 => Outcome::new("wsl", Status::Pass, "WSL2"),
        Kind::Wsl1 => Outcome::new(
            "wsl",
            Status::Fail,
            "WSL1: no real Linux kernel, so no Docker Engine and slow file access",
        )
        .remedy(format!(
            "in Windows PowerShell: {line}   (list distros with: wsl -l -v)"
        )),
        _ => Outcome::new("wsl", Status::Skip, "not running under WSL"),
    };
    vec![o]
}
