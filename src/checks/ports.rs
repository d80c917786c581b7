//! Is every host port the profile publishes free?

use super::{Ctx, Outcome, Status};
use crate::ports::{holder, try_bind};

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (name, svc) in ctx.profile.services() {
        if svc.image.is_none() {
            continue;
        }
        // UDP ports and ports the engine picks when the container starts are not checked.
        for p in svc.ports().into_iter().filter(|p| p.fixed_tcp()) {
            let id = format!("port:{name}:{}", p.host);
            let addr = format!("{}:{}", p.host_ip, p.host);
            match try_bind(p.host_ip, p.host) {
                Ok(()) => out.push(Outcome::new(&id, Status::Pass, format!("{addr} free for {name}"))),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && native_holds(ctx, name, p.host) => out.push(Outcome::new(
                    &id,
                    Status::Pass,
                    format!("{addr} is held by this project's native {name} (running)"),
                )),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    match ctx.published_by_project().await.get(&p.host) {
                        Some(owner) if owner == name => out.push(Outcome::new(
                            &id,
                            Status::Pass,
                            format!("{addr} is published by this project's {name} (running)"),
                        )),
                        _ => out.push(held(ctx, &id, name, &addr, p.host, p.container)),
                    }
                }
                Err(e) => out.push(
                    Outcome::new(&id, Status::Fail, format!("cannot bind {addr} for {name}: {e}"))
                        .remedy(format!("publish {name} on another port in onramp.toml: [services.{name}] ports = [\"{}:{}\"]", u32::from(p.host) + 10000, p.container)),
                ),
            }
        }
    }
    out
}

/// On the native backend: the port's holder is this project's own server process.
fn native_holds(ctx: &Ctx, name: &str, port: u16) -> bool {
    if ctx.profile.backend != Some(crate::profile::Backend::Native) {
        return false;
    }
    let root = crate::fsx::Root::new(&ctx.dir);
    let Some(ours) = crate::stack::native::supervise::running(&ctx.host, &root, name) else {
        return false;
    };
    holder(&ctx.host, port).is_some_and(|h| h.pid == ours.pid)
}

fn held(ctx: &Ctx, id: &str, name: &str, addr: &str, host_port: u16, container: u16) -> Outcome {
    let other = format!(
        "or publish {name} on another port in onramp.toml: [services.{name}] ports = [\"{}:{container}\"]",
        u32::from(host_port) + 10000
    );
    match holder(&ctx.host, host_port) {
        Some(h) if h.command.starts_with("docker-proxy") => Outcome::new(
            id,
            Status::Warn,
            format!("{addr} is published by a Docker container (docker-proxy, pid {})", h.pid),
        )
        .remedy(format!(
            "if it is this project's {name}, all is well (`onramp status`); otherwise find it with `docker ps --filter publish={host_port}` and stop it, {other}"
        )),
        Some(h) => Outcome::new(
            id,
            Status::Fail,
            format!("{addr} is held by {} (pid {})", h.command, h.pid),
        )
        .remedy(format!("stop {} (pid {}), {other}", h.command, h.pid)),
        None => Outcome::new(id, Status::Fail, format!("{addr} is already in use"))
            .remedy(format!("find the holder with `ss -ltnp 'sport = :{host_port}'` and stop it, {other}")),
    }
}
