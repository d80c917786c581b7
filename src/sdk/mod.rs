//! SDK validation through a ladder of fallbacks: the interpreter as found, a project venv with
//! the SDK installed, the `resource` shim preloaded, WSL2 (on Windows), and a container.
//! Every rung tried is reported with why it was left.

mod container;
pub mod deps;
pub mod wsl;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::Connected;
use crate::generate::{context, render, shim};
use crate::host::{Cmd, Host, Os};
use crate::install::Wants;
use crate::machine::Machine;
use crate::outcome::{ImportStatus, RungStatus};
use crate::printer::Printer;
use crate::profile::Profile;
use crate::python::{self, Interpreter};
use crate::version::VersionReq;

pub const VALIDATE_SCRIPT: &str = include_str!("../py/validate_imports.py");
const VALIDATE_TIMEOUT: Duration = Duration::from_secs(120);
const PIP_TIMEOUT: Duration = Duration::from_secs(900);

/// What the validation script was asked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Spec {
    pub imports: Vec<String>,
    pub instantiate: Vec<String>,
    pub preload: Vec<String>,
    pub path: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportResult {
    pub name: String,
    pub status: ImportStatus,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_module: Option<String>,
}

impl ImportResult {
    pub fn ok(&self) -> bool {
        self.status == ImportStatus::Ok
    }

    pub fn summary(&self) -> String {
        format!(
            "{}: {}: {}",
            self.name,
            self.kind.as_deref().unwrap_or("error"),
            self.error.as_deref().unwrap_or("")
        )
    }
}

/// The script's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub python: String,
    pub executable: String,
    #[serde(default)]
    pub preload: Vec<ImportResult>,
    pub imports: Vec<ImportResult>,
}

impl Validation {
    pub fn ok(&self) -> bool {
        self.preload
            .iter()
            .chain(&self.imports)
            .all(ImportResult::ok)
    }

    /// Top-level names of the modules whose absence broke an import.
    pub fn missing(&self) -> BTreeSet<String> {
        self.imports
            .iter()
            .filter_map(|i| i.missing_module.as_deref())
            .map(|m| m.split('.').next().unwrap_or(m).to_string())
            .collect()
    }

    fn first_error(&self) -> String {
        self.preload
            .iter()
            .chain(&self.imports)
            .find(|i| !i.ok())
            .map(ImportResult::summary)
            .unwrap_or_default()
    }
}

/// One rung of the ladder and how it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rung {
    pub rung: String,
    pub status: RungStatus,
    pub python: Option<String>,
    pub detail: String,
}

/// The whole ladder's result, as `validate --json` reports it under `sdk`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub python: Option<String>,
    pub rung: Option<String>,
    pub rungs_tried: Vec<Rung>,
    pub imports: Vec<ImportResult>,
    /// What to add to conftest.py when the shim was needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conftest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// The interpreter that passed and what it preloaded, for `gate`.
    #[serde(skip)]
    pub runner: Option<Runner>,
}

/// How imports passed: the interpreter (with its arguments) and what the script was asked.
#[derive(Debug, Clone)]
pub struct Runner {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub spec: Spec,
}

impl Runner {
    fn new(program: &Path, args: &[String], spec: &Spec) -> Runner {
        Runner {
            program: program.to_path_buf(),
            args: args.to_vec(),
            spec: spec.clone(),
        }
    }
}

/// Why a rung could not even ask its interpreter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdkError {
    /// The interpreter or container could not be run.
    #[error("{0}")]
    Run(String),
    /// It ran, but the validation script did not answer.
    #[error("{0}")]
    NoAnswer(String),
    /// A file the rung needs could not be written.
    #[error("{0}")]
    Write(String),
}

/// How the ladder may act (prompts go through the Printer, which knows `--yes`).
pub struct Options<'a> {
    pub explicit_python: Option<&'a Path>,
    pub wheelhouse: Option<&'a Path>,
    /// This run's machine snapshot, when one was gathered: its interpreters are used (unless
    /// `--python` names another) and its installer plan gives the remedy.
    pub machine: Option<&'a Machine>,
}

/// Import names of pip requirements: `kailash[all]>=0.9` -> `kailash`.
pub fn import_roots(packages: &[String]) -> Vec<String> {
    packages
        .iter()
        .map(|p| {
            p.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
                .next()
                .unwrap_or(p)
                .replace('-', "_")
                .to_ascii_lowercase()
        })
        .collect()
}

