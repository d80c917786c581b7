//! Doctor checks: one file each, all registered in `ALL`, run concurrently. A check returns
//! outcomes (pass/warn/fail/skip, detail, remedy), never a panic or a bare error.

mod cpus;
mod disk;
mod docker;
mod images;
mod memory;
pub mod network;
mod platform;
mod ports;
mod python;
pub mod report;
mod wsl;
mod wsl_guard;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::OnceCell;

use crate::engine;
use crate::engine::api::Engine;
use crate::host::Host;
use crate::install::{Plan, Wants};
use crate::machine::Machine;
use crate::naming::{LABEL_PROJECT, LABEL_SERVICE, project_name};
use crate::platform::Kind;
use crate::profile::{Need, Profile, Threshold};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub id: String,
    pub status: Status,
    pub detail: String,
    pub remedy: Option<String>,
}

impl Outcome {
    pub fn new(id: &str, status: Status, detail: impl Into<String>) -> Outcome {
        Outcome {
            id: id.to_string(),
            status,
            detail: detail.into(),
            remedy: None,
        }
    }

    pub fn remedy(mut self, remedy: impl Into<String>) -> Outcome {
        self.remedy = Some(remedy.into());
        self
    }
}

/// What every check may look at: this run's machine snapshot, and the installer's plan for it
/// (a failing check's remedy is the plan's step that fixes it).
pub struct Ctx {
    pub host: Host,
    pub profile: Profile,
    pub dir: PathBuf,
    pub machine: Arc<Machine>,
    plan: Plan,
    published: OnceCell<BTreeMap<u16, String>>,
}

impl Ctx {
    pub fn new(host: Host, profile: Profile, dir: PathBuf, machine: Arc<Machine>) -> Ctx {
        let mut wants = wants_for_checks(&profile, &dir);
        wants.net = network::net_wants(&host, &profile, &dir);
        let plan = machine.plan(&wants);
        Ctx {
            host,
            profile,
            dir,
            machine,
            plan,
            published: OnceCell::new(),
        }
    }

    pub fn engine(&self) -> &engine::Probe {
        &self.machine.engine
    }

    /// The engine's facts when it answered.
    pub fn engine_info(&self) -> Option<&engine::EngineInfo> {
        match &self.machine.engine.reach {
            engine::Reach::Ready(info) => Some(info),
            _ => None,
        }
    }

    /// The installer's fix for a failing check (its plan's steps, or its refusal).
    pub fn fix_for(&self, check: &str) -> Option<String> {
        self.plan.fix_for(check)
    }

    /// The installer's plan for this machine, as the checks' remedies read it.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Host ports published by this project's own running containers, by service.
    pub async fn published_by_project(&self) -> &BTreeMap<u16, String> {
        self.published
            .get_or_init(|| async {
                let Ok(conn) = engine::connect_probed(&self.host, self.engine()).await else {
                    return BTreeMap::new();
                };
                let project = project_name(self.profile.project.as_deref(), &self.dir);
                let list = conn.api.list(&[(LABEL_PROJECT, &project)]).await;
                list.unwrap_or_default()
                    .iter()
                    .filter(|c| c.running)
                    .flat_map(|c| {
                        let svc = c.labels.get(LABEL_SERVICE).cloned().unwrap_or_default();
                        c.ports.iter().map(move |p| (p.host, svc.clone()))
                    })
                    .collect()
            })
            .await
    }

    pub fn kind(&self) -> Kind {
        self.machine.platform.kind
    }
}

