//! Is a Docker engine reachable, and if not, exactly why and what to do on this platform.

use super::{Ctx, Outcome, Status};
use crate::engine::Reach;
use crate::platform::{Kind, distro_ids};
use crate::profile::Need;

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let probe = ctx.engine().await;
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
            format!("Docker {} (API {}) at {at}", i.version, i.api_version),
        ),
        Reach::NotInstalled => Outcome::new("docker", bad, format!("not installed (nothing at {at})"))
            .remedy(install_remedy(ctx)),
        Reach::NotRunning(why) => Outcome::new("docker", bad, format!("not running: {why}"))
            .remedy(start_remedy(ctx)),
        Reach::PermissionDenied(why) => Outcome::new(
            "docker",
            bad,
            format!("permission denied at {at}: {why}"),
        )
        .remedy("sudo usermod -aG docker $USER, then log out and in again (or run `newgrp docker`)"),
        Reach::Timeout => Outcome::new(
            "docker",
            bad,
            format!("no answer within {} ms at {at}", crate::engine::PROBE_TIMEOUT.as_millis()),
        )
        .remedy(format!("the engine is hung or starting; {}", start_remedy(ctx))),
        Reach::ApiTooOld(why) => Outcome::new("docker", bad, format!("engine API too old: {why}"))
            .remedy(upgrade_remedy(ctx)),
        Reach::Unreachable(why) => Outcome::new("docker", bad, format!("unreachable: {why}"))
            .remedy("check DOCKER_HOST / DOCKER_CONTEXT (`docker context ls`), or unset them to use the local engine"),
    };
    vec![o]
}

fn has_systemd(ctx: &Ctx) -> bool {
    ctx.host.sys_exists("/run/systemd/system")
}

fn start_remedy(ctx: &Ctx) -> String {
    match ctx.kind() {
        Kind::Windows | Kind::Macos => "start Docker Desktop and wait until it says Engine running".into(),
        Kind::Wsl2 if ctx.host.which("dockerd").is_none() => {
            "start Docker Desktop on Windows with WSL integration on for this distro (Settings > Resources > WSL integration)".into()
        }
        _ if has_systemd(ctx) => "sudo systemctl start docker".into(),
        _ => "sudo service docker start   (no systemd here: or `sudo dockerd > /var/log/dockerd.log 2>&1 &`)".into(),
    }
}

fn install_remedy(ctx: &Ctx) -> String {
    let ids = ctx
        .os_release
        .as_deref()
        .map(distro_ids)
        .unwrap_or_default();
    let has = |id: &str| ids.iter().any(|i| i == id);
    match ctx.kind() {
        Kind::Windows => {
            "winget install Docker.DockerDesktop   (then enable the WSL2 backend)".into()
        }
        Kind::Macos => "brew install --cask docker   (then start Docker Desktop)".into(),
        _ if has("debian") || has("ubuntu") => {
            "sudo apt-get install docker.io && sudo systemctl enable --now docker".into()
        }
        _ if has("fedora") || has("rhel") => {
            "sudo dnf install moby-engine && sudo systemctl enable --now docker".into()
        }
        _ if has("arch") => "sudo pacman -S docker && sudo systemctl enable --now docker".into(),
        _ if has("opensuse") || has("suse") => {
            "sudo zypper install docker && sudo systemctl enable --now docker".into()
        }
        _ => "install Docker Engine with your distribution's package manager, then start it".into(),
    }
}

fn upgrade_remedy(ctx: &Ctx) -> String {
    match ctx.kind() {
        Kind::Windows | Kind::Macos => "update Docker Desktop to a current release".into(),
        _ => "upgrade the Docker engine with your package manager".into(),
    }
}
