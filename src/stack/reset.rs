//! `reset`: which services a rebuild takes down with their data, what of theirs exists in the
//! engine, and removing exactly that. Starting them again is `up`'s work.

use serde::Serialize;

use super::up::{Created, ServiceReport};
use super::{LABEL_HASH, LABEL_PROJECT, container_name, named_volume, ops, volume_name};
use crate::engine::Connected;
use crate::engine::api::{Engine, EngineError};
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::printer::Printer;
use crate::profile::Profile;
use crate::project::Project;

/// The engine, the selection and what exists of it: everything a reset decides before asking.
pub struct Prepared {
    pub engine: Connected,
    pub selection: Selection,
    pub plan: Plan,
}

/// Select the services, connect, and look up what of theirs exists.
pub async fn prepare(host: &Host, project: &Project, requested: &[String]) -> Result<Prepared> {
    let selection = select(&project.name, &project.profile, requested)?;
    let engine = crate::machine::connect_or_remedy(host, &project.dir, None).await?;
    let plan = plan(&engine.api, &project.name, &selection).await?;
    Ok(Prepared {
        engine,
        selection,
        plan,
    })
}

/// The plan in words, one line each: what goes, and why a service not named is included.
pub fn describe(sel: &Selection, plan: &Plan, dry_run: bool) -> Vec<String> {
    let verb = if dry_run {
        "would remove"
    } else {
        "will remove"
    };
    let mut out = vec![format!("reset {}:", plan.services.join(", "))];
    for (service, volume) in &sel.sharing {
        out.push(format!(
            "  {service} is included: it mounts the volume `{volume}` too"
        ));
    }
    out.extend(
        plan.containers
            .iter()
            .map(|c| match c.strip_prefix("process ") {
                // The native backend's processes.
                Some(p) => format!("  {verb} process {p}"),
                None => format!("  {verb} container {c}"),
            }),
    );
    out.extend(
        plan.volumes
            .iter()
            .map(|v| format!("  {verb} volume {v} (its data is deleted)")),
    );
    if plan.containers.is_empty() && plan.volumes.is_empty() {
        out.push("  nothing of them exists yet; only `up` runs".into());
    }
    out.push(format!(
        "  then `up`{}",
        if dry_run { " (not run now)" } else { "" }
    ));
    out
}

/// Deleting volumes needs a person's consent: `--yes` given on the command line, or yes at
/// the prompt. No terminal is not consent here, whatever it means elsewhere.
pub fn consent(yes_given: bool, printer: &Printer, plan: &Plan, named: &[String]) -> Result<()> {
    if plan.volumes.is_empty() || yes_given {
        return Ok(());
    }
    let question = format!(
        "Delete the data in {}? It cannot be recovered",
        plan.volumes.join(", ")
    );
    match printer.ask(&question, false) {
        Some(true) => Ok(()),
        Some(false) => Err(Error::NotReady {
            message: "reset declined; nothing was removed".into(),
            help: "`onramp reset --dry-run` shows what it would delete".into(),
        }),
        None => Err(Error::NotReady {
            message: format!(
                "reset deletes the data in {} and there is no terminal to ask; nothing was removed",
                plan.volumes.join(", ")
            ),
            help: format!(
                "to delete it, say so: `{}`",
                format!("onramp reset --yes {}", named.join(" ")).trim_end()
            ),
        }),
    }
}

/// What a reset did.
pub struct Rebuilt {
    pub removed: Vec<String>,
    pub engine: Option<Connected>,
    pub reports: Vec<ServiceReport>,
}

/// Remove the plan's containers and volumes, then bring the whole stack up again.
pub async fn rebuild(
    host: &Host,
    project: &Project,
    prepared: &Prepared,
    printer: &Printer,
) -> Result<Rebuilt> {
    let removed = apply(&prepared.engine.api, &prepared.plan).await?;
    if !removed.is_empty() {
        printer.result(&format!("removed {}", removed.join(", ")));
    }
    let mut created = Created::default();
    let (engine, reports) = ops::start(host, project, printer, &mut created, None).await?;
    Ok(Rebuilt {
        removed,
        engine,
        reports,
    })
}

/// The services to reset and the named volumes whose data goes with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selection {
    pub services: Vec<String>,
    /// (name in the profile, engine name)
    pub volumes: Vec<(String, String)>,
    /// Services added because they share a volume with a named one: (service, volume).
    pub sharing: Vec<(String, String)>,
}

