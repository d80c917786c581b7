//! `onramp down [--volumes]`: remove what onramp created for this project, and only that.

use serde_json::json;

use super::Verdict;
use crate::cli::DownArgs;
use crate::config::Config;
use crate::engine::api::Engine;
use crate::errors::{Error, Result};
use crate::generate::context::project_name;
use crate::host::Host;
use crate::printer::Printer;
use crate::stack::{LABEL_HASH, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE, select};

pub async fn run(
    config: &Config,
    host: &Host,
    printer: &Printer,
    args: &DownArgs,
) -> Result<Verdict> {
    let profile = config.load(host, &args.services)?.profile;
    let only = if args.services.is_empty() {
        Vec::new()
    } else {
        select(&profile, &args.services)?;
        args.services.clone()
    };
    let _lock = super::up::lock(&config.dir)?;
    let engine = super::up::connect(host).await?;
    let project = project_name(&profile, &config.dir);
    let services: Vec<String> = profile.services().map(|(n, _)| n.clone()).collect();
    let removed = down(&engine.api, &project, &services, &only, args.volumes).await?;
    if config.json {
        printer.json(&json!({"ok": true, "project": project, "removed": removed}));
    }
    let (c, n, v) = (
        &removed["containers"],
        &removed["networks"],
        &removed["volumes"],
    );
    printer.result(&format!(
        "removed {} container(s), {} network(s), {} volume(s) of project {project}{}",
        c.as_array().map_or(0, Vec::len),
        n.as_array().map_or(0, Vec::len),
        v.as_array().map_or(0, Vec::len),
        if args.volumes {
            ""
        } else {
            "; volumes kept (--volumes removes them)"
        }
    ));
    Ok(Verdict::Ready)
}

/// Remove the project's containers that onramp made or manages (Compose's containers of the
/// profile's services included), then, unless only some services were named, the project's
/// network and (when asked) its volumes.
pub async fn down<E: Engine + Sync>(
    engine: &E,
    project: &str,
    services: &[String],
    only: &[String],
    volumes: bool,
) -> Result<serde_json::Value> {
    let err = |e: crate::engine::api::EngineError| {
        Error::NotReady {
        message: format!("the Docker engine refused: {e}"),
        help: "run `onramp down` again; `docker ps -a --filter label=com.docker.compose.project=PROJECT` lists what is left".into(),
    }
    };
    let mut containers = Vec::new();
    for c in engine
        .list(&[(LABEL_PROJECT, project)])
        .await
        .map_err(err)?
    {
        let service = c.labels.get(LABEL_SERVICE).cloned().unwrap_or_default();
        let managed = c.labels.contains_key(LABEL_HASH)
            || (services.contains(&service)
                && c.labels.get(LABEL_ONEOFF).map(String::as_str) != Some("True"));
        if !managed || (!only.is_empty() && !only.contains(&service)) {
            continue;
        }
        engine.remove(&c.id).await.map_err(err)?;
        containers.push(c.name);
    }
    let mut networks = Vec::new();
    let mut removed_volumes = Vec::new();
    if !only.is_empty() {
        return Ok(
            json!({"containers": containers, "networks": networks, "volumes": removed_volumes}),
        );
    }
    // The project's network, whether onramp or Compose made it; one still in use by a
    // container onramp does not manage stays.
    let project_label = [(LABEL_PROJECT, project)];
    for n in engine.networks(&project_label).await.map_err(err)? {
        if engine.remove_network(&n).await.is_ok() {
            networks.push(n);
        }
    }
    if volumes {
        for v in engine.volumes(&project_label).await.map_err(err)? {
            engine.remove_volume(&v).await.map_err(err)?;
            removed_volumes.push(v);
        }
    }
    Ok(json!({"containers": containers, "networks": networks, "volumes": removed_volumes}))
}
