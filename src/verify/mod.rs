//! `verify`: this workstation against `onramp.lock` and the profile. Facts are gathered once
//! (`gather`, read-only, the registry asked only with `--online`); each judgement below is a
//! pure function of them, giving doctor-shaped outcomes whose id is `KIND:SUBJECT` and whose
//! remedy is the command that repairs the drift.

pub mod gather;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::checks::{Outcome, Status};
use crate::engine::api::ContainerInfo;
use crate::engine::distribution::{self, EngineVersion, Local, Remote};
use crate::lock::venv::{Installed, Listing};
use crate::lock::{FILE, ImageLock, Lock};
use crate::ports::Holder;
use crate::version::Version;

/// Everything `verify` looked at, gathered once.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub lock: Option<Lock>,
    /// Why the lock is stale, when it is.
    pub stale: Option<String>,
    /// The engine's answer, or the reason there is none with its remedy.
    pub engine: Option<Result<EngineVersion, (String, String)>>,
    pub images: Vec<ImageFacts>,
    pub services: Vec<ServiceFacts>,
    pub python: Option<PythonFacts>,
    pub shims: Vec<ShimFacts>,
    pub ports: Vec<PortFacts>,
}

/// One locked image as this machine has it.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub locked: ImageLock,
    /// The image under `repository@digest`.
    pub pinned: Option<Local>,
    /// The image under the profile's own reference (its tag).
    pub tagged: Option<Local>,
    /// The registry's answer, with `--online`.
    pub remote: Option<Result<Remote, String>>,
}

/// One managed service: what the profile and lock want, and its container.
#[derive(Debug, Clone)]
pub struct ServiceFacts {
    pub name: String,
    pub image: String,
    pub hash: String,
    pub env: Vec<String>,
    pub container: Option<ContainerInfo>,
}

/// The interpreter the SDK would use, and the profile's packages as it has them.
#[derive(Debug, Clone)]
pub struct PythonFacts {
    /// The interpreter found, or why none was, with its remedy.
    pub found: Result<(String, String), String>,
    pub packages: Option<Result<Listing, String>>,
}

/// A rendered shim file: what generate's manifest says and what is on disk.
#[derive(Debug, Clone)]
pub struct ShimFacts {
    pub path: String,
    pub manifest: Option<Vec<String>>,
    pub on_disk: Option<String>,
}

/// One published host port.
#[derive(Debug, Clone)]
pub struct PortFacts {
    pub service: String,
    pub addr: String,
    pub port: u16,
    pub container_port: u16,
    /// The service's own running container publishes it.
    pub ours: bool,
    /// It could be bound now.
    pub free: bool,
    pub holder: Option<Holder>,
}

/// verify's verdict: every outcome, and how many are drifts.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub ok: bool,
    pub drifts: usize,
    pub checks: Vec<Outcome>,
}

/// Judge every fact.
pub fn judge(f: &Facts) -> Verdict {
    let mut checks = lock_outcome(f);
    checks.extend(engine_outcomes(f));
    let machine = match &f.engine {
        Some(Ok(v)) => Some(v.platform.as_str()),
        _ => None,
    };
    for i in &f.images {
        checks.extend(image_outcomes(i, machine));
    }
    checks.extend(f.services.iter().map(service_outcome));
    checks.extend(python_outcomes(f));
    checks.extend(f.shims.iter().map(shim_outcome));
    checks.extend(f.ports.iter().map(port_outcome));
    let drifts = checks.iter().filter(|c| c.status == Status::Fail).count();
    Verdict {
        ok: drifts == 0,
        drifts,
        checks,
    }
}

fn pass(id: &str, detail: impl Into<String>) -> Outcome {
    Outcome::new(id, Status::Pass, detail)
}

fn fail(id: &str, detail: impl Into<String>, fix: impl Into<String>) -> Outcome {
    Outcome::new(id, Status::Fail, detail).remedy(fix)
}

fn lock_outcome(f: &Facts) -> Vec<Outcome> {
    let out = match (&f.lock, &f.stale) {
        (None, _) => fail(
            "lock",
            format!("there is no {FILE}: nothing pins images, engine, Python and packages"),
            "run `onramp lock` and commit onramp.lock",
        ),
        (Some(_), Some(why)) => fail(
            "lock",
            format!("{FILE} is stale: {why}"),
            "run `onramp lock` and commit onramp.lock",
        ),
        (Some(l), None) => pass("lock", format!("{FILE} matches profile {}", l.profile)),
    };
    vec![out]
}

