//! Python interpreters: where to look, and proof that a candidate is a real interpreter.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::host::{Cmd, Host, Os};
use crate::version::{Version, VersionReq};

/// How long a candidate may take to say its version.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Run isolated (`-I`) and without `site` (`-S`): only the interpreter itself is asked.
const PROBE_CODE: &str =
    "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.executable)";

/// A place an interpreter may be, and why it is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub label: String,
    pub program: PathBuf,
    /// Leading arguments (`py -3`).
    pub args: Vec<String>,
}

/// A candidate that answered like a Python interpreter.
#[derive(Debug, Clone, PartialEq)]
pub struct Interpreter {
    pub label: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub version: Version,
    pub executable: String,
}

/// The interpreter inside a virtual environment directory.
pub fn venv_python(dir: &Path, os: Os) -> PathBuf {
    if os == Os::Windows {
        dir.join("Scripts").join("python.exe")
    } else {
        dir.join("bin").join("python")
    }
}

/// Candidates in the documented order: `--python`, project venvs, `$VIRTUAL_ENV`, `python3`,
/// `python`, and `py -3` on Windows. Only existing paths are listed.
pub fn candidates(host: &Host, project: &Path, explicit: Option<&Path>) -> Vec<Candidate> {
    let os = host.os();
    let mut out: Vec<Candidate> = Vec::new();
    let mut push = |label: String, program: PathBuf, args: Vec<String>| {
        if !out.iter().any(|c| c.program == program && c.args == args) {
            out.push(Candidate {
                label,
                program,
                args,
            });
        }
    };
    if let Some(p) = explicit {
        push("--python".into(), p.to_path_buf(), vec![]);
    }
    for venv in [".venv", "venv"] {
        let p = venv_python(&project.join(venv), os);
        if p.exists() {
            push(format!("{venv}/"), p, vec![]);
        }
    }
    if let Some(v) = host.env("VIRTUAL_ENV") {
        let p = venv_python(Path::new(v), os);
        if p.exists() {
            push("$VIRTUAL_ENV".into(), p, vec![]);
        }
    }
    for name in ["python3", "python"] {
        if let Some(p) = host.which(name) {
            match resolve_pyenv_shim(host, project, &p) {
                Some(real) => push(format!("{name} (pyenv)"), real, vec![]),
                None => push(name.into(), p, vec![]),
            }
        }
    }
    if os == Os::Windows
        && let Some(p) = host.which("py")
    {
        push("py -3".into(), p, vec!["-3".into()]);
    }
    out
}

/// A pyenv shim is a shell script that costs tens of milliseconds per run; resolve it the way
/// pyenv does (`PYENV_VERSION`, `.python-version` up the tree, the global `version` file) to the
/// interpreter it would run. `None` leaves the shim in place.
fn resolve_pyenv_shim(host: &Host, project: &Path, shim: &Path) -> Option<PathBuf> {
    let root = host
        .env("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| host.home().map(|h| h.join(".pyenv")))?;
    if shim.parent()? != root.join("shims") {
        return None;
    }
    let from_file = |p: PathBuf| {
        crate::fsx::read_text_file(&p).and_then(|t| t.split_whitespace().next().map(str::to_string))
    };
    let version = host
        .env("PYENV_VERSION")
        .and_then(|v| v.split(':').next().map(str::to_string))
        .or_else(|| {
            project
                .ancestors()
                .find_map(|d| from_file(d.join(".python-version")))
        })
        .or_else(|| from_file(root.join("version")))?;
    let real = root
        .join("versions")
        .join(version)
        .join("bin")
        .join(shim.file_name()?);
    real.is_file().then_some(real)
}

/// Why a candidate was not taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub label: String,
    pub program: PathBuf,
    pub reason: String,
}

/// The first usable interpreter, and every candidate passed over on the way.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub interpreter: Option<Interpreter>,
    pub rejected: Vec<Rejected>,
    pub out_of_range: Vec<Interpreter>,
}

/// Probe candidates in order until one is real and within `req`.
pub async fn find(
    host: &Host,
    project: &Path,
    explicit: Option<&Path>,
    req: Option<&VersionReq>,
) -> Found {
    let mut found = Found::default();
    for c in candidates(host, project, explicit) {
        match probe(host, &c).await {
            Ok(i) if req.is_none_or(|r| r.matches(&i.version)) => {
                found.interpreter = Some(i);
                return found;
            }
            Ok(i) => found.out_of_range.push(i),
            Err(r) => found.rejected.push(r),
        }
    }
    found
}

