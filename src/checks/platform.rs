//! Is this platform one the profile supports?

use super::{Ctx, Outcome, Status};
use crate::platform::Kind;

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let p = &ctx.machine.platform;
    let mut detail = p.kind.as_str().to_string();
    if let Some(d) = &p.distro {
        detail.push_str(&format!(", {d}"));
    }
    detail.push_str(&format!(", {}", p.arch));
    if p.container {
        detail.push_str(", inside a container");
    }
    let allowed = ctx.profile.requirements.platforms.as_ref();
    let ok = allowed.is_none_or(|list| list.contains(&p.kind));
    if ok {
        return vec![Outcome::new("platform", Status::Pass, detail)];
    }
    let list: Vec<&str> = allowed.into_iter().flatten().map(|k| k.as_str()).collect();
    let remedy = match p.kind {
        Kind::Wsl1 => super::fix_or_doctor(ctx, "platform"),
        _ => format!(
            "profile `{}` supports {}; run onramp there, or pick a profile that lists {}",
            ctx.profile.display_name(),
            list.join(", "),
            p.kind.as_str()
        ),
    };
    vec![
        Outcome::new(
            "platform",
            Status::Fail,
            format!("{detail} (profile allows {})", list.join(", ")),
        )
        .remedy(remedy),
    ]
}