fn engine_outcomes(f: &Facts) -> Vec<Outcome> {
    let Some(answer) = &f.engine else {
        return Vec::new();
    };
    let v = match answer {
        Err((why, fix)) => return vec![fail("engine", why.clone(), fix.clone())],
        Ok(v) => v,
    };
    let Some(lock) = &f.lock else {
        return vec![pass("engine", format!("{} {}", v.product, v.version))];
    };
    vec![engine_outcome(
        v,
        &lock.engine.minimum,
        &lock.engine.minimum_api,
    )]
}

/// The engine against the lock's minimum: the API version always, the release version when
/// the engine is Docker's (Podman numbers its releases differently).
pub fn engine_outcome(v: &EngineVersion, minimum: &str, minimum_api: &str) -> Outcome {
    let older = |have: &str, want: &str| match (Version::parse(have), Version::parse(want)) {
        (Some(h), Some(w)) => h < w,
        _ => false,
    };
    let docker = !v.product.to_ascii_lowercase().contains("podman");
    let fix = format!(
        "upgrade the engine to Docker {minimum} (API {minimum_api}) or newer: Docker Desktop's \"Check for updates\", or Docker's own packages for this distribution; then run `onramp verify` again (or lower [engine] minimum in onramp.lock if the team agrees)"
    );
    if docker && older(&v.version, minimum) {
        return fail(
            "engine",
            format!(
                "the engine is Docker {}; the lock needs {minimum} or newer",
                v.version
            ),
            fix,
        );
    }
    if older(&v.api_version, minimum_api) {
        return fail(
            "engine",
            format!(
                "the engine speaks API {}; the lock needs {minimum_api} or newer",
                v.api_version
            ),
            fix,
        );
    }
    pass(
        "engine",
        format!(
            "{} {} (API {}) meets the lock's minimum {minimum}",
            v.product, v.version, v.api_version
        ),
    )
}

/// One locked image: offered for this platform, present by its digest, its tag unmoved.
pub fn image_outcomes(i: &ImageFacts, machine: Option<&str>) -> Vec<Outcome> {
    let l = &i.locked;
    let pinned = crate::lock::pinned_reference(l);
    let mut out = Vec::new();
    if let Some(m) = machine {
        out.push(platform_outcome(i, m));
    }
    out.push(match &i.pinned {
        Some(_) => pass(
            &format!("image.digest:{}", l.reference),
            format!("{pinned} is here"),
        ),
        None => {
            let here = i
                .tagged
                .as_ref()
                .map(|t| distribution::digests_for(&t.repo_digests, &l.reference))
                .and_then(|d| d.first().map(|d| format!("; here {} is {d}", l.reference)))
                .unwrap_or_default();
            fail(
                &format!("image.digest:{}", l.reference),
                format!(
                    "the locked {} ({}) is not on this machine{here}",
                    l.reference, l.digest
                ),
                format!("`onramp up` pulls it by its digest (or `docker pull {pinned}`)"),
            )
        }
    });
    out.extend(tag_outcome(i));
    out
}

fn platform_outcome(i: &ImageFacts, machine: &str) -> Outcome {
    let l = &i.locked;
    let id = format!("image.platform:{}", l.reference);
    if !distribution::offers(&l.platforms, machine) {
        let arch = machine.rsplit('/').next().unwrap_or(machine);
        return fail(
            &id,
            format!(
                "{} has no {machine} build: its registry offers {} only",
                l.reference,
                l.platforms.join(", ")
            ),
            format!(
                "publish a {machine} build under the same tag (`docker buildx build --platform {},{machine} -t {} --push .`), then run `onramp lock` and commit onramp.lock; until then, run it emulated: `docker run --privileged --rm tonistiigi/binfmt --install {}` lets this {arch} engine run {}",
                l.platforms
                    .first()
                    .map(String::as_str)
                    .unwrap_or("linux/amd64"),
                l.reference,
                l.platforms
                    .first()
                    .and_then(|p| p.split('/').nth(1))
                    .unwrap_or("amd64"),
                l.platforms.join(", ")
            ),
        );
    }
    match &i.pinned {
        Some(local) if !distribution::offers(std::slice::from_ref(&local.platform), machine) => {
            fail(
                &id,
                format!(
                    "the copy of {} here is {}, this engine runs {machine}",
                    l.reference, local.platform
                ),
                format!(
                    "`docker rmi {}` then `onramp up` pulls the {machine} build",
                    crate::lock::pinned_reference(l)
                ),
            )
        }
        _ => pass(&id, format!("{} offers {machine}", l.reference)),
    }
}

