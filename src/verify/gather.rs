//! The facts `verify` judges, gathered once and read-only from this run's machine snapshot and
//! the engine: the lock, the engine's answer, the locked images as this machine holds them (the
//! registry only with `--online`), the services' containers, the interpreter and its packages,
//! the shim files and the published ports.

use futures_util::future::join_all;

use super::{Facts, ImageFacts, PortFacts, PythonFacts, ServiceFacts, ShimFacts};
use crate::engine::api::{Bollard, ContainerInfo};
use crate::engine::distribution;
use crate::errors::{Error, Result};
use crate::fsx::Root;
use crate::generate::{load_manifest, sha256};
use crate::host::Host;
use crate::install::Wants;
use crate::lock::{self, Lock};
use crate::machine::{Depth, Machine};
use crate::ports::{holder, try_bind};
use crate::profile::Profile;
use crate::project::Project;

/// The template whose rendering is the `resource` shim.
const SHIM_TEMPLATE: &str = "windows_patch.py";

/// The snapshot verify needs (the engine's answer and the interpreters), gathered once.
pub async fn machine(host: &Host, project: &Project) -> Machine {
    let req = project
        .profile
        .requirements
        .python
        .as_deref()
        .and_then(|r| crate::version::VersionReq::parse(r).ok());
    Machine::gather(host, &project.dir, req.as_ref(), Depth::Checks).await
}

/// Gather every fact from the snapshot and the engine; `online` also asks the registry what
/// each locked tag is now.
pub async fn gather(
    host: &Host,
    project: &Project,
    machine: &Machine,
    online: bool,
) -> Result<Facts> {
    let lock = lock::read(&project.dir)?;
    let stale = lock.as_ref().and_then(|l| lock::stale(l, &project.profile));
    let profile = match &lock {
        Some(l) => lock::pin(&project.profile, l),
        None => project.profile.clone(),
    };
    let mut facts = Facts {
        stale,
        shims: shims(project)?,
        ..Facts::default()
    };
    let managed: Vec<&String> = profile
        .services()
        .filter(|(_, s)| s.image.is_some())
        .map(|(n, _)| n)
        .collect();
    let (engine, python) = tokio::join!(
        async {
            if managed.is_empty() {
                return None;
            }
            Some(crate::engine::connect_probed(host, &machine.engine).await)
        },
        python(host, project, machine, lock.as_ref())
    );
    facts.python = python;
    let mut containers = Vec::new();
    match engine {
        None => {}
        Some(Err(probe)) => {
            let fix = machine
                .plan(&Wants::everything(&project.dir))
                .fix_for("docker")
                .unwrap_or_else(|| crate::engine::generic_remedy(&probe.reach));
            facts.engine = Some(Err((crate::engine::describe(&probe), fix)));
        }
        Some(Ok(c)) => {
            facts.engine = Some(
                distribution::version(&c.api)
                    .await
                    .map_err(|e| (e.to_string(), "check the engine with `docker info`".into())),
            );
            if let Some(l) = &lock {
                facts.images = images(&c.api, l, &project.profile, online).await;
            }
            containers = services(&c.api, project, &profile, &mut facts).await?;
        }
    }
    facts.ports = ports(host, &profile, &containers);
    facts.lock = lock;
    Ok(facts)
}

/// Each locked image the profile uses, by digest and by tag (and from the registry, online).
async fn images(api: &Bollard, lock: &Lock, profile: &Profile, online: bool) -> Vec<ImageFacts> {
    let needed = crate::images::needed(profile);
    let asked = lock
        .images
        .iter()
        .filter(|i| needed.contains(&i.reference))
        .map(|i| async move {
            let remote = match online {
                true => Some(
                    distribution::remote(api, &i.reference)
                        .await
                        .map_err(|e| e.to_string()),
                ),
                false => None,
            };
            ImageFacts {
                locked: i.clone(),
                pinned: distribution::local(api, &lock::pinned_reference(i))
                    .await
                    .ok()
                    .flatten(),
                tagged: distribution::local(api, &i.reference).await.ok().flatten(),
                remote,
            }
        });
    join_all(asked).await
}