/// Run the validation script with an interpreter, in the project's context.
pub async fn validate_with(
    host: &Host,
    program: &Path,
    args: &[String],
    dir: &Path,
    spec: &Spec,
) -> Result<Validation, SdkError> {
    let spec_json = serde_json::to_string(spec).map_err(|e| SdkError::Run(e.to_string()))?;
    let cmd = Cmd::new(program, VALIDATE_TIMEOUT)
        .cwd(dir)
        .args(args)
        .arg("-c")
        .arg(VALIDATE_SCRIPT)
        .arg(spec_json);
    let out = host
        .run(&cmd)
        .await
        .map_err(|e| SdkError::Run(e.to_string()))?;
    parse_answer(&out.stdout).ok_or_else(|| {
        let said = out
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        SdkError::NoAnswer(format!(
            "the validation script did not answer ({}): {said}",
            exit_text(out.code)
        ))
    })
}

/// The last JSON line of the script's output.
pub fn parse_answer(stdout: &str) -> Option<Validation> {
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.trim()).ok())
}

fn spec_of(profile: &Profile) -> Spec {
    Spec {
        imports: profile.sdk.imports.clone().unwrap_or_default(),
        instantiate: profile.sdk.instantiate.clone().unwrap_or_default(),
        ..Spec::default()
    }
}

struct Ladder<'a> {
    host: &'a Host,
    dir: &'a Path,
    profile: &'a Profile,
    opts: &'a Options<'a>,
    printer: &'a Printer,
    rungs: Vec<Rung>,
}

impl Ladder<'_> {
    fn record(
        &mut self,
        rung: &str,
        status: RungStatus,
        python: Option<&str>,
        detail: impl Into<String>,
    ) {
        let detail = detail.into();
        self.printer.info(&format!(
            "  sdk: {rung}: {}{}{}",
            status.as_str(),
            python.map(|p| format!(" ({p})")).unwrap_or_default(),
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        ));
        self.rungs.push(Rung {
            rung: rung.into(),
            status,
            python: python.map(str::to_string),
            detail,
        });
    }

    fn done(
        &mut self,
        v: &Validation,
        rung: &str,
        runner: Runner,
        conftest: Option<String>,
    ) -> Report {
        Report {
            ok: true,
            python: Some(v.executable.clone()),
            rung: Some(rung.into()),
            rungs_tried: std::mem::take(&mut self.rungs),
            imports: v.imports.clone(),
            conftest,
            remedy: None,
            runner: Some(runner),
        }
    }

    fn failed(self, last: Option<&Validation>, remedy: String) -> Report {
        Report {
            ok: false,
            python: last.map(|v| v.executable.clone()),
            rung: None,
            rungs_tried: self.rungs,
            imports: last.map(|v| v.imports.clone()).unwrap_or_default(),
            conftest: None,
            remedy: Some(remedy),
            runner: None,
        }
    }
}

/// Walk the ladder until a rung passes.
pub async fn ladder(
    host: &Host,
    dir: &Path,
    profile: &Profile,
    opts: &Options<'_>,
    printer: &Printer,
    engine: Option<&Connected>,
) -> Report {
    let mut l = Ladder {
        host,
        dir,
        profile,
        opts,
        printer,
        rungs: Vec::new(),
    };
    let spec = spec_of(profile);
    let req = profile
        .requirements
        .python
        .as_deref()
        .and_then(|r| VersionReq::parse(r).ok());
    let found = match opts.machine {
        Some(m) if opts.explicit_python.is_none() => m.python.clone(),
        _ => python::find(host, dir, opts.explicit_python, req.as_ref()).await,
    };
    for r in &found.rejected {
        l.record(
            "interpreter",
            RungStatus::Skipped,
            Some(&r.program.display().to_string()),
            format!("{}: {}", r.label, r.reason),
        );
    }
    for i in &found.out_of_range {
        l.record(
            "interpreter",
            RungStatus::Skipped,
            Some(&i.program.display().to_string()),
            format!(
                "Python {} is outside {}",
                i.version,
                req.as_ref().map(|r| r.to_string()).unwrap_or_default()
            ),
        );
    }
    let mut last: Option<Validation> = None;
    if let Some(py) = found.interpreter {
        match climb(&mut l, py, &spec).await {
            Climb::Passed(report) => return *report,
            Climb::Failed(v) => last = v,
        }
    } else {
        l.record(
            "interpreter",
            RungStatus::Failed,
            None,
            "no usable Python interpreter",
        );
    }
    // Rung 4: WSL2 (Windows only).
    if host.os() == Os::Windows {
        if let Some(v) = wsl_rung(&mut l, &spec).await {
            let runner = Runner::new(Path::new("wsl.exe"), &[], &spec);
            return l.done(&v, "wsl2", runner, None);
        }
    } else {
        l.record("wsl2", RungStatus::Skipped, None, "not on Windows");
    }
    // Rung 5: a container.
    match engine {
        Some(e) => match container::validate(&mut l, e, &spec).await {
            Ok(v) if v.ok() => {
                let runner = Runner::new(Path::new("container"), &[], &spec);
                return l.done(&v, "container", runner, None);
            }
            Ok(v) => {
                l.record(
                    "container",
                    RungStatus::Failed,
                    Some(&v.executable),
                    v.first_error(),
                );
                last = last.or(Some(v));
            }
            Err(e) => l.record("container", RungStatus::Failed, None, e.to_string()),
        },
        None => l.record(
            "container",
            RungStatus::Skipped,
            None,
            "no Docker engine reachable",
        ),
    }
    let remedy = remedy(opts.machine, dir, &l.rungs);
    l.failed(last.as_ref(), remedy)
}