/// Parse the probe's two lines: version, then `sys.executable`.
pub fn parse_probe(stdout: &str) -> Option<(Version, String)> {
    let mut lines = stdout.lines();
    let version = Version::parse(lines.next()?)?;
    let exe = lines.next().unwrap_or("").trim().to_string();
    Some((version, exe))
}

/// Run a candidate to prove it is a real interpreter.
pub async fn probe(host: &Host, c: &Candidate) -> Result<Interpreter, Rejected> {
    let cmd = Cmd::new(&c.program, PROBE_TIMEOUT)
        .args(&c.args)
        .arg("-I")
        .arg("-S")
        .arg("-c")
        .arg(PROBE_CODE);
    let reject = |reason: String| Rejected {
        label: c.label.clone(),
        program: c.program.clone(),
        reason,
    };
    let out = host.run(&cmd).await.map_err(|e| reject(e.to_string()))?;
    if out.code != Some(0) {
        let said = first_line(&out.stdout, &out.stderr);
        return Err(reject(format!(
            "exited with {} ({said}): not a working interpreter (a Microsoft Store alias or a broken venv?)",
            out.code.map_or("a signal".into(), |c| c.to_string()),
        )));
    }
    let (version, executable) = parse_probe(&out.stdout)
        .ok_or_else(|| reject("did not answer like a Python interpreter".into()))?;
    Ok(Interpreter {
        label: c.label.clone(),
        program: c.program.clone(),
        args: c.args.clone(),
        version,
        executable,
    })
}

fn first_line(stdout: &str, stderr: &str) -> String {
    let line = stderr
        .lines()
        .chain(stdout.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output");
    line.chars().take(120).collect()
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;

    #[test]
    fn probe_output_parses() {
        let (v, exe) = parse_probe("3.11.7\n/usr/bin/python3\n").unwrap();
        assert_eq!(v, Version::parse("3.11.7").unwrap());
        assert_eq!(exe, "/usr/bin/python3");
        assert!(parse_probe("Python was not found; run without arguments").is_none());
    }

    #[test]
    fn pyenv_shims_resolve_to_the_version_pyenv_would_run() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("shims")).unwrap();
        std::fs::create_dir_all(r.join("versions/3.12.1/bin")).unwrap();
        std::fs::create_dir_all(r.join("versions/3.10.4/bin")).unwrap();
        std::fs::write(r.join("shims/python3"), "#!/bin/sh\n").unwrap();
        std::fs::write(r.join("versions/3.12.1/bin/python3"), "").unwrap();
        std::fs::write(r.join("versions/3.10.4/bin/python3"), "").unwrap();
        std::fs::write(r.join("version"), "3.12.1\n").unwrap();
        let proj = tempfile::tempdir().unwrap();
        let root_s = r.to_str().unwrap();
        let host = Host::with("/", &[("PYENV_ROOT", root_s)], Os::Linux);
        let shim = r.join("shims/python3");
        let got = resolve_pyenv_shim(&host, proj.path(), &shim).unwrap();
        assert_eq!(got, r.join("versions/3.12.1/bin/python3"));
        std::fs::write(proj.path().join(".python-version"), "3.10.4\n").unwrap();
        let got = resolve_pyenv_shim(&host, proj.path(), &shim).unwrap();
        assert_eq!(got, r.join("versions/3.10.4/bin/python3"));
        let pinned = Host::with(
            "/",
            &[("PYENV_ROOT", root_s), ("PYENV_VERSION", "9.9")],
            Os::Linux,
        );
        assert_eq!(resolve_pyenv_shim(&pinned, proj.path(), &shim), None);
        assert_eq!(
            resolve_pyenv_shim(&host, proj.path(), Path::new("/usr/bin/python3")),
            None
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_store_stub_is_rejected_with_what_it_said() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let stub = dir.path().join("python3");
        std::fs::write(
            &stub,
            "#!/bin/sh\necho 'Python was not found; run without arguments to install from the Microsoft Store'\nexit 9009\n",
        )
        .unwrap();
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let c = Candidate {
            label: "python3".into(),
            program: stub,
            args: vec![],
        };
        let err = rt.block_on(probe(&Host::from_process(), &c)).unwrap_err();
        assert!(
            err.reason.contains("Python was not found"),
            "{}",
            err.reason
        );
        assert!(err.reason.contains("9009") || err.reason.contains("exited with"));
    }
}