/// What the profile asks of the machine, as the installer's plan wants it.
pub fn wants(p: &Profile, dir: &Path, accept_docker_desktop_license: bool) -> Wants {
    let r = &p.requirements;
    let thresh = |t: Option<Threshold>| t.and_then(|t| t.recommended.or(t.min));
    Wants {
        // An optional engine is not installed unasked; without a word, services with
        // images need one.
        docker: match r.docker {
            _ if p.backend == Some(crate::profile::Backend::Native) => false,
            Some(Need::Required) => true,
            Some(Need::Optional) => false,
            None => p.services.values().any(|s| s.image.is_some()),
        },
        python: r.python.clone(),
        cpus: thresh(r.cpus),
        memory_gib: thresh(r.memory_gib),
        accept_docker_desktop_license,
        dir: dir.display().to_string(),
        net: Default::default(),
        ports: p
            .services()
            .flat_map(|(name, s)| s.ports().into_iter().map(move |m| (m.host, name.clone())))
            .collect(),
        memory_min_gib: r.memory_gib.and_then(|t| t.min),
    }
}

/// What the profile wants, and an engine and a Python even where it leaves them optional, for
/// the remedies of the checks: a check fails only for what the profile needs, so its fix is
/// the step `doctor --fix` takes; a warning gets the step it would take.
fn wants_for_checks(p: &Profile, dir: &Path) -> Wants {
    let mut w = wants(p, dir, false);
    w.docker = p.backend != Some(crate::profile::Backend::Native);
    w.python.get_or_insert_with(String::new);
    w
}

type CheckFuture<'a> = Pin<Box<dyn Future<Output = Vec<Outcome>> + 'a>>;
type CheckFn = for<'a> fn(&'a Ctx) -> CheckFuture<'a>;

/// Every check, in report order.
const ALL: &[CheckFn] = &[
    |c| Box::pin(platform::check(c)),
    |c| Box::pin(wsl::check(c)),
    |c| Box::pin(wsl_guard::check(c)),
    |c| Box::pin(memory::check(c)),
    |c| Box::pin(cpus::check(c)),
    |c| Box::pin(disk::check(c)),
    |c| Box::pin(docker::check(c)),
    |c| Box::pin(python::check(c)),
    |c| Box::pin(ports::check(c)),
    |c| Box::pin(images::check(c)),
    |c| Box::pin(network::check(c)),
];

/// Run every check concurrently; outcomes come back in registration order.
pub async fn run_all(ctx: &Ctx) -> Vec<Outcome> {
    futures_util::future::join_all(ALL.iter().map(|f| f(ctx)))
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The installer's fix for a failing check, or where to see the steps.
fn fix_or_doctor(ctx: &Ctx, check: &str) -> String {
    ctx.fix_for(check).unwrap_or_else(|| {
        "`onramp doctor --fix --dry-run` shows the steps for this machine".into()
    })
}

/// Judge a measured amount against a threshold: below `min` fails, below `recommended` warns.
pub fn judge(value: f64, t: Option<Threshold>) -> Status {
    let Some(t) = t else { return Status::Pass };
    if t.min.is_some_and(|m| value + 1e-9 < m) {
        Status::Fail
    } else if t.recommended.is_some_and(|r| value + 1e-9 < r) {
        Status::Warn
    } else {
        Status::Pass
    }
}

/// `need 8, recommended 16` for a detail line.
pub fn wanted(t: Option<Threshold>, unit: &str) -> String {
    let Some(t) = t else {
        return "no requirement".into();
    };
    let fmt = |v: f64| format!("{}{unit}", trim_float(v));
    match (t.min, t.recommended) {
        (Some(m), Some(r)) => format!("need {}, recommended {}", fmt(m), fmt(r)),
        (Some(m), None) => format!("need {}", fmt(m)),
        (None, Some(r)) => format!("recommended {}", fmt(r)),
        (None, None) => "no requirement".into(),
    }
}

/// `8` rather than `8.0`, `1.5` stays.
pub fn trim_float(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_fails_and_recommended_warns() {
        let t = Some(Threshold {
            min: Some(2.0),
            recommended: Some(8.0),
        });
        assert_eq!(judge(1.0, t), Status::Fail);
        assert_eq!(judge(2.0, t), Status::Warn);
        assert_eq!(judge(8.0, t), Status::Pass);
        assert_eq!(judge(0.0, None), Status::Pass);
        assert_eq!(wanted(t, " GiB"), "need 2 GiB, recommended 8 GiB");
    }
}
