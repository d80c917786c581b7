//! The last rung: the same validation inside a Python container on the engine, with the
//! project mounted (and the wheelhouse, when one is given: then without any network).

use std::time::Duration;

use super::{Ladder, SdkError, Spec, VALIDATE_SCRIPT, Validation, parse_answer};
use crate::engine::Connected;
use crate::engine::api::{ContainerSpec, Engine, MountSource};
use crate::naming::project_name;
use crate::stack::{LABEL_ONRAMP, LABEL_PROJECT};

const DEFAULT_IMAGE: &str = "python:3.12-slim";
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// The shell command run in the container: a venv, the packages, then the validation script.
pub fn command(packages: &[String], wheelhouse: bool) -> Vec<String> {
    let source = if wheelhouse {
        "--no-index --find-links /wheelhouse"
    } else {
        ""
    };
    let pkgs = packages
        .iter()
        .map(|p| crate::escape::shell(p))
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "python3 -m venv /tmp/onramp-venv >&2 && /tmp/onramp-venv/bin/python -m pip install -q --disable-pip-version-check {source} {pkgs} >&2 && /tmp/onramp-venv/bin/python -c \"$ONRAMP_SCRIPT\" \"$ONRAMP_SPEC\""
        ),
    ]
}

/// The image of this rung: the profile's (mapped when the profile loaded), else the default
/// as the company's registry serves it (`[network] images`).
fn image_for(profile: &crate::profile::Profile) -> String {
    profile
        .sdk
        .container_image
        .clone()
        .unwrap_or_else(|| profile.network.map_image(DEFAULT_IMAGE))
}

pub(super) async fn validate(
    l: &mut Ladder<'_>,
    engine: &Connected,
    spec: &Spec,
) -> Result<Validation, SdkError> {
    let fail = |e: String| SdkError::Run(e);
    let image = image_for(l.profile);
    let api = &engine.api;
    if !api
        .image_exists(&image)
        .await
        .map_err(|e| fail(e.to_string()))?
    {
        l.printer.info(&format!("  sdk: pulling {image}"));
        api.pull(&image, &mut |_| {})
            .await
            .map_err(|e| fail(format!("cannot pull {image}: {e}")))?;
    }
    let project = project_name(l.profile.project.as_deref(), l.dir);
    let mut mounts = vec![(
        MountSource::Bind(l.dir.display().to_string()),
        "/project".to_string(),
    )];
    if let Some(w) = l.opts.wheelhouse {
        let w = w
            .canonicalize()
            .map_err(|e| fail(format!("wheelhouse {}: {e}", w.display())))?;
        mounts.push((
            MountSource::Bind(w.display().to_string()),
            "/wheelhouse".into(),
        ));
    }
    let packages = l.profile.sdk.packages.clone().unwrap_or_default();
    let spec_json = serde_json::to_string(spec).map_err(|e| fail(e.to_string()))?;
    let c = ContainerSpec {
        name: format!("{project}-onramp-validate-{}", std::process::id()),
        image: image.clone(),
        env: vec![
            format!("ONRAMP_SCRIPT={VALIDATE_SCRIPT}"),
            format!("ONRAMP_SPEC={spec_json}"),
        ],
        cmd: Some(command(&packages, l.opts.wheelhouse.is_some())),
        labels: [(LABEL_PROJECT, project.as_str()), (LABEL_ONRAMP, "1")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ports: vec![],
        mounts,
        // With a wheelhouse nothing needs the network.
        network: if l.opts.wheelhouse.is_some() {
            "none".into()
        } else {
            "bridge".into()
        },
        alias: String::new(),
        extras: Default::default(),
        working_dir: Some("/project".into()),
    };
    l.printer.info(&format!("  sdk: validating inside {image}"));
    let id = api.create(&c).await.map_err(|e| fail(e.to_string()))?;
    let result = run(api, &id).await;
    let _ = api.remove(&id).await;
    let logs = result?;
    parse_answer(&logs).ok_or_else(|| {
        let last: Vec<&str> = logs.lines().rev().take(3).collect();
        SdkError::NoAnswer(format!(
            "the container gave no answer: {}",
            last.join(" | ")
        ))
    })
}

async fn run<E: Engine>(api: &E, id: &str) -> Result<String, SdkError> {
    let fail = |e: String| SdkError::Run(e);
    api.start(id).await.map_err(|e| fail(e.to_string()))?;
    let started = crate::host::now();
    loop {
        match api.inspect(id).await {
            Ok(Some(c)) if !c.running => break,
            Ok(Some(_)) => {}
            Ok(None) => return Err(fail("the validation container vanished".into())),
            Err(e) => return Err(fail(e.to_string())),
        }
        if started.elapsed() > RUN_TIMEOUT {
            return Err(fail(format!(
                "no result within {} s",
                RUN_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    api.logs_tail(id, 400)
        .await
        .map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_image_comes_through_the_image_mapping() {
        let mut p = crate::profile::Profile::default();
        assert_eq!(image_for(&p), DEFAULT_IMAGE);
        p.network.image_prefix = Some("registry.corp.example/hub".into());
        assert_eq!(image_for(&p), "registry.corp.example/hub/python:3.12-slim");
        p.sdk.container_image = Some("registry.corp.example/py:3".into());
        assert_eq!(
            image_for(&p),
            "registry.corp.example/py:3",
            "already mapped at load"
        );
    }

    #[test]
    fn the_container_installs_offline_from_a_wheelhouse() {
        let c = command(&["kailash".into()], true);
        assert!(
            c[2].contains("--no-index --find-links /wheelhouse kailash"),
            "{}",
            c[2]
        );
        let c = command(&["kailash".into()], false);
        assert!(!c[2].contains("--no-index"));
    }
}