enum Climb {
    Passed(Box<Report>),
    Failed(Option<Validation>),
}

/// Rungs 1-3 with a real interpreter.
async fn climb(l: &mut Ladder<'_>, py: Interpreter, spec: &Spec) -> Climb {
    let label = py.program.display().to_string();
    let v = match validate_with(l.host, &py.program, &py.args, l.dir, spec).await {
        Ok(v) => v,
        Err(e) => {
            l.record(
                "interpreter",
                RungStatus::Failed,
                Some(&label),
                e.to_string(),
            );
            return Climb::Failed(None);
        }
    };
    if v.ok() {
        l.record("interpreter", RungStatus::Passed, Some(&label), "");
        let runner = Runner::new(&py.program, &py.args, spec);
        return Climb::Passed(Box::new(l.done(&v, "interpreter", runner, None)));
    }
    l.record(
        "interpreter",
        RungStatus::Failed,
        Some(&label),
        v.first_error(),
    );
    let mut current = Attempt {
        program: py.program.clone(),
        args: py.args.clone(),
        validation: v,
    };
    let roots = import_roots(&l.profile.sdk.packages.clone().unwrap_or_default());
    let missing = current.validation.missing();
    let declares = deps::read_facts(l.host, l.dir).declares();
    if missing.iter().any(|m| roots.contains(m)) || (declares && !missing.is_empty()) {
        match venv_rung(l, &py).await {
            Some((program, v)) if v.ok() => {
                let runner = Runner::new(&program, &[], spec);
                return Climb::Passed(Box::new(l.done(&v, "venv", runner, None)));
            }
            Some((program, v)) => {
                l.record(
                    "venv",
                    RungStatus::Failed,
                    Some(&program.display().to_string()),
                    v.first_error(),
                );
                current = Attempt {
                    program,
                    args: Vec::new(),
                    validation: v,
                };
            }
            None => {}
        }
    }
    if current.validation.missing().contains("resource") {
        let label = current.program.display().to_string();
        match shim_rung(l, &current.program, &current.args, spec).await {
            Ok((v, runner)) if v.ok() => {
                let advice = "add `import windows_patch  # noqa: F401` as the first line of conftest.py (and keep windows_patch.py beside it)".to_string();
                return Climb::Passed(Box::new(l.done(&v, "shim", runner, Some(advice))));
            }
            Ok((v, _)) => {
                l.record("shim", RungStatus::Failed, Some(&label), v.first_error());
                current.validation = v;
            }
            Err(e) => l.record("shim", RungStatus::Failed, Some(&label), e.to_string()),
        }
    } else {
        l.record(
            "shim",
            RungStatus::Skipped,
            None,
            "no import failed for want of `resource`",
        );
    }
    Climb::Failed(Some(current.validation))
}

/// The interpreter a rung ended with and what it answered.
struct Attempt {
    program: PathBuf,
    args: Vec<String>,
    validation: Validation,
}

