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
use crate::profile;
use crate::stack::{LABEL_HASH, LABEL_ONRAMP, LABEL_PROJECT};

pub async fn run(
    config: &Config,
    host: &Host,
    printer: &Printer,
    args: &DownArgs,
) -> Result<Verdict> {
    let profile = profile::load(&config.profile)?.profile;
    let _lock = super::up::lock(&config.dir)?;
    let engine = super::up::connect(host).await?;
    let project = project_name(&profile, &config.dir);
    let removed = down(&engine.api, &project, args.volumes).await?;
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

/// Remove the project's containers, network and (when asked) volumes that carry our labels.
pub async fn down<E: Engine + Sync>(
    engine: &E,
    project: &str,
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
        .list(&[(LABEL_PROJECT, project), (LABEL_HASH, "")])
        .await
        .map_err(err)?
    {
        engine.remove(&c.id).await.map_err(err)?;
        containers.push(c.name);
    }
    let mut networks = Vec::new();
    let ours = [(LABEL_PROJECT, project), (LABEL_ONRAMP, "1")];
    for n in engine.networks(&ours).await.map_err(err)? {
        engine.remove_network(&n).await.map_err(err)?;
        networks.push(n);
    }
    let mut removed_volumes = Vec::new();
    if volumes {
        for v in engine.volumes(&ours).await.map_err(err)? {
            engine.remove_volume(&v).await.map_err(err)?;
            removed_volumes.push(v);
        }
    }
    Ok(json!({"containers": containers, "networks": networks, "volumes": removed_volumes}))
}