/// Each managed service's wanted spec and its container; returns the containers found.
async fn services(
    api: &Bollard,
    project: &Project,
    profile: &Profile,
    facts: &mut Facts,
) -> Result<Vec<(String, ContainerInfo)>> {
    let origin = project.origin();
    let mut found = Vec::new();
    for (name, svc) in profile.services() {
        let Some(spec) = crate::stack::spec(&origin, name, svc) else {
            continue;
        };
        let all = crate::stack::existing(api, &project.name, name)
            .await
            .map_err(|e| Error::NotReady {
                message: format!("the engine refused to list the containers of {name}: {e}"),
                help: "check the engine with `docker info`, then `onramp verify` again".into(),
            })?;
        let running = all.iter().find(|c| c.running).cloned();
        let container = running.or_else(|| all.into_iter().next());
        if let Some(c) = &container {
            found.push((name.clone(), c.clone()));
        }
        facts.services.push(ServiceFacts {
            name: name.clone(),
            image: spec.image.clone(),
            hash: spec
                .labels
                .get(crate::stack::LABEL_HASH)
                .cloned()
                .unwrap_or_default(),
            env: spec.env.clone(),
            container,
        });
    }
    Ok(found)
}

/// The interpreter the SDK ladder would take first (from the snapshot), and the locked
/// packages as it has them.
async fn python(
    host: &Host,
    project: &Project,
    machine: &Machine,
    lock: Option<&Lock>,
) -> Option<PythonFacts> {
    let lock = lock?;
    lock.python.as_ref()?;
    let found = &machine.python;
    let interp = found
        .interpreter
        .clone()
        .or_else(|| found.out_of_range.first().cloned());
    let Some(py) = interp else {
        let fix = machine
            .plan(&Wants::everything(&project.dir))
            .fix_for("python")
            .unwrap_or_else(|| "`onramp doctor --fix` installs Python".into());
        return Some(PythonFacts {
            found: Err(fix),
            packages: None,
        });
    };
    let packages = match lock.packages.is_empty() {
        true => None,
        false => {
            let roots: Vec<String> = lock.packages.iter().map(|p| p.name.clone()).collect();
            Some(lock::venv::list(host, &py, &roots).await)
        }
    };
    Some(PythonFacts {
        found: Ok((py.version.to_string(), py.executable.clone())),
        packages,
    })
}

/// Every shim file the profile renders, against generate's manifest.
fn shims(project: &Project) -> Result<Vec<ShimFacts>> {
    let files: Vec<&String> = project
        .profile
        .files
        .iter()
        .filter(|f| f.template == SHIM_TEMPLATE)
        .map(|f| &f.path)
        .collect();
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let manifest = load_manifest(&project.dir)?;
    let root = Root::new(&project.dir);
    let mut out = Vec::new();
    for path in files {
        let entry = manifest.files.get(path.as_str()).map(|e| {
            let mut known = vec![e.sha256.clone()];
            known.extend(e.pending.iter().cloned());
            known
        });
        out.push(ShimFacts {
            path: path.clone(),
            manifest: entry,
            on_disk: root.read_text(path)?.map(|t| sha256(&t)),
        });
    }
    Ok(out)
}

/// Each host port a managed service publishes: its own, free, or held by whom.
fn ports(host: &Host, profile: &Profile, containers: &[(String, ContainerInfo)]) -> Vec<PortFacts> {
    let mut out = Vec::new();
    for (name, svc) in profile.services().filter(|(_, s)| s.image.is_some()) {
        let running = containers
            .iter()
            .find(|(n, c)| n == name && c.running)
            .map(|(_, c)| c);
        for p in svc.ports().into_iter().filter(|p| p.fixed_tcp()) {
            let ours = running.is_some_and(|c| c.ports.iter().any(|cp| cp.host == p.host));
            let free = ours || try_bind(p.host_ip, p.host).is_ok();
            out.push(PortFacts {
                service: name.clone(),
                addr: format!("{}:{}", p.host_ip, p.host),
                port: p.host,
                container_port: p.container,
                ours,
                free,
                holder: (!free).then(|| holder(host, p.host)).flatten(),
            });
        }
    }
    out
}