/// The tag against the lock: the copy here and, with `--online`, the registry's.
fn tag_outcome(i: &ImageFacts) -> Vec<Outcome> {
    let l = &i.locked;
    let id = format!("image.tag:{}", l.reference);
    let fix = format!(
        "`onramp lock` takes the new image for the team (review it first, then commit onramp.lock); or `docker pull {pinned} && docker tag {pinned} {r}` brings the tag back to the locked image",
        pinned = crate::lock::pinned_reference(l),
        r = l.reference
    );
    let mut out = Vec::new();
    if let Some(t) = &i.tagged {
        let digests = distribution::digests_for(&t.repo_digests, &l.reference);
        let moved = !digests.is_empty()
            && !digests.contains(&l.digest.as_str())
            && i.pinned.as_ref().is_none_or(|p| p.id != t.id);
        if moved {
            out.push(fail(
                &id,
                format!(
                    "{} here is {}, the lock has {}: the tag moved since the lock",
                    l.reference,
                    digests.join(", "),
                    l.digest
                ),
                fix.clone(),
            ));
        }
    }
    match &i.remote {
        Some(Ok(r)) if r.digest != l.digest => out.push(fail(
            &id,
            format!(
                "the registry's {} is now {}, the lock has {}: the tag moved since the lock",
                l.reference, r.digest, l.digest
            ),
            fix,
        )),
        Some(Err(why)) => out.push(Outcome::new(
            &id,
            Status::Warn,
            format!("cannot ask the registry about {}: {why}", l.reference),
        )),
        _ => {}
    }
    if out.is_empty() {
        out.push(pass(&id, format!("{} is the locked image", l.reference)));
    }
    out
}

/// A service runs, with the config the profile and the lock give (its config hash).
pub fn service_outcome(s: &ServiceFacts) -> Outcome {
    let running_id = format!("service.running:{}", s.name);
    let Some(c) = &s.container else {
        return fail(
            &running_id,
            format!("{} has no container", s.name),
            format!("`onramp up {}`", s.name),
        );
    };
    if !c.running {
        return fail(
            &running_id,
            format!(
                "{} is stopped ({}, exit code {})",
                s.name, c.status, c.exit_code
            ),
            format!("`onramp up {}` starts it again", s.name),
        );
    }
    let label = c
        .labels
        .get(crate::stack::LABEL_HASH)
        .or_else(|| c.labels.get(crate::stack::LABEL_COMPOSE_HASH));
    if label == Some(&s.hash) {
        return pass(
            &format!("service.config:{}", s.name),
            format!("{} runs with the locked config", s.name),
        );
    }
    fail(
        &format!("service.config:{}", s.name),
        format!(
            "{} runs with another config than the profile and lock give: {}",
            s.name,
            differences(s, c).join("; ")
        ),
        format!(
            "`onramp up {}` recreates it with the locked config (its volumes are kept)",
            s.name
        ),
    )
}

/// What differs between the wanted and the running container, secrets by name only.
fn differences(s: &ServiceFacts, c: &ContainerInfo) -> Vec<String> {
    let mut out = Vec::new();
    if c.image != s.image {
        out.push(format!("image {} (wanted {})", c.image, s.image));
    }
    let split = |e: &String| {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        (k.to_string(), v.to_string())
    };
    let want: BTreeMap<String, String> = s.env.iter().map(split).collect();
    let have: BTreeMap<String, String> = c.env.iter().map(split).collect();
    let changed: Vec<&String> = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(v))
        .map(|(k, _)| k)
        .collect();
    if !changed.is_empty() {
        let names: Vec<&str> = changed.iter().map(|k| k.as_str()).collect();
        out.push(format!("environment {} changed", names.join(", ")));
    }
    if out.is_empty() {
        out.push("other settings (ports, volumes, command or limits) changed".into());
    }
    out
}

fn python_outcomes(f: &Facts) -> Vec<Outcome> {
    let (Some(lock), Some(py)) = (&f.lock, &f.python) else {
        return Vec::new();
    };
    let Some(locked) = &lock.python else {
        return Vec::new();
    };
    let (version, exe) = match &py.found {
        Err(fix) => {
            return vec![fail(
                "python",
                format!(
                    "no Python interpreter was found; the lock has {}",
                    locked.version
                ),
                fix.clone(),
            )];
        }
        Ok(found) => found,
    };
    let mut out = vec![python_outcome(&locked.version, version, exe)];
    match &py.packages {
        Some(Ok(listing)) => out.extend(package_outcomes(&lock.packages, listing, exe)),
        Some(Err(why)) => out.push(fail(
            "package",
            why.clone(),
            format!("check that `{exe} -c 'import sys'` runs, then `onramp verify` again"),
        )),
        None => {}
    }
    out
}

