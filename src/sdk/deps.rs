//! What the venv rung installs: the project's own dependencies, with the tool the project
//! declares, then the profile's packages (README, `onramp setup`: the venv rung).
//!
//! `plan` is a pure function of the project's files (read once into `Facts`) and the profile;
//! it decides a list of argv steps, which the venv rung (`super::venv_plan`) runs in order.
//!
//! - `uv.lock`: `uv sync --frozen --inexact` (the lock as written, never rewritten; packages
//!   already in the venv are kept), after installing uv into the venv when none is on PATH;
//! - `poetry.lock`: `poetry install` into the venv, likewise;
//! - otherwise an installable `pyproject.toml` (a `[project]`, `[build-system]` or
//!   `[tool.poetry]` table) or a `setup.py`: `pip install -e .[extras]`;
//! - every `requirements*.txt` at the top of the project: `pip install -r` each;
//! - then the profile's packages, except the one the project itself is (a checkout of the SDK
//!   is installed from the checkout, never from the index).
//!
//! Extras are `[sdk] extras` plus those a profile package names for the project itself
//! (`kailash[db-postgres]` in a checkout of `kailash`). `--wheelhouse DIR` makes every step
//! offline (`--no-index --find-links DIR`, uv's `--offline`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::host::Host;

/// Project files larger than this are not read (a pyproject.toml is a few kilobytes).
const MAX_FILE: u64 = 1 << 20;

/// What the plan is decided from: the project's files, and which tools are on PATH.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub pyproject: Option<String>,
    pub setup_py: bool,
    pub uv_lock: bool,
    pub poetry_lock: bool,
    /// `requirements*.txt` file names at the project's top, sorted.
    pub requirements: Vec<String>,
    pub uv: Option<PathBuf>,
    pub poetry: Option<PathBuf>,
}

/// What a step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// The venv's own Python (`python -m pip ...`).
    VenvPython,
    /// An executable found on PATH, or installed into the venv's scripts directory.
    Tool(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub program: Program,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// What the step is for, for the report (`pip install -e .[fast]`).
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The project's own distribution name, when it declares one.
    pub project: Option<String>,
    pub steps: Vec<Step>,
}

