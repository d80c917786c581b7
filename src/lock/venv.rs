//! The profile's packages as an interpreter has them installed: name, version and a hash of
//! the installed files, for every package the profile's packages require (`py/venv_packages.py`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::host::{Cmd, Host};
use crate::python::Interpreter;

/// The script that lists the packages, embedded.
pub const SCRIPT: &str = include_str!("../py/venv_packages.py");
/// How long listing may take (it reads each package's RECORD).
const TIMEOUT: Duration = Duration::from_secs(20);

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    pub name: String,
    pub version: String,
    /// Over the files the wheel installed (none for an editable install).
    pub sha256: Option<String>,
    #[serde(default)]
    pub editable: bool,
    /// One of the profile's own packages (not only required by one).
    #[serde(default)]
    pub root: bool,
}

/// What the interpreter answered.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Listing {
    pub python: String,
    pub executable: String,
    pub packages: Vec<Installed>,
    /// Profile packages that are not installed at all.
    pub missing: Vec<String>,
}

/// List the closure of `roots` (requirement strings such as `kailash[db]`) installed for `py`.
pub async fn list(host: &Host, py: &Interpreter, roots: &[String]) -> Result<Listing, String> {
    let spec = serde_json::json!({ "roots": roots }).to_string();
    let cmd = Cmd::new(&py.program, TIMEOUT)
        .args(&py.args)
        .arg("-I")
        .arg("-c")
        .arg(SCRIPT)
        .arg(spec);
    let out = host.run(&cmd).await.map_err(|e| e.to_string())?;
    if out.code != Some(0) {
        let said = out.stderr.lines().last().unwrap_or("").trim().to_string();
        return Err(format!(
            "{} could not list its packages ({}): {said}",
            py.program.display(),
            crate::host::exit_text(out.code)
        ));
    }
    parse(&out.stdout).ok_or_else(|| {
        format!(
            "{} answered something other than the package list",
            py.program.display()
        )
    })
}

/// The script's one line of JSON.
pub fn parse(stdout: &str) -> Option<Listing> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))?;
    serde_json::from_str(line).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_is_read_from_the_last_json_line() {
        let out = "warning: something\n{\"python\": \"3.11.7\", \"executable\": \"/v/bin/python\", \"packages\": [{\"name\": \"kailash\", \"version\": \"1.0\", \"sha256\": \"ab\", \"editable\": false, \"root\": true}], \"missing\": [\"x\"]}\n";
        let l = parse(out).unwrap();
        assert_eq!(l.python, "3.11.7");
        assert_eq!(l.packages[0].name, "kailash");
        assert!(l.packages[0].root);
        assert_eq!(l.missing, ["x"]);
        assert!(parse("Traceback\n").is_none());
    }
}