/// The interpreter against the locked version: the same major.minor passes.
pub fn python_outcome(locked: &str, found: &str, exe: &str) -> Outcome {
    let mm = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    if mm(locked) == mm(found) {
        return pass(
            "python",
            format!("Python {found} ({exe}); the lock has {locked}"),
        );
    }
    fail(
        "python",
        format!("Python {found} ({exe}); the lock has {locked}"),
        format!(
            "use Python {m} for this project: move .venv aside, `python{m} -m venv .venv`, then `onramp validate` installs the packages; or, if the team moves to {f}, `onramp lock` and commit onramp.lock",
            m = mm(locked),
            f = mm(found)
        ),
    )
}

/// Each locked package against what the interpreter has installed.
pub fn package_outcomes(
    locked: &[crate::lock::PackageLock],
    listing: &Listing,
    exe: &str,
) -> Vec<Outcome> {
    let have: BTreeMap<&str, &Installed> = listing
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();
    let mut out = Vec::new();
    for l in locked {
        let id = format!("package:{}", l.name);
        let install = format!("`{exe} -m pip install '{}=={}'`", l.name, l.version);
        match have.get(l.name.as_str()) {
            None => out.push(fail(
                &id,
                format!("{} {} is not installed for {exe}", l.name, l.version),
                install,
            )),
            Some(p) if p.version != l.version => out.push(fail(
                &id,
                format!("{} {} is installed; the lock has {}", l.name, p.version, l.version),
                install,
            )),
            Some(p) if !p.editable && l.sha256.is_some() && p.sha256 != l.sha256 => {
                out.push(fail(
                    &id,
                    format!(
                        "{} {}'s installed files differ from the locked ones (a local build, or files changed after install)",
                        l.name, l.version
                    ),
                    format!(
                        "`{exe} -m pip install --force-reinstall --no-deps '{}=={}'`",
                        l.name, l.version
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    if out.is_empty() {
        out.push(pass(
            "package",
            format!("{} package(s) as locked, for {exe}", locked.len()),
        ));
    }
    out
}

/// A shim file against the hash generate's manifest recorded for it.
pub fn shim_outcome(s: &ShimFacts) -> Outcome {
    let id = format!("shim:{}", s.path);
    match (&s.on_disk, &s.manifest) {
        (None, _) => fail(
            &id,
            format!("{} is missing", s.path),
            "`onramp generate` writes it again",
        ),
        (Some(_), None) => Outcome::new(
            &id,
            Status::Skip,
            format!(
                "{} was not written by onramp (not in .onramp/manifest.json)",
                s.path
            ),
        ),
        (Some(sha), Some(known)) if known.contains(sha) => {
            pass(&id, format!("{} is as `onramp generate` wrote it", s.path))
        }
        (Some(_), Some(_)) => fail(
            &id,
            format!("{} was edited since `onramp generate` wrote it", s.path),
            format!(
                "`onramp generate --force` writes onramp's version again and keeps yours as {}.bak; `onramp generate` alone shows the difference",
                s.path
            ),
        ),
    }
}

/// A published host port: free, or held by the service's own container.
pub fn port_outcome(p: &PortFacts) -> Outcome {
    let id = format!("port:{}:{}", p.service, p.port);
    if p.ours {
        return pass(&id, format!("{} is published by {}", p.addr, p.service));
    }
    if p.free {
        return pass(&id, format!("{} is free for {}", p.addr, p.service));
    }
    let another = format!(
        "or publish {s} on another port in onramp.toml ([services.{s}] ports = [\"{}:{}\"]), then `onramp generate && onramp up`",
        u32::from(p.port) + 10000,
        p.container_port,
        s = p.service
    );
    match &p.holder {
        Some(h) => fail(
            &id,
            format!(
                "{} is held by {} (pid {}), not by {}",
                p.addr, h.command, h.pid, p.service
            ),
            format!("stop {} (`kill {}`), {another}", h.command, h.pid),
        ),
        None => fail(
            &id,
            format!("{} is held by something other than {}", p.addr, p.service),
            format!(
                "find it with `ss -ltnp 'sport = :{}'` and stop it, {another}",
                p.port
            ),
        ),
    }
}

#[cfg(test)]
mod tests;