impl Plan {
    /// One line for the question and the report: `uv sync; pip install kailash`.
    pub fn summary(&self) -> String {
        self.steps
            .iter()
            .map(|s| s.summary.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Facts {
    /// Whether the project declares dependencies of its own.
    pub fn declares(&self) -> bool {
        self.pyproject.is_some() || self.setup_py || !self.requirements.is_empty()
    }
}

/// Read the facts from the project directory: regular files only (no symlink is followed out
/// of the project), with a size cap.
pub fn read_facts(host: &Host, dir: &Path) -> Facts {
    let regular = |name: &str| {
        crate::fsx::lstat(&dir.join(name))
            .is_some_and(|m| m.file_type().is_file() && m.len() <= MAX_FILE)
    };
    let mut requirements: Vec<String> = crate::fsx::list(dir)
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .filter(|n| n.starts_with("requirements") && n.ends_with(".txt"))
        .filter(|n| regular(n))
        .collect();
    requirements.sort();
    Facts {
        pyproject: regular("pyproject.toml")
            .then(|| {
                crate::fsx::Root::new(dir)
                    .read_text("pyproject.toml")
                    .ok()
                    .flatten()
            })
            .flatten(),
        setup_py: regular("setup.py"),
        uv_lock: regular("uv.lock"),
        poetry_lock: regular("poetry.lock"),
        requirements,
        uv: host.which("uv"),
        poetry: host.which("poetry"),
    }
}

/// PEP 503 normalised name: `Kailash_SDK` -> `kailash-sdk`.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A requirement's name and extras: `kailash[db-postgres,ai]>=1` -> (`kailash`, [db-postgres, ai]).
pub fn requirement(spec: &str) -> (String, Vec<String>) {
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = spec[..end].to_string();
    let rest = spec[end..].trim_start();
    let extras = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((inside, _)) => inside
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect(),
        None => Vec::new(),
    };
    (name, extras)
}

/// The project's name and whether pip can install it, from pyproject.toml.
fn pyproject_info(text: &str) -> (Option<String>, bool) {
    let Ok(doc) = text.parse::<toml::Table>() else {
        // Unparseable: let pip say what is wrong with it.
        return (None, true);
    };
    let project = doc.get("project").and_then(|p| p.as_table());
    let poetry = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.as_table());
    let name = project
        .and_then(|p| p.get("name"))
        .or_else(|| poetry.and_then(|p| p.get("name")))
        .and_then(|n| n.as_str())
        .map(str::to_string);
    let installable = project.is_some() || poetry.is_some() || doc.contains_key("build-system");
    (name, installable)
}

fn offline_pip(args: &mut Vec<String>, wheelhouse: Option<&Path>) {
    if let Some(w) = wheelhouse {
        args.extend([
            "--no-index".into(),
            "--find-links".into(),
            w.display().to_string(),
        ]);
    }
}

fn pip(what: &[String], wheelhouse: Option<&Path>) -> Step {
    let mut args: Vec<String> = ["-m", "pip", "install", "--disable-pip-version-check", "-q"]
        .map(String::from)
        .to_vec();
    offline_pip(&mut args, wheelhouse);
    args.extend(what.iter().cloned());
    Step {
        program: Program::VenvPython,
        args,
        env: Vec::new(),
        summary: format!("pip install {}", what.join(" ")),
    }
}

/// The steps for this project, in order.
/// `venv` is the environment's directory, `python` its interpreter (`python::venv_python`:
/// `bin/python`, or `Scripts\python.exe` on Windows); tools installed into it go beside it.
pub fn plan(
    facts: &Facts,
    venv: &Path,
    python: &Path,
    packages: &[String],
    sdk_extras: &[String],
    wheelhouse: Option<&Path>,
) -> Plan {
    let (name, installable) = match &facts.pyproject {
        Some(text) => pyproject_info(text),
        None => (None, false),
    };
    let installable = installable || facts.setup_py;
    let own = name.as_deref().map(normalize);
    // Extras: the profile's, then those its package list names for the project itself.
    let mut extras: Vec<String> = sdk_extras.to_vec();
    for p in packages {
        let (n, ex) = requirement(p);
        if own.as_deref() == Some(normalize(&n).as_str()) {
            extras.extend(ex);
        }
    }
    let mut seen = BTreeSet::new();
    extras.retain(|e| seen.insert(e.clone()));
    let extras_suffix = if extras.is_empty() {
        String::new()
    } else {
        format!("[{}]", extras.join(","))
    };

    let mut steps = Vec::new();
    let venv_s = venv.display().to_string();
    let scripts = python.parent().unwrap_or(venv);
    let tool = |found: &Option<PathBuf>, name: &str, steps: &mut Vec<Step>| -> PathBuf {
        match found {
            Some(p) => p.clone(),
            None => {
                steps.push(pip(&[name.to_string()], wheelhouse));
                let exe = scripts.join(name);
                match python.extension() {
                    Some(ext) => exe.with_extension(ext),
                    None => exe,
                }
            }
        }
    };
    let mut project_installed = false;
    if facts.uv_lock && facts.pyproject.is_some() {
        let uv = tool(&facts.uv, "uv", &mut steps);
        let mut args: Vec<String> = ["sync", "--frozen", "--inexact", "--python"]
            .map(String::from)
            .to_vec();
        args.push(python.display().to_string());
        for e in &extras {
            args.extend(["--extra".into(), e.clone()]);
        }
        if let Some(w) = wheelhouse {
            args.extend([
                "--offline".into(),
                "--find-links".into(),
                w.display().to_string(),
            ]);
        }
        let summary = format!(
            "uv sync{}",
            extras
                .iter()
                .map(|e| format!(" --extra {e}"))
                .collect::<String>()
        );
        steps.push(Step {
            program: Program::Tool(uv),
            args,
            env: vec![("UV_PROJECT_ENVIRONMENT".into(), venv_s.clone())],
            summary,
        });
        project_installed = true;
    } else if facts.poetry_lock && facts.pyproject.is_some() {
        let poetry = tool(&facts.poetry, "poetry", &mut steps);
        let mut args = vec!["install".to_string(), "--no-interaction".to_string()];
        for e in &extras {
            args.extend(["--extras".into(), e.clone()]);
        }
        let summary = format!(
            "poetry install{}",
            extras
                .iter()
                .map(|e| format!(" --extras {e}"))
                .collect::<String>()
        );
        steps.push(Step {
            program: Program::Tool(poetry),
            args,
            env: vec![
                ("VIRTUAL_ENV".into(), venv_s.clone()),
                ("POETRY_VIRTUALENVS_CREATE".into(), "false".into()),
            ],
            summary,
        });
        project_installed = true;
    } else if installable {
        steps.push(pip(&["-e".into(), format!(".{extras_suffix}")], wheelhouse));
        project_installed = true;
    }
    if !facts.requirements.is_empty() {
        let what: Vec<String> = facts
            .requirements
            .iter()
            .flat_map(|r| ["-r".to_string(), r.clone()])
            .collect();
        steps.push(pip(&what, wheelhouse));
    }
    let rest: Vec<String> = packages
        .iter()
        .filter(|p| {
            !(project_installed && own.as_deref() == Some(normalize(&requirement(p).0).as_str()))
        })
        .cloned()
        .collect();
    if !rest.is_empty() {
        steps.push(pip(&rest, wheelhouse));
    }
    Plan {
        project: name,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The venv as this platform lays it out (`python::venv_python`).
    #[cfg(windows)]
    const VENV: &str = r"C:\p\.venv";
    #[cfg(windows)]
    const VENV_PY: &str = r"C:\p\.venv\Scripts\python.exe";
    #[cfg(windows)]
    const VENV_UV: &str = r"C:\p\.venv\Scripts\uv.exe";
    #[cfg(not(windows))]
    const VENV: &str = "/p/.venv";
    #[cfg(not(windows))]
    const VENV_PY: &str = "/p/.venv/bin/python";
    #[cfg(not(windows))]
    const VENV_UV: &str = "/p/.venv/bin/uv";

    fn p(facts: &Facts, packages: &[&str], extras: &[&str], wh: Option<&str>) -> Plan {
        let packages: Vec<String> = packages.iter().map(|s| s.to_string()).collect();
        let extras: Vec<String> = extras.iter().map(|s| s.to_string()).collect();
        let python = crate::python::venv_python(Path::new(VENV), crate::host::Os::current());
        assert_eq!(python, Path::new(VENV_PY));
        plan(
            facts,
            Path::new(VENV),
            &python,
            &packages,
            &extras,
            wh.map(Path::new),
        )
    }

    fn summaries(plan: &Plan) -> Vec<String> {
        plan.steps.iter().map(|s| s.summary.clone()).collect()
    }

    const PYPROJECT: &str = "[project]\nname = \"Kailash\"\nversion = \"1\"\n[project.optional-dependencies]\ndb-postgres = [\"asyncpg\"]\n";

    #[test]
    fn nothing_declared_installs_the_profiles_packages() {
        let plan = p(&Facts::default(), &["kailash"], &[], None);
        assert_eq!(summaries(&plan), ["pip install kailash"]);
        assert_eq!(
            plan.steps[0].args,
            [
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                "kailash"
            ]
        );
        assert_eq!(plan.steps[0].program, Program::VenvPython);
    }

    #[test]
    fn a_checkout_of_the_sdk_is_installed_editable_with_the_extras_the_profile_names() {
        let facts = Facts {
            pyproject: Some(PYPROJECT.into()),
            ..Facts::default()
        };
        let plan = p(&facts, &["kailash[db-postgres]", "pytest"], &[], None);
        assert_eq!(plan.project.as_deref(), Some("Kailash"));
        assert_eq!(
            summaries(&plan),
            ["pip install -e .[db-postgres]", "pip install pytest"],
            "not kailash from the index"
        );
    }

    #[test]
    fn another_project_keeps_the_sdk_from_the_profile_and_takes_sdk_extras() {
        let facts = Facts {
            pyproject: Some("[project]\nname = \"my-app\"\n".into()),
            requirements: vec!["requirements-dev.txt".into(), "requirements.txt".into()],
            ..Facts::default()
        };
        let plan = p(&facts, &["kailash"], &["test", "test"], None);
        assert_eq!(
            summaries(&plan),
            [
                "pip install -e .[test]",
                "pip install -r requirements-dev.txt -r requirements.txt",
                "pip install kailash"
            ]
        );
    }

    #[test]
    fn a_pyproject_with_only_tool_settings_is_not_installed_but_setup_py_is() {
        let facts = Facts {
            pyproject: Some("[tool.black]\nline-length = 100\n".into()),
            ..Facts::default()
        };
        assert_eq!(summaries(&p(&facts, &["x"], &[], None)), ["pip install x"]);
        let facts = Facts {
            setup_py: true,
            ..facts
        };
        assert_eq!(
            summaries(&p(&facts, &["x"], &[], None)),
            ["pip install -e .", "pip install x"]
        );
    }

    #[test]
    fn uv_lock_means_uv_sync_installing_uv_when_missing() {
        let facts = Facts {
            pyproject: Some(PYPROJECT.into()),
            uv_lock: true,
            ..Facts::default()
        };
        let plan = p(&facts, &["kailash[db-postgres]"], &[], Some("/w"));
        assert_eq!(
            summaries(&plan),
            ["pip install uv", "uv sync --extra db-postgres"]
        );
        let sync = &plan.steps[1];
        assert_eq!(sync.program, Program::Tool(VENV_UV.into()));
        assert_eq!(
            sync.args,
            [
                "sync",
                "--frozen",
                "--inexact",
                "--python",
                VENV_PY,
                "--extra",
                "db-postgres",
                "--offline",
                "--find-links",
                "/w"
            ]
        );
        assert!(
            sync.env
                .contains(&("UV_PROJECT_ENVIRONMENT".into(), VENV.into()))
        );
        assert!(
            plan.steps[0]
                .args
                .windows(3)
                .any(|w| w == ["--no-index", "--find-links", "/w"]),
            "offline: {:?}",
            plan.steps[0].args
        );

        let with_uv = Facts {
            uv: Some("/usr/bin/uv".into()),
            ..facts
        };
        let plan = p(&with_uv, &["kailash"], &[], None);
        assert_eq!(summaries(&plan), ["uv sync"]);
        assert_eq!(plan.steps[0].program, Program::Tool("/usr/bin/uv".into()));
    }

    #[test]
    fn poetry_lock_means_poetry_install_into_the_venv() {
        let facts = Facts {
            pyproject: Some("[tool.poetry]\nname = \"app\"\n".into()),
            poetry_lock: true,
            poetry: Some("/usr/bin/poetry".into()),
            ..Facts::default()
        };
        let plan = p(&facts, &["kailash"], &["pg"], None);
        assert_eq!(
            summaries(&plan),
            ["poetry install --extras pg", "pip install kailash"]
        );
        assert!(
            plan.steps[0]
                .env
                .contains(&("VIRTUAL_ENV".into(), VENV.into()))
        );
    }

    #[test]
    fn a_lock_without_a_pyproject_is_not_a_project() {
        let facts = Facts {
            uv_lock: true,
            poetry_lock: true,
            ..Facts::default()
        };
        assert_eq!(summaries(&p(&facts, &["k"], &[], None)), ["pip install k"]);
    }

    #[test]
    fn requirement_names_and_extras() {
        assert_eq!(
            requirement("kailash[db-postgres, ai]>=1"),
            ("kailash".into(), vec!["db-postgres".into(), "ai".into()])
        );
        assert_eq!(requirement("pytest==8"), ("pytest".into(), vec![]));
        assert_eq!(normalize("Kailash_SDK.x"), "kailash-sdk-x");
    }
}