/// What the venv rung will do, decided before anything runs: the question to ask, then each
/// command in order.
#[derive(Debug, Clone, PartialEq)]
pub struct VenvPlan {
    pub venv: PathBuf,
    pub python: PathBuf,
    pub question: String,
    pub steps: Vec<VenvStep>,
    /// What the steps install, for the report (`pip install -e .[fast]; pip install pytest`).
    pub installed: String,
}

/// One command of the venv rung.
#[derive(Debug, Clone, PartialEq)]
pub struct VenvStep {
    /// What the user is told while it runs.
    pub say: String,
    /// What a failure is called.
    pub what: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

/// Rung 2, decided: create `.venv` when it is missing, then install what the project declares
/// with the tool it declares, then the profile's packages (`deps::plan`; offline from a
/// wheelhouse when one is given).
pub fn venv_plan(
    dir: &Path,
    py: &Interpreter,
    facts: &deps::Facts,
    sdk: &crate::profile::Sdk,
    wheelhouse: Option<&Path>,
    venv_exists: bool,
    os: Os,
) -> VenvPlan {
    let packages = sdk.packages.clone().unwrap_or_default();
    let extras = sdk.extras.clone().unwrap_or_default();
    let venv = dir.join(".venv");
    let venv_py = python::venv_python(&venv, os);
    let deps = deps::plan(facts, &venv, &venv_py, &packages, &extras, wheelhouse);
    let what = deps.summary();
    let mut steps = Vec::new();
    let question = if venv_exists {
        format!("Run {what} in {}?", venv.display())
    } else {
        let mut args = py.args.clone();
        args.extend(["-m".into(), "venv".into(), venv.display().to_string()]);
        steps.push(VenvStep {
            say: format!("creating {}", venv.display()),
            what: "python -m venv".into(),
            program: py.program.clone(),
            args,
            env: Vec::new(),
            timeout: Duration::from_secs(120),
        });
        format!(
            "Create {} with Python {} and run {what}?",
            venv.display(),
            py.version,
        )
    };
    for step in deps.steps {
        steps.push(VenvStep {
            say: format!("{} (this can take a minute)", step.summary),
            what: step.summary,
            program: match step.program {
                deps::Program::VenvPython => venv_py.clone(),
                deps::Program::Tool(p) => p,
            },
            args: step.args,
            env: step.env,
            timeout: PIP_TIMEOUT,
        });
    }
    VenvPlan {
        venv,
        python: venv_py,
        question,
        steps,
        installed: what,
    }
}

/// Rung 2, done: ask once, run the plan's commands, then validate with the venv's interpreter.
async fn venv_rung(l: &mut Ladder<'_>, py: &Interpreter) -> Option<(PathBuf, Validation)> {
    let exists = python::venv_python(&l.dir.join(".venv"), l.host.os()).exists();
    let facts = deps::read_facts(l.host, l.dir);
    let plan = venv_plan(
        l.dir,
        py,
        &facts,
        &l.profile.sdk,
        l.opts.wheelhouse,
        exists,
        l.host.os(),
    );
    if !l.printer.confirm(&plan.question) {
        l.record(
            "venv",
            RungStatus::Skipped,
            None,
            "declined; run with --yes to accept",
        );
        return None;
    }
    let label = plan.python.display().to_string();
    let bundle = company_bundle(l);
    for step in &plan.steps {
        l.printer.info(&format!("  sdk: {}", step.say));
        let mut cmd = Cmd::new(&step.program, step.timeout)
            .cwd(l.dir)
            .args(&step.args);
        for (k, v) in step.env.iter().chain(bundle.iter().flatten()) {
            cmd = cmd.env(k, v);
        }
        let failure = match l.host.run(&cmd).await {
            Ok(o) if o.code == Some(0) => {
                if !exists && bundle.is_some() && step.args.iter().any(|a| a == "venv") {
                    venv_trust(l);
                }
                continue;
            }
            Ok(o) => {
                let said = if o.stderr.trim().is_empty() {
                    &o.stdout
                } else {
                    &o.stderr
                };
                format!("{} failed: {}", step.what, tail(said))
            }
            Err(e) => e.to_string(),
        };
        l.record("venv", RungStatus::Failed, Some(&label), failure);
        return None;
    }
    let v = match validate_with(l.host, &plan.python, &[], l.dir, &spec_of(l.profile)).await {
        Ok(v) => v,
        Err(e) => {
            l.record("venv", RungStatus::Failed, Some(&label), e.to_string());
            return None;
        }
    };
    if v.ok() {
        l.record(
            "venv",
            RungStatus::Passed,
            Some(&label),
            format!("installed: {}", plan.installed),
        );
    }
    Some((plan.python, v))
}

/// The environment that makes pip, uv and poetry trust the company root, when the profile
/// names one and `doctor --fix` made the project's bundle (`install::net_python`): the bundle
/// is brought up to date first (the OS store or the named file may have changed).
fn company_bundle(l: &Ladder<'_>) -> Option<Vec<(String, String)>> {
    let ca = l.dir.join(l.profile.network.ca_file.as_deref()?);
    if !crate::netdiag::bundle::path(l.dir).exists() {
        return None;
    }
    match crate::netdiag::bundle::ensure(l.host, l.dir, &ca, None) {
        Ok(b) => Some(crate::install::net_python::install_env(&b.path)),
        Err(e) => {
            l.printer
                .warn(&format!("  sdk: the company CA bundle is not used: {e}"));
            None
        }
    }
}

/// A venv this rung just created gets the same pip configuration `doctor --fix` writes, so the
/// user's own `pip install` in it trusts the company root too.
fn venv_trust(l: &Ladder<'_>) {
    use crate::install::net_python;
    let rel = net_python::conf_rel(l.host.os() == Os::Windows);
    let Some(text) =
        net_python::conf_text(&crate::netdiag::bundle::path(l.dir).display().to_string())
    else {
        l.printer.warn(&format!(
            "  sdk: {rel} not written: the project's path holds a line break; set PIP_CERT to the CA bundle for each pip run"
        ));
        return;
    };
    let root = crate::fsx::Root::new(l.dir);
    let wrote = root
        .create_new(rel, text.as_bytes(), 0o644)
        .map_err(|e| e.to_string())
        .and_then(|made| match made {
            true => net_python::record_added(&root, rel),
            // Something is there already: not onramp's, so neither replaced nor undone.
            false => Ok(()),
        });
    if let Err(e) = wrote {
        l.printer.warn(&format!("  sdk: cannot write {rel}: {e}"));
    }
}

/// Rung 3: preload the shim. The project's own `windows_patch.py` when it has one; otherwise
/// one rendered into `.onramp/shim/`.
async fn shim_rung(
    l: &mut Ladder<'_>,
    program: &Path,
    args: &[String],
    spec: &Spec,
) -> Result<(Validation, Runner), SdkError> {
    let mut spec = spec.clone();
    spec.preload = vec!["windows_patch".into()];
    if !l.dir.join("windows_patch.py").is_file() {
        let shim_dir = l.dir.join(crate::project::STATE_DIR).join("shim");
        let packages = l.profile.sdk.packages.clone().unwrap_or_default();
        let scan = shim::scan_installed(l.host, l.dir, &packages).await;
        let ctx = context::build(l.profile, l.dir, &scan);
        let write = |e: String| SdkError::Write(e);
        let text = render(l.dir, "windows_patch.py", &ctx).map_err(|e| write(e.to_string()))?;
        crate::fsx::Root::new(l.dir)
            .write(
                &format!("{}/shim/windows_patch.py", crate::project::STATE_DIR),
                text.as_bytes(),
                0o644,
            )
            .map_err(|e| write(e.to_string()))?;
        spec.path.push(shim_dir.display().to_string());
    }
    let v = validate_with(l.host, program, args, l.dir, &spec).await?;
    if v.ok() {
        l.record(
            "shim",
            RungStatus::Passed,
            Some(&program.display().to_string()),
            "imports pass with windows_patch preloaded",
        );
    }
    Ok((v, Runner::new(program, args, &spec)))
}

async fn wsl_rung(l: &mut Ladder<'_>, spec: &Spec) -> Option<Validation> {
    // The machine snapshot already knows when there is no WSL to ask.
    if let Some(m) = l
        .opts
        .machine
        .filter(|m| !m.facts.has("wsl") && !m.facts.has("wsl.exe"))
    {
        let fix = m
            .plan(&Wants::everything(l.dir))
            .fix_for("docker")
            .unwrap_or_else(|| crate::install::pkg::WSL_INSTALL.join(" "));
        l.record(
            "wsl2",
            RungStatus::Failed,
            None,
            format!("WSL is not installed: {fix}"),
        );
        return None;
    }
    let list = l
        .host
        .run(
            &Cmd::new("wsl.exe", Duration::from_secs(20))
                .arg("-l")
                .arg("-v"),
        )
        .await
        .ok()
        .map(|o| decode_utf16ish(&o.stdout))
        .unwrap_or_default();
    let spec_json = serde_json::to_string(spec).ok()?;
    match wsl::plan(
        &wsl::parse_list(&list),
        &l.dir.display().to_string(),
        VALIDATE_SCRIPT,
        &spec_json,
    ) {
        wsl::Plan::Remedy(r) => {
            l.record(
                "wsl2",
                RungStatus::Failed,
                None,
                format!("no WSL2 distribution: {r}"),
            );
            None
        }
        wsl::Plan::Run(step) => {
            let cmd = Cmd::new(&step.program, VALIDATE_TIMEOUT).args(&step.args);
            let out = l.host.run(&cmd).await.ok()?;
            match parse_answer(&out.stdout) {
                Some(v) if v.ok() => {
                    l.record("wsl2", RungStatus::Passed, Some(&v.executable), "");
                    Some(v)
                }
                Some(v) => {
                    l.record(
                        "wsl2",
                        RungStatus::Failed,
                        Some(&v.executable),
                        v.first_error(),
                    );
                    None
                }
                None => {
                    l.record("wsl2", RungStatus::Failed, None, tail(&out.stderr));
                    None
                }
            }
        }
    }
}

/// `wsl.exe` writes UTF-16LE; drop the NULs it leaves in a lossy decode.
fn decode_utf16ish(s: &str) -> String {
    s.replace('\0', "")
}

pub use crate::host::exit_text;

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

fn remedy(machine: Option<&Machine>, dir: &Path, rungs: &[Rung]) -> String {
    let no_python = rungs
        .iter()
        .any(|r| r.rung == "interpreter" && r.python.is_none() && r.status == RungStatus::Failed);
    if no_python {
        return machine
            .and_then(|m| m.plan(&Wants::everything(dir)).fix_for("python"))
            .unwrap_or_else(|| {
                "`onramp doctor --fix` installs a Python in range; or pass --python PATH".into()
            });
    }
    "fix the first failing import above; `onramp validate -v` shows every rung's detail".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_venv_plan_creates_the_venv_then_installs_the_checkout_then_the_rest() {
        let py = Interpreter {
            label: "python3".into(),
            program: "/usr/bin/python3".into(),
            args: vec![],
            version: crate::version::Version(vec![3, 11, 7]),
            executable: "/usr/bin/python3".into(),
        };
        let facts = deps::Facts {
            pyproject: Some("[project]\nname = \"kailash\"\n".into()),
            requirements: vec!["requirements.txt".into()],
            ..deps::Facts::default()
        };
        let sdk = crate::profile::Sdk {
            packages: Some(vec!["kailash[db-postgres]".into(), "pytest".into()]),
            ..Default::default()
        };
        let plan = venv_plan(
            Path::new("/p"),
            &py,
            &facts,
            &sdk,
            Some(Path::new("/w")),
            false,
            Os::Linux,
        );
        let what: Vec<&str> = plan.steps.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "python -m venv",
                "pip install -e .[db-postgres]",
                "pip install -r requirements.txt",
                "pip install pytest"
            ]
        );
        assert_eq!(plan.steps[1].program, PathBuf::from("/p/.venv/bin/python"));
        assert!(plan.steps[1].args.iter().any(|a| a == "--no-index"));
        assert!(
            plan.question.contains("pip install -e .[db-postgres]"),
            "{}",
            plan.question
        );
        assert_eq!(
            plan.installed,
            "pip install -e .[db-postgres]; pip install -r requirements.txt; pip install pytest"
        );
    }

    #[test]
    fn requirement_strings_become_import_names() {
        let p = vec![
            "kailash[all]>=0.9".to_string(),
            "Python-Dotenv==1".to_string(),
        ];
        assert_eq!(import_roots(&p), ["kailash", "python_dotenv"]);
    }

    #[test]
    fn answers_are_parsed_from_the_last_json_line() {
        let out = "noise\n{\"python\": \"3.11.7\", \"executable\": \"/x\", \"imports\": [{\"name\": \"a:B\", \"status\": \"error\", \"type\": \"ModuleNotFoundError\", \"error\": \"No module named 'resource'\", \"missing_module\": \"resource\"}]}\n";
        let v = parse_answer(out).unwrap();
        assert!(!v.ok());
        assert!(v.missing().contains("resource"));
        assert!(v.first_error().contains("ModuleNotFoundError"));
    }
}