/// Choose what `reset SERVICE...` takes down: the named services (every service onramp starts
/// when none is named), plus any service that mounts one of their volumes, since a volume in
/// use cannot be deleted and its data is theirs too.
pub fn select(project: &str, profile: &Profile, requested: &[String]) -> Result<Selection> {
    let managed: Vec<&String> = profile
        .services()
        .filter(|(_, s)| s.image.is_some())
        .map(|(n, _)| n)
        .collect();
    for name in requested {
        match profile.services().find(|(n, _)| *n == name) {
            None => {
                return Err(Error::Usage(format!(
                    "no service `{name}` in the profile; its services: {}",
                    profile
                        .services()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            Some((_, s)) if s.image.is_none() => {
                return Err(Error::Usage(format!(
                    "`{name}` is an external service: onramp neither starts it nor owns its data, so it cannot reset it"
                )));
            }
            Some(_) => {}
        }
    }
    let mut services: Vec<String> = if requested.is_empty() {
        managed.iter().map(|n| n.to_string()).collect()
    } else {
        let mut v: Vec<String> = Vec::new();
        for r in requested {
            if !v.contains(r) {
                v.push(r.clone());
            }
        }
        v
    };
    let mut sharing = Vec::new();
    loop {
        let vols = volumes_of(profile, &services);
        let extra = managed.iter().find_map(|n| {
            if services.contains(n) {
                return None;
            }
            volumes_of(profile, &[n.to_string()])
                .into_iter()
                .find(|v| vols.contains(v))
                .map(|v| (n.to_string(), v))
        });
        match extra {
            Some((n, v)) => {
                services.push(n.clone());
                sharing.push((n, v));
            }
            None => break,
        }
    }
    let volumes = volumes_of(profile, &services)
        .into_iter()
        .map(|v| {
            let full = volume_name(project, &v);
            (v, full)
        })
        .collect();
    Ok(Selection {
        services,
        volumes,
        sharing,
    })
}

fn volumes_of(profile: &Profile, services: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (name, svc) in profile.services() {
        if !services.contains(name) {
            continue;
        }
        for v in svc.volumes.iter().flatten() {
            if let Some(n) = named_volume(v)
                && !out.iter().any(|x| x == n)
            {
                out.push(n.to_string());
            }
        }
    }
    out
}

/// What a reset will remove, as it exists in the engine now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub services: Vec<String>,
    /// Container names.
    pub containers: Vec<String>,
    /// Volume engine names; their data is deleted.
    pub volumes: Vec<String>,
}

/// Look up the selection's containers and volumes; a same-named container that is not this
/// project's is refused before anything is removed.
pub async fn plan<E: Engine + Sync>(engine: &E, project: &str, sel: &Selection) -> Result<Plan> {
    let mut plan = Plan {
        services: sel.services.clone(),
        ..Plan::default()
    };
    for s in &sel.services {
        let name = container_name(project, s);
        let Some(c) = engine.inspect(&name).await.map_err(engine_err)? else {
            continue;
        };
        let ours = c.labels.get(LABEL_PROJECT).map(String::as_str) == Some(project)
            && c.labels.contains_key(LABEL_HASH);
        if !ours {
            return Err(Error::NotReady {
                message: format!(
                    "a container named {name} exists and was not created by onramp; nothing was removed"
                ),
                help: format!(
                    "remove it yourself if it holds nothing you need (`docker rm -f {name}`), then run `onramp reset` again"
                ),
            });
        }
        plan.containers.push(name);
    }
    // Volumes are deleted by label, never by name alone: only those carrying this project's
    // label (onramp and Compose both set it) are this project's data.
    let labelled = engine
        .volumes(&[(LABEL_PROJECT, project)])
        .await
        .map_err(engine_err)?;
    for (_, full) in &sel.volumes {
        if labelled.contains(full) {
            plan.volumes.push(full.clone());
        } else if engine.volume_exists(full).await.map_err(engine_err)? {
            return Err(foreign_volume(project, full));
        }
    }
    Ok(plan)
}

fn foreign_volume(project: &str, volume: &str) -> Error {
    Error::NotReady {
        message: format!(
            "a volume named {volume} exists without the label {LABEL_PROJECT}={project}: neither onramp nor Compose made it for this project, so reset will not delete it; nothing was removed"
        ),
        help: format!(
            "if its data is this project's and can go, delete it yourself (`docker volume rm {volume}`) and run `onramp reset` again; to keep it, give this project another name (`project = \"another-name\"` in onramp.toml)"
        ),
    }
}

/// Remove the plan's containers, then its volumes; returns what was removed, in words.
pub async fn apply<E: Engine + Sync>(engine: &E, plan: &Plan) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for c in &plan.containers {
        engine.remove(c).await.map_err(engine_err)?;
        done.push(format!("container {c}"));
    }
    for v in &plan.volumes {
        engine.remove_volume(v).await.map_err(|e| Error::NotReady {
            message: format!("cannot delete volume {v}: {e}"),
            help: format!(
                "another container still uses it: `docker ps -a --filter volume={v}` names it"
            ),
        })?;
        done.push(format!("volume {v}"));
    }
    Ok(done)
}

fn engine_err(e: EngineError) -> Error {
    Error::NotReady {
        message: format!("the engine refused: {e}"),
        help: "check the engine (`docker info`) and run `onramp reset` again".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::stack::fake::Fake;

    fn profile(extra: &str) -> Profile {
        let text = format!(
            r#"name = "t"
[services.postgres]
image = "pg:15"
volumes = ["pgdata:/var/lib/postgresql/data"]
probe = {{ kind = "postgres" }}
env = {{ POSTGRES_PASSWORD = "x" }}
[services.redis]
image = "redis:7"
volumes = ["redisdata:/data"]
[services.ext]
address = "127.0.0.1:9"
probe = {{ kind = "tcp" }}
{extra}"#
        );
        toml::from_str(&text).unwrap()
    }

    fn origin() -> crate::stack::Origin<'static> {
        crate::stack::Origin::new("p", Path::new("/d"), None)
    }

    fn names(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn one_named_service_takes_only_its_own_volume() {
        let s = select("p", &profile(""), &["postgres".into()]).unwrap();
        assert_eq!(names(&s.services), ["postgres"]);
        assert_eq!(s.volumes, [("pgdata".to_string(), "p_pgdata".to_string())]);
        assert!(s.sharing.is_empty());
    }

    #[test]
    fn none_named_means_every_started_service_never_an_external_one() {
        let s = select("p", &profile(""), &[]).unwrap();
        assert_eq!(names(&s.services), ["postgres", "redis"]);
        assert_eq!(s.volumes.len(), 2);
    }

    #[test]
    fn a_service_sharing_the_volume_is_taken_down_too_and_said_so() {
        let p = profile(
            "[services.backup]\nimage = \"pg:15\"\nvolumes = [\"pgdata:/backup\"]\ncommand = [\"sleep\", \"1d\"]\n",
        );
        let s = select("p", &p, &["postgres".into()]).unwrap();
        assert_eq!(names(&s.services), ["postgres", "backup"]);
        assert_eq!(s.sharing, [("backup".to_string(), "pgdata".to_string())]);
        assert_eq!(s.volumes.len(), 1);
    }

    #[test]
    fn unknown_and_external_services_are_bad_input() {
        let e = select("p", &profile(""), &["mysql".into()]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("postgres, redis"), "{e}");
        let e = select("p", &profile(""), &["ext".into()]).unwrap_err();
        assert!(e.to_string().contains("external"), "{e}");
    }

    #[tokio::test]
    async fn the_plan_holds_what_exists_and_apply_removes_only_that() {
        let p = profile("");
        let engine = Fake::default();
        let spec = crate::stack::spec(&origin(), "postgres", &p.services["postgres"]).unwrap();
        let id = engine.create(&spec).await.unwrap();
        let redis = crate::stack::spec(&origin(), "redis", &p.services["redis"]).unwrap();
        engine.create(&redis).await.unwrap();
        let ours = BTreeMap::from([(LABEL_PROJECT.to_string(), "p".to_string())]);
        for v in ["p_pgdata", "p_redisdata"] {
            engine
                .ensure_volume(v, &ours, &BTreeMap::new())
                .await
                .unwrap();
        }
        let sel = select("p", &p, &["postgres".into()]).unwrap();
        let plan = plan(&engine, "p", &sel).await.unwrap();
        assert_eq!(names(&plan.containers), ["p-postgres-1"]);
        assert_eq!(names(&plan.volumes), ["p_pgdata"]);
        apply(&engine, &plan).await.unwrap();
        let st = engine.state.lock().unwrap();
        assert!(!st.containers.contains_key(&id));
        assert_eq!(st.containers.len(), 1, "redis stays");
        assert!(st.volumes.contains_key("p_redisdata") && !st.volumes.contains_key("p_pgdata"));
    }

    #[tokio::test]
    async fn a_foreign_container_of_that_name_stops_the_plan() {
        let p = profile("");
        let engine = Fake::default();
        let mut spec = crate::stack::spec(&origin(), "postgres", &p.services["postgres"]).unwrap();
        spec.labels.clear();
        engine.create(&spec).await.unwrap();
        let sel = select("p", &p, &[]).unwrap();
        let e = plan(&engine, "p", &sel).await.unwrap_err();
        assert!(e.to_string().contains("not created by onramp"), "{e}");
    }

    #[tokio::test]
    async fn a_same_named_volume_without_the_project_label_is_refused_not_deleted() {
        let p = profile("");
        let engine = Fake::default();
        let other = BTreeMap::from([(LABEL_PROJECT.to_string(), "q".to_string())]);
        for labels in [BTreeMap::new(), other] {
            engine.state.lock().unwrap().volumes.clear();
            engine
                .ensure_volume("p_pgdata", &labels, &BTreeMap::new())
                .await
                .unwrap();
            let sel = select("p", &p, &["postgres".into()]).unwrap();
            let e = plan(&engine, "p", &sel).await.unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("p_pgdata") && text.contains("will not delete"),
                "{text}"
            );
            assert!(
                engine
                    .state
                    .lock()
                    .unwrap()
                    .volumes
                    .contains_key("p_pgdata")
            );
        }
    }
}
